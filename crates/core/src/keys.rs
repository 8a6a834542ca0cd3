//! The vault's secret keys: one random 256-bit key per store.
//!
//! Each store (clinical, identity) has its own key so that either database on its own
//! reveals nothing about the other. Keys are used by SQLCipher as *raw* keys
//! (`PRAGMA key = "x'…'"`), so opening a store costs no key derivation. Key material is
//! zeroed when dropped.
//!
//! Each store also has its own random age identity (X25519) that encrypts that store's
//! part of a backup, so the two-code separation holds inside backups too. The identities
//! are kept alongside the store keys (keychain or key file) and in `recovery.age`.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CoreError, Result};

/// One SQLCipher raw key (32 random bytes).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        StoreKey(k)
    }

    /// Lower-case hex, as `keys show` prints it and SQLCipher tools take it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self> {
        let mut k = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut k)
            .map_err(|_| CoreError::Crypto("a stored key is not 64 hex digits".into()))?;
        Ok(StoreKey(k))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SQL literal SQLCipher expects for a raw key: `x'…'`.
    pub(crate) fn sql_literal(&self) -> String {
        format!("x'{}'", self.to_hex())
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

/// One store's backup identity: an age X25519 secret key (`AGE-SECRET-KEY-1…`).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct BackupIdentity(String);

impl BackupIdentity {
    /// A fresh random age identity.
    pub fn generate() -> Self {
        use age::secrecy::ExposeSecret;
        BackupIdentity(
            age::x25519::Identity::generate()
                .to_string()
                .expose_secret()
                .to_string(),
        )
    }

    /// Parses the `AGE-SECRET-KEY-1…` form.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        s.parse::<age::x25519::Identity>().map_err(|_| {
            CoreError::Crypto("a stored backup identity is not an age secret key".into())
        })?;
        Ok(BackupIdentity(s.to_string()))
    }

    /// The standard `AGE-SECRET-KEY-1…` text, as `age -d -i` takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The age identity. Checked when made or parsed, so this fails only on a bug; it never
    /// falls back to another key (a backup sealed to a stray key could not be restored).
    pub(crate) fn identity(&self) -> Result<age::x25519::Identity> {
        self.0
            .parse()
            .map_err(|_| CoreError::Crypto("a backup identity is not an age secret key".into()))
    }

    pub(crate) fn recipient(&self) -> Result<age::x25519::Recipient> {
        Ok(self.identity()?.to_public())
    }
}

impl std::fmt::Debug for BackupIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupIdentity(…)")
    }
}

/// HMAC-SHA256 of `data` under `key`: the one keyed hash the vault uses, both to derive a
/// key for one purpose from a store key and to authenticate with it.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Authenticates the session clock's file (see [`crate::clock`]). Derived one way from the
/// clinical store key: it opens nothing, so the app may keep it while the vault is locked.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct ClockKey([u8; 32]);

impl ClockKey {
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn from_bytes(b: [u8; 32]) -> ClockKey {
        ClockKey(b)
    }
}

impl std::fmt::Debug for ClockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockKey(…)")
    }
}

/// Both store keys of one vault, and both stores' backup identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultKeys {
    pub clinical: StoreKey,
    pub identity: StoreKey,
    pub clinical_backup: BackupIdentity,
    pub identity_backup: BackupIdentity,
}

/// The on-disk (inside an age envelope) and `keys show` form of [`VaultKeys`].
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct KeysDocument {
    pub clinical_db_key: String,
    pub identity_db_key: String,
    /// The backup identities: clinical part first, then identity part.
    #[serde(default)]
    pub age_identities: Vec<String>,
}

impl VaultKeys {
    /// Two fresh, independent random keys.
    pub fn generate() -> Self {
        VaultKeys {
            clinical: StoreKey::generate(),
            identity: StoreKey::generate(),
            clinical_backup: BackupIdentity::generate(),
            identity_backup: BackupIdentity::generate(),
        }
    }

    /// The key that authenticates `session-clock.json`.
    pub fn clock_key(&self) -> ClockKey {
        ClockKey(hmac_sha256(
            self.clinical.as_bytes(),
            b"casebook session clock v1",
        ))
    }

    /// The document form, as printed by `casebook keys show --json`.
    pub fn to_document(&self) -> KeysDocument {
        KeysDocument {
            clinical_db_key: self.clinical.to_hex(),
            identity_db_key: self.identity.to_hex(),
            age_identities: vec![
                self.clinical_backup.as_str().to_string(),
                self.identity_backup.as_str().to_string(),
            ],
        }
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Serialising two strings cannot fail.
        serde_json::to_vec(&self.to_document()).unwrap_or_default()
    }

    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self> {
        let doc: KeysDocument = serde_json::from_slice(bytes)
            .map_err(|_| CoreError::Crypto("the key document is not valid".into()))?;
        let [clinical_backup, identity_backup] = doc.age_identities.as_slice() else {
            return Err(CoreError::Crypto(
                "the key document has no backup identities (made by a pre-release Casebook)".into(),
            ));
        };
        Ok(VaultKeys {
            clinical: StoreKey::from_hex(&doc.clinical_db_key)?,
            identity: StoreKey::from_hex(&doc.identity_db_key)?,
            clinical_backup: BackupIdentity::parse(clinical_backup)?,
            identity_backup: BackupIdentity::parse(identity_backup)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_round_trip() {
        let a = VaultKeys::generate();
        let b = VaultKeys::generate();
        assert_ne!(a.clinical, b.clinical);
        assert_ne!(a.clinical, a.identity);
        let back = VaultKeys::from_json(&a.to_json()).unwrap();
        assert_eq!(a, back);
        assert_eq!(a.clinical.to_hex().len(), 64);
        assert_ne!(a.clinical_backup, a.identity_backup);
        assert!(a.clinical_backup.as_str().starts_with("AGE-SECRET-KEY-1"));
    }

    #[test]
    fn debug_never_prints_key_material() {
        let k = StoreKey::generate();
        assert!(!format!("{k:?}").contains(&k.to_hex()[..8]));
    }
}
