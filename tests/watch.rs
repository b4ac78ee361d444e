//! `accord watch URL|DIR` (issue 15, "watch your own name"), through the real binary: every
//! entry in a watched organisation's name and every registration of a close name reported
//! once, after the log verified; a rollback, a fork or invalid data exits 1 and is reported as
//! such; `--json` lines; `--exec` gets the finding in its environment and on standard input,
//! and no shell ever sees it.

mod common;
mod publog;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{check_schema, s, World};
use publog::{append_attestations, append_attestations_to, ledger_of, Served};
use serde_json::Value;

/// `publish DEST` (must succeed).
fn publish(w: &World, dest: &Path) {
    w.ok(&["publish", &s(dest)]);
}

/// `watch LOCATION --ledger-key VKEY --state STATE --org ORG... EXTRA...`.
fn watch_args<'a>(
    loc: &'a str,
    vkey: &'a str,
    state: &'a str,
    orgs: &[&'a str],
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut a = vec!["watch", loc, "--ledger-key", vkey, "--state", state];
    for o in orgs {
        a.extend(["--org", *o]);
    }
    a.extend_from_slice(extra);
    a
}

/// The JSON lines of a `watch --json` run: its findings and its summary (the last line), each
/// line checked against `schemas/watch.schema.json`.
fn lines(out: &str) -> (Vec<Value>, Value) {
    let mut all: Vec<Value> = out
        .lines()
        .map(|l| {
            check_schema("watch.schema.json", l);
            serde_json::from_str(l).unwrap()
        })
        .collect();
    let summary = all.pop().expect("a summary line");
    assert_eq!(summary["type"], "summary", "{out}");
    assert!(all.iter().all(|f| f["type"] == "finding"), "{out}");
    (all, summary)
}

