//! Changes between devices: the row changes this device sends ([`outgoing`]) and the merge
//! that applies another device's ([`apply`]), by the rules in `docs/sync.md` ("Merge rules").
//!
//! Every rule is order-independent, so devices that have seen the same changes hold the same
//! records whatever order they arrived in, and applying a change twice changes nothing:
//!
//! * fields: last writer wins **per field**, by (stamp, device) — each field's stamp is kept in
//!   `sync_stamps`; the losing value, when it differs, is kept in `sync_conflicts`;
//! * `deleted` only ever goes from 0 to 1 (a delete wins over a concurrent edit; the edit is
//!   applied underneath and kept as a conflict, so it can be restored);
//! * a finalised note wins over draft edits (they become `edit_after_final` conflicts, to be
//!   added as an addendum); two concurrent finalisations: the later one wins, the other kept;
//! * immutable rows (addenda, measures, identity history, erasure records): the same row again
//!   is a no-op, a different one is an integrity alarm and nothing of the batch is applied;
//! * erasure absorbs everything: an erasure record erases the client here, and any change for
//!   an erased client, arriving later from anywhere, is dropped.
//!
//! The core knows nothing of the network: the sync engine carries [`RowChange`]s in blobs.

use std::collections::BTreeMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::Action;
use crate::changes::columns;
use crate::error::{CoreError, Result};
use crate::hlc::{self, Hlc, Observed};
use crate::registry::{self, Merge, Sharing, Store, Table};
use crate::vault::Vault;

/// Upsert or delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Upsert,
    Delete,
}

/// One row change as it travels between devices (inside an encrypted, signed blob).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowChange {
    /// The table (must be synced).
    pub t: String,
    /// The row's key.
    pub k: String,
    pub op: ChangeOp,
    /// The write's stamp.
    pub hlc: String,
    /// The device that wrote it.
    pub d: String,
    /// The fields written, with their values (a new row: every field).
    #[serde(default)]
    pub f: BTreeMap<String, Value>,
    /// For an update: each field's stamp before the write (`hlc device`), so the receiver
    /// can tell an overwrite of the value it holds from a concurrent edit (a conflict).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub b: BTreeMap<String, String>,
    /// Fields written earlier than `hlc`, with their own stamps (`hlc`, or `hlc device` when
    /// another device wrote them: a checkpoint carries every field as it was written).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub s: BTreeMap<String, String>,
}

impl RowChange {
    /// The stamp of the write that made `field`'s value.
    fn stamp(&self, field: &str, hlc: Hlc) -> Hlc {
        self.s
            .get(field)
            .and_then(|s| Hlc::parse(s.split(' ').next()?))
            .unwrap_or(hlc)
    }

    /// The device whose write made `field`'s value.
    fn writer(&self, field: &str) -> &str {
        self.s
            .get(field)
            .and_then(|s| s.split_once(' '))
            .map_or(self.d.as_str(), |(_, d)| d)
    }
}

/// This device's changes to send, and the capture mark they reach.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub changes: Vec<RowChange>,
    /// The last `sync_changes` seq read: the next batch starts after it.
    pub upto: i64,
}

/// Where applied changes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Another device's log: edits, in the order they were made.
    Log,
    /// A checkpoint: the whole synced state of another device (`crate::checkpoint`).
    Checkpoint,
}

/// What applying a batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Rows created or changed.
    pub applied: usize,
    /// Changes already here (applied twice, or an older value that lost).
    pub unchanged: usize,
    /// Changes for erased clients, dropped.
    pub dropped: usize,
    /// Values kept in `sync_conflicts`.
    pub conflicts: usize,
    /// Changes stamped more than 5 minutes ahead of this device's clock: (device, ms ahead).
    pub ahead: Vec<(String, i64)>,
}

pub(crate) fn to_json(v: SqlValue) -> Result<Value> {
    Ok(match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(f) => Value::from(f),
        SqlValue::Text(s) => Value::String(s),
        SqlValue::Blob(_) => {
            return Err(CoreError::Corrupt("a synced field holds bytes".into()));
        }
    })
}

pub(crate) fn to_sql(v: &Value) -> Result<SqlValue> {
    Ok(match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        _ => {
            return Err(CoreError::SyncIntegrity(
                "a field value is not a plain value".into(),
            ));
        }
    })
}

