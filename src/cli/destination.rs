//! Where the statements of `append`, `attest`, `withdraw`, `register` and `key rotate|revoke|
//! recover` go, and what building them reads of the ledger: the ledger here ([`Local`], opened
//! for writing; the statements are appended in one transaction) or a server that holds it
//! (`--server URL`, [`Remote`]: read through its API, submitted with `POST /entries`). The
//! commands build and sign each statement once, reading through [`Destination`], whichever it is.

use std::cell::OnceCell;
use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;

use accord::keys::SecretKey;
use accord::ledger::Ledger;
use accord::norms::Catalogue;
use accord::remote::{LedgerServer, RemoteError, ServerOrg, Submission};
use accord::report;
use accord::statement::Body;

use super::context::*;
use super::display::shown;
use super::fail::{self, Fail};
use super::terminal::note;

/// `--server URL` (or `ACCORD_SERVER`), else the ledger here with its key.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DestinationArgs {
    /// Submit to the accord server at URL (`accord serve --writable`) instead of appending to a
    /// ledger here. The server answers once the statement is durable under its signed
    /// checkpoint; one already in the ledger gets its existing index, so submitting again is
    /// safe. What the statement needs from the ledger (its origin, the organisation of the key,
    /// an entry by index) is read from the server's API. A statement the server refuses exits
    /// 1 naming the rule; a server that cannot be reached, fails, or is busy or limiting, 2.
    #[arg(long, env = "ACCORD_SERVER", value_name = "URL")]
    pub server: Option<String>,
    #[command(flatten)]
    pub ledger_key: LedgerKeyFile,
}

/// An entry a statement refers to (`--supersedes`, `--entry`): its statement id, kind and
/// organisation.
pub(super) struct EntryRef {
    pub index: u64,
    pub id: [u8; 32],
    pub kind: String,
    pub org: String,
}

/// What became of one statement.
pub(super) enum Submitted {
    /// In the ledger at `index`: appended now, or there before (`already_in`, a resubmission).
    In {
        index: u64,
        kind: String,
        org: String,
        id: String,
        already_in: bool,
        /// What `--json` prints: the server's answer, or the local append's fields.
        json: serde_json::Value,
    },
    /// A registration waiting for the custodian's approval.
    Pending {
        org: String,
        id: String,
        detail: String,
        json: serde_json::Value,
    },
}

/// What a submission of several statements did before it stopped: the statements it took, and
/// why it stopped, if it did.
pub(super) type Done = Result<Vec<Submitted>, (Vec<Submitted>, Fail)>;

/// The ledger as the statement-building commands read it, and where their statements go.
pub(super) trait Destination {
    /// How messages name the ledger ("this ledger", "the ledger at http://...").
    fn name(&self) -> String;
    /// The ledger's origin, which every statement for it carries.
    fn origin(&self) -> Res<String>;
    /// The organisation key `kid` speaks for (an unknown key exits 1, as the rules refuse it).
    fn org_of_key(&self, kid: &[u8; 32]) -> Res<String>;
    /// The entry `s` names (an entry index or a statement id); `None` for a statement id that
    /// cannot be looked up here (a server's API finds entries by index only).
    fn entry(&self, s: &str) -> Res<Option<EntryRef>>;
    /// Key ids of `org` a revocation may name: every key bound to it (here), or its current
    /// keys (a server).
    fn keys_of_org(&self, org: &str) -> Res<Vec<[u8; 32]>>;
    /// The organisation that committed to recovery key `kid`, if one did.
    fn org_of_recovery_key(&self, kid: &[u8; 32]) -> Res<Option<String>>;
    /// The organisation that already used recovery key `kid`, when that can be told (a server's
    /// API does not say: `None`).
    fn recovery_used_by(&self, kid: &[u8; 32]) -> Res<Option<String>>;
    /// Appends (here: all or none, in one transaction) or submits (a server: one by one, in
    /// order, stopping at the first that is not taken) `statements`, read from the files
    /// `names` (empty for one built from the command's arguments).
    fn submit(&self, statements: &[Vec<u8>], names: &[String]) -> Done;
}

/// Where the statements go: a server given with `--server` (or `ACCORD_SERVER`), else the
/// ledger at `dir`, opened for writing.
pub(super) fn open(dir: &Path, to: &DestinationArgs) -> Res<Box<dyn Destination>> {
    match to.server.as_deref().filter(|s| !s.is_empty()) {
        Some(url) => Ok(Box::new(Remote::new(url)?)),
        None => Ok(Box::new(Local {
            ledger: open_rw(dir)?,
            key: to.ledger_key.clone(),
        })),
    }
}

