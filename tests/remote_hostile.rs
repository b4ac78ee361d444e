//! Issue 13: `accord verify URL` and `accord mirror URL` against `accord serve`, and against a
//! hostile host: a test double (a std TcpListener thread) that serves a published directory
//! but misbehaves on chosen paths. A host that cannot be read is exit 2 with a clear error; a
//! host that serves tampered data is exit 1 naming the tile; either way nothing is committed to
//! the mirror or the state.

mod common;
mod publog;

use std::io::{BufRead as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{s, verify_args, World};
use publog::*;

#[test]
fn verify_and_mirror_a_served_ledger_as_it_grows() {
    let (w, vkey, key) = ledger_of(300);
    let srv = Served::start(&w, &[]);
    let url = srv.url();
    let state = w.path_str("state");
    let out = w.ok(&verify_args(&vkey, &state, &[&url]));
    assert!(out.starts_with("OK:") && out.contains("300 entries"), "{out}");
    let m = w.path_str("mirror");
    let out = w.ok(&["--ledger", &m, "mirror", &url, "--ledger-key", &vkey]);
    assert!(out.contains("now 300 entries (was 0)"), "{out}");
    append_attestations(&w, &key, 20, "more");
    let out = w.ok(&verify_args(&vkey, &state, &[&url]));
    assert!(out.contains("320 entries"), "{out}");
    let out = w.ok(&["--ledger", &m, "mirror", &url, "--ledger-key", &vkey]);
    assert!(out.contains("now 320 entries (was 300)"), "{out}");
    assert_eq!(w.ok(&["--ledger", &m, "checkpoint"]), w.checkpoint());
}

/// What the hostile host does for one path.
#[derive(Clone)]
enum Reply {
    /// The published file (404 when there is none).
    File,
    /// This status, empty body.
    Status(u16),
    /// These bytes as the body.
    Body(Vec<u8>),
    /// Announces the file's length, sends half of it, and closes.
    Truncated,
    /// Sends the headers and a few bytes, then nothing (holding the connection open).
    Stall,
    /// `Content-Encoding: gzip` over these (compressed) bytes.
    Gzip(Vec<u8>),
    /// A chunked body that never ends.
    Endless,
    /// A byte every 300 ms: every read gets something, the whole never comes.
    Trickle,
}

/// A host serving the published directory `root`, with `rule` deciding each path's reply.
struct Host {
    addr: SocketAddr,
}

impl Host {
    fn start(root: PathBuf, rule: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Host {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let rule = Arc::new(rule);
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let (root, rule) = (root.clone(), Arc::clone(&rule));
                std::thread::spawn(move || {
                    let _ = serve_one(c, &root, &*rule);
                });
            }
        });
        Host { addr }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Answers the requests of one connection (kept alive) until the client closes it.
fn serve_one(mut c: TcpStream, root: &Path, rule: &dyn Fn(&str) -> Reply) -> std::io::Result<()> {
    let mut r = std::io::BufReader::new(c.try_clone()?);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .trim_start_matches('/')
            .to_string();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 || h == "\r\n" {
                break;
            }
        }
        let file = || std::fs::read(root.join(&path)).ok();
        let head = |status: u16, extra: &str, len: usize| {
            format!("HTTP/1.1 {status} X\r\nContent-Length: {len}\r\n{extra}\r\n").into_bytes()
        };
        match rule(&path) {
            Reply::File => match file() {
                Some(b) => {
                    c.write_all(&head(200, "", b.len()))?;
                    c.write_all(&b)?;
                }
                None => c.write_all(&head(404, "", 0))?,
            },
            Reply::Status(st) => c.write_all(&head(st, "", 0))?,
            Reply::Body(b) => {
                c.write_all(&head(200, "", b.len()))?;
                c.write_all(&b)?;
            }
            Reply::Truncated => {
                let b = file().unwrap();
                c.write_all(&head(200, "", b.len()))?;
                c.write_all(&b[..b.len() / 2])?;
                return Ok(());
            }
            Reply::Stall => {
                c.write_all(&head(200, "", 100_000))?;
                c.write_all(b"abc")?;
                std::thread::sleep(Duration::from_secs(60));
                return Ok(());
            }
            Reply::Gzip(b) => {
                c.write_all(&head(200, "Content-Encoding: gzip\r\n", b.len()))?;
                c.write_all(&b)?;
            }
            Reply::Trickle => {
                c.write_all(&head(200, "", 100_000))?;
                loop {
                    std::thread::sleep(Duration::from_millis(300));
                    c.write_all(b"t")?;
                }
            }
            Reply::Endless => {
                c.write_all(b"HTTP/1.1 200 X\r\nTransfer-Encoding: chunked\r\n\r\n")?;
                let chunk = [b'z'; 65_536];
                loop {
                    c.write_all(b"10000\r\n")?;
                    c.write_all(&chunk)?;
                    c.write_all(b"\r\n")?;
                }
            }
        }
    }
}

/// A host that misbehaves with `reply` on the path `at` and serves every other file.
fn on(at: &'static str, reply: Reply) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |path| if path == at { reply.clone() } else { Reply::File }
}

/// `n` zero bytes, gzipped.
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; n]).unwrap();
    e.finish().unwrap()
}

/// A published ledger of 300 entries, to serve from hostile hosts.
struct Published {
    w: World,
    vkey: String,
    dir: PathBuf,
}

