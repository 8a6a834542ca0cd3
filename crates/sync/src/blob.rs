//! The blob: one signed, encrypted unit in a device's log on the server (`docs/sync.md`,
//! "Blob format").
//!
//! ```text
//! "CBS1" | u16 outer length | outer header (JSON) | u32 body length | age ciphertext | Ed25519 signature
//! ```
//!
//! The signature (by the writing device) covers everything before it, so the server cannot
//! alter, swap or forge a blob without the device's key. The age body, encrypted to the sync
//! key of the blob's kind, holds an inner header that repeats account, device, seq and kind
//! (a blob moved to another log or seq fails here too), adds the hash of the device's previous
//! blob and the writer's view of every other device's head, and is padded to 256-byte steps so
//! sizes say little. [`Envelope::parse`] reads outside bytes and is fuzzed.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::BlobError;

const MAGIC: &[u8; 4] = b"CBS1";
const DOMAIN: &[u8] = b"casebook-sync-blob-v1";
/// The largest outer header read (it holds ids and a number).
const MAX_OUTER: usize = 1024;
/// The largest blob read: the server's own limit is lower.
pub const MAX_BLOB: usize = 64 * 1024 * 1024;
/// Plaintext is padded to a multiple of this, so sizes say little about content.
const PAD: usize = 64;

/// What a blob carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Changes to the clinical store (encrypted to the clinical sync key).
    Clinical,
    /// Changes to the identity store: names and contact details (the identity sync key).
    Identity,
    /// "Still here": moves the head when there is nothing else to send.
    Heartbeat,
    /// One chunk of a checkpoint: clinical rows (the clinical sync key).
    Checkpoint,
    /// One chunk of a checkpoint: identity rows (the identity sync key).
    IdentityCheckpoint,
    /// A device-list entry.
    Devices,
    /// Entries of the device's own audit trail (to the clinical sync key: codes, never names).
    Audit,
}

/// The part of a blob the server can read (it learns nothing it does not already know).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outer {
    pub v: u32,
    pub kind: Kind,
    pub account: String,
    pub device: String,
    pub seq: u64,
}

/// A device's head as another device saw it: the seq and the SHA-256 of that blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct HeadRef {
    pub seq: u64,
    pub hash: String,
}

/// The header inside the encryption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inner {
    pub account: String,
    pub device: String,
    pub seq: u64,
    pub kind: Kind,
    /// SHA-256 (hex) of this device's previous blob; `None` for seq 1.
    pub prev: Option<String>,
    /// The writer's view of every other device's head when it sealed this blob.
    pub view: BTreeMap<String, HeadRef>,
    /// The schema version of the stores that made the payload.
    pub schema: u32,
    /// The payload's length (the rest is padding).
    pub len: u64,
}

/// A blob's bytes split into their parts, not yet verified.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub outer: Outer,
    signed: &'a [u8],
    body: &'a [u8],
    signature: Signature,
}

