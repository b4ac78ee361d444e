//! Helpers for the public-log tests (`public_log.rs`, `serve_http.rs`, `remote_hostile.rs`):
//! ledgers of a chosen size built through the binary, the tiles a published tree must have
//! computed here from the entries alone (RFC 9162 hashing with SHA-256, the C2SP path encoding
//! written out again), `accord serve` and `accord witness serve` started and read through raw
//! sockets, and small HTTP plumbing.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::{attestation, s, signed, sk, World};

// ---------------------------------------------------------------------------------------------
// Ledgers.

/// A ledger of `size` entries: Acme (org "Acme", key `acme`) registered at entry 0, then
/// attestations appended in all-or-none batches of statements signed here (fast: a few
/// processes, not one per entry). Returns (world, vkey, Acme's key).
pub fn ledger_of(size: u64) -> (World, String, PathBuf) {
    let w = World::new();
    let vkey = w.init();
    let key = w.register("acme", "Acme");
    append_attestations(&w, &key, size - 1, "a");
    (w, vkey, key)
}

/// Appends `count` attestations signed with `key` (Acme's), scopes `TAG i`, in batches.
pub fn append_attestations(w: &World, key: &Path, count: u64, tag: &str) {
    append_attestations_to(w, &w.ledger(), key, count, tag)
}