impl Published {
    fn new() -> Published {
        let (w, vkey, _) = ledger_of(300);
        let dir = w.path("pub");
        w.ok(&["publish", &s(&dir)]);
        Published { w, vkey, dir }
    }

    /// Requires `verify URL` and `mirror URL` from a host misbehaving by `rule` to exit `code`
    /// with every one of `wants` in the message, within `limit`, writing no state and no
    /// mirror.
    fn against(
        &self,
        rule: impl Fn(&str) -> Reply + Send + Sync + 'static,
        code: i32,
        wants: &[&str],
        limit: Duration,
    ) {
        let host = Host::start(self.dir.clone(), rule);
        self.expect(&host.url(), code, wants, limit);
    }

    fn expect(&self, url: &str, code: i32, wants: &[&str], limit: Duration) {
        let state = self.w.path("hostile-state");
        let m = self.w.path("hostile-mirror");
        for args in [
            verify_args(&self.vkey, &state, &[url]),
            vec![
                "--ledger",
                m.to_str().unwrap(),
                "mirror",
                url,
                "--ledger-key",
                &self.vkey,
            ],
        ] {
            let t = Instant::now();
            let o = self
                .w
                .cmd()
                .env("ACCORD_HTTP_TIMEOUT", "1")
                .args(&args)
                .output()
                .unwrap();
            let e = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(code), "{args:?}: {e}");
            assert!(e.starts_with("error: "), "{e}");
            for want in wants {
                assert!(e.contains(want), "{args:?}: expected {want:?} in: {e}");
            }
            assert!(t.elapsed() < limit, "{args:?} took {:?}", t.elapsed());
        }
        assert!(
            !state.exists() || std::fs::read_dir(&state).unwrap().count() == 0,
            "state written"
        );
        assert!(!m.join(accord::store::DB_FILE).exists(), "a mirror was made");
    }
}

const QUICK: Duration = Duration::from_secs(10);

#[test]
fn a_host_that_cannot_be_read_is_exit_2_and_commits_nothing() {
    let p = Published::new();
    // The double serves the whole log faithfully: verify and mirror succeed through it.
    let host = Host::start(p.dir.clone(), |_| Reply::File);
    p.w.ok(&verify_args(&p.vkey, &p.w.path_str("ok-state"), &[&host.url()]));
    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    p.expect(&format!("http://{closed}/"), 2, &["could not connect"], QUICK);
    // No checkpoint; a bundle missing; a server error.
    p.against(|_| Reply::Status(404), 2, &["checkpoint", "not found"], QUICK);
    p.against(
        on("tile/entries/000", Reply::Status(404)),
        2,
        &["tile/entries/000", "not found"],
        QUICK,
    );
    p.against(
        on("tile/0/000", Reply::Status(503)),
        2,
        &["tile/0/000", "503"],
        QUICK,
    );
    // A bundle cut short; a response that stalls; one that never ends.
    p.against(
        on("tile/entries/000", Reply::Truncated),
        2,
        &["tile/entries/000"],
        QUICK,
    );
    p.against(
        on("tile/entries/001.p/44", Reply::Stall),
        2,
        &["tile/entries/001.p/44", "timed out"],
        QUICK,
    );
    p.against(
        on("tile/entries/000", Reply::Trickle),
        2,
        &["tile/entries/000", "timed out"],
        QUICK,
    );
    p.against(
        on("tile/entries/000", Reply::Endless),
        2,
        &["tile/entries/000", "larger than"],
        QUICK,
    );
    // A gzip bomb (1 KB that inflates to 1 MB) where a checkpoint (16 KiB at most) or a hash
    // tile (8 KiB) is expected; a plain response too large.
    let bomb = gzip_zeros(1 << 20);
    assert!(bomb.len() < 2048);
    p.against(
        on("checkpoint", Reply::Gzip(bomb.clone())),
        2,
        &["checkpoint", "larger than"],
        QUICK,
    );
    p.against(
        on("tile/0/000", Reply::Gzip(bomb)),
        2,
        &["tile/0/000", "larger than"],
        QUICK,
    );
    p.against(
        on("tile/0/000", Reply::Body(vec![7; 1 << 20])),
        2,
        &["tile/0/000", "more than the 8192 bytes"],
        QUICK,
    );
}

#[test]
fn a_host_that_serves_tampered_data_is_exit_1_naming_the_tile() {
    let p = Published::new();
    let bundle = std::fs::read(p.dir.join("tile/entries/000")).unwrap();
    let mut bad = bundle.clone();
    bad[500] ^= 1;
    p.against(
        on("tile/entries/000", Reply::Body(bad)),
        1,
        &["tile/0/000", "entry"],
        QUICK,
    );
    // The same altered bundle, gzipped as a host may send it: the same verdict.
    let mut bad = bundle;
    bad[500] ^= 1;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&bad).unwrap();
    let gz = e.finish().unwrap();
    p.against(on("tile/entries/000", Reply::Gzip(gz)), 1, &["tile/0/000"], QUICK);
    // A level-1 tile that is not the root of the level-0 tile below.
    let mut t1 = std::fs::read(p.dir.join("tile/1/000.p/1")).unwrap();
    t1[0] ^= 1;
    p.against(
        on("tile/1/000.p/1", Reply::Body(t1)),
        1,
        &["tile/1/000.p/1"],
        QUICK,
    );
}
