//! Reading a ledger: `list`, `show`, `status`, `history`, `norms`.

use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;

use accord::ledger::{Ledger, LedgerError};
use accord::norms::Catalogue;
use accord::report::{self, EntryView, Registered};
use accord::statement::{self};
use accord::time;

use super::context::*;
use super::display::{quoted, shown, shown_join};
use super::fail::{self, Fail};
use super::terminal::note;

pub(super) fn list(dir: &Path, org: Option<&str>, norm: Option<&str>, json: bool) -> Res {
    let l = open_ro(dir)?;
    let org = match org {
        Some(o) => Some(known_org(&l, o)?.0),
        None => None,
    };
    if let Some(n) = norm {
        known_norm(n)?;
    }
    let views = read(&l, |r| {
        let indexes: Option<Vec<u64>> = match (&org, norm) {
            (Some(o), Some(n)) => {
                let a = r.org_entries(o)?;
                let b: std::collections::HashSet<u64> = r.norm_entries(n)?.into_iter().collect();
                Some(a.into_iter().filter(|i| b.contains(i)).collect())
            }
            (Some(o), None) => Some(r.org_entries(o)?),
            (None, Some(n)) => Some(r.norm_entries(n)?),
            (None, None) => None,
        };
        let mut v = Vec::new();
        match indexes {
            Some(ix) => {
                for i in ix {
                    let b = r.entry(i)?.unwrap_or_default();
                    v.push(report::entry_view(r, i, &b)?);
                }
            }
            None => r.for_each_entry(0, |i, b| -> Result<bool, LedgerError> {
                v.push(report::entry_view(r, i, b)?);
                Ok(true)
            })?,
        }
        Ok(v)
    })?;
    if json {
        return out_json(&views);
    }
    let mut s = String::new();
    for v in &views {
        s.push_str(&entry_line(v));
        s.push('\n');
    }
    if views.is_empty() {
        note!("no entries");
    }
    out(&s);
    Ok(())
}

pub(super) fn entry_line(v: &EntryView) -> String {
    let what = if let Some(r) = &v.registration {
        format!(
            "registers {}{}{}",
            quoted(&r.name),
            r.domain
                .as_ref()
                .map(|d| format!(" ({d}, self-asserted)"))
                .unwrap_or_else(|| " (self-asserted)".into()),
            if r.recovery_key_committed {
                ""
            } else {
                " [no recovery key]"
            }
        )
    } else if let Some(a) = &v.attestation {
        format!(
            "{} for {}{}{}",
            a.norms.join(", "),
            shown_join(&a.scope, "; "),
            a.expires
                .as_ref()
                .map(|e| format!(" until {e}"))
                .unwrap_or_default(),
            a.supersedes
                .as_ref()
                .map(|s| format!(" (supersedes {})", &s[..16]))
                .unwrap_or_default()
        )
    } else if let Some(w) = &v.withdrawal {
        format!(
            "withdraws {}: {}",
            w.target_index
                .map(|i| format!("entry {i}"))
                .unwrap_or_else(|| w.target[..16].to_string()),
            shown(&w.reason)
        )
    } else if let Some(k) = &v.key_change {
        format!(
            "ends key {}{}{}{}",
            k.ends.iter().map(|x| &x[..16]).collect::<Vec<_>>().join(", "),
            k.installs
                .as_ref()
                .map(|x| format!("; installs key {}", &x[..16]))
                .unwrap_or_default(),
            k.compromised_since
                .as_ref()
                .map(|t| format!("; compromised since {t}"))
                .unwrap_or_default(),
            k.reason
                .as_ref()
                .map(|r| format!(": {}", shown(r)))
                .unwrap_or_default()
        )
    } else {
        String::new()
    };
    format!(
        "{:>6}  {}  {:<12}  {:<20}  {}{}",
        v.index,
        v.logged_at,
        v.kind,
        shown(&v.org_name),
        untrusted_mark(v),
        what
    )
}

/// "UNTRUSTED (recovery at entry N) " for an entry a recovery made untrusted, else nothing:
/// every human view of an entry says so (issue 12).
pub(super) fn untrusted_mark(v: &EntryView) -> String {
    match v.untrusted_by {
        Some(r) => format!("UNTRUSTED (recovery at entry {r}) "),
        None => String::new(),
    }
}