/// The SHA-256 of a blob's bytes, lower-case hex (what heads and `prev` name).
pub fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], BlobError> {
    if bytes.len() < n {
        return Err(BlobError::Malformed("the blob ends early"));
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

impl<'a> Envelope<'a> {
    /// Splits outside bytes into their parts. Never panics; refuses anything not exactly one
    /// version-1 blob.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BlobError> {
        if bytes.len() > MAX_BLOB {
            return Err(BlobError::Malformed(
                "the blob is larger than any Casebook writes",
            ));
        }
        let mut rest = bytes;
        if take(&mut rest, 4)? != MAGIC {
            return Err(BlobError::Malformed("not a Casebook sync blob"));
        }
        let outer_len = u16::from_be_bytes(
            take(&mut rest, 2)?
                .try_into()
                .map_err(|_| BlobError::Malformed("length"))?,
        ) as usize;
        if outer_len > MAX_OUTER {
            return Err(BlobError::Malformed("the outer header is too long"));
        }
        let outer: Outer = serde_json::from_slice(take(&mut rest, outer_len)?)
            .map_err(|_| BlobError::Malformed("the outer header is not valid"))?;
        if outer.v != 1 {
            return Err(BlobError::Malformed(
                "a blob version this Casebook does not read",
            ));
        }
        let body_len = u32::from_be_bytes(
            take(&mut rest, 4)?
                .try_into()
                .map_err(|_| BlobError::Malformed("length"))?,
        ) as usize;
        let body = take(&mut rest, body_len)?;
        let sig: [u8; 64] = take(&mut rest, 64)?
            .try_into()
            .map_err(|_| BlobError::Malformed("signature"))?;
        if !rest.is_empty() {
            return Err(BlobError::Malformed("bytes after the signature"));
        }
        Ok(Envelope {
            outer,
            signed: &bytes[..bytes.len() - 64],
            body,
            signature: Signature::from_bytes(&sig),
        })
    }

    /// Checks the writer's signature.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), BlobError> {
        let mut msg = Vec::with_capacity(DOMAIN.len() + self.signed.len());
        msg.extend_from_slice(DOMAIN);
        msg.extend_from_slice(self.signed);
        key.verify_strict(&msg, &self.signature)
            .map_err(|_| BlobError::BadSignature)
    }
}

/// What a verified, decrypted blob holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub inner: Inner,
    pub payload: Vec<u8>,
    /// The blob's own hash (the next blob's `prev`).
    pub hash: String,
}

/// Seals `payload` as the blob at `inner.seq` of `inner.device`'s log: encrypted to
/// `recipient`, signed with `signer`. `inner.len` is filled in.
pub fn seal(
    mut inner: Inner,
    payload: &[u8],
    recipient: &age::x25519::Recipient,
    signer: &SigningKey,
) -> Result<Vec<u8>, BlobError> {
    inner.len = payload.len() as u64;
    let header = serde_json::to_vec(&inner).map_err(|e| BlobError::Encode(e.to_string()))?;
    let mut plain = Vec::with_capacity(4 + header.len() + payload.len() + PAD);
    plain.extend_from_slice(&(header.len() as u32).to_be_bytes());
    plain.extend_from_slice(&header);
    plain.extend_from_slice(payload);
    plain.resize(plain.len().div_ceil(PAD) * PAD, 0);

    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| BlobError::Encode(e.to_string()))?;
    let mut body = Vec::with_capacity(plain.len() + 256);
    let mut w = encryptor
        .wrap_output(&mut body)
        .map_err(|e| BlobError::Encode(e.to_string()))?;
    w.write_all(&plain)
        .map_err(|e| BlobError::Encode(e.to_string()))?;
    w.finish().map_err(|e| BlobError::Encode(e.to_string()))?;

    let outer = serde_json::to_vec(&Outer {
        v: 1,
        kind: inner.kind,
        account: inner.account.clone(),
        device: inner.device.clone(),
        seq: inner.seq,
    })
    .map_err(|e| BlobError::Encode(e.to_string()))?;
    let outer_len =
        u16::try_from(outer.len()).map_err(|_| BlobError::Encode("ids too long".into()))?;
    let body_len =
        u32::try_from(body.len()).map_err(|_| BlobError::Encode("payload too large".into()))?;
    let mut blob = Vec::with_capacity(4 + 2 + outer.len() + 4 + body.len() + 64);
    blob.extend_from_slice(MAGIC);
    blob.extend_from_slice(&outer_len.to_be_bytes());
    blob.extend_from_slice(&outer);
    blob.extend_from_slice(&body_len.to_be_bytes());
    blob.extend_from_slice(&body);
    let mut msg = Vec::with_capacity(DOMAIN.len() + blob.len());
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(&blob);
    blob.extend_from_slice(&signer.sign(&msg).to_bytes());
    Ok(blob)
}

/// Where a blob was found: its log and seq (from the server) must match what it says inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect<'a> {
    pub account: &'a str,
    pub device: &'a str,
    pub seq: u64,
}