type Row = BTreeMap<String, Value>;

pub(crate) fn read_row(conn: &Connection, t: &Table, key: &str) -> Result<Option<Row>> {
    let cols = columns(conn, t)?;
    let sql = format!("SELECT * FROM {} WHERE \"{}\" = ?1", t.qualified(), t.key);
    let row = conn
        .prepare_cached(&sql)?
        .query_row([key], |r| {
            let mut m = Row::new();
            for (i, c) in cols.iter().enumerate() {
                m.insert(c.clone(), Value::Null);
                let v: SqlValue = r.get(i)?;
                m.insert(c.clone(), to_json(v).unwrap_or(Value::Null));
            }
            Ok(m)
        })
        .optional()?;
    Ok(row)
}

fn stamp_of(conn: &Connection, t: &Table, key: &str, field: &str) -> Result<Option<(Hlc, String)>> {
    let row: Option<(String, String)> = conn
        .prepare_cached(&format!(
            "SELECT hlc, device_id FROM {}.sync_stamps WHERE tbl = ?1 AND row_key = ?2 AND field IN (?3, '*')
             ORDER BY hlc DESC, device_id DESC LIMIT 1",
            t.store.schema()
        ))?
        .query_row(
            params![t.name, key, field],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(h, d)| Hlc::parse(&h).map(|h| (h, d))))
}

fn set_stamp(
    conn: &Connection,
    t: &Table,
    key: &str,
    field: &str,
    hlc: Hlc,
    device: &str,
) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO {}.sync_stamps (tbl, row_key, field, hlc, device_id) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tbl, row_key, field) DO UPDATE SET hlc = excluded.hlc, device_id = excluded.device_id
         WHERE (excluded.hlc, excluded.device_id) > (hlc, device_id)",
        t.store.schema()
    ))?
    .execute(params![t.name, key, field, hlc.to_string(), device])?;
    Ok(())
}

/// Whether a table has the `hlc` and `device_id` bookkeeping columns.
pub(crate) fn stamped(cols: &[String]) -> bool {
    cols.iter().any(|c| c == "hlc") && cols.iter().any(|c| c == "device_id")
}

pub(crate) const BOOKKEEPING: &[&str] = &["hlc", "device_id"];

/// Fields every edit writes by itself (when the row last changed): the newer value wins with
/// no conflict kept — two edits on two computers always differ there, and the therapist has
/// nothing to choose.
const SELF_WRITTEN: &[&str] = &["updated_at"];

