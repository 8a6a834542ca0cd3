//! What the vault's own encrypted store says about the plaintext files beside it.
//!
//! `vault.json` and `recovery.age` sit in the vault folder unauthenticated: anyone who can
//! write to the folder (a synced folder, a shared drive, disk damage) can change them. So
//! the facts that matter are also kept ("pinned") inside the clinical store, where only the
//! vault's key can write, and the plaintext copies are believed only where they agree:
//!
//! * `device.vault_id` and `device.id`: the vault and this copy's device, stamped on every
//!   audit entry and backup. A `vault.json` naming another device changes nothing: the
//!   pinned id is used. One naming another vault is refused (its stores are not that vault).
//! * `device.recovery_sha256`: the SHA-256 of the `recovery.age` Casebook wrote. A backup
//!   carries that file as its keys part; one made with a replaced file could never be
//!   restored with the real recovery key, so [`crate::Vault::backup_create`] refuses to make
//!   it, and a backup whose keys part differs from the pin inside its own store fails
//!   verification.
//!
//! The pins are device-local (a restored copy is a new device and is pinned afresh) and are
//! left out of the open-format export. A vault made before pins existed is pinned from its
//! files at the first unlock (trust on first use).

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::vault::VaultMeta;

const VAULT_ID: &str = "device.vault_id";
const DEVICE_ID: &str = "device.id";
const RECOVERY: &str = "device.recovery_sha256";

/// The SHA-256 (hex) of a sealed-keys file.
pub(crate) fn digest(sealed_keys: &[u8]) -> String {
    hex::encode(Sha256::digest(sealed_keys))
}

fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM main.meta WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO main.meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Pins this copy's identity and recovery file (a new vault, or a restored copy), in one
/// transaction.
pub(crate) fn pin(conn: &Connection, meta: &VaultMeta, sealed_keys: &[u8]) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    set(&tx, VAULT_ID, &meta.vault_id)?;
    set(&tx, DEVICE_ID, &meta.device_id)?;
    set(&tx, RECOVERY, &digest(sealed_keys))?;
    tx.commit()?;
    Ok(())
}

/// At unlock (and before recovery stores keys anywhere): checks `vault.json` against the
/// pins and returns the description to use — the pinned device id whatever the file says.
/// Pins what is not pinned yet (a vault made before pins), in one transaction; a recovery
/// file that cannot be read then is not pinned (a backup will say so), and does not stop
/// the unlock.
pub(crate) fn checked_meta(
    conn: &Connection,
    mut meta: VaultMeta,
    sealed_keys: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<VaultMeta> {
    let pinned_vault = get(conn, VAULT_ID)?;
    if pinned_vault.as_ref().is_some_and(|v| *v != meta.vault_id) {
        return Err(CoreError::Corrupt(
            "vault.json names another vault than the stores beside it: it was changed outside Casebook".into(),
        ));
    }
    let pinned_device = get(conn, DEVICE_ID)?;
    let pinned_recovery = get(conn, RECOVERY)?;
    if pinned_vault.is_none() || pinned_device.is_none() || pinned_recovery.is_none() {
        let tx = conn.unchecked_transaction()?;
        if pinned_vault.is_none() {
            set(&tx, VAULT_ID, &meta.vault_id)?;
        }
        if pinned_device.is_none() {
            set(&tx, DEVICE_ID, &meta.device_id)?;
        }
        if pinned_recovery.is_none()
            && let Ok(bytes) = sealed_keys()
        {
            set(&tx, RECOVERY, &digest(&bytes))?;
        }
        tx.commit()?;
    }
    if let Some(device) = pinned_device {
        meta.device_id = device;
    }
    Ok(meta)
}

/// Pins a new device id for this copy (re-identification), inside the caller's transaction.
pub(crate) fn repin_device(conn: &Connection, device_id: &str) -> Result<()> {
    set(conn, DEVICE_ID, device_id)
}

/// The recovery file's digest as pinned in the store (`None` in a backup made before pins).
pub(crate) fn recovery_digest(conn: &Connection) -> Result<Option<String>> {
    get(conn, RECOVERY)
}

#[cfg(test)]
mod tests {
    use crate::{AuditFilter, CoreError, Vault};

    const PASSPHRASE: &str = "correct horse battery staple";

    fn edit_vault_json(dir: &std::path::Path, field: &str, value: &str) {
        let path = dir.join("vault.json");
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        json[field] = value.into();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    }

    /// vault.json is plain text: a device id written into it is not stamped on anything,
    /// and one naming another vault is refused.
    #[test]
    fn vault_json_is_believed_only_where_the_store_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::init(dir.path(), Some(PASSPHRASE)).unwrap().vault;
        let device = vault.meta().device_id.clone();
        drop(vault);

        edit_vault_json(dir.path(), "device_id", "forged-device");
        let mut vault = Vault::open(dir.path(), Some(PASSPHRASE)).unwrap();
        assert_eq!(vault.meta().device_id, device);
        let trail = vault.audit_entries(&AuditFilter::default()).unwrap();
        assert!(trail.iter().all(|e| e.device_id == device), "{trail:?}");
        drop(vault);

        edit_vault_json(
            dir.path(),
            "vault_id",
            "00000000-0000-4000-8000-000000000000",
        );
        let e = Vault::open(dir.path(), Some(PASSPHRASE)).err().unwrap();
        assert!(matches!(e, CoreError::Corrupt(_)), "{e}");
        assert!(e.to_string().contains("vault.json"), "{e}");
    }
}
