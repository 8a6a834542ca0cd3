//! Checkpoints: the whole synced state of this vault, written as the row changes that would
//! make it — every row of every synced table, each field with the stamp and the device of the
//! write that made it, and every delete — so that a computer which missed part of another's
//! log (a new one joining, one that was away while the log was cut) can start from it, and the
//! writer can cut its own log below it on the server (`docs/sync.md`, "Checkpoints and
//! compaction").
//!
//! Applying a checkpoint goes through the same merge as a log ([`Source::Checkpoint`]): order
//! does not matter, applying twice changes nothing, and erasure absorbs everything — a client
//! erased anywhere never comes back from an older checkpoint.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::changes::columns;
use crate::error::Result;
use crate::hlc::Hlc;
use crate::merge::{self, ApplyReport, BOOKKEEPING, ChangeOp, RowChange, Source};
use crate::registry::{self, Sharing, Store, Table};
use crate::vault::Vault;

/// Per row, per field: (stamp, device) of the write that made the value.
type Stamps = BTreeMap<String, BTreeMap<String, (Hlc, String)>>;

fn stamps(conn: &Connection, t: &Table) -> Result<Stamps> {
    let mut stmt = conn.prepare(&format!(
        "SELECT row_key, field, hlc, device_id FROM {}.sync_stamps WHERE tbl = ?1",
        t.store.schema()
    ))?;
    let mut out = Stamps::new();
    let rows = stmt.query_map([t.name], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (key, field, hlc, device) = row?;
        if let Some(h) = Hlc::parse(&hlc) {
            out.entry(key).or_default().insert(field, (h, device));
        }
    }
    Ok(out)
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The rows of one synced table as row changes, with the deletes it remembers.
fn table_rows(conn: &Connection, t: &Table, me: &str, out: &mut Vec<RowChange>) -> Result<()> {
    let cols = columns(conn, t)?;
    let stamped = merge::stamped(&cols);
    let all = stamps(conn, t)?;
    let mut stmt = conn.prepare(&format!("SELECT * FROM {}", t.qualified()))?;
    let mut rows = stmt.query([])?;
    let mut present = std::collections::BTreeSet::new();
    while let Some(r) = rows.next()? {
        let mut row = BTreeMap::new();
        for (i, c) in cols.iter().enumerate() {
            let v: SqlValue = r.get(i)?;
            row.insert(c.clone(), merge::to_json(v)?);
        }
        let Some(key) = row.get(t.key).and_then(key_text) else {
            continue;
        };
        if let Sharing::SyncedKeys(keys, _) = t.sharing
            && !keys.contains(&key.as_str())
        {
            continue;
        }
        let row_stamp = if stamped {
            let h = row.get("hlc").and_then(Value::as_str).and_then(Hlc::parse);
            let d = row.get("device_id").and_then(Value::as_str);
            h.zip(d).map(|(h, d)| (h, d.to_string()))
        } else {
            None
        };
        let of_row = all.get(&key);
        let mut f = BTreeMap::new();
        let mut by: BTreeMap<String, (Hlc, String)> = BTreeMap::new();
        for (name, v) in row {
            if name == t.key || BOOKKEEPING.contains(&name.as_str()) {
                continue;
            }
            // As the merge reads a field's stamp: its own, or the whole row's, the newer.
            let own = of_row.and_then(|m| m.get(&name));
            let whole = of_row.and_then(|m| m.get("*"));
            let stamp = own
                .into_iter()
                .chain(whole)
                .max()
                .cloned()
                .or_else(|| row_stamp.clone())
                .unwrap_or_else(|| (Hlc::default(), me.to_string()));
            by.insert(name.clone(), stamp);
            f.insert(name, v);
        }
        let Some((hlc, d)) = by.values().max().cloned() else {
            continue;
        };
        let s = by
            .iter()
            .filter(|(_, st)| **st != (hlc, d.clone()))
            .map(|(name, (h, w))| {
                let text = if *w == d {
                    h.to_string()
                } else {
                    format!("{h} {w}")
                };
                (name.clone(), text)
            })
            .collect();
        present.insert(key.clone());
        out.push(RowChange {
            t: t.name.to_string(),
            k: key,
            op: ChangeOp::Upsert,
            hlc: hlc.to_string(),
            d,
            f,
            b: BTreeMap::new(),
            s,
        });
    }
    for (key, fields) in &all {
        if let Some((h, d)) = fields.get("~")
            && !present.contains(key)
        {
            out.push(RowChange {
                t: t.name.to_string(),
                k: key.clone(),
                op: ChangeOp::Delete,
                hlc: h.to_string(),
                d: d.clone(),
                f: BTreeMap::new(),
                b: BTreeMap::new(),
                s: BTreeMap::new(),
            });
        }
    }
    Ok(())
}

impl Vault {
    /// Every synced row of `store` (and every delete it remembers), as row changes, parents
    /// before children. Read in one transaction, so the rows are one consistent state.
    pub fn checkpoint_rows(&mut self, store: Store) -> Result<Vec<RowChange>> {
        let me = self.meta.device_id.clone();
        let tx = self.conn.unchecked_transaction()?;
        let mut out = Vec::new();
        for t in registry::TABLES
            .iter()
            .filter(|t| t.store == store && t.captured())
        {
            table_rows(&tx, t, &me, &mut out)?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// How many erasures this vault knows of (its own and other computers'): a new one means
    /// a checkpoint is due, so the log holding the erased client's data can be cut.
    pub fn erasures_known(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM main.erasure_records", [], |r| {
                r.get(0)
            })?)
    }

    /// Applies a checkpoint's rows (another computer's whole state) by the merge rules, in
    /// one audited transaction; an integrity problem applies nothing.
    pub fn apply_checkpoint(&mut self, rows: &[RowChange]) -> Result<ApplyReport> {
        self.apply_remote_from(rows, Source::Checkpoint)
    }
}
