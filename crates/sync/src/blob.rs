//! The blob: one signed, encrypted unit in a device's log on the server (`docs/sync.md`,
//! "Blob format").
//!
//! ```text
//! "CBS2" | kind | account | device | seq | u32 body length | age ciphertext | Ed25519 signature
//! ```
//!
//! The signature (by the writing device) covers everything before it, so the server cannot
//! alter, swap or forge a blob without the device's key. The age body, encrypted to the sync
//! key of the blob's kind, holds an inner header that repeats account, device, seq and kind
//! (a blob moved to another log or seq fails here too), adds the hash of the device's previous
//! blob and the writer's view of every other device's head, then the payload (deflated when
//! that makes it smaller), padded to 64-byte steps so sizes say little. Both headers are
//! binary: a one-field edit is a small blob (the goal is 1 KiB on the wire, with age's own
//! header about 200 bytes of it). [`Envelope::parse`] reads outside bytes and is fuzzed.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::BlobError;

const MAGIC: &[u8; 4] = b"CBS2";
const DOMAIN: &[u8] = b"casebook-sync-blob-v2";
/// The largest blob read: the server's own limit is lower.
pub const MAX_BLOB: usize = 64 * 1024 * 1024;
/// The largest payload a blob may unpack to (a checkpoint chunk is a few MiB).
const MAX_PAYLOAD: usize = 256 * 1024 * 1024;
/// Plaintext is padded to a multiple of this, so sizes say little about content.
const PAD: usize = 64;
/// Payloads shorter than this are sent as they are (deflate would not pay for itself).
const DEFLATE_FROM: usize = 128;

/// What a blob carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Changes to the clinical store, and the writer's audit entries not yet sent (encrypted
    /// to the clinical sync key).
    Clinical,
    /// Changes to the identity store: names and contact details (the identity sync key).
    Identity,
    /// "Still here": moves the head when there is nothing else to send; carries the audit
    /// entries not yet sent.
    Heartbeat,
    /// One chunk of a checkpoint: clinical rows (the clinical sync key).
    Checkpoint,
    /// One chunk of a checkpoint: identity rows (the identity sync key).
    IdentityCheckpoint,
    /// A device-list entry.
    Devices,
    /// Entries of the device's own audit trail alone (to the clinical sync key: codes, never
    /// names): sealed before a checkpoint, or when more are waiting than a batch holds.
    Audit,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Clinical,
        Kind::Identity,
        Kind::Heartbeat,
        Kind::Checkpoint,
        Kind::IdentityCheckpoint,
        Kind::Devices,
        Kind::Audit,
    ];

    fn byte(self) -> u8 {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8 + 1
    }

    fn from_byte(b: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(b).checked_sub(1)?).copied()
    }
}

/// The part of a blob the server can read (it learns nothing it does not already know).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outer {
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The payload's length, unpacked (filled in by [`seal`]).
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

fn take_array<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N], BlobError> {
    take(bytes, N)?
        .try_into()
        .map_err(|_| BlobError::Malformed("length"))
}

fn take_u8(bytes: &mut &[u8]) -> Result<u8, BlobError> {
    Ok(take_array::<1>(bytes)?[0])
}

fn take_u32(bytes: &mut &[u8]) -> Result<u32, BlobError> {
    Ok(u32::from_be_bytes(take_array(bytes)?))
}

fn take_u64(bytes: &mut &[u8]) -> Result<u64, BlobError> {
    Ok(u64::from_be_bytes(take_array(bytes)?))
}

/// Ids (accounts and devices) as they travel: a UUID in its usual written form as its 16
/// bytes (tag 0), anything else as its UTF-8 text (tag 1, a length byte, the text). Reading
/// gives back exactly the text written.
fn put_id(out: &mut Vec<u8>, id: &str) -> Result<(), BlobError> {
    if let Some(raw) = uuid_bytes(id) {
        out.push(0);
        out.extend_from_slice(&raw);
        return Ok(());
    }
    let len = u8::try_from(id.len())
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| BlobError::Encode(format!("an id of {} bytes", id.len())))?;
    out.push(1);
    out.push(len);
    out.extend_from_slice(id.as_bytes());
    Ok(())
}

