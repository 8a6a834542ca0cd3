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
//!
//! When a computer is removed from the practice, the others *re-key*: a new [`Generation`] of
//! backup identities and a new practice root seed, which the removed computer never sees.
//! New backups and sync blobs are sealed to the newest generation; every older one is kept
//! (retired) so what was sealed before still opens. The store keys never change (a removed
//! computer already holds its own copy of the stores). Generations live in the stores
//! themselves ([`crate::key_ring`]) and in `recovery.age`; the key store keeps the first.

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

/// The seed of a practice root signing key (the sync engine derives the key from it).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct RootSeed([u8; 32]);

impl RootSeed {
    /// A fresh random seed.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        RootSeed(k)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self> {
        let mut k = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut k)
            .map_err(|_| CoreError::Crypto("a practice root seed is not 64 hex digits".into()))?;
        Ok(RootSeed(k))
    }
}

impl std::fmt::Debug for RootSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootSeed(…)")
    }
}

/// One re-keying's keys: new backup identities for both stores and a new practice root seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    pub clinical_backup: BackupIdentity,
    pub identity_backup: BackupIdentity,
    pub root_seed: RootSeed,
    /// The SHA-256 (hex) of the `recovery.age` this re-keying replaced: a backup made before
    /// it carries that file, and is still this vault's (empty if not known).
    pub replaces: String,
    /// The authentication codes of the off-site backups on the server when it was made:
    /// those made under older keys that are still this vault's. An index authenticated with
    /// an older key and not listed here is refused — the removed computer holds those keys.
    pub backups: Vec<String>,
}

/// The document form of a [`Generation`] (in `recovery.age`, and handed to the practice's
/// other computers inside a re-keying, age-encrypted to each).
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop, Clone)]
#[serde(deny_unknown_fields)]
pub struct GenerationDocument {
    /// Clinical part first, then identity part.
    pub age_identities: Vec<String>,
    pub practice_root_seed: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub replaces_recovery: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<String>,
}

impl Generation {
    /// Fresh random keys, replacing the `recovery.age` whose SHA-256 is `replaces`.
    pub fn generate(replaces: &str) -> Self {
        Generation {
            clinical_backup: BackupIdentity::generate(),
            identity_backup: BackupIdentity::generate(),
            root_seed: RootSeed::generate(),
            replaces: replaces.to_string(),
            backups: Vec::new(),
        }
    }

    pub fn to_document(&self) -> GenerationDocument {
        GenerationDocument {
            age_identities: vec![
                self.clinical_backup.as_str().to_string(),
                self.identity_backup.as_str().to_string(),
            ],
            practice_root_seed: self.root_seed.to_hex(),
            replaces_recovery: self.replaces.clone(),
            backups: self.backups.clone(),
        }
    }

    pub fn from_document(doc: &GenerationDocument) -> Result<Self> {
        let [c, i] = doc.age_identities.as_slice() else {
            return Err(CoreError::Crypto(
                "a key generation does not hold two backup identities".into(),
            ));
        };
        Ok(Generation {
            clinical_backup: BackupIdentity::parse(c)?,
            identity_backup: BackupIdentity::parse(i)?,
            root_seed: RootSeed::from_hex(&doc.practice_root_seed)?,
            replaces: doc.replaces_recovery.clone(),
            backups: doc.backups.clone(),
        })
    }

    /// The JSON form (wiped when dropped).
    pub fn to_json(&self) -> zeroize::Zeroizing<Vec<u8>> {
        // Serialising strings cannot fail.
        zeroize::Zeroizing::new(serde_json::to_vec(&self.to_document()).unwrap_or_default())
    }

    /// Reads the JSON form; `Err` for anything else (it comes from outside: fuzzed).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let doc: GenerationDocument = serde_json::from_slice(bytes)
            .map_err(|_| CoreError::Crypto("a key generation is not valid".into()))?;
        Self::from_document(&doc)
    }
}

/// Both store keys of one vault, and both stores' backup identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultKeys {
    pub clinical: StoreKey,
    pub identity: StoreKey,
    /// The backup identities the vault was made with (the first generation).
    pub clinical_backup: BackupIdentity,
    pub identity_backup: BackupIdentity,
    /// The generations made since, one per re-keying, oldest first: the newest seals.
    pub rekeyed: Vec<Generation>,
}

/// The on-disk (inside an age envelope) and `keys show` form of [`VaultKeys`].
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct KeysDocument {
    pub clinical_db_key: String,
    pub identity_db_key: String,
    /// The backup identities: clinical part first, then identity part.
    #[serde(default)]
    pub age_identities: Vec<String>,
    /// The keys of each re-keying since, oldest first (absent if never re-keyed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rekeyed: Vec<GenerationDocument>,
}

