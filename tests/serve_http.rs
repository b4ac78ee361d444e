//! Issue 13: `accord serve` through the real binary and raw sockets: C2SP tlog-tiles with the
//! spec's content types and caching, HEAD, conditional requests, CORS, gzip, the JSON read API
//! (the same JSON as the CLI's, valid against `schemas/`), and the server while other processes
//! append to the ledger.

mod common;
mod publog;

use common::{check_schema, s, verify_args, World};
use publog::*;

#[test]
fn serve_answers_tiles_and_the_checkpoint_with_the_spec_headers() {
    let (w, vkey, _) = ledger_of(600);
    let srv = Served::start(&w, &[]);
    let a = srv.addr;
    let all = entries(&w);
    for (path, bytes) in expected_tiles(&all, 600) {
        let r = get(a, &format!("/{path}"));
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.content(), bytes, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "{path}"
        );
        let cache = r.header("cache-control").unwrap();
        assert!(
            cache.contains("immutable") && cache.contains("max-age=31536000"),
            "{path}: {cache}"
        );
    }
    let cp = get(a, "/checkpoint");
    assert_eq!(cp.status, 200);
    assert_eq!(cp.text(), w.checkpoint());
    assert_eq!(cp.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(cp.header("cache-control"), Some("no-cache"));
    // Conditional requests: the ETag again is 304 without a body; another one is 200.
    let etag = cp.header("etag").unwrap().to_string();
    let r = request(a, "GET", "/checkpoint", &[&format!("If-None-Match: {etag}")]);
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = request(a, "GET", "/checkpoint", &["If-None-Match: \"0000\""]);
    assert_eq!(r.status, 200);
    let tile = get(a, "/tile/0/000");
    let r = request(
        a,
        "GET",
        "/tile/0/000",
        &[&format!("If-None-Match: {}", tile.header("etag").unwrap())],
    );
    assert_eq!((r.status, r.body.len()), (304, 0));
    // HEAD: the headers of GET, no body.
    let h = request(a, "HEAD", "/tile/0/000", &[]);
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-type"), Some("application/octet-stream"));
    assert_eq!(h.header("etag"), tile.header("etag"));
    // CORS: a page of another origin may read, and its preflight is answered.
    let r = request(a, "GET", "/checkpoint", &["Origin: https://elsewhere.example"]);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = request(
        a,
        "OPTIONS",
        "/tile/0/000",
        &[
            "Origin: https://elsewhere.example",
            "Access-Control-Request-Method: GET",
        ],
    );
    assert!(r.status == 200 || r.status == 204, "preflight: {}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("GET"));
    // Entry bundles are gzipped for a client that accepts it (and not for one that does not);
    // hash tiles (random bytes) are not.
    let plain = get(a, "/tile/entries/000");
    assert_eq!(plain.header("content-encoding"), None);
    let gz = request(a, "GET", "/tile/entries/000", &["Accept-Encoding: gzip"]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(
        gz.body.len() < plain.body.len() / 2,
        "{} of {}",
        gz.body.len(),
        plain.body.len()
    );
    assert_eq!(gz.content(), plain.body);
    let r = request(a, "GET", "/tile/0/000", &["Accept-Encoding: gzip"]);
    assert_eq!(r.header("content-encoding"), None);
    // The start files, as publish writes them.
    let dest = w.path("pub");
    w.ok(&["publish", &s(&dest)]);
    for f in ["accord/log.json", "accord/norms-v1.json"] {
        let r = get(a, &format!("/{f}"));
        assert_eq!(r.header("content-type"), Some("application/json"), "{f}");
        assert_eq!(r.content(), std::fs::read(dest.join(f)).unwrap(), "{f}");
    }
    // And accord itself reads it.
    let out = w.ok(&verify_args(&vkey, &w.path_str("st"), &[&srv.url()]));
    assert!(out.starts_with("OK:") && out.contains("600 entries"), "{out}");
}

/// The JSON of `args` (which must succeed), parsed.
fn cli_json(w: &World, args: &[&str]) -> serde_json::Value {
    common::json(w, args)
}

#[test]
fn the_json_api_answers_what_the_cli_prints_and_its_schemas_accept() {
    let (w, _, key) = ledger_of(3);
    w.withdraw(&key, "2", "replaced");
    let srv = Served::start(&w, &[]);
    let a = srv.addr;
    let api = |path: &str, schema: &str| -> serde_json::Value {
        let r = get(a, path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        check_schema(schema, &r.text());
        serde_json::from_str(&r.text()).unwrap()
    };
    assert_eq!(
        api("/api/v1/status", "status.schema.json"),
        cli_json(&w, &["status", "--json"])
    );
    assert_eq!(
        api("/api/v1/orgs", "orgs.schema.json"),
        cli_json(&w, &["orgs", "--json"])
    );
    for i in 0..4 {
        let n = i.to_string();
        assert_eq!(
            api(&format!("/api/v1/entries/{i}"), "entry.schema.json"),
            cli_json(&w, &["show", &n, "--json"]),
            "entry {i}"
        );
        assert_eq!(
            api(&format!("/api/v1/proof/{i}"), "bundle.schema.json"),
            cli_json(&w, &["prove", &n, "--json", "--out", "-"]),
            "proof {i}"
        );
    }
    // Beyond the tree, and what is not an entry index.
    for path in [
        "/api/v1/entries/4",
        "/api/v1/proof/4",
        "/api/v1/entries/18446744073709551615",
    ] {
        assert_eq!(get(a, path).status, 404, "{path}");
    }
    for path in [
        "/api/v1/entries/x",
        "/api/v1/entries/-1",
        "/api/v1/entries/01",
        "/api/v1/entries/%31",
        "/api/v1/entries/1.0",
        "/api/v1/proof/+1",
        "/api/v1/entries/18446744073709551616",
    ] {
        let st = get(a, path).status;
        assert!(st == 400 || st == 404, "{path}: {st}");
        assert_ne!(get(a, path).status, 200, "{path}");
    }
}

/// Polls `/checkpoint` and fetches every tile of the tree it signs, again and again until
/// it has done a whole round at a size of at least `until` (set by the test once the appends are
/// done; a minute at most): each must be there, of its width. Returns (rounds, largest size
/// seen).
fn poll_tiles(a: std::net::SocketAddr, vkey: &str, until: &std::sync::atomic::AtomicU64) -> (u64, u64) {
    let key = accord::checkpoint::VerifierKey::parse(vkey).unwrap();
    let (mut rounds, mut largest) = (0, 0);
    let t = std::time::Instant::now();
    while largest < until.load(std::sync::atomic::Ordering::Relaxed) && t.elapsed().as_secs() < 60 {
        let note = get(a, "/checkpoint").content();
        let cp = accord::checkpoint::SignedCheckpoint::open(&note, &key).unwrap();
        let size = cp.checkpoint.size;
        assert!(
            size >= largest,
            "the checkpoint went back from {largest} to {size}"
        );
        largest = size;
        for t in accord::tiles::tiles_for(size) {
            let r = get(a, &format!("/{}", t.path()));
            assert_eq!(r.status, 200, "{} of the checkpoint of size {size}", t.path());
            match t.kind {
                accord::tiles::TileKind::Entries => {
                    accord::tiles::decode_bundle(&r.content(), t.width).unwrap();
                }
                accord::tiles::TileKind::Hashes(_) => {
                    assert_eq!(r.body.len(), 32 * usize::from(t.width), "{}", t.path());
                }
            }
        }
        rounds += 1;
    }
    (rounds, largest)
}

#[test]
fn serve_keeps_serving_while_other_processes_append_and_read() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let (w, vkey, key) = ledger_of(250);
    let srv = Served::start(&w, &[]);
    let a = srv.addr;
    let until = Arc::new(AtomicU64::new(u64::MAX));
    let poller = {
        let (until, vkey) = (Arc::clone(&until), vkey.clone());
        std::thread::spawn(move || poll_tiles(a, &vkey, &until))
    };
    // Appends in other processes, two at a time (the second waits its turn), across the first
    // tile boundary; read commands in between.
    for i in 0..5 {
        let spawn = |k: usize| {
            w.std_cmd()
                .args(common::attest_args(
                    &key,
                    &["no-backdoors"],
                    &format!("while serving {i}.{k}"),
                ))
                .output()
                .unwrap()
        };
        let (x, y) = std::thread::scope(|sc| {
            let x = sc.spawn(|| spawn(0));
            let y = sc.spawn(|| spawn(1));
            (x.join().unwrap(), y.join().unwrap())
        });
        for o in [x, y] {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        w.ok(&["list", "--json"]);
        w.ok(&["status"]);
        w.ok(&["verify", "--ledger-key", &vkey, "--state", &w.path_str("st")]);
    }
    // A batch that crosses into a second full tile.
    append_attestations(&w, &key, 300, "batch");
    // The server shows the new checkpoint, with every tile of it.
    let cp = w.checkpoint();
    assert_eq!(get(a, "/checkpoint").text(), cp);
    until.store(560, Ordering::Relaxed);
    let (rounds, largest) = poller.join().unwrap();
    assert!(rounds > 0);
    assert_eq!(
        largest, 560,
        "the poller saw the last checkpoint only at {largest}"
    );
    let out = w.ok(&verify_args(&vkey, &w.path_str("st-url"), &[&srv.url()]));
    assert!(out.contains("560 entries"), "{out}");
    eprintln!("{rounds} rounds of checkpoint and every tile while appending");
}

#[test]
fn a_writer_that_cannot_proceed_says_who_holds_the_ledger_and_exits_2() {
    let (w, _, key) = ledger_of(2);
    let _srv = Served::start(&w, &[]);
    let cp = w.checkpoint();
    // This test process holds the ledger for writing.
    let held = accord::store::Store::open(&w.ledger()).unwrap();
    let o = w
        .cmd()
        .env("ACCORD_LOCK_WAIT", "1")
        .args(common::attest_args(&key, &["no-backdoors"], "blocked"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!(
            "in use by another accord process (pid {}: ",
            std::process::id()
        )),
        "{e}"
    );
    // Readers are not blocked by the writer, nor by serve.
    w.ok(&["list"]);
    drop(held);
    assert_eq!(w.checkpoint(), cp);
    w.attest(&key, &["no-backdoors"], "after");
}
