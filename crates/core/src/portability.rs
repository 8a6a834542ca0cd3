//! No lock-in: the whole vault in open formats, and back.
//!
//! `export_all` writes one JSON file (an array of objects, every column) and one CSV file
//! per record type, a `manifest.json`, and a README describing the fields. `import_all`
//! reads such a folder into a *new* vault: every file is read and checked first — and the
//! whole import is rehearsed in a throwaway in-memory database with the same schema, so
//! types, constraints and links are checked by SQLite itself — and only then is the new
//! vault created, filled in one transaction and put in place. A bad file gives an error
//! naming the file and row, and no vault is created.
//!
//! The audit trail travels verbatim (its hashes still verify) and the import is appended to
//! it. Not exported: the search index (rebuilt from the notes), sync bookkeeping, and the
//! calendar feed address (a secret: connect the feed again).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::records::rows::{Row, rows};
use crate::vault::{Created, Vault};

/// The export format written in `manifest.json`.
pub const FORMAT: &str = "casebook-export/1";

/// Record types in the order they can be inserted (parents first): (file stem,
/// `schema.table`), as the table registry lists them ([`crate::registry`]).
pub fn tables() -> Vec<(&'static str, String)> {
    crate::registry::exported().collect()
}

/// What each record type holds, for the README.
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "clients",
        "One row per client: code, status (active/closed), opened_on, ended_on. No names.",
    ),
    (
        "client_identity",
        "Who each code is: full_name, date_of_birth, email, phone, emergency_contact, gp, aliases (JSON array), nhs_number (ten digits).",
    ),
    (
        "identity_history",
        "Corrections of identity details: what each field said before (old_value) and after (new_value), when and why.",
    ),
    (
        "appointment_series",
        "Recurring bookings: client_code, every_weeks, first_local (the first session's local date and time), minutes, count or until_local.",
    ),
    (
        "appointments",
        "Sessions: client_code, starts_at/ends_at (UTC, RFC 3339), status (scheduled/attended/cancelled/did_not_attend), cancelled_by (client/client_late/therapist) and reason when cancelled, series_id when booked as a series; calendar_key is a keyed hash of a calendar event's identity.",
    ),
    (
        "appointment_moves",
        "Each move of a session: appointment_id, where it was (from_starts_at/from_ends_at) and went (to_starts_at/to_ends_at), moved_at.",
    ),
    (
        "session_notes",
        "Session notes: template (soap/dap/birp/free), body (JSON object: field → text), status (draft/final), created/updated/finalised times.",
    ),
    (
        "addenda",
        "Additions to finalised notes: note_id, text, created_at.",
    ),
    (
        "process_notes",
        "The therapist's own process notes: text, created_at.",
    ),
    (
        "outcome_measures",
        "Questionnaires: instrument (phq9/gad7/core10), items (JSON array), total, band, risk (1 = a risk item was scored), taken_at.",
    ),
    (
        "client_retention",
        "Each client's retention review date and its basis; an override date and reason if set.",
    ),
    (
        "access_requests",
        "Subject-access requests: received_on, due_on, status (open/answered), answered_on.",
    ),
    (
        "erasure_records",
        "What is left of erased clients: code, time, reason, kind (erasure/retention), destruction certificate (JSON). Never a name.",
    ),
    (
        "erased_calendar_keys",
        "Keyed hashes of erased clients' calendar events, so a calendar import does not bring them back.",
    ),
    (
        "settings",
        "Vault settings (key → value), e.g. the retention policy as JSON.",
    ),
    (
        "audit_log",
        "The hash-chained audit trail: seq, at, device_id, action, client_code, object_id, detail, prev_hash, hash. Identifiers only.",
    ),
];

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    exported_at: String,
    vault_id: String,
    counts: BTreeMap<String, usize>,
}

/// What an export wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Exported {
    pub counts: BTreeMap<String, usize>,
}

