//! What an off-site backup looks like on the server: nothing but opaque objects.
//!
//! * A backup file (the same tar as a local backup) is encrypted **whole** with age to the
//!   vault's clinical backup key, and the ciphertext is cut into pieces no larger than the
//!   server takes in one request: `b<id>.0000`, `b<id>.0001`, … where `<id>` is 32 random
//!   hex digits. Only the size and the time are visible.
//! * Its index, `b<id>`, sent last, is encrypted the same way: the backup's manifest, the
//!   size, SHA-256 and name of each piece, and an authentication code keyed from the clinical
//!   store key. A backup without its index (an upload cut short) is never listed as one.
//! * `keys`: the vault's `recovery.age`, as it is beside the vault (sealed with the recovery
//!   key), so a new machine with only the account and the recovery key can open the rest.
//! * The erasure list and the verification results, encrypted the same way, under names
//!   derived from the clinical key (so they say nothing either). The erasure list carries an
//!   authentication code keyed like the index's ([`object_code`]): after a re-keying, one
//!   the removed computer wrote with the older keys is not believed.
//!
//! Nothing here trusts the server: pieces are checked against the index, the index against
//! its authentication code, and the backup inside by every check of a local restore.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backup::Manifest;
use crate::error::{CoreError, Result};
use crate::keys::{VaultKeys, hmac_sha256};

/// The object holding the sealed keys (`recovery.age`).
pub const KEYS_OBJECT: &str = "keys";
/// Pieces are at most this big (or the server's own limit, if lower): small enough that
/// neither end holds much of a backup in memory at once.
pub const PIECE_BYTES: u64 = 8 * 1024 * 1024;
/// Small encrypted objects (index, erasure list, verification results) are read whole,
/// up to this size.
const SMALL_LIMIT: u64 = 8 * 1024 * 1024;

const INDEX_FORMAT: u32 = 1;

/// One piece of an off-site backup, as its index lists it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// The encrypted index of one off-site backup.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RemoteIndex {
    pub format: u32,
    /// `b<id>`: also the index object's own name (checked, so an index cannot be moved).
    pub name: String,
    pub manifest: Manifest,
    /// Size of the backup file (the tar) inside.
    pub file_size: u64,
    pub pieces: Vec<Piece>,
    /// How many erasure records the server's erasure list held when this backup was sent.
    #[serde(default)]
    pub erasures: u64,
    pub mac: String,
}

impl RemoteIndex {
    pub fn new(name: String, manifest: Manifest, file_size: u64, pieces: Vec<Piece>) -> Self {
        RemoteIndex {
            format: INDEX_FORMAT,
            name,
            manifest,
            file_size,
            pieces,
            erasures: 0,
            mac: String::new(),
        }
    }

    /// The authentication code under the vault's newest index key.
    fn mac_for(&self, keys: &VaultKeys) -> String {
        let all = index_keys(keys);
        self.mac_with(&all[all.len() - 1])
    }

    /// The codes under each older index key of the vault (before its newest re-keying).
    fn older_macs(&self, keys: &VaultKeys) -> Vec<String> {
        let all = index_keys(keys);
        all[..all.len() - 1]
            .iter()
            .map(|k| self.mac_with(k))
            .collect()
    }

    fn mac_with(&self, key: &[u8; 32]) -> String {
        let mut unsigned = self.clone();
        unsigned.mac.clear();
        let data = serde_json::to_vec(&unsigned).unwrap_or_default();
        hex::encode(hmac_sha256(key, &data))
    }

    pub fn sign(mut self, keys: &VaultKeys) -> Self {
        self.mac = self.mac_for(keys);
        self
    }

    /// Stored size of all pieces.
    pub fn stored_size(&self) -> u64 {
        self.pieces
            .iter()
            .fold(0u64, |a, p| a.saturating_add(p.size))
    }

    /// Decrypts and checks an index read from object `name`.
    pub fn open(bytes: &[u8], name: &str, keys: &VaultKeys) -> Result<Self> {
        let bad = |why: &str| CoreError::BackupInvalid(format!("the server's index {name} {why}"));
        let plain =
            open_small(bytes, keys).map_err(|_| bad("does not decrypt with this vault's key"))?;
        Self::from_plaintext(&plain, name, keys)
    }

