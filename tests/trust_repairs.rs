//! Regression tests for the trust repairs of issue 10: each test is named for the way accord
//! could be made to say something false, and goes through the real binary where the fault was
//! seen there.

mod common;

use accord::statement::normalise_org;
use common::{
    acme_with_recovery, attestation, force_append, force_append_version, read_json, registration, rotation,
    s, signed, sk, verify_args, verify_names, verify_proof_args, write_json, World, ORIGIN,
};

#[test]
fn rotating_to_the_committed_recovery_key_is_refused() {
    let (w, a, rec) = acme_with_recovery();
    let cp = w.checkpoint();
    let o = w.run(&["key", "rotate", "--key", &s(&a), "--new", &s(&rec)]);
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("committed recovery key"), "{}", o.stderr);
    w.unchanged(&cp);
    // The same rotation signed offline and given to `append` is refused by the ledger rule.
    let st = rotation("acme", &sk(&a), &sk(&rec), accord::clock::now());
    let f = w.path("rot.cose");
    std::fs::write(&f, st.bytes()).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("committed recovery key"), "{e}");
    w.unchanged(&cp);
}

#[test]
fn a_forced_rotation_to_the_recovery_key_fails_verify() {
    let (w, a, rec) = acme_with_recovery();
    let i = force_append(
        &w,
        rotation("acme", &sk(&a), &sk(&rec), accord::clock::now()).bytes(),
    );
    verify_names(&w, i, "committed recovery key");
}

#[test]
fn a_registration_committing_to_its_own_key_as_recovery_is_refused() {
    let w = World::new();
    w.init();
    let a = sk(&w.key("acme"));
    let reg = signed(
        registration("Acme", a.public(), Some(a.public().kid())),
        "acme",
        &a,
    );
    let cp = w.checkpoint();
    let f = w.path("reg.cose");
    std::fs::write(&f, reg.bytes()).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("committed recovery key"), "{e}");
    w.unchanged(&cp);
    let i = force_append(&w, reg.bytes());
    verify_names(&w, i, "committed recovery key");
}

/// Acme registered with a recovery key and two genuine pledges (entries 1 and 2); then a thief
/// with Acme's key withdrew one (3) and superseded the other (4) and revoked Acme's key (5);
/// then Acme recovered with a compromise time before the thief's statements (6). Returns the
/// world and the time just before the recovery.
fn stolen_key_then_recovery() -> (World, String) {
    use common::{now_rfc3339, tick};
    let (w, a, rec) = acme_with_recovery(); // 0
    let ap = a.to_str().unwrap();
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    w.attest(&a, &["patch-all-customers"], "Acme Mail"); // 2
    tick();
    let since = now_rfc3339();
    tick();
    // The thief, holding Acme's key.
    w.withdraw(&a, "1", "no longer"); // 3
    w.ok(&[
        "attest",
        "--key",
        ap,
        "--norm",
        "patch-all-customers",
        "--scope",
        "nothing",
        "--supersedes",
        "2",
    ]); // 4
    w.ok(&["key", "revoke", "--key", ap, "--reason", "thief locks Acme out"]); // 5
    tick();
    let before_recovery = now_rfc3339();
    tick();
    let n1 = w.key("acme-new");
    let next = w.key("acme-rec-2");
    w.recover(&rec, &n1, &next, Some(&since), "key stolen"); // 6
    (w, before_recovery)
}

#[test]
fn statements_made_untrusted_by_a_recovery_have_no_effect() {
    use common::{json, live, states};
    let (w, before_recovery) = stolen_key_then_recovery();
    // Now: both genuine pledges are live again; the thief's statements are untrusted.
    assert_eq!(
        states(&w, &[]),
        vec![(1, "live".into()), (2, "live".into()), (4, "untrusted".into())]
    );
    assert_eq!(live(&w), vec![1, 2]);
    // Before the recovery, the ledger said what the thief made it say.
    let then = states(&w, &["--at", &before_recovery]);
    assert_eq!(
        then,
        vec![
            (1, "withdrawn".into()),
            (2, "superseded".into()),
            (4, "untrusted".into())
        ]
    );
    // verify agrees, and checks the derived tables (live, ended, untrusted, keys) that the
    // custodian's append path wrote against its own replay.
    let v = json(&w, &["verify", "--json"]);
    assert_eq!(v["untrusted"], serde_json::json!([3, 4, 5]));
    assert_eq!(v["live_attestations"], 2);
    // The revocation was void: the recovery ended Acme's first key, not the thief's revocation.
    let h = json(&w, &["history", "--org", "Acme", "--json"]);
    let rec = h.as_array().unwrap().iter().find(|e| e["index"] == 6).unwrap();
    assert_eq!(rec["key_change"]["ends"].as_array().unwrap().len(), 1, "{rec}");
    // A genuine withdrawal of a pledge the thief had withdrawn is accepted now.
    w.withdraw(&w.key_file("acme-new"), "1", "retired");
    w.ok(&["verify"]);
}

