//! One list of every table in both stores, and what each one means for sync, erasure and export.
//!
//! Before this list, table knowledge was written out by hand in several places (the schema,
//! erasure's table list, the export's table list, scattered outbox calls), and writes that
//! should have reached other devices — retention dates, the retention policy, identity
//! history, erased calendar keys, the calendar secret — left no trace for sync. Now the
//! schema check, erasure, the open-format export and change capture ([`crate::changes`]) all
//! read this one list, and a test fails when a table in the schema is missing from it.

/// Which of the two stores a table lives in (the two-code separation: names only in identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Store {
    Clinical,
    Identity,
}

impl Store {
    /// The schema name the table is reached through on the vault's connection.
    pub fn schema(self) -> &'static str {
        match self {
            Store::Clinical => "main",
            Store::Identity => "identity",
        }
    }
}

/// How rows of a synced table are merged when changes from other devices arrive
/// (`docs/sync.md`, "Merge rules").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Last writer wins per field, by (HLC, device); an unseen overwritten value is kept as a conflict.
    FieldLww,
    /// A draft session note: concurrent body edits keep both versions; final notes are immutable.
    Draft,
    /// Written once, never changed: a different remote version is an integrity alarm.
    Immutable,
}

/// Whether a table's rows travel to the practice's other computers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// Every write is captured and sent; merged by the rule given.
    Synced(Merge),
    /// Only the settings rows whose keys are listed travel (the `meta` table).
    SyncedKeys(&'static [&'static str], Merge),
    /// The audit trail: each device's own hash chain travels as a whole, read-only elsewhere.
    AuditChain,
    /// Belongs to this computer's copy only (secrets, bookkeeping, derived indexes).
    DeviceLocal,
}

/// One table.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub name: &'static str,
    pub store: Store,
    /// The column that names a row across devices.
    pub key: &'static str,
    pub sharing: Sharing,
    /// The column holding the client code whose erasure removes the row (`None`: kept).
    pub erased_by: Option<&'static str>,
    /// The file stem in the open-format export (`None`: not exported).
    pub export: Option<&'static str>,
}

impl Table {
    /// `schema.name`, for SQL.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.store.schema(), self.name)
    }

    /// Whether writes to this table are captured for sync.
    pub fn captured(&self) -> bool {
        matches!(self.sharing, Sharing::Synced(_) | Sharing::SyncedKeys(..))
    }
}

/// The settings keys that are the practice's, not the computer's: the retention policy, the
/// secret that keys calendar events (two computers importing one calendar must agree), and
/// the practice's details printed on exports.
pub const SYNCED_SETTINGS: &[&str] = &["retention_policy", "calendar_secret", "practice_profile"];

const fn t(
    name: &'static str,
    store: Store,
    key: &'static str,
    sharing: Sharing,
    erased_by: Option<&'static str>,
    export: Option<&'static str>,
) -> Table {
    Table {
        name,
        store,
        key,
        sharing,
        erased_by,
        export,
    }
}

use Merge::*;
use Sharing::*;
use Store::*;

