//! Issue 14: `accord serve --writable` through raw HTTP: `POST /entries` answers once durable,
//! resubmission is safe, refusals are problem reports naming the rule, admission bounds every
//! client and the queue, registrations wait for an approval made only locally, and concurrent
//! submitters each get their own index in a ledger that verifies.

mod common;
mod publog;

use std::net::SocketAddr;
use std::time::Duration;

use common::{attestation, registration, s, signed, sk, World, ORIGIN};
use publog::*;

/// `POST /entries` with `body` as `content_type`, and `extra` headers.
fn post(addr: SocketAddr, body: &[u8], content_type: &str, extra: &[&str]) -> Resp {
    let mut raw = format!(
        "POST /entries HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in extra {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    exchange(addr, &raw)
}

fn cose(addr: SocketAddr, statement: &[u8]) -> Resp {
    post(addr, statement, "application/cose", &[])
}

fn json_of(r: &Resp) -> serde_json::Value {
    serde_json::from_slice(&r.content()).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// A ledger with Acme registered through the CLI; returns Acme's secret key file.
fn acme_world() -> (World, String, std::path::PathBuf) {
    let w = World::new();
    let vkey = w.init();
    let acme = w.register("acme", "Acme");
    (w, vkey, acme)
}

/// An attestation by `key` for Acme, scope `scope`.
fn pledge(key: &std::path::Path, scope: &str) -> Vec<u8> {
    signed(attestation(scope, None), "acme", &sk(key))
        .bytes()
        .to_vec()
}

#[test]
fn a_statement_is_answered_once_durable_and_resubmitting_it_is_safe() {
    let (w, vkey, acme) = acme_world();
    let mut srv = Served::start(&w, &["--writable"]);
    let a = srv.addr;
    let st = pledge(&acme, "Cloud");
    let r = cose(a, &st);
    assert_eq!(r.status, 201, "{}", r.text());
    let v = json_of(&r);
    assert_eq!(v["index"], 1);
    assert_eq!(v["already_in"], false);
    assert_eq!(v["kind"], "attestation");
    assert_eq!(v["tree_size"], 2);
    // The checkpoint in the answer is signed by the ledger key and covers the entry.
    let note = v["checkpoint"].as_str().unwrap();
    assert!(note.starts_with(&format!("{ORIGIN}\n2\n")), "{note}");
    // The same statement again: its index, nothing appended.
    let r = cose(a, &st);
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["already_in"], true);
    assert_eq!(json_of(&r)["index"], 1);
    // CBOR on request.
    let r = post(
        a,
        &pledge(&acme, "Mail"),
        "application/cose",
        &["Accept: application/cbor"],
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("application/cbor"));
    let m: ciborium::Value = ciborium::from_reader(r.content().as_slice()).unwrap();
    let index = m
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("index"))
        .map(|(_, v)| v.clone());
    assert_eq!(index, Some(ciborium::Value::Integer(2.into())));
    // Refusals: problem reports naming the rule; nothing appended.
    let stranger = w.key("stranger");
    for (body, ct, status, rule) in [
        (pledge(&stranger, "X"), "application/cose", 400, "issuer-mismatch"),
        (
            b"not cbor".to_vec(),
            "application/cose",
            400,
            "malformed-statement",
        ),
        (
            pledge(&acme, "Y"),
            "application/octet-stream",
            415,
            "unsupported-media-type",
        ),
    ] {
        let r = post(a, &body, ct, &[]);
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let p = json_of(&r);
        assert_eq!(p["status"], status);
        assert_eq!(
            p["type"],
            format!("urn:accord:problem:{}", p["rule"].as_str().unwrap())
        );
        if status == 400 && rule != "malformed-statement" {
            assert!(
                ["issuer-mismatch", "unregistered-key"].contains(&p["rule"].as_str().unwrap()),
                "{p}"
            );
        } else {
            assert_eq!(p["rule"], rule, "{p}");
        }
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
    // More than one statement's bytes: refused before it is read whole.
    let r = post(a, &vec![0u8; 70_000], "application/cose", &[]);
    assert_eq!(r.status, 413);
    // Reads still work, and CORS does not let a page submit.
    assert_eq!(get(a, "/checkpoint").status, 200);
    let r = request(
        a,
        "OPTIONS",
        "/entries",
        &[
            "Origin: https://elsewhere.example",
            "Access-Control-Request-Method: POST",
        ],
    );
    assert!(
        !r.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST")),
        "{:?}",
        r.headers
    );
    // A local writer is told where the ledger is held.
    let e = w
        .cmd()
        .env("ACCORD_LOCK_WAIT", "0")
        .args(common::attest_args(&acme, &["no-backdoors"], "local"))
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&e.stderr).contains("accord serve"));
    srv.sigterm();
    assert!(srv
        .wait_exit(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    assert_eq!(w.ledger_key(), vkey);
    w.ok(&["verify", "--ledger-key", &vkey]);
    assert_eq!(json_of_cli(&w, &["list", "--json"]).as_array().unwrap().len(), 3);
}

fn json_of_cli(w: &World, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&w.ok(args)).unwrap()
}