    /// The checks on a decrypted index: its form, its authentication code, its own name and
    /// its pieces' names. Public for the fuzz target (a decrypted index is outside input too:
    /// anyone holding the vault's backup key could have written it).
    #[doc(hidden)]
    pub fn from_plaintext(plain: &[u8], name: &str, keys: &VaultKeys) -> Result<Self> {
        let bad = |why: &str| CoreError::BackupInvalid(format!("the server's index {name} {why}"));
        let index: RemoteIndex =
            serde_json::from_slice(plain).map_err(|_| bad("is not a valid index"))?;
        let expected = index.mac_for(keys);
        let same =
            |m: &str| crate::backup::archive::constant_time_eq(m.as_bytes(), index.mac.as_bytes());
        // Under an older key (before a re-keying), only a backup the re-keying listed: the
        // removed computer holds the older keys and could write any index with them.
        let listed_older = || {
            index.older_macs(keys).iter().any(|m| same(m))
                && keys
                    .rekeyed
                    .iter()
                    .any(|g| g.backups.iter().any(|b| same(b)))
        };
        if !same(&expected) && !listed_older() {
            return Err(bad(
                "was not written by this vault (or was written with keys it changed since)",
            ));
        }
        if index.format != INDEX_FORMAT || index.name != name {
            return Err(bad("does not describe this object"));
        }
        if index
            .pieces
            .iter()
            .enumerate()
            .any(|(i, p)| p.name != piece_name(name, i))
        {
            return Err(bad("lists pieces that are not its own"));
        }
        Ok(index)
    }
}

/// The keys an index is authenticated with, oldest first (never empty): one derived from the
/// clinical store key, then one per re-keying from its clinical backup identity — a key the
/// removed computer never had. The last is the one new indexes use.
fn index_keys(keys: &VaultKeys) -> Vec<[u8; 32]> {
    std::iter::once(hmac_sha256(
        keys.clinical.as_bytes(),
        b"casebook offsite index v1",
    ))
    .chain(keys.rekeyed.iter().map(|g| {
        hmac_sha256(
            g.clinical_backup.as_str().as_bytes(),
            b"casebook offsite index v2",
        )
    }))
    .collect()
}

/// The keys one of the vault's own small objects (`role`: `"erasures"`, …) is authenticated
/// with, oldest first: one per index key, so the same rule holds — the newest is the one new
/// objects use, and older ones are the keys a removed computer still holds.
fn object_keys(keys: &VaultKeys, role: &str) -> Vec<[u8; 32]> {
    index_keys(keys)
        .iter()
        .map(|k| hmac_sha256(k, role.as_bytes()))
        .collect()
}

/// The authentication code of `data`, object `role`, under the vault's newest keys.
pub(crate) fn object_code(keys: &VaultKeys, role: &str, data: &[u8]) -> String {
    let all = object_keys(keys, role);
    hex::encode(hmac_sha256(&all[all.len() - 1], data))
}

/// Whether an object `role` holding `data`, read from the server with the authentication
/// code `code`, is believed to be this vault's: its code under the newest keys; or, made
/// under older keys, one a re-keying listed (the removed computer holds those keys and could
/// write anything with them). An object without a code was written before codes existed and
/// is believed only while the vault was never re-keyed: until then every holder of its keys
/// is one of the practice's computers.
pub(crate) fn object_believed(
    keys: &VaultKeys,
    role: &str,
    data: &[u8],
    code: Option<&str>,
) -> bool {
    let same =
        |a: &str, b: &str| crate::backup::archive::constant_time_eq(a.as_bytes(), b.as_bytes());
    let code_with = |k: &[u8; 32]| hex::encode(hmac_sha256(k, data));
    let all = object_keys(keys, role);
    let Some((newest, older)) = all.split_last() else {
        return false;
    };
    if code.is_some_and(|c| same(c, &code_with(newest))) {
        return true;
    }
    if older.is_empty() {
        return code.is_none();
    }
    older.iter().map(code_with).any(|c| {
        keys.rekeyed
            .iter()
            .any(|g| g.backups.iter().any(|b| same(b, &c)))
    })
}

/// A new random backup name, `b` and 32 hex digits.
pub fn new_backup_name() -> String {
    format!("b{}", uuid::Uuid::new_v4().simple())
}