/// Signs a statement of `iss` with `key` around `body`, for the destination's ledger, and
/// submits it there; prints what became of it.
pub(super) fn sign_and_submit(to: &dyn Destination, key: &SecretKey, iss: &str, body: Body) -> Res {
    let payload = accord::statement::Payload {
        origin: to.origin()?,
        iat: accord::clock::now(),
        nonce: accord::statement::random_nonce(),
        body,
    };
    let st = accord::statement::sign(&payload, iss, key).map_err(Fail::usage)?;
    submit_and_print(to, &[st.into_bytes()], &[], false)
}

/// Submits `statements` (from the files `names`) and prints what became of them, also when a
/// submission to a server stopped part way.
pub(super) fn submit_and_print(
    to: &dyn Destination,
    statements: &[Vec<u8>],
    names: &[String],
    json: bool,
) -> Res {
    match to.submit(statements, names) {
        Ok(done) => print(&done, json),
        Err((done, f)) => {
            if !done.is_empty() {
                print(&done, json)?;
            }
            Err(f)
        }
    }
}

/// Prints what became of each statement: as the local append always has, and for a server the
/// resubmissions and the pending registrations; with `json`, a JSON array of the answers.
fn print(done: &[Submitted], json: bool) -> Res {
    if json {
        let v: Vec<&serde_json::Value> = done
            .iter()
            .map(|d| match d {
                Submitted::In { json, .. } | Submitted::Pending { json, .. } => json,
            })
            .collect();
        return out_json(&v);
    }
    for d in done {
        match d {
            Submitted::In {
                index,
                kind,
                org,
                id,
                already_in: false,
                ..
            } => out(&format!(
                "appended {kind} of {:?} at index {index}\nstatement id: {id}\n",
                shown(org)
            )),
            Submitted::In {
                index,
                kind,
                org,
                id,
                already_in: true,
                ..
            } => out(&format!(
                "{kind} of {:?} already in the ledger at entry {index} (nothing appended)\nstatement id: {id}\n",
                shown(org)
            )),
            Submitted::Pending { org, id, detail, .. } => {
                out(&format!(
                    "registration of {:?} waiting for the custodian's approval (statement id {id})\n",
                    shown(org)
                ));
                note!("note: {}", shown(detail));
            }
        }
    }
    Ok(())
}

/// The attestation `s` names (`--supersedes`, `--entry`, `sign --withdraw`) as the statement
/// id a withdrawal or a renewal of `iss` refers to; when the entry can be looked up, it must be
/// an attestation of `iss`: the ledger would refuse anything else, and a statement built
/// against it is refused now (exit 1, as the rules refuse).
pub(super) fn own_attestation(flag: &str, s: &str, entry: Option<EntryRef>, iss: &str) -> Res<[u8; 32]> {
    let Some(e) = entry else {
        return parse_id(s).map_err(|f| f.context(flag.to_string()));
    };
    if e.org != iss {
        return Err(Fail::invalid(anyhow!(
            "{flag} {s}: entry {} belongs to {:?}, not {:?}; an organisation withdraws or supersedes only its own attestations",
            e.index,
            shown(&e.org),
            shown(iss)
        )));
    }
    if e.kind != accord::statement::Kind::Attestation.as_str() {
        return Err(Fail::invalid(anyhow!(
            "{flag} {s}: entry {} is a {}; only an attestation can be withdrawn or superseded",
            e.index,
            shown(&e.kind)
        )));
    }
    Ok(e.id)
}

/// The entry `s` (an index or a statement id) of a ledger here.
pub(super) fn local_entry(l: &Ledger, s: &str) -> Res<EntryRef> {
    let index = resolve_entry(l, s)?;
    let st = read(l, |r| {
        let b = r.entry(index)?.unwrap_or_default();
        Ok(report::decode_stored(index, &b)?.1)
    })?;
    Ok(EntryRef {
        index,
        id: st.id(),
        kind: st.kind().to_string(),
        org: st.iss.clone(),
    })
}

/// The ledger here, opened for writing, and where its key is.
struct Local {
    ledger: Ledger,
    key: LedgerKeyFile,
}

impl Destination for Local {
    fn name(&self) -> String {
        "this ledger".into()
    }

    fn origin(&self) -> Res<String> {
        self.ledger.origin().map_err(|e| fail::ledger(e, 1))
    }

    fn org_of_key(&self, kid: &[u8; 32]) -> Res<String> {
        match read(&self.ledger, |r| Ok(r.key(kid)?))? {
            Some(rec) => Ok(rec.org),
            None => Err(Fail::invalid(anyhow!(
                "key {} is not registered in this ledger",
                hex::encode(kid)
            ))
            .hint("register the organisation first: accord register --key FILE --org NAME")),
        }
    }

