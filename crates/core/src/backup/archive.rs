//! The backup file format: one standard tar archive, members in this order:
//!
//! ```text
//! keys.age       the vault's keys sealed to the recovery key (a copy of recovery.age)
//! clinical.age   a snapshot of clinical.db, age-encrypted to the clinical backup identity
//! identity.age   a snapshot of identity.db, age-encrypted to the identity backup identity
//! manifest.json  plaintext: format, times, device, schema, SHA-256 and size of each part, counts
//! ```
//!
//! The manifest comes last because it holds the digests of the parts, computed while they are
//! streamed in. Reading checks everything a damaged or altered file could get wrong: the member
//! names and order, tar header checksums, that every byte outside headers and data is zero
//! padding, the manifest's authentication code (HMAC keyed from the clinical store key), and
//! each part's digest and size. Nothing is trusted before it is checked.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::keys::{BackupIdentity, StoreKey, VaultKeys};
use crate::keystore::KeyStoreKind;

pub const KEYS_PART: &str = "keys.age";
pub const CLINICAL_PART: &str = "clinical.age";
pub const IDENTITY_PART: &str = "identity.age";
pub const MANIFEST: &str = "manifest.json";
/// The members in the order they are written and must be read.
const ORDER: [&str; 4] = [KEYS_PART, CLINICAL_PART, IDENTITY_PART, MANIFEST];
/// The backup format this build writes and reads.
pub const FORMAT: u32 = 1;
/// Small members are read into memory; anything larger is not ours.
const SMALL_LIMIT: u64 = 64 * 1024;