/// The name of piece `i` of backup `name`.
pub fn piece_name(name: &str, i: usize) -> String {
    format!("{name}.{i:04}")
}

/// Whether `object` is a backup index (`b` + 32 hex digits).
pub fn is_index(object: &str) -> bool {
    object.len() == 33
        && object.starts_with('b')
        && object[1..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The backup a piece belongs to, if `object` is a piece name.
pub fn piece_of(object: &str) -> Option<&str> {
    let (base, n) = object.split_once('.')?;
    (is_index(base) && (4..=9).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        .then_some(base)
}

/// The name of one of the vault's own small objects (erasure list, verification results):
/// derived from the clinical key, so it is stable for the vault and means nothing to others.
pub fn private_name(keys: &VaultKeys, role: &str) -> String {
    let key = hmac_sha256(keys.clinical.as_bytes(), b"casebook offsite names v1");
    format!(
        "v{}",
        &hex::encode(hmac_sha256(&key, role.as_bytes()))[..32]
    )
}

/// Seals a small object with age to the vault's clinical backup key.
pub fn seal_small(plain: &[u8], keys: &VaultKeys) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = Encrypting::new(&mut out, keys)?;
    w.write_all(plain)
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    w.finish()?;
    Ok(out)
}

/// Opens an object sealed by [`seal_small`] (or a whole backup's pieces, joined).
pub fn open_small(bytes: &[u8], keys: &VaultKeys) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decrypting(bytes, keys)?
        .take(SMALL_LIMIT)
        .read_to_end(&mut out)
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    Ok(out)
}

/// A reader of the plaintext inside an age stream sealed to the clinical backup key.
pub fn decrypting<R: Read>(from: R, keys: &VaultKeys) -> Result<impl Read> {
    let decryptor = age::Decryptor::new(from).map_err(|e| CoreError::Crypto(e.to_string()))?;
    let ids = keys
        .clinical_all()
        .into_iter()
        .map(|i| i.identity())
        .collect::<Result<Vec<_>>>()?;
    decryptor
        .decrypt(ids.iter().map(|id| id as &dyn age::Identity))
        .map_err(|e| CoreError::Crypto(e.to_string()))
}

/// A writer that encrypts to the clinical backup key.
pub struct Encrypting<W: Write>(age::stream::StreamWriter<W>);

impl<W: Write> Encrypting<W> {
    pub fn new(to: W, keys: &VaultKeys) -> Result<Self> {
        let recipient = keys.clinical_sealing().recipient()?;
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| CoreError::Crypto(e.to_string()))?;
        Ok(Encrypting(
            enc.wrap_output(to)
                .map_err(|e| CoreError::Crypto(e.to_string()))?,
        ))
    }

    pub fn finish(self) -> Result<W> {
        self.0
            .finish()
            .map_err(|e| CoreError::Crypto(e.to_string()))
    }
}

impl<W: Write> Write for Encrypting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Cuts what is written into pieces of `piece_bytes` and hands each, full, with its
/// SHA-256 (hashed as the bytes arrive), to `send` (the last one at [`Pieces::finish`]).
/// Holds one piece in memory at a time.
pub struct Pieces<F: FnMut(usize, Vec<u8>, String) -> io::Result<()>> {
    piece_bytes: usize,
    buf: Vec<u8>,
    hasher: Sha256,
    send: F,
    sent: Vec<Piece>,
    prefix: String,
}

impl<F: FnMut(usize, Vec<u8>, String) -> io::Result<()>> Pieces<F> {
    /// Pieces of backup `name` (each named by [`piece_name`]).
    pub fn new(name: &str, piece_bytes: usize, send: F) -> Self {
        Pieces {
            piece_bytes,
            buf: Vec::with_capacity(piece_bytes),
            hasher: Sha256::new(),
            send,
            sent: Vec::new(),
            prefix: name.to_string(),
        }
    }

    fn flush_piece(&mut self) -> io::Result<()> {
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.piece_bytes));
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let i = self.sent.len();
        self.sent.push(Piece {
            name: piece_name(&self.prefix, i),
            size: full.len() as u64,
            sha256: sha256.clone(),
        });
        (self.send)(i, full, sha256)
    }

    /// The list of pieces, once the last has been handed over.
    pub fn finish(mut self) -> io::Result<Vec<Piece>> {
        if !self.buf.is_empty() {
            self.flush_piece()?;
        }
        Ok(self.sent)
    }
}

