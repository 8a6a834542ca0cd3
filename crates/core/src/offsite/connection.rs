//! The vault's link to one server account: the settings file (`server.json`: address,
//! account, this device, where the server keeps data; no secret), the record of runs
//! (`server-state.json`), and this device's secrets (its token and key), which live in the
//! vault's own key store — the OS keychain entry `<vault id>/<device id>/server-device`, or for a
//! passphrase vault `server-device.age`, sealed with age to the vault's clinical backup key
//! (so it opens only once the passphrase has opened the keys) — never in a plaintext file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::backup::{BackupState, KeepPolicy};
use crate::error::{CoreError, Result};
use crate::jsonfile::{read_json, write_json};
use crate::keys::VaultKeys;
use crate::keystore::KeyStoreKind;
use crate::sealed;

use super::client::{ServerClient, ServerUrl};

const SETTINGS_FILE: &str = "server.json";
const STATE_FILE: &str = "server-state.json";
const SECRET_FILE: &str = "server-device.age";
const KEYCHAIN_ENTRY: &str = "server-device";

fn remove_files(dir: &Path, files: &[&str]) -> Result<()> {
    for f in files {
        let p = dir.join(f);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CoreError::io(p)(e)),
        }
    }
    Ok(())
}

/// Forgets, in a copied vault folder, the connection files it copied: they are the original
/// computer's server device (its settings, its runs, its sealed secret). The keychain entry
/// is named by the original's device and stays its own.
pub(crate) fn forget_copied(vault_dir: &Path) -> Result<()> {
    remove_files(vault_dir, &[SETTINGS_FILE, STATE_FILE, SECRET_FILE])
}

/// The connection, as `server.json` keeps it. No secret: the token is in the key store.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    pub url: String,
    pub username: String,
    pub account_id: String,
    pub device_id: String,
    pub device_name: String,
    /// Where the server said it keeps data when connected ("London, United Kingdom").
    pub locations: Vec<String>,
    pub connected_at: chrono::DateTime<chrono::Utc>,
    /// Whether the backup schedule also sends a copy here.
    #[serde(default = "yes")]
    pub scheduled: bool,
    /// How long off-site copies are kept (on its own, apart from the local folder's).
    #[serde(default)]
    pub keep: KeepPolicy,
    /// Whether the account has a second factor, as last known here (turned on or off from
    /// this computer, or a code was needed to connect).
    #[serde(default)]
    pub totp_enabled: bool,
}

fn yes() -> bool {
    true
}

impl ServerSettings {
    /// The connection of the vault in `vault_dir`, if it has one.
    pub fn load(vault_dir: &Path) -> Result<Option<Self>> {
        let path = vault_dir.join(SETTINGS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        read_json::<Option<Self>>(&path)
    }

    pub(crate) fn save(&self, vault_dir: &Path) -> Result<()> {
        write_json(&vault_dir.join(SETTINGS_FILE), &Some(self))
    }

    pub(crate) fn remove(vault_dir: &Path) -> Result<()> {
        remove_files(vault_dir, &[SETTINGS_FILE, STATE_FILE])
    }

    pub fn server_url(&self) -> Result<ServerUrl> {
        Ok(ServerUrl::parse(&self.url)?)
    }
}

/// What has happened with the off-site copy: the same record as the local folder's
/// (last success, last failure, verification results with their authentication codes), plus
/// the backups this vault sent and has not pruned — so one the server stops listing is
/// noticed — and uploads begun but not finished, whose pieces the next run removes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsiteState {
    #[serde(flatten)]
    pub runs: BackupState,
    #[serde(default)]
    pub sent: Vec<String>,
    #[serde(default)]
    pub unfinished: Vec<String>,
    /// The erasure list changed since it was last sent (an erasure while offline).
    #[serde(default)]
    pub ledger_unsent: bool,
}

impl OffsiteState {
    pub fn load(vault_dir: &Path) -> Result<Self> {
        read_json(&vault_dir.join(STATE_FILE))
    }

    pub(crate) fn save(&self, vault_dir: &Path) -> Result<()> {
        write_json(&vault_dir.join(STATE_FILE), self)
    }
}

/// This device's secrets for the server: its bearer token and the age identity whose
/// public half names it to the server (the same key signing in again is the same device).
#[derive(Serialize, Deserialize, Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct DeviceSecret {
    pub token: Option<String>,
    pub identity: String,
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecret(…)")
    }
}

impl DeviceSecret {
    pub fn generate() -> Self {
        DeviceSecret {
            token: None,
            identity: crate::keys::BackupIdentity::generate().as_str().to_string(),
        }
    }

    /// The public key the server knows this device by.
    pub fn public_key(&self) -> Result<String> {
        Ok(crate::keys::BackupIdentity::parse(&self.identity)?
            .recipient()?
            .to_string())
    }
}

