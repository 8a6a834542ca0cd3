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
//! * `device.home`: the folder this copy lives in (its path, and the file system's device and
//!   inode numbers for it). A folder opened under another inode while the recorded folder
//!   still holds this very vault and device is a *copy* (a copied vault folder): it becomes a
//!   computer of its own at that unlock ([`crate::Vault::copied_from`]), so two copies never
//!   write as one device. A folder whose recorded place is gone or holds something else was
//!   moved: the pin follows it.
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
const HOME: &str = "device.home";

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
pub(crate) fn pin(
    conn: &Connection,
    dir: &std::path::Path,
    meta: &VaultMeta,
    sealed_keys: &[u8],
) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    set(&tx, VAULT_ID, &meta.vault_id)?;
    set(&tx, DEVICE_ID, &meta.device_id)?;
    set(&tx, RECOVERY, &digest(sealed_keys))?;
    if let Some(here) = Folder::of(dir) {
        set(&tx, HOME, &here.pin())?;
    }
    tx.commit()?;
    Ok(())
}

/// Pins a new `recovery.age` (a re-keying wrote it), inside the caller's transaction.
pub(crate) fn repin_recovery(conn: &Connection, sealed_keys: &[u8]) -> Result<()> {
    set(conn, RECOVERY, &digest(sealed_keys))
}

/// A folder as the file system knows it: where it is and which directory it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Folder {
    path: std::path::PathBuf,
    /// The file system's device and inode numbers (a copy gets new ones; a rename keeps them).
    node: (u64, u64),
}

impl Folder {
    #[cfg(unix)]
    fn of(dir: &std::path::Path) -> Option<Folder> {
        use std::os::unix::fs::MetadataExt;
        let path = std::fs::canonicalize(dir).ok()?;
        let m = std::fs::metadata(&path).ok()?;
        Some(Folder {
            path,
            node: (m.dev(), m.ino()),
        })
    }

    /// Elsewhere there is no inode to tell a copy from a move: nothing is pinned.
    #[cfg(not(unix))]
    fn of(_dir: &std::path::Path) -> Option<Folder> {
        None
    }

    fn pin(&self) -> String {
        format!("{}:{}\t{}", self.node.0, self.node.1, self.path.display())
    }

    fn parse(pin: &str) -> Option<Folder> {
        let (node, path) = pin.split_once('\t')?;
        let (dev, ino) = node.split_once(':')?;
        Some(Folder {
            path: path.into(),
            node: (dev.parse().ok()?, ino.parse().ok()?),
        })
    }
}

/// Where this copy of the vault is, against where it was last unlocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Home {
    /// The folder it was unlocked in before (or one renamed from it, or the first unlock
    /// since pins had a home): the pin now names this folder.
    Same,
    /// A copy of the folder at this path, which still holds this very vault and device.
    CopyOf(std::path::PathBuf),
}

/// Checks the folder `dir` against the pinned home (see the module's doc). Moves and first
/// unlocks re-pin at once; a copy is left for [`crate::Vault`] to make a computer of its
/// own, which pins its home in the same transaction.
pub(crate) fn home(conn: &Connection, dir: &std::path::Path, meta: &VaultMeta) -> Result<Home> {
    let Some(here) = Folder::of(dir) else {
        return Ok(Home::Same);
    };
    let pinned = get(conn, HOME)?.and_then(|p| Folder::parse(&p));
    if let Some(was) = &pinned
        && was.node != here.node
        && was.path != here.path
        && Folder::of(&was.path).is_some_and(|there| there.node == was.node)
        && crate::vault::read_meta(&was.path)
            .is_ok_and(|m| m.vault_id == meta.vault_id && m.device_id == meta.device_id)
    {
        return Ok(Home::CopyOf(was.path.clone()));
    }
    if pinned.as_ref() != Some(&here) {
        set(conn, HOME, &here.pin())?;
    }
    Ok(Home::Same)
}

/// Pins `dir` as this copy's home, inside the caller's transaction.
pub(crate) fn repin_home(conn: &Connection, dir: &std::path::Path) -> Result<()> {
    match Folder::of(dir) {
        Some(here) => set(conn, HOME, &here.pin()),
        None => Ok(()),
    }
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

    fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }

    fn reidentified(vault: &mut Vault) -> Vec<String> {
        vault
            .audit_entries(&AuditFilter::default())
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "device.reidentify")
            .map(|e| e.detail.unwrap_or_default())
            .collect()
    }

    /// A copied vault folder, opened while the folder it was copied from still holds the
    /// same vault and device, becomes a computer of its own at that unlock: a new device id
    /// (audited), and none of the original's server connection. The original keeps its id;
    /// a moved folder, or a copy whose original is gone, keeps its id too.
    #[test]
    fn a_copied_vault_folder_becomes_a_computer_of_its_own() {
        let home = tempfile::tempdir().unwrap();
        let original = home.path().join("original");
        let vault = Vault::init(&original, Some(PASSPHRASE)).unwrap().vault;
        let device = vault.meta().device_id.clone();
        drop(vault);
        // Stand-ins for a server connection's files (the copy must not use them).
        std::fs::write(original.join("server.json"), b"null").unwrap();
        std::fs::write(original.join("server-device.age"), b"sealed").unwrap();

        let copy = home.path().join("copy");
        copy_folder(&original, &copy);
        let mut copied = Vault::open(&copy, Some(PASSPHRASE)).unwrap();
        let new_id = copied.meta().device_id.clone();
        assert_ne!(new_id, device, "the copy took a device id of its own");
        assert_eq!(
            copied.copied_from(),
            Some(std::fs::canonicalize(&original).unwrap().as_path())
        );
        let said = reidentified(&mut copied);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains(&format!("previous={device}")), "{said:?}");
        assert!(said[0].contains("reason=copied_folder"), "{said:?}");
        assert!(!copy.join("server.json").exists());
        assert!(!copy.join("server-device.age").exists());
        drop(copied);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(copy.join("vault.json")).unwrap()).unwrap();
        assert_eq!(json["device_id"], new_id.as_str());

        // Opened again, the copy is itself: no second re-identification.
        let mut copied = Vault::open(&copy, Some(PASSPHRASE)).unwrap();
        assert_eq!(copied.meta().device_id, new_id);
        assert_eq!(copied.copied_from(), None);
        assert_eq!(reidentified(&mut copied).len(), 1);
        drop(copied);

        // The original is untouched.
        let mut first = Vault::open(&original, Some(PASSPHRASE)).unwrap();
        assert_eq!(first.meta().device_id, device);
        assert_eq!(first.copied_from(), None);
        assert!(reidentified(&mut first).is_empty());
        drop(first);
        assert!(original.join("server.json").exists());

        // Moved (renamed), it is the same computer.
        let moved = home.path().join("moved");
        std::fs::rename(&original, &moved).unwrap();
        let first = Vault::open(&moved, Some(PASSPHRASE)).unwrap();
        assert_eq!(first.meta().device_id, device);
        assert_eq!(first.copied_from(), None);
        drop(first);

        // Copied elsewhere and the original deleted (moved to another disk): the same
        // computer as well.
        let other_disk = home.path().join("other-disk");
        copy_folder(&moved, &other_disk);
        std::fs::remove_dir_all(&moved).unwrap();
        let mut first = Vault::open(&other_disk, Some(PASSPHRASE)).unwrap();
        assert_eq!(first.meta().device_id, device);
        assert!(reidentified(&mut first).is_empty());
    }
}
