//! Every `--json` output validates against its JSON Schema in `schemas/`, and the embedded
//! norms catalogue against `schemas/norms.schema.json`.

mod common;

use common::{check_schema, schema, verify_proof_args, World};

#[test]
fn every_json_output_matches_its_schema() {
    let w = World::new();
    let demo = w.path("demo");
    w.ok(&["demo", "--dir", demo.to_str().unwrap()]);
    let l = demo.join("ledger");
    let l = l.to_str().unwrap();
    let list = w.ok(&["--ledger", l, "list", "--json"]);
    // Eleven made locally and one submitted to the demo's service.
    assert_eq!(list.matches("\"statement_id\"").count(), 12);
    check_schema("list.schema.json", &list);
    for i in 0..12 {
        check_schema(
            "entry.schema.json",
            &w.ok(&["--ledger", l, "show", &i.to_string(), "--json"]),
        );
    }
    check_schema("status.schema.json", &w.ok(&["--ledger", l, "status", "--json"]));
    check_schema(
        "status.schema.json",
        &w.ok(&["--ledger", l, "status", "--all", "--json"]),
    );
    let vkey = w.ok(&["--ledger", l, "ledger-key"]).trim().to_string();
    check_schema(
        "verify.schema.json",
        &w.ok(&["--ledger", l, "verify", "--ledger-key", &vkey, "--json"]),
    );
    let p = w.path("p.json");
    w.ok(&[
        "--ledger",
        l,
        "prove",
        "3",
        "--json",
        "--since",
        "2",
        "--out",
        p.to_str().unwrap(),
    ]);
    check_schema("bundle.schema.json", &std::fs::read_to_string(&p).unwrap());
    let c = w.path("c.json");
    w.ok(&[
        "--ledger",
        l,
        "consistency",
        "--from",
        "3",
        "--json",
        "--out",
        c.to_str().unwrap(),
    ]);
    check_schema("consistency.schema.json", &std::fs::read_to_string(&c).unwrap());
    let vkey = w.ok(&["--ledger", l, "ledger-key"]).trim().to_string();
    let state = w.path("vp-state");
    for f in [&p, &c] {
        check_schema(
            "verify-proof.schema.json",
            &w.ok(&verify_proof_args(f, &vkey, &state, &["--json"])),
        );
    }
    let t = w.path("p.tlog");
    w.ok(&[
        "--ledger",
        l,
        "prove",
        "3",
        "--format",
        "tlog-proof",
        "--out",
        t.to_str().unwrap(),
    ]);
    check_schema(
        "verify-proof.schema.json",
        &w.ok(&verify_proof_args(&t, &vkey, &state, &["--json"])),
    );
    let x = w.path("x.export");
    w.ok(&["--ledger", l, "export", "--out", x.to_str().unwrap()]);
    check_schema(
        "verify.schema.json",
        &w.ok(&[
            "verify",
            "--file",
            x.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--json",
        ]),
    );
}

#[test]
fn embedded_catalogue_matches_its_schema() {
    check_schema("norms.schema.json", accord::norms::CATALOGUE_V1_JSON);
}

#[test]
fn schemas_reject_what_they_should() {
    // A schema that accepted anything would make the test above worthless.
    let v = schema("status.schema.json");
    assert!(!v.is_valid(&serde_json::json!([{"index": 1}])));
    assert!(!v.is_valid(&serde_json::json!({})));
    let v = schema("list.schema.json");
    assert!(!v.is_valid(
        &serde_json::json!([{"index": 0, "kind": "bogus", "org": "x", "statement_id": "00",
        "logged_at": "x", "issued_at": "x", "kid": "00"}])
    ));
}