/// `manifest.json`. Holds no name, key or clinical text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub app_version: String,
    pub vault_id: String,
    /// The device that made the backup.
    pub device_id: String,
    /// How the vault kept its keys; a restore keeps them the same way.
    pub key_store: KeyStoreKind,
    pub schema: SchemaVersions,
    pub counts: Counts,
    /// SHA-256 (hex) and size of each encrypted part, by member name.
    #[serde(default)]
    pub parts: BTreeMap<String, PartDigest>,
    /// HMAC-SHA256 over everything above, keyed from the clinical store key: a manifest
    /// changed in any way (even only its date) is refused by anyone holding the keys.
    #[serde(default)]
    pub mac: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaVersions {
    pub clinical: i64,
    pub identity: i64,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    pub clients: i64,
    pub session_notes: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PartDigest {
    pub sha256: String,
    pub size: u64,
}

/// The manifest's authentication code: HMAC-SHA256 of its JSON form (with `mac` empty) under
/// a key derived from the clinical store key for this one purpose.
pub fn manifest_mac(m: &Manifest, clinical: &StoreKey) -> String {
    use crate::keys::hmac_sha256;
    let mut unsigned = m.clone();
    unsigned.mac = String::new();
    let bytes = serde_json::to_vec(&unsigned).unwrap_or_default();
    let key = hmac_sha256(clinical.as_bytes(), b"casebook backup manifest v1");
    hex::encode(hmac_sha256(&key, &bytes))
}

fn damaged(what: impl std::fmt::Display) -> CoreError {
    CoreError::BackupInvalid(what.to_string())
}

/// The digest of a small part held in memory.
fn digest_of(bytes: &[u8]) -> PartDigest {
    PartDigest {
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

/// SHA-256 on a second thread. Hashing ~100 MB costs about as much as encrypting it, and a
/// backup runs on a machine with at least two cores: the bytes are handed over in the chunks
/// they pass in (age's 64 kB), so the copy and the hashing overlap. Hashes in place when no
/// thread can be started.
enum Hasher {
    Thread {
        chunks: SyncSender<Vec<u8>>,
        /// Bytes not yet handed over (small reads are gathered into one chunk).
        pending: Vec<u8>,
        done: JoinHandle<Sha256>,
    },
    Inline(Sha256),
    /// The thread stopped early (it cannot, short of a panic): the digest would be wrong.
    Lost,
}

/// How many bytes the hashing thread is handed at a time.
const HASH_CHUNK: usize = 64 * 1024;

impl Hasher {
    fn new() -> Self {
        let (chunks, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(32);
        let spawned = std::thread::Builder::new()
            .name("backup-sha256".into())
            .spawn(move || {
                let mut h = Sha256::new();
                for chunk in rx {
                    h.update(&chunk);
                }
                h
            });
        match spawned {
            Ok(done) => Hasher::Thread {
                chunks,
                pending: Vec::with_capacity(HASH_CHUNK),
                done,
            },
            Err(_) => Hasher::Inline(Sha256::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Thread {
                chunks, pending, ..
            } => {
                pending.extend_from_slice(bytes);
                if pending.len() >= HASH_CHUNK {
                    let full = std::mem::replace(pending, Vec::with_capacity(HASH_CHUNK));
                    if chunks.send(full).is_err() {
                        *self = Hasher::Lost;
                    }
                }
            }
            Hasher::Inline(h) => h.update(bytes),
            Hasher::Lost => {}
        }
    }

    fn finish(self) -> io::Result<String> {
        let lost = || io::Error::other("the backup's hashing thread stopped");
        let h = match self {
            Hasher::Thread {
                chunks,
                pending,
                done,
            } => {
                let sent = pending.is_empty() || chunks.send(pending).is_ok();
                drop(chunks);
                let h = done.join().map_err(|_| lost())?;
                if !sent {
                    return Err(lost());
                }
                h
            }
            Hasher::Inline(h) => h,
            Hasher::Lost => return Err(lost()),
        };
        Ok(hex::encode(h.finalize()))
    }
}

/// Counts bytes and hashes them as they pass.
struct Hashing<W> {
    inner: W,
    hasher: Hasher,
    size: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Hasher::new(),
            size: 0,
        }
    }
    fn digest(self) -> io::Result<(W, PartDigest)> {
        let d = PartDigest {
            sha256: self.hasher.finish()?,
            size: self.size,
        };
        Ok((self.inner, d))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// How much of a store is read at a time.
const CHUNK: usize = 1 << 20;

/// A file being written that asks the kernel to start writing each few megabytes to disk as
/// soon as they are written (Linux `sync_file_range`), so the `fsync` that makes a backup
/// durable finds little left to do: on this project's test machine it took ~40 ms for 93 MB
/// after a plain write, ~3 ms after this. Elsewhere it is the file as it is.
struct EarlyWriteback {
    file: File,
    /// Where the next write lands, and where the part not yet handed to the kernel begins.
    pos: u64,
    started: u64,
}

/// How much is written before it is handed to the kernel's writeback.
const WRITEBACK_STEP: u64 = 8 << 20;

impl EarlyWriteback {
    fn new(file: File) -> Self {
        EarlyWriteback {
            file,
            pos: 0,
            started: 0,
        }
    }

    #[cfg(target_os = "linux")]
    fn start_writeback(&mut self) {
        use std::os::fd::AsRawFd;
        if self.pos < self.started + WRITEBACK_STEP {
            return;
        }
        let (from, len) = (self.started as i64, (self.pos - self.started) as i64);
        // SAFETY: a plain system call on a descriptor this struct owns; it only starts
        // writeback of pages already written, and its failure changes nothing (the final
        // fsync still writes everything), so its result is ignored.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                from,
                len,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.started = self.pos;
    }

    #[cfg(not(target_os = "linux"))]
    fn start_writeback(&mut self) {}
}

impl Write for EarlyWriteback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.pos += n as u64;
        self.start_writeback();
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for EarlyWriteback {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        // tar seeks back only to rewrite a header it has already written, then forward to
        // the end. The window restarts at the rewritten header, so the next step asks again
        // for pages already on their way to disk, which costs nothing.
        self.pos = self.file.seek(to)?;
        self.started = self.started.min(self.pos);
        Ok(self.pos)
    }
}

/// Builds a backup file member by member.
pub(crate) struct ArchiveWriter {
    builder: tar::Builder<EarlyWriteback>,
    parts: BTreeMap<String, PartDigest>,
    mtime: u64,
    next: usize,
}

impl ArchiveWriter {
    pub fn new(file: File, mtime: u64) -> Self {
        let mut builder = tar::Builder::new(EarlyWriteback::new(file));
        builder.mode(tar::HeaderMode::Deterministic);
        ArchiveWriter {
            builder,
            parts: BTreeMap::new(),
            mtime,
            next: 0,
        }
    }

    fn header(&mut self, name: &str, size: u64) -> tar::Header {
        debug_assert_eq!(ORDER.get(self.next), Some(&name));
        self.next += 1;
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_mtime(self.mtime);
        h.set_size(size);
        h
    }

    /// The keys part, as given (already sealed).
    pub fn add_keys(&mut self, sealed: &[u8]) -> io::Result<()> {
        let mut h = self.header(KEYS_PART, sealed.len() as u64);
        self.parts.insert(KEYS_PART.into(), digest_of(sealed));
        self.builder.append_data(&mut h, KEYS_PART, sealed)
    }

    /// A store snapshot, encrypted to `to` as it streams into the archive.
    pub fn add_encrypted(
        &mut self,
        name: &'static str,
        to: &BackupIdentity,
        src: &mut dyn Read,
    ) -> Result<()> {
        let mut h = self.header(name, 0);
        let recipient = to.recipient()?;
        let io_err = |e: io::Error| CoreError::Crypto(format!("writing {name}: {e}"));
        let entry = self.builder.append_writer(&mut h, name).map_err(io_err)?;
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| CoreError::Crypto(e.to_string()))?;
        let mut stream = encryptor.wrap_output(Hashing::new(entry)).map_err(io_err)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = src.read(&mut buf).map_err(io_err)?;
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).map_err(io_err)?;
        }
        let (entry, digest) = stream.finish().map_err(io_err)?.digest().map_err(io_err)?;
        entry.finish().map_err(io_err)?;
        self.parts.insert(name.into(), digest);
        Ok(())
    }

    /// The digests of the parts written so far.
    pub fn parts(&self) -> &BTreeMap<String, PartDigest> {
        &self.parts
    }

    /// Appends the manifest (digests and code already filled in) and ends the archive.
    pub fn finish(mut self, manifest: Manifest) -> Result<File> {
        let json = serde_json::to_vec_pretty(&manifest).map_err(damaged)?;
        let mut h = self.header(MANIFEST, json.len() as u64);
        let io_err = |e: io::Error| CoreError::Crypto(format!("writing the manifest: {e}"));
        self.builder
            .append_data(&mut h, MANIFEST, json.as_slice())
            .map_err(io_err)?;
        Ok(self.builder.into_inner().map_err(io_err)?.file)
    }
}

/// How the keys of a backup are obtained while reading it.
pub(crate) enum KeySource<'a> {
    /// The open vault's own keys (verify on the machine that made it).
    Vault(&'a VaultKeys),
    /// The recovery key: `keys.age` is opened with it (restore on a new machine).
    Recovery(&'a crate::recovery::RecoveryKey),
}

/// A backup file read through, its parts decrypted into `work_dir` as `clinical.db` and
/// `identity.db` (still SQLCipher-encrypted with the store keys).
pub(crate) struct Unpacked {
    pub manifest: Manifest,
    pub keys: VaultKeys,
    /// The sealed keys part, to become the restored vault's `recovery.age`.
    pub sealed_keys: Vec<u8>,
}

/// Reads and checks the archive layout and the part digests, decrypting the two store parts
/// into `work_dir`. Does not open the databases (see the caller for those checks).
pub(crate) fn unpack(
    path: &Path,
    keys: KeySource<'_>,
    work_dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Unpacked> {
    let file = File::open(path).map_err(CoreError::io(path))?;
    let total = file.metadata().map_err(CoreError::io(path))?.len();
    if total % 512 != 0 || total < 512 * 6 {
        return Err(damaged(
            "the file is not a whole backup (truncated, or not a Casebook backup)",
        ));
    }
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries()
        .map_err(|e| damaged(format!("not a readable tar archive: {e}")))?;
    let mut computed: BTreeMap<String, PartDigest> = BTreeMap::new();
    let mut spans: Vec<(u64, u64)> = Vec::new();
    let mut sealed_keys = Vec::new();
    let mut vault_keys: Option<VaultKeys> = None;
    let mut manifest_bytes = Vec::new();
    let mut done = 0u64;

    let mut n = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("a tar header is damaged: {e}")))?;
        let Some(&expected) = ORDER.get(n) else {
            return Err(damaged("the archive holds more members than a backup has"));
        };
        n += 1;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name != expected || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(damaged(format!(
                "expected member {expected} but found another"
            )));
        }
        let size = entry.size();
        let data_at = entry.raw_file_position();
        spans.push((entry.raw_header_position(), data_at + size));
        match expected {
            KEYS_PART | MANIFEST => {
                if size > SMALL_LIMIT {
                    return Err(damaged(format!("{expected} is too large")));
                }
                let mut buf = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut buf)
                    .map_err(|e| damaged(format!("{expected} cannot be read: {e}")))?;
                if expected == KEYS_PART {
                    computed.insert(KEYS_PART.into(), digest_of(&buf));
                    vault_keys = Some(match &keys {
                        KeySource::Vault(k) => (*k).clone(),
                        KeySource::Recovery(rk) => open_sealed_keys(rk, &buf)?,
                    });
                    sealed_keys = buf;
                } else {
                    manifest_bytes = buf;
                }
            }
            _ => {
                let Some(k) = vault_keys.as_ref() else {
                    return Err(damaged("keys.age is missing"));
                };
                let (identities, db) = if expected == CLINICAL_PART {
                    (k.clinical_all(), crate::db::CLINICAL_DB)
                } else {
                    (k.identity_all(), crate::db::IDENTITY_DB)
                };
                let digest = decrypt_part(
                    expected,
                    &mut entry,
                    &identities,
                    &work_dir.join(db),
                    &mut |n| progress(done + n, total),
                )?;
                done += digest.size;
                computed.insert(expected.into(), digest);
            }
        }
    }
    if n != ORDER.len() {
        return Err(damaged(format!(
            "{} is missing (the file is truncated or not a backup)",
            ORDER[n.min(ORDER.len() - 1)]
        )));
    }
    drop(archive);
    check_padding(path, &spans, total)?;

    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| damaged(format!("manifest.json is not valid: {e}")))?;
    if manifest.format > FORMAT {
        return Err(damaged(format!(
            "made by a newer Casebook (backup format {}): update Casebook to read it",
            manifest.format
        )));
    }
    let keys = vault_keys.ok_or_else(|| damaged("keys.age is missing"))?;
    let expected_mac = manifest_mac(&manifest, &keys.clinical);
    if !constant_time_eq(expected_mac.as_bytes(), manifest.mac.as_bytes()) {
        return Err(damaged(
            "manifest.json was altered (its authentication code does not match)",
        ));
    }
    if manifest.parts != computed {
        let wrong = ORDER[..3]
            .iter()
            .find(|p| manifest.parts.get(**p) != computed.get(**p))
            .unwrap_or(&MANIFEST);
        return Err(damaged(format!(
            "{wrong} does not match the digest in the manifest"
        )));
    }
    Ok(Unpacked {
        manifest,
        keys,
        sealed_keys,
    })
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn open_sealed_keys(
    rk: &crate::recovery::RecoveryKey,
    sealed: &[u8],
) -> Result<VaultKeys> {
    match crate::sealed::open(rk.as_str(), sealed) {
        Ok(plain) => VaultKeys::from_json(&plain),
        Err(crate::sealed::OpenError::WrongPassphrase) => Err(CoreError::WrongRecoveryKey),
        Err(crate::sealed::OpenError::Damaged) => Err(damaged("keys.age is damaged")),
        Err(crate::sealed::OpenError::ExcessiveWork) => Err(damaged(
            "keys.age asks for more key-derivation work than Casebook ever writes",
        )),
    }
}

