//! The custodian's own commands: creating a ledger and its key, upgrading its store, and
//! deciding on the registrations that wait for approval.

use std::path::Path;

use anyhow::anyhow;

use accord::checkpoint::{LedgerKey, Origin};
use accord::keyfile;
use accord::ledger::Ledger;

use super::context::*;
use super::fail::{self, Fail};
use super::terminal::note;

pub(super) fn init(dir: &Path, origin: &str, key_file: Option<&Path>) -> Res {
    let origin = Origin::new(origin).map_err(|e| Fail::usage(e).context("--origin"))?;
    if accord::store::Store::db_path(dir).exists() {
        return Err(Fail::usage(anyhow!(
            "a ledger already exists at {}",
            dir.display()
        )));
    }
    let key_file = match key_file {
        Some(p) => p.to_path_buf(),
        None => {
            let safe: String = origin
                .as_str()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            config_dir().join("ledgers").join(format!("{safe}.key"))
        }
    };
    // DESIGN decision 5: the ledger key lives outside the ledger's data, so that a copy of the
    // data cannot sign.
    let inside = match (std::path::absolute(&key_file), std::path::absolute(dir)) {
        (Ok(k), Ok(d)) => k.starts_with(&d),
        _ => false,
    };
    if inside {
        return Err(Fail::usage(anyhow!(
            "--key-file {} is inside the ledger directory {}; the ledger key must live outside the ledger's data, so that a copy of the data cannot sign",
            key_file.display(),
            dir.display()
        )));
    }
    if let Some(parent) = key_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        keyfile::create_private_dir(parent).map_err(Fail::usage)?;
    }
    let key = LedgerKey::generate(&origin);
    keyfile::write_new_file(&key_file, key.to_skey().as_bytes(), 0o600).map_err(Fail::usage)?;
    let abs = std::fs::canonicalize(&key_file).unwrap_or(key_file.clone());
    Ledger::init(dir, &key, &abs).map_err(|e| fail::ledger(e, 2))?;
    note!("created ledger {} at {}", origin, dir.display());
    note!(
        "ledger secret key: {} (mode 0600; keep it outside the ledger's data)",
        abs.display()
    );
    note!("ledger public key (publish it; verifiers check against it):");
    out(&format!("{}\n", key.verifier_key()));
    Ok(())
}

/// `accord upgrade`.
pub(super) fn upgrade(dir: &Path) -> Res {
    let n = Ledger::upgrade(dir).map_err(|e| fail::ledger(e, 1))?;
    match n {
        Some(n) => out(&format!(
            "upgraded the ledger at {}: derived tables rebuilt from its {n} entries; run `accord verify` to check them\n",
            dir.display()
        )),
        None => out(&format!("the ledger at {} is already up to date\n", dir.display())),
    }
    Ok(())
}

fn queue(dir: &Path) -> accord::pending::PendingQueue {
    accord::pending::PendingQueue::new(dir, accord::pending::PendingLimits::default())
}

fn pending_fail(e: accord::pending::PendingError) -> Fail {
    Fail::usage(e)
}

/// `accord pending`.
pub(super) fn pending(dir: &Path, json: bool) -> Res {
    let list = queue(dir).list().map_err(pending_fail)?;
    if json {
        return out_json(&list);
    }
    if list.is_empty() {
        note!("no registrations are waiting for approval");
        return Ok(());
    }
    let mut s = String::new();
    for p in &list {
        s.push_str(&format!(
            "{}  {} ({}), from {} at {}\n",
            &p.id[..16],
            super::display::quoted(&p.name),
            p.domain
                .as_deref()
                .map(|d| format!("{}, self-asserted", super::display::shown(d)))
                .unwrap_or_else(|| "no domain".into()),
            p.client,
            p.received_at
        ));
    }
    out(&s);
    note!("approve one with: accord approve ID; reject it with: accord reject ID");
    Ok(())
}

