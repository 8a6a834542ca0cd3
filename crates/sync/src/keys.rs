//! Keys the engine signs with: each device's own Ed25519 key, and the practice root, an
//! Ed25519 key derived from a secret every computer of the practice holds and the recovery
//! key reaches (the core's `SyncSecrets::root_seed`): a computer of the practice, or anyone
//! with the recovery key, can add a device; the server, which never sees either, cannot.

use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use sha2::Sha256;

const ROOT_INFO: &[u8] = b"casebook practice root v1";

/// The practice root signing key, derived from the practice's root seed.
pub fn practice_root(seed: impl AsRef<[u8]>) -> SigningKey {
    let hk = Hkdf::<Sha256>::new(Some(b"casebook"), seed.as_ref());
    let mut seed = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA-256 output length.
    if hk.expand(ROOT_INFO, &mut seed).is_err() {
        unreachable!("32 bytes is within HKDF-SHA-256's output limit");
    }
    SigningKey::from_bytes(&seed)
}

/// A new device signing key.
pub fn new_device_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_same_for_one_seed_and_differs_for_another() {
        let a = practice_root("word-word-word");
        assert_eq!(
            a.verifying_key(),
            practice_root("word-word-word").verifying_key()
        );
        assert_ne!(
            a.verifying_key(),
            practice_root("word-word-other").verifying_key()
        );
    }
}