fn take_id(bytes: &mut &[u8]) -> Result<String, BlobError> {
    match take_u8(bytes)? {
        0 => Ok(uuid_text(&take_array::<16>(bytes)?)),
        1 => {
            let len = usize::from(take_u8(bytes)?);
            let text = std::str::from_utf8(take(bytes, len)?)
                .map_err(|_| BlobError::Malformed("an id is not text"))?;
            // The same id is always written the same way.
            if len == 0 || uuid_bytes(text).is_some() {
                return Err(BlobError::Malformed(
                    "an id is not written as Casebook writes it",
                ));
            }
            Ok(text.to_string())
        }
        _ => Err(BlobError::Malformed(
            "an id is not written as Casebook writes it",
        )),
    }
}

/// The 16 bytes of a lower-case, hyphenated UUID (`8-4-4-4-12` hex digits); `None` for
/// anything else.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let b = id.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|i| b[*i] != b'-') {
        return None;
    }
    let digits: String = id.chars().filter(|c| *c != '-').collect();
    if digits
        .bytes()
        .any(|c| !matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    hex::decode(digits).ok()?.try_into().ok()
}

fn uuid_text(raw: &[u8; 16]) -> String {
    let h = hex::encode(raw);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A blob hash (64 lower-case hex digits) as its 32 bytes.
fn put_hash(out: &mut Vec<u8>, hash: &str) -> Result<(), BlobError> {
    let raw: [u8; 32] = hex::decode(hash)
        .ok()
        .filter(|_| hash.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| BlobError::Encode("a blob hash that is not a SHA-256".into()))?;
    out.extend_from_slice(&raw);
    Ok(())
}

fn take_hash(bytes: &mut &[u8]) -> Result<String, BlobError> {
    Ok(hex::encode(take_array::<32>(bytes)?))
}

impl Outer {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), BlobError> {
        out.push(self.kind.byte());
        put_id(out, &self.account)?;
        put_id(out, &self.device)?;
        out.extend_from_slice(&self.seq.to_be_bytes());
        Ok(())
    }

    fn decode(bytes: &mut &[u8]) -> Result<Outer, BlobError> {
        let kind = Kind::from_byte(take_u8(bytes)?).ok_or(BlobError::Malformed(
            "a kind of blob this Casebook does not read",
        ))?;
        Ok(Outer {
            kind,
            account: take_id(bytes)?,
            device: take_id(bytes)?,
            seq: take_u64(bytes)?,
        })
    }
}

/// How the payload is stored inside the encryption.
const STORED: u8 = 0;
const DEFLATED: u8 = 1;

impl Inner {
    /// The header, then how the payload is stored and its stored length.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), BlobError> {
        Outer {
            kind: self.kind,
            account: self.account.clone(),
            device: self.device.clone(),
            seq: self.seq,
        }
        .encode(out)?;
        out.extend_from_slice(&self.schema.to_be_bytes());
        match &self.prev {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                put_hash(out, h)?;
            }
        }
        let n = u16::try_from(self.view.len())
            .map_err(|_| BlobError::Encode("too many devices".into()))?;
        out.extend_from_slice(&n.to_be_bytes());
        for (device, head) in &self.view {
            put_id(out, device)?;
            out.extend_from_slice(&head.seq.to_be_bytes());
            put_hash(out, &head.hash)?;
        }
        out.extend_from_slice(&self.len.to_be_bytes());
        Ok(())
    }

    fn decode(bytes: &mut &[u8]) -> Result<Inner, BlobError> {
        let o = Outer::decode(bytes)?;
        let schema = take_u32(bytes)?;
        let prev = match take_u8(bytes)? {
            0 => None,
            1 => Some(take_hash(bytes)?),
            _ => return Err(BlobError::Malformed("the inner header is not valid")),
        };
        let n = u16::from_be_bytes(take_array(bytes)?);
        let mut view = BTreeMap::new();
        for _ in 0..n {
            let device = take_id(bytes)?;
            let head = HeadRef {
                seq: take_u64(bytes)?,
                hash: take_hash(bytes)?,
            };
            // In order, each device once: one header has one encoding.
            if view
                .last_key_value()
                .is_some_and(|(last, _)| *last >= device)
            {
                return Err(BlobError::Malformed("the inner header is not valid"));
            }
            view.insert(device, head);
        }
        Ok(Inner {
            account: o.account,
            device: o.device,
            seq: o.seq,
            kind: o.kind,
            prev,
            view,
            schema,
            len: take_u64(bytes)?,
        })
    }
}