/// The changes captured in `store` after `after` (a `sync_changes` seq), as row changes to
/// send, each with the seq of the last capture it covers. Several captures of one row send
/// it once, with its current values; each value travels with the stamp of the write that
/// made it (`hlc` the newest, `s` the older ones), so a receiver merges exactly what was
/// written when. Fields whose latest value came from another device are left out (that
/// device sends them); a finalised note travels whole, stamped with its finalisation.
pub fn outgoing(
    conn: &Connection,
    store: Store,
    after: i64,
    limit: usize,
    device_id: &str,
    clock: Hlc,
) -> Result<Vec<(i64, RowChange)>> {
    enum Item {
        Delete(i64, String, String, String),
        Row(String, String),
    }
    struct Acc {
        last_seq: i64,
        all: bool,
        fields: Vec<String>,
        bases: BTreeMap<String, String>,
    }
    let mut order: Vec<Item> = Vec::new();
    let mut rows: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for c in crate::changes::pending(conn, store, after, limit)? {
        if registry::table(store, &c.table)
            .filter(|t| t.captured())
            .is_none()
        {
            continue;
        }
        if c.op == "delete" {
            let hlc = c.hlc.clone().unwrap_or_else(|| clock.to_string());
            order.push(Item::Delete(c.seq, c.table, c.key, hlc));
            continue;
        }
        let id = (c.table.clone(), c.key.clone());
        let acc = rows.entry(id).or_insert_with(|| {
            order.push(Item::Row(c.table.clone(), c.key.clone()));
            Acc {
                last_seq: c.seq,
                all: false,
                fields: Vec::new(),
                bases: BTreeMap::new(),
            }
        });
        acc.last_seq = c.seq;
        match &c.fields {
            None => acc.all = true,
            Some(fields) => {
                for f in fields {
                    if !acc.fields.contains(f) {
                        acc.fields.push(f.clone());
                    }
                }
            }
        }
        for (f, base) in c.bases {
            // What the sender had seen before its first edit in this batch.
            acc.bases.entry(f).or_insert(base);
        }
    }
    let mut out = Vec::new();
    for item in order {
        let (table, key) = match item {
            Item::Delete(seq, t, k, hlc) => {
                out.push((
                    seq,
                    RowChange {
                        t,
                        k,
                        op: ChangeOp::Delete,
                        hlc,
                        d: device_id.into(),
                        f: Row::new(),
                        b: BTreeMap::new(),
                        s: BTreeMap::new(),
                    },
                ));
                continue;
            }
            Item::Row(t, k) => (t, k),
        };
        let Some(acc) = rows.remove(&(table.clone(), key.clone())) else {
            continue;
        };
        let Some(t) = registry::table(store, &table) else {
            continue;
        };
        let Some(row) = read_row(conn, t, &key)? else {
            continue;
        };
        let cols = columns(conn, t)?;
        let has_stamps = stamped(&cols);
        let final_note =
            t.name == "session_notes" && row.get("status") == Some(&Value::from("final"));
        let whole = acc.all || final_note;
        let wanted: Vec<String> = if whole {
            cols.iter()
                .filter(|c| !BOOKKEEPING.contains(&c.as_str()) && **c != t.key)
                .cloned()
                .collect()
        } else {
            acc.fields.into_iter().filter(|f| *f != t.key).collect()
        };
        let mut f = Row::new();
        let mut stamps: BTreeMap<String, Hlc> = BTreeMap::new();
        for field in wanted {
            let Some(v) = row.get(&field) else { continue };
            let stamp = if has_stamps {
                match stamp_of(conn, t, &key, &field)? {
                    Some((_, by)) if by != device_id && !whole => continue,
                    Some((h, _)) => h,
                    None => clock,
                }
            } else {
                clock
            };
            stamps.insert(field.clone(), stamp);
            f.insert(field, v.clone());
        }
        if f.is_empty() {
            continue;
        }
        let hlc = if final_note {
            // The finaliser's version, as of its finalisation.
            stamps.get("status").copied().unwrap_or(clock)
        } else {
            stamps.values().copied().max().unwrap_or(clock)
        };
        let s = if final_note {
            BTreeMap::new()
        } else {
            stamps
                .iter()
                .filter(|(_, h)| **h != hlc)
                .map(|(k, h)| (k.clone(), h.to_string()))
                .collect()
        };
        if !has_stamps {
            // Settings and erased calendar keys carry no stamp of their own: stamped now.
            set_stamp(conn, t, &key, "*", hlc, device_id)?;
        }
        let b = if whole {
            BTreeMap::new()
        } else {
            acc.bases
                .into_iter()
                .filter(|(k, _)| f.contains_key(k))
                .collect()
        };
        out.push((
            acc.last_seq,
            RowChange {
                t: table,
                k: key,
                op: ChangeOp::Upsert,
                hlc: hlc.to_string(),
                d: device_id.into(),
                f,
                b,
                s,
            },
        ));
    }
    Ok(out)
}

/// When the client with `code` was erased (the wall time of the erasure's stamp, ms), if it was.
fn erased(tx: &Transaction<'_>, code: &str) -> Result<Option<i64>> {
    let stamps: Vec<String> = tx
        .prepare_cached("SELECT hlc FROM main.erasure_records WHERE client_code = ?1")?
        .query_map([code], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if stamps.is_empty() {
        return Ok(None);
    }
    // A record whose stamp cannot be read still erases; it counts as erased from the start.
    Ok(Some(
        stamps
            .iter()
            .map(|h| Hlc::parse(h).map_or(0, |h| h.wall_ms))
            .min()
            .unwrap_or(0),
    ))
}

/// Lists a change dropped because its client was erased here first (kind `erased`): the
/// table, row, when, which computer and the client's code — nothing the change held. Once
/// per edit (applying it twice, or the rows one edit wrote, keep one). Returns whether it
/// was new.
fn dropped_after_erasure(
    tx: &Transaction<'_>,
    t: &Table,
    c: &RowChange,
    code: &str,
    stamp: Hlc,
    now: &str,
) -> Result<bool> {
    // One edit can write several rows (a correction writes the details and their history):
    // one entry per client, computer and moment (the stamp's millisecond).
    let exists: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM main.sync_conflicts WHERE kind = 'erased' AND client_code = ?1
         AND lost_device = ?2 AND substr(lost_hlc, 1, 16) = ?3)",
        params![code, c.d, format!("{:016}", stamp.wall_ms)],
        |r| r.get(0),
    )?;
    if exists {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO main.sync_conflicts (id, tbl, row_key, field, kind, kept, lost, lost_hlc, lost_device, found_at, client_code)
         VALUES (?1, ?2, ?3, '*', 'erased', NULL, NULL, ?4, ?5, ?6, ?7)",
        params![crate::vault::new_id(), t.name, c.k, stamp.to_string(), c.d, now, code],
    )?;
    Ok(true)
}