/// [`append_attestations`] to the ledger at `ledger`.
pub fn append_attestations_to(w: &World, ledger: &Path, key: &Path, count: u64, tag: &str) {
    let secret = sk(key);
    let dir = w.path(&format!("statements-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut batch: Vec<String> = Vec::new();
    for i in 0..count {
        let st = signed(attestation(&format!("{tag} {i}"), None), "acme", &secret);
        let f = dir.join(format!("{i}.cose"));
        std::fs::write(&f, st.bytes()).unwrap();
        batch.push(s(&f));
        if batch.len() == 300 || i + 1 == count {
            let mut a = vec!["--ledger".to_string(), s(ledger), "append".to_string()];
            a.append(&mut batch);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            w.ok(&a);
        }
    }
}

/// Every entry of the world's ledger, in order, as stored.
pub fn entries(w: &World) -> Vec<Vec<u8>> {
    let store = accord::store::Store::open_read_only(&w.ledger()).unwrap();
    store
        .read(|r| {
            let mut v = Vec::new();
            r.for_each_entry(0, |_, b| -> Result<bool, accord::store::StoreError> {
                v.push(b.to_vec());
                Ok(true)
            })?;
            Ok::<_, accord::store::StoreError>(v)
        })
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The tree, computed here (RFC 9162 section 2.1.1), and the tiles (C2SP tlog-tiles).

pub type Hash = [u8; 32];

/// MTH of one entry: SHA-256(0x00 || entry).
pub fn leaf(e: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(e);
    h.finalize().into()
}

/// SHA-256(0x01 || left || right).
pub fn node(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// MTH(D[n]) of RFC 9162 section 2.1.1, split at the largest power of two below n.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The C2SP path of a tile: `tile/<L>/<N>[.p/<W>]` (`level` None: `tile/entries/...`), N in
/// 3-digit elements, all but the last prefixed with `x`.
pub fn tile_path(level: Option<u32>, n: u64, width: usize) -> String {
    let mut digits = format!("{n}");
    while digits.len() % 3 != 0 {
        digits.insert(0, '0');
    }
    let parts: Vec<&str> = (0..digits.len() / 3).map(|i| &digits[3 * i..3 * i + 3]).collect();
    let last = parts.len() - 1;
    let n: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| if i < last { format!("x{p}") } else { p.to_string() })
        .collect();
    let l = level.map_or("entries".to_string(), |l| l.to_string());
    let mut p = format!("tile/{l}/{}", n.join("/"));
    if width < 256 {
        p.push_str(&format!(".p/{width}"));
    }
    p
}

/// Every tile a tree of the first `size` of `entries` has, path to bytes: at each level `l`,
/// the MTH of each run of 256^l leaves, 256 to a tile, the last tile partial; the entry
/// bundles as u16-BE length-prefixed entries.
pub fn expected_tiles(entries: &[Vec<u8>], size: usize) -> BTreeMap<String, Vec<u8>> {
    let leaves: Vec<Hash> = entries[..size].iter().map(|e| leaf(e)).collect();
    let mut out = BTreeMap::new();
    let mut unit = 1usize;
    for level in 0u32.. {
        let count = size / unit;
        if count == 0 {
            break;
        }
        let hashes: Vec<Hash> = (0..count)
            .map(|i| mth(&leaves[i * unit..(i + 1) * unit]))
            .collect();
        for (n, chunk) in hashes.chunks(256).enumerate() {
            out.insert(tile_path(Some(level), n as u64, chunk.len()), chunk.concat());
        }
        if level == 0 {
            for (n, chunk) in entries[..size].chunks(256).enumerate() {
                let mut b = Vec::new();
                for e in chunk {
                    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
                    b.extend_from_slice(e);
                }
                out.insert(tile_path(None, n as u64, chunk.len()), b);
            }
        }
        unit *= 256;
    }
    out
}

/// Every file under `dir`, relative path to bytes.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_str().unwrap().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// What a publication killed (or finished) on its way from the published size `old` to `new`
/// left, as the files `got` (path to bytes) of the first `all` entries' log: the checkpoint is of
/// one of the two sizes and every tile of that tree is there with its bytes. Returns that size,
/// and whether tiles beyond the old tree's are there without the new checkpoint (killed midway).
pub fn check_killed_publication(
    got: &BTreeMap<String, Vec<u8>>,
    all: &[Vec<u8>],
    (old, new): (usize, usize),
    attempt: usize,
) -> (usize, bool) {
    let size = note_size(&got["checkpoint"]) as usize;
    assert!(size == old || size == new, "a checkpoint of size {size}");
    let old_tiles = expected_tiles(all, old);
    let midway = size == old
        && got
            .keys()
            .any(|k| k.starts_with("tile/") && !old_tiles.contains_key(k));
    for (path, bytes) in expected_tiles(all, size) {
        assert_eq!(
            got.get(&path),
            Some(&bytes),
            "{path} of the published size {size} (attempt {attempt})"
        );
    }
    (size, midway)
}

/// The tree size a signed checkpoint note states (its second line).
pub fn note_size(note: &[u8]) -> u64 {
    String::from_utf8_lossy(note)
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// `accord serve` and raw HTTP.

/// Waits for the line of a starting server (`serve`, `witness serve`, spawned with a piped
/// stderr) that says where it listens; its address, and its stderr so far, to which the rest
/// is added line by line as it comes.
pub fn listening(child: &mut std::process::Child, what: &str) -> (SocketAddr, Arc<Mutex<String>>) {
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap());
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut addr = None;
    let mut line = String::new();
    while lines.read_line(&mut line).unwrap() > 0 {
        stderr.lock().unwrap().push_str(&line);
        if let Some(rest) = line.split(" at http://").nth(1) {
            addr = Some(rest.split('/').next().unwrap().parse().unwrap());
            break;
        }
        line.clear();
    }
    let Some(addr) = addr else {
        let _ = child.wait();
        panic!("{what} did not start: {}", stderr.lock().unwrap());
    };
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || loop {
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(n) if n > 0 => sink.lock().unwrap().push_str(&line),
            _ => break,
        }
    });
    (addr, stderr)
}

/// A running `accord witness serve`, killed when dropped.
pub struct Witnessd {
    pub child: std::process::Child,
    pub addr: SocketAddr,
}

impl Witnessd {
    /// Starts `accord witness serve --listen LISTEN --key KEY --state STATE --log LOG...
    /// EXTRA...` in `w` (`127.0.0.1:0` for any port) and waits until it listens.
    pub fn start(
        w: &World,
        key: &str,
        state: &Path,
        logs: &[String],
        listen: &str,
        extra: &[&str],
    ) -> Witnessd {
        let mut cmd = w.std_cmd();
        cmd.args(["witness", "serve", "--listen", listen, "--key", key, "--state"])
            .arg(state);
        // --init on the first start only: a restart must find its state.
        if !state.join("witness.redb").exists() {
            cmd.arg("--init");
        }
        for l in logs {
            cmd.args(["--log", l]);
        }
        let mut child = cmd
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (addr, _) = listening(&mut child, "the witness");
        Witnessd { child, addr }
    }

    /// `http://ADDR` (its add-checkpoint prefix).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills it with SIGKILL; its exit status.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        let _ = self.child.kill();
        self.child.wait().unwrap()
    }
}

