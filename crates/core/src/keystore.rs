//! Where the store keys live between sessions: the OS keychain, or a passphrase key file.
//!
//! * **OS keychain** (default): separate entries, service `casebook`, accounts
//!   `<vault id>/clinical-db-key`, `<vault id>/identity-db-key` and the backup identities
//!   `<vault id>/clinical-backup-identity`, `<vault id>/identity-backup-identity`, through the `keyring`
//!   crate's native backend (Secret Service on Linux, Keychain on macOS, Credential
//!   Manager on Windows).
//! * **Passphrase key file**: when `CASEBOOK_PASSPHRASE` is set at init, or no keychain is
//!   reachable, both keys go in `keys.age`, an age file sealed with the passphrase (scrypt).
//!
//! Either way a third copy sits in `recovery.age`, sealed with the recovery key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::keys::{BackupIdentity, StoreKey, VaultKeys};
use crate::sealed::{self, OpenError};

const SERVICE: &str = "casebook";

/// Which key store a vault uses; recorded in `vault.json`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStoreKind {
    /// The operating system's keychain.
    OsKeychain,
    /// `keys.age` in the vault folder, sealed with a passphrase.
    Passphrase,
}

impl KeyStoreKind {
    /// How the CLI and app name it.
    pub fn describe(self) -> &'static str {
        match self {
            KeyStoreKind::OsKeychain => "OS keychain",
            KeyStoreKind::Passphrase => "passphrase key file",
        }
    }
}

/// The key file used by the passphrase key store.
pub fn key_file(vault_dir: &Path) -> PathBuf {
    vault_dir.join("keys.age")
}

fn keychain_error(e: keyring::Error) -> CoreError {
    match e {
        keyring::Error::NoEntry => CoreError::KeysMissing,
        other => CoreError::KeychainUnavailable(other.to_string()),
    }
}

/// The keychain entries of one vault, by account suffix.
const ENTRIES: [&str; 4] = [
    "clinical-db-key",
    "identity-db-key",
    "clinical-backup-identity",
    "identity-backup-identity",
];

fn entry(vault_id: &str, which: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, &format!("{vault_id}/{which}")).map_err(keychain_error)
}

/// Stores the keys in the OS keychain and reads them back, so a keychain that silently
/// drops secrets is caught at once. Only the first generation: re-keyings live in the stores
/// ([`crate::key_ring`]), written with the vault's other changes.
pub(crate) fn keychain_save(vault_id: &str, keys: &VaultKeys) -> Result<()> {
    let keys = &keys.first_generation();
    let values = [
        keys.clinical.to_hex(),
        keys.identity.to_hex(),
        keys.clinical_backup.as_str().to_string(),
        keys.identity_backup.as_str().to_string(),
    ];
    for (which, value) in ENTRIES.iter().zip(values.iter()) {
        let e = entry(vault_id, which)?;
        e.set_password(value).map_err(keychain_error)?;
    }
    let back = keychain_load(vault_id).map_err(|e| match e {
        CoreError::KeysMissing => {
            CoreError::KeychainUnavailable("the keychain did not keep what was stored".into())
        }
        other => other,
    })?;
    if &back != keys {
        return Err(CoreError::KeychainUnavailable(
            "the keychain returned different keys from those stored".into(),
        ));
    }
    Ok(())
}

/// Reads both keys from the OS keychain.
pub(crate) fn keychain_load(vault_id: &str) -> Result<VaultKeys> {
    let get = |which| -> Result<String> {
        entry(vault_id, which)?
            .get_password()
            .map_err(keychain_error)
    };
    let key = |which| StoreKey::from_hex(&get(which)?).map_err(|_| CoreError::KeysMissing);
    let backup = |which| BackupIdentity::parse(&get(which)?).map_err(|_| CoreError::KeysMissing);
    Ok(VaultKeys {
        clinical: key("clinical-db-key")?,
        identity: key("identity-db-key")?,
        clinical_backup: backup("clinical-backup-identity")?,
        identity_backup: backup("identity-backup-identity")?,
        rekeyed: Vec::new(),
    })
}

/// Removes this vault's keychain entries (after moving to a passphrase key file).
pub(crate) fn keychain_forget(vault_id: &str) {
    for which in ENTRIES {
        if let Ok(e) = entry(vault_id, which) {
            let _ = e.delete_credential();
        }
    }
}

/// Seals both keys into the vault's key file with the passphrase.
pub(crate) fn passphrase_save(vault_dir: &Path, passphrase: &str, keys: &VaultKeys) -> Result<()> {
    if passphrase.is_empty() {
        return Err(CoreError::invalid(
            "the passphrase is empty: choose one you will remember (or use the OS keychain)",
        ));
    }
    // The first generation only, as in the keychain.
    let sealed = sealed::seal(passphrase, &keys.first_generation().to_json())?;
    sealed::write_atomically(&key_file(vault_dir), &sealed)
}

/// Opens the vault's key file with the passphrase.
pub(crate) fn passphrase_load(vault_dir: &Path, passphrase: &str) -> Result<VaultKeys> {
    let path = key_file(vault_dir);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CoreError::KeyFileCorrupt(path.clone()),
        _ => CoreError::Io {
            path: path.clone(),
            source: e,
        },
    })?;
    probe_key_file(&bytes, passphrase).map_err(|e| match e {
        CoreError::WrongPassphrase => CoreError::WrongPassphrase,
        _ => CoreError::KeyFileCorrupt(path),
    })
}

/// Tries to open key-file bytes with a passphrase; `Err` for anything but a valid key file.
/// Used by the fuzz target for the key-file decoder.
#[doc(hidden)]
pub fn probe_key_file(bytes: &[u8], passphrase: &str) -> Result<VaultKeys> {
    match sealed::open(passphrase, bytes) {
        Ok(plain) => VaultKeys::from_json(&plain),
        Err(OpenError::WrongPassphrase) => Err(CoreError::WrongPassphrase),
        Err(OpenError::Damaged | OpenError::ExcessiveWork) => {
            Err(CoreError::KeyFileCorrupt(PathBuf::from("(bytes)")))
        }
    }
}