pub(super) fn show(dir: &Path, entry: &str, json: bool) -> Res {
    let l = open_ro(dir)?;
    let index = resolve_entry(&l, entry)?;
    let v = read(&l, |r| {
        let b = r.entry(index)?.unwrap_or_default();
        report::entry_view(r, index, &b)
    })?;
    if json {
        return out_json(&v);
    }
    let mut s = String::new();
    if let Some(r) = v.untrusted_by {
        s.push_str(&format!(
            "UNTRUSTED (recovery at entry {r}): signed by a key the organisation reported compromised at that time; valid history, not to be relied on\n"
        ));
    }
    s += &format!(
        "entry {}\n  kind:         {}\n  organisation: {}\n  statement id: {}\n  key id:       {}\n  issued at:    {}\n  logged at:    {}\n",
        v.index,
        v.kind,
        shown(&v.org_name),
        v.statement_id,
        v.kid,
        v.issued_at,
        v.logged_at
    );
    if let Some(r) = &v.registration {
        s.push_str(&format!("  name:         {}\n  domain:       {}\n  contact:      {}\n  (self-asserted: nothing proves this name or domain)\n",
            shown(&r.name), shown(r.domain.as_deref().unwrap_or("-")), shown(r.contact.as_deref().unwrap_or("-"))));
    }
    if let Some(a) = &v.attestation {
        s.push_str(&format!(
            "  norms:        {}\n  scope:        {}\n  expires:      {}\n  catalogue:    v{}\n",
            a.norms.join(", "),
            shown_join(&a.scope, "; "),
            a.expires.as_deref().unwrap_or("never"),
            a.catalogue
        ));
        if let Some(n) = &a.note {
            s.push_str(&format!("  note:         {}\n", shown(n)));
        }
    }
    if let Some(w) = &v.withdrawal {
        s.push_str(&format!(
            "  withdraws:    {}{}\n  reason:       {}\n",
            w.target,
            w.target_index
                .map(|i| format!(" (entry {i})"))
                .unwrap_or_default(),
            shown(&w.reason)
        ));
    }
    if let Some(k) = &v.key_change {
        // What the rotation, revocation or recovery did to the organisation's keys, as --json
        // shows it (issue 12).
        let ends = if k.ends.is_empty() {
            "none".to_string()
        } else {
            k.ends.join(", ")
        };
        s.push_str(&format!("  ends keys:    {ends}\n"));
        if let Some(i) = &k.installs {
            s.push_str(&format!("  installs key: {i}\n"));
        }
        if let Some(r) = &k.reason {
            s.push_str(&format!("  reason:       {}\n", shown(r)));
        }
        if v.kind == "recovery" {
            s.push_str(&format!(
                "  compromised:  {}\n",
                k.compromised_since
                    .as_deref()
                    .map(|t| format!(
                        "since {t} (statements by the ended keys logged after it are untrusted)"
                    ))
                    .unwrap_or_else(|| "not reported (statements by the ended keys stay trusted)".into())
            ));
        }
    }
    out(&s);
    Ok(())
}

/// Notes how far behind the ledger each witness is, as far as `publish`/`serve
/// --witness-policy` last learnt (LEDGER/witness-sizes; nothing when no witness was asked).
fn witness_lag(dir: &Path, l: &Ledger) -> Res {
    let known = accord::witnessing::KnownSizes::load(&dir.join(accord::witnessing::SIZES_FILE));
    let size = l.size().map_err(|e| super::fail::ledger(e, 2))?;
    for (vkey, n) in known.entries() {
        let name = vkey.split('+').next().unwrap_or(vkey);
        let lag = match size.saturating_sub(n) {
            0 => "up to date".to_string(),
            1 => "1 entry behind".to_string(),
            k => format!("{k} entries behind"),
        };
        note!(
            "witness {}: last known to have cosigned size {n}; the ledger is at size {size} ({lag})",
            shown(name)
        );
    }
    Ok(())
}