impl Drop for Witnessd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `accord serve`, killed when dropped.
pub struct Served {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// What it printed on stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `accord serve --listen 127.0.0.1:0 EXTRA...` in `w` and waits for the line that
    /// says where it listens.
    pub fn start(w: &World, extra: &[&str]) -> Served {
        Served::start_with(w.std_cmd(), extra)
    }

    /// [`Served::start`] with `cmd`, the binary with its environment.
    pub fn start_with(mut cmd: std::process::Command, extra: &[&str]) -> Served {
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (addr, stderr) = listening(&mut child, "serve");
        Served { child, addr, stderr }
    }

    /// Kills the server with SIGKILL where it stands; its exit status.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        let _ = self.child.kill();
        self.child.wait().unwrap()
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits up to `limit` for it to exit; its exit status, or None if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// The resident set size of the server process, in KiB (Linux /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .unwrap()
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response as read off the wire.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body as sent (still gzipped if it was).
    pub body: Vec<u8>,
}

impl Resp {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The body, gunzipped when Content-Encoding says gzip.
    pub fn content(&self) -> Vec<u8> {
        if self.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(self.body.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            self.body.clone()
        }
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.content()).into_owned()
    }
}

/// For a hostile host: writes `head`, then a chunked body that never ends, until the client
/// closes the connection (the error that ends it is the caller's to ignore).
pub fn endless_chunks(c: &mut TcpStream, head: &[u8]) -> std::io::Result<()> {
    c.write_all(head)?;
    let chunk = [b'z'; 65_536];
    loop {
        c.write_all(b"10000\r\n")?;
        c.write_all(&chunk)?;
        c.write_all(b"\r\n")?;
    }
}

/// For a hostile host: writes `head`, then a byte every 300 ms (every read gets something, the
/// whole never comes), until the client closes the connection.
pub fn trickle(c: &mut TcpStream, head: &[u8]) -> std::io::Result<()> {
    c.write_all(head)?;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        c.write_all(b"t")?;
    }
}

/// Connects to `addr` with a read timeout of 10 s (a test never waits for ever).
pub fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// Reads one response from `r` (Content-Length, chunked, or until close); `head` says it
/// answers a HEAD request (no body whatever the headers say).
pub fn read_response(r: &mut impl std::io::BufRead, head: bool) -> std::io::Result<Resp> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| std::io::Error::other(format!("no status line: {line:?}")))?
        .parse()
        .map_err(std::io::Error::other)?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if head || status == 304 || status == 204 {
    } else if let Some(n) = get("content-length") {
        body.resize(n.parse().unwrap(), 0);
        r.read_exact(&mut body)?;
    } else if get("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Sends `raw` on a new connection and reads one response.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut c = connect(addr);
    c.write_all(raw).unwrap();
    let head = raw.starts_with(b"HEAD ");
    read_response(&mut std::io::BufReader::new(c), head).unwrap()
}

/// `METHOD PATH` with `headers` (each `Name: value`), on a new connection.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[&str]) -> Resp {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for h in headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    exchange(addr, raw.as_bytes())
}

/// `GET PATH`.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[])
}
