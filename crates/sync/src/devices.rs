//! The device list: which computers belong to the practice, with their keys, as signed by
//! the devices themselves — never the server's own list (`docs/sync.md`, "The device list").
//!
//! It is a hash chain of entries. The first is signed by the practice root (derived from the
//! recovery key, [`crate::keys::practice_root`]); each later one by the root or by a device
//! the list already holds and has not revoked. Each entry names the hash of the one before,
//! so the server can neither insert, drop, reorder nor swap one. Device letters (the first
//! symbol of the client codes a device makes) are unique among the devices listed.
//!
//! A revocation may carry a *re-keying* ([`Rekey`]): a new practice root, and the practice's
//! new keys wrapped to each computer that stays. Entries signed `root` after it are checked
//! with the new root, so the removed computer — which can still derive the old one — can sign
//! nothing the others accept.
//! [`DeviceList::verify`] reads outside bytes and is fuzzed.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::DevicesError;

const DOMAIN: &[u8] = b"casebook-sync-devices-v1";
/// The signer name of entries signed by the practice root.
pub const ROOT: &str = "root";

/// Adding, renaming or revoking a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Add,
    Revoke,
    /// A new name for a listed device (`name`); its keys and letter stay as they are.
    Rename,
}

/// The longest device name a list entry may carry.
pub const MAX_NAME: usize = 100;

/// One entry, as signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub op: Op,
    pub device: String,
    /// The device's name as the therapist gave it ("Surgery desktop").
    pub name: String,
    /// Ed25519 public key, hex (for `add`).
    pub signing_key: String,
    /// Unused (kept so entries keep their bytes): keys sent to a device are age-encrypted to
    /// its signing key converted to X25519 ([`crate::rekey`]).
    pub box_key: String,
    /// The device letter for client codes (for `add`).
    pub letter: char,
    pub at: String,
    /// SHA-256 (hex) of the previous signed entry; `None` for the first.
    pub prev: Option<String>,
    /// `root`, or the id of the listed device that signed.
    pub signer: String,
    /// For `revoke`: the last blob of the revoked device's log that counts (seq and hash, as
    /// the revoking device verified it after the server stopped taking the device's blobs).
    /// Blobs up to it are applied everywhere; anything after it is refused. Absent on
    /// additions, so entries signed before revocations existed keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<crate::blob::HeadRef>,
    /// For `revoke`: the practice's new keys, which the revoked computer never sees. Absent
    /// otherwise (older entries keep their bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey: Option<Rekey>,
}

/// A re-keying carried by a revocation (`docs/sync.md`, "Re-keying after a revocation").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rekey {
    /// The new practice root's public key (hex): entries signed `root` after this one are
    /// checked with it.
    pub root: String,
    /// The new keys, age-encrypted to each computer that stays (by device id), hex
    /// ([`crate::rekey::wrap`]).
    pub keys: BTreeMap<String, String>,
    /// The new `recovery.age` (every generation, sealed with the recovery key), hex.
    pub recovery: String,
}

/// An entry and its signature, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    pub entry: Entry,
    /// Ed25519 signature, hex.
    pub signature: String,
}

impl Signed {
    fn message(entry: &Entry) -> Result<Vec<u8>, DevicesError> {
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(
            &serde_json::to_vec(entry).map_err(|e| DevicesError::Malformed(e.to_string()))?,
        );
        Ok(msg)
    }

    /// Signs `entry` with `key`.
    pub fn sign(entry: Entry, key: &SigningKey) -> Result<Signed, DevicesError> {
        let sig = key.sign(&Self::message(&entry)?);
        Ok(Signed {
            entry,
            signature: hex::encode(sig.to_bytes()),
        })
    }

    /// The hash the next entry names as `prev`.
    pub fn hash(&self) -> Result<String, DevicesError> {
        let bytes = serde_json::to_vec(self).map_err(|e| DevicesError::Malformed(e.to_string()))?;
        Ok(hex::encode(Sha256::digest(bytes)))
    }
}

/// A device the list holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub signing_key: VerifyingKey,
    pub box_key: String,
    pub letter: char,
    pub revoked: bool,
    /// For a revoked device: the last blob of its log that counts (`None` with `revoked`:
    /// nothing of it counts).
    pub until: Option<crate::blob::HeadRef>,
}

/// A verified device list.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DeviceList {
    pub devices: BTreeMap<String, Listed>,
    /// The hash of the last entry (what the next one must name).
    pub head: Option<String>,
    pub len: usize,
    /// The practice root after the last re-keying (`None`: never re-keyed, the first root).
    pub root: Option<VerifyingKey>,
    /// The re-keyings, in order: the `n`th made the practice's key generation `n`.
    pub rekeys: Vec<Rekey>,
}

