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
    /// The published file with this status (and a `Location` header when given).
    FileWith(u16, Option<String>),
    /// The published file, as these bytes (from the file) with this `Content-Encoding`.
    Encoded(&'static str, Coder),
}

/// A host serving the published directory `root`, with `rule` deciding each path's reply.
struct Host {
    addr: SocketAddr,
    /// Requests received so far.
    requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl Host {
    fn start(root: PathBuf, rule: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Host {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let rule = Arc::new(rule);
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let (root, rule, counted) = (root.clone(), Arc::clone(&rule), Arc::clone(&counted));
                std::thread::spawn(move || {
                    let _ = serve_one(c, &root, &*rule, &counted);
                });
            }
        });
        Host { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Answers the requests of one connection (kept alive) until the client closes it.
fn serve_one(
    mut c: TcpStream,
    root: &Path,
    rule: &dyn Fn(&str) -> Reply,
    requests: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
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
        requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
            Reply::Trickle => return trickle(&mut c, &head(200, "", 100_000)),
            Reply::FileWith(st, location) => {
                let b = file().unwrap_or_default();
                let extra = location.map_or(String::new(), |l| format!("Location: {l}\r\n"));
                c.write_all(&head(st, &extra, b.len()))?;
                c.write_all(&b)?;
            }
            Reply::Encoded(coding, f) => match file() {
                Some(b) => {
                    let b = f(&b);
                    c.write_all(&head(200, &format!("Content-Encoding: {coding}\r\n"), b.len()))?;
                    c.write_all(&b)?;
                }
                None => c.write_all(&head(404, "", 0))?,
            },
            Reply::Endless => {
                return endless_chunks(&mut c, b"HTTP/1.1 200 X\r\nTransfer-Encoding: chunked\r\n\r\n")
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

/// How [`Reply::Encoded`] makes a body from the file.
type Coder = fn(&[u8]) -> Vec<u8>;

/// `b` as one gzip member.
fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Review 13, F7: the HTTP client followed redirects (to other hosts too, doubling the
/// requests), took 203 and 206 for 200, called a 204 checkpoint and a `deflate` or
/// `gzip, gzip` body a verdict on the log (exit 1), accepted `br` on a plain body, and dropped
/// whatever came after a first gzip member. Now only a 200 at the file's own URL is data, a
/// redirect is named and not followed, only `identity` or one `gzip` member with nothing after
/// it is read, and each of these is exit 2 (not a verdict on the log), nothing committed.
#[test]
fn a_host_that_redirects_or_sends_other_statuses_or_codings_is_exit_2() {
    let p = Published::new();
    // Another host holding the same files, where a redirect would lead: it must see nothing.
    let elsewhere = Host::start(p.dir.clone(), |_| Reply::File);
    let to = format!("http://localhost:{}/tile/entries/000", elsewhere.addr.port());
    p.against(
        on("tile/entries/000", Reply::FileWith(302, Some(to))),
        2,
        &[
            "tile/entries/000",
            "302",
            "does not follow redirects",
            "localhost:",
        ],
        QUICK,
    );
    p.against(
        on(
            "checkpoint",
            Reply::FileWith(301, Some("/elsewhere/checkpoint".into())),
        ),
        2,
        &["checkpoint", "301", "/elsewhere/checkpoint"],
        QUICK,
    );
    assert_eq!(
        elsewhere.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a redirect was followed"
    );
    // Success statuses other than 200 are not the file.
    for status in [203, 206] {
        p.against(
            on("tile/entries/000", Reply::FileWith(status, None)),
            2,
            &["tile/entries/000", &status.to_string(), "only 200 OK"],
            QUICK,
        );
    }
    p.against(
        on("checkpoint", Reply::FileWith(204, None)),
        2,
        &["checkpoint", "204"],
        QUICK,
    );
    // Codings: only identity or one gzip member, nothing after it.
    let cases: [(&str, Coder, &str); 5] = [
        (
            "deflate",
            |b| {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(b).unwrap();
                e.finish().unwrap()
            },
            "Content-Encoding: deflate",
        ),
        ("gzip, gzip", |b| gz(&gz(b)), "Content-Encoding: gzip, gzip"),
        ("br", |b| b.to_vec(), "Content-Encoding: br"),
        (
            "gzip",
            |b| [gz(b), b"GARBAGE".to_vec()].concat(),
            "after its first member",
        ),
        ("gzip", |b| [gz(b), gz(b"\0")].concat(), "after its first member"),
    ];
    for (coding, f, want) in cases {
        p.against(
            on("tile/entries/000", Reply::Encoded(coding, f)),
            2,
            &["tile/entries/000", want],
            QUICK,
        );
    }
    // The same host sending every file as one gzip member, as servers do, is read, with one
    // request per file the tree needs (2 bundles, 2 level-0 tiles, 1 level-1 tile, the
    // checkpoint).
    let host = Host::start(p.dir.clone(), |_| Reply::Encoded("gzip", gz));
    let out =
        p.w.ok(&verify_args(&p.vkey, &p.w.path_str("gz-state"), &[&host.url()]));
    assert!(out.starts_with("OK:") && out.contains("300 entries"), "{out}");
    assert_eq!(host.requests.load(std::sync::atomic::Ordering::SeqCst), 6);
}

/// Review 13, F11: a URL carrying a user name and password was repeated in full in every
/// message. It is shown with `***` in their place, in errors and in the report.
#[test]
fn a_password_in_the_url_is_never_shown() {
    let p = Published::new();
    let host = Host::start(p.dir.clone(), |_| Reply::File);
    let url = format!("http://reader:s3cret@{}/", host.addr);
    let out = p.w.ok(&verify_args(&p.vkey, &p.w.path_str("pw-state"), &[&url]));
    assert!(
        !out.contains("s3cret") && out.contains("http://***@127.0.0.1"),
        "{out}"
    );
    let j = p.w.ok(&verify_args(
        &p.vkey,
        &p.w.path_str("pw-state"),
        &[&url, "--json"],
    ));
    assert!(!j.contains("s3cret") && j.contains("***@"), "{j}");
    let m = p.w.path_str("pw-mirror");
    let out = p.w.ok(&["--ledger", &m, "mirror", &url, "--ledger-key", &p.vkey]);
    assert!(!out.contains("s3cret"), "{out}");
    let bad = Host::start(p.dir.clone(), |_| Reply::Status(503));
    let url = format!("http://reader:s3cret@{}/", bad.addr);
    let e =
        p.w.fails(2, &verify_args(&p.vkey, &p.w.path_str("pw-state"), &[&url]));
    assert!(!e.contains("s3cret") && e.contains("***@"), "{e}");
    let e =
        p.w.fails(2, &["--ledger", &m, "mirror", &url, "--ledger-key", &p.vkey]);
    assert!(!e.contains("s3cret") && e.contains("***@"), "{e}");
    // Nothing listening there at all: the connection error names no password either.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://reader:s3cret@{closed}/");
    let e =
        p.w.fails(2, &verify_args(&p.vkey, &p.w.path_str("pw-state"), &[&url]));
    assert!(!e.contains("s3cret"), "{e}");
}