impl<'a> Envelope<'a> {
    /// Splits outside bytes into their parts. Never panics; refuses anything not exactly one
    /// version-2 blob.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BlobError> {
        if bytes.len() > MAX_BLOB {
            return Err(BlobError::Malformed(
                "the blob is larger than any Casebook writes",
            ));
        }
        let mut rest = bytes;
        if take(&mut rest, 4)? != MAGIC {
            return Err(BlobError::Malformed(
                "not a Casebook sync blob of a version this Casebook reads",
            ));
        }
        let outer = Outer::decode(&mut rest)?;
        let body_len = take_u32(&mut rest)? as usize;
        let body = take(&mut rest, body_len)?;
        let sig: [u8; 64] = take_array(&mut rest)?;
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

fn deflate(payload: &[u8]) -> Result<Vec<u8>, BlobError> {
    let mut z = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(payload.len() / 2),
        flate2::Compression::default(),
    );
    z.write_all(payload)
        .map_err(|e| BlobError::Encode(e.to_string()))?;
    z.finish().map_err(|e| BlobError::Encode(e.to_string()))
}

/// Unpacks a deflated payload of exactly `len` bytes (never more: outside bytes could
/// unpack to far more than they are).
fn inflate(stored: &[u8], len: usize) -> Result<Vec<u8>, BlobError> {
    let mut out = Vec::with_capacity(len.min(MAX_BLOB));
    flate2::read::DeflateDecoder::new(stored)
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| BlobError::Malformed("the payload does not unpack"))?;
    if out.len() != len {
        return Err(BlobError::Malformed("the payload does not unpack"));
    }
    Ok(out)
}

