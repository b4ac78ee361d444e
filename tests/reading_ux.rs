//! Issue 12, "what a first-time user tripped over", on the reading side: each finding pinned
//! through the real binary. `show` of a key change prints what it did; names as registered
//! wherever a person reads one; `prove` warns about an entry no longer in force and
//! `verify-proof --json` carries what its text shows; `-` for standard output and input;
//! `export --force` replaces atomically; `accord checkpoints`, also on a mirror; `consistency`
//! says what it wrote; an older file is a snapshot (exit 3), an older ledger a rollback (exit
//! 1); an unknown organisation or norm exits 2 everywhere.

mod common;

use std::path::Path;

use common::*;

/// A ledger where "Contoso Ltd" (domain contoso.example, key `contoso`) registered (entry 0)
/// and attested `no-backdoors` for "Cloud" (1) and "Mail" (2): (world, vkey, key).
fn contoso() -> (World, String, std::path::PathBuf) {
    let w = World::new();
    let vkey = w.init();
    let k = w.key("contoso");
    let mut reg = register_args(k.to_str().unwrap(), "Contoso Ltd", None);
    reg.extend(["--domain", "contoso.example"]);
    w.ok(&reg);
    w.attest(&k, &["no-backdoors"], "Cloud");
    w.attest(&k, &["no-backdoors", "patch-all-customers"], "Mail");
    (w, vkey, k)
}