/// Decrypts one part into `out`, hashing the encrypted bytes on the way.
fn decrypt_part(
    name: &str,
    entry: &mut dyn Read,
    identities: &[&BackupIdentity],
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<PartDigest> {
    let mut hashing = Hashing::new(entry);
    {
        let decryptor = age::Decryptor::new(&mut hashing)
            .map_err(|e| damaged(format!("{name} is not a readable age file: {e}")))?;
        // Every generation of this vault's keys: a part sealed before a re-keying still opens.
        let ids = identities
            .iter()
            .map(|i| i.identity())
            .collect::<Result<Vec<_>>>()?;
        let mut reader = decryptor
            .decrypt(ids.iter().map(|id| id as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => damaged(format!(
                    "{name} was not made for this vault's keys (a backup of another vault?)"
                )),
                other => damaged(format!("{name} cannot be decrypted: {other}")),
            })?;
        let mut f = private_file(out)?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut written = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| damaged(format!("{name} is damaged: {e}")))?;
            if n == 0 {
                break;
            }
            f.write_all(&buf[..n]).map_err(CoreError::io(out))?;
            written += n as u64;
            progress(written);
        }
        f.sync_all().map_err(CoreError::io(out))?;
    }
    // Anything after the end of the age stream is not ours.
    let extra = io::copy(&mut hashing, &mut io::sink()).map_err(damaged)?;
    if extra != 0 {
        return Err(damaged(format!("{name} has bytes after its end")));
    }
    Ok(hashing.digest().map_err(damaged)?.1)
}