/// Seals `payload` as the blob at `inner.seq` of `inner.device`'s log: encrypted to
/// `recipient`, signed with `signer`. `inner.len` is filled in.
pub fn seal(
    mut inner: Inner,
    payload: &[u8],
    recipient: &age::x25519::Recipient,
    signer: &SigningKey,
) -> Result<Vec<u8>, BlobError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(BlobError::Encode("payload too large".into()));
    }
    inner.len = payload.len() as u64;
    let packed = if payload.len() >= DEFLATE_FROM {
        Some(deflate(payload)?).filter(|z| z.len() < payload.len())
    } else {
        None
    };
    let (how, stored) = match &packed {
        Some(z) => (DEFLATED, z.as_slice()),
        None => (STORED, payload),
    };
    let mut plain = Vec::with_capacity(256 + stored.len() + PAD);
    inner.encode(&mut plain)?;
    plain.push(how);
    let stored_len =
        u32::try_from(stored.len()).map_err(|_| BlobError::Encode("payload too large".into()))?;
    plain.extend_from_slice(&stored_len.to_be_bytes());
    plain.extend_from_slice(stored);
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

    let body_len =
        u32::try_from(body.len()).map_err(|_| BlobError::Encode("payload too large".into()))?;
    let mut blob = Vec::with_capacity(64 + body.len() + 64);
    blob.extend_from_slice(MAGIC);
    Outer {
        kind: inner.kind,
        account: inner.account.clone(),
        device: inner.device.clone(),
        seq: inner.seq,
    }
    .encode(&mut blob)?;
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
/// naming that log and seq, then decryption with one of `identities` (every generation of
/// the practice's keys: a blob sealed before a re-keying still opens).
pub fn open(
    bytes: &[u8],
    at: &Expect<'_>,
    writer: &VerifyingKey,
    identities: &[age::x25519::Identity],
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
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|_| BlobError::Undecryptable)?
        .read_to_end(&mut plain)
        .map_err(|_| BlobError::Undecryptable)?;
    let mut rest = plain.as_slice();
    let inner = Inner::decode(&mut rest)?;
    if inner.account != o.account
        || inner.device != o.device
        || inner.seq != o.seq
        || inner.kind != o.kind
    {
        return Err(BlobError::Misplaced);
    }
    let len = usize::try_from(inner.len)
        .ok()
        .filter(|n| *n <= MAX_PAYLOAD)
        .ok_or(BlobError::Malformed("length"))?;
    let how = take_u8(&mut rest)?;
    let stored_len = take_u32(&mut rest)? as usize;
    let stored = take(&mut rest, stored_len)?;
    let payload = match how {
        STORED if stored_len == len => stored.to_vec(),
        DEFLATED => inflate(stored, len)?,
        _ => {
            return Err(BlobError::Malformed(
                "the payload is not stored as Casebook stores it",
            ));
        }
    };
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
        let opened = open(
            &blob,
            &at(3),
            &k.signer.verifying_key(),
            std::slice::from_ref(&k.identity),
        )
        .unwrap();
        assert_eq!(opened.payload, b"{\"changes\":[]}");
        assert_eq!(opened.inner.view["dev-b"].seq, 4);
        assert_eq!(opened.hash, hash(&blob));
        // The payload is padded to 64-byte steps inside the encryption (age adds a random
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
        // A one-field edit, with real ids and a practice of three computers, stays under a
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
        assert!(small.len() <= 1024, "{}", small.len());
    }

    #[test]
    fn a_blob_moved_signed_by_another_or_for_another_key_is_refused() {
        let k = keys();
        let other = keys();
        let blob = seal(inner(3), b"p", &k.identity.to_public(), &k.signer).unwrap();
        assert_eq!(
            open(
                &blob,
                &at(4),
                &k.signer.verifying_key(),
                std::slice::from_ref(&k.identity)
            ),
            Err(BlobError::Misplaced)
        );
        let elsewhere = Expect {
            account: "acct",
            device: "dev-b",
            seq: 3,
        };
        assert_eq!(
            open(
                &blob,
                &elsewhere,
                &k.signer.verifying_key(),
                std::slice::from_ref(&k.identity)
            ),
            Err(BlobError::Misplaced)
        );
        assert_eq!(
            open(
                &blob,
                &at(3),
                &other.signer.verifying_key(),
                std::slice::from_ref(&k.identity)
            ),
            Err(BlobError::BadSignature)
        );
        assert_eq!(
            open(
                &blob,
                &at(3),
                &k.signer.verifying_key(),
                std::slice::from_ref(&other.identity)
            ),
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
        let mut forged = Vec::new();
        forged.extend_from_slice(MAGIC);
        Outer {
            seq: 9,
            ..env.outer.clone()
        }
        .encode(&mut forged)
        .unwrap();
        forged.extend_from_slice(&(env.body.len() as u32).to_be_bytes());
        forged.extend_from_slice(env.body);
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(&forged);
        forged.extend_from_slice(&k.signer.sign(&msg).to_bytes());
        assert_eq!(
            open(
                &forged,
                &at(9),
                &k.signer.verifying_key(),
                std::slice::from_ref(&k.identity)
            ),
            Err(BlobError::Misplaced)
        );
    }

    #[test]
    fn ids_and_hashes_read_back_exactly_as_written() {
        for id in [
            "0193a4f2-7c1e-7d3a-9f2b-5e8c1d2a3b4c",
            "0193A4F2-7C1E-7D3A-9F2B-5E8C1D2A3B4C",
            "dev-a",
            "é",
        ] {
            let mut out = Vec::new();
            put_id(&mut out, id).unwrap();
            let mut rest = out.as_slice();
            assert_eq!(take_id(&mut rest).unwrap(), id);
            assert!(rest.is_empty());
        }
        // A UUID written as text is not how Casebook writes it: one id, one encoding.
        let mut out = vec![1u8, 36];
        out.extend_from_slice(b"0193a4f2-7c1e-7d3a-9f2b-5e8c1d2a3b4c");
        assert!(take_id(&mut out.as_slice()).is_err());
        assert!(put_id(&mut Vec::new(), "").is_err());
        assert!(put_id(&mut Vec::new(), &"x".repeat(256)).is_err());
        assert!(put_hash(&mut Vec::new(), &"AB".repeat(32)).is_err());
        assert!(put_hash(&mut Vec::new(), "abcd").is_err());
    }

    #[test]
    fn a_large_payload_travels_deflated_and_unpacks_exactly() {
        let k = keys();
        let payload = br#"{"t":"session_notes","k":"x","op":"upsert"}"#.repeat(500);
        let blob = seal(inner(3), &payload, &k.identity.to_public(), &k.signer).unwrap();
        assert!(blob.len() < payload.len() / 4, "{}", blob.len());
        let opened = open(
            &blob,
            &at(3),
            &k.signer.verifying_key(),
            std::slice::from_ref(&k.identity),
        )
        .unwrap();
        assert_eq!(opened.payload, payload);
        assert_eq!(opened.inner.len, payload.len() as u64);
    }

    #[test]
    fn a_payload_that_unpacks_to_more_than_it_says_is_refused() {
        // Signed by the writer and encrypted to the right key, but the stored length and
        // the stated one disagree: refused, and never unpacked past what it states.
        let k = keys();
        let bomb = vec![0u8; 1 << 20];
        let packed = deflate(&bomb).unwrap();
        let mut head = inner(3);
        head.len = 10;
        let mut plain = Vec::new();
        head.encode(&mut plain).unwrap();
        plain.push(DEFLATED);
        plain.extend_from_slice(&(packed.len() as u32).to_be_bytes());
        plain.extend_from_slice(&packed);
        plain.resize(plain.len().div_ceil(PAD) * PAD, 0);
        let recipient = k.identity.to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let mut body = Vec::new();
        let mut w = encryptor.wrap_output(&mut body).unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap();
        let mut blob = MAGIC.to_vec();
        Outer {
            kind: head.kind,
            account: head.account.clone(),
            device: head.device.clone(),
            seq: 3,
        }
        .encode(&mut blob)
        .unwrap();
        blob.extend_from_slice(&(body.len() as u32).to_be_bytes());
        blob.extend_from_slice(&body);
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(&blob);
        blob.extend_from_slice(&k.signer.sign(&msg).to_bytes());
        assert_eq!(
            open(
                &blob,
                &at(3),
                &k.signer.verifying_key(),
                std::slice::from_ref(&k.identity)
            ),
            Err(BlobError::Malformed("the payload does not unpack"))
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
            prop_assert!(open(&blob, &at(1), &k.signer.verifying_key(), std::slice::from_ref(&k.identity)).is_err());
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Envelope::parse(&bytes);
            let _ = Inner::decode(&mut bytes.as_slice());
        }

        /// Any inner header reads back as it was written.
        #[test]
        fn inner_headers_read_back(
            seq in any::<u64>(),
            schema in any::<u32>(),
            prev in proptest::option::of(any::<[u8; 32]>()),
            view in proptest::collection::btree_map("[a-z0-9-]{1,40}", (any::<u64>(), any::<[u8; 32]>()), 0..6),
            kind in 1u8..=7,
        ) {
            let h = Inner {
                account: "0193a4f2-7c1e-7d3a-9f2b-5e8c1d2a3b4c".into(),
                device: "dev-a".into(),
                seq,
                kind: Kind::from_byte(kind).unwrap(),
                prev: prev.map(hex::encode),
                view: view
                    .into_iter()
                    .map(|(d, (seq, h))| (d, HeadRef { seq, hash: hex::encode(h) }))
                    .collect(),
                schema,
                len: 7,
            };
            let mut out = Vec::new();
            h.encode(&mut out).unwrap();
            let mut rest = out.as_slice();
            prop_assert_eq!(Inner::decode(&mut rest).unwrap(), h);
            prop_assert!(rest.is_empty());
        }
    }
}