/// Every table of both stores. Parents come before children, so the export's order is an
/// order rows can be inserted in; erasure walks it backwards (children first).
pub const TABLES: &[Table] = &[
    t(
        "clients",
        Clinical,
        "id",
        Synced(FieldLww),
        Some("code"),
        Some("clients"),
    ),
    t(
        "client_identity",
        Identity,
        "code",
        Synced(FieldLww),
        Some("code"),
        Some("client_identity"),
    ),
    t(
        "identity_history",
        Identity,
        "id",
        Synced(Immutable),
        Some("code"),
        Some("identity_history"),
    ),
    t(
        "appointment_series",
        Clinical,
        "id",
        Synced(FieldLww),
        Some("client_code"),
        Some("appointment_series"),
    ),
    t(
        "appointments",
        Clinical,
        "id",
        Synced(FieldLww),
        Some("client_code"),
        Some("appointments"),
    ),
    t(
        "appointment_moves",
        Clinical,
        "id",
        Synced(Immutable),
        Some("client_code"),
        Some("appointment_moves"),
    ),
    t(
        "session_notes",
        Clinical,
        "id",
        Synced(Draft),
        Some("client_code"),
        Some("session_notes"),
    ),
    t(
        "addenda",
        Clinical,
        "id",
        Synced(Immutable),
        Some("client_code"),
        Some("addenda"),
    ),
    t(
        "process_notes",
        Clinical,
        "id",
        Synced(FieldLww),
        Some("client_code"),
        Some("process_notes"),
    ),
    t(
        "outcome_measures",
        Clinical,
        "id",
        Synced(Immutable),
        Some("client_code"),
        Some("outcome_measures"),
    ),
    t(
        "client_retention",
        Clinical,
        "client_code",
        Synced(FieldLww),
        Some("client_code"),
        Some("client_retention"),
    ),
    t(
        "access_requests",
        Clinical,
        "id",
        Synced(FieldLww),
        Some("client_code"),
        Some("access_requests"),
    ),
    // The session clock's runs (times only): a session running on one computer shows on the
    // others, and ending it on either ends it. Not exported: a timer, not a record.
    t("session_runs", Clinical, "id", Synced(FieldLww), None, None),
    t(
        "erasure_records",
        Clinical,
        "id",
        Synced(Immutable),
        None,
        Some("erasure_records"),
    ),
    t(
        "erased_calendar_keys",
        Clinical,
        "calendar_key",
        Synced(Immutable),
        None,
        Some("erased_calendar_keys"),
    ),
    t(
        "meta",
        Clinical,
        "key",
        SyncedKeys(SYNCED_SETTINGS, FieldLww),
        None,
        Some("settings"),
    ),
    t(
        "audit_log",
        Clinical,
        "seq",
        AuditChain,
        None,
        Some("audit_log"),
    ),
    // This computer's copy only.
    t(
        "search_index",
        Clinical,
        "rowid",
        DeviceLocal,
        Some("client_code"),
        None,
    ),
    t("erasing", Clinical, "client_code", DeviceLocal, None, None),
    t("sync_changes", Clinical, "seq", DeviceLocal, None, None),
    t("sync_applying", Clinical, "id", DeviceLocal, None, None),
    t("sync_stamps", Clinical, "tbl", DeviceLocal, None, None),
    // Values kept aside can hold the client's details or note text: erased with them.
    t(
        "sync_conflicts",
        Clinical,
        "id",
        DeviceLocal,
        Some("client_code"),
        None,
    ),
    t("sync_sealed", Clinical, "seq", DeviceLocal, None, None),
    t("sync_state", Clinical, "key", DeviceLocal, None, None),
    // The practice's re-keyings (`crate::key_ring`): keys, never exported.
    t("key_ring", Clinical, "generation", DeviceLocal, None, None),
    t("key_ring", Identity, "generation", DeviceLocal, None, None),
    t("audit_head", Identity, "id", DeviceLocal, None, None),
    // Other computers' audit chains, as verified here (they arrive in their own blobs).
    t("audit_remote", Clinical, "hash", DeviceLocal, None, None),
    t("calendar_feed", Identity, "id", DeviceLocal, None, None),
    t("sync_changes", Identity, "seq", DeviceLocal, None, None),
    t("sync_applying", Identity, "id", DeviceLocal, None, None),
    t("sync_stamps", Identity, "tbl", DeviceLocal, None, None),
];

/// The registry entry for `name` in `store`.
pub fn table(store: Store, name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.store == store && t.name == name)
}

/// Tables whose rows go when their client is erased, children before parents.
pub fn erased_with_client() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().rev().filter(|t| t.erased_by.is_some())
}

/// Tables in the open-format export, parents first: (file stem, `schema.table`).
pub fn exported() -> impl Iterator<Item = (&'static str, String)> {
    TABLES
        .iter()
        .filter_map(|t| t.export.map(|stem| (stem, t.qualified())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every table the migrations make is in the registry, in the right store, and every
    /// registry entry exists — so a new table cannot be added without saying whether it syncs,
    /// whether erasure removes it and whether it is exported.
    #[test]
    fn the_registry_lists_exactly_the_tables_of_both_stores() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("ATTACH DATABASE ':memory:' AS identity")
            .unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        let mut found = BTreeSet::new();
        for store in [Store::Clinical, Store::Identity] {
            let schema = store.schema();
            let names: Vec<String> = conn
                .prepare(&format!(
                    "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                ))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            for name in names {
                // FTS5's own shadow tables belong to the index.
                if name.starts_with("search_index_") {
                    continue;
                }
                assert!(
                    table(store, &name).is_some(),
                    "{schema}.{name} is not in the table registry"
                );
                found.insert((schema, name));
            }
        }
        for t in TABLES {
            assert!(
                found.contains(&(t.store.schema(), t.name.to_string())),
                "{} is in the registry but not in the schema",
                t.qualified()
            );
        }
    }

    #[test]
    fn names_and_clinical_rows_stay_in_their_stores() {
        for t in TABLES {
            if t.name == "client_identity" || t.name == "identity_history" {
                assert_eq!(t.store, Store::Identity, "{} holds names", t.name);
            }
        }
    }
}
