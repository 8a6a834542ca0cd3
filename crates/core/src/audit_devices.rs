//! Other computers' audit trails. Each computer keeps its own hash chain (`audit_log`, see
//! [`crate::audit`]); the sync engine carries it to the practice's other computers, where it
//! is kept read-only in `audit_remote` — one chain per sending computer — after each entry is
//! verified to extend what is held (its number, its link to the entry before, its own hash).
//! `audit verify` walks every chain and names the computer and entry that fails; `audit list`
//! shows every computer's entries in time order.
//!
//! A computer's log on the server is cut below its checkpoints, and the audit entries sealed
//! there go with it: a computer that starts that chain at a checkpoint holds it from the
//! checkpoint's mark on ([`Vault::audit_restart`]), and verifies every entry after the mark
//! against it. The writer itself, and every computer that was there before the cut, hold
//! the whole chain.
//!
//! A chain begins with the history of the vault it was copied from (a computer set up from a
//! backup carries the first computer's entries up to that backup); those entries are the same
//! bytes, with the same hashes, as the first computer's own, and are shown once.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::audit::{AuditEntry, COLUMNS, GENESIS, SentEntry, row_to_entry};
use crate::error::{CoreError, Result};
use crate::vault::Vault;

/// One other computer's chain as verified here.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RemoteChain {
    /// The computer that sent it.
    pub device: String,
    pub entries: i64,
    pub head_hash: String,
    /// Entries cut from that computer's log before this one read them (it started the chain
    /// at a checkpoint's mark): held and verified from the entry after the last such gap.
    pub missing_before: i64,
}

/// Checks that `e` is entry number `seq` of a chain whose last hash is `prev`.
fn check_link(e: &AuditEntry, seq: i64, prev: &str) -> std::result::Result<(), String> {
    if e.seq != seq {
        return Err(format!(
            "entry #{seq} is missing (found #{} instead)",
            e.seq
        ));
    }
    if e.prev_hash != prev {
        return Err(format!("entry #{seq} does not follow entry #{}", seq - 1));
    }
    if e.compute_hash() != e.hash {
        return Err(format!(
            "entry #{seq} was altered (its contents do not match its hash)"
        ));
    }
    Ok(())
}

fn mark_key(device: &str) -> String {
    format!("audit-start/{device}")
}

/// Where `device`'s chain starts again here (entries up to each were compacted away before
/// this computer had them): seq → hash. More than one when this computer was away through
/// more than one cut.
fn restart_marks(conn: &Connection, device: &str) -> Result<BTreeMap<i64, String>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM main.sync_state WHERE key = ?1",
            [mark_key(device)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text
        .unwrap_or_default()
        .split(';')
        .filter_map(|m| {
            let (seq, hash) = m.split_once(' ')?;
            Some((seq.parse().ok()?, hash.to_string()))
        })
        .collect())
}