fn select_all(table: &str) -> String {
    match table {
        "main.audit_log" => "SELECT * FROM main.audit_log ORDER BY seq".into(),
        "identity.identity_history" => "SELECT * FROM identity.identity_history ORDER BY changed_at, n".into(),
        // The clock and this copy's pins ([`crate::pins`]) belong to this machine's copy.
        "main.meta" => "SELECT * FROM main.meta WHERE key NOT IN ('hlc') AND key NOT LIKE 'device.%' ORDER BY key".into(),
        "main.erased_calendar_keys" => {
            "SELECT * FROM main.erased_calendar_keys ORDER BY calendar_key".into()
        }
        t => format!("SELECT * FROM {t} ORDER BY rowid"),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::sealed::write_atomically(path, bytes)
}

fn csv_bytes(rows: &[Row]) -> Result<Vec<u8>> {
    let mut w = crate::spreadsheet::writer(Vec::new());
    if let Some(first) = rows.first() {
        let cols: Vec<&String> = first.keys().collect();
        w.write_record(cols.iter().map(|c| c.as_str()))
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        for r in rows {
            // Text may have come from outside (a name typed on a booking page): it is
            // written so that a spreadsheet never runs it. Numbers are written as they are.
            w.write_record(cols.iter().map(|c| match &r[c.as_str()] {
                Value::Null => String::new(),
                Value::String(s) => crate::spreadsheet::cell(s).into_owned(),
                other => other.to_string(),
            }))
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        }
    }
    w.into_inner()
        .map_err(|e| CoreError::Corrupt(e.to_string()))
}

impl Vault {
    /// Writes everything into `dir` (new or empty) in open formats. Audited with counts.
    pub fn export_all(&mut self, dir: &Path) -> Result<Exported> {
        if dir.exists()
            && std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(CoreError::invalid(format!(
                "{} is not empty: export into a new folder",
                dir.display()
            )));
        }
        let vault_id = self.meta.vault_id.clone();
        let tables = self.act(Action::VaultExport, |cx| {
            let mut out = Vec::new();
            for (stem, table) in tables() {
                out.push((stem, rows(cx.tx, &select_all(&table), [])?));
            }
            cx.detail(
                out.iter()
                    .map(|(s, r)| format!("{s}={}", r.len()))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            Ok(out)
        })?;
        std::fs::create_dir_all(dir).map_err(CoreError::io(dir))?;
        let mut counts = BTreeMap::new();
        for (stem, r) in &tables {
            let json =
                serde_json::to_vec_pretty(r).map_err(|e| CoreError::Corrupt(e.to_string()))?;
            write_file(&dir.join(format!("{stem}.json")), &json)?;
            write_file(&dir.join(format!("{stem}.csv")), &csv_bytes(r)?)?;
            counts.insert(stem.to_string(), r.len());
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            exported_at: crate::vault::timestamp(chrono::Utc::now()),
            vault_id,
            counts: counts.clone(),
        };
        write_file(
            &dir.join("manifest.json"),
            &serde_json::to_vec_pretty(&manifest).map_err(|e| CoreError::Corrupt(e.to_string()))?,
        )?;
        write_file(&dir.join("README.md"), readme().as_bytes())?;
        Ok(Exported { counts })
    }

    /// Creates a new vault in `dir` from an export folder `src`. Nothing is created unless
    /// every file is valid.
    pub fn import_all(src: &Path, dir: &Path, passphrase: Option<&str>) -> Result<Created> {
        let data = read_export(src)?;
        // Rehearse in memory: SQLite checks every type, constraint and link.
        let mut rehearsal = Connection::open_in_memory()?;
        rehearsal
            .execute_batch("ATTACH DATABASE ':memory:' AS identity; PRAGMA foreign_keys = ON;")?;
        crate::schema::migrate(&mut rehearsal)?;
        {
            let tx = rehearsal.transaction()?;
            insert_all(&tx, &data)?;
            set_audit_head(&tx)?;
            crate::audit::verify(&tx).map_err(|e| {
                CoreError::invalid(format!(
                    "{}: the audit trail does not verify ({e}); nothing was imported",
                    src.join("audit_log.json").display()
                ))
            })?;
        }
        // Now for real, in a vault nobody sees until it is complete.
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if dir.exists()
            && std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(CoreError::VaultExists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(parent).map_err(CoreError::io(parent))?;
        let staging = tempfile::Builder::new()
            .prefix(".casebook-import-")
            .tempdir_in(parent)
            .map_err(CoreError::io(parent))?;
        let staged = staging.path().join("vault");
        let created = Vault::init_empty(&staged, passphrase)?;
        let mut vault = created.vault;
        let count = data.iter().map(|(_, r)| r.len()).sum::<usize>();
        if let Err(e) = vault.fill(&data, count) {
            // Leave no keychain entry for a vault that was never finished.
            if passphrase.is_none() {
                crate::keystore::keychain_forget(&vault.meta.vault_id);
            }
            return Err(e);
        }
        drop(vault);
        if dir.exists() {
            let _ = std::fs::remove_dir(dir);
        }
        std::fs::rename(&staged, dir).map_err(CoreError::io(dir))?;
        let vault = Vault::open(dir, passphrase)?;
        Ok(Created {
            vault,
            recovery_key: created.recovery_key,
        })
    }

    /// Inserts the imported rows, then records the import (chained onto the imported trail).
    fn fill(&mut self, data: &[(&str, Vec<Row>)], count: usize) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        insert_all(&tx, data)?;
        set_audit_head(&tx)?;
        tx.commit()?;
        self.act(Action::VaultImport, |cx| {
            cx.detail(format!("records={count}"));
            Ok(())
        })
    }
}

/// Points the chain head at the end of the imported trail.
fn set_audit_head(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok();
    if let Some((seq, hash)) = last {
        tx.execute(
            "INSERT INTO identity.audit_head (id, count, hash) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET count = excluded.count, hash = excluded.hash",
            rusqlite::params![seq, hash],
        )?;
    }
    Ok(())
}

fn readme() -> String {
    let mut s = String::from(
        "# Casebook export\n\nEverything in the vault, in open formats: each record type as JSON (an array of objects, one per row, every column) and as CSV (the same columns). Times are UTC in RFC 3339; dates are YYYY-MM-DD. `casebook import DIR` reads this folder back into a new vault.\n\nThese files are not encrypted: keep them as safe as the records themselves.\n\n| File | Holds |\n|---|---|\n",
    );
    for (stem, what) in DESCRIPTIONS {
        s.push_str(&format!("| `{stem}.json` / `{stem}.csv` | {what} |\n"));
    }
    s.push_str("\nNot exported: the search index (rebuilt from the notes), sync bookkeeping, and the calendar feed address.\n");
    s
}

/// Reads and shape-checks every file of an export.
fn read_export(src: &Path) -> Result<Vec<(&'static str, Vec<Row>)>> {
    let bad = |file: &str, what: String| {
        CoreError::invalid(format!(
            "{}: {what}; nothing was imported",
            src.join(file).display()
        ))
    };
    let manifest_bytes = std::fs::read(src.join("manifest.json")).map_err(|_| {
        bad(
            "manifest.json",
            "missing or unreadable (is this a Casebook export folder?)".into(),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| bad("manifest.json", format!("not valid ({e})")))?;
    if manifest.format != FORMAT {
        return Err(bad(
            "manifest.json",
            format!(
                "format {:?} is not one this Casebook reads ({FORMAT})",
                manifest.format
            ),
        ));
    }
    let mut out = Vec::new();
    for (stem, _) in tables() {
        let file = format!("{stem}.json");
        let bytes = std::fs::read(src.join(&file)).map_err(|_| bad(&file, "missing".into()))?;
        let rows: Vec<Row> = serde_json::from_slice(&bytes)
            .map_err(|e| bad(&file, format!("not a JSON array of records ({e})")))?;
        if let Some(n) = manifest.counts.get(stem)
            && *n != rows.len()
        {
            return Err(bad(
                &file,
                format!(
                    "holds {} records but the manifest says {n} (a truncated copy?)",
                    rows.len()
                ),
            ));
        }
        out.push((stem, rows));
    }
    Ok(out)
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(V::Integer)
            .or_else(|| n.as_f64().map(V::Real))
            .unwrap_or(V::Null),
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}

/// Inserts every row, checking its columns against the table's.
fn insert_all(tx: &rusqlite::Transaction<'_>, data: &[(&str, Vec<Row>)]) -> Result<()> {
    for (stem, rows) in data {
        let table = tables()
            .into_iter()
            .find(|(s, _)| s == stem)
            .map(|(_, t)| t)
            .ok_or_else(|| CoreError::invalid(format!("unknown record type {stem}")))?;
        let (schema, name) = table.split_once('.').unwrap_or(("main", table.as_str()));
        let columns: Vec<String> = tx
            .prepare(&format!("PRAGMA {schema}.table_info({name})"))?
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<rusqlite::Result<_>>()?;
        for (i, row) in rows.iter().enumerate() {
            let where_ = || format!("{stem}.json, record {}", i + 1);
            if let Some(unknown) = row.keys().find(|k| !columns.contains(k)) {
                return Err(CoreError::invalid(format!(
                    "{}: unknown field {unknown:?}; nothing was imported",
                    where_()
                )));
            }
            // A copy's own pins ([`crate::pins`]) are never exported: one in the folder
            // was put there by hand, and would pin the new vault to another's files.
            if *stem == "settings"
                && row
                    .get("key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.starts_with("device."))
            {
                return Err(CoreError::invalid(format!(
                    "{}: a setting that belongs to the computer it came from; nothing was imported",
                    where_()
                )));
            }
            let cols: Vec<&String> = row.keys().collect();
            if cols.is_empty() {
                return Err(CoreError::invalid(format!(
                    "{}: empty record; nothing was imported",
                    where_()
                )));
            }
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                cols.iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                (1..=cols.len())
                    .map(|n| format!("?{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let values: Vec<rusqlite::types::Value> =
                cols.iter().map(|c| to_sql(&row[c.as_str()])).collect();
            tx.execute(&sql, params_from_iter(values)).map_err(|e| {
                CoreError::invalid(format!(
                    "{}: cannot be imported ({e}); nothing was imported",
                    where_()
                ))
            })?;
        }
    }
    Ok(())
}
