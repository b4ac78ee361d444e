//! Issue 14, the client side of writes through the server: `append`, `attest`, `withdraw`,
//! `register` and `key rotate|revoke|recover` with `--server URL`, through the real binary
//! against a real `accord serve --writable` (and hosts that misbehave): the entries land in the
//! ledger and verify, a resubmission gets the same index, refusals exit 1 naming the rule, a
//! registration may wait for approval, a server that is down, busy, limiting or answering
//! garbage exits 2, and concurrent submitters all get entries of their own.

mod common;
mod publog;

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    attest_args, attestation, json, public, recover_args, register_args, revoke_args, s, signed, sk,
    withdraw_args, World,
};
use publog::Served;
use serde_json::Value;

/// `args` then `--server URL`.
fn at<'a>(args: &[&'a str], url: &'a str) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--server", url]);
    v
}

/// A fresh ledger served by `accord serve --writable EXTRA...`.
fn served(extra: &[&str]) -> (World, String, Served) {
    let w = World::new();
    let vkey = w.init();
    let mut args = vec!["--writable"];
    args.extend_from_slice(extra);
    let srv = Served::start(&w, &args);
    (w, vkey, srv)
}

/// Stops the server with SIGTERM and requires a clean exit.
fn stop(mut srv: Served) {
    srv.sigterm();
    let status = srv
        .wait_exit(Duration::from_secs(20))
        .expect("serve did not stop");
    assert!(
        status.success(),
        "serve exited {status}: {}",
        srv.stderr.lock().unwrap()
    );
}