pub(super) fn status(
    dir: &Path,
    norm: Option<&str>,
    org: Option<&str>,
    at: Option<&str>,
    all: bool,
    json: bool,
) -> Res {
    if let Some(n) = norm {
        known_norm(n)?;
    }
    let at = match at {
        Some(d) => time::parse_date(d).map_err(|e| Fail::usage(e).context("--at"))?,
        None => accord::clock::now(),
    };
    let l = open_ro(dir)?;
    let (org, registered) = match org {
        Some(o) => {
            let (org, reg) = known_org(&l, o)?;
            (Some(org), Some(reg))
        }
        None => (None, None),
    };
    let mut rows = read(&l, |r| report::attestation_status(r, at))?;
    rows.retain(|a| {
        (all || a.state == "live")
            && norm.is_none_or(|n| a.norms.iter().any(|x| x == n))
            && org.as_ref().is_none_or(|o| &a.org == o)
    });
    if json {
        return out_json(&rows);
    }
    witness_lag(dir, &l)?;
    let what = format!(
        "{}attestations{} at {}",
        if all { "" } else { "live " },
        norm.map(|n| format!(" of {n}")).unwrap_or_default(),
        time::format(at)
    );
    if rows.is_empty() {
        match &registered {
            Some(r) => note!("{} has no {what}", org_heading(r)),
            None => note!("no {what}"),
        }
        return Ok(());
    }
    let mut s = String::new();
    if let Some(r) = &registered {
        s.push_str(&format!("{}: {what}\n", org_heading(r)));
    }
    for a in &rows {
        s.push_str(&format!(
            "{:>6}  {:<20}  {:<10}  {}  for {}{}  [key {}{}]\n",
            a.index,
            shown(&a.org_name),
            a.state,
            a.norms.join(", "),
            shown_join(&a.scope, "; "),
            a.expires
                .as_ref()
                .map(|e| format!(" (until {e})"))
                .unwrap_or_default(),
            &a.kid[..16],
            if a.recovery_key_committed {
                ""
            } else {
                "; no recovery key"
            }
        ));
    }
    out(&s);
    Ok(())
}

pub(super) fn norms(json: bool) -> Res {
    let cat = Catalogue::embedded();
    if json {
        #[derive(Serialize)]
        struct N<'a> {
            id: &'a str,
            title: &'a str,
            text: &'a str,
            text_sha256: String,
            maps_to: &'a [String],
            deprecated: bool,
        }
        #[derive(Serialize)]
        struct C<'a> {
            version: u64,
            norms: Vec<N<'a>>,
        }
        let v = C {
            version: cat.version,
            norms: cat
                .norms()
                .iter()
                .map(|n| N {
                    id: n.id.as_str(),
                    title: &n.title,
                    text: &n.text,
                    text_sha256: hex::encode(n.text_hash()),
                    maps_to: &n.maps_to,
                    deprecated: n.deprecated,
                })
                .collect(),
        };
        return out_json(&v);
    }
    let mut s = format!("norms catalogue v{}\n\n", cat.version);
    for n in cat.norms() {
        s.push_str(&format!(
            "{}{}\n    {}\n    maps to: {}\n",
            n.id,
            if n.deprecated { " (deprecated)" } else { "" },
            n.text,
            n.maps_to.join(", ")
        ));
    }
    out(&s);
    Ok(())
}

pub(super) fn history(dir: &Path, org: &str, json: bool) -> Res {
    let l = open_ro(dir)?;
    let (org, registered) = known_org(&l, org)?;
    let views = read(&l, |r| {
        let mut names = report::Names::default();
        let mut v = Vec::new();
        for i in r.org_entries(&org)? {
            let b = r.entry(i)?.unwrap_or_default();
            v.push(report::entry_view_named(r, i, &b, &mut names)?);
        }
        Ok(v)
    })?;
    if json {
        return out_json(&views);
    }
    let mut s = format!(
        "{}: registered at entry {}; {} entries\n",
        org_heading(&registered),
        registered.index,
        views.len()
    );
    for v in &views {
        s.push_str(&entry_line(v));
        s.push('\n');
    }
    out(&s);
    Ok(())
}

/// `accord checkpoint`: the latest signed checkpoint, as a C2SP signed note.
pub(super) fn checkpoint(dir: &Path) -> Res {
    let l = open_ro(dir)?;
    let (_, note) = l.latest_checkpoint().map_err(|e| fail::ledger(e, 1))?;
    out(&String::from_utf8_lossy(&note));
    Ok(())
}

