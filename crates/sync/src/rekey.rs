//! Re-keying after a revocation, the sync side (`docs/sync.md`, "Re-keying after a
//! revocation"). The computer that revokes another makes the practice's next key generation
//! (the core's [`casebook_core::rekeying`]) and hands it to every computer that stays inside
//! the signed revocation, age-encrypted to each one's X25519 key. That key is the computer's
//! own Ed25519 device key converted to X25519 (the birational map age's `ssh-ed25519`
//! recipients use; its safety for signing and encryption together is shown in
//! ePrint 2021/509), so every computer already listed can be reached without a new list
//! entry, and only the device holding the signing key can open it. Every computer, the one
//! that revoked included, takes the generation from the list the same way ([`adopt`]).

use std::io::{Read, Write};

use bech32::{ToBase32, Variant};
use casebook_core::Vault;
use casebook_core::keys::Generation;
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroize;

use crate::Alarm;
use crate::devices::DeviceList;
use crate::engine::SyncError;
use crate::keys::practice_root;
use crate::practice::corrupt;

/// The age recipient of a listed device: its Ed25519 key as X25519.
fn recipient_of(key: &VerifyingKey) -> Result<age::x25519::Recipient, SyncError> {
    let bytes = key.to_montgomery().to_bytes();
    bech32::encode("age", bytes.to_base32(), Variant::Bech32)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt("device box key"))
}

/// This device's age identity: its Ed25519 signing key as X25519.
fn identity_of(key: &SigningKey) -> Result<age::x25519::Identity, SyncError> {
    let mut scalar = key.to_scalar_bytes();
    let encoded = bech32::encode("age-secret-key-", scalar.to_base32(), Variant::Bech32);
    scalar.zeroize();
    let mut text = encoded
        .map_err(|_| corrupt("device box key"))?
        .to_uppercase();
    let identity = text.parse().map_err(|_| corrupt("device box key"));
    text.zeroize();
    identity
}

/// `generation`, age-encrypted to the device whose signing key is `to` (hex).
pub fn wrap(generation: &Generation, to: &VerifyingKey) -> Result<String, SyncError> {
    let recipient = recipient_of(to)?;
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|_| corrupt("key handover"))?;
    let mut out = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|_| corrupt("key handover"))?;
    w.write_all(&generation.to_json())
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|_| corrupt("key handover"))?;
    Ok(hex::encode(out))
}

/// Opens what [`wrap`] made for this device (`me`). Outside bytes: `Err` for anything else.
pub fn unwrap(wrapped: &str, me: &SigningKey) -> Result<Generation, SyncError> {
    let bytes = hex::decode(wrapped).map_err(|_| corrupt("key handover"))?;
    let identity = identity_of(me)?;
    let decryptor = age::Decryptor::new(bytes.as_slice()).map_err(|_| corrupt("key handover"))?;
    let mut plain = zeroize::Zeroizing::new(Vec::new());
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| corrupt("key handover"))?
        .take(64 * 1024)
        .read_to_end(&mut plain)
        .map_err(|_| corrupt("key handover"))?;
    Ok(Generation::from_json(&plain)?)
}

