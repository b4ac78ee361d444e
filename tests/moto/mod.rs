//! An S3 server for the object-storage tests: moto in server mode (PyPI, pinned in
//! `tests/moto/requirements.txt`, installed by `tests/moto/install.sh`, which `.ci/run` runs),
//! started on a free loopback port for one test and stopped when the test drops it. The tests
//! reach it over HTTP only: accord through object_store, the checks here through raw requests
//! (moto in its default mode lets anonymous requests create buckets and list them; objects are
//! readable anonymously when uploaded `public-read`).
//!
//! Where moto_server is found: `$ACCORD_MOTO_SERVER`, else `target/moto/venv/bin/moto_server`,
//! else `moto_server` on `PATH`. When it is missing, a test prints `SKIPPED: ...` and passes,
//! unless `ACCORD_REQUIRE_ALL=1` (as in `.ci/run`), where it fails.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::publog::{read_response, Resp};

mod server;

/// The credentials every test uses (moto takes any, unless started with `auth`).
pub const KEY_ID: &str = "AKIDACCORDTEST";
/// The secret every test uses; it must never appear in accord's output.
pub const SECRET: &str = "accord-test-secret-never-printed";

/// Prints that a test was skipped, or fails under `ACCORD_REQUIRE_ALL=1` (as in .ci/run).
pub fn skip(what: &str) {
    if std::env::var_os("ACCORD_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("{what} (ACCORD_REQUIRE_ALL=1)");
    }
    eprintln!("SKIPPED: {what}");
}

/// A running moto server.
pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
    /// Its standard error: one line per request served.
    log: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto in `dir` (its log goes there). `auth`: moto checks credentials (none are
    /// valid, so every request is refused). None when moto_server is missing (then the test
    /// says it skipped, or fails under ACCORD_REQUIRE_ALL=1).
    pub fn start(dir: &Path, auth: bool) -> Option<Moto> {
        let Some(program) = server::program() else {
            skip(
                "moto_server not found ($ACCORD_MOTO_SERVER, else target/moto/venv, else PATH): the S3 publishing tests did not run; install it with tests/moto/install.sh",
            );
            return None;
        };
        let (child, addr, log) = server::start(&program, dir, auth).unwrap();
        Some(Moto { child, addr, log })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The public URL of `bucket/prefix/`, for `accord verify`.
    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        format!("{}/{bucket}/{prefix}/", self.endpoint())
    }

    /// The environment accord reaches this server with: every variable it reads, set or
    /// removed, so that the developer's own never leak in.
    pub fn env(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("AWS_ACCESS_KEY_ID", Some(KEY_ID.into())),
            ("AWS_SECRET_ACCESS_KEY", Some(SECRET.into())),
            ("AWS_REGION", Some("us-east-1".into())),
            ("AWS_ENDPOINT_URL", Some(self.endpoint())),
            ("AWS_SESSION_TOKEN", None),
            ("AWS_DEFAULT_REGION", None),
            ("AWS_ENDPOINT_URL_S3", None),
            ("AWS_ALLOW_HTTP", None),
            ("ACCORD_S3_ACL", None),
        ]
    }

    /// The same, as a lookup for `accord::bucket::Connection::from_lookup`.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> {
        let env = self.env();
        move |k| env.iter().find(|(n, _)| *n == k).and_then(|(_, v)| v.clone())
    }

    /// An anonymous request.
    pub fn request(&self, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Resp {
        let mut c = TcpStream::connect(self.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for h in headers {
            raw.push_str(h);
            raw.push_str("\r\n");
        }
        raw.push_str("\r\n");
        let mut raw = raw.into_bytes();
        raw.extend_from_slice(body);
        c.write_all(&raw).unwrap();
        read_response(&mut std::io::BufReader::new(c), method == "HEAD").unwrap()
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        server::create_bucket(self.addr, bucket).unwrap();
    }

    /// An anonymous GET of `bucket/key`.
    pub fn get(&self, bucket: &str, key: &str) -> Resp {
        self.request("GET", &format!("/{bucket}/{key}"), &[], b"")
    }

    /// Every object under `bucket/prefix/`: its key below the prefix and its ETag.
    pub fn list(&self, bucket: &str, prefix: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/{bucket}?list-type=2&prefix={prefix}/");
            if let Some(t) = &token {
                path.push_str(&format!(
                    "&continuation-token={}",
                    t.replace('=', "%3D").replace('+', "%2B").replace('/', "%2F")
                ));
            }
            let r = self.request("GET", &path, &[], b"");
            assert_eq!(r.status, 200, "list {bucket}: {}", r.text());
            let text = r.text();
            for c in text.split("<Contents>").skip(1) {
                let key = between(c, "<Key>", "</Key>").unwrap();
                let etag = between(c, "<ETag>", "</ETag>").unwrap_or_default();
                let key = key.strip_prefix(&format!("{prefix}/")).unwrap().to_string();
                out.insert(key, etag.replace("&#34;", "\"").replace("&quot;", "\""));
            }
            token = between(&text, "<NextContinuationToken>", "</NextContinuationToken>").map(str::to_string);
            if token.is_none() {
                return out;
            }
        }
    }

    /// The bytes of every object under `bucket/prefix/` (anonymous GETs: uploaded public-read).
    pub fn files(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        self.list(bucket, prefix)
            .into_keys()
            .map(|k| {
                let r = self.get(bucket, &format!("{prefix}/{k}"));
                assert_eq!(r.status, 200, "GET {k}: {}", r.text());
                (k, r.body)
            })
            .collect()
    }

    /// The requests served so far, `METHOD PATH STATUS` (from moto's log, which it writes
    /// after each response: a marker request is waited for first).
    pub fn requests(&self) -> Vec<String> {
        let marker = format!(
            "/accord-log-marker-{}",
            MARKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.request("HEAD", &marker, &[], b"");
        let t = Instant::now();
        loop {
            let lines = self.log_lines();
            if lines.iter().any(|l| l.contains(&marker)) || t.elapsed() > Duration::from_secs(10) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_lines(&self) -> Vec<String> {
        let f = std::fs::File::open(&self.log).unwrap();
        std::io::BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| {
                // Werkzeug colours some lines (ANSI escapes).
                let l = strip_ansi(&l);
                let (_, rest) = l.split_once("] \"")?;
                let (request, after) = rest.split_once('"')?;
                let mut r = request.split_whitespace();
                let (method, path) = (r.next()?, r.next()?);
                let status = after.split_whitespace().next()?;
                Some(format!("{method} {path} {status}"))
            })
            .collect()
    }

    /// The PUT requests served so far under `bucket/prefix/`.
    pub fn puts(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let under = format!("PUT /{bucket}/{prefix}/");
        self.requests()
            .into_iter()
            .filter(|r| r.starts_with(&under))
            .collect()
    }
}

/// Numbers the marker requests of [`Moto::requests`].
static MARKERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `s` without ANSI escape sequences (`ESC [ ... m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The text between `open` and `close` in `s`.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let from = s.find(open)? + open.len();
    let len = s[from..].find(close)?;
    Some(&s[from..from + len])
}
