//! Change capture: every write to a synced table leaves a row in its store's `sync_changes`,
//! in the same transaction as the write, so a crash can never lose a change that was made.
//!
//! The capture is done by SQLite triggers made from the table registry ([`crate::registry`])
//! and the tables' own columns, so a write cannot forget it: no code path has to remember to
//! call anything. An update records only the fields that changed (a one-field edit is a
//! one-field change); a write that changes nothing records nothing. While remote changes are
//! applied the store's `sync_applying` table holds a row and the triggers stay silent, so a
//! change that came from another device is not sent back out as this device's own.
//!
//! The triggers are rebuilt whenever the SQL they would be made of differs from what the
//! store holds (a new column, a registry change), at every unlock.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::registry::{self, Sharing, Store, Table};

/// Columns that say who wrote a row and when, not what it says: never "changed fields".
const BOOKKEEPING: &[&str] = &["hlc", "device_id"];
/// Where the fingerprint of the installed triggers is kept (device-local settings).
const INSTALLED: &str = "device.capture_triggers";

/// One captured write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub seq: i64,
    pub table: String,
    pub key: String,
    /// `upsert` or `delete`.
    pub op: String,
    /// The fields an update changed (`None`: a new row, every field).
    pub fields: Option<Vec<String>>,
    /// The row's HLC stamp after the write (`None` for tables that carry none).
    pub hlc: Option<String>,
    /// Each changed field's stamp before the write, as `hlc device` (an update of a stamped table).
    pub bases: std::collections::BTreeMap<String, String>,
}

/// A table's columns, in order (from SQLite itself, so a new column is never missed).
pub(crate) fn columns(conn: &Connection, t: &Table) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT name FROM pragma_table_info('{}', '{}') ORDER BY cid",
        t.name,
        t.store.schema()
    ))?;
    let cols = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(cols)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `CREATE TRIGGER` statements that capture writes to `t`.