#[test]
fn verify_file_lists_untrusted_entries_from_the_one_read_of_a_pipe() {
    let (w, _) = stolen_key_then_recovery();
    let vkey = w.ledger_key();
    let f = w.export("l.export");
    let bytes = std::fs::read(&f).unwrap();
    // Through standard input: one read, and the untrusted entries are listed from it.
    let o = w
        .cmd()
        .args(["verify", "--file", "-", "--ledger-key", &vkey, "--json"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["untrusted"], serde_json::json!([3, 4, 5]));
}

/// Rewrites an export file with entry `index` replaced by what `f` makes of it.
fn rewrite_export(path: &std::path::Path, index: u64, f: impl Fn(&mut accord::entry::Entry)) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = std::io::Cursor::new(&bytes);
    let h = accord::export::read_header(&mut r).unwrap();
    let header_end = r.position() as usize;
    let mut out = bytes[..header_end].to_vec();
    accord::export::for_each_entry(&mut r, h.size, |i, mut b| {
        if i == index {
            let mut e = accord::entry::Entry::decode(&b).unwrap();
            f(&mut e);
            b = e.encode().unwrap();
        }
        let n = b.len();
        out.extend_from_slice(&[0x59, (n >> 8) as u8, n as u8]);
        out.extend_from_slice(&b);
        Ok::<_, accord::verdict::VerifyError>(())
    })
    .unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn verify_file_names_the_first_bad_entry_whatever_the_state_remembers() {
    let w = World::new();
    let vkey = w.init();
    let a = w.register("acme", "Acme"); // 0
    for i in 1..24 {
        w.attest(&a, &["no-backdoors"], &format!("product {i}"));
    }
    // The state remembers the checkpoint of size 24.
    let state = w.path("st");
    w.ok(&verify_args(&vkey, &state, &[]));
    for i in 24..30 {
        w.attest(&a, &["no-backdoors"], &format!("product {i}"));
    }
    let f = w.export("l.export");
    for damaged in [22u64, 23, 24] {
        let g = w.path(&format!("bad-{damaged}.export"));
        std::fs::copy(&f, &g).unwrap();
        rewrite_export(&g, damaged, |e| e.prev = [7; 32]);
        for st in [Some(&state), None] {
            let mut args = vec!["verify", "--file", g.to_str().unwrap(), "--ledger-key", &vkey];
            let other = w.path("empty-state");
            args.extend(["--state", st.unwrap_or(&other).to_str().unwrap()]);
            let e = w.fails(1, &args);
            assert!(e.contains(&format!("entry {damaged}:")), "{damaged} {st:?}: {e}");
            assert!(!e.contains("missing"), "{damaged} {st:?}: {e}");
        }
    }
}

/// A small genuine ledger and its export: (world, vkey, export path).
fn exported() -> (World, String, std::path::PathBuf) {
    let w = World::new();
    let vkey = w.init();
    let a = w.register("acme", "Acme");
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    w.attest(&a, &["patch-all-customers"], "Acme Mail");
    let f = w.export("l.export");
    (w, vkey, f)
}

/// `import FILE --ledger-key VKEY --ledger MIRROR`.
fn import_args<'a, F: AsRef<std::path::Path> + ?Sized>(
    file: &'a F,
    vkey: &'a str,
    mirror: &'a std::path::Path,
) -> Vec<&'a str> {
    let (file, mirror) = (file.as_ref().to_str().unwrap(), mirror.to_str().unwrap());
    vec!["import", file, "--ledger-key", vkey, "--ledger", mirror]
}

