//! The audit trail: an append-only, hash-chained log of every action on the vault.
//!
//! Each entry records when, on which device, what action, and which client code and
//! object it touched — identifiers only, never clinical text or names. Entry *n* stores
//! the SHA-256 of entry *n−1* (`prev_hash`) and its own hash over a canonical encoding of
//! all its fields, so changing, removing or inserting any entry breaks the chain. Triggers
//! refuse UPDATE and DELETE on the table. The chain head (count and last hash) is also kept
//! in the identity store, written in the same atomic transaction, so even rewriting the
//! whole chain inside the clinical store is caught.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What was done. The text form (e.g. `note.finalise`) is what the log stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    VaultInit,
    VaultUnlock,
    VaultUnlockFailed,
    VaultRecover,
    VaultStatus,
    KeysShow,
    ClientCreate,
    ClientList,
    ClientRead,
    ClientClose,
    AppointmentCreate,
    AppointmentList,
    AppointmentMark,
    AppointmentCancel,
    AppointmentDelete,
    AppointmentSeriesCreate,
    AppointmentMove,
    SessionStart,
    SessionEnd,
    SessionExtend,
    NoteCreate,
    NoteUpdate,
    NoteFinalise,
    NoteDiscard,
    NoteAddendum,
    NoteRead,
    NoteList,
    ProcessNoteCreate,
    ProcessNoteList,
    MeasureCreate,
    MeasureList,
    Search,
    AuditList,
    AuditVerify,
    AuditExport,
    BackupCreate,
    BackupVerify,
    BackupPrune,
    BackupRestore,
    BackupSettings,
    CalendarPreview,
    CalendarImport,
    CalendarRefresh,
    CalendarFeedSet,
    CalendarFeedSettings,
    CalendarFeedRemove,
    RetentionPolicySet,
    PracticeSet,
    RetentionReview,
    RetentionExtend,
    ClientErase,
    ClientEdit,
    ClientHistory,
    AccessRequestCreate,
    AccessRequestList,
    AccessRequestClose,
    SupervisionExport,
    VaultExport,
    VaultImport,
    ErasureList,
    ServerConnect,
    ServerDisconnect,
    ServerTotp,
    ServerAccountDelete,
    SyncApply,
    SyncConflicts,
    SyncResolve,
    SyncEnable,
    SyncRevoke,
    SyncDisable,
    SyncRename,
    SyncPair,
    SyncRekey,
    DeviceReidentify,
}

impl Action {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        use Action::*;
        match self {
            VaultInit => "vault.init",
            BackupCreate => "backup.create",
            BackupVerify => "backup.verify",
            BackupPrune => "backup.prune",
            BackupRestore => "backup.restore",
            BackupSettings => "backup.settings",
            CalendarPreview => "calendar.preview",
            CalendarImport => "calendar.import",
            CalendarRefresh => "calendar.refresh",
            CalendarFeedSet => "calendar.feed_set",
            CalendarFeedSettings => "calendar.feed_settings",
            CalendarFeedRemove => "calendar.feed_remove",
            RetentionPolicySet => "retention.policy_set",
            PracticeSet => "practice.set",
            RetentionReview => "retention.review",
            RetentionExtend => "retention.extend",
            ClientErase => "client.erase",
            ClientEdit => "client.edit",
            ClientHistory => "client.history",
            AccessRequestCreate => "sar.create",
            AccessRequestList => "sar.list",
            AccessRequestClose => "sar.close",
            SupervisionExport => "supervision.export",
            VaultExport => "vault.export",
            VaultImport => "vault.import",
            ErasureList => "erasure.list",
            ServerConnect => "server.connect",
            ServerDisconnect => "server.disconnect",
            ServerTotp => "server.totp",
            ServerAccountDelete => "server.account_delete",
            SyncApply => "sync.apply",
            SyncConflicts => "sync.conflicts",
            SyncResolve => "sync.resolve",
            SyncEnable => "sync.enable",
            SyncRevoke => "sync.revoke",
            SyncDisable => "sync.disable",
            SyncRename => "sync.rename",
            SyncPair => "sync.pair",
            SyncRekey => "sync.rekey",
            DeviceReidentify => "device.reidentify",
            VaultUnlock => "vault.unlock",
            VaultUnlockFailed => "vault.unlock_failed",
            VaultRecover => "vault.recover",
            VaultStatus => "vault.status",
            KeysShow => "keys.show",
            ClientCreate => "client.create",
            ClientList => "client.list",
            ClientRead => "client.read",
            ClientClose => "client.close",
            AppointmentCreate => "appointment.create",
            AppointmentList => "appointment.list",
            AppointmentMark => "appointment.mark",
            AppointmentCancel => "appointment.cancel",
            AppointmentDelete => "appointment.delete",
            AppointmentSeriesCreate => "appointment.series_create",
            AppointmentMove => "appointment.move",
            SessionStart => "session.start",
            SessionEnd => "session.end",
            SessionExtend => "session.extend",
            NoteCreate => "note.create",
            NoteUpdate => "note.update",
            NoteFinalise => "note.finalise",
            NoteDiscard => "note.discard",
            NoteAddendum => "note.addendum",
            NoteRead => "note.read",
            NoteList => "note.list",
            ProcessNoteCreate => "process_note.create",
            ProcessNoteList => "process_note.list",
            MeasureCreate => "measure.create",
            MeasureList => "measure.list",
            Search => "search",
            AuditList => "audit.list",
            AuditVerify => "audit.verify",
            AuditExport => "audit.export",
        }
    }
}