/// `accord ledger-key`: the verifier key recorded at init.
pub(super) fn ledger_key(dir: &Path) -> Res {
    let l = open_ro(dir)?;
    out(&format!(
        "{}\n",
        l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?
    ));
    Ok(())
}

/// `accord orgs`: every organisation, with its name as registered, its domain (self-asserted),
/// its current key, whether it can recover, its registration, entries and pledges in force.
pub(super) fn orgs(dir: &Path, json: bool) -> Res {
    let l = open_ro(dir)?;
    let orgs = read(&l, |r| report::organisations(r, accord::clock::now()))?;
    if json {
        return out_json(&orgs);
    }
    if orgs.is_empty() {
        note!("no organisation is registered in this ledger");
        return Ok(());
    }
    let mut s = String::new();
    for o in &orgs {
        s.push_str(&format!(
            "{}{}\n    registered at entry {}; {} entries; {} pledges in force; key {}; {}\n",
            shown(&o.org_name),
            o.domain
                .as_ref()
                .map(|d| format!(" ({}, self-asserted)", shown(d)))
                .unwrap_or_else(|| " (self-asserted)".into()),
            o.registration,
            o.entries,
            o.live_pledges,
            if o.current_keys.is_empty() {
                "none (revoked)".to_string()
            } else {
                o.current_keys
                    .iter()
                    .map(|k| k[..16].to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if o.recovery_key_committed {
                "recovery key committed"
            } else {
                "NO recovery key (cannot recover from a lost or stolen key)"
            }
        ));
    }
    out(&s);
    Ok(())
}

/// The organisation a user named (`--org`): its normalised name and registration. A name that
/// no organisation registered is a usage error (exit 2), with the registered names close to it
/// as a hint, in `list`, `status` and `history` alike (issue 12).
pub(super) fn known_org(l: &Ledger, given: &str) -> Res<(String, Registered)> {
    let org = statement::normalise_org(given).map_err(|e| Fail::usage(e).context("--org"))?;
    let found = read(l, |r| {
        if r.org(&org)?.is_some() {
            let reg = report::Names::default().get(r, &org)?;
            Ok(Ok(reg))
        } else {
            Ok(Err(report::close_orgs(r, given, 5)?))
        }
    })?;
    match found {
        Ok(reg) => Ok((org, reg)),
        Err(close) => {
            let hint = if close.is_empty() {
                "accord orgs lists the registered organisations".to_string()
            } else {
                format!(
                    "registered names close to it: {} (accord orgs lists them all)",
                    close.iter().map(|n| quoted(n)).collect::<Vec<_>>().join(", ")
                )
            };
            Err(Fail::usage(anyhow!(
                "no organisation {:?} is registered in this ledger",
                shown(given)
            ))
            .hint(hint))
        }
    }
}

/// A norm a user named (`--norm`): an unknown one is a usage error (exit 2), with the closest
/// id and where to find them all.
pub(super) fn known_norm(id: &str) -> Res {
    Catalogue::embedded().resolve(id).map(drop).map_err(|e| {
        Fail::usage(e)
            .context("--norm")
            .hint("accord norms lists the catalogue")
    })
}

/// An organisation as a heading: its name as registered, and its domain, self-asserted.
pub(super) fn org_heading(r: &Registered) -> String {
    format!(
        "{} ({})",
        shown(&r.name),
        match &r.domain {
            Some(d) => format!("{}, self-asserted", shown(d)),
            None => "self-asserted, no domain".into(),
        }
    )
}

/// `accord checkpoints`: every signed checkpoint the ledger holds, with the log time of the
/// last entry of its tree (a checkpoint note carries no time of its own).
pub(super) fn checkpoints(dir: &Path, json: bool) -> Res {
    let l = open_ro(dir)?;
    let cps = read(&l, report::checkpoints)?;
    if json {
        return out_json(&cps);
    }
    let mut s = format!("{:>8}  {:<20}  root\n", "size", "time of last entry");
    for c in &cps {
        s.push_str(&format!(
            "{:>8}  {:<20}  {}\n",
            c.size,
            c.logged_at.as_deref().unwrap_or("-"),
            c.root
        ));
    }
    s.push_str(
        "(a checkpoint note carries no time: the time shown is the log time of the last entry in its tree)\n",
    );
    out(&s);
    Ok(())
}