/// The last entry held of `device`'s chain, or its restart mark past it: (seq, hash).
fn last(conn: &Connection, device: &str) -> Result<(i64, String)> {
    let held: (i64, String) = conn
        .query_row(
            "SELECT seq, hash FROM main.audit_remote WHERE chain = ?1 ORDER BY seq DESC LIMIT 1",
            [device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    Ok(match restart_marks(conn, device)?.pop_last() {
        Some(mark) if mark.0 > held.0 => mark,
        _ => held,
    })
}

impl Vault {
    /// This computer's own audit entries after `after` (a seq), oldest first, at most `limit`:
    /// what the sync engine sends next. Not an action on a record, so not audited.
    pub fn audit_outgoing(&self, after: i64, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM main.audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![after, limit as i64], row_to_entry)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The last entry held here of another computer's audit trail (or its restart mark past
    /// it): (seq, hash); `None` when none is held. What a checkpoint names, so a computer that
    /// takes that computer's log as read from the checkpoint holds its trail from there on.
    pub fn audit_last_held(&self, device: &str) -> Result<Option<(i64, String)>> {
        let (seq, hash) = last(&self.conn, device)?;
        Ok((seq > 0).then_some((seq, hash)))
    }

    /// `device`'s chain starts again after entry `seq` (hash `hash`): the entries up to it
    /// were cut from its log before this computer read them (a checkpoint's audit mark).
    /// Nothing changes when this computer already holds the chain that far.
    pub fn audit_restart(&mut self, device: &str, seq: i64, hash: &str) -> Result<()> {
        let (held, _) = last(&self.conn, device)?;
        if held >= seq {
            return Ok(());
        }
        let mut marks = restart_marks(&self.conn, device)?;
        marks.insert(seq, hash.to_string());
        let text: Vec<String> = marks.iter().map(|(s, h)| format!("{s} {h}")).collect();
        crate::sync_state::put_state(&self.conn, &[(&mark_key(device), &text.join(";"))])?;
        Ok(())
    }

    /// Keeps entries of `device`'s chain, each verified to extend what is held here. Entries
    /// already held (the same hash at the same number) are skipped; anything else that does
    /// not extend the chain is refused whole ([`CoreError::SyncIntegrity`]), nothing kept.
    /// Returns how many were new. Applying them is not itself audited: they are the record.
    pub fn audit_apply_remote(&mut self, device: &str, entries: &[AuditEntry]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let added = keep_remote(&tx, device, entries)?;
        tx.commit()?;
        Ok(added)
    }

    /// [`Vault::audit_apply_remote`] for entries sent without their chain hashes (as sync
    /// carries them): each is linked after the entry held here before it — the first after
    /// entry `seq - 1` of `device`'s chain (or its restart mark, or the chain's start), the
    /// rest one after another — and then kept, skipped or refused exactly as a whole entry
    /// would be. An entry whose predecessor is not held here is refused as a gap.
    pub fn audit_apply_sent(&mut self, device: &str, sent: &[SentEntry]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut prev = match sent.first() {
            Some(first) => hash_before(&tx, device, first.seq)?,
            None => return Ok(0),
        };
        let mut entries = Vec::with_capacity(sent.len());
        for e in sent {
            let whole = e.linked_after(&prev);
            prev = whole.hash.clone();
            entries.push(whole);
        }
        let added = keep_remote(&tx, device, &entries)?;
        tx.commit()?;
        Ok(added)
    }
}

/// The hash entry `seq` of `device`'s chain must follow, as held here: entry `seq - 1`'s, a
/// restart mark at `seq - 1`, or the chain's start for the first entry. Nothing held (a
/// gap): a hash no entry has, so that the entry is refused as not following.
fn hash_before(conn: &Connection, device: &str, seq: i64) -> Result<String> {
    if seq == 1 {
        return Ok(GENESIS.to_string());
    }
    let held: Option<String> = conn
        .query_row(
            "SELECT hash FROM main.audit_remote WHERE chain = ?1 AND seq = ?2",
            params![device, seq - 1],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match held {
        Some(h) => h,
        None => restart_marks(conn, device)?
            .remove(&(seq - 1))
            .unwrap_or_default(),
    })
}

/// Keeps `entries` of `device`'s chain inside the caller's transaction (see
/// [`Vault::audit_apply_remote`]); returns how many were new.
fn keep_remote(tx: &Connection, device: &str, entries: &[AuditEntry]) -> Result<usize> {
    let (mut seq, mut prev) = last(tx, device)?;
    let mut added = 0;
    for e in entries {
        if e.seq <= seq {
            let held: Option<String> = tx
                .query_row(
                    "SELECT hash FROM main.audit_remote WHERE chain = ?1 AND seq = ?2",
                    params![device, e.seq],
                    |r| r.get(0),
                )
                .optional()?;
            if held.as_deref() == Some(e.hash.as_str()) && e.compute_hash() == e.hash {
                continue;
            }
            return Err(CoreError::SyncIntegrity(format!(
                "audit entry #{} of computer {device} differs from the one held",
                e.seq
            )));
        }
        check_link(e, seq + 1, &prev).map_err(|why| {
            CoreError::SyncIntegrity(format!("the audit trail of computer {device}: {why}"))
        })?;
        tx.execute(
            &format!(
                "INSERT INTO main.audit_remote (chain, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                device,
                e.seq,
                e.at,
                e.device_id,
                e.action,
                e.client_code,
                e.object_id,
                e.detail,
                e.prev_hash,
                e.hash
            ],
        )?;
        seq = e.seq;
        prev = e.hash.clone();
        added += 1;
    }
    Ok(added)
}

/// Walks every other computer's chain held here; the error names the computer and the entry.
pub(crate) fn verify_all(conn: &Connection) -> Result<Vec<RemoteChain>> {
    // Chains held, and chains started at a checkpoint's mark with no entry after it yet.
    let devices: Vec<String> = conn
        .prepare(
            "SELECT chain FROM main.audit_remote
             UNION SELECT substr(key, 13) FROM main.sync_state WHERE key LIKE 'audit-start/%'
             ORDER BY 1",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for device in devices {
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM main.audit_remote WHERE chain = ?1 ORDER BY seq"
        ))?;
        let mut rows = stmt.query([&device])?;
        let mut marks = restart_marks(conn, &device)?;
        let (mut seq, mut prev) = (0i64, GENESIS.to_string());
        let mut missing_before = 0;
        while let Some(row) = rows.next()? {
            let e = row_to_entry(row)?;
            // Entries cut before this computer had them: the chain goes on from the mark
            // just before the gap's end.
            if e.seq > seq + 1
                && let Some(h) = marks.get(&(e.seq - 1))
            {
                seq = e.seq - 1;
                prev = h.clone();
                missing_before = e.seq;
            }
            check_link(&e, seq + 1, &prev).map_err(|why| {
                CoreError::AuditBroken(format!("the trail of computer {device}: {why}"))
            })?;
            seq = e.seq;
            prev = e.hash;
        }
        if let Some((m, h)) = marks.pop_last()
            && seq < m
        {
            (seq, prev) = (m, h);
            missing_before = m + 1;
        }
        out.push(RemoteChain {
            device,
            entries: seq,
            head_hash: prev,
            missing_before,
        });
    }
    Ok(out)
}

/// Other computers' entries matching `filter` (the same filter as this computer's own),
/// without those whose hash is in `shown` (an entry carried in two chains is shown once).
pub(crate) fn list(
    conn: &Connection,
    filter: &crate::audit::AuditFilter,
    shown: &mut std::collections::HashSet<String>,
) -> Result<Vec<AuditEntry>> {
    let (cond, args) = crate::audit::conditions(filter);
    let mut sql = format!(
        "SELECT {COLUMNS} FROM main.audit_remote WHERE 1 = 1{cond} ORDER BY at DESC, seq DESC"
    );
    if let Some(l) = filter.limit {
        sql += &format!(" LIMIT {l}");
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row_to_entry)?;
    let mut out = Vec::new();
    for e in rows {
        let e = e?;
        if shown.insert(e.hash.clone()) {
            out.push(e);
        }
    }
    Ok(out)
}