/// One line of the audit trail.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub seq: i64,
    /// RFC 3339 UTC time.
    pub at: String,
    pub device_id: String,
    pub action: String,
    pub client_code: Option<String>,
    pub object_id: Option<String>,
    /// Non-clinical detail such as a count or a template name; never free text from a user.
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// An entry as a computer sends it to the practice's others: every field but the two chain
/// hashes, which the receiver computes from the entry it already holds before it
/// ([`crate::Vault::audit_apply_sent`]). The blob that carries it is signed by its writer
/// and chained to the blob before, so the hashes would add ~130 bytes to every blob and
/// nothing a forger could not also compute; the numbers must still follow on one by one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SentEntry {
    #[serde(rename = "n")]
    pub seq: i64,
    pub at: String,
    #[serde(rename = "d")]
    pub device_id: String,
    #[serde(rename = "a")]
    pub action: String,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub client_code: Option<String>,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<&AuditEntry> for SentEntry {
    fn from(e: &AuditEntry) -> Self {
        SentEntry {
            seq: e.seq,
            at: e.at.clone(),
            device_id: e.device_id.clone(),
            action: e.action.clone(),
            client_code: e.client_code.clone(),
            object_id: e.object_id.clone(),
            detail: e.detail.clone(),
        }
    }
}

impl SentEntry {
    /// The whole entry, linked after the entry whose hash is `prev_hash`.
    pub(crate) fn linked_after(&self, prev_hash: &str) -> AuditEntry {
        let mut e = AuditEntry {
            seq: self.seq,
            at: self.at.clone(),
            device_id: self.device_id.clone(),
            action: self.action.clone(),
            client_code: self.client_code.clone(),
            object_id: self.object_id.clone(),
            detail: self.detail.clone(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }
}

/// The fields an action fills in about itself.
#[derive(Default, Debug, Clone)]
pub struct Target {
    pub client_code: Option<String>,
    pub object_id: Option<String>,
    pub detail: Option<String>,
}

impl AuditEntry {
    /// The canonical encoding that is hashed: a JSON array of every field but `hash`.
    fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(&(
            self.seq,
            &self.at,
            &self.device_id,
            &self.action,
            &self.client_code,
            &self.object_id,
            &self.detail,
            &self.prev_hash,
        ))
        .unwrap_or_default()
    }

    pub(crate) fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical()))
    }
}

pub(crate) fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        device_id: r.get(2)?,
        action: r.get(3)?,
        client_code: r.get(4)?,
        object_id: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

pub(crate) const COLUMNS: &str =
    "seq, at, device_id, action, client_code, object_id, detail, prev_hash, hash";