    fn entry(&self, s: &str) -> Res<Option<EntryRef>> {
        local_entry(&self.ledger, s).map(Some)
    }

    fn keys_of_org(&self, org: &str) -> Res<Vec<[u8; 32]>> {
        keys_of_org(&self.ledger, org)
    }

    fn org_of_recovery_key(&self, kid: &[u8; 32]) -> Res<Option<String>> {
        // The last statement that committed to it: a registration, or a recovery naming it
        // as the next recovery key.
        read(&self.ledger, |r| {
            let mut found = None;
            r.for_each_entry(0, |i, b| -> Result<bool, accord::ledger::LedgerError> {
                let (_, st) = report::decode_stored(i, b)?;
                match &st.payload.body {
                    Body::Registration(reg) if reg.recovery == Some(*kid) => found = Some(st.iss.clone()),
                    Body::Recovery(rc) if rc.next_recovery == *kid => found = Some(st.iss.clone()),
                    _ => {}
                }
                Ok(true)
            })?;
            Ok(found)
        })
    }

    fn recovery_used_by(&self, kid: &[u8; 32]) -> Res<Option<String>> {
        read(&self.ledger, |r| Ok(r.used_recovery(kid)?))
    }

    fn submit(&self, statements: &[Vec<u8>], names: &[String]) -> Done {
        let appended = load_ledger_key(&self.ledger, &self.key).and_then(|key| {
            self.ledger
                .append(statements, &key, accord::clock::now(), Catalogue::embedded())
                .map_err(|e| fail::appending(e, names))
        });
        let appended = appended.map_err(|f| (Vec::new(), f))?;
        #[derive(Serialize)]
        struct J<'a> {
            index: u64,
            kind: String,
            org: &'a str,
            statement_id: String,
        }
        Ok(appended
            .iter()
            .map(|a| Submitted::In {
                index: a.index,
                kind: a.kind.to_string(),
                org: a.org.clone(),
                id: hex::encode(a.id),
                already_in: false,
                json: serde_json::to_value(J {
                    index: a.index,
                    kind: a.kind.to_string(),
                    org: &a.org,
                    statement_id: hex::encode(a.id),
                })
                .unwrap_or_default(),
            })
            .collect())
    }
}

/// How many times a submission the server is too busy for is tried again, and the longest
/// `Retry-After` waited for (longer ones are left to the user).
const BUSY_RETRIES: u32 = 3;
const BUSY_WAIT_MAX: u64 = 5;

/// A server that holds the ledger (`accord serve --writable`), read through its API; what it
/// says of the organisations is read once.
struct Remote {
    server: LedgerServer,
    origin: OnceCell<String>,
    orgs: OnceCell<Vec<ServerOrg>>,
}

impl Remote {
    fn new(url: &str) -> Res<Remote> {
        let server = LedgerServer::new(url, http_timeout()).map_err(|e| unreachable(e, url))?;
        Ok(Remote {
            server,
            origin: OnceCell::new(),
            orgs: OnceCell::new(),
        })
    }

    fn orgs(&self) -> Res<&[ServerOrg]> {
        if self.orgs.get().is_none() {
            let v = self
                .server
                .orgs()
                .map_err(|e| unreachable(e, self.server.label()))?;
            let _ = self.orgs.set(v);
        }
        Ok(self.orgs.get().map(Vec::as_slice).unwrap_or_default())
    }

    /// One statement, tried again while the server is briefly busy.
    fn submit_one(&self, statement: &[u8]) -> Res<Submitted> {
        let url = self.server.label();
        let mut tries = 0;
        loop {
            let answer = self.server.submit(statement).map_err(|e| unreachable(e, url))?;
            return match answer {
                Submission::InLedger { receipt, json } => Ok(Submitted::In {
                    index: receipt.index,
                    kind: receipt.kind,
                    org: receipt.org,
                    id: receipt.statement_id,
                    already_in: receipt.already_in,
                    json,
                }),
                Submission::Pending {
                    statement_id,
                    org,
                    detail,
                    json,
                } => Ok(Submitted::Pending {
                    org,
                    id: statement_id,
                    detail,
                    json,
                }),
                Submission::Refused(p) => Err(Fail::invalid(anyhow!(
                    "refused by {url} ({}): {}",
                    p.rule,
                    p.detail
                ))),
                Submission::Later(p)
                    if p.rule == "busy"
                        && tries < BUSY_RETRIES
                        && p.retry_after.unwrap_or(1) <= BUSY_WAIT_MAX =>
                {
                    tries += 1;
                    let wait = p.retry_after.unwrap_or(1);
                    note!("{url} is busy; trying again in {wait} s ({tries} of {BUSY_RETRIES})");
                    std::thread::sleep(std::time::Duration::from_secs(wait));
                    continue;
                }
                Submission::Later(p) => {
                    let when = match p.retry_after {
                        Some(s) => format!("; it asks to try again in {s} s"),
                        None => String::new(),
                    };
                    Err(Fail::usage(anyhow!(
                        "{url} did not take the statement now ({} {}): {}{when}",
                        p.status,
                        p.rule,
                        p.detail
                    ))
                    .hint("nothing was appended; submit it again later (resubmitting is safe)"))
                }
            };
        }
    }
}