fn key_from_hex(s: &str) -> Option<VerifyingKey> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(s, &mut b).ok()?;
    VerifyingKey::from_bytes(&b).ok()
}

impl DeviceList {
    /// Verifies a whole list (JSON array of signed entries) from the practice root.
    pub fn verify(json: &[u8], root: &VerifyingKey) -> Result<DeviceList, DevicesError> {
        let entries: Vec<Signed> =
            serde_json::from_slice(json).map_err(|e| DevicesError::Malformed(e.to_string()))?;
        let mut list = DeviceList::default();
        for s in &entries {
            list.append(s, root)?;
        }
        Ok(list)
    }

    /// The key that may sign as `signer` now.
    fn signer_key(&self, signer: &str, root: &VerifyingKey) -> Option<VerifyingKey> {
        if signer == ROOT {
            return Some(self.root.unwrap_or(*root));
        }
        self.devices
            .get(signer)
            .filter(|d| !d.revoked)
            .map(|d| d.signing_key)
    }

    /// Checks `s` follows this list and is signed by a key it trusts, then adds it.
    pub fn append(&mut self, s: &Signed, root: &VerifyingKey) -> Result<(), DevicesError> {
        let i = self.len;
        let e = &s.entry;
        if e.prev != self.head {
            return Err(DevicesError::Broken(i));
        }
        if i == 0 && (e.signer != ROOT || e.op != Op::Add) {
            return Err(DevicesError::Refused(
                i,
                "the first entry must be an addition signed by the practice root",
            ));
        }
        let key = self
            .signer_key(&e.signer, root)
            .ok_or(DevicesError::Untrusted(i))?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&s.signature, &mut sig).map_err(|_| DevicesError::Untrusted(i))?;
        key.verify_strict(&Signed::message(e)?, &Signature::from_bytes(&sig))
            .map_err(|_| DevicesError::Untrusted(i))?;
        match e.op {
            Op::Add => {
                if self.devices.contains_key(&e.device) {
                    return Err(DevicesError::Refused(i, "the device is already listed"));
                }
                if self
                    .devices
                    .values()
                    .any(|d| !d.revoked && d.letter == e.letter)
                {
                    return Err(DevicesError::Refused(
                        i,
                        "another listed device has that letter",
                    ));
                }
                let signing_key = key_from_hex(&e.signing_key).ok_or(DevicesError::Refused(
                    i,
                    "the signing key is not an Ed25519 key",
                ))?;
                self.devices.insert(
                    e.device.clone(),
                    Listed {
                        name: e.name.clone(),
                        signing_key,
                        box_key: e.box_key.clone(),
                        letter: e.letter,
                        revoked: false,
                        until: None,
                    },
                );
            }
            Op::Rename => {
                let name = e.name.trim();
                if name.is_empty() || name.chars().count() > MAX_NAME || name != e.name {
                    return Err(DevicesError::Refused(
                        i,
                        "a device name must be 1–100 characters",
                    ));
                }
                match self.devices.get_mut(&e.device) {
                    Some(d) if !d.revoked => d.name = e.name.clone(),
                    _ => return Err(DevicesError::Refused(i, "no such listed device to rename")),
                }
            }
            Op::Revoke => match self.devices.get_mut(&e.device) {
                Some(d) if !d.revoked => {
                    d.revoked = true;
                    d.until = e.until.clone();
                }
                _ => return Err(DevicesError::Refused(i, "no such listed device to revoke")),
            },
        }
        if let Some(rekey) = &e.rekey {
            if e.op != Op::Revoke {
                return Err(DevicesError::Refused(
                    i,
                    "only a revocation may change the practice's keys",
                ));
            }
            // Made only by another computer of the practice: never by the revoked device
            // itself (a stolen laptop could otherwise move the practice to keys it chose), nor
            // by a root (the first one derives from a key every copy of the vault holds).
            if e.signer == e.device || e.signer == ROOT {
                return Err(DevicesError::Refused(
                    i,
                    "a re-keying is made only by another computer of the practice",
                ));
            }
            if rekey.keys.contains_key(&e.device) {
                return Err(DevicesError::Refused(
                    i,
                    "a re-keying hands its keys to the revoked device",
                ));
            }
            let new_root = key_from_hex(&rekey.root).ok_or(DevicesError::Refused(
                i,
                "the new practice root is not an Ed25519 key",
            ))?;
            self.root = Some(new_root);
            self.rekeys.push(rekey.clone());
        }
        self.head = Some(s.hash()?);
        self.len += 1;
        Ok(())
    }

    /// The practice root that signs for the practice now, given the first one.
    pub fn root_now(&self, first: &VerifyingKey) -> VerifyingKey {
        self.root.unwrap_or(*first)
    }

    /// The verifying key of a device that is listed and not revoked.
    pub fn key_of(&self, device: &str) -> Option<&VerifyingKey> {
        self.devices
            .get(device)
            .filter(|d| !d.revoked)
            .map(|d| &d.signing_key)
    }

    /// The key that signed blob `seq` of `device`'s log, if that blob counts: any blob of a
    /// listed device, and of a revoked one only up to its revocation's cut.
    pub fn key_for_blob(&self, device: &str, seq: u64) -> Option<&VerifyingKey> {
        let d = self.devices.get(device)?;
        let counts = !d.revoked || d.until.as_ref().is_some_and(|u| seq <= u.seq);
        counts.then_some(&d.signing_key)
    }

    /// Revoked devices whose log counts up to a cut: (device, cut).
    pub fn cuts(&self) -> impl Iterator<Item = (&str, &crate::blob::HeadRef)> {
        self.devices
            .iter()
            .filter(|(_, d)| d.revoked)
            .filter_map(|(id, d)| d.until.as_ref().map(|u| (id.as_str(), u)))
    }

    /// A letter no listed device has (for a device joining), the first in `alphabet` order.
    pub fn free_letter(&self, alphabet: &str) -> Option<char> {
        alphabet
            .chars()
            .find(|c| !self.devices.values().any(|d| !d.revoked && d.letter == *c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{new_device_key, practice_root};

    fn add(
        device: &str,
        key: &SigningKey,
        letter: char,
        prev: Option<String>,
        signer: &str,
    ) -> Entry {
        Entry {
            op: Op::Add,
            device: device.into(),
            name: format!("{device} computer"),
            signing_key: hex::encode(key.verifying_key().to_bytes()),
            box_key: "age1example".into(),
            letter,
            at: "2026-12-02T12:00:00Z".into(),
            prev,
            signer: signer.into(),
            until: None,
            rekey: None,
        }
    }

    #[test]
    fn a_list_grown_by_root_and_by_devices_verifies_and_the_server_cannot_change_it() {
        let root = practice_root("recovery words");
        let (ka, kb) = (new_device_key(), new_device_key());
        let first = Signed::sign(add("a", &ka, 'A', None, ROOT), &root).unwrap();
        let second =
            Signed::sign(add("b", &kb, 'B', Some(first.hash().unwrap()), "a"), &ka).unwrap();
        let revoke = Signed::sign(
            Entry {
                op: Op::Revoke,
                ..add("b", &kb, 'B', Some(second.hash().unwrap()), "a")
            },
            &ka,
        )
        .unwrap();
        let json = serde_json::to_vec(&[&first, &second, &revoke]).unwrap();
        let list = DeviceList::verify(&json, &root.verifying_key()).unwrap();
        assert!(list.key_of("a").is_some() && list.key_of("b").is_none());
        assert_eq!(list.free_letter("AB"), Some('B'));

        // Dropped, reordered, re-signed by the server (any key not in the list), or swapped key.
        let drop_first = serde_json::to_vec(&[&second]).unwrap();
        assert!(DeviceList::verify(&drop_first, &root.verifying_key()).is_err());
        let reordered = serde_json::to_vec(&[&first, &revoke, &second]).unwrap();
        assert!(DeviceList::verify(&reordered, &root.verifying_key()).is_err());
        let server = new_device_key();
        let forged = Signed::sign(
            add("evil", &server, 'C', Some(first.hash().unwrap()), "a"),
            &server,
        )
        .unwrap();
        let with_forged = serde_json::to_vec(&[&first, &forged]).unwrap();
        assert_eq!(
            DeviceList::verify(&with_forged, &root.verifying_key()),
            Err(DevicesError::Untrusted(1))
        );
        let mut swapped = second.clone();
        swapped.entry.signing_key = hex::encode(server.verifying_key().to_bytes());
        let with_swapped = serde_json::to_vec(&[&first, &swapped]).unwrap();
        assert_eq!(
            DeviceList::verify(&with_swapped, &root.verifying_key()),
            Err(DevicesError::Untrusted(1))
        );
        // Another practice's root.
        assert!(DeviceList::verify(&json, &practice_root("other").verifying_key()).is_err());
    }

    /// A revocation that re-keys moves the practice to a new root: entries signed by the first
    /// root after it are refused (the revoked computer can still derive that one), the new
    /// root signs, and a re-keying handed to the revoked device or carried by anything but a
    /// revocation is refused.
    #[test]
    fn a_rekeying_revocation_moves_the_list_to_the_new_root() {
        let root = practice_root("recovery words");
        let new_root = practice_root("the next generation's seed");
        let (ka, kb, kc) = (new_device_key(), new_device_key(), new_device_key());
        let first = Signed::sign(add("a", &ka, 'A', None, ROOT), &root).unwrap();
        let second =
            Signed::sign(add("b", &kb, 'B', Some(first.hash().unwrap()), "a"), &ka).unwrap();
        let rekey = |to: &[&str]| Rekey {
            root: hex::encode(new_root.verifying_key().to_bytes()),
            keys: to.iter().map(|d| (d.to_string(), "00".into())).collect(),
            recovery: "00".into(),
        };
        let revoke_with = |r: Rekey| {
            Signed::sign(
                Entry {
                    op: Op::Revoke,
                    rekey: Some(r),
                    ..add("b", &kb, 'B', Some(second.hash().unwrap()), "a")
                },
                &ka,
            )
            .unwrap()
        };
        let revoke = revoke_with(rekey(&["a"]));
        let json = serde_json::to_vec(&[&first, &second, &revoke]).unwrap();
        let list = DeviceList::verify(&json, &root.verifying_key()).unwrap();
        assert_eq!(list.rekeys.len(), 1);
        assert_eq!(
            list.root_now(&root.verifying_key()),
            new_root.verifying_key()
        );
        // After it, the first root signs nothing; the new one does.
        let by = |key: &SigningKey| {
            Signed::sign(add("c", &kc, 'C', Some(revoke.hash().unwrap()), ROOT), key).unwrap()
        };
        let old = serde_json::to_vec(&[&first, &second, &revoke, &by(&root)]).unwrap();
        assert_eq!(
            DeviceList::verify(&old, &root.verifying_key()),
            Err(DevicesError::Untrusted(3))
        );
        let new = serde_json::to_vec(&[&first, &second, &revoke, &by(&new_root)]).unwrap();
        assert!(DeviceList::verify(&new, &root.verifying_key()).is_ok());
        // The new keys handed to the revoked device: refused.
        let leaked = revoke_with(rekey(&["a", "b"]));
        let json = serde_json::to_vec(&[&first, &second, &leaked]).unwrap();
        assert!(matches!(
            DeviceList::verify(&json, &root.verifying_key()),
            Err(DevicesError::Refused(2, _))
        ));
        // A re-keying made by the revoked device itself (a stolen laptop revoking itself to
        // move the practice to keys it chose), or signed by the root: refused.
        let by_itself = Signed::sign(
            Entry {
                op: Op::Revoke,
                rekey: Some(rekey(&["a"])),
                ..add("b", &kb, 'B', Some(second.hash().unwrap()), "b")
            },
            &kb,
        )
        .unwrap();
        let by_root = Signed::sign(
            Entry {
                op: Op::Revoke,
                rekey: Some(rekey(&["a"])),
                ..add("b", &kb, 'B', Some(second.hash().unwrap()), ROOT)
            },
            &root,
        )
        .unwrap();
        for forged in [&by_itself, &by_root] {
            let json = serde_json::to_vec(&[&first, &second, forged]).unwrap();
            assert!(matches!(
                DeviceList::verify(&json, &root.verifying_key()),
                Err(DevicesError::Refused(2, _))
            ));
        }
        // A re-keying on a rename: refused.
        let renamed = Signed::sign(
            Entry {
                op: Op::Rename,
                name: "Laptop".into(),
                rekey: Some(rekey(&["a"])),
                ..add("b", &kb, 'B', Some(second.hash().unwrap()), "a")
            },
            &ka,
        )
        .unwrap();
        let json = serde_json::to_vec(&[&first, &second, &renamed]).unwrap();
        assert!(matches!(
            DeviceList::verify(&json, &root.verifying_key()),
            Err(DevicesError::Refused(2, _))
        ));
    }

    #[test]
    fn a_listed_device_can_be_renamed_by_a_listed_device_and_nothing_else_changes() {
        let root = practice_root("r");
        let (ka, kb) = (new_device_key(), new_device_key());
        let first = Signed::sign(add("a", &ka, 'A', None, ROOT), &root).unwrap();
        let second =
            Signed::sign(add("b", &kb, 'B', Some(first.hash().unwrap()), "a"), &ka).unwrap();
        let rename = |name: &str, signer: &str, key: &SigningKey, prev: String| {
            Signed::sign(
                Entry {
                    op: Op::Rename,
                    name: name.into(),
                    ..add("b", &kb, 'B', Some(prev), signer)
                },
                key,
            )
            .unwrap()
        };
        let renamed = rename("Laptop", "a", &ka, second.hash().unwrap());
        let json = serde_json::to_vec(&[&first, &second, &renamed]).unwrap();
        let list = DeviceList::verify(&json, &root.verifying_key()).unwrap();
        assert_eq!(list.devices["b"].name, "Laptop");
        assert_eq!(list.key_of("b"), Some(&kb.verifying_key()), "its key stays");
        assert_eq!(list.devices["b"].letter, 'B');
        // An empty name, or one signed by a key the list does not hold, is refused.
        let empty = rename("  ", "a", &ka, second.hash().unwrap());
        let json = serde_json::to_vec(&[&first, &second, &empty]).unwrap();
        assert!(matches!(
            DeviceList::verify(&json, &root.verifying_key()),
            Err(DevicesError::Refused(2, _))
        ));
        let server = new_device_key();
        let forged = rename("Evil", "a", &server, second.hash().unwrap());
        let json = serde_json::to_vec(&[&first, &second, &forged]).unwrap();
        assert_eq!(
            DeviceList::verify(&json, &root.verifying_key()),
            Err(DevicesError::Untrusted(2))
        );
    }

    #[test]
    fn a_revoked_devices_blobs_count_up_to_the_cut_only() {
        let root = practice_root("r");
        let (ka, kb, kc) = (new_device_key(), new_device_key(), new_device_key());
        let mut list = DeviceList::default();
        for (i, (id, k, letter)) in [("a", &ka, 'A'), ("b", &kb, 'B'), ("c", &kc, 'C')]
            .into_iter()
            .enumerate()
        {
            let e = add(id, k, letter, list.head.clone(), ROOT);
            if i == 0 {
                // Entries without a cut keep the bytes they were signed with before cuts existed.
                assert!(!serde_json::to_string(&e).unwrap().contains("until"));
            }
            list.append(&Signed::sign(e, &root).unwrap(), &root.verifying_key())
                .unwrap();
        }
        let cut = crate::blob::HeadRef {
            seq: 7,
            hash: "ab".repeat(32),
        };
        let revoke_b = Signed::sign(
            Entry {
                op: Op::Revoke,
                until: Some(cut.clone()),
                ..add("b", &kb, 'B', list.head.clone(), "a")
            },
            &ka,
        )
        .unwrap();
        list.append(&revoke_b, &root.verifying_key()).unwrap();
        assert!(list.key_for_blob("b", 7).is_some());
        assert!(
            list.key_for_blob("b", 8).is_none(),
            "a blob after the cut counts"
        );
        assert!(list.key_of("b").is_none());
        assert!(list.key_for_blob("a", 1_000).is_some());
        assert_eq!(list.cuts().collect::<Vec<_>>(), vec![("b", &cut)]);
        // The cut is signed: a server that moves it breaks the signature.
        let mut moved = revoke_b.clone();
        moved.entry.until = Some(crate::blob::HeadRef { seq: 9, ..cut });
        let mut tampered = list.clone();
        tampered.devices.get_mut("b").unwrap().revoked = false;
        tampered.len -= 1;
        tampered.head = Some(revoke_b.entry.prev.clone().unwrap());
        assert_eq!(
            tampered.append(&moved, &root.verifying_key()),
            Err(DevicesError::Untrusted(3))
        );
    }

    #[test]
    fn a_revoked_device_cannot_sign_and_letters_stay_unique() {
        let root = practice_root("r");
        let (ka, kb) = (new_device_key(), new_device_key());
        let mut list = DeviceList::default();
        let first = Signed::sign(add("a", &ka, 'A', None, ROOT), &root).unwrap();
        list.append(&first, &root.verifying_key()).unwrap();
        let same_letter = Signed::sign(add("b", &kb, 'A', list.head.clone(), ROOT), &root).unwrap();
        assert!(matches!(
            list.append(&same_letter, &root.verifying_key()),
            Err(DevicesError::Refused(1, _))
        ));
        let revoke_a = Signed::sign(
            Entry {
                op: Op::Revoke,
                ..add("a", &ka, 'A', list.head.clone(), ROOT)
            },
            &root,
        )
        .unwrap();
        list.append(&revoke_a, &root.verifying_key()).unwrap();
        let by_revoked = Signed::sign(add("b", &kb, 'B', list.head.clone(), "a"), &ka).unwrap();
        assert_eq!(
            list.append(&by_revoked, &root.verifying_key()),
            Err(DevicesError::Untrusted(2))
        );
    }
}