/// Takes every re-keying in the verified `list` this vault does not hold yet, in order, each
/// with `values` of the engine's state (the longer list) in the same transaction. Returns how
/// many were taken. A generation whose keys do not make the root its entry names is an alarm.
pub fn adopt(
    vault: &mut Vault,
    list: &DeviceList,
    me: &str,
    key: &SigningKey,
    values: &[(&str, &str)],
) -> Result<usize, SyncError> {
    let mut taken = 0;
    while let Some(rekey) = list.rekeys.get(vault.key_generation()) {
        let number = vault.key_generation() + 1;
        let Some(wrapped) = rekey.keys.get(me) else {
            return Err(SyncError::Core(casebook_core::CoreError::Conflict(
                "the practice's keys were changed when a computer was removed, and this computer was not given the new ones: add it again (`casebook sync join`)".into(),
            )));
        };
        let generation = unwrap(wrapped, key)?;
        let root = practice_root(generation.root_seed.as_bytes()).verifying_key();
        if hex::encode(root.to_bytes()) != rekey.root {
            return Err(SyncError::Alarm(Alarm::DeviceKey {
                device: "the device list".into(),
            }));
        }
        let recovery = hex::decode(&rekey.recovery).map_err(|_| corrupt("key handover"))?;
        vault.adopt_generation(number, generation, &recovery, values)?;
        taken += 1;
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::new_device_key;

    #[test]
    fn only_the_device_it_was_wrapped_to_opens_it() {
        let g = Generation::generate("");
        let (a, b) = (new_device_key(), new_device_key());
        let wrapped = wrap(&g, &a.verifying_key()).unwrap();
        assert_eq!(unwrap(&wrapped, &a).unwrap(), g);
        assert!(unwrap(&wrapped, &b).is_err());
        // What the server stores is a standard age file, nothing of the keys in the clear.
        let bytes = hex::decode(&wrapped).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(g.clinical_backup.as_str()) && !text.contains(&g.root_seed.to_hex())
        );
    }

    #[test]
    fn the_box_key_is_a_standard_age_key() {
        let a = new_device_key();
        let r = recipient_of(&a.verifying_key()).unwrap();
        let i = identity_of(&a).unwrap();
        assert_eq!(i.to_public().to_string(), r.to_string());
        assert!(r.to_string().starts_with("age1"));
    }

    /// A generation handed over whose keys do not make the root its entry names (a revoking
    /// computer, or anyone holding a device key, handing out keys of its own choosing): a
    /// `device-key` alarm, and the vault keeps its keys and its `recovery.age`.
    #[test]
    fn keys_that_do_not_make_the_named_root_are_an_alarm_and_change_nothing() {
        use crate::devices::{Entry, Op, ROOT, Rekey, Signed};
        let dir = tempfile::tempdir().unwrap();
        let created = Vault::init(&dir.path().join("v"), Some("adopt test passphrase")).unwrap();
        let mut vault = created.vault;
        let recovery_before = std::fs::read(dir.path().join("v").join("recovery.age")).unwrap();
        let root = practice_root(b"the first root seed");
        let (ka, kb) = (new_device_key(), new_device_key());
        let entry =
            |op, device: &str, key: &SigningKey, prev: Option<String>, signer: &str| Entry {
                op,
                device: device.into(),
                name: format!("{device} computer"),
                signing_key: hex::encode(key.verifying_key().to_bytes()),
                box_key: String::new(),
                letter: 'A',
                at: "2026-12-05T12:00:00Z".into(),
                prev,
                signer: signer.into(),
                until: None,
                rekey: None,
            };
        let first = Signed::sign(entry(Op::Add, "a", &ka, None, ROOT), &root).unwrap();
        let second = Signed::sign(
            Entry {
                letter: 'B',
                ..entry(Op::Add, "b", &kb, Some(first.hash().unwrap()), "a")
            },
            &ka,
        )
        .unwrap();
        let handed = Generation::generate("");
        let other_root = practice_root(b"not the handed seed");
        let revoke = Signed::sign(
            Entry {
                letter: 'B',
                rekey: Some(Rekey {
                    root: hex::encode(other_root.verifying_key().to_bytes()),
                    keys: [("a".to_string(), wrap(&handed, &ka.verifying_key()).unwrap())].into(),
                    recovery: hex::encode(&recovery_before),
                }),
                ..entry(Op::Revoke, "b", &kb, Some(second.hash().unwrap()), "a")
            },
            &ka,
        )
        .unwrap();
        let json = serde_json::to_vec(&[&first, &second, &revoke]).unwrap();
        let list = DeviceList::verify(&json, &root.verifying_key()).unwrap();
        assert!(matches!(
            adopt(&mut vault, &list, "a", &ka, &[]),
            Err(SyncError::Alarm(Alarm::DeviceKey { .. }))
        ));
        assert_eq!(vault.key_generation(), 0);
        assert_eq!(
            std::fs::read(dir.path().join("v").join("recovery.age")).unwrap(),
            recovery_before
        );
    }

    #[test]
    fn garbage_is_refused() {
        let a = new_device_key();
        for bad in ["", "zz", "00", &hex::encode(b"age-encryption.org/v1\n")] {
            assert!(unwrap(bad, &a).is_err());
        }
    }
}
