//! Read-only while catching up: a computer that has just joined the practice opens its
//! records as soon as the restored backup is in, but holds them read-only until it has
//! caught up with the other computers' changes since that backup. Editing a record that is
//! about to change under the therapist's hands would only make conflicts.
//!
//! The hold is made of SQLite `TEMP` triggers, one per write to every synced table (from
//! the table registry, so no table is forgotten): any local write to the records is refused
//! with [`CoreError::CatchingUp`] and its transaction changes nothing, while the changes
//! applied from other computers (written under the store's `sync_applying` mark) go in, as
//! do the audit trail and this computer's own settings. Temporary triggers live only as
//! long as the connection: a lock or a crash ends the hold, and whoever opens the vault
//! again decides afresh (the app holds it again while a join has not caught up).
//!
//! [`CoreError::CatchingUp`]: crate::error::CoreError::CatchingUp

use crate::error::Result;
use crate::registry::{self, Sharing};
use crate::vault::Vault;

/// The message the triggers raise; turned into [`crate::error::CoreError::CatchingUp`].
pub(crate) const REFUSED: &str = "casebook: read-only while catching up";

/// The `CREATE TEMP TRIGGER` statements of the hold, and the names they create.
fn hold_sql() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in registry::TABLES.iter().filter(|t| t.captured()) {
        let schema = t.store.schema();
        let name = t.name;
        let only_keys = |row: &str| match t.sharing {
            Sharing::SyncedKeys(keys, _) => format!(
                " AND {row}.\"{}\" IN ({})",
                t.key,
                keys.iter()
                    .map(|k| format!("'{}'", k.replace('\'', "''")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        for (op, row) in [("insert", "NEW"), ("update", "NEW"), ("delete", "OLD")] {
            let trigger = format!("catching_up_{schema}_{name}_{op}");
            out.push((
                trigger.clone(),
                format!(
                    "CREATE TEMP TRIGGER IF NOT EXISTS \"{trigger}\" BEFORE {op} ON {schema}.{name} \
                     WHEN NOT EXISTS (SELECT 1 FROM {schema}.sync_applying){keys} \
                     BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
                    keys = only_keys(row),
                ),
            ));
        }
    }
    out
}

impl Vault {
    /// Holds the records read-only (`true`) while this computer catches up, or lets them be
    /// written again (`false`). Idempotent; ends by itself when the vault is closed.
    pub fn set_catching_up(&mut self, on: bool) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (name, sql) in hold_sql() {
            if on {
                tx.execute_batch(&sql)?;
            } else {
                tx.execute_batch(&format!("DROP TRIGGER IF EXISTS temp.\"{name}\""))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether the records are held read-only ([`Vault::set_catching_up`]).
    pub fn catching_up(&self) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM temp.sqlite_master WHERE type = 'trigger' AND name LIKE 'catching\\_up\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks the registry: every synced table is held, for each of its three writes.
    #[test]
    fn every_synced_table_is_held() {
        let home = tempfile::tempdir().unwrap();
        let mut v = Vault::init(&home.path().join("v"), Some("a test passphrase here"))
            .unwrap()
            .vault;
        v.set_catching_up(true).unwrap();
        let held: Vec<String> = v
            .conn
            .prepare("SELECT name FROM temp.sqlite_master WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for t in registry::TABLES.iter().filter(|t| t.captured()) {
            for op in ["insert", "update", "delete"] {
                let name = format!("catching_up_{}_{}_{op}", t.store.schema(), t.name);
                assert!(held.contains(&name), "{name} missing from {held:?}");
            }
        }
        v.set_catching_up(false).unwrap();
        assert!(!v.catching_up().unwrap());
    }
}
