//! Opening the two SQLCipher stores on one connection.
//!
//! The clinical store is the connection's `main` database; the identity store is
//! ATTACHed as `identity` with its own key. Both use rollback journals (not WAL) with
//! `synchronous = FULL`, so a transaction touching both stores commits atomically across
//! them through SQLite's super-journal: an audit entry and the chain head kept in the
//! identity store can never disagree after a crash. `secure_delete` overwrites freed pages.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::{CoreError, Result};
use crate::keys::StoreKey;

/// File names inside a vault folder.
pub const CLINICAL_DB: &str = "clinical.db";
pub const IDENTITY_DB: &str = "identity.db";

/// Whether a store file must already exist.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Existing,
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase)
}

/// Opens both stores of the vault in `dir` with their keys. `None` keys are only used by the
/// plaintext comparison benchmark.
pub(crate) fn open_pair(
    dir: &Path,
    clinical: Option<&StoreKey>,
    identity: Option<&StoreKey>,
    mode: Mode,
) -> Result<Connection> {
    let clinical_path = dir.join(CLINICAL_DB);
    let identity_path = dir.join(IDENTITY_DB);
    if mode == Mode::Existing && (!clinical_path.exists() || !identity_path.exists()) {
        return Err(CoreError::Corrupt(format!(
            "{} or {} is missing from {}",
            CLINICAL_DB,
            IDENTITY_DB,
            dir.display()
        )));
    }
    let conn =
        with_keying_retry(|| open_keyed(&clinical_path, &identity_path, clinical, identity, mode))?;
    conn.execute_batch(
        "PRAGMA main.journal_mode = DELETE;
         PRAGMA identity.journal_mode = DELETE;
         PRAGMA main.synchronous = FULL;
         PRAGMA identity.synchronous = FULL;
         PRAGMA main.secure_delete = ON;
         PRAGMA identity.secure_delete = ON;
         PRAGMA foreign_keys = ON;",
    )?;
    // Applying another computer's changes prepares a few statements per synced table (rows,
    // stamps, columns): room for all of them, so none is prepared again for every row.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// Serialises SQLCipher's keying step across the process (see [`with_keying_retry`]).
static KEYING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Opens the clinical store, keys it, attaches the identity store with its key and checks
/// both can be read.
fn open_keyed(
    clinical_path: &Path,
    identity_path: &Path,
    clinical: Option<&StoreKey>,
    identity: Option<&StoreKey>,
    mode: Mode,
) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if mode == Mode::Create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let _keying = KEYING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let conn = Connection::open_with_flags(clinical_path, flags)?;
    // Before the first read: another process may be mid-commit.
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // SQLCipher otherwise writes an HMAC warning to stderr when a key is wrong.
    let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
    if let Some(key) = clinical {
        conn.execute_batch(&format!("PRAGMA key = \"{}\";", key.sql_literal()))?;
    }
    check_readable(&conn, "main")?;
    let identity_key = identity.map(|k| k.sql_literal()).unwrap_or_default();
    conn.execute(
        "ATTACH DATABASE ?1 AS identity KEY ?2",
        rusqlite::params![identity_path.to_string_lossy(), identity_key],
    )?;
    check_readable(&conn, "identity")?;
    Ok(conn)
}

/// SQLCipher's `PRAGMA key` once failed in CI on a brand-new store with a valid 32-byte key
/// ("An error occurred with PRAGMA key or rekey…") while other tests in the same process
/// were opening and closing vaults; it did not recur in hundreds of runs. Keying touches
/// nothing on disk, so the step is serialised across the process and a failure of the
/// keying itself is tried again on a fresh connection, a few times, before it is reported.
/// A wrong key is not a keying failure ([`CoreError::KeysDoNotOpenVault`]) and is never
/// retried.
fn with_keying_retry(mut open: impl FnMut() -> Result<Connection>) -> Result<Connection> {
    const ATTEMPTS: usize = 3;
    let mut attempt = 1;
    loop {
        match open() {
            Err(e) if attempt < ATTEMPTS && is_keying_failure(&e) => attempt += 1,
            other => return other,
        }
    }
}

fn is_keying_failure(e: &CoreError) -> bool {
    matches!(e, CoreError::Database(rusqlite::Error::SqliteFailure(_, Some(msg)))
        if msg.starts_with("An error occurred with PRAGMA key"))
}

/// A wrong key only shows at the first read ("file is not a database").
fn check_readable(conn: &Connection, schema: &str) -> Result<()> {
    match conn.query_row(
        &format!("SELECT count(*) FROM {schema}.sqlite_master"),
        [],
        |r| r.get::<_, i64>(0),
    ) {
        Ok(_) => Ok(()),
        Err(e) if is_not_a_database(&e) => Err(CoreError::KeysDoNotOpenVault),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keying_failure() -> CoreError {
        CoreError::Database(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(1),
            Some("An error occurred with PRAGMA key or rekey. PRAGMA key requires…".into()),
        ))
    }

    #[test]
    fn a_keying_failure_is_tried_again_and_then_reported() {
        let mut calls = 0;
        let conn = with_keying_retry(|| {
            calls += 1;
            if calls < 3 {
                Err(keying_failure())
            } else {
                Ok(Connection::open_in_memory()?)
            }
        });
        assert!(conn.is_ok());
        assert_eq!(calls, 3);

        let mut calls = 0;
        let e = with_keying_retry(|| {
            calls += 1;
            Err(keying_failure())
        })
        .unwrap_err();
        assert!(is_keying_failure(&e));
        assert_eq!(calls, 3, "gives up after three attempts");
    }

    #[test]
    fn a_wrong_key_is_never_retried() {
        let mut calls = 0;
        let e = with_keying_retry(|| {
            calls += 1;
            Err(CoreError::KeysDoNotOpenVault)
        })
        .unwrap_err();
        assert!(matches!(e, CoreError::KeysDoNotOpenVault));
        assert_eq!(calls, 1);
    }
}