/// Where one vault's device secret is kept.
pub(crate) struct SecretStore<'a> {
    pub dir: &'a Path,
    pub vault_id: &'a str,
    /// This copy's device: two copies of one vault on one computer (a copied folder, a
    /// restored backup) share the vault id but never a server device.
    pub device_id: &'a str,
    pub kind: KeyStoreKind,
    pub keys: &'a VaultKeys,
}

impl SecretStore<'_> {
    fn file(&self) -> PathBuf {
        self.dir.join(SECRET_FILE)
    }

    fn entry(&self) -> Result<keyring::Entry> {
        keyring::Entry::new(
            "casebook",
            &format!("{}/{}/{KEYCHAIN_ENTRY}", self.vault_id, self.device_id),
        )
        .map_err(|e| CoreError::KeychainUnavailable(e.to_string()))
    }

    /// The entry of vaults connected before entries named the device: read only by a folder
    /// still connected (`server.json`), which a copied folder is not ([`forget_copied`]).
    fn legacy_entry(&self) -> Result<Option<keyring::Entry>> {
        if !self.dir.join(SETTINGS_FILE).exists() {
            return Ok(None);
        }
        keyring::Entry::new("casebook", &format!("{}/{KEYCHAIN_ENTRY}", self.vault_id))
            .map(Some)
            .map_err(|e| CoreError::KeychainUnavailable(e.to_string()))
    }

    /// The stored secret, if any.
    pub fn load(&self) -> Result<Option<DeviceSecret>> {
        let json = match self.kind {
            KeyStoreKind::OsKeychain => match self.entry()?.get_password() {
                Ok(j) => j.into_bytes(),
                Err(keyring::Error::NoEntry) => match self.legacy_entry()? {
                    Some(legacy) => match legacy.get_password() {
                        Ok(j) => j.into_bytes(),
                        Err(keyring::Error::NoEntry) => return Ok(None),
                        Err(e) => return Err(CoreError::KeychainUnavailable(e.to_string())),
                    },
                    None => return Ok(None),
                },
                Err(e) => return Err(CoreError::KeychainUnavailable(e.to_string())),
            },
            KeyStoreKind::Passphrase => {
                let path = self.file();
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(CoreError::io(path)(e)),
                };
                super::envelope::open_small(&bytes, self.keys).map_err(|_| {
                    CoreError::Corrupt(format!(
                        "{} is damaged: run `casebook server connect` again",
                        path.display()
                    ))
                })?
            }
        };
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|_| CoreError::Corrupt("the stored server device secret is damaged".into()))
    }

    pub fn save(&self, secret: &DeviceSecret) -> Result<()> {
        let json = serde_json::to_vec(secret).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        match self.kind {
            KeyStoreKind::OsKeychain => {
                let text = String::from_utf8(json).unwrap_or_default();
                self.entry()?
                    .set_password(&text)
                    .map_err(|e| CoreError::KeychainUnavailable(e.to_string()))
            }
            KeyStoreKind::Passphrase => {
                let sealed_bytes = super::envelope::seal_small(&json, self.keys)?;
                sealed::write_atomically(&self.file(), &sealed_bytes)
            }
        }
    }
}

/// A signed-in client for the vault's connection, or `None` when it has none.
pub(crate) fn client_for(settings: &ServerSettings, secret: &DeviceSecret) -> Result<ServerClient> {
    let token = secret
        .token
        .clone()
        .ok_or(super::client::ServerError::DeviceRevoked)?;
    Ok(ServerClient::new(settings.server_url()?, Some(token))?)
}

/// Held while this computer works on the vault's off-site copy (sending a backup, pruning,
/// sending the erasure list): one at a time per vault, across the app and the command line,
/// so one run can never take another's upload for a leftover, nor two read-modify-writes of
/// the erasure list cross. An exclusive lock on `server.lock`, released with the file (also
/// when a process dies).
pub struct OffsiteLock(#[allow(dead_code)] std::fs::File);

impl OffsiteLock {
    pub(crate) fn take(vault_dir: &Path) -> Result<Self> {
        let path = vault_dir.join("server.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(CoreError::io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(OffsiteLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(CoreError::Busy),
            Err(std::fs::TryLockError::Error(e)) => Err(CoreError::io(path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One off-site run at a time per vault: a second is refused at once (never waits),
    /// and the lock goes with its holder.
    #[test]
    fn one_offsite_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = OffsiteLock::take(dir.path()).unwrap();
        assert!(matches!(
            OffsiteLock::take(dir.path()),
            Err(CoreError::Busy)
        ));
        drop(first);
        assert!(OffsiteLock::take(dir.path()).is_ok());
    }
}