/// Appends one entry inside the caller's transaction and moves the chain head.
pub(crate) fn append(
    conn: &Connection,
    device_id: &str,
    action: &str,
    at: &str,
    target: &Target,
) -> Result<AuditEntry> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS.to_string()));
    let mut entry = AuditEntry {
        seq: prev_seq + 1,
        at: at.to_string(),
        device_id: device_id.to_string(),
        action: action.to_string(),
        client_code: target.client_code.clone(),
        object_id: target.object_id.clone(),
        detail: target.detail.clone(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    conn.execute(
        &format!("INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            entry.seq,
            entry.at,
            entry.device_id,
            entry.action,
            entry.client_code,
            entry.object_id,
            entry.detail,
            entry.prev_hash,
            entry.hash
        ],
    )?;
    conn.execute(
        "INSERT INTO identity.audit_head (id, count, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET count = excluded.count, hash = excluded.hash",
        params![entry.seq, entry.hash],
    )?;
    Ok(entry)
}

/// Whether the last entry of the chain is the one the identity store's head records.
/// Cheap (two indexed reads): checked before every write so that no new entry can paper
/// over entries cut from the end or a rewritten chain.
pub(crate) fn head_matches(conn: &Connection) -> Result<bool> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let head: Option<(i64, String)> = conn
        .query_row(
            "SELECT count, hash FROM identity.audit_head WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(last == head)
}

/// Filters for listing and exporting the trail.
#[derive(Default, Debug, Clone)]
pub struct AuditFilter {
    pub client_code: Option<String>,
    /// Exact action name, or a prefix ending in `.` (e.g. `note.`).
    pub action: Option<String>,
    /// Inclusive lower bound, RFC 3339 or YYYY-MM-DD.
    pub since: Option<String>,
    /// Exclusive upper bound, RFC 3339 or YYYY-MM-DD.
    pub until: Option<String>,
    pub limit: Option<usize>,
}

/// The `WHERE` conditions (after `WHERE 1 = 1`) and their arguments for `filter`.
pub(crate) fn conditions(filter: &AuditFilter) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut args: Vec<String> = Vec::new();
    if let Some(c) = &filter.client_code {
        args.push(c.clone());
        sql += &format!(" AND client_code = ?{}", args.len());
    }
    if let Some(a) = &filter.action {
        if a.ends_with('.') {
            args.push(format!("{a}%"));
            sql += &format!(" AND action LIKE ?{}", args.len());
        } else {
            args.push(a.clone());
            sql += &format!(" AND action = ?{}", args.len());
        }
    }
    if let Some(s) = &filter.since {
        args.push(s.clone());
        sql += &format!(" AND at >= ?{}", args.len());
    }
    if let Some(u) = &filter.until {
        args.push(u.clone());
        sql += &format!(" AND at < ?{}", args.len());
    }
    (sql, args)
}

/// Entries matching `filter` — this computer's and, after sync, the practice's other
/// computers' ([`crate::audit_devices`]) — oldest first, in time order. With a limit, the
/// newest that many.
pub(crate) fn list(conn: &Connection, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
    let (cond, args) = conditions(filter);
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1{cond} ORDER BY seq DESC");
    if let Some(l) = filter.limit {
        sql += &format!(" LIMIT {l}");
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row_to_entry)?;
    let mut entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // Newest `limit` were taken; show them oldest first.
    entries.reverse();
    let mut shown: std::collections::HashSet<String> =
        entries.iter().map(|e| e.hash.clone()).collect();
    let others = crate::audit_devices::list(conn, filter, &mut shown)?;
    if !others.is_empty() {
        entries.extend(others);
        // Stable: this computer's entries within one second keep their order.
        entries.sort_by(|a, b| a.at.cmp(&b.at));
        if let Some(l) = filter.limit
            && entries.len() > l
        {
            entries.drain(..entries.len() - l);
        }
    }
    Ok(entries)
}

