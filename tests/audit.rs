//! Audit commands end to end: prove at several sizes, consistency proofs, exports verified
//! with no database, and mirrors built and extended only by consistent exports.

mod common;

use common::World;

fn ledger_with(w: &World, attestations: usize) -> (String, std::path::PathBuf) {
    let vkey = w.init();
    let k = w.register("acme", "Acme Corp");
    for i in 0..attestations {
        w.attest(&k, &["no-backdoors"], &format!("Product {i}"));
    }
    (vkey, k)
}

fn p(w: &World, name: &str) -> String {
    w.path(name).to_str().unwrap().to_string()
}

#[test]
fn prove_every_entry_at_every_checkpoint() {
    let w = World::new();
    let (vkey, _) = ledger_with(&w, 5);
    let state = p(&w, "st");
    for size in 1..=6u64 {
        for i in 0..size {
            let f = p(&w, &format!("p{i}-{size}"));
            w.ok(&[
                "prove",
                &i.to_string(),
                "--at-size",
                &size.to_string(),
                "--out",
                &f,
            ]);
            // A fresh state per size so older sizes are not judged against newer ones.
            let st = format!("{state}{size}");
            let out = w.ok(&["verify-proof", &f, "--ledger-key", &vkey, "--state", &st]);
            assert!(out.contains(&format!("at checkpoint size {size}")), "{out}");
        }
    }
    let e = w.fails(2, &["prove", "3", "--at-size", "2", "--out", &p(&w, "x")]);
    assert!(e.contains("not in the checkpoint of size 2"), "{e}");
}

#[test]
fn sizes_without_a_checkpoint_name_the_nearest() {
    let w = World::new();
    let (_, k) = ledger_with(&w, 1);
    // Two statements in one group commit: size 3 has no checkpoint, size 4 has.
    for (n, f) in ["a.cose", "b.cose"].iter().enumerate() {
        w.ok(&[
            "sign",
            "--key",
            k.to_str().unwrap(),
            "--org",
            "Acme Corp",
            "--norm",
            "no-backdoors",
            "--scope",
            &format!("G{n}"),
            "--out",
            &p(&w, f),
        ]);
    }
    w.ok(&["append", &p(&w, "a.cose"), &p(&w, "b.cose")]);
    let e = w.fails(2, &["prove", "0", "--at-size", "3", "--out", &p(&w, "x")]);
    assert!(
        e.contains("no signed checkpoint of size 3") && e.contains("2 and 4"),
        "{e}"
    );
    let e = w.fails(2, &["consistency", "--from", "3", "--out", &p(&w, "y")]);
    assert!(e.contains("2 and 4"), "{e}");
}

#[test]
fn consistency_proofs_and_remembered_checkpoints() {
    let w = World::new();
    let (vkey, k) = ledger_with(&w, 2);
    let st = p(&w, "state");
    let b1 = p(&w, "b1");
    w.ok(&["prove", "1", "--out", &b1]);
    w.ok(&["verify-proof", &b1, "--ledger-key", &vkey, "--state", &st]); // remembers size 3
    w.attest(&k, &["no-offensive-aid"], "Later");
    // A newer bundle without a consistency proof from size 3 is refused...
    let b2 = p(&w, "b2");
    w.ok(&["prove", "1", "--out", &b2]);
    let e = w.fails(1, &["verify-proof", &b2, "--ledger-key", &vkey, "--state", &st]);
    assert!(e.contains("--since 3"), "{e}");
    // ... and accepted with one, which advances the state.
    let b3 = p(&w, "b3");
    w.ok(&["prove", "1", "--since", "3", "--out", &b3]);
    let out = w.ok(&["verify-proof", &b3, "--ledger-key", &vkey, "--state", &st]);
    assert!(
        out.contains("consistent with") || out.contains("extends") || out.contains("size 3"),
        "{out}"
    );
    w.ok(&["verify-proof", &b2, "--ledger-key", &vkey, "--state", &st]);
    // A consistency proof file, CBOR and JSON.
    for (f, json) in [("c.cbor", false), ("c.json", true)] {
        let mut a = vec!["consistency", "--from", "2", "--out"];
        let path = p(&w, f);
        a.push(&path);
        if json {
            a.push("--json");
        }
        w.ok(&a);
        let out = w.ok(&["verify-proof", &path, "--ledger-key", &vkey, "--state", &st]);
        assert!(out.contains("extends its earlier tree of size 2"), "{out}");
    }
}