impl VaultKeys {
    /// Two fresh, independent random keys.
    pub fn generate() -> Self {
        VaultKeys {
            clinical: StoreKey::generate(),
            identity: StoreKey::generate(),
            clinical_backup: BackupIdentity::generate(),
            identity_backup: BackupIdentity::generate(),
            rekeyed: Vec::new(),
        }
    }

    /// The clinical backup identity new backups and sync blobs are sealed to (the newest).
    pub fn clinical_sealing(&self) -> &BackupIdentity {
        self.clinical_all()[0]
    }

    /// The identity-store backup identity new backups and sync blobs are sealed to.
    pub fn identity_sealing(&self) -> &BackupIdentity {
        self.identity_all()[0]
    }

    /// Every clinical backup identity this vault has had, newest first: what opens.
    pub fn clinical_all(&self) -> Vec<&BackupIdentity> {
        self.every(&self.clinical_backup, |g| &g.clinical_backup)
    }

    /// Every identity-store backup identity this vault has had, newest first.
    pub fn identity_all(&self) -> Vec<&BackupIdentity> {
        self.every(&self.identity_backup, |g| &g.identity_backup)
    }

    /// One store's identities, newest first: each re-keying's (`pick`), then the first.
    fn every<'a>(
        &'a self,
        first: &'a BackupIdentity,
        pick: fn(&Generation) -> &BackupIdentity,
    ) -> Vec<&'a BackupIdentity> {
        let mut all: Vec<_> = self.rekeyed.iter().rev().map(pick).collect();
        all.push(first);
        all
    }

    /// The practice root seed of the first generation (derived from the clinical store key,
    /// so every copy of the vault has it): the device list is verified from it.
    pub fn first_root_seed(&self) -> [u8; 32] {
        hmac_sha256(self.clinical.as_bytes(), b"casebook practice root v1")
    }

    /// The newest practice root seed: what signs for the practice now.
    pub fn root_seed(&self) -> [u8; 32] {
        self.rekeyed
            .last()
            .map_or_else(|| self.first_root_seed(), |g| *g.root_seed.as_bytes())
    }

    /// Whether `sealed_keys` is a `recovery.age` of this vault that a re-keying replaced.
    pub fn replaced(&self, sealed_keys: &[u8]) -> bool {
        let digest = crate::pins::digest(sealed_keys);
        self.rekeyed.iter().any(|g| g.replaces == digest)
    }

    /// The SHA-256 of each `recovery.age` a re-keying replaced.
    pub fn replaced_recoveries(&self) -> Vec<String> {
        self.rekeyed
            .iter()
            .filter(|g| !g.replaces.is_empty())
            .map(|g| g.replaces.clone())
            .collect()
    }

    /// The keys without their re-keyings: what the key store (keychain or key file) keeps.
    pub(crate) fn first_generation(&self) -> VaultKeys {
        VaultKeys {
            rekeyed: Vec::new(),
            ..self.clone()
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
            rekeyed: self.rekeyed.iter().map(Generation::to_document).collect(),
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
            rekeyed: doc
                .rekeyed
                .iter()
                .map(Generation::from_document)
                .collect::<Result<_>>()?,
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
    fn a_rekeyed_vault_seals_to_the_newest_and_keeps_every_older_key() {
        let mut k = VaultKeys::generate();
        let first_root = k.root_seed();
        assert_eq!(first_root, k.first_root_seed());
        k.rekeyed.push(Generation::generate(""));
        k.rekeyed.push(Generation::generate(""));
        assert_eq!(k.clinical_sealing(), &k.rekeyed[1].clinical_backup);
        assert_eq!(k.identity_sealing(), &k.rekeyed[1].identity_backup);
        assert_eq!(k.clinical_all().len(), 3);
        assert_eq!(k.clinical_all()[2], &k.clinical_backup);
        assert_ne!(k.root_seed(), first_root);
        assert_eq!(k.first_root_seed(), first_root);
        let back = VaultKeys::from_json(&k.to_json()).unwrap();
        assert_eq!(back, k);
        assert!(k.first_generation().rekeyed.is_empty());
        // A document without re-keyings keeps its old bytes (older versions read it).
        let plain = VaultKeys::generate();
        assert!(
            !String::from_utf8(plain.to_json())
                .unwrap()
                .contains("rekeyed")
        );
    }

    #[test]
    fn a_generation_round_trips_and_refuses_garbage() {
        let g = Generation::generate("ab12");
        assert_eq!(Generation::from_json(&g.to_json()).unwrap(), g);
        for bad in [
            &b""[..],
            b"{}",
            b"[]",
            b"{\"age_identities\":[],\"practice_root_seed\":\"00\"}",
        ] {
            assert!(Generation::from_json(bad).is_err());
        }
    }

    #[test]
    fn debug_never_prints_key_material() {
        let k = StoreKey::generate();
        assert!(!format!("{k:?}").contains(&k.to_hex()[..8]));
    }
}
