//! `accord demo`: the whole story on a fresh ledger, each step printed as the command a user
//! would type and then run as that very command (this binary, in a child process).

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::context::out;
use super::fail::Fail;

const COMPANIES: [(&str, &str, &str); 3] = [
    ("contoso", "Contoso Ltd", "contoso.example"),
    ("fabrikam", "Fabrikam, Inc.", "fabrikam.example"),
    ("northwind", "Northwind Traders", "northwind.example"),
];

fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+".contains(&b))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// The command line as a user would type it.
fn typed(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// This binary, to run each step as the command it shows.
fn accord() -> Result<std::process::Command, Fail> {
    let exe =
        std::env::current_exe().map_err(|e| Fail::usage(anyhow!("cannot find the accord binary: {e}")))?;
    let mut c = std::process::Command::new(exe);
    // The demo's ledger has its own key: a custodian's ACCORD_LEDGER_KEY_FILE is not for it.
    c.env_remove("ACCORD_LEDGER_KEY_FILE");
    Ok(c)
}

/// Prints a step and runs it, its output going to the demo's.
fn step(title: &str, args: &[String]) -> Result<(), Fail> {
    out(&format!("\n# {title}\n$ accord {}\n", typed(args)));
    let status = accord()?
        .args(args)
        .status()
        .map_err(|e| Fail::usage(anyhow!("demo step `{title}` could not start: {e}")))?;
    if !status.success() {
        return Err(Fail::usage(anyhow!(
            "demo step `{title}` failed ({status}): accord {}",
            typed(args)
        )));
    }
    Ok(())
}

/// Runs a command quietly and returns its standard output.
fn capture(args: &[String]) -> Result<String, Fail> {
    let o = accord()?
        .args(args)
        .output()
        .map_err(|e| Fail::usage(anyhow!("accord {} could not start: {e}", typed(args))))?;
    if !o.status.success() {
        return Err(Fail::usage(anyhow!(
            "accord {} failed: {}",
            typed(args),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn s(x: impl AsRef<str>) -> String {
    x.as_ref().to_string()
}

fn p(x: &Path) -> String {
    x.display().to_string()
}

pub(super) fn run(dir: Option<&Path>) -> Result<(), Fail> {
    let dir: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let tag = hex::encode(accord::statement::random_nonce());
            std::env::temp_dir().join(format!("accord-demo-{}", &tag[..12]))
        }
    };
    std::fs::create_dir_all(&dir).map_err(Fail::usage)?;
    if dir.join("ledger").exists() {
        return Err(Fail::usage(anyhow!(
            "{} already holds a demo ledger; give another --dir",
            dir.display()
        )));
    }
    let ledger = p(&dir.join("ledger"));
    let keys = dir.join("keys");
    let state = p(&dir.join("state"));
    let with_ledger = |rest: &[String]| -> Vec<String> {
        let mut v = vec![s("--ledger"), ledger.clone()];
        v.extend_from_slice(rest);
        v
    };
    out(&format!("accord demo: everything lives in {}\n", dir.display()));

    step(
        "A custodian creates the ledger and its own signing key",
        &with_ledger(&[
            s("init"),
            s("--origin"),
            s("demo.accord.example/pledges"),
            s("--key-file"),
            p(&dir.join("custodian").join("ledger.key")),
        ]),
    )?;
    for (name, _, _) in COMPANIES {
        step(
            &format!("{name} makes a signing key"),
            &[s("key"), s("generate"), s(name), s("--dir"), p(&keys)],
        )?;
        step(
            &format!("{name} makes a recovery key, to keep offline"),
            &[
                s("key"),
                s("generate"),
                format!("{name}-recovery"),
                s("--dir"),
                p(&keys),
            ],
        )?;
    }
    for (name, org, domain) in COMPANIES {
        step(
            &format!("{org} registers its name and key"),
            &with_ledger(&[
                s("register"),
                s("--key"),
                p(&keys.join(format!("{name}.key"))),
                s("--org"),
                s(org),
                s("--domain"),
                s(domain),
                s("--contact"),
                format!("security@{domain}"),
                s("--recovery-key"),
                p(&keys.join(format!("{name}-recovery.pub"))),
            ]),
        )?;
    }
    let next_year = accord::time::format(accord::clock::now() + 365 * 86_400)[..10].to_string();
    let attestations: [(&str, &[&str], &[&str]); 3] = [
        (
            "contoso",
            &["no-backdoors", "no-offensive-aid", "patch-all-customers"],
            &["Contoso Cloud", "Contoso Mail"],
        ),
        (
            "fabrikam",
            &["no-backdoors", "patch-all-customers"],
            &["Fabrikam Routers"],
        ),
        (
            "northwind",
            &["no-offensive-aid", "coordinated-disclosure"],
            &["Northwind Analytics"],
        ),
    ];
    for (name, norms, scope) in attestations {
        let mut a = vec![s("attest"), s("--key"), p(&keys.join(format!("{name}.key")))];
        for n in norms {
            a.extend([s("--norm"), s(n)]);
        }
        for sc in scope {
            a.extend([s("--scope"), s(sc)]);
        }
        a.extend([s("--expires"), next_year.clone()]);
        step(&format!("{name} attests {}", norms.join(", ")), &with_ledger(&a))?;
    }
    step(
        "Fabrikam withdraws its attestation (entry 4)",
        &with_ledger(&[
            s("withdraw"),
            s("--key"),
            p(&keys.join("fabrikam.key")),
            s("--entry"),
            s("4"),
            s("--reason"),
            s("Router line sold; pledge to be renewed by the new owner"),
        ]),
    )?;
    step(
        "Anyone verifies the whole ledger",
        &with_ledger(&[s("verify"), s("--state"), state.clone()]),
    )?;
    step("Who attests what now?", &with_ledger(&[s("status")]))?;
    step(
        "Who pledges no backdoors?",
        &with_ledger(&[s("status"), s("--norm"), s("no-backdoors")]),
    )?;
    step("The latest signed checkpoint", &with_ledger(&[s("checkpoint")]))?;
    let proof = p(&dir.join("contoso-pledge.proof"));
    step(
        "An auditor exports an offline proof of Contoso's pledge (entry 3)",
        &with_ledger(&[s("prove"), s("3"), s("--out"), proof.clone()]),
    )?;
    let vkey = capture(&with_ledger(&[s("ledger-key")]))?.trim().to_string();
    step(
        "Anyone checks it with nothing but the ledger's public key",
        &[
            s("verify-proof"),
            proof,
            s("--ledger-key"),
            vkey,
            s("--state"),
            p(&dir.join("auditor-state")),
        ],
    )?;
    out(&format!(
        "\nDone. The demo's ledger, keys and state are in {}\n",
        dir.display()
    ));
    Ok(())
}