impl<F: FnMut(usize, Vec<u8>, String) -> io::Result<()>> Write for Pieces<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.piece_bytes - self.buf.len();
        let n = room.min(buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        self.hasher.update(&buf[..n]);
        if self.buf.len() == self.piece_bytes {
            self.flush_piece()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads the pieces of a backup in order as one stream, each fetched by `fetch` when
/// reached and checked against the index (size and SHA-256) before its last byte is
/// handed on. Holds one piece at a time.
pub struct Joined<'a, F: FnMut(&Piece) -> io::Result<Box<dyn Read + 'a>>> {
    pieces: std::vec::IntoIter<Piece>,
    fetch: F,
    current: Option<(Piece, Vec<u8>, usize)>,
    pub progress: Box<dyn FnMut(u64) + 'a>,
    done: u64,
}

impl<'a, F: FnMut(&Piece) -> io::Result<Box<dyn Read + 'a>>> Joined<'a, F> {
    pub fn new(pieces: Vec<Piece>, fetch: F) -> Self {
        Joined {
            pieces: pieces.into_iter(),
            fetch,
            current: None,
            progress: Box::new(|_| {}),
            done: 0,
        }
    }

    fn next_piece(&mut self) -> io::Result<bool> {
        let Some(piece) = self.pieces.next() else {
            return Ok(false);
        };
        let reader = (self.fetch)(&piece)?;
        let mut buf = Vec::with_capacity(usize::try_from(piece.size).unwrap_or(0));
        reader
            .take(piece.size.saturating_add(1))
            .read_to_end(&mut buf)?;
        let damaged = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("piece {} {why}", piece.name),
            )
        };
        if buf.len() as u64 != piece.size {
            return Err(damaged(
                "is not the size its index says (cut short or replaced)",
            ));
        }
        if hex::encode(Sha256::digest(&buf)) != piece.sha256 {
            return Err(damaged("does not match its digest (altered on the server)"));
        }
        self.current = Some((piece, buf, 0));
        Ok(true)
    }
}

impl<'a, F: FnMut(&Piece) -> io::Result<Box<dyn Read + 'a>>> Read for Joined<'a, F> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some((_, buf, at)) = &mut self.current {
                if *at < buf.len() {
                    let n = (buf.len() - *at).min(out.len());
                    out[..n].copy_from_slice(&buf[*at..*at + n]);
                    *at += n;
                    self.done += n as u64;
                    (self.progress)(self.done);
                    return Ok(n);
                }
                self.current = None;
            }
            if !self.next_piece()? {
                return Ok(0);
            }
        }
    }
}