#[test]
fn exports_verify_without_a_database_and_build_mirrors() {
    let w = World::new();
    let (vkey, k) = ledger_with(&w, 2);
    let x1 = p(&w, "x1.export");
    w.ok(&["export", "--out", &x1]);
    let e = w.fails(2, &["export", "--out", &x1]);
    assert!(e.contains("already exists"), "{e}");
    let out = w.ok(&[
        "verify",
        "--file",
        &x1,
        "--ledger-key",
        &vkey,
        "--state",
        &p(&w, "s1"),
    ]);
    assert!(out.contains("3 entries"), "{out}");
    // Mirror from the first export; status and prove work there.
    let mirror = p(&w, "mirror");
    w.ok(&["--ledger", &mirror, "import", &x1, "--ledger-key", &vkey]);
    let st: serde_json::Value =
        serde_json::from_str(&w.ok(&["--ledger", &mirror, "status", "--json"])).unwrap();
    assert_eq!(st.as_array().unwrap().len(), 2);
    w.ok(&["--ledger", &mirror, "prove", "2", "--out", &p(&w, "mp")]);
    w.ok(&[
        "verify-proof",
        &p(&w, "mp"),
        "--ledger-key",
        &vkey,
        "--state",
        &p(&w, "s2"),
    ]);
    // The mirror is read-only.
    let e = w.fails(
        2,
        &[
            "--ledger",
            &mirror,
            "attest",
            "--key",
            k.to_str().unwrap(),
            "--norm",
            "no-backdoors",
            "--scope",
            "X",
        ],
    );
    assert!(e.contains("read-only mirror"), "{e}");
    // A later export extends it.
    w.attest(&k, &["no-offensive-aid"], "Later");
    let x2 = p(&w, "x2.export");
    w.ok(&["export", "--out", &x2]);
    let out = w.ok(&["--ledger", &mirror, "import", &x2, "--ledger-key", &vkey]);
    assert!(out.contains("now 4 entries (was 3)"), "{out}");
    w.ok(&[
        "--ledger",
        &mirror,
        "verify",
        "--ledger-key",
        &vkey,
        "--state",
        &p(&w, "s3"),
    ]);
    // Importing the older export again is a rollback; a forked export is refused.
    let e = w.fails(1, &["--ledger", &mirror, "import", &x1, "--ledger-key", &vkey]);
    assert!(e.contains("ROLLBACK"), "{e}");
    let other = World::new();
    let (ovkey, _) = ledger_with(&other, 3);
    let xo = other.path("o.export");
    other.ok(&["export", "--out", xo.to_str().unwrap()]);
    let e = w.fails(
        2,
        &[
            "--ledger",
            &mirror,
            "import",
            xo.to_str().unwrap(),
            "--ledger-key",
            &ovkey,
        ],
    );
    assert!(e.contains("another ledger key"), "{e}");
    // With the wrong key, the export itself fails to verify.
    let e = w.fails(
        1,
        &[
            "verify",
            "--file",
            xo.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            &p(&w, "s4"),
        ],
    );
    assert!(e.contains("checkpoint"), "{e}");
}

#[test]
fn tlog_proof_format() {
    let w = World::new();
    let (_, _) = ledger_with(&w, 1);
    let f = p(&w, "t.tlog-proof");
    w.ok(&["prove", "1", "--format", "tlog-proof", "--out", &f]);
    let text = std::fs::read_to_string(&f).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
    // The entry bytes ride in the spec's optional `extra` line (FORMAT.md section 8).
    assert!(lines.next().unwrap().starts_with("extra "));
    assert_eq!(lines.next(), Some("index 1"));
    assert!(text.contains("\n\ntest.example/ledger\n2\n"), "{text}");
}