/// A value that lost a merge, to keep.
struct Lost<'a> {
    field: &'a str,
    kind: &'static str,
    kept: Option<&'a Value>,
    lost: Option<&'a Value>,
    by: (Hlc, &'a str),
}

fn conflict(tx: &Transaction<'_>, t: &Table, key: &str, l: Lost<'_>, now: &str) -> Result<bool> {
    // One record per lost value: applying the same change twice keeps one.
    let id = crate::vault::new_id();
    let Lost {
        field,
        kind,
        kept,
        lost,
        by: lost_by,
    } = l;
    let lost_text = lost.map(Value::to_string);
    let exists: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM main.sync_conflicts WHERE tbl = ?1 AND row_key = ?2 AND field = ?3
         AND lost_hlc = ?4 AND lost_device = ?5 AND kind = ?6)",
        params![t.name, key, field, lost_by.0.to_string(), lost_by.1, kind],
        |r| r.get(0),
    )?;
    if exists {
        return Ok(false);
    }
    // The client it belongs to, so that erasing the client erases what was kept aside too.
    let client = client_of(tx, t, key)?;
    tx.execute(
        "INSERT INTO main.sync_conflicts (id, tbl, row_key, field, kind, kept, lost, lost_hlc, lost_device, found_at, client_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![id, t.name, key, field, kind, kept.map(Value::to_string), lost_text, lost_by.0.to_string(), lost_by.1, now, client],
    )?;
    Ok(true)
}