/// A server that could not be reached, failed, or answered what an accord server does not:
/// exit 2, the statement's fate unknown (resubmitting is safe). A user name and password in
/// `url` are not repeated.
fn unreachable(e: RemoteError, url: &str) -> Fail {
    Fail::usage(e).hint(format!(
        "check that `accord serve --writable` runs at {}; a statement whose answer was lost may be in the ledger: submitting it again is safe",
        shown(&accord::remote::redact(url))
    ))
}

impl Destination for Remote {
    fn name(&self) -> String {
        format!("the ledger at {}", self.server.label())
    }

    fn origin(&self) -> Res<String> {
        if let Some(o) = self.origin.get() {
            return Ok(o.clone());
        }
        let o = self
            .server
            .origin()
            .map_err(|e| unreachable(e, self.server.label()))?;
        let _ = self.origin.set(o.clone());
        Ok(o)
    }

    fn org_of_key(&self, kid: &[u8; 32]) -> Res<String> {
        let hex = hex::encode(kid);
        match self.orgs()?.iter().find(|o| o.current_keys.contains(&hex)) {
            Some(o) => Ok(o.org.clone()),
            None => Err(Fail::invalid(anyhow!(
                "key {hex} is not a current key of any organisation in {}",
                self.name()
            ))
            .hint("register the organisation first: accord register --key FILE --org NAME --server URL")),
        }
    }

    fn entry(&self, s: &str) -> Res<Option<EntryRef>> {
        if !is_index(s) {
            return Ok(None);
        }
        let index: u64 = s
            .parse()
            .map_err(|_| Fail::usage(anyhow!("{s:?} is not an entry index")))?;
        let url = self.server.label();
        let e = self
            .server
            .entry(index)
            .map_err(|e| unreachable(e, url))?
            .ok_or_else(|| Fail::usage(anyhow!("no entry {index} in {}", self.name())))?;
        let id = parse_id(&e.statement_id).map_err(|f| {
            Fail::usage(anyhow!(
                "{url} gave entry {index} a statement id that is not one: {}",
                f.message()
            ))
        })?;
        Ok(Some(EntryRef {
            index,
            id,
            kind: e.kind,
            org: e.org,
        }))
    }

    fn keys_of_org(&self, org: &str) -> Res<Vec<[u8; 32]>> {
        let Some(o) = self.orgs()?.iter().find(|o| o.org == org) else {
            return Ok(Vec::new());
        };
        Ok(o.current_keys.iter().filter_map(|k| parse_id(k).ok()).collect())
    }

    fn org_of_recovery_key(&self, kid: &[u8; 32]) -> Res<Option<String>> {
        let hex = hex::encode(kid);
        Ok(self
            .orgs()?
            .iter()
            .find(|o| o.recovery_key.as_deref() == Some(hex.as_str()))
            .map(|o| o.org.clone()))
    }

    fn recovery_used_by(&self, _kid: &[u8; 32]) -> Res<Option<String>> {
        // The read API does not say which recovery keys were used; the server's rules refuse
        // a second use when it is tried.
        Ok(None)
    }

    fn submit(&self, statements: &[Vec<u8>], names: &[String]) -> Done {
        let mut done = Vec::new();
        for (k, st) in statements.iter().enumerate() {
            match self.submit_one(st) {
                Ok(d) => done.push(d),
                Err(f) => {
                    let n = statements.len();
                    let f = match names.get(k) {
                        Some(name) if n == 1 => f.context(name.clone()),
                        Some(name) => f.context(format!(
                            "{name} (statement {} of {n}: the {k} before it were submitted, the rest were not)",
                            k + 1
                        )),
                        None => f,
                    };
                    return Err((done, f));
                }
            }
        }
        Ok(done)
    }
}