/// Writes entries as CSV (one header row, then one row per entry, oldest first): what
/// `casebook audit export` and the app's "Export CSV" produce. Every cell is kept from
/// running as a spreadsheet formula ([`crate::spreadsheet`]).
pub fn write_csv(entries: &[AuditEntry], w: impl std::io::Write) -> Result<()> {
    let fail = |e: csv::Error| CoreError::Io {
        path: "audit export".into(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut out = crate::spreadsheet::writer(w);
    out.write_record([
        "seq",
        "at",
        "device_id",
        "action",
        "client_code",
        "object_id",
        "detail",
        "prev_hash",
        "hash",
    ])
    .map_err(fail)?;
    for e in entries {
        let seq = e.seq.to_string();
        out.write_record(
            [
                seq.as_str(),
                &e.at,
                &e.device_id,
                &e.action,
                e.client_code.as_deref().unwrap_or(""),
                e.object_id.as_deref().unwrap_or(""),
                e.detail.as_deref().unwrap_or(""),
                &e.prev_hash,
                &e.hash,
            ]
            .map(crate::spreadsheet::cell)
            .iter()
            .map(|c| c.as_ref()),
        )
        .map_err(fail)?;
    }
    out.flush().map_err(|e| fail(e.into()))?;
    Ok(())
}

/// The result of walking the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    /// Entries checked.
    pub entries: i64,
    /// The hash at the end of the chain.
    pub head_hash: String,
    /// The practice's other computers' chains held here, each verified entry by entry.
    pub devices: Vec<crate::audit_devices::RemoteChain>,
}

/// Walks the whole chain and checks it against the head kept in the identity store.
/// The error names the first entry that was altered, removed or inserted.
pub(crate) fn verify(conn: &Connection) -> Result<Verification> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS.to_string();
    while let Some(row) = rows.next()? {
        let e = row_to_entry(row)?;
        if e.seq > expected_seq {
            let what = if e.seq == expected_seq + 1 {
                format!("entry #{expected_seq} was removed")
            } else {
                format!("entries #{expected_seq}–#{} were removed", e.seq - 1)
            };
            return Err(CoreError::AuditBroken(what));
        }
        if e.compute_hash() != e.hash {
            // An entry slipped in earlier shifts the numbers of those after it.
            let shifted = AuditEntry {
                seq: e.seq - 1,
                ..e.clone()
            };
            if shifted.compute_hash() == e.hash {
                return Err(CoreError::AuditBroken(format!(
                    "an entry was inserted at #{}: the entry now numbered #{} was written as #{}",
                    e.seq - 1,
                    e.seq,
                    e.seq - 1
                )));
            }
            return Err(CoreError::AuditBroken(format!(
                "entry #{} was altered (its contents do not match its hash)",
                e.seq
            )));
        }
        if e.prev_hash != prev_hash {
            return Err(CoreError::AuditBroken(format!(
                "entry #{} does not follow entry #{}: an entry was inserted or replaced there",
                e.seq,
                e.seq - 1
            )));
        }
        prev_hash = e.hash;
        expected_seq += 1;
    }
    let count = expected_seq - 1;
    let head: Option<(i64, String)> = conn
        .query_row(
            "SELECT count, hash FROM identity.audit_head WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match head {
        None if count == 0 => {}
        None => {
            return Err(CoreError::AuditBroken(
                "the chain head kept in the identity store is missing".into(),
            ));
        }
        Some((n, _)) if n > count => {
            return Err(CoreError::AuditBroken(format!(
                "entries #{}–#{n} were removed from the end (the chain head records {n} entries)",
                count + 1
            )));
        }
        Some((n, _)) if n < count => {
            return Err(CoreError::AuditBroken(format!(
                "entry #{} was inserted after the recorded chain head (#{n})",
                n + 1
            )));
        }
        Some((_, h)) if h != prev_hash => {
            return Err(CoreError::AuditBroken(
                "the chain was rewritten: its last hash differs from the head kept in the identity store".into(),
            ));
        }
        Some(_) => {}
    }
    Ok(Verification {
        entries: count,
        head_hash: prev_hash,
        devices: crate::audit_devices::verify_all(conn)?,
    })
}