/// (index, kind) of each finding.
fn found(findings: &[Value]) -> Vec<(u64, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f["index"].as_u64().unwrap(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn kinds(v: &[(u64, &str)]) -> Vec<(u64, String)> {
    v.iter().map(|(i, k)| (*i, k.to_string())).collect()
}

/// A copy of the world's ledger directory as it is now.
fn copy_ledger(w: &World, name: &str) -> PathBuf {
    let to = w.path(name);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(w.ledger()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

/// Every file under `dir`, relative path to bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    publog::files(dir)
}

/// Replaces the directory `dir` by a copy of `from`.
fn replace_dir(dir: &Path, from: &Path) {
    std::fs::remove_dir_all(dir).unwrap();
    for (rel, bytes) in files(from) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

#[test]
fn each_entry_of_the_org_is_reported_once_first_run_from_zero_then_only_what_is_new() {
    // Acme (org "Acme") at entry 0, its attestations at 1 and 2; Globex at 3 and 4.
    let (w, vkey, acme) = ledger_of(3);
    let globex = w.register("globex", "Globex");
    w.attest(&globex, &["no-backdoors"], "Globex Mail");
    let dest = w.path("pub");
    publish(&w, &dest);
    let state = w.path_str("st");
    let pub_ = s(&dest);
    let args = watch_args(&pub_, &vkey, &state, &["Acme"], &["--json"]);
    let (f, summary) = lines(&w.ok(&args));
    assert_eq!(
        found(&f),
        kinds(&[(0, "registration"), (1, "attestation"), (2, "attestation")])
    );
    assert!(
        f.iter().all(|f| f["org"] == "Acme" && f["iss"] == "acme"),
        "{f:?}"
    );
    assert_eq!(f[0]["name"], "Acme");
    assert_eq!(
        (summary["ok"].as_bool(), summary["findings"].as_u64()),
        (Some(true), Some(3))
    );
    assert_eq!(
        (summary["from"].as_u64(), summary["tree_size"].as_u64()),
        (Some(0), Some(5))
    );
    // Nothing new: nothing reported.
    let (f, summary) = lines(&w.ok(&args));
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(summary["findings"].as_u64(), Some(0));
    assert_eq!(summary["incremental_from"].as_u64(), Some(5), "{summary}");
    // New entries: only those in Acme's name (5, 6 and 8), not Globex's (7).
    append_attestations(&w, &acme, 2, "later");
    w.attest(&globex, &["no-backdoors"], "Globex Cloud");
    append_attestations(&w, &acme, 1, "last");
    publish(&w, &dest);
    let (f, summary) = lines(&w.ok(&args));
    assert_eq!(
        found(&f),
        kinds(&[(5, "attestation"), (6, "attestation"), (8, "attestation")])
    );
    assert_eq!(summary["from"].as_u64(), Some(5));
    // In text, one line per finding on standard output and nothing else; the summary is a note
    // (--quiet: nothing at all when nothing is new, for cron).
    append_attestations(&w, &acme, 1, "text");
    publish(&w, &dest);
    let o = w.run(&watch_args(&pub_, &vkey, &state, &["Acme"], &[]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    assert!(
        o.stdout
            .starts_with("entry 9: attestation: \"Acme\" attests no-backdoors for \"text 0\" with key "),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("1 finding"), "{}", o.stderr);
    let o = w.run(&watch_args(&pub_, &vkey, &state, &["Acme"], &["--quiet"]));
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    // --since N reports again from N; another set of names is another watch, from 0.
    let (f, _) = lines(&w.ok(&watch_args(
        &pub_,
        &vkey,
        &state,
        &["Acme"],
        &["--json", "--since", "8"],
    )));
    assert_eq!(found(&f), kinds(&[(8, "attestation"), (9, "attestation")]));
    let (f, _) = lines(&w.ok(&watch_args(&pub_, &vkey, &state, &["GLOBEX"], &["--json"])));
    assert_eq!(
        found(&f),
        kinds(&[(3, "registration"), (4, "attestation"), (7, "attestation")])
    );
    assert!(f.iter().all(|f| f["org"] == "GLOBEX"), "{f:?}");
    // The same log over HTTP (accord serve), with its own state: the same findings.
    let served = Served::start(&w, &[]);
    let url = served.url();
    let st2 = w.path_str("st2");
    let (f, _) = lines(&w.ok(&watch_args(&url, &vkey, &st2, &["Acme"], &["--json"])));
    assert_eq!(f.len(), 7, "{f:?}");
    assert_eq!(f[6]["index"].as_u64(), Some(9));
    assert_eq!(f[6]["source"], url.as_str());
}

#[test]
fn a_close_name_registered_by_another_is_reported_and_far_names_are_not() {
    let (w, vkey, _) = ledger_of(1);
    // "Acme"'s comparison key is "acrne" (m looks like rn): "Acne" is 1 edit from it,
    // "ACME Holdings" holds it; "Globex" is far.
    w.register("acne", "Acne");
    w.register("holdings", "ACME Holdings");
    w.register("globex", "Globex");
    w.register("ac", "Acrne Labs International");
    let dest = w.path("pub");
    publish(&w, &dest);
    let state = w.path_str("st");
    let pub_ = s(&dest);
    let (f, _) = lines(&w.ok(&watch_args(&pub_, &vkey, &state, &["Acme"], &["--json"])));
    assert_eq!(
        found(&f),
        kinds(&[
            (0, "registration"),
            (1, "close-name"),
            (2, "close-name"),
            (4, "close-name")
        ])
    );
    assert_eq!(
        (f[1]["name"].as_str(), f[1]["distance"].as_u64()),
        (Some("Acne"), Some(1))
    );
    assert_eq!(f[2]["name"], "ACME Holdings");
    assert_eq!(f[2]["distance"], Value::Null, "held, not within an edit distance");
    assert_eq!(f[1]["iss"], "acne");
    assert!(
        f[1]["summary"]
            .as_str()
            .unwrap()
            .contains("close to the watched \"Acme\""),
        "{}",
        f[1]["summary"]
    );
    // In text too.
    let out = w.ok(&watch_args(&pub_, &vkey, &w.path_str("st2"), &["Acme"], &[]));
    assert!(
        out.contains("entry 1: close-name: \"Acne\" registered with key"),
        "{out}"
    );
}

#[test]
fn a_rollback_a_fork_and_invalid_data_exit_1_and_are_reported_as_such() {
    let (w, vkey, acme) = ledger_of(3);
    let dest = w.path("pub");
    publish(&w, &dest);
    let early = w.path("early");
    std::fs::create_dir_all(&early).unwrap();
    replace_dir(&early, &dest);
    let forked = copy_ledger(&w, "forked");
    append_attestations(&w, &acme, 2, "main");
    append_attestations_to(&w, &forked, &acme, 3, "fork");
    publish(&w, &dest);
    let state = w.path_str("st");
    let pub_ = s(&dest);
    let args = watch_args(&pub_, &vkey, &state, &["Acme"], &["--json"]);
    let (f, _) = lines(&w.ok(&args));
    assert_eq!(f.len(), 5);
    let good = files(&dest);
    // The directory rolled back to size 3: exit 1, a rollback finding, and the state unchanged.
    replace_dir(&dest, &early);
    let o = w.run(&args);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("ROLLBACK"), "{}", o.stderr);
    let (f, summary) = lines(&o.stdout);
    assert_eq!(found(&f), kinds(&[(5, "rollback")]));
    assert!(f[0]["summary"].as_str().unwrap().contains("ROLLBACK"), "{}", f[0]);
    assert_eq!(
        (summary["ok"].as_bool(), summary["exit"].as_u64()),
        (Some(false), Some(1))
    );
    let text = w.run(&watch_args(&pub_, &vkey, &state, &["Acme"], &[]));
    assert_eq!(text.code, 1);
    assert!(text.stdout.starts_with("rollback: ROLLBACK: "), "{}", text.stdout);
    // A hook that fails on it does not hide it: still exit 1, the hook's failure said beside.
    let o = w.run(&watch_args(&pub_, &vkey, &state, &["Acme"], &["--exec", "false"]));
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("--exec false failed") && o.stderr.contains("ROLLBACK"),
        "{}",
        o.stderr
    );
    // A fork: the same key, another history from entry 3 on, published in its place.
    let forked_dir = w.path("forkpub");
    w.ok(&["--ledger", &s(&forked), "publish", &s(&forked_dir)]);
    replace_dir(&dest, &forked_dir);
    let o = w.run(&args);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("FORK"), "{}", o.stderr);
    let (f, _) = lines(&o.stdout);
    assert_eq!(found(&f), kinds(&[(5, "fork")]));
    // Invalid data: one byte of an entry bundle changed.
    let mut restored = good.clone();
    let bundle = restored.get_mut("tile/entries/000.p/5").unwrap();
    let at = bundle.len() - 3;
    bundle[at] ^= 1;
    write_files(&dest, &restored);
    let o = w.run(&args);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    let (f, _) = lines(&o.stdout);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["kind"], "invalid");
    // Restored: nothing was reported from the bad data or remembered; nothing is new.
    write_files(&dest, &good);
    let (f, summary) = lines(&w.ok(&args));
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(summary["tree_size"].as_u64(), Some(5));
}

fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    std::fs::remove_dir_all(dir).unwrap();
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// `--exec` passes the finding in its environment (NUL-separated as `env -0` prints it, read
/// back exactly) and on standard input; nothing in a name or a reason reaches a shell.
#[cfg(unix)]
#[test]
fn exec_gets_the_finding_in_env_and_stdin_and_no_shell_interprets_it() {
    let w = World::new();
    let vkey = w.init();
    // A name with a command substitution and backquotes; a reason with those and a line feed
    // (a name cannot hold a line feed: it is a control character).
    let name = "Evil $(touch pwned1) `touch pwned2` Corp";
    let key = w.register("evil", name);
    let reason = "gone $(touch pwned3)\n`touch pwned4`; touch pwned5";
    w.attest(&key, &["no-backdoors"], "x");
    w.withdraw(&key, "1", reason);
    let dest = w.path("pub");
    publish(&w, &dest);
    let hooks = w.path("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let prefix = s(&hooks.join("f"));
    let script = r#"env -0 > "$0.$ACCORD_FINDING_INDEX.env" && cat > "$0.$ACCORD_FINDING_INDEX.json""#;
    let state = w.path_str("st");
    let pub_ = s(&dest);
    // Arguments after --exec up to ';' are the program's; options may follow.
    let out = w.ok(&watch_args(
        &pub_,
        &vkey,
        &state,
        &[name],
        &["--exec", "sh", "-c", script, &prefix, ";", "--json"],
    ));
    let (f, _) = lines(&out);
    assert_eq!(
        found(&f),
        kinds(&[(0, "registration"), (1, "attestation"), (2, "withdrawal")])
    );
    for (i, line) in f.iter().enumerate() {
        let env = std::fs::read(hooks.join(format!("f.{i}.env"))).unwrap();
        let env: BTreeMap<String, String> = env
            .split(|b| *b == 0)
            .filter(|v| !v.is_empty())
            .filter_map(|v| {
                let v = String::from_utf8(v.to_vec()).unwrap();
                let (k, val) = v.split_once('=')?;
                Some((k.to_string(), val.to_string()))
            })
            .collect();
        assert_eq!(env["ACCORD_FINDING_INDEX"], i.to_string());
        assert_eq!(env["ACCORD_FINDING_KIND"], line["kind"].as_str().unwrap());
        assert_eq!(env["ACCORD_FINDING_ORG"], name, "exactly as given");
        assert_eq!(env["ACCORD_FINDING_SUMMARY"], line["summary"].as_str().unwrap());
        assert_eq!(env["ACCORD_FINDING_ISS"], name.to_lowercase());
        assert_eq!(env["ACCORD_FINDING_ORIGIN"], common::ORIGIN);
        assert_eq!(env["ACCORD_FINDING_TREE_SIZE"], "3");
        assert_eq!(env["ACCORD_FINDING_KEY_ID"], line["key_id"].as_str().unwrap());
        if i == 2 {
            assert_eq!(env["ACCORD_FINDING_REASON"], reason, "the line feed included");
        } else {
            assert!(!env.contains_key("ACCORD_FINDING_REASON"), "{env:?}");
        }
        if i == 0 {
            assert_eq!(env["ACCORD_FINDING_NAME"], name);
        }
        // Standard input: the finding's JSON line, as --json printed it.
        let stdin = std::fs::read_to_string(hooks.join(format!("f.{i}.json"))).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&stdin).unwrap(), *line);
    }
    // The summary is one line, the line feed escaped.
    assert!(
        f[2]["summary"]
            .as_str()
            .unwrap()
            .ends_with(r#""gone $(touch pwned3)\n`touch pwned4`; touch pwned5""#),
        "{}",
        f[2]["summary"]
    );
    for dir in [w.tmp.path(), hooks.as_path(), dest.as_path()] {
        for p in ["pwned1", "pwned2", "pwned3", "pwned4", "pwned5"] {
            assert!(!dir.join(p).exists(), "{p} was created in {}", dir.display());
        }
    }
}

/// A hook that fails stops the watch (exit 2); the next run reports again from the finding
/// it failed on, not before.
#[cfg(unix)]
#[test]
fn a_failing_hook_exits_2_and_the_next_run_reports_again_from_its_finding() {
    let (w, vkey, acme) = ledger_of(2);
    let dest = w.path("pub");
    publish(&w, &dest);
    let state = w.path_str("st");
    let pub_ = s(&dest);
    let (f, _) = lines(&w.ok(&watch_args(&pub_, &vkey, &state, &["Acme"], &["--json"])));
    assert_eq!(f.len(), 2);
    append_attestations(&w, &acme, 3, "new");
    publish(&w, &dest);
    // Fails on the second new finding (entry 3).
    let script = r#"test "$ACCORD_FINDING_INDEX" != 3"#;
    let o = w.run(&watch_args(
        &pub_,
        &vkey,
        &state,
        &["Acme"],
        &["--json", "--exec", "sh", "-c", script],
    ));
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("--exec sh failed"), "{}", o.stderr);
    let (f, summary) = lines(&o.stdout);
    assert_eq!(found(&f), kinds(&[(2, "attestation"), (3, "attestation")]));
    assert_eq!(summary["exit"].as_u64(), Some(2));
    let (f, _) = lines(&w.ok(&watch_args(&pub_, &vkey, &state, &["Acme"], &["--json"])));
    assert_eq!(found(&f), kinds(&[(3, "attestation"), (4, "attestation")]));
    // A program that cannot start: exit 2, and again the finding is kept for the next run.
    append_attestations(&w, &acme, 1, "more");
    publish(&w, &dest);
    let e = w.fails(
        2,
        &watch_args(&pub_, &vkey, &state, &["Acme"], &["--exec", "/nonexistent/hook"]),
    );
    assert!(e.contains("cannot start it"), "{e}");
    let (f, _) = lines(&w.ok(&watch_args(&pub_, &vkey, &state, &["Acme"], &["--json"])));
    assert_eq!(found(&f), kinds(&[(5, "attestation")]));
}

#[test]
fn the_ledger_key_and_a_name_are_required_and_the_state_is_checked() {
    let (w, vkey, _) = ledger_of(2);
    let dest = w.path("pub");
    publish(&w, &dest);
    let pub_ = s(&dest);
    let state = w.path_str("st");
    let e = w.fails(2, &["watch", &pub_, "--org", "Acme", "--state", &state]);
    assert!(e.contains("--ledger-key"), "{e}");
    // Without --org: clap's usage error (exit 2).
    let o = w.run(&["watch", &pub_, "--ledger-key", &vkey]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--org"), "{}", o.stderr);
    // A name no organisation can have (a line feed).
    let e = w.fails(2, &watch_args(&pub_, &vkey, &state, &["Acme\n$(touch x)"], &[]));
    assert!(e.contains("control characters"), "{e}");
    assert!(!w.path("x").exists());
    // A damaged watch state is refused (exit 2), never used in part; --since 0 starts over.
    w.ok(&watch_args(&pub_, &vkey, &state, &["Acme"], &[]));
    let file = std::fs::read_dir(w.path("st"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("watch-"))
        .expect("a watch state was written");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"reported_size\":2"), "{text}");
    std::fs::write(
        &file,
        text.replace("\"reported_size\":2", "\"reported_size\":\"2\""),
    )
    .unwrap();
    let e = w.fails(2, &watch_args(&pub_, &vkey, &state, &["Acme"], &[]));
    assert!(e.contains("cannot be used") && e.contains("--since"), "{e}");
    // Ahead of the remembered checkpoint: the state directory was changed.
    std::fs::write(&file, text.replace("\"reported_size\":2", "\"reported_size\":9")).unwrap();
    let e = w.fails(2, &watch_args(&pub_, &vkey, &state, &["Acme"], &[]));
    assert!(e.contains("no checkpoint that large is remembered"), "{e}");
    let (f, _) = lines(&w.ok(&watch_args(
        &pub_,
        &vkey,
        &state,
        &["Acme"],
        &["--json", "--since", "0"],
    )));
    assert_eq!(f.len(), 2);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("\"reported_size\":2"));
    // --since beyond the log.
    let e = w.fails(2, &watch_args(&pub_, &vkey, &state, &["Acme"], &["--since", "3"]));
    assert!(e.contains("the log has 2 entries"), "{e}");
    // Exit 2 when the log cannot be read, with a JSON summary saying so.
    let o = w.run(&watch_args(
        "http://127.0.0.1:1/",
        &vkey,
        &state,
        &["Acme"],
        &["--json"],
    ));
    assert_eq!(o.code, 2, "{}", o.stderr);
    let (f, summary) = lines(&o.stdout);
    assert!(f.is_empty());
    assert_eq!(summary["ok"], false);
}
