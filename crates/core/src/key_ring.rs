//! The practice's re-keyings ([`crate::keys::Generation`]), kept inside the stores: the
//! clinical backup identity and root seed of each in the clinical store, the identity-store
//! backup identity in the identity store, so each store on its own still holds no key to the
//! other's data on the server. Written in the same transaction as the device-list entry that
//! brought them, so a crash leaves either the old keys or both; nothing is ever sealed to a
//! generation before it is here. The key store (keychain or key file) keeps the first
//! generation only.

use rusqlite::{Connection, params};

use crate::error::{CoreError, Result};
use crate::keys::{BackupIdentity, Generation, RootSeed, VaultKeys};

/// The generations held, oldest first (generation 1 first). A generation whose two halves
/// are not both here (a crash between the two stores' commits) is not held.
pub(crate) fn load(conn: &Connection) -> Result<Vec<Generation>> {
    let mut stmt = conn.prepare(
        "SELECT c.generation, c.backup_identity, c.root_seed, i.backup_identity, c.replaces_recovery, c.backups \
         FROM main.key_ring c JOIN identity.key_ring i USING (generation) ORDER BY c.generation",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, (n, clinical, seed, identity, replaces, backups)) in rows.into_iter().enumerate() {
        if n != i as i64 + 1 {
            return Err(CoreError::Corrupt(format!(
                "the store's key generations skip from {i} to {n}"
            )));
        }
        out.push(Generation {
            clinical_backup: BackupIdentity::parse(&clinical)?,
            identity_backup: BackupIdentity::parse(&identity)?,
            root_seed: RootSeed::from_hex(&seed)?,
            replaces,
            backups: serde_json::from_str(&backups)
                .map_err(|_| CoreError::Corrupt("a key generation's backup list".into()))?,
        });
    }
    Ok(out)
}

/// Keeps generation `number` (1 for the first re-keying). Keeping one already held changes
/// nothing.
pub(crate) fn save(conn: &Connection, number: usize, g: &Generation) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO main.key_ring (generation, backup_identity, root_seed, replaces_recovery, backups) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            number as i64,
            g.clinical_backup.as_str(),
            g.root_seed.to_hex(),
            g.replaces,
            serde_json::to_string(&g.backups).unwrap_or_else(|_| "[]".into())
        ],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO identity.key_ring (generation, backup_identity) VALUES (?1, ?2)",
        params![number as i64, g.identity_backup.as_str()],
    )?;
    Ok(())
}

/// Brings `keys` (from the key store or a `recovery.age`) and the stores to the same
/// generations: the longer list wins (a restore from an older backup opened with newer
/// sealed keys keeps the newer keys; the key store never holds re-keyings).
pub(crate) fn reconcile(conn: &Connection, keys: &mut VaultKeys) -> Result<()> {
    let stored = load(conn)?;
    if keys.rekeyed.len() > stored.len() {
        let tx = conn.unchecked_transaction()?;
        for (i, g) in keys.rekeyed.iter().enumerate().skip(stored.len()) {
            save(&tx, i + 1, g)?;
        }
        tx.commit()?;
    } else {
        keys.rekeyed = stored;
    }
    Ok(())
}
