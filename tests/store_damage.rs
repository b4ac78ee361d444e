//! Damaged stores are found, never passed: bytes of ledger.redb flipped, zeroed or truncated at
//! many seeded positions. `accord verify` either fails (exit 1, naming an entry, table,
//! checkpoint, "store damaged" or a rollback) or, when it succeeds, the ledger's content is
//! exactly what it was (the change hit free space). It never panics. Also: read-only ledgers
//! still serve verify, list, status and prove; concurrent writers queue or fail cleanly.

mod common;

use common::{attest_args, json, xorshift, World};

fn ledger20() -> World {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme Corp");
    let b = w.register("beta", "Beta GmbH");
    for i in 0..9 {
        w.attest(&a, &["no-backdoors"], &format!("A{i}"));
        w.attest(&b, &["patch-all-customers"], &format!("B{i}"));
    }
    w
}

/// What the ledger says, to compare before and after.
fn content(w: &World) -> Option<String> {
    let l = w.run(&["list", "--json"]);
    let c = w.run(&["checkpoint"]);
    let s = w.run(&["status", "--all", "--json"]);
    (l.code == 0 && c.code == 0 && s.code == 0).then(|| format!("{}{}{}", l.stdout, c.stdout, s.stdout))
}

#[test]
fn damaged_files_are_found_never_passed() {
    let w = ledger20();
    let db = w.ledger().join("ledger.redb");
    let pristine = std::fs::read(&db).unwrap();
    let original = content(&w).unwrap();
    w.ok(&["verify"]);
    let mut seed = 0xdead_beef_cafe_f00du64;
    let (mut failed, mut passed_unchanged) = (0, 0);
    for round in 0..120 {
        let mut bytes = pristine.clone();
        let pos = (xorshift(&mut seed) % bytes.len() as u64) as usize;
        match round % 4 {
            0 => bytes[pos] ^= 1 << (xorshift(&mut seed) % 8),
            1 => bytes[pos] = 0,
            2 => {
                let end = (pos + 64).min(bytes.len());
                bytes[pos..end].iter_mut().for_each(|b| *b = 0);
            }
            _ => bytes.truncate(pos),
        }
        std::fs::write(&db, &bytes).unwrap();
        // A fresh state dir each time: damage must be found on its own, not by the state.
        let st = w.path(&format!("st{round}"));
        let o = w.run(&["verify", "--state", st.to_str().unwrap()]);
        assert!(
            !o.stderr.contains("panicked") && o.code != 101,
            "round {round}: panic: {}",
            o.stderr
        );
        if o.code == 0 {
            assert_eq!(
                content(&w).as_deref(),
                Some(original.as_str()),
                "round {round}: verify passed on changed content"
            );
            passed_unchanged += 1;
        } else {
            assert!(matches!(o.code, 1 | 2), "round {round}: exit {}", o.code);
            assert!(
                o.stderr.lines().any(|l| l.starts_with("error: ")),
                "round {round}: {}",
                o.stderr
            );
            failed += 1;
        }
    }
    std::fs::write(&db, &pristine).unwrap();
    w.ok(&["verify"]);
    eprintln!("damaged: {failed} refused, {passed_unchanged} verified with unchanged content (free space)");
    // Most damage lands in free space or in what redb's repair (run by a reader of a file a
    // writer left unclean) rolls back; what matters is above: never a pass on changed content.
    // The count only shows that real refusals are exercised (16 of 120 with SingleWriter opens).
    assert!(failed > 10, "only {failed} of 120 damaged copies were refused");
}

#[cfg(unix)]
#[test]
fn read_only_ledgers_still_serve_reads() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = ledger20();
    let dir = w.ledger();
    let db = dir.join("ledger.redb");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    w.ok(&["verify", "--state", w.path("st").to_str().unwrap()]);
    w.ok(&["list"]);
    w.ok(&["status"]);
    w.ok(&["prove", "3", "--out", w.path("p").to_str().unwrap()]);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn concurrent_writers_queue_or_fail_cleanly() {
    let w = World::new();
    w.init();
    let keys: Vec<_> = (0..4)
        .map(|i| w.register(&format!("org{i}"), &format!("Org {i}")))
        .collect();
    let handles: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            // Five appends by this organisation, run one after the other on a thread of its own.
            let appends: Vec<_> = (0..5)
                .map(|n| {
                    let mut c = w.std_cmd();
                    c.args(attest_args(k, &["no-backdoors"], &format!("{i}-{n}")));
                    c
                })
                .collect();
            std::thread::spawn(move || {
                let mut ok = 0;
                for mut c in appends {
                    let o = c.output().unwrap();
                    match o.status.code() {
                        Some(0) => ok += 1,
                        Some(2) => assert!(String::from_utf8_lossy(&o.stderr).contains("in use")),
                        other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&o.stderr)),
                    }
                }
                ok
            })
        })
        .collect();
    let successes: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    w.ok(&["verify"]);
    let list = json(&w, &["list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 4 + successes);
    assert!(
        successes >= 10,
        "only {successes} of 20 concurrent appends succeeded despite waiting"
    );
}