#[test]
fn import_commits_exactly_the_bytes_it_verified() {
    let (w, vkey, f) = exported();
    let genuine = std::fs::read(&f).unwrap();
    // The forgery: the genuine header, then entries changed (a custodian's signature would not
    // cover them; only a second, unchecked read could let them in).
    let forged = w.path("forged.export");
    std::fs::copy(&f, &forged).unwrap();
    rewrite_export(&forged, 2, |e| e.logged_at += 1);
    let forged = std::fs::read(&forged).unwrap();
    // A named pipe that serves the genuine export to its first reader and the forgery to any
    // later one (after a pause, so that the first reader has seen the end of its stream).
    let fifo = w.path("pipe.export");
    let st = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let p = fifo.clone();
    std::thread::spawn(move || {
        use std::io::Write as _;
        let mut first = true;
        loop {
            let Ok(mut pipe) = std::fs::OpenOptions::new().write(true).open(&p) else {
                return;
            };
            let _ = pipe.write_all(if first { &genuine } else { &forged });
            drop(pipe);
            first = false;
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    });
    let mirror = w.path("mirror");
    w.ok(&import_args(&fifo, &vkey, &mirror));
    // The mirror holds the genuine ledger: it verifies, and has the custodian's checkpoint.
    w.ok(&["verify", "--ledger-key", &vkey, "--ledger", &s(&mirror)]);
    assert_eq!(w.ok(&["checkpoint", "--ledger", &s(&mirror)]), w.checkpoint());
    let show = |l: &std::path::Path| w.ok(&["show", "2", "--json", "--ledger", l.to_str().unwrap()]);
    assert_eq!(show(&mirror), show(&w.ledger()));
}

#[test]
fn a_failed_import_leaves_the_mirror_as_it_was_even_when_new() {
    let (w, vkey, f) = exported();
    let bad = w.path("bad.export");
    std::fs::copy(&f, &bad).unwrap();
    rewrite_export(&bad, 2, |e| e.logged_at += 1);
    let mirror = w.path("mirror");
    let e = w.fails(1, &import_args(&bad, &vkey, &mirror));
    assert!(e.contains("entry 2") || e.contains("checkpoint"), "{e}");
    assert!(
        !mirror.exists(),
        "a failed first import left {}",
        mirror.display()
    );
    // An existing, empty directory stays, empty.
    std::fs::create_dir(&mirror).unwrap();
    w.fails(1, &import_args(&bad, &vkey, &mirror));
    assert_eq!(std::fs::read_dir(&mirror).unwrap().count(), 0);
    // The genuine export, from standard input, then builds the mirror.
    let o = w
        .cmd()
        .args(import_args("-", &vkey, &mirror))
        .write_stdin(std::fs::read(&f).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cp = w.ok(&["checkpoint", "--ledger", &s(&mirror)]);
    // A later failed import (a tampered, larger export) leaves it unchanged.
    w.attest(&w.key_file("acme"), &["no-backdoors"], "Acme Phone");
    let g = w.export("newer.export");
    rewrite_export(&g, 3, |e| e.logged_at += 1);
    w.fails(1, &import_args(&g, &vkey, &mirror));
    assert_eq!(w.ok(&["checkpoint", "--ledger", &s(&mirror)]), cp);
    w.ok(&["verify", "--ledger-key", &vkey, "--ledger", &s(&mirror)]);
}

/// A signature line by the same key name and id as `line`, over something else.
fn bad_twin(line: &str) -> String {
    use base64::Engine as _;
    let (head, b64) = line.rsplit_once(' ').unwrap();
    let mut raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    format!("{head} {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

#[test]
fn a_checkpoint_with_a_bad_second_line_of_the_ledger_key_is_refused_in_any_order() {
    let (w, vkey, _) = exported();
    let v = read_json(&w.prove(2, "p0.json", &["--json"]));
    let note = v["checkpoint"].as_str().unwrap().to_string();
    let (text, sigs) = note.rsplit_once("\n\n").unwrap();
    let good = sigs.trim_end_matches('\n');
    assert_eq!(good.lines().count(), 1);
    let bad = bad_twin(good);
    let state = w.path("st");
    for sigs in [format!("{good}\n{bad}\n"), format!("{bad}\n{good}\n")] {
        let mut v = v.clone();
        v["checkpoint"] = serde_json::Value::String(format!("{text}\n\n{sigs}"));
        let f = w.path("p.json");
        let _ = std::fs::remove_file(&f);
        write_json(&f, &v);
        let e = w.fails(1, &verify_proof_args(&f, &vkey, &state, &[]));
        assert!(e.contains("does not verify"), "{e}");
    }
}

#[cfg(unix)]
#[test]
fn a_planted_temporary_symlink_in_the_state_directory_is_never_written_through() {
    use std::os::unix::fs::PermissionsExt as _;
    let (w, vkey, f) = exported();
    let state = w.path("st");
    w.ok(&verify_args(&vkey, &state, &["--file", &s(&f)]));
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "state directory created with mode {mode:o}");
    // Plant symlinks under every temporary name the old code used, pointing at a victim file.
    let victim = w.path("victim");
    std::fs::write(&victim, "precious").unwrap();
    for e in std::fs::read_dir(&state).unwrap() {
        let p = e.unwrap().path();
        std::os::unix::fs::symlink(&victim, p.with_extension("tmp")).unwrap();
    }
    w.attest(&w.key_file("acme"), &["no-backdoors"], "Acme Phone");
    w.ok(&verify_args(&vkey, &state, &[]));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // A state directory that others can write is refused, with exit 2 and a way out.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = w.fails(2, &verify_args(&vkey, &state, &[]));
    assert!(
        e.contains("writable by other users") && e.contains("chmod 700"),
        "{e}"
    );
}

#[test]
fn a_tlog_proof_written_by_prove_is_read_by_verify_proof() {
    let (w, vkey, _) = exported();
    let f = w.path("p.tlog");
    let out = w.ok(&["prove", "2", "--format", "tlog-proof", "--out", &s(&f)]);
    // The check command prove prints works as printed.
    let cmd = out
        .lines()
        .find_map(|l| l.strip_prefix("check it with: accord "))
        .unwrap();
    let args: Vec<&str> = cmd.split(' ').collect();
    let mut args = args.clone();
    let state = w.path("st");
    args.extend(["--state", state.to_str().unwrap()]);
    let o = w.ok(&args);
    assert!(o.contains("OK: entry 2") && o.contains("NOT checked"), "{o}");
    let j = common::json(&w, &[&args[..], &["--json"]].concat());
    assert_eq!(j["type"], "tlog-proof");
    assert_eq!(j["leaf_index"], 2);
    // Without the extra line, the entry can be given with --entry.
    let text = std::fs::read_to_string(&f).unwrap();
    let extra = text.lines().nth(1).unwrap().strip_prefix("extra ").unwrap();
    use base64::Engine as _;
    let entry = base64::engine::general_purpose::STANDARD.decode(extra).unwrap();
    let bare = text.replace(&format!("extra {extra}\n"), "");
    let g = w.path("bare.tlog");
    std::fs::write(&g, &bare).unwrap();
    let e = w.fails(1, &verify_proof_args(&g, &vkey, &state, &[]));
    assert!(e.contains("--entry"), "{e}");
    let ef = w.path("entry.bin");
    std::fs::write(&ef, &entry).unwrap();
    let with_entry = ["--entry", ef.to_str().unwrap()];
    w.ok(&verify_proof_args(&g, &vkey, &state, &with_entry));
    // Another entry's bytes are not included at that index.
    let mut other = entry.clone();
    let n = other.len();
    other[n - 1] ^= 1;
    std::fs::write(&ef, &other).unwrap();
    let e = w.fails(1, &verify_proof_args(&g, &vkey, &state, &with_entry));
    assert!(e.contains("inclusion proof"), "{e}");
}

#[test]
fn a_bundle_says_it_relies_on_the_custodian_for_one_registration_per_name() {
    // Whoever holds the ledger key signs a tree that extends the genuine one with a second
    // registration of "Acme" under a key of their own, and an attestation by it.
    let (w, vkey, _) = exported();
    let state = w.path("st");
    w.ok(&verify_args(&vkey, &state, &[]));
    let mallory = sk(&w.key("mallory"));
    let reg = signed(registration("Acme", mallory.public(), None), "acme", &mallory);
    force_append(&w, reg.bytes());
    let att = signed(attestation("everything", None), "acme", &mallory);
    let i = force_append(&w, att.bytes());
    let f = w.prove(i, "forged.proof", &["--since", "3"]);
    // The bundle cannot show the second registration is against the rules: it verifies, and
    // says in text and JSON what it relies on and how to check it.
    let o = w.ok(&verify_proof_args(&f, &vkey, &state, &[]));
    assert!(
        o.contains("relies on the custodian") && o.contains("one registration per name"),
        "{o}"
    );
    assert!(o.contains("accord verify"), "{o}");
    let j = common::json(&w, &verify_proof_args(&f, &vkey, &state, &["--json"]));
    assert!(
        j["relies_on_custodian"]
            .as_str()
            .unwrap()
            .contains("one registration per name"),
        "{j}"
    );
    // The full ledger shows the forgery.
    let e = w.fails(1, &verify_args(&vkey, &state, &[]));
    assert!(e.contains("entry 3") && e.contains("already registered"), "{e}");
}

/// Issue 10, finding 5: sixteen distinct organisations that all displayed as "contoso ltd".
#[test]
fn sixteen_names_that_display_as_contoso_ltd_are_refused() {
    let w = World::new();
    w.init();
    w.register("contoso", "Contoso Ltd"); // 0
    let cp = w.checkpoint();
    let looks_alike = [
        "Contoso\u{200b} Ltd",   // ZWSP
        "Con\u{200d}toso Ltd",   // ZWJ
        "Contoso\u{2060} Ltd",   // word joiner
        "\u{feff}Contoso Ltd",   // BOM
        "Conto\u{00ad}so Ltd",   // soft hyphen
        "Contoso\u{034f} Ltd",   // combining grapheme joiner
        "Contoso\u{180e} Ltd",   // Mongolian vowel separator
        "Contoso Ltd\u{e0041}",  // tag character
        "Contoso\u{3164}Ltd",    // Hangul filler
        "Contoso\u{00a0}Ltd",    // NBSP
        "Contoso\u{3000}Ltd",    // ideographic space
        "Contoso  Ltd",          // a double space
        "Ｃｏｎｔｏｓｏ Ｌｔｄ", // fullwidth letters
        "\u{0421}ontoso Ltd",    // Cyrillic capital Es
        "C0NTOSO LTD",           // digit zero
        "CONTOSO LTD",           // upper case (the same iss)
    ];
    for (i, name) in looks_alike.iter().enumerate() {
        let k = w.key(&format!("k{i}"));
        let e = w.fails(1, &["register", "--key", k.to_str().unwrap(), "--org", name]);
        assert!(
            e.contains("looks like \"Contoso Ltd\", registered at entry 0")
                || e.contains("name refused")
                || e.contains("already registered"),
            "{name:?}: {e}"
        );
    }
    w.unchanged(&cp);
    // A name that merely shares letters is not refused.
    w.register("contoso-labs", "Contoso Labs");
    // The same registration forced into the ledger by a custodian is found by verify.
    let k = sk(&w.key("forced"));
    let name = "\u{0421}ontoso Ltd";
    let reg = signed(
        registration(name, k.public(), None),
        &normalise_org(name).unwrap(),
        &k,
    );
    let i = force_append(&w, reg.bytes());
    verify_names(&w, i, "looks like \"Contoso Ltd\"");
}

/// A version-1 ledger keeps verifying under the rules it was written under; version-2 entries
/// after it are held to the new rules, and the version never steps back.
#[test]
fn rules_versions_apply_per_entry_and_never_decrease() {
    let w = World::new();
    w.init();
    let k = sk(&w.key("old"));
    let old_name = "Contoso\u{200b} Ltd";
    let reg = signed(
        registration(old_name, k.public(), None),
        &normalise_org(old_name).unwrap(),
        &k,
    );
    force_append_version(&w, reg.bytes(), 1); // 0: allowed under rules version 1
    w.ok(&["verify"]);
    // Its comparison key was recorded: a version-2 "Contoso Ltd" looks like it.
    let c = w.key("contoso");
    let e = w.fails(
        1,
        &["register", "--key", c.to_str().unwrap(), "--org", "Contoso Ltd"],
    );
    assert!(
        e.contains("looks like") && e.contains("registered at entry 0"),
        "{e}"
    );
    w.register("acme", "Acme"); // 1, version 2
                                // A version-1 entry after a version-2 one is refused by verify.
    let m = sk(&w.key("m"));
    let reg = signed(registration("Mallory", m.public(), None), "mallory", &m);
    let i = force_append_version(&w, reg.bytes(), 1);
    verify_names(&w, i, "never decreases");
}

#[test]
fn a_ledger_key_inside_the_ledger_directory_is_refused() {
    let w = World::new();
    let inside = w.ledger().join("ledger.key");
    let e = w.fails(
        2,
        &["init", "--origin", ORIGIN, "--key-file", inside.to_str().unwrap()],
    );
    assert!(e.contains("outside the ledger's data"), "{e}");
    assert!(!inside.exists() && !w.ledger().join("ledger.redb").exists());
}
