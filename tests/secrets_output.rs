//! Secrets: key files are created 0600 and refused when group- or world-readable, and no
//! command's output (success or error) contains any secret key made in the test.

mod common;

use common::World;

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn no_command_prints_a_secret_and_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let mut all = String::new();
    let mut run = |args: &[&str]| {
        let o = w.run(args);
        all.push_str(&o.stdout);
        all.push_str(&o.stderr);
        o
    };
    run(&["init", "--origin", "test.example/ledger"]);
    let keys = w.path("keys");
    let k = keys.to_str().unwrap();
    run(&["key", "generate", "acme", "--dir", k]);
    run(&["key", "generate", "acme2", "--dir", k]);
    run(&["key", "generate", "acme-rec", "--dir", k]);
    let acme = keys.join("acme.key");
    let a = acme.to_str().unwrap();
    let a2 = keys.join("acme2.key");
    let rec_pub = keys.join("acme-rec.pub");
    run(&[
        "register",
        "--key",
        a,
        "--org",
        "Acme",
        "--recovery-key",
        rec_pub.to_str().unwrap(),
    ]);
    run(&["attest", "--key", a, "--norm", "no-backdoors", "--scope", "X"]);
    let f = w.path("s.cose");
    run(&[
        "sign",
        "--key",
        a,
        "--org",
        "Acme",
        "--norm",
        "patch-all-customers",
        "--scope",
        "Y",
        "--out",
        f.to_str().unwrap(),
    ]);
    run(&["append", f.to_str().unwrap()]);
    run(&["withdraw", "--key", a, "--entry", "1", "--reason", "r"]);
    run(&["key", "rotate", "--key", a, "--new", a2.to_str().unwrap()]);
    run(&["verify"]);
    run(&["list"]);
    run(&["show", "0"]);
    run(&["status", "--all"]);
    run(&["history", "--org", "acme"]);
    run(&["prove", "1", "--out", w.path("p").to_str().unwrap()]);
    run(&["export", "--out", w.path("x").to_str().unwrap()]);
    run(&["checkpoint"]);
    run(&["ledger-key"]);
    // Error paths that touch secret files.
    run(&["attest", "--key", a, "--norm", "no-backdoors", "--scope", "Z"]); // ended key
    let bad = w.path("bad.key");
    let text = std::fs::read_to_string(&acme).unwrap();
    std::fs::write(&bad, &text[..text.len() - 3]).unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    run(&[
        "attest",
        "--key",
        bad.to_str().unwrap(),
        "--norm",
        "no-backdoors",
        "--scope",
        "Z",
    ]);
    std::fs::set_permissions(&acme, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&["attest", "--key", a, "--norm", "no-backdoors", "--scope", "Z"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("readable by group or others"), "{}", o.stderr);
    std::fs::set_permissions(&acme, std::fs::Permissions::from_mode(0o600)).unwrap();

    // The secrets made: every signatory seed and the ledger key.
    let mut secrets = Vec::new();
    for e in std::fs::read_dir(&keys).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "key") {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            let t = std::fs::read_to_string(&p).unwrap();
            secrets.push(t.trim().split(':').nth(1).unwrap().to_string());
        }
    }
    let lk = w.path("config/accord/ledgers/test.example_ledger.key");
    assert_eq!(mode(&lk), 0o600);
    let lt = std::fs::read_to_string(&lk).unwrap();
    secrets.push(lt.trim().splitn(5, '+').nth(4).unwrap().to_string());
    assert_eq!(secrets.len(), 4);
    for s in &secrets {
        assert!(s.len() >= 44);
        assert!(
            !all.contains(s.as_str()),
            "a secret key appears in command output"
        );
    }
    // A world-readable ledger key is refused when appending.
    std::fs::set_permissions(&lk, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = w.run(&[
        "attest",
        "--key",
        a2.to_str().unwrap(),
        "--norm",
        "no-backdoors",
        "--scope",
        "W",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("readable by group or others"), "{}", o.stderr);
}