#[test]
fn registrations_open_closed_or_approved_locally() {
    let (w, vkey, _) = acme_world();
    let beta = w.key("beta");
    let reg = |name: &str, key: &std::path::Path| {
        signed(
            registration(name, sk(key).public(), None),
            &name.to_lowercase(),
            &sk(key),
        )
        .bytes()
        .to_vec()
    };
    // Closed: refused.
    {
        let srv = Served::start(&w, &["--writable", "--registrations", "closed"]);
        let r = cose(srv.addr, &reg("Beta", &beta));
        assert_eq!(r.status, 403);
        assert_eq!(json_of(&r)["rule"], "registrations-closed");
    }
    // Approve: it waits, is listed, is approved through the admin socket, then is in.
    let srv = Served::start(&w, &["--writable"]);
    let beta_reg = reg("Beta", &beta);
    let r = cose(srv.addr, &beta_reg);
    assert_eq!(r.status, 202, "{}", r.text());
    let id = json_of(&r)["statement_id"].as_str().unwrap().to_string();
    // A registration the ledger would refuse does not take a place: Acme's name is taken.
    let other = w.key("other");
    let r = cose(srv.addr, &reg("ACME", &other));
    assert_eq!(r.status, 400);
    assert_eq!(json_of(&r)["rule"], "name-taken");
    let pending = json_of_cli(&w, &["pending", "--json"]);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["id"], id.as_str());
    let socket = w.ledger().join("admin.sock");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let out = w.ok(&["approve", &id[..10]]);
    assert!(out.contains("appended at index 1"), "{out}");
    let r = cose(srv.addr, &beta_reg);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["index"], 1);
    assert!(json_of_cli(&w, &["pending", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    // Nothing on the public listener approves.
    for m in ["POST", "GET"] {
        for p in ["/approve", "/admin/approve", &format!("/approve/{id}")] {
            assert!([404, 405].contains(&request(srv.addr, m, p, &["Content-Length: 0"]).status));
        }
    }
    // Reject.
    let gamma = w.key("gamma");
    let r = cose(srv.addr, &reg("Gamma", &gamma));
    let gid = json_of(&r)["statement_id"].as_str().unwrap().to_string();
    w.ok(&["reject", &gid[..12]]);
    assert!(json_of_cli(&w, &["pending", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    drop(srv);
    // Open: in at once. Approving without a server appends directly.
    let srv = Served::start(&w, &["--writable", "--registrations", "open"]);
    let r = cose(srv.addr, &reg("Gamma", &gamma));
    assert_eq!(r.status, 201, "{}", r.text());
    drop(srv);
    w.ok(&["verify", "--ledger-key", &vkey]);
}

#[test]
fn admission_bounds_each_client_and_the_pending_queue() {
    let (w, _, acme) = acme_world();
    let srv = Served::start(&w, &["--writable", "--submit-rate", "5", "--max-pending", "2"]);
    let a = srv.addr;
    let mut codes = Vec::new();
    for i in 0..7 {
        let r = cose(a, &pledge(&acme, &format!("s{i}")));
        if r.status == 429 {
            assert!(r
                .header("retry-after")
                .is_some_and(|v| v.parse::<u64>().unwrap() >= 1));
            assert_eq!(json_of(&r)["rule"], "rate-limited");
        }
        codes.push(r.status);
    }
    assert_eq!(&codes[..5], &[201; 5], "{codes:?}");
    assert_eq!(&codes[5..], &[429, 429], "{codes:?}");
    drop(srv);
    // The pending queue: one per client (a hundredth of 2, at least one), two in all.
    let srv = Served::start(&w, &["--writable", "--max-pending", "2"]);
    let a = srv.addr;
    let reg = |name: &str| {
        let k = w.key(&name.to_lowercase());
        signed(
            registration(name, sk(&k).public(), None),
            &name.to_lowercase(),
            &sk(&k),
        )
        .bytes()
        .to_vec()
    };
    assert_eq!(cose(a, &reg("B1")).status, 202);
    let r = cose(a, &reg("B2"));
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(json_of(&r)["rule"], "pending-client-full");
    let w2 = |body: &[u8]| {
        let raw = format!(
            "POST /entries HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut c = connect_from([127, 0, 0, 2], a);
        std::io::Write::write_all(&mut c, raw.as_bytes()).unwrap();
        std::io::Write::write_all(&mut c, body).unwrap();
        read_response(&mut std::io::BufReader::new(c), false).unwrap()
    };
    assert_eq!(w2(&reg("B3")).status, 202);
    let r = w2(&reg("B4"));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(json_of(&r)["rule"], "pending-full");
    let n = json_of_cli(&w, &["pending", "--json"]).as_array().unwrap().len();
    assert_eq!(n, 2);
}

fn connect_from(src: [u8; 4], dst: SocketAddr) -> std::net::TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from((src, 0)).into()).unwrap();
    s.connect(&dst.into()).unwrap();
    let c: std::net::TcpStream = s.into();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c
}

#[test]
fn concurrent_submitters_share_commits_and_each_gets_its_own_index() {
    let (w, vkey, acme) = acme_world();
    let srv = Served::start(&w, &["--writable", "--submit-rate", "100000"]);
    let a = srv.addr;
    let key = sk(&acme);
    let statements: Vec<Vec<Vec<u8>>> = (0..16)
        .map(|t| {
            (0..12)
                .map(|i| {
                    signed(attestation(&format!("t{t}-{i}"), None), "acme", &key)
                        .bytes()
                        .to_vec()
                })
                .collect()
        })
        .collect();
    let threads: Vec<_> = statements
        .into_iter()
        .map(|mine| {
            std::thread::spawn(move || {
                mine.iter()
                    .map(|st| {
                        let r = cose(a, st);
                        assert_eq!(r.status, 201, "{}", r.text());
                        json_of(&r)["index"].as_u64().unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=192).collect::<Vec<u64>>());
    drop(srv);
    w.ok(&["verify", "--ledger-key", &vkey]);
    // Group commits: fewer checkpoints than entries (each commit signs one).
    let checkpoints = json_of_cli(&w, &["checkpoints", "--json"]);
    let n = checkpoints.as_array().unwrap().len();
    eprintln!("193 entries under {n} checkpoints");
    assert!(n < 193, "no statements shared a commit: {n} checkpoints");
    let _ = s(&acme);
}

#[test]
fn a_writing_server_publishes_after_its_commits() {
    let (w, vkey, acme) = acme_world();
    let public = w.path("public");
    let srv = Served::start(&w, &["--writable", "--publish", &s(&public)]);
    for i in 0..5 {
        assert_eq!(cose(srv.addr, &pledge(&acme, &format!("p{i}"))).status, 201);
    }
    // The publisher runs beside the commits: wait (bounded) for the size it must reach.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let size = std::fs::read(public.join("checkpoint"))
            .ok()
            .map(|n| note_size(&n));
        if size == Some(6) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "published size {size:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    w.ok(&["verify", &s(&public), "--ledger-key", &vkey]);
}

/// Review 14, finding 4: a registration the ledger's rules refuse (an invisible character in
/// the name, a look-alike of a registered name) is refused when it arrives, by the same rules
/// as an append, and never takes a place in the approval queue.
#[test]
fn a_registration_the_rules_refuse_never_waits_for_approval() {
    let (w, _, _) = acme_world();
    let srv = Served::start(&w, &["--writable"]);
    let k = w.key("mallory");
    for (name, rule) in [
        ("Be\u{200b}ta", "name-refused"),
        ("\u{410}CME", "name-looks-like"), // a Cyrillic A: a look-alike of ACME
    ] {
        let st = signed(
            registration(name, sk(&k).public(), None),
            &name.to_lowercase(),
            &sk(&k),
        )
        .bytes()
        .to_vec();
        let r = cose(srv.addr, &st);
        assert_eq!(r.status, 400, "{name:?}: {}", r.text());
        assert_eq!(json_of(&r)["rule"], rule, "{name:?}: {}", r.text());
    }
    assert!(json_of_cli(&w, &["pending", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
}

/// Review 14, finding 1: `accord reject` racing an approval of the same registration. Whatever
/// the order, reject never reports success for a registration that is then in the ledger.
#[test]
fn reject_never_says_so_for_a_registration_an_approval_appended() {
    let (w, _, _) = acme_world();
    let srv = Served::start(&w, &["--writable"]);
    for round in 0..8 {
        let k = w.key(&format!("org{round}"));
        let name = format!("Org {round}");
        let st = signed(
            registration(&name, sk(&k).public(), None),
            &name.to_lowercase(),
            &sk(&k),
        )
        .bytes()
        .to_vec();
        let r = cose(srv.addr, &st);
        assert_eq!(r.status, 202, "{}", r.text());
        let id = json_of(&r)["statement_id"].as_str().unwrap().to_string();
        let (approve, reject) = std::thread::scope(|sc| {
            let a = sc.spawn(|| w.cmd().args(["approve", &id]).output().unwrap());
            let r = sc.spawn(|| w.cmd().args(["reject", &id]).output().unwrap());
            (a.join().unwrap(), r.join().unwrap())
        });
        let in_ledger = cose(srv.addr, &st).status == 200;
        // Exactly one decision took effect, and each command says what became of it.
        assert_ne!(
            approve.status.success(),
            reject.status.success(),
            "round {round}: approve {:?} / reject {:?}",
            String::from_utf8_lossy(&approve.stderr),
            String::from_utf8_lossy(&reject.stderr)
        );
        assert_eq!(in_ledger, approve.status.success(), "round {round}");
        if !in_ledger {
            // Rejected: resubmitting it waits again (a rejection is not a ban).
            let again = cose(srv.addr, &st);
            assert_eq!(again.status, 202, "{}", again.text());
            w.ok(&["reject", &id]);
        }
    }
}

/// Review 14, finding 5: `serve --publish DIR` to a destination publish refuses (one others can
/// change) does not start, instead of acknowledging commits while the published copy stays
/// behind.
#[test]
fn a_writing_server_whose_first_publication_fails_does_not_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let (w, _, _) = acme_world();
    let public = w.path("public");
    std::fs::create_dir(&public).unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = w
        .cmd()
        .args([
            "serve",
            "--writable",
            "--listen",
            "127.0.0.1:0",
            "--publish",
            &s(&public),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("publishing when the server starts"), "{err}");
    assert!(!public.join("checkpoint").exists());
}