/// Verifies and opens a blob found at `at`: signature by `writer`, outer and inner headers
/// naming that log and seq, then decryption with `identity`.
pub fn open(
    bytes: &[u8],
    at: &Expect<'_>,
    writer: &VerifyingKey,
    identity: &age::x25519::Identity,
) -> Result<Opened, BlobError> {
    let env = Envelope::parse(bytes)?;
    env.verify(writer)?;
    let o = &env.outer;
    if o.account != at.account || o.device != at.device || o.seq != at.seq {
        return Err(BlobError::Misplaced);
    }
    let decryptor = age::Decryptor::new_buffered(env.body).map_err(|_| BlobError::Undecryptable)?;
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| BlobError::Undecryptable)?
        .read_to_end(&mut plain)
        .map_err(|_| BlobError::Undecryptable)?;
    let mut rest = plain.as_slice();
    let hlen = u32::from_be_bytes(
        take(&mut rest, 4)?
            .try_into()
            .map_err(|_| BlobError::Malformed("length"))?,
    ) as usize;
    let inner: Inner = serde_json::from_slice(take(&mut rest, hlen)?)
        .map_err(|_| BlobError::Malformed("the inner header is not valid"))?;
    if inner.account != o.account
        || inner.device != o.device
        || inner.seq != o.seq
        || inner.kind != o.kind
    {
        return Err(BlobError::Misplaced);
    }
    let len = usize::try_from(inner.len).map_err(|_| BlobError::Malformed("length"))?;
    let payload = take(&mut rest, len)?.to_vec();
    if rest.iter().any(|b| *b != 0) || rest.len() >= PAD {
        return Err(BlobError::Malformed("the padding is not Casebook's"));
    }
    Ok(Opened {
        inner,
        payload,
        hash: hash(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Keys {
        signer: SigningKey,
        identity: age::x25519::Identity,
    }

    fn keys() -> Keys {
        Keys {
            signer: SigningKey::generate(&mut rand::rngs::OsRng),
            identity: age::x25519::Identity::generate(),
        }
    }

    fn inner(seq: u64) -> Inner {
        Inner {
            account: "acct".into(),
            device: "dev-a".into(),
            seq,
            kind: Kind::Clinical,
            prev: None,
            view: BTreeMap::from([(
                "dev-b".to_string(),
                HeadRef {
                    seq: 4,
                    hash: "ab".repeat(32),
                },
            )]),
            schema: 6,
            len: 0,
        }
    }

    fn at(seq: u64) -> Expect<'static> {
        Expect {
            account: "acct",
            device: "dev-a",
            seq,
        }
    }

    #[test]
    fn a_sealed_blob_opens_with_the_right_keys_and_place() {
        let k = keys();
        let blob = seal(
            inner(3),
            b"{\"changes\":[]}",
            &k.identity.to_public(),
            &k.signer,
        )
        .unwrap();
        let opened = open(&blob, &at(3), &k.signer.verifying_key(), &k.identity).unwrap();
        assert_eq!(opened.payload, b"{\"changes\":[]}");
        assert_eq!(opened.inner.view["dev-b"].seq, 4);
        assert_eq!(opened.hash, hash(&blob));
        // The payload is padded to 256-byte steps inside the encryption (age adds a random
        // "grease" stanza of its own to every header, so whole blobs vary a little more).
        for n in [0usize, 1, 100, 255, 256, 257, 1000] {
            let blob = seal(inner(3), &vec![b'y'; n], &k.identity.to_public(), &k.signer).unwrap();
            let env = Envelope::parse(&blob).unwrap();
            let decryptor = age::Decryptor::new_buffered(env.body).unwrap();
            let mut plain = Vec::new();
            decryptor
                .decrypt(std::iter::once(&k.identity as &dyn age::Identity))
                .unwrap()
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain.len() % PAD, 0, "{n}");
            assert!(plain.len() < n + 4 + 400 + PAD, "{n}");
        }
        // A one-field edit, with real ids and a practice of three computers, stays near a
        // kilobyte whatever age's grease (the goal is ≤ 1 KiB; docs/performance.md).
        let uuid = "0193a4f2-7c1e-7d3a-9f2b-5e8c1d2a3b4c";
        let real = Inner {
            account: uuid.into(),
            device: uuid.into(),
            prev: Some("ab".repeat(32)),
            view: BTreeMap::from([
                (
                    "0193a4f2-7c1e-7d3a-9f2b-000000000001".to_string(),
                    HeadRef {
                        seq: 4812,
                        hash: "cd".repeat(32),
                    },
                ),
                (
                    "0193a4f2-7c1e-7d3a-9f2b-000000000002".to_string(),
                    HeadRef {
                        seq: 77,
                        hash: "ef".repeat(32),
                    },
                ),
            ]),
            ..inner(4813)
        };
        let change = br#"[{"t":"clients","k":"0193a4f2-7c1e-7d3a-9f2b-5e8c1d2a3b4c","op":"upsert","hlc":"0001732281600000-00000003","f":{"status":"closed"}}]"#;
        let sizes: Vec<usize> = (0..300)
            .map(|_| {
                seal(real.clone(), change, &k.identity.to_public(), &k.signer)
                    .unwrap()
                    .len()
            })
            .collect();
        let small = vec![0u8; *sizes.iter().max().unwrap()];
        eprintln!(
            "one-field edit: {}–{} bytes",
            sizes.iter().min().unwrap(),
            small.len()
        );
        assert!(small.len() <= 1280, "{}", small.len());
    }

    #[test]
    fn a_blob_moved_signed_by_another_or_for_another_key_is_refused() {
        let k = keys();
        let other = keys();
        let blob = seal(inner(3), b"p", &k.identity.to_public(), &k.signer).unwrap();
        assert_eq!(
            open(&blob, &at(4), &k.signer.verifying_key(), &k.identity),
            Err(BlobError::Misplaced)
        );
        let elsewhere = Expect {
            account: "acct",
            device: "dev-b",
            seq: 3,
        };
        assert_eq!(
            open(&blob, &elsewhere, &k.signer.verifying_key(), &k.identity),
            Err(BlobError::Misplaced)
        );
        assert_eq!(
            open(&blob, &at(3), &other.signer.verifying_key(), &k.identity),
            Err(BlobError::BadSignature)
        );
        assert_eq!(
            open(&blob, &at(3), &k.signer.verifying_key(), &other.identity),
            Err(BlobError::Undecryptable)
        );
    }

    #[test]
    fn an_outer_header_rewritten_and_re_signed_by_the_writer_still_fails_inside() {
        // Even the writer's own key cannot make a blob say it is somewhere else: the inner
        // header (under the encryption) must agree with the outer one.
        let k = keys();
        let blob = seal(inner(3), b"p", &k.identity.to_public(), &k.signer).unwrap();
        let env = Envelope::parse(&blob).unwrap();
        let text = String::from_utf8(serde_json::to_vec(&env.outer).unwrap())
            .unwrap()
            .replace("\"seq\":3", "\"seq\":9");
        let mut forged = Vec::new();
        forged.extend_from_slice(MAGIC);
        forged.extend_from_slice(&(text.len() as u16).to_be_bytes());
        forged.extend_from_slice(text.as_bytes());
        forged.extend_from_slice(&(env.body.len() as u32).to_be_bytes());
        forged.extend_from_slice(env.body);
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(&forged);
        forged.extend_from_slice(&k.signer.sign(&msg).to_bytes());
        assert_eq!(
            open(&forged, &at(9), &k.signer.verifying_key(), &k.identity),
            Err(BlobError::Misplaced)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any flipped bit anywhere in a blob is caught, and nothing panics.
        #[test]
        fn any_flipped_bit_is_caught(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let k = keys();
            let mut blob = seal(inner(1), b"payload", &k.identity.to_public(), &k.signer).unwrap();
            let i = pos.index(blob.len());
            blob[i] ^= 1 << bit;
            prop_assert!(open(&blob, &at(1), &k.signer.verifying_key(), &k.identity).is_err());
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Envelope::parse(&bytes);
        }
    }
}