/// The code of the client row `key` of `t` belongs to (`None` for a table of no client, or a
/// row that is gone).
fn client_of(tx: &Transaction<'_>, t: &Table, key: &str) -> Result<Option<String>> {
    let Some(col) = t.erased_by else {
        return Ok(None);
    };
    if col == t.key {
        return Ok(Some(key.to_string()));
    }
    Ok(tx
        .query_row(
            &format!("SELECT {col} FROM {} WHERE {} = ?1", t.qualified(), t.key),
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

fn write_fields(
    tx: &Transaction<'_>,
    t: &Table,
    key: &str,
    fields: &Row,
    stamp: Option<(Hlc, &str)>,
) -> Result<()> {
    if fields.is_empty() && stamp.is_none() {
        return Ok(());
    }
    let mut sets: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    for (i, (name, v)) in fields.iter().enumerate() {
        sets.push(format!("\"{name}\" = ?{}", i + 2));
        values.push(to_sql(v)?);
    }
    if let Some((h, d)) = stamp {
        // The row's own stamp is the newest write it has seen, from any device.
        let n = values.len();
        sets.push(format!(
            "hlc = CASE WHEN (?{a}, ?{b}) > (hlc, device_id) THEN ?{a} ELSE hlc END, \
             device_id = CASE WHEN (?{a}, ?{b}) > (hlc, device_id) THEN ?{b} ELSE device_id END",
            a = n + 2,
            b = n + 3
        ));
        values.push(SqlValue::Text(h.to_string()));
        values.push(SqlValue::Text(d.to_string()));
    }
    let sql = format!(
        "UPDATE {} SET {} WHERE \"{}\" = ?1",
        t.qualified(),
        sets.join(", "),
        t.key
    );
    let mut all = vec![SqlValue::Text(key.to_string())];
    all.extend(values);
    tx.execute(&sql, rusqlite::params_from_iter(all))?;
    Ok(())
}

fn insert_row(tx: &Transaction<'_>, t: &Table, c: &RowChange, cols: &[String]) -> Result<()> {
    let mut names = vec![format!("\"{}\"", t.key)];
    let mut values = vec![SqlValue::Text(c.k.clone())];
    for (name, v) in &c.f {
        if name == t.key || BOOKKEEPING.contains(&name.as_str()) {
            continue;
        }
        if !cols.contains(name) {
            return Err(CoreError::SyncIntegrity(format!(
                "a change names a field {} does not have",
                t.name
            )));
        }
        names.push(format!("\"{name}\""));
        values.push(to_sql(v)?);
    }
    if stamped(cols) {
        names.push("hlc".into());
        values.push(SqlValue::Text(c.hlc.clone()));
        names.push("device_id".into());
        values.push(SqlValue::Text(c.d.clone()));
    }
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        t.qualified(),
        names.join(", "),
        marks.join(", ")
    );
    tx.execute(&sql, rusqlite::params_from_iter(values))
        .map_err(|e| {
            CoreError::SyncIntegrity(format!(
                "a new {} row from another device does not fit: {e}",
                t.name
            ))
        })?;
    Ok(())
}

/// Takes every field of a remote change as it is (a finalisation: the finaliser's version
/// is the note), with its stamps.
fn take_whole(tx: &Transaction<'_>, t: &Table, c: &RowChange, remote: Hlc) -> Result<()> {
    let fields: Row =
        c.f.iter()
            .filter(|(k, _)| !BOOKKEEPING.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    write_fields(tx, t, &c.k, &fields, Some((remote, &c.d)))?;
    for f in fields.keys() {
        set_stamp(tx, t, &c.k, f, c.stamp(f, remote), c.writer(f))?;
    }
    Ok(())
}

/// Applies changes from other devices inside `tx` (capture is switched off by the caller),
/// observing their stamps into `clock`. An integrity problem returns an error and the caller
/// rolls everything back.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    clock: &mut Hlc,
    now_ms: i64,
    now: &str,
    changes: &[RowChange],
    from: Source,
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    // Erasures first: they absorb every other change for their client in the batch.
    let (erasures, rest): (Vec<&RowChange>, Vec<&RowChange>) = changes
        .iter()
        .partition(|c| c.t == "erasure_records" && c.op == ChangeOp::Upsert);
    for c in erasures.into_iter().chain(rest) {
        apply_one(tx, clock, now_ms, now, c, from, &mut report)?;
    }
    Ok(report)
}

fn apply_one(
    tx: &Transaction<'_>,
    clock: &mut Hlc,
    now_ms: i64,
    now: &str,
    c: &RowChange,
    from: Source,
    report: &mut ApplyReport,
) -> Result<()> {
    // A checkpoint's rows are a state, not edits: its older values losing here are no
    // conflict (the edits that replaced them were seen), and it carries no `b` to tell an
    // overwrite from a concurrent edit (a concurrent edit made here travels on, and the
    // computer that wrote the checkpoint keeps the value it loses).
    let edits = from == Source::Log;
    let t = registry::TABLES
        .iter()
        .find(|t| t.name == c.t && t.captured())
        .ok_or_else(|| {
            CoreError::SyncIntegrity(format!(
                "a change for {:?}, which does not sync",
                c.t.chars().take(40).collect::<String>()
            ))
        })?;
    if let Sharing::SyncedKeys(keys, _) = t.sharing
        && !keys.contains(&c.k.as_str())
    {
        return Err(CoreError::SyncIntegrity(
            "a change to a setting that belongs to each computer".into(),
        ));
    }
    let remote = Hlc::parse(&c.hlc)
        .ok_or_else(|| CoreError::SyncIntegrity("a change with no valid stamp".into()))?;
    match clock.observe_remote(remote, now_ms) {
        Observed::Followed(h) => *clock = h,
        Observed::TooFarAhead { ahead_ms, .. } => report.ahead.push((c.d.clone(), ahead_ms)),
    }
    let existing = read_row(tx, t, &c.k)?;
    if let Some(col) = t.erased_by {
        // Where the code is the row's key (a client's identity), the change carries it as its
        // key, not among its fields.
        let code = (col == t.key)
            .then(|| c.k.clone())
            .or_else(|| c.f.get(col).and_then(Value::as_str).map(str::to_string))
            .or_else(|| {
                existing
                    .as_ref()
                    .and_then(|r| r.get(col))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        if let Some(code) = code
            && let Some(erased_at) = erased(tx, &code)?
        {
            report.dropped += 1;
            // Typed elsewhere after the erasure here (its writer had not heard of it yet):
            // listed, with when and where — never what it held. Older changes (the client's
            // history, arriving from a log or a checkpoint) are simply dropped.
            // (A delete loses nothing: the erasing computer's own deletes, stamped when sent,
            // are not listed.)
            if c.op != ChangeOp::Delete
                && remote.wall_ms > erased_at
                && dropped_after_erasure(tx, t, c, &code, remote, now)?
            {
                report.conflicts += 1;
            }
            return Ok(());
        }
    }
    let by = (remote, c.d.as_str());
    if c.op == ChangeOp::Delete {
        if existing.is_some() {
            tx.execute(
                &format!("DELETE FROM {} WHERE \"{}\" = ?1", t.qualified(), t.key),
                [&c.k],
            )
            .map_err(|e| {
                CoreError::SyncIntegrity(format!("a delete from another device was refused: {e}"))
            })?;
            report.applied += 1;
        } else {
            report.unchanged += 1;
        }
        set_stamp(tx, t, &c.k, "~", remote, &c.d)?;
        return Ok(());
    }
    if stamp_of(tx, t, &c.k, "~")?.is_some() && existing.is_none() {
        report.dropped += 1;
        return Ok(());
    }
    let cols = columns(tx, t)?;
    let Some(row) = existing else {
        insert_row(tx, t, c, &cols)?;
        set_stamp(tx, t, &c.k, "*", remote, &c.d)?;
        for field in c.s.keys() {
            set_stamp(tx, t, &c.k, field, c.stamp(field, remote), c.writer(field))?;
        }
        if t.name == "erasure_records"
            && let Some(code) = c.f.get("client_code").and_then(Value::as_str)
        {
            crate::records::erasure::erase_rows(tx, code)?;
        }
        report.applied += 1;
        return Ok(());
    };
    let merge = match t.sharing {
        Sharing::Synced(m) | Sharing::SyncedKeys(_, m) => m,
        _ => Merge::FieldLww,
    };
    let same =
        c.f.iter()
            .all(|(k, v)| BOOKKEEPING.contains(&k.as_str()) || row.get(k) == Some(v));
    match merge {
        Merge::Immutable => {
            if same {
                report.unchanged += 1;
                Ok(())
            } else {
                Err(CoreError::SyncIntegrity(format!(
                    "another device sent a different version of a {} row, which never changes once written",
                    t.name
                )))
            }
        }
        Merge::Draft if row.get("status") == Some(&Value::from("final")) => {
            if same {
                report.unchanged += 1;
                return Ok(());
            }
            let body = row.get("body");
            if c.f.get("status") == Some(&Value::from("final")) {
                // Two computers finalised one draft, differently: the later finalisation is
                // the note; the other version is kept.
                let local = stamp_of(tx, t, &c.k, "status")?;
                let remote_wins = local
                    .as_ref()
                    .is_none_or(|(h, d)| hlc::wins(remote, &c.d, *h, d));
                if remote_wins {
                    let (lh, ld) = local.unwrap_or((Hlc::default(), String::new()));
                    if conflict(
                        tx,
                        t,
                        &c.k,
                        Lost {
                            field: "body",
                            kind: "both_finalised",
                            kept: c.f.get("body"),
                            lost: body,
                            by: (lh, &ld),
                        },
                        now,
                    )? {
                        report.conflicts += 1;
                    }
                    take_whole(tx, t, c, remote)?;
                    report.applied += 1;
                } else {
                    if edits
                        && conflict(
                            tx,
                            t,
                            &c.k,
                            Lost {
                                field: "body",
                                kind: "both_finalised",
                                kept: body,
                                lost: c.f.get("body"),
                                by,
                            },
                            now,
                        )?
                    {
                        report.conflicts += 1;
                    }
                    report.unchanged += 1;
                }
            } else if edits && c.f.contains_key("body") && c.f.get("body") != body {
                // A draft edit that lost the race to finalisation: kept, to become an addendum.
                if conflict(
                    tx,
                    t,
                    &c.k,
                    Lost {
                        field: "body",
                        kind: "edit_after_final",
                        kept: body,
                        lost: c.f.get("body"),
                        by,
                    },
                    now,
                )? {
                    report.conflicts += 1;
                }
                report.unchanged += 1;
            } else {
                report.unchanged += 1;
            }
            Ok(())
        }
        Merge::Draft if c.f.get("status") == Some(&Value::from("final")) => {
            // A finalisation arriving on a local draft: the finaliser's version is the note.
            let body = row.get("body");
            if c.f.contains_key("body") && c.f.get("body") != body {
                let local =
                    stamp_of(tx, t, &c.k, "body")?.unwrap_or((Hlc::default(), String::new()));
                if conflict(
                    tx,
                    t,
                    &c.k,
                    Lost {
                        field: "body",
                        kind: "edit_after_final",
                        kept: c.f.get("body"),
                        lost: body,
                        by: (local.0, &local.1),
                    },
                    now,
                )? {
                    report.conflicts += 1;
                }
            }
            take_whole(tx, t, c, remote)?;
            report.applied += 1;
            Ok(())
        }
        Merge::Draft | Merge::FieldLww => {
            let kind = if merge == Merge::Draft {
                "draft"
            } else {
                "field"
            };
            let mut won = Row::new();
            for (field, value) in &c.f {
                if BOOKKEEPING.contains(&field.as_str()) || field == t.key {
                    continue;
                }
                let current = row.get(field);
                let fs = c.stamp(field, remote);
                let fd = c.writer(field);
                if field == "deleted" {
                    // Deletes win: the flag only goes from 0 to 1.
                    if value.as_i64().unwrap_or(0) > current.and_then(Value::as_i64).unwrap_or(0) {
                        won.insert(field.clone(), value.clone());
                    }
                    set_stamp(tx, t, &c.k, field, fs, fd)?;
                    continue;
                }
                let local = stamp_of(tx, t, &c.k, field)?;
                let remote_wins = local.as_ref().is_none_or(|(h, d)| hlc::wins(fs, fd, *h, d));
                if current == Some(value) {
                    set_stamp(tx, t, &c.k, field, fs, fd)?;
                    continue;
                }
                if remote_wins {
                    // An overwrite of the very value held here is no conflict; one made
                    // without seeing it (a concurrent edit) keeps the value it replaces.
                    let seen = local.as_ref().map(|(h, d)| format!("{h} {d}"));
                    let concurrent = edits
                        && !SELF_WRITTEN.contains(&field.as_str())
                        && seen.is_some()
                        && c.b.get(field) != seen.as_ref();
                    if concurrent
                        && let Some((h, d)) = &local
                        && conflict(
                            tx,
                            t,
                            &c.k,
                            Lost {
                                field,
                                kind,
                                kept: Some(value),
                                lost: current,
                                by: (*h, d),
                            },
                            now,
                        )?
                    {
                        report.conflicts += 1;
                    }
                    won.insert(field.clone(), value.clone());
                    set_stamp(tx, t, &c.k, field, fs, fd)?;
                } else if edits
                    && !SELF_WRITTEN.contains(&field.as_str())
                    && conflict(
                        tx,
                        t,
                        &c.k,
                        Lost {
                            field,
                            kind,
                            kept: current,
                            lost: Some(value),
                            by: (fs, fd),
                        },
                        now,
                    )?
                {
                    report.conflicts += 1;
                }
            }
            let deleted_here = row.get("deleted").and_then(Value::as_i64) == Some(1)
                && !c.f.contains_key("deleted")
                && !won.is_empty();
            if edits
                && deleted_here
                && conflict(
                    tx,
                    t,
                    &c.k,
                    Lost {
                        field: "*",
                        kind: "edit_after_delete",
                        kept: None,
                        lost: Some(&Value::Object(c.f.clone().into_iter().collect())),
                        by,
                    },
                    now,
                )?
            {
                report.conflicts += 1;
            }
            if won.is_empty() {
                report.unchanged += 1;
            } else {
                report.applied += 1;
            }
            // The row's stamp is the newest write seen, whichever fields won.
            write_fields(
                tx,
                t,
                &c.k,
                &won,
                if stamped(&cols) { Some(by) } else { None },
            )?;
            Ok(())
        }
    }
}

/// A value that lost a merge, kept so that no typed word is lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub id: String,
    /// The table and row (`session_notes` and a note id, `client_identity` and a code, …).
    pub table: String,
    pub row: String,
    pub field: String,
    /// `field` (two edits of one field), `draft` (two edits of one draft note),
    /// `edit_after_final` (a draft edit that lost the race to finalisation), `both_finalised`,
    /// `edit_after_delete`, `erased` (a change made elsewhere after the client was erased
    /// here: dropped, and listed without its content).
    pub kind: String,
    /// The value the record holds now, and the one that lost (JSON text).
    pub kept: Option<String>,
    pub lost: Option<String>,
    /// When and on which computer the lost value was written.
    pub lost_stamp: String,
    pub lost_device: String,
    pub found_at: String,
    /// The client the row belongs to (its code), when the row is still there.
    pub client_code: Option<String>,
}

impl Vault {
    /// The values that lost a merge and are not yet resolved, oldest first. They can hold
    /// clinical text: reading them is audited (the count only).
    pub fn sync_conflicts(&mut self) -> Result<Vec<Conflict>> {
        self.act(Action::SyncConflicts, |cx| {
            let mut stmt = cx.tx.prepare(
                "SELECT id, tbl, row_key, field, kind, kept, lost, lost_hlc, lost_device, found_at, client_code
                 FROM main.sync_conflicts WHERE resolved_at IS NULL ORDER BY found_at, id",
            )?;
            let list = stmt
                .query_map([], |r| {
                    Ok(Conflict {
                        id: r.get(0)?,
                        table: r.get(1)?,
                        row: r.get(2)?,
                        field: r.get(3)?,
                        kind: r.get(4)?,
                        kept: r.get(5)?,
                        lost: r.get(6)?,
                        lost_stamp: r.get(7)?,
                        lost_device: r.get(8)?,
                        found_at: r.get(9)?,
                        client_code: r.get(10)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            let mut list = list;
            // Kept aside before schema v15 recorded the client: found from the row.
            for c in list.iter_mut().filter(|c| c.client_code.is_none()) {
                if let Some(t) = registry::TABLES.iter().find(|t| t.name == c.table) {
                    c.client_code = client_of(cx.tx, t, &c.row)?;
                }
            }
            cx.detail(format!("count={}", list.len()));
            Ok(list)
        })
    }

    /// How many values kept aside are not resolved yet: a count, no content (not audited).
    pub fn sync_conflict_count(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM main.sync_conflicts WHERE resolved_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as usize)
    }

    /// This device's changes in `store` captured after `after`, to send to the practice's
    /// other computers, with the mark they reach. Reads only bookkeeping and the changed
    /// rows; not an action on a record, so not audited (sending is, by the sync engine).
    pub fn outgoing_changes(&mut self, store: Store, after: i64, limit: usize) -> Result<Outgoing> {
        let clock = self.clock.max(crate::vault::load_clock(&self.conn)?);
        let tx = self.conn.unchecked_transaction()?;
        let upto: Option<i64> = tx.query_row(
            &format!(
                "SELECT max(seq) FROM (SELECT seq FROM {}.sync_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
                store.schema()
            ),
            params![after, limit as i64],
            |r| r.get(0),
        )?;
        let changes = outgoing(&tx, store, after, limit, &self.meta.device_id, clock)?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        tx.commit()?;
        Ok(Outgoing {
            changes,
            upto: upto.unwrap_or(after),
        })
    }

    /// Applies changes from the practice's other computers by the merge rules, in one
    /// transaction with its audit entry (counts only, never content). Any integrity problem
    /// (a different version of an immutable row, a change that does not fit) applies nothing.
    pub fn apply_remote(&mut self, changes: &[RowChange]) -> Result<ApplyReport> {
        self.apply_remote_from(changes, Source::Log)
    }

    /// [`Vault::apply_remote`] for changes from a log or from a checkpoint.
    pub fn apply_remote_from(
        &mut self,
        changes: &[RowChange],
        from: Source,
    ) -> Result<ApplyReport> {
        self.act(Action::SyncApply, |cx| {
            let now_ms = cx.now.timestamp_millis();
            let now = crate::vault::timestamp(cx.now);
            let tx = cx.tx;
            let mut clock = *cx.clock_mut();
            let report = crate::changes::applying(tx, |tx| {
                apply(tx, &mut clock, now_ms, &now, changes, from)
            })?;
            *cx.clock_mut() = clock;
            cx.detail(format!(
                "changes={} applied={} unchanged={} dropped={} conflicts={} ahead={}",
                changes.len(),
                report.applied,
                report.unchanged,
                report.dropped,
                report.conflicts,
                report.ahead.len()
            ));
            Ok(report)
        })
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