/// SHA-256 of `bytes`, lower-case hex (as the server reports it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the sizes, cutting into pieces and joining them gives back the bytes,
        /// and every piece but the last is full.
        #[test]
        fn pieces_join_back(len in 0usize..5000, piece in 1usize..700) {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut stored: Vec<Vec<u8>> = Vec::new();
            let mut w = Pieces::new("b0", piece, |i, bytes: Vec<u8>, sha: String| {
                assert_eq!(sha, sha256_hex(&bytes));
                assert_eq!(i, stored.len());
                stored.push(bytes);
                Ok(())
            });
            w.write_all(&data).unwrap();
            let list = w.finish().unwrap();
            prop_assert!(list.iter().rev().skip(1).all(|p| p.size as usize == piece));
            let mut joined = Joined::new(list, |p: &Piece| {
                let i: usize = p.name.rsplit('.').next().unwrap().parse().unwrap();
                Ok(Box::new(io::Cursor::new(stored[i].clone())) as Box<dyn Read>)
            });
            let mut back = Vec::new();
            joined.read_to_end(&mut back).unwrap();
            prop_assert_eq!(back, data);
        }
    }

    #[test]
    fn a_changed_or_short_piece_is_refused() {
        let data = vec![7u8; 100];
        let p = Piece {
            name: "b.0000".into(),
            size: 100,
            sha256: sha256_hex(&data),
        };
        for bad in [
            vec![7u8; 99],
            {
                let mut d = data.clone();
                d[5] ^= 1;
                d
            },
            vec![7u8; 101],
        ] {
            let mut j = Joined::new(vec![p.clone()], |_: &Piece| {
                Ok(Box::new(io::Cursor::new(bad.clone())) as Box<dyn Read>)
            });
            assert!(j.read_to_end(&mut Vec::new()).is_err());
        }
    }

    fn index(name: &str) -> RemoteIndex {
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "format": 1, "created_at": "2026-12-05T10:00:00Z", "app_version": "0",
            "vault_id": "v", "device_id": "d", "key_store": "passphrase",
            "schema": {"clinical": 17, "identity": 7},
            "counts": {"clients": 1, "session_notes": 0}
        }))
        .unwrap();
        RemoteIndex::new(name.into(), manifest, 10, Vec::new())
    }

    /// After a re-keying, an index authenticated with an older key is this vault's only when
    /// the re-keying listed it: the removed computer holds the older keys and could write any.
    #[test]
    fn after_a_rekeying_only_listed_older_indexes_are_believed() {
        use crate::keys::Generation;
        let mut keys = VaultKeys::generate();
        let name = new_backup_name();
        let kept = index(&name).sign(&keys);
        let forged = {
            let mut i = index(&name);
            i.file_size = 11;
            i.sign(&keys)
        };
        let mut g = Generation::generate("");
        g.backups = vec![kept.mac.clone()];
        keys.rekeyed.push(g);
        let plain = |i: &RemoteIndex| serde_json::to_vec(i).unwrap();
        assert!(RemoteIndex::from_plaintext(&plain(&kept), &name, &keys).is_ok());
        assert!(matches!(
            RemoteIndex::from_plaintext(&plain(&forged), &name, &keys),
            Err(CoreError::BackupInvalid(_))
        ));
        // A new index is authenticated with the new key, which the old keys do not make.
        let fresh = index(&name).sign(&keys);
        assert_ne!(fresh.mac, kept.mac);
        assert!(RemoteIndex::from_plaintext(&plain(&fresh), &name, &keys).is_ok());
        let old_only = VaultKeys {
            rekeyed: Vec::new(),
            ..keys.clone()
        };
        assert!(RemoteIndex::from_plaintext(&plain(&fresh), &name, &old_only).is_err());
    }

    /// The erasure list's rule: believed under the newest keys; without a code only while
    /// the vault was never re-keyed; under older keys only when the re-keying listed it.
    #[test]
    fn an_erasure_list_under_older_keys_is_believed_only_when_listed() {
        use crate::keys::Generation;
        let mut keys = VaultKeys::generate();
        let (kept, forged) = (b"[kept]".as_slice(), b"[forged]".as_slice());
        let kept_code = object_code(&keys, "erasures", kept);
        let forged_code = object_code(&keys, "erasures", forged);
        assert!(object_believed(&keys, "erasures", kept, Some(&kept_code)));
        assert!(
            object_believed(&keys, "erasures", kept, None),
            "a list from before codes"
        );
        assert!(!object_believed(
            &keys,
            "erasures",
            kept,
            Some(&forged_code)
        ));
        // Another role's code does not stand in.
        let other = object_code(&keys, "verified", kept);
        assert!(!object_believed(&keys, "erasures", kept, Some(&other)));

        let mut g = Generation::generate("");
        g.backups = vec![kept_code.clone()];
        keys.rekeyed.push(g);
        assert!(object_believed(&keys, "erasures", kept, Some(&kept_code)));
        assert!(
            object_believed(&keys, "erasures", kept, None),
            "listed, code or not"
        );
        assert!(!object_believed(
            &keys,
            "erasures",
            forged,
            Some(&forged_code)
        ));
        assert!(!object_believed(&keys, "erasures", forged, None));
        let fresh = object_code(&keys, "erasures", forged);
        assert_ne!(fresh, forged_code);
        assert!(object_believed(&keys, "erasures", forged, Some(&fresh)));
    }

    #[test]
    fn names_reveal_nothing_and_parse_back() {
        let n = new_backup_name();
        assert!(is_index(&n));
        assert_eq!(piece_of(&piece_name(&n, 12)), Some(n.as_str()));
        assert_eq!(piece_of(&n), None);
        assert!(!is_index("keys"));
        assert!(piece_of("b.0001").is_none());
    }
}