/// `accord approve ID`: through the running server's admin socket, or directly.
pub(super) fn approve(dir: &Path, id: &str, lk: &LedgerKeyFile) -> Res {
    let q = queue(dir);
    let p = q.find(id).map_err(pending_fail)?;
    let socket = dir.join(accord::serve::ADMIN_SOCKET);
    if let Some(answer) = admin_request(&socket, &format!("approve {}", p.id))? {
        return approved(&p, &answer);
    }
    // No server holds the ledger: append it here, holding the decision lock until it has
    // left the queue (found again under the lock: a rejection may have come first).
    let _decision = q.decide().map_err(pending_fail)?;
    let p = q.find(&p.id).map_err(pending_fail)?;
    let l = open_rw(dir)?;
    let key = load_ledger_key(&l, lk)?;
    let outcome = l
        .append_each(
            std::slice::from_ref(&p.statement),
            &key,
            accord::clock::now(),
            accord::norms::Catalogue::embedded(),
        )
        .map_err(|e| fail::ledger(e, 1))?;
    let id_bytes = accord::pending::parse_id(&p.id).unwrap_or_default();
    let answer = match outcome.into_iter().next() {
        Some(accord::ledger::Outcome::Appended(a)) => {
            serde_json::json!({"ok": true, "index": a.index, "already_in": false})
        }
        Some(accord::ledger::Outcome::AlreadyIn { index, .. }) => {
            serde_json::json!({"ok": true, "index": index, "already_in": true})
        }
        Some(accord::ledger::Outcome::Refused(r)) => {
            serde_json::json!({"ok": false, "refused": true, "rule": r.code(), "error": r.to_string()})
        }
        None => serde_json::json!({"ok": false, "error": "no outcome"}),
    };
    if answer["ok"] == true || answer["refused"] == true {
        q.remove(&id_bytes).map_err(pending_fail)?;
    }
    approved(&p, &answer)
}

/// Says what became of an approved registration.
fn approved(p: &accord::pending::Pending, answer: &serde_json::Value) -> Res {
    let name = super::display::quoted(&p.name);
    if answer["ok"] == true {
        let index = answer["index"].as_u64().unwrap_or_default();
        if answer["already_in"] == true {
            out(&format!("{name} was already in the ledger at entry {index}\n"));
        } else {
            out(&format!(
                "approved: registration of {name} appended at index {index}\n"
            ));
        }
        return Ok(());
    }
    let why = answer["error"].as_str().unwrap_or("unknown").to_string();
    if answer["refused"] == true {
        return Err(Fail::invalid(anyhow!(
            "the ledger refuses the registration of {name} ({}): {why}; it has left the queue",
            answer["rule"].as_str().unwrap_or("")
        )));
    }
    Err(Fail::usage(anyhow!("approving {name}: {why}")))
}

/// Sends one command to a running server's admin socket and reads its one-line JSON answer;
/// `None` when no server listens there.
fn admin_request(socket: &Path, command: &str) -> Res<Option<serde_json::Value>> {
    use std::io::{BufRead as _, Read as _, Write as _};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else {
        return Ok(None);
    };
    let io = |e: std::io::Error| Fail::usage(anyhow!("talking to the server at {}: {e}", socket.display()));
    s.set_read_timeout(Some(std::time::Duration::from_secs(90)))
        .map_err(io)?;
    s.write_all(format!("{command}\n").as_bytes()).map_err(io)?;
    let mut line = String::new();
    std::io::BufReader::new(s.take(64 * 1024))
        .read_line(&mut line)
        .map_err(io)?;
    serde_json::from_str(&line).map(Some).map_err(|e| {
        Fail::usage(anyhow!(
            "the server at {} answered {line:?}: {e}",
            socket.display()
        ))
    })
}

/// `accord reject ID`.
pub(super) fn reject(dir: &Path, id: &str) -> Res {
    let q = queue(dir);
    // Under the decision lock, so that an approval running now (in the server or here) either
    // finishes first, and the registration is no longer found, or waits and finds it gone.
    let _decision = q.decide().map_err(pending_fail)?;
    let p = q.find(id).map_err(pending_fail)?;
    let id_bytes = accord::pending::parse_id(&p.id).unwrap_or_default();
    if !q.remove(&id_bytes).map_err(pending_fail)? {
        return Err(pending_fail(accord::pending::PendingError::NotFound(
            p.id.clone(),
        )));
    }
    out(&format!(
        "rejected: the registration of {} ({}) has left the queue and will not be appended\n",
        super::display::quoted(&p.name),
        &p.id[..16]
    ));
    Ok(())
}