/// A new file readable only by its owner.
pub(crate) fn private_file(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(CoreError::io(path))
}

/// Every byte that is neither a member's header nor its data must be zero padding, so that
/// not one byte of the file can change unnoticed.
fn check_padding(path: &Path, spans: &[(u64, u64)], total: u64) -> Result<()> {
    let mut file = File::open(path).map_err(CoreError::io(path))?;
    // The archive ends with the last member's padding and exactly two zero blocks.
    let last_end = spans.last().map(|s| s.1.div_ceil(512) * 512).unwrap_or(0);
    if total != last_end + 1024 {
        return Err(damaged(
            "the archive does not end where a backup ends (truncated or extended)",
        ));
    }
    let mut gaps = Vec::new();
    for (i, (_, end)) in spans.iter().enumerate() {
        let next = spans.get(i + 1).map(|s| s.0).unwrap_or(total);
        if next < *end {
            return Err(damaged("the archive's members overlap"));
        }
        gaps.push((*end, next));
    }
    // Headers are contiguous with the previous member's padding: the first starts at 0.
    if spans.first().map(|s| s.0) != Some(0) {
        return Err(damaged("the archive does not start with a backup member"));
    }
    let mut buf = [0u8; 4096];
    for (from, to) in gaps {
        // A header other than ours (e.g. an extension header) would be in a gap, and nonzero.
        if to - from > 512 * 64 {
            return Err(damaged(
                "the archive has unexpected content between members",
            ));
        }
        file.seek(SeekFrom::Start(from))
            .map_err(CoreError::io(path))?;
        let mut left = to - from;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            file.read_exact(&mut buf[..n])
                .map_err(CoreError::io(path))?;
            if buf[..n].iter().any(|b| *b != 0) {
                return Err(damaged("the archive has unexpected bytes between members"));
            }
            left -= n as u64;
        }
    }
    Ok(())
}

/// Reads only the manifest (for listing), skipping over the parts.
pub(crate) fn read_manifest(path: &Path) -> Result<Manifest> {
    let file = File::open(path).map_err(CoreError::io(path))?;
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| damaged(format!("not a readable tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("a tar header is damaged: {e}")))?;
        let is_manifest = entry
            .path()
            .map(|p| p.as_os_str() == MANIFEST)
            .unwrap_or(false);
        if is_manifest {
            if entry.size() > SMALL_LIMIT {
                return Err(damaged("manifest.json is too large"));
            }
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(damaged)?;
            return serde_json::from_slice(&buf)
                .map_err(|e| damaged(format!("manifest.json is not valid: {e}")));
        }
    }
    Err(damaged(
        "the file holds no manifest (truncated, or not a backup)",
    ))
}