/// Runs accord with `args` and `input` on standard input.
fn run_with_stdin(w: &World, args: &[&str], input: &[u8]) -> Out {
    let o = w.cmd().args(args).write_stdin(input.to_vec()).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs accord with `args`, requires exit 0, returns standard output as bytes.
fn ok_bytes(w: &World, args: &[&str]) -> Vec<u8> {
    let o = w.cmd().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "accord {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Names of the files in `dir`.
fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// 1. `show` of a rotation, revocation or recovery prints what it did.

/// The hex key id of the key file `k` (its `.pub`).
fn kid(k: &Path) -> String {
    hex(&accord::keyfile::read_public_key(&k.with_extension("pub"))
        .unwrap()
        .kid())
}

#[test]
fn show_prints_what_a_rotation_and_a_revocation_did() {
    let (w, _vkey, a) = acme_with_attestations(1);
    let a2 = w.key("acme-2");
    w.rotate(&a, &a2); // 2
    let (k1, k2) = (kid(&a), kid(&a2));
    let show = w.ok(&["show", "2"]);
    assert!(show.contains(&format!("ends keys:    {k1}")), "{show}");
    assert!(show.contains(&format!("installs key: {k2}")), "{show}");
    // What --json says.
    let j = json(&w, &["show", "2", "--json"]);
    assert_eq!(j["key_change"]["ends"][0], k1.as_str());
    assert_eq!(j["key_change"]["installs"], k2.as_str());

    w.ok(&revoke_args(&a2, None, "laptop lost")); // 3
    let show = w.ok(&["show", "3"]);
    assert!(show.contains(&format!("ends keys:    {k2}")), "{show}");
    assert!(show.contains("reason:       laptop lost"), "{show}");
    assert!(!show.contains("installs key"), "{show}");
}

#[test]
fn show_prints_what_a_recovery_did_and_untrusted_marks_stay() {
    let (w, a, rec) = acme_with_recovery();
    let t0 = json(&w, &["show", "0", "--json"])["logged_at"]
        .as_str()
        .unwrap()
        .to_string();
    tick();
    w.attest(&a, &["no-backdoors"], "Cloud"); // 1, logged after t0
    let new = w.key("acme-new");
    let next = w.key("acme-rec-2");
    w.recover(&rec, &new, &next, Some(&t0), "key stolen"); // 2
    let show = w.ok(&["show", "2"]);
    assert!(show.contains(&format!("ends keys:    {}", kid(&a))), "{show}");
    assert!(show.contains(&format!("installs key: {}", kid(&new))), "{show}");
    assert!(show.contains("reason:       key stolen"), "{show}");
    assert!(show.contains(&format!("compromised:  since {t0}")), "{show}");
    let j = json(&w, &["show", "2", "--json"]);
    assert_eq!(j["key_change"]["compromised_since"], t0.as_str());
    assert_eq!(j["key_change"]["reason"], "key stolen");
    // Untrusted entries keep their mark in show, list and history.
    let mark = "UNTRUSTED (recovery at entry 2)";
    assert!(w.ok(&["show", "1"]).contains(mark));
    assert!(w.ok(&["list"]).contains(mark));
    assert!(w.ok(&["history", "--org", "acme"]).contains(mark));
    // And prove says the proof is of an entry not to be relied on.
    let o = w.run(&["prove", "1", "--out", &w.path_str("p1")]);
    assert!(
        o.stderr
            .contains("warning: entry 1 is untrusted (the recovery at entry 2"),
        "{}",
        o.stderr
    );
}

#[test]
fn show_of_a_recovery_without_a_compromise_time_says_so() {
    let (w, _a, rec) = acme_with_recovery();
    let new = w.key("acme-new");
    let next = w.key("acme-rec-2");
    w.recover(&rec, &new, &next, None, "key lost"); // 1
    let show = w.ok(&["show", "1"]);
    assert!(show.contains("compromised:  not reported"), "{show}");
}

// ---------------------------------------------------------------------------------------------
// 2. Names as registered, wherever a person reads one.

#[test]
fn history_and_status_are_headed_by_the_name_as_registered() {
    let (w, _vkey, _k) = contoso();
    let h = w.ok(&["history", "--org", "contoso ltd"]);
    let first = h.lines().next().unwrap();
    assert!(
        first.starts_with("Contoso Ltd (contoso.example, self-asserted)"),
        "{h}"
    );
    assert!(first.contains("3 entries"), "{h}");
    for v in json(&w, &["history", "--org", "CONTOSO LTD", "--json"])
        .as_array()
        .unwrap()
    {
        assert_eq!(v["org"], "contoso ltd");
        assert_eq!(v["org_name"], "Contoso Ltd");
    }
    let st = w.ok(&["status", "--org", "contoso ltd"]);
    assert!(
        st.lines()
            .next()
            .unwrap()
            .starts_with("Contoso Ltd (contoso.example, self-asserted): live attestations at "),
        "{st}"
    );
    // A known organisation with nothing to show: exit 0, the name in the message.
    w.init_other_org("Fabrikam");
    let o = w.run(&["status", "--org", "fabrikam"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("Fabrikam (self-asserted, no domain) has no live attestations"),
        "{}",
        o.stderr
    );
    let o = w.run(&["list", "--org", "fabrikam", "--norm", "no-backdoors"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

trait OtherOrg {
    fn init_other_org(&self, name: &str);
}

impl OtherOrg for World {
    /// Registers `name` with a new key of the same name, lower-cased.
    fn init_other_org(&self, name: &str) {
        self.register(&name.to_lowercase().replace(' ', "-"), name);
    }
}

#[test]
fn verify_proof_names_the_organisation_as_registered() {
    let (w, vkey, _k) = contoso();
    let p = w.prove(2, "p2", &[]);
    let state = w.path("vstate");
    let text = w.ok(&verify_proof_args(&p, &vkey, &state, &[]));
    assert!(text.contains("(attestation by Contoso Ltd)"), "{text}");
    assert!(
        text.contains("spoke for Contoso Ltd (contoso.example, self-asserted)"),
        "{text}"
    );
    assert!(!text.contains("\"contoso ltd\""), "{text}");
    let j: serde_json::Value =
        serde_json::from_str(&w.ok(&verify_proof_args(&p, &vkey, &state, &["--json"]))).unwrap();
    assert_eq!(j["org"], "contoso ltd");
    assert_eq!(j["org_name"], "Contoso Ltd");
    assert_eq!(j["domain"], "contoso.example");
    // A tlog-proof carries no registration: the name is known only for the registration.
    let t = w.prove(0, "t0", &["--format", "tlog-proof"]);
    let j: serde_json::Value =
        serde_json::from_str(&w.ok(&verify_proof_args(&t, &vkey, &state, &["--json"]))).unwrap();
    assert_eq!(j["org_name"], "Contoso Ltd");
    check_schema("verify-proof.schema.json", &serde_json::to_string(&j).unwrap());
    let t = w.prove(1, "t1", &["--format", "tlog-proof"]);
    let out = w.run(&verify_proof_args(&t, &vkey, &state, &["--json"]));
    check_schema("verify-proof.schema.json", &out.stdout);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(j["org_name"].is_null());
}

// ---------------------------------------------------------------------------------------------
// 13. An unknown organisation or norm exits 2 in status, list and history alike.

#[test]
fn unknown_organisation_or_norm_exits_2_with_close_names() {
    let (w, _vkey, _k) = contoso();
    w.init_other_org("Contoso Group");
    for cmd in ["status", "list", "history"] {
        let e = w.fails(2, &[cmd, "--org", "Contosa Ltd"]);
        assert!(
            e.contains("no organisation \"Contosa Ltd\" is registered"),
            "{cmd}: {e}"
        );
        assert!(
            e.contains("hint: registered names close to it: \"Contoso Ltd\""),
            "{cmd}: {e}"
        );
        assert!(e.contains("accord orgs"), "{cmd}: {e}");
        // Nothing close: the hint says where the names are.
        let e = w.fails(2, &[cmd, "--org", "Northwind Traders"]);
        assert!(
            e.contains("hint: accord orgs lists the registered organisations"),
            "{cmd}: {e}"
        );
    }
    // A prefix finds every name it starts.
    let e = w.fails(2, &["list", "--org", "contoso"]);
    assert!(e.contains("\"Contoso Group\""), "{e}");
    assert!(e.contains("\"Contoso Ltd\""), "{e}");
    for cmd in ["status", "list"] {
        let e = w.fails(2, &[cmd, "--norm", "no-backdors"]);
        assert!(e.contains("did you mean \"no-backdoors\""), "{cmd}: {e}");
        assert!(e.contains("hint: accord norms lists the catalogue"), "{cmd}: {e}");
    }
    // Known, with nothing to show: exit 0.
    w.ok(&["list", "--norm", "no-offensive-aid"]);
    w.ok(&["status", "--norm", "no-offensive-aid"]);
}

#[test]
fn help_lists_exit_code_3() {
    let w = World::new();
    let h = w.ok(&["--help"]);
    assert!(
        h.contains("3  the data is valid but trust is not yet established"),
        "{h}"
    );
    assert!(h.contains("statement the ledger's rules refuse"), "{h}");
}

// ---------------------------------------------------------------------------------------------
// 4. `prove` warns about an entry no longer in force; `verify-proof --json` carries its norms.

#[test]
fn prove_warns_about_a_withdrawn_or_superseded_entry() {
    let (w, vkey, k) = contoso();
    w.withdraw(&k, "1", "product retired"); // 3
    let id2 = json(&w, &["show", "2", "--json"])["statement_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sup = attest_args(&k, &["no-backdoors"], "Mail");
    sup.extend(["--supersedes", &id2]);
    w.ok(&sup); // 4
    let o = w.run(&["prove", "1", "--out", &w.path_str("p1")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "warning: entry 1 was withdrawn by entry 3: a proof of it proves it was pledged, not that it is in force"
        ),
        "{}",
        o.stderr
    );
    let o = w.run(&["prove", "2", "--out", &w.path_str("p2")]);
    assert!(
        o.stderr.contains("warning: entry 2 was superseded by entry 4"),
        "{}",
        o.stderr
    );
    // An entry in force: no warning.
    let o = w.run(&["prove", "4", "--out", &w.path_str("p4")]);
    assert!(!o.stderr.contains("warning"), "{}", o.stderr);
    // The proofs still verify.
    w.ok(&verify_proof_args(&w.path("p1"), &vkey, &w.path("vs"), &[]));
}

#[test]
fn verify_proof_json_carries_norms_and_scope() {
    let (w, vkey, _k) = contoso();
    let p = w.prove(2, "p2", &[]);
    let state = w.path("vstate");
    let out = w.ok(&verify_proof_args(&p, &vkey, &state, &["--json"]));
    check_schema("verify-proof.schema.json", &out);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        j["norms"],
        serde_json::json!(["no-backdoors", "patch-all-customers"])
    );
    assert_eq!(j["scope"], serde_json::json!(["Mail"]));
    assert!(j["expires"].is_null());
    assert_eq!(j["summary"], "attests no-backdoors, patch-all-customers for Mail");
    let text = w.ok(&verify_proof_args(&p, &vkey, &state, &[]));
    assert!(
        text.contains("attests no-backdoors, patch-all-customers for Mail"),
        "{text}"
    );
    // Not an attestation: no norms, no scope.
    let p0 = w.prove(0, "p0", &[]);
    let j: serde_json::Value =
        serde_json::from_str(&w.ok(&verify_proof_args(&p0, &vkey, &state, &["--json"]))).unwrap();
    assert!(j["norms"].is_null() && j["scope"].is_null(), "{j}");
    assert_eq!(j["summary"], "registers \"Contoso Ltd\"");
}

// ---------------------------------------------------------------------------------------------
// 8. `-` is standard output for every --out and standard input for every input file; export
// over an existing file needs --force and then replaces it atomically.

#[test]
fn dash_writes_to_standard_output_and_reads_standard_input() {
    let (w, vkey, _k) = contoso();
    let state = w.path("vstate");
    let state = state.to_str().unwrap();
    // prove --out -: the bundle on stdout, the report on stderr; verify-proof - reads it.
    let o = w
        .cmd()
        .args(["prove", "2", "--json", "--out", "-"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let bundle = o.stdout;
    check_schema("bundle.schema.json", std::str::from_utf8(&bundle).unwrap());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("to standard output"), "{err}");
    assert!(
        err.contains("check it with: accord verify-proof - --ledger-key"),
        "{err}"
    );
    let v = run_with_stdin(
        &w,
        &["verify-proof", "-", "--ledger-key", &vkey, "--state", state],
        &bundle,
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(v.stdout.contains("OK: entry 2"), "{}", v.stdout);
    // The CBOR form goes to a pipe as well (only a terminal is refused), byte for byte as to a
    // file.
    let cbor = ok_bytes(&w, &["prove", "2", "--out", "-"]);
    let f = w.prove(2, "p2.cbor", &[]);
    assert_eq!(cbor, std::fs::read(&f).unwrap());
    let v = run_with_stdin(
        &w,
        &["verify-proof", "-", "--ledger-key", &vkey, "--state", state],
        &cbor,
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    // A consistency proof.
    let c = ok_bytes(&w, &["consistency", "--from", "1", "--out", "-"]);
    let v = run_with_stdin(
        &w,
        &["verify-proof", "-", "--ledger-key", &vkey, "--state", state],
        &c,
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stdout.contains("extends its earlier tree of size 1"),
        "{}",
        v.stdout
    );
    // An export, byte for byte as to a file, and verify --file - reads it.
    let x = ok_bytes(&w, &["export", "--out", "-"]);
    let xf = w.export("x.export");
    assert_eq!(x, std::fs::read(&xf).unwrap());
    let v = run_with_stdin(
        &w,
        &["verify", "--file", "-", "--ledger-key", &vkey, "--state", state],
        &x,
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(v.stdout.contains("export standard input"), "{}", v.stdout);
    // A tlog-proof with its entry: both cannot come from standard input.
    let e = w.fails(
        2,
        &[
            "verify-proof",
            "-",
            "--ledger-key",
            &vkey,
            "--entry",
            "-",
            "--state",
            state,
        ],
    );
    assert!(e.contains("cannot both be read from standard input"), "{e}");
}

#[test]
fn export_over_an_existing_file_needs_force_and_replaces_atomically() {
    let (w, vkey, k) = contoso();
    let dir = w.path("pub");
    std::fs::create_dir(&dir).unwrap();
    let f = dir.join("ledger.export");
    let fs = f.to_str().unwrap();
    w.ok(&["export", "--out", fs]);
    let before = std::fs::read(&f).unwrap();
    w.attest(&k, &["no-offensive-aid"], "Cloud");
    let e = w.fails(2, &["export", "--out", fs]);
    assert!(e.contains("already exists"), "{e}");
    assert!(e.contains("hint: add --force to replace it"), "{e}");
    assert_eq!(std::fs::read(&f).unwrap(), before, "refused, yet changed");
    // The same for the other files a command writes.
    let p = w.path_str("pub/ledger.export");
    let e = w.fails(2, &["prove", "1", "--out", &p]);
    assert!(e.contains("--force"), "{e}");
    let e = w.fails(2, &["consistency", "--from", "1", "--out", &p]);
    assert!(e.contains("--force"), "{e}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
    // With --force: replaced, and the new export verifies; no temporary file is left.
    let out = w.ok(&["export", "--out", fs, "--force"]);
    assert!(out.contains("exported 4 entries"), "{out}");
    assert_ne!(std::fs::read(&f).unwrap(), before);
    assert_eq!(files_in(&dir), ["ledger.export"]);
    let state = w.path("vstate");
    w.ok(&verify_args(&vkey, &state, &["--file", fs]));
    // A reader who opened the old file keeps reading the old file (a rename, not a rewrite).
    #[cfg(unix)]
    {
        use std::io::Read as _;
        let mut old = std::fs::File::open(&f).unwrap();
        let first = std::fs::read(&f).unwrap();
        w.attest(&k, &["no-offensive-aid"], "Mail");
        w.ok(&["export", "--out", fs, "--force"]);
        let mut seen = Vec::new();
        old.read_to_end(&mut seen).unwrap();
        assert_eq!(seen, first);
        assert_ne!(std::fs::read(&f).unwrap(), first);
    }
    // A failed export leaves neither a file nor a temporary one.
    let gone = w.path("gone/ledger.export");
    let e = w.fails(2, &["export", "--out", gone.to_str().unwrap()]);
    assert!(e.contains("gone"), "{e}");
    assert_eq!(files_in(&dir), ["ledger.export"]);
}

#[test]
fn help_says_what_dash_and_force_do() {
    let w = World::new();
    for cmd in ["export", "consistency", "prove"] {
        let h = w.ok(&[cmd, "--help"]);
        assert!(h.contains("standard output"), "{cmd}: {h}");
        assert!(h.contains("--force"), "{cmd}: {h}");
        assert!(h.contains("atomically"), "{cmd}: {h}");
    }
    let h = w.ok(&["verify-proof", "--help"]);
    assert!(h.contains("standard input"), "{h}");
    assert!(h.contains("exits 3"), "{h}");
    let h = w.ok(&["verify", "--help"]);
    assert!(h.contains("exits 3"), "{h}");
    let h = w.ok(&["status", "--help"]);
    assert!(h.contains("exit 2"), "{h}");
    let h = w.ok(&["checkpoints", "--help"]);
    assert!(h.contains("log time of the last entry"), "{h}");
}

// ---------------------------------------------------------------------------------------------
// 10. `accord checkpoints`, and a mirror keeps every checkpoint it imported.

#[test]
fn checkpoints_lists_every_checkpoint_with_its_time_and_root() {
    let (w, _vkey, _k) = contoso();
    let text = w.ok(&["checkpoints"]);
    assert!(text.contains("log time of the last entry"), "{text}");
    let out = w.ok(&["checkpoints", "--json"]);
    check_schema("checkpoints.schema.json", &out);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cps = j.as_array().unwrap();
    assert_eq!(
        cps.iter()
            .map(|c| c["size"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(cps[0]["logged_at"].is_null() && cps[0]["time_of_entry"].is_null());
    for c in &cps[1..] {
        let last = c["size"].as_u64().unwrap() - 1;
        assert_eq!(c["time_of_entry"], last);
        let shown = json(&w, &["show", &last.to_string(), "--json"]);
        assert_eq!(c["logged_at"], shown["logged_at"]);
        assert!(text.contains(c["root"].as_str().unwrap()), "{text}");
    }
    // The root of the latest is the one `checkpoint` prints (its note says it in base64).
    let note = w.checkpoint();
    let b64 = note.lines().nth(2).unwrap();
    let root = cps[3]["root"].as_str().unwrap();
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    assert_eq!(hex(&raw), root);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_mirror_made_by_two_imports_proves_consistency_from_either() {
    let (w, vkey, k) = contoso();
    let x1 = w.export("x1.export");
    w.attest(&k, &["no-offensive-aid"], "Cloud");
    w.attest(&k, &["no-offensive-aid"], "Mail");
    let x2 = w.export("x2.export");
    let mirror = w.path_str("mirror");
    w.ok(&[
        "--ledger",
        &mirror,
        "import",
        x1.to_str().unwrap(),
        "--ledger-key",
        &vkey,
    ]);
    w.ok(&[
        "--ledger",
        &mirror,
        "import",
        x2.to_str().unwrap(),
        "--ledger-key",
        &vkey,
    ]);
    let cps = json(&w, &["--ledger", &mirror, "checkpoints", "--json"]);
    check_schema("checkpoints.schema.json", &cps.to_string());
    let sizes: Vec<u64> = cps
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [3, 5]);
    // The mirror's roots are the custodian's.
    let custodian = json(&w, &["checkpoints", "--json"]);
    for c in cps.as_array().unwrap() {
        let s = c["size"].as_u64().unwrap() as usize;
        assert_eq!(c["root"], custodian[s]["root"]);
        assert_eq!(c["logged_at"], custodian[s]["logged_at"]);
    }
    let c = w.path_str("mc.proof");
    let out = w.ok(&["--ledger", &mirror, "consistency", "--from", "3", "--out", &c]);
    assert!(out.contains("from checkpoint size 3 to size 5"), "{out}");
    w.ok(&verify_proof_args(Path::new(&c), &vkey, &w.path("vs"), &[]));
    // A size the mirror never imported: the error points at `accord checkpoints`.
    let e = w.fails(
        2,
        &[
            "--ledger",
            &mirror,
            "consistency",
            "--from",
            "4",
            "--out",
            &w.path_str("m4"),
        ],
    );
    assert!(e.contains("no signed checkpoint of size 4"), "{e}");
    assert!(e.contains("hint: accord checkpoints"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// 11. `consistency` prints what it wrote and the command to check it.

#[test]
fn consistency_says_what_it_wrote_and_how_to_check_it() {
    let (w, vkey, _k) = contoso();
    let f = w.path_str("c.proof");
    let out = w.ok(&["consistency", "--from", "1", "--out", &f]);
    assert!(
        out.contains(&format!(
            "wrote a consistency proof from checkpoint size 1 to size 3 to {f}"
        )),
        "{out}"
    );
    let check = out
        .lines()
        .find_map(|l| l.strip_prefix("check it with: accord "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(check.contains(&vkey), "{out}");
    // The command works as printed (split on spaces: the test's paths have none).
    let vs = w.path_str("vs");
    let mut args: Vec<&str> = check.split(' ').collect();
    args.extend(["--state", &vs]);
    let o = w.ok(&args);
    assert!(o.contains("extends its earlier tree of size 1"), "{o}");
}

// ---------------------------------------------------------------------------------------------
// 12. A file older than the remembered checkpoint is a snapshot: exit 3; an older ledger in
// place is a rollback: exit 1.

#[test]
fn an_older_export_bundle_or_consistency_file_is_valid_but_exits_3() {
    let (w, vkey, k) = contoso();
    let old_export = w.export("old.export");
    let old_bundle = w.prove(1, "old.proof", &[]);
    let old_cons = w.consistency(1, "old.cons", &[]);
    let old_tlog = w.prove(1, "old.tlog", &["--format", "tlog-proof"]);
    w.attest(&k, &["no-offensive-aid"], "Cloud");
    w.attest(&k, &["no-offensive-aid"], "Mail");
    let new_export = w.export("new.export");
    let state = w.path("auditor");
    // The auditor checks the newer export first, then an archived older one.
    w.ok(&verify_args(
        &vkey,
        &state,
        &["--file", new_export.to_str().unwrap()],
    ));
    let remembered = std::fs::read_dir(&state).unwrap().count();
    let want = "valid, but older than the checkpoint of size 5 remembered; consistency not checked";
    let o = w.run(&verify_args(
        &vkey,
        &state,
        &["--file", old_export.to_str().unwrap()],
    ));
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains(want), "{}", o.stdout);
    assert!(o.stdout.starts_with("VALID: export"), "{}", o.stdout);
    assert!(o.stderr.starts_with("warning: "), "{}", o.stderr);
    assert!(
        !o.stderr.contains("ROLLBACK") && !o.stderr.contains("error:"),
        "{}",
        o.stderr
    );
    let o = w.run(&verify_args(
        &vkey,
        &state,
        &["--file", old_export.to_str().unwrap(), "--json"],
    ));
    assert_eq!(o.code, 3);
    check_schema("verify.schema.json", &o.stdout);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["older_than_remembered"], true);
    assert_eq!(j["remembered_size"], 5);
    assert_eq!(j["entries"], 3);
    // From standard input too.
    let o = run_with_stdin(
        &w,
        &verify_args(&vkey, &state, &["--file", "-"]),
        &std::fs::read(&old_export).unwrap(),
    );
    assert_eq!(o.code, 3, "{}", o.stderr);
    // A bundle, a consistency file and a tlog-proof: the same.
    for f in [&old_bundle, &old_cons, &old_tlog] {
        let o = w.run(&verify_proof_args(f, &vkey, &state, &[]));
        assert_eq!(o.code, 3, "{}: {}\n{}", f.display(), o.stdout, o.stderr);
        assert!(o.stdout.contains(want), "{}", o.stdout);
        assert!(o.stdout.starts_with("VALID: "), "{}", o.stdout);
        let o = w.run(&verify_proof_args(f, &vkey, &state, &["--json"]));
        assert_eq!(o.code, 3, "{}", o.stderr);
        check_schema("verify-proof.schema.json", &o.stdout);
        let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(j["older_than_remembered"], true, "{j}");
        assert_eq!(j["remembered_size"], 5, "{j}");
    }
    // Nothing was forgotten or added: the newest checkpoint stays remembered.
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), remembered);
    assert_eq!(fork_evidence(&state), 0);
    let j: serde_json::Value = serde_json::from_str(&w.ok(&verify_args(
        &vkey,
        &state,
        &["--file", new_export.to_str().unwrap(), "--json"],
    )))
    .unwrap();
    assert_eq!(j["remembered"], "same checkpoint as last verified");
    assert_eq!(j["older_than_remembered"], false);
    assert_eq!(j["remembered_size"], 5);
}

#[test]
fn an_older_ledger_in_place_stays_a_rollback() {
    let (w, vkey, k) = contoso();
    let state = w.path("auditor");
    let snapshot = w.path("snapshot");
    std::fs::create_dir(&snapshot).unwrap();
    for e in std::fs::read_dir(w.ledger()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), snapshot.join(e.file_name())).unwrap();
    }
    w.attest(&k, &["no-offensive-aid"], "Cloud");
    w.ok(&verify_args(&vkey, &state, &[]));
    let e = w.fails(
        1,
        &[
            &["--ledger", snapshot.to_str().unwrap()][..],
            &verify_args(&vkey, &state, &[]),
        ]
        .concat(),
    );
    assert!(e.contains("ROLLBACK"), "{e}");
    // The in-place JSON says it is never "older": that is a rollback.
    let j: serde_json::Value = serde_json::from_str(&w.ok(&verify_args(&vkey, &state, &["--json"]))).unwrap();
    assert_eq!(j["older_than_remembered"], false);
    check_schema("verify.schema.json", &j.to_string());
}