fn trigger_sql(t: &Table, cols: &[String]) -> Vec<String> {
    let schema = t.store.schema();
    let name = t.name;
    let key = t.key;
    let hlc = |row: &str| {
        if cols.iter().any(|c| c == "hlc") {
            format!("{row}.hlc")
        } else {
            "NULL".into()
        }
    };
    let silent = "NOT EXISTS (SELECT 1 FROM sync_applying)".to_string();
    let only_keys = |row: &str| match t.sharing {
        Sharing::SyncedKeys(keys, _) => format!(
            " AND {row}.{key} IN ({})",
            keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    };
    let content: Vec<&String> = cols
        .iter()
        .filter(|c| !BOOKKEEPING.contains(&c.as_str()))
        .collect();
    let changed_any = content
        .iter()
        .map(|c| format!("OLD.\"{c}\" IS NOT NEW.\"{c}\""))
        .collect::<Vec<_>>()
        .join(" OR ");
    let changed_list = content
        .iter()
        .map(|c| format!("CASE WHEN OLD.\"{c}\" IS NOT NEW.\"{c}\" THEN '{c},' ELSE '' END"))
        .collect::<Vec<_>>()
        .join(" || ");
    // The stamp of each field a local write changed, for merging (`sync_stamps`); tables
    // without stamps of their own (settings, erased calendar keys) are stamped when sent.
    let stamped = cols.iter().any(|c| c == "hlc") && cols.iter().any(|c| c == "device_id");
    let stamp = |field: &str, when: &str| {
        if !stamped {
            return String::new();
        }
        format!(
            "INSERT INTO sync_stamps (tbl, row_key, field, hlc, device_id) \
             SELECT '{name}', NEW.\"{key}\", '{field}', NEW.hlc, NEW.device_id WHERE {when} \
             ON CONFLICT (tbl, row_key, field) DO UPDATE SET hlc = excluded.hlc, device_id = excluded.device_id; "
        )
    };
    // What each changed field's stamp was before this write (its "base"): a device receiving
    // the change can tell an overwrite of what it had (no conflict) from a concurrent one.
    let bases = if stamped {
        let pairs: Vec<String> = content
            .iter()
            .map(|c| {
                format!(
                    "'{c}', CASE WHEN OLD.\"{c}\" IS NOT NEW.\"{c}\" THEN (SELECT hlc || ' ' || device_id FROM sync_stamps \
                     WHERE tbl = '{name}' AND row_key = OLD.\"{key}\" AND field IN ('{c}', '*') \
                     ORDER BY hlc DESC, device_id DESC LIMIT 1) END"
                )
            })
            .collect();
        format!("json_object({})", pairs.join(", "))
    } else {
        "NULL".to_string()
    };
    let update_stamps: String = content
        .iter()
        .map(|c| stamp(c, &format!("OLD.\"{c}\" IS NOT NEW.\"{c}\"")))
        .collect();
    vec![
        format!(
            "CREATE TRIGGER {schema}.capture_{name}_insert AFTER INSERT ON {name} \
             WHEN {silent}{ins_keys} BEGIN \
             INSERT INTO sync_changes (tbl, row_key, op, fields, hlc) VALUES ('{name}', NEW.\"{key}\", 'upsert', NULL, {new_hlc}); \
             {insert_stamp}END",
            ins_keys = only_keys("NEW"),
            new_hlc = hlc("NEW"),
            insert_stamp = stamp("*", "1"),
        ),
        format!(
            "CREATE TRIGGER {schema}.capture_{name}_update AFTER UPDATE ON {name} \
             WHEN {silent}{upd_keys} AND ({changed_any}) BEGIN \
             INSERT INTO sync_changes (tbl, row_key, op, fields, hlc) \
             SELECT '{name}', OLD.\"{key}\", 'delete', NULL, {new_hlc} WHERE OLD.\"{key}\" IS NOT NEW.\"{key}\"; \
             INSERT INTO sync_changes (tbl, row_key, op, fields, hlc, bases) \
             VALUES ('{name}', NEW.\"{key}\", 'upsert', rtrim({changed_list}, ','), {new_hlc}, {bases}); \
             {update_stamps}END",
            upd_keys = only_keys("NEW"),
            new_hlc = hlc("NEW"),
            bases = bases,
        ),
        format!(
            "CREATE TRIGGER {schema}.capture_{name}_delete AFTER DELETE ON {name} \
             WHEN {silent}{del_keys} BEGIN \
             INSERT INTO sync_changes (tbl, row_key, op, fields, hlc) VALUES ('{name}', OLD.\"{key}\", 'delete', NULL, NULL); END",
            del_keys = only_keys("OLD"),
        ),
    ]
}

/// Every capture trigger both stores should have, in registry order.
fn all_trigger_sql(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in registry::TABLES.iter().filter(|t| t.captured()) {
        out.extend(trigger_sql(t, &columns(conn, t)?));
    }
    Ok(out)
}

/// Makes the capture triggers match the registry and the tables' columns (at unlock, after
/// the migrations). Does nothing when they already do.
pub(crate) fn install(conn: &mut Connection) -> Result<()> {
    let sql = all_trigger_sql(conn)?;
    let fingerprint = hex::encode(Sha256::digest(sql.join(";\n").as_bytes()));
    let installed: Option<String> = conn
        .query_row(
            "SELECT value FROM main.meta WHERE key = ?1",
            [INSTALLED],
            |r| r.get(0),
        )
        .optional()?;
    if installed.as_deref() == Some(fingerprint.as_str()) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for store in [Store::Clinical, Store::Identity] {
        let schema = store.schema();
        let names: Vec<String> = tx
            .prepare(&format!(
                "SELECT name FROM {schema}.sqlite_master WHERE type = 'trigger' AND name LIKE 'capture\\_%' ESCAPE '\\'"
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for name in names {
            tx.execute_batch(&format!("DROP TRIGGER {schema}.\"{name}\""))?;
        }
    }
    for s in &sql {
        tx.execute_batch(s)?;
    }
    tx.execute(
        "INSERT INTO main.meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![INSTALLED, fingerprint],
    )?;
    tx.commit()?;
    Ok(())
}

/// Runs `f` with capture switched off in both stores (for applying changes that came from
/// another device). The switch is a row inside the same transaction: whether `f` succeeds
/// or not, it never outlives it.
pub fn applying<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    for store in [Store::Clinical, Store::Identity] {
        tx.execute(
            &format!(
                "INSERT OR IGNORE INTO {}.sync_applying (id) VALUES (1)",
                store.schema()
            ),
            [],
        )?;
    }
    let out = f(tx);
    for store in [Store::Clinical, Store::Identity] {
        tx.execute(&format!("DELETE FROM {}.sync_applying", store.schema()), [])?;
    }
    out
}

/// Captured changes of one store after `after` (a `seq`), oldest first, at most `limit`.
pub fn pending(conn: &Connection, store: Store, after: i64, limit: usize) -> Result<Vec<Change>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT seq, tbl, row_key, op, fields, hlc, bases FROM {}.sync_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        store.schema()
    ))?;
    let rows = stmt
        .query_map(params![after, limit as i64], |r| {
            let fields: Option<String> = r.get(4)?;
            let bases: Option<String> = r.get(6)?;
            let bases: std::collections::BTreeMap<String, Option<String>> = bases
                .and_then(|b| serde_json::from_str(&b).ok())
                .unwrap_or_default();
            Ok(Change {
                bases: bases
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect(),
                seq: r.get(0)?,
                table: r.get(1)?,
                key: r.get(2)?,
                op: r.get(3)?,
                fields: fields.map(|f| {
                    f.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                }),
                hlc: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("ATTACH DATABASE ':memory:' AS identity")
            .unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        install(&mut conn).unwrap();
        conn
    }

    #[test]
    fn every_captured_table_has_its_three_triggers() {
        let conn = store();
        for t in registry::TABLES.iter().filter(|t| t.captured()) {
            for op in ["insert", "update", "delete"] {
                let n: i64 = conn
                    .query_row(
                        &format!(
                            "SELECT count(*) FROM {}.sqlite_master WHERE type = 'trigger' AND name = ?1",
                            t.store.schema()
                        ),
                        [format!("capture_{}_{op}", t.name)],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(n, 1, "{} has no {op} capture trigger", t.qualified());
            }
        }
    }

    #[test]
    fn an_update_records_only_the_fields_it_changed_and_a_no_op_nothing() {
        let conn = store();
        conn.execute_batch(
            "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h1', 'd');
             UPDATE clients SET status = 'closed', ended_on = '2026-02-01', hlc = 'h2' WHERE id = 'c1';
             UPDATE clients SET hlc = 'h3' WHERE id = 'c1';
             UPDATE clients SET status = 'closed' WHERE id = 'c1';
             DELETE FROM clients WHERE id = 'c1';",
        )
        .unwrap();
        let got = pending(&conn, Store::Clinical, 0, 100).unwrap();
        let summary: Vec<(String, Option<Vec<String>>, Option<String>)> =
            got.into_iter().map(|c| (c.op, c.fields, c.hlc)).collect();
        assert_eq!(
            summary,
            vec![
                ("upsert".into(), None, Some("h1".into())),
                (
                    "upsert".into(),
                    Some(vec!["status".into(), "ended_on".into()]),
                    Some("h2".into())
                ),
                ("delete".into(), None, None),
            ]
        );
    }

    #[test]
    fn only_the_practice_settings_are_captured() {
        let conn = store();
        conn.execute_batch(
            "INSERT INTO meta (key, value) VALUES ('hlc', 'x');
             INSERT INTO meta (key, value) VALUES ('device.id', 'x');
             INSERT INTO meta (key, value) VALUES ('retention_policy', '{}');
             INSERT INTO meta (key, value) VALUES ('calendar_secret', 'ab');
             INSERT INTO meta (key, value) VALUES ('practice_profile', '{}');",
        )
        .unwrap();
        let keys: Vec<String> = pending(&conn, Store::Clinical, 0, 100)
            .unwrap()
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(
            keys,
            vec!["retention_policy", "calendar_secret", "practice_profile"]
        );
    }

    #[test]
    fn writes_while_applying_remote_changes_are_not_captured_and_the_switch_ends_with_them() {
        let mut conn = store();
        let tx = conn.transaction().unwrap();
        applying(&tx, |tx| {
            tx.execute_batch(
                "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h1', 'd');
                 INSERT INTO identity.client_identity (code, full_name, hlc, device_id) VALUES ('C-AAAA', 'A', 'h', 'd');",
            )?;
            Ok(())
        })
        .unwrap();
        tx.commit().unwrap();
        assert!(pending(&conn, Store::Clinical, 0, 10).unwrap().is_empty());
        assert!(pending(&conn, Store::Identity, 0, 10).unwrap().is_empty());
        conn.execute("UPDATE clients SET status = 'closed' WHERE id = 'c1'", [])
            .unwrap();
        assert_eq!(pending(&conn, Store::Clinical, 0, 10).unwrap().len(), 1);
    }

    #[test]
    fn reinstalling_is_a_no_op_and_a_new_column_rebuilds_the_triggers() {
        let mut conn = store();
        let fp = |c: &Connection| -> String {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [INSTALLED], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let before = fp(&conn);
        install(&mut conn).unwrap();
        assert_eq!(fp(&conn), before);
        conn.execute_batch("ALTER TABLE clients ADD COLUMN pronouns TEXT")
            .unwrap();
        install(&mut conn).unwrap();
        assert_ne!(fp(&conn), before);
        conn.execute_batch(
            "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h1', 'd');
             UPDATE clients SET pronouns = 'they' WHERE id = 'c1';",
        )
        .unwrap();
        let last = pending(&conn, Store::Clinical, 0, 10)
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.fields, Some(vec!["pronouns".to_string()]));
    }
}

#[cfg(test)]
#[path = "changes_walk_test.rs"]
mod walk;