/// The statement id and index `append --json` printed for its one statement.
fn one(out: &str) -> Value {
    let v: Value = serde_json::from_str(out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    v[0].clone()
}

#[test]
fn every_command_submits_through_a_server_and_the_ledger_verifies() {
    let (w, vkey, srv) = served(&["--registrations", "open"]);
    let url = srv.url();
    let acme = w.key("acme");
    let rec = w.key("acme-rec");
    let rec2 = w.key("acme-rec-2");
    let out = w.ok(&at(
        &register_args(&s(&acme), "Acme Corp", Some(&public(&rec))),
        &url,
    ));
    assert!(
        out.contains("appended registration of \"acme corp\" at index 0"),
        "{out}"
    );
    // ACCORD_SERVER does what --server does.
    let o = w
        .cmd()
        .env("ACCORD_SERVER", &url)
        .args(attest_args(&acme, &["no-backdoors"], "Acme Cloud"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("appended attestation of \"acme corp\" at index 1"),
        "{out}"
    );
    // --supersedes and --entry by index, looked up through the server's API.
    let mut renew = attest_args(&acme, &["no-backdoors", "patch-all-customers"], "Acme Cloud");
    renew.extend(["--supersedes", "1"]);
    assert!(w.ok(&at(&renew, &url)).contains("at index 2"));
    assert!(w
        .ok(&at(&withdraw_args(&acme, "2", "retired"), &url))
        .contains("appended withdrawal of \"acme corp\" at index 3"));
    // A statement signed offline, appended through the server; again: the same index.
    let f = w.path("mail.cose");
    w.ok(&[
        "sign",
        "--key",
        &s(&acme),
        "--org",
        "Acme Corp",
        "--norm",
        "no-backdoors",
        "--scope",
        "Acme Mail",
        "--out",
        &s(&f),
    ]);
    let first = one(&w.ok(&at(&["append", &s(&f), "--json"], &url)));
    assert_eq!(first["index"], 4, "{first}");
    assert_eq!(first["already_in"], false, "{first}");
    assert_eq!(first["kind"], "attestation");
    assert_eq!(first["tree_size"], 5);
    assert!(
        first["checkpoint"].as_str().unwrap().starts_with(common::ORIGIN),
        "{first}"
    );
    let again = one(&w.ok(&at(&["append", &s(&f), "--json"], &url)));
    assert_eq!(again["index"], 4, "{again}");
    assert_eq!(again["already_in"], true, "{again}");
    assert_eq!(again["statement_id"], first["statement_id"]);
    let out = w.ok(&at(&["append", &s(&f)], &url));
    assert!(
        out.contains("already in the ledger at entry 4 (nothing appended)"),
        "{out}"
    );
    // The key lifecycle: rotate, revoke (a key-id prefix resolved through the API), recover.
    let acme2 = w.key("acme-2");
    let out = w.ok(&at(
        &["key", "rotate", "--key", &s(&acme), "--new", &s(&acme2)],
        &url,
    ));
    assert!(
        out.contains("appended rotation of \"acme corp\" at index 5"),
        "{out}"
    );
    let orgs = json(&w, &["orgs", "--json"]);
    let kid = orgs[0]["current_keys"][0].as_str().unwrap().to_string();
    assert_eq!(orgs[0]["recovery_key"], hex_kid(&rec).as_str(), "{orgs}");
    let out = w.ok(&at(&revoke_args(&acme2, Some(&kid[..16]), "laptop lost"), &url));
    assert!(
        out.contains("appended revocation of \"acme corp\" at index 6"),
        "{out}"
    );
    let acme3 = w.key("acme-3");
    let out = w.ok(&at(
        &recover_args(&s(&rec), &public(&acme3), &public(&rec2), None, "key stolen"),
        &url,
    ));
    assert!(
        out.contains("appended recovery of \"acme corp\" at index 7"),
        "{out}"
    );
    w.ok(&at(&attest_args(&acme3, &["no-backdoors"], "Acme Chat"), &url));
    stop(srv);
    assert_eq!(
        common::kinds(&w),
        [
            "registration",
            "attestation",
            "attestation",
            "withdrawal",
            "attestation",
            "rotation",
            "revocation",
            "recovery",
            "attestation"
        ]
    );
    let state = w.path("state-v");
    let v = json(&w, &common::verify_args(&vkey, &state, &["--json"]));
    assert_eq!(v["entries"], 9, "{v}");
}

#[test]
fn the_server_reports_each_organisations_recovery_key() {
    let (w, _, srv) = served(&["--registrations", "open"]);
    let url = srv.url();
    let acme = w.key("acme");
    let rec = w.key("acme-rec");
    w.ok(&at(&register_args(&s(&acme), "Acme", Some(&public(&rec))), &url));
    let beta = w.key("beta");
    w.ok(&at(&register_args(&s(&beta), "Beta", None), &url));
    let r = publog::get(srv.addr, "/api/v1/orgs");
    let orgs: Value = serde_json::from_slice(&r.content()).unwrap();
    let rec_kid = hex_kid(&rec);
    assert_eq!(orgs[0]["org"], "acme");
    assert_eq!(orgs[0]["recovery_key"], rec_kid.as_str(), "{orgs}");
    assert_eq!(orgs[1]["recovery_key"], Value::Null, "{orgs}");
    common::check_schema("orgs.schema.json", &r.text());
}

/// The key id (hex) of the key in the secret key file `key`.
fn hex_kid(key: &Path) -> String {
    hex::encode(sk(key).public().kid())
}

#[test]
fn refusals_exit_1_naming_the_rule() {
    let (w, _, srv) = served(&["--registrations", "open"]);
    let url = srv.url();
    let acme = w.key("acme");
    w.ok(&at(&register_args(&s(&acme), "Acme", None), &url));
    w.ok(&at(&attest_args(&acme, &["no-backdoors"], "X"), &url));
    // The server's rules: a name taken.
    let other = w.key("other");
    let e = w.fails(1, &at(&register_args(&s(&other), "ACME", None), &url));
    assert!(e.contains(&format!("refused by {url} (name-taken)")), "{e}");
    assert!(e.contains("already registered"), "{e}");
    // A statement file the rules refuse: its name, the rule and the detail.
    let bad = w.path("wrong-origin.cose");
    let st = accord::statement::sign(
        &common::payload_at(
            "elsewhere.example/log",
            accord::clock::now(),
            attestation("Y", None),
        ),
        "acme",
        &sk(&acme),
    )
    .unwrap();
    std::fs::write(&bad, st.bytes()).unwrap();
    let e = w.fails(1, &at(&["append", &s(&bad)], &url));
    assert!(
        e.contains("wrong-origin.cose") && e.contains("(wrong-origin)"),
        "{e}"
    );
    // Not a statement at all: the server says it is malformed.
    let junk = w.path("junk.cose");
    std::fs::write(&junk, b"not cbor").unwrap();
    let e = w.fails(1, &at(&["append", &s(&junk)], &url));
    assert!(e.contains("(malformed-statement)"), "{e}");
    // Checked before signing, from the server's API, as `sign` does: another organisation's
    // entry, an entry that is no attestation, an entry that does not exist, an unknown key.
    let beta = w.key("beta");
    w.ok(&at(&register_args(&s(&beta), "Beta", None), &url));
    let e = w.fails(1, &at(&withdraw_args(&beta, "1", "x"), &url));
    assert!(
        e.contains("belongs to \"acme\"") && e.contains("only its own attestations"),
        "{e}"
    );
    let e = w.fails(1, &at(&withdraw_args(&acme, "0", "x"), &url));
    assert!(e.contains("is a registration"), "{e}");
    let e = w.fails(2, &at(&withdraw_args(&acme, "99", "x"), &url));
    assert!(e.contains("no entry 99"), "{e}");
    let stranger = w.key("stranger");
    let e = w.fails(1, &at(&attest_args(&stranger, &["no-backdoors"], "Z"), &url));
    assert!(e.contains("not a current key of any organisation"), "{e}");
    // A statement id the API cannot look up goes to the server, whose rules refuse it.
    let e = w.fails(1, &at(&withdraw_args(&acme, &"ab".repeat(32), "x"), &url));
    assert!(e.contains("(no-such-statement)"), "{e}");
    // A recovery key nobody committed to.
    let nobody = w.key("nobody");
    let e = w.fails(
        1,
        &at(
            &recover_args(&s(&nobody), &public(&beta), &public(&other), None, "x"),
            &url,
        ),
    );
    assert!(e.contains("no organisation in the ledger at"), "{e}");
    stop(srv);
    assert_eq!(json(&w, &["list", "--json"]).as_array().unwrap().len(), 3);
    w.ok(&["verify"]);
}

#[test]
fn a_registration_may_wait_for_approval_or_be_refused_when_registrations_are_closed() {
    let (w, _, srv) = served(&[]);
    let url = srv.url();
    let acme = w.key("acme");
    let out = w.ok(&at(&register_args(&s(&acme), "Acme", None), &url));
    assert!(
        out.contains("registration of \"acme\" waiting for the custodian's approval (statement id "),
        "{out}"
    );
    // A file submitted twice waits once; --json gives the server's answer.
    let f = w.path("beta.cose");
    let beta = w.key("beta");
    w.ok(&[
        "sign",
        "--key",
        &s(&beta),
        "--register",
        "--org",
        "Beta",
        "--origin",
        common::ORIGIN,
        "--out",
        &s(&f),
    ]);
    for _ in 0..2 {
        let v = one(&w.ok(&at(&["append", &s(&f), "--json"], &url)));
        assert_eq!(v["status"], "pending", "{v}");
        assert_eq!(v["org"], "beta", "{v}");
    }
    stop(srv);
    assert_eq!(json(&w, &["list", "--json"]).as_array().unwrap().len(), 0);

    let srv = Served::start(&w, &["--writable", "--registrations", "closed"]);
    let e = w.fails(1, &at(&["append", &s(&f)], &srv.url()));
    assert!(e.contains("(registrations-closed)"), "{e}");
    stop(srv);
}

#[test]
fn a_local_writer_is_told_to_submit_through_the_server_and_does_not_wait_for_it() {
    let (w, _, srv) = served(&["--registrations", "open"]);
    let acme = w.key("acme");
    w.ok(&at(&register_args(&s(&acme), "Acme", None), &srv.url()));
    let t = Instant::now();
    let o = w
        .cmd()
        .env("ACCORD_LOCK_WAIT", "30")
        .args(attest_args(&acme, &["no-backdoors"], "X"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "it waited {:?} for the server",
        t.elapsed()
    );
    assert!(e.contains(": accord serve"), "{e}");
    assert!(e.contains("hint: ") && e.contains("--server URL"), "{e}");
    stop(srv);
}

#[test]
fn a_client_over_its_rate_gets_429_and_exits_2_with_retry_after() {
    let (w, _, srv) = served(&["--registrations", "open", "--submit-rate", "1"]);
    let url = srv.url();
    let acme = w.key("acme");
    w.ok(&at(&register_args(&s(&acme), "Acme", None), &url));
    let e = w.fails(2, &at(&attest_args(&acme, &["no-backdoors"], "X"), &url));
    assert!(
        e.contains("429 rate-limited") && e.contains("try again in"),
        "{e}"
    );
    stop(srv);
    assert_eq!(json(&w, &["list", "--json"]).as_array().unwrap().len(), 1);
}

#[test]
fn a_server_that_is_down_exits_2() {
    let w = World::new();
    let acme = w.key("acme");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let e = w.fails(2, &at(&attest_args(&acme, &["no-backdoors"], "X"), &url));
    assert!(e.contains("could not connect"), "{e}");
    let f = w.path("st.cose");
    std::fs::write(&f, signed(attestation("X", None), "acme", &sk(&acme)).bytes()).unwrap();
    let e = w.fails(2, &at(&["append", &s(&f)], &url));
    assert!(
        e.contains("could not connect") && e.contains("submitting it again is safe"),
        "{e}"
    );
    let e = w.fails(2, &at(&["append", &s(&f)], "ftp://example.org/"));
    assert!(e.contains("not an http:// or https:// URL"), "{e}");
    // A user name and password in the URL are never repeated.
    let secret = format!("http://submitter:s3cret@127.0.0.1:{port}/");
    let e = w.fails(2, &at(&["append", &s(&f)], &secret));
    assert!(!e.contains("s3cret") && e.contains("***@127.0.0.1"), "{e}");
}

/// A host that answers every request with `reply` (raw HTTP/1.1 bytes after reading the
/// request and its body), counting the requests.
struct Fake {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

/// What a fake host does with a request.
#[derive(Clone)]
enum Reply {
    /// These bytes, then the connection is closed.
    Raw(Vec<u8>),
    /// Headers announcing a large body, then a byte every 300 ms.
    Trickle,
    /// A chunked body that never ends.
    Endless,
}

impl Fake {
    fn start(reply: Reply) -> Fake {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&requests);
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let (reply, count) = (reply.clone(), Arc::clone(&count));
                std::thread::spawn(move || {
                    let _ = answer(c, &reply, &count);
                });
            }
        });
        Fake { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn answer(c: TcpStream, reply: &Reply, count: &AtomicUsize) -> std::io::Result<()> {
    let mut r = std::io::BufReader::new(c.try_clone()?);
    let mut len = 0usize;
    let mut line = String::new();
    r.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    count.fetch_add(1, Ordering::SeqCst);
    let mut c = c;
    match reply {
        Reply::Raw(b) => c.write_all(b)?,
        Reply::Trickle => publog::trickle(
            &mut c,
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n",
        )?,
        Reply::Endless => publog::endless_chunks(
            &mut c,
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        )?,
    }
    Ok(())
}

/// A raw response: status line, headers, a body.
fn raw(status: &str, headers: &str, body: &str) -> Reply {
    Reply::Raw(
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A statement file signed by a fresh key of `w` (no ledger needed: `append` reads nothing).
fn statement_file(w: &World) -> PathBuf {
    let key = w.key("acme");
    let f = w.path("st.cose");
    std::fs::write(&f, signed(attestation("X", None), "acme", &sk(&key)).bytes()).unwrap();
    f
}

#[test]
fn a_busy_server_is_tried_again_a_few_times_then_exit_2() {
    let w = World::new();
    let f = statement_file(&w);
    let problem = r#"{"type":"urn:accord:problem:busy","title":"Busy","status":503,"detail":"the queue is full","rule":"busy"}"#;
    let host = Fake::start(raw(
        "503 Service Unavailable",
        "Retry-After: 1\r\nContent-Type: application/problem+json\r\n",
        problem,
    ));
    let t = Instant::now();
    let e = w.fails(2, &at(&["append", &s(&f)], &host.url()));
    assert!(
        e.contains("503 busy") && e.contains("the queue is full") && e.contains("try again in 1 s"),
        "{e}"
    );
    assert_eq!(host.requests(), 4, "one try and three more");
    assert!(t.elapsed() >= Duration::from_secs(3), "{:?}", t.elapsed());
    // A long Retry-After, or a server closing, is not waited for.
    let long = problem.replace("the queue is full", "long");
    let host = Fake::start(raw("503 Service Unavailable", "Retry-After: 3600\r\n", &long));
    let e = w.fails(2, &at(&["append", &s(&f)], &host.url()));
    assert!(e.contains("try again in 3600 s"), "{e}");
    assert_eq!(host.requests(), 1);
    let closing = problem.replace("\"busy\"", "\"closing\"");
    let host = Fake::start(raw("503 Service Unavailable", "Retry-After: 1\r\n", &closing));
    let e = w.fails(2, &at(&["append", &s(&f)], &host.url()));
    assert!(e.contains("503 closing"), "{e}");
    assert_eq!(host.requests(), 1);
    // 429 from a host: exit 2 with its Retry-After, not tried again.
    let limited = r#"{"rule":"rate-limited","detail":"slow down","status":429}"#;
    let host = Fake::start(raw("429 Too Many Requests", "Retry-After: 42\r\n", limited));
    let e = w.fails(2, &at(&["append", &s(&f)], &host.url()));
    assert!(
        e.contains("429 rate-limited") && e.contains("try again in 42 s"),
        "{e}"
    );
    assert_eq!(host.requests(), 1);
    // Nor in what a host that answered is named by.
    let url = host.url().replace("http://", "http://submitter:s3cret@");
    let e = w.fails(2, &at(&["append", &s(&f)], &url));
    assert!(!e.contains("s3cret") && e.contains("http://***@127.0.0.1"), "{e}");
    assert_eq!(host.requests(), 2);
}

#[test]
fn a_server_answering_garbage_or_too_much_exits_2_without_panicking() {
    let w = World::new();
    let f = statement_file(&w);
    let st = std::fs::read(&f).unwrap();
    let ours = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&st))
    };
    // A receipt for entry `index` under a checkpoint note of `size` stating `tree_size`.
    let receipt_at = |id: &str, index: u64, tree_size: u64, size: u64| {
        let note = format!(
            "{}\\n{size}\\n{}\\n\\n\\u2014 {} fake\\n",
            common::ORIGIN,
            "A".repeat(43) + "=",
            common::ORIGIN
        );
        format!(
            r#"{{"index":{index},"statement_id":"{id}","kind":"attestation","org":"acme","already_in":false,"tree_size":{tree_size},"checkpoint":"{note}"}}"#
        )
    };
    let receipt = |id: &str| receipt_at(id, 7, 8, 8);
    let cases: Vec<(Reply, &str)> = vec![
        (
            raw("201 Created", "", "this is not json"),
            "not an accord server's answer",
        ),
        (
            raw("201 Created", "", "{\"index\": 1}"),
            "not an accord server's answer",
        ),
        (raw("201 Created", "", &receipt(&"cd".repeat(32))), "the one sent"),
        // A receipt whose checkpoint does not cover the entry, or is not what it says.
        (
            raw("201 Created", "", &receipt_at(&ours, 8, 8, 8)),
            "which does not cover it",
        ),
        (
            raw("200 OK", "", &receipt_at(&ours, 7, 8, 7)),
            "not the tree size 8 it states",
        ),
        (
            raw("201 Created", "", &receipt(&ours).replace("\\n\\n", "\\n")),
            "not a signed note",
        ),
        (
            raw(
                "202 Accepted",
                "",
                "{\"status\":\"done\",\"statement_id\":\"x\",\"org\":\"y\"}",
            ),
            "not an accord server's answer",
        ),
        (
            raw(
                "500 Internal Server Error",
                "",
                "{\"rule\":\"commit-failed\",\"detail\":\"disk full\"}",
            ),
            "500 Internal Server Error (commit-failed): disk full",
        ),
        (
            raw("502 Bad Gateway", "", "<html>proxy</html>"),
            "502 Bad Gateway",
        ),
        (
            raw("301 Moved Permanently", "Location: http://example.org/\r\n", ""),
            "redirects are not followed",
        ),
        (
            raw(
                "405 Method Not Allowed",
                "",
                "this server only reads (GET, HEAD)\n",
            ),
            "it takes no statements",
        ),
        (raw("200 OK", "", &"x".repeat(200_000)), "announces more than"),
        (
            raw("201 Created", "Content-Encoding: br\r\n", "{}"),
            "reads only identity or a single gzip",
        ),
        (Reply::Endless, "larger than"),
        (
            Reply::Raw(b"HTTP/1.1 201 Created\r\nContent-Length: 500\r\n\r\n{\"index\"".to_vec()),
            "reading the response",
        ),
        (Reply::Raw(b"garbage\r\n\r\n".to_vec()), "request failed"),
    ];
    for (reply, want) in cases {
        let host = Fake::start(reply);
        let e = w.fails(2, &at(&["append", &s(&f)], &host.url()));
        assert!(e.contains(want), "expected {want:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    // The right receipt is taken, so the cases above fail for what they are.
    let host = Fake::start(raw(
        "201 Created",
        "Content-Type: application/json\r\n",
        &receipt(&ours),
    ));
    let out = w.ok(&at(&["append", &s(&f)], &host.url()));
    assert!(
        out.contains("appended attestation of \"acme\" at index 7"),
        "{out}"
    );
    // A host that trickles is cut off at the deadline.
    let host = Fake::start(Reply::Trickle);
    let t = Instant::now();
    let o = w
        .cmd()
        .env("ACCORD_HTTP_TIMEOUT", "2")
        .args(at(&["append", &s(&f)], &host.url()))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("timed out"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    // The read API answering garbage, for a command that needs it.
    let key = w.key("other");
    let host = Fake::start(raw("200 OK", "", "[1, 2, 3]"));
    let e = w.fails(2, &at(&attest_args(&key, &["no-backdoors"], "X"), &host.url()));
    assert!(
        e.contains("api/v1/orgs") && e.contains("not what an accord server sends"),
        "{e}"
    );
}

#[test]
fn concurrent_submitters_all_get_entries_of_their_own_and_the_ledger_verifies() {
    const THREADS: usize = 16;
    const EACH: usize = 20;
    let (w, vkey, srv) = served(&["--registrations", "open", "--submit-rate", "1000000"]);
    let url = srv.url();
    let acme = w.key("acme");
    w.ok(&at(&register_args(&s(&acme), "Acme", None), &url));
    let secret = sk(&acme);
    let dir = w.path("statements");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<Vec<PathBuf>> = (0..THREADS)
        .map(|t| {
            (0..EACH)
                .map(|i| {
                    let f = dir.join(format!("{t}-{i}.cose"));
                    std::fs::write(
                        &f,
                        signed(attestation(&format!("{t} {i}"), None), "acme", &secret).bytes(),
                    )
                    .unwrap();
                    f
                })
                .collect()
        })
        .collect();
    let w = Arc::new(w);
    let handles: Vec<_> = files
        .into_iter()
        .map(|mine| {
            let (w, url) = (Arc::clone(&w), url.clone());
            std::thread::spawn(move || {
                mine.iter()
                    .map(|f| {
                        let o = w
                            .std_cmd()
                            .args(["append", "--json", "--server", &url, &s(f)])
                            .output()
                            .unwrap();
                        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                        let v = one(&String::from_utf8_lossy(&o.stdout));
                        assert_eq!(v["already_in"], false);
                        v["index"].as_u64().unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut indexes: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    indexes.sort_unstable();
    let want: Vec<u64> = (1..=(THREADS * EACH) as u64).collect();
    assert_eq!(indexes, want, "every submission has an entry of its own");
    stop(srv);
    let state = w.path("state-v");
    let v = json(&w, &common::verify_args(&vkey, &state, &["--json"]));
    assert_eq!(v["entries"], (THREADS * EACH + 1) as u64, "{v}");
}
