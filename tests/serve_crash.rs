//! Issue 14: `accord serve --writable` killed with SIGKILL at random moments while concurrent
//! clients submit loses no statement it acknowledged; a restarted server serves exactly what
//! was acknowledged (and perhaps statements whose answer the kill cut off, never half of one),
//! and the ledger verifies after every kill.

mod common;
mod publog;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{attestation, signed, sk, xorshift, World};
use publog::*;

/// POSTs `statement`; the answer's index, or `None` when the connection failed or no answer
/// came (the server was killed).
fn submit(addr: std::net::SocketAddr, statement: &[u8]) -> Option<(u16, u64)> {
    use std::io::Write as _;
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let head = format!(
        "POST /entries HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
        statement.len()
    );
    c.write_all(head.as_bytes()).ok()?;
    c.write_all(statement).ok()?;
    let r = read_response(&mut std::io::BufReader::new(c), false).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&r.content()).ok()?;
    Some((r.status, v["index"].as_u64()?))
}

/// Statement ids the server acknowledged, with the index each was given.
type Acknowledged = Vec<([u8; 32], u64)>;

#[test]
fn a_server_killed_under_load_loses_nothing_it_acknowledged() {
    let w = World::new();
    let vkey = w.init();
    let acme = w.register("acme", "Acme");
    let key = sk(&acme);
    // Every statement id the server acknowledged, with the index it gave.
    let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
    let mut seed = 0x5eed_cafe_u64;
    let rounds = 8;
    let mut killed_mid_load = 0;
    for round in 0..rounds {
        let mut srv = Served::start(&w, &["--writable", "--submit-rate", "1000000"]);
        let addr = srv.addr;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (ack, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
                let statements: Vec<_> = (0..40)
                    .map(|i| signed(attestation(&format!("r{round}-t{t}-{i}"), None), "acme", &key))
                    .collect();
                std::thread::spawn(move || {
                    for st in statements {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        match submit(addr, st.bytes()) {
                            Some((201 | 200, index)) => ack.lock().unwrap().push((st.id(), index)),
                            Some((status, _)) => panic!("unexpected status {status}"),
                            None => break,
                        }
                    }
                })
            })
            .collect();
        // Let the load run a random while, then kill the server where it stands.
        std::thread::sleep(Duration::from_millis(50 + xorshift(&mut seed) % 400));
        let status = srv.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        if std::os::unix::process::ExitStatusExt::signal(&status) == Some(9) {
            killed_mid_load += 1;
        }
        // After the kill: every acknowledged statement is there, at the index given.
        let list: serde_json::Value = serde_json::from_str(&w.ok(&["list", "--json"])).unwrap();
        let held: BTreeSet<(String, u64)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["statement_id"].as_str().unwrap().to_string(),
                    e["index"].as_u64().unwrap(),
                )
            })
            .collect();
        for (id, index) in acknowledged.lock().unwrap().iter() {
            assert!(
                held.contains(&(hex::encode(id), *index)),
                "round {round}: acknowledged {} at {index} is not in the ledger",
                hex::encode(id)
            );
        }
        w.ok(&["verify", "--ledger-key", &vkey]);
    }
    let n = acknowledged.lock().unwrap().len();
    eprintln!("{n} statements acknowledged over {rounds} kills ({killed_mid_load} mid-load)");
    assert!(n > 0, "nothing was acknowledged: the test tested nothing");
    assert!(
        killed_mid_load >= rounds / 2,
        "the server was rarely killed mid-load"
    );
}
