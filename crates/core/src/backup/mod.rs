//! Encrypted backups: create, verify, list, prune and restore.
//!
//! A backup is one standard tar file (see [`archive`]) holding a consistent snapshot of both
//! stores, each encrypted with age to that store's own backup identity, plus the keys sealed
//! to the recovery key. So a fresh machine needs only the backup file and the recovery key,
//! and the two-code separation holds inside backups too.
//!
//! * **Consistent while the app works.** A dedicated connection holds one read transaction
//!   across both stores while their files are streamed (see [`raw`]) through age into the
//!   archive, so the clinical and identity snapshots (with the audit chain head) belong to the
//!   same moment. Other readers carry on; a writer waits for the copy (about the time age
//!   takes to encrypt the stores, see docs/performance.md).
//! * **Never half-written.** The file is written as `.casebook-….tar.partial`, synced, then
//!   renamed; only complete `casebook-*.tar` files are listed.
//! * **Checked before trusted.** [`verify_file`] checks the layout, every digest, decrypts both
//!   parts into a private temporary folder, runs SQLite's and SQLCipher's integrity checks,
//!   verifies the audit chain, and checks the manifest's authentication code (keyed from the
//!   clinical store key). A restore does all of that before it writes the new vault.
//! * **Never over the current vault.** A restore builds the new vault in a hidden folder beside
//!   the target, then renames it into place: the target is either absent or a whole vault.

pub mod archive;
pub mod ledger;
pub mod policy;
mod raw;
pub mod schedule;
pub mod settings;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use serde::Serialize;

pub use archive::{Counts, Manifest, SchemaVersions};
pub use policy::{KeepPolicy, PrunePlan};
pub use schedule::Health;
pub use settings::{BackupSettings, BackupState, Verified};

use crate::audit::{self, Action};
use crate::db::{self, Mode};
use crate::error::{CoreError, Result};
use crate::keystore::{self, KeyStoreKind};
use crate::pins;
use crate::recovery::RecoveryKey;
use crate::vault::{self, Vault, VaultMeta};

/// Backup files are named `casebook-<UTC time>.tar`.
const PREFIX: &str = "casebook-";
const SUFFIX: &str = ".tar";

/// Where a long operation has got to, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Copying the stores (bytes of the copies so far, of the total).
    Snapshot { done: u64, total: u64 },
    /// Encrypting into the backup file.
    Encrypt { done: u64, total: u64 },
    /// Decrypting a backup file.
    Decrypt { done: u64, total: u64 },
    /// Running the integrity and audit checks.
    Check,
    /// Sending an off-site copy to the server (encrypted bytes sent so far, of the total).
    Upload { done: u64, total: u64 },
    /// Fetching an off-site copy from the server.
    Download { done: u64, total: u64 },
}

/// A backup just written.
#[derive(Serialize, Clone, Debug)]
pub struct CreatedBackup {
    pub path: PathBuf,
    pub size: u64,
    pub manifest: Manifest,
}

/// The result of a successful verification.
#[derive(Serialize, Clone, Debug)]
pub struct VerifyReport {
    pub path: PathBuf,
    pub size: u64,
    pub manifest: Manifest,
    pub audit_entries: i64,
}

/// One backup file in the destination folder.
#[derive(Serialize, Clone, Debug)]
pub struct Listing {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    /// `None` when the manifest cannot be read: the file is listed as damaged, never as good.
    pub manifest: Option<Manifest>,
    pub verified: Option<Verified>,
    /// Whether this vault's key authenticates the manifest (its date, counts and digests):
    /// `None` when listed without the keys ([`list`]), `Some(false)` for a manifest that was
    /// altered or written by someone else — its contents must not be believed.
    pub authentic: Option<bool>,
}

impl Listing {
    /// When the backup was made, as its manifest says; `None` for a damaged file or one
    /// whose manifest is known not to be authentic.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        if self.authentic == Some(false) {
            return None;
        }
        self.manifest
            .as_ref()
            .and_then(|m| DateTime::parse_from_rfc3339(&m.created_at).ok())
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The backup files in `dest` belonging to vault `vault_id` (or any vault, with `None`),
/// newest first. Damaged files are listed with no manifest.
pub fn list(dest: &Path, vault_id: Option<&str>, state: &BackupState) -> Result<Vec<Listing>> {
    let read = match std::fs::read_dir(dest) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CoreError::io(dest)(e)),
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(CoreError::io(dest))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(PREFIX) && name.ends_with(SUFFIX)) {
            continue;
        }
        let path = entry.path();
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let manifest = archive::read_manifest(&path).ok();
        if let (Some(want), Some(m)) = (vault_id, &manifest)
            && m.vault_id != want
        {
            continue;
        }
        out.push(Listing {
            verified: state.verified.get(&name).cloned(),
            name,
            path,
            size,
            manifest,
            authentic: None,
        });
    }
    out.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(out)
}

fn count(conn: &Connection, sql: &str) -> Result<i64> {
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

fn counts(clinical: &Connection) -> Result<Counts> {
    Ok(Counts {
        clients: count(clinical, "SELECT count(*) FROM clients WHERE deleted = 0")?,
        session_notes: count(
            clinical,
            "SELECT count(*) FROM session_notes WHERE deleted = 0",
        )?,
    })
}

/// A private working folder for snapshots and checks, removed when dropped.
pub(crate) fn work_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("casebook-backup-")
        .tempdir()
        .map_err(CoreError::io(std::env::temp_dir()))
}

impl Vault {
    /// Writes a backup into `dest` (created if needed). Audited; the outcome is recorded for
    /// the "last backup" status.
    pub fn backup_create(
        &mut self,
        dest: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<CreatedBackup> {
        let result = self.write_backup(dest, progress);
        let mut state = BackupState::load(&self.dir).unwrap_or_default();
        let now = Utc::now();
        match &result {
            Ok(made) => {
                state.last_success = Some(now);
                state.last_file = made
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                let name = state.last_file.clone().unwrap_or_default();
                let size = made.size;
                if !state.destinations.iter().any(|d| d == dest) {
                    state.destinations.push(dest.to_path_buf());
                }
                state.save(&self.dir)?;
                // The erasure list travels with the backups (best effort, like the ledger
                // written at each erasure; a restore refuses a damaged one).
                let _ = ledger::write_to(self, dest);
                self.act(Action::BackupCreate, |cx| {
                    cx.detail(format!("file={name} bytes={size}"));
                    Ok(())
                })?;
            }
            Err(e) => {
                state.last_failure = Some(now);
                state.last_error = Some(e.to_string());
                let _ = state.save(&self.dir);
                let word = e.kind().word();
                let _ = self.act(Action::BackupCreate, |cx| {
                    cx.detail(format!("failed: {word}"));
                    Ok(())
                });
            }
        }
        result
    }

    fn write_backup(
        &mut self,
        dest: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<CreatedBackup> {
        let sealed_keys = self.recovery_file_checked()?;
        self.write_backup_with(dest, &sealed_keys, progress)
    }

    /// The vault's `recovery.age`, if it is the file Casebook wrote. It becomes the backup's
    /// keys part, which a restore opens with the recovery key: any other file would make a
    /// backup nobody could restore.
    pub(crate) fn recovery_file_checked(&self) -> Result<Vec<u8>> {
        let path = self.dir.join(vault::RECOVERY_FILE);
        let sealed_keys = std::fs::read(&path).map_err(CoreError::io(&path))?;
        if pins::recovery_digest(&self.conn)?.as_deref() != Some(&pins::digest(&sealed_keys)) {
            return Err(CoreError::RecoveryFileChanged);
        }
        Ok(sealed_keys)
    }

    pub(crate) fn write_backup_with(
        &mut self,
        dest: &Path,
        sealed_keys: &[u8],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<CreatedBackup> {
        std::fs::create_dir_all(dest).map_err(CoreError::io(dest))?;
        sweep_partials(dest);
        let now = Utc::now();
        let name = format!("{PREFIX}{}{SUFFIX}", now.format("%Y-%m-%dT%H-%M-%S%.3fZ"));
        let final_path = dest.join(&name);
        let partial = dest.join(format!(".{name}.partial"));

        let mut src = db::open_pair(
            &self.dir,
            Some(&self.keys.clinical),
            Some(&self.keys.identity),
            Mode::Existing,
        )?;
        let result = (|| -> Result<(u64, Manifest)> {
            // One read transaction across both stores for the whole copy: no writer can commit
            // in between, so the two parts and the manifest describe the same moment.
            let tx = src.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
            let mut manifest = Manifest {
                format: archive::FORMAT,
                created_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
                app_version: env!("CARGO_PKG_VERSION").to_string(),
                vault_id: self.meta.vault_id.clone(),
                device_id: self.meta.device_id.clone(),
                key_store: self.meta.key_store,
                schema: SchemaVersions {
                    clinical: count(&tx, "PRAGMA main.user_version")?,
                    identity: count(&tx, "PRAGMA identity.user_version")?,
                },
                counts: counts(&tx)?,
                parts: Default::default(),
                mac: String::new(),
            };
            // Make sure the identity store's read lock is held before its file is read.
            count(&tx, "SELECT count(*) FROM identity.sqlite_master")?;
            let clinical = raw::RawStore::open(&tx, "main")?;
            let identity = raw::RawStore::open(&tx, "identity")?;
            let total = clinical.len() + identity.len();
            let file = archive::private_file(&partial)?;
            let mut w = archive::ArchiveWriter::new(file, now.timestamp().max(0) as u64);
            w.add_keys(sealed_keys).map_err(CoreError::io(&partial))?;
            let mut done = 0;
            for (part, store, to) in [
                (
                    archive::CLINICAL_PART,
                    clinical,
                    self.keys.clinical_sealing(),
                ),
                (
                    archive::IDENTITY_PART,
                    identity,
                    self.keys.identity_sealing(),
                ),
            ] {
                let size = store.len();
                let mut reader = Counting {
                    inner: store,
                    base: done,
                    total,
                    progress: &mut *progress,
                };
                w.add_encrypted(part, to, &mut reader)?;
                done += size;
            }
            drop(tx);
            manifest.parts = w.parts().clone();
            manifest.mac = archive::manifest_mac(&manifest, &self.keys.clinical);
            let file = w.finish(manifest.clone())?;
            file.sync_all().map_err(CoreError::io(&partial))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::rename(&partial, &final_path).map_err(CoreError::io(&final_path))?;
            sync_dir(dest);
            Ok((size, manifest))
        })();
        match result {
            Ok((size, manifest)) => Ok(CreatedBackup {
                manifest,
                path: final_path,
                size,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// Verifies a backup with this vault's own keys. Audited, and the result is remembered for
    /// `backup list` and the keep-policy.
    pub fn backup_verify(
        &mut self,
        file: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<VerifyReport> {
        let work = work_dir()?;
        let keys = self.keys.clone();
        let result = check(
            file,
            archive::KeySource::Vault(&keys),
            work.path(),
            progress,
        )
        .and_then(|(u, entries)| {
            if u.manifest.vault_id != self.meta.vault_id {
                return Err(CoreError::BackupInvalid(
                    "this backup belongs to another vault".into(),
                ));
            }
            Ok(report(file, u.manifest, entries))
        });
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut state = BackupState::load(&self.dir).unwrap_or_default();
        let mut outcome = Verified {
            at: Utc::now(),
            ok: result.is_ok(),
            problem: result.as_ref().err().map(|e| e.to_string()),
            mac: None,
        };
        outcome.mac = Some(verified_mac(&self.keys, &name, &outcome));
        state.verified.insert(name.clone(), outcome);
        let _ = state.save(&self.dir);
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("failed: {}", e.kind().word()),
        };
        self.act(Action::BackupVerify, |cx| {
            cx.detail(format!("file={name} {outcome}"));
            Ok(())
        })?;
        result
    }

    /// This vault's backups in `dest`, newest first, each manifest checked against the
    /// vault's key ([`Listing::authentic`]): a date or count shown from here can be believed.
    pub fn backup_list(&self, dest: &Path) -> Result<Vec<Listing>> {
        let state = BackupState::load(&self.dir)?;
        let mut listed = list(dest, Some(&self.meta.vault_id), &state)?;
        for l in &mut listed {
            // A verification result written by anyone but this vault counts as none.
            l.verified = l.verified.take().filter(|v| {
                let expected = verified_mac(&self.keys, &l.name, v);
                v.mac
                    .as_deref()
                    .is_some_and(|m| archive::constant_time_eq(m.as_bytes(), expected.as_bytes()))
            });
            l.authentic = l.manifest.as_ref().map(|m| {
                let expected = archive::manifest_mac(m, &self.keys.clinical);
                archive::constant_time_eq(expected.as_bytes(), m.mac.as_bytes())
            });
            // What an altered manifest says (its date, its counts) is not passed on at all.
            if l.authentic == Some(false) {
                l.manifest = None;
            }
        }
        Ok(listed)
    }

    /// Deletes the backups the keep-policy no longer wants (or, with `dry_run`, only says
    /// which). Damaged files and other vaults' backups are left alone. Audited.
    pub fn backup_prune(&mut self, dry_run: bool, now: DateTime<Utc>) -> Result<PrunePlan> {
        let settings = BackupSettings::load(&self.dir)?;
        let dest = settings.destination_for(&self.dir);
        let listed = self.backup_list(&dest)?;
        // Only backups whose manifest this vault's key authenticates take part: a manifest
        // anyone could have written (a rewritten date, say) must not steer what is deleted.
        let (authentic, unauthenticated): (Vec<&Listing>, Vec<&Listing>) =
            listed.iter().partition(|l| l.authentic == Some(true));
        let candidates: Vec<policy::Candidate> = authentic
            .iter()
            .filter_map(|l| {
                Some(policy::Candidate {
                    name: l.name.clone(),
                    created_at: l.created_at()?,
                    verified: l.verified.as_ref().is_some_and(|v| v.ok),
                })
            })
            .collect();
        let mut plan = policy::plan(&settings.keep, &candidates, now);
        for l in &unauthenticated {
            plan.keep.push((
                l.name.clone(),
                "manifest not authenticated: kept, check it with backup verify",
            ));
        }
        if !dry_run {
            for name in &plan.delete {
                let path = dest.join(name);
                std::fs::remove_file(&path).map_err(CoreError::io(&path))?;
            }
            sync_dir(&dest);
        }
        let (kept, deleted) = (plan.keep.len(), plan.delete.len());
        self.act(Action::BackupPrune, |cx| {
            cx.detail(format!(
                "{} kept={kept} deleted={deleted}",
                if dry_run { "dry-run" } else { "applied" }
            ));
            Ok(())
        })?;
        Ok(plan)
    }

    /// Saves new backup settings. Audited.
    pub fn backup_settings_set(&mut self, settings: &BackupSettings) -> Result<()> {
        settings.save(&self.dir)?;
        let every = settings.every_hours;
        self.act(Action::BackupSettings, |cx| {
            cx.detail(format!("every_hours={every}"));
            Ok(())
        })
    }
}

/// The authentication code of one verification result (see [`Verified::mac`]).
pub(crate) fn verified_mac(keys: &crate::keys::VaultKeys, name: &str, v: &Verified) -> String {
    use crate::keys::hmac_sha256;
    let key = hmac_sha256(keys.clinical.as_bytes(), b"casebook backup verification v1");
    let data = serde_json::to_vec(&(name, v.at, v.ok)).unwrap_or_default();
    hex::encode(hmac_sha256(&key, &data))
}

fn report(file: &Path, manifest: Manifest, audit_entries: i64) -> VerifyReport {
    VerifyReport {
        path: file.to_path_buf(),
        size: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        manifest,
        audit_entries,
    }
}

/// Verifies a backup with the recovery key alone (a fresh machine with no vault).
pub fn verify_with_recovery_key(
    file: &Path,
    recovery_key: &RecoveryKey,
    progress: &mut dyn FnMut(Progress),
) -> Result<VerifyReport> {
    let work = work_dir()?;
    let (u, entries) = check(
        file,
        archive::KeySource::Recovery(recovery_key),
        work.path(),
        progress,
    )?;
    Ok(report(file, u.manifest, entries))
}

/// Unpacks `file` into `work` and runs every check on the result. Returns the unpacked backup
/// and the number of audit entries.
pub(crate) fn check(
    file: &Path,
    keys: archive::KeySource<'_>,
    work: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(archive::Unpacked, i64)> {
    let u = archive::unpack(file, keys, work, &mut |done, total| {
        progress(Progress::Decrypt { done, total })
    })?;
    progress(Progress::Check);
    let bad = |what: String| CoreError::BackupInvalid(what);
    let conn = db::open_pair(
        work,
        Some(&u.keys.clinical),
        Some(&u.keys.identity),
        Mode::Existing,
    )
    .map_err(|e| match e {
        CoreError::KeysDoNotOpenVault => {
            bad("the keys in the backup do not open its stores".into())
        }
        other => bad(format!("a store in the backup cannot be opened: {other}")),
    })?;
    for schema in ["main", "identity"] {
        let result: String = conn
            .query_row(&format!("PRAGMA {schema}.integrity_check(1)"), [], |r| {
                r.get(0)
            })
            .map_err(|e| bad(format!("the integrity check could not run: {e}")))?;
        if result != "ok" {
            return Err(bad(format!(
                "the {schema} store fails SQLite's integrity check"
            )));
        }
    }
    // SQLCipher's page-level HMAC check: one row per damaged page, none when sound.
    for schema in ["main", "identity"] {
        let mut stmt = conn.prepare(&format!("PRAGMA {schema}.cipher_integrity_check"))?;
        let mut rows = stmt.query([])?;
        if rows.next()?.is_some() {
            return Err(bad(format!(
                "the {schema} store fails SQLCipher's integrity check"
            )));
        }
    }
    let verification = audit::verify(&conn).map_err(|e| {
        bad(format!(
            "the audit chain in the backup does not verify: {e}"
        ))
    })?;
    if !audit::head_matches(&conn)? {
        return Err(bad(
            "the audit chain in the backup does not end at its head".into(),
        ));
    }
    let actual = counts(&conn)?;
    if actual != u.manifest.counts {
        return Err(bad(
            "the counts in manifest.json do not match the stores".into()
        ));
    }
    let schema = SchemaVersions {
        clinical: count(&conn, "PRAGMA main.user_version")?,
        identity: count(&conn, "PRAGMA identity.user_version")?,
    };
    if schema != u.manifest.schema {
        return Err(bad(
            "the schema versions in manifest.json do not match the stores".into(),
        ));
    }
    crate::schema::check_not_newer(&conn)?;
    // The keys part must be the recovery file the backed-up vault itself knew (its digest is
    // pinned inside the clinical store, which only the vault's key can write): otherwise the
    // real recovery key could not restore this backup. Backups made before pins have none.
    if let Some(pinned) = pins::recovery_digest(&conn)?
        && pinned != pins::digest(&u.sealed_keys)
    {
        return Err(bad(
            "its keys part is not the recovery file this vault wrote: the recovery key could not restore it".into(),
        ));
    }
    Ok((u, verification.entries))
}

/// A reader that reports bytes read.
struct Counting<'a, R> {
    inner: R,
    base: u64,
    total: u64,
    progress: &'a mut dyn FnMut(Progress),
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.base += n as u64;
        (self.progress)(Progress::Encrypt {
            done: self.base,
            total: self.total,
        });
        Ok(n)
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes half-written backups left by a crash (older than an hour, so that one still being
/// written by another process is left alone). They were never listed.
fn sweep_partials(dest: &Path) {
    let Ok(read) = std::fs::read_dir(dest) else {
        return;
    };
    let prefix = format!(".{PREFIX}");
    for e in read.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if name.starts_with(&prefix) && name.ends_with(".partial") && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A restored vault and what it was restored from.
pub struct Restored {
    pub vault: Vault,
    pub manifest: Manifest,
}

/// Reads a backup file as `list` and `verify` do (manifest; layout, parts and digests), for
/// the fuzz target. `Err` for anything but a sound backup made with `keys`.
#[doc(hidden)]
pub fn probe_file(file: &Path, keys: &crate::keys::VaultKeys) -> Result<()> {
    let _ = archive::read_manifest(file);
    let work = work_dir()?;
    archive::unpack(
        file,
        archive::KeySource::Vault(keys),
        work.path(),
        &mut |_, _| {},
    )?;
    Ok(())
}

/// Reads only the manifest of a backup (to learn, before asking for secrets, how its keys
/// were kept). Not a check: [`restore`] checks everything.
pub fn peek(file: &Path) -> Result<Manifest> {
    archive::read_manifest(file)
}

/// Restores `file` into `into`, which must not exist or be an empty folder. Everything is
/// verified before the new vault is put in place; the keys are kept in the same kind of key
/// store as the backed-up vault (`passphrase` is needed for a passphrase key store).
pub fn restore(
    file: &Path,
    recovery_key: &RecoveryKey,
    into: &Path,
    passphrase: Option<&str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Restored> {
    restore_with(file, Some(recovery_key), into, passphrase, None, progress)
}

/// What a restore from the server brings besides the backup file.
pub(crate) struct FromServer<'a> {
    /// The vault's keys, already opened with this recovery key from these sealed bytes (the
    /// server's copy of `recovery.age`): the backup's keys part must be those very bytes,
    /// and the slow key derivation is not run twice. `None` to open the keys part itself.
    pub opened: Option<(&'a crate::keys::VaultKeys, &'a [u8])>,
    /// The server's erasure list (already checked against the backup's index).
    pub erasures: Vec<crate::records::erasure::ErasureRecord>,
    /// The manifest the backup's authenticated index promised: the file must hold it.
    pub manifest: &'a Manifest,
}

/// [`restore`], from a file fetched from the server (`from`) or beside its own erasure
/// list (`None`). Every check happens before anything is put in place.
pub(crate) fn restore_with(
    file: &Path,
    recovery_key: Option<&RecoveryKey>,
    into: &Path,
    passphrase: Option<&str>,
    from: Option<FromServer<'_>>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Restored> {
    let opened = from.as_ref().and_then(|f| f.opened);
    if into.exists() {
        let empty = std::fs::read_dir(into)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(CoreError::VaultExists(into.to_path_buf()));
        }
    }
    let name = into
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            CoreError::invalid("restore into a named folder, e.g. --into ~/casebook-restored")
        })?;
    let parent = into
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&parent).map_err(CoreError::io(&parent))?;
    sweep_staging(&parent, &name);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.restoring-"))
        .tempdir_in(&parent)
        .map_err(CoreError::io(&parent))?;

    let keys = match (opened, recovery_key) {
        (Some((keys, _)), _) => archive::KeySource::Vault(keys),
        (None, Some(recovery_key)) => archive::KeySource::Recovery(recovery_key),
        (None, None) => {
            return Err(CoreError::invalid(
                "a restore needs the recovery key or the vault's keys",
            ));
        }
    };
    let (mut u, _) = check(file, keys, staging.path(), progress)?;
    if let Some((keys, sealed)) = opened
        && u.sealed_keys != sealed
    {
        // A backup made before a re-keying carries the sealed keys that re-keying replaced:
        // still this vault's. The restored copy takes the newest keys.
        if !keys.replaced(&u.sealed_keys) {
            return Err(CoreError::BackupInvalid(
                "its keys part is not the sealed keys the recovery key opened".into(),
            ));
        }
        u.sealed_keys = sealed.to_vec();
        u.keys = keys.clone();
    }
    if let Some(f) = &from
        && &u.manifest != f.manifest
    {
        return Err(CoreError::BackupInvalid(
            "the backup inside does not match its index".into(),
        ));
    }
    let mut key_store = u.manifest.key_store;
    if key_store == KeyStoreKind::Passphrase && passphrase.is_none() {
        return Err(CoreError::PassphraseRequired);
    }
    // Keys first: if they cannot be kept, nothing is put in place.
    if key_store == KeyStoreKind::OsKeychain {
        match keystore::keychain_save(&u.manifest.vault_id, &u.keys) {
            Ok(()) => {}
            // No keychain on this machine: a passphrase, if one was given, keeps them instead.
            Err(CoreError::KeychainUnavailable(_)) if passphrase.is_some() => {
                key_store = KeyStoreKind::Passphrase;
            }
            Err(e) => return Err(e),
        }
    }
    if key_store == KeyStoreKind::Passphrase {
        keystore::passphrase_save(staging.path(), passphrase.unwrap_or_default(), &u.keys)?;
    }
    let meta = VaultMeta {
        format: vault::FORMAT,
        vault_id: u.manifest.vault_id.clone(),
        // A restored vault is a new device of the same vault.
        device_id: uuid::Uuid::new_v4().to_string(),
        key_store,
        created_at: vault::timestamp(Utc::now()),
    };
    vault::write_restored(staging.path(), &meta, &u.keys, &u.sealed_keys)?;
    // Erasures made after this backup are made again before the vault is put in place.
    let erasures = match from {
        Some(f) => f.erasures,
        None => file
            .parent()
            .map(|dir| ledger::read(dir, &u.manifest.vault_id, &u.keys))
            .transpose()?
            .unwrap_or_default(),
    };
    let mut reapplied = 0;
    if !erasures.is_empty() {
        let mut staged_vault = Vault::open(
            staging.path(),
            passphrase.filter(|_| key_store == KeyStoreKind::Passphrase),
        )?;
        // Each record is applied: a client the backup still holds is erased again; a
        // record the backup lacks is added, so the restored vault knows every erasure.
        for record in &erasures {
            if staged_vault.apply_erasure(record)? {
                reapplied += 1;
            }
        }
    }
    sync_dir(staging.path());
    // The switch: the target is either absent or a whole vault.
    let staged = staging.keep();
    if into.exists() {
        let _ = std::fs::remove_dir(into);
    }
    if let Err(e) = std::fs::rename(&staged, into) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(CoreError::io(into)(e));
    }
    sync_dir(&parent);
    let mut vault = Vault::open(
        into,
        passphrase.filter(|_| key_store == KeyStoreKind::Passphrase),
    )?;
    let created = u.manifest.created_at.clone();
    let from_device = u.manifest.device_id.clone();
    vault.act(Action::BackupRestore, |cx| {
        cx.detail(format!(
            "backup_created={created} from_device={from_device} erasures_reapplied={reapplied}"
        ));
        Ok(())
    })?;
    Ok(Restored {
        vault,
        manifest: u.manifest,
    })
}

/// Removes staging folders left by restores that were killed part-way.
fn sweep_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}.restoring-");
    if let Ok(read) = std::fs::read_dir(parent) {
        for e in read.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSPHRASE: &str = "correct horse battery staple";

    /// Someone who can write to the vault folder swaps `recovery.age` (here for another
    /// vault's). No backup is made from it — a backup the recovery key could not restore
    /// would be counted as good and in time replace the good ones — and a backup that
    /// carries such a file (as an older Casebook would have made) fails verification.
    #[test]
    fn a_replaced_recovery_file_makes_no_backup_and_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, dest) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("dest"),
        );
        let mut vault = Vault::init(&a, Some(PASSPHRASE)).unwrap().vault;
        drop(Vault::init(&b, Some(PASSPHRASE)).unwrap());
        let good = vault.backup_create(&dest, &mut |_| {}).unwrap();
        assert!(vault.backup_verify(&good.path, &mut |_| {}).is_ok());

        let foreign = std::fs::read(b.join(vault::RECOVERY_FILE)).unwrap();
        std::fs::write(a.join(vault::RECOVERY_FILE), &foreign).unwrap();
        let e = vault.backup_create(&dest, &mut |_| {}).unwrap_err();
        assert!(matches!(e, CoreError::RecoveryFileChanged), "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::Integrity);
        let names: Vec<_> = std::fs::read_dir(&dest)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().ends_with(SUFFIX))
            .collect();
        assert_eq!(names.len(), 1, "no second backup: {names:?}");

        // A backup carrying the foreign keys part (made without this check) is refused.
        let bad = vault
            .write_backup_with(&dest, &foreign, &mut |_| {})
            .unwrap();
        let e = vault.backup_verify(&bad.path, &mut |_| {}).unwrap_err();
        assert!(
            e.to_string().contains("recovery key could not restore it"),
            "{e}"
        );
        let state = BackupState::load(&a).unwrap();
        let name = bad.path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !state.verified[&name].ok,
            "not counted as verified by the keep-policy"
        );
    }

    /// `backup-state.json` is plain text: a "verified OK" written into it by someone else is
    /// not believed, so it cannot make the keep-policy keep a bad backup as the newest
    /// verified one and prune the good ones.
    #[test]
    fn a_forged_verification_result_is_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        let (a, dest) = (dir.path().join("a"), dir.path().join("dest"));
        let mut vault = Vault::init(&a, Some(PASSPHRASE)).unwrap().vault;
        let good = vault.backup_create(&dest, &mut |_| {}).unwrap();
        vault.backup_verify(&good.path, &mut |_| {}).unwrap();
        let other = vault.backup_create(&dest, &mut |_| {}).unwrap();
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();

        let mut state = BackupState::load(&a).unwrap();
        let genuine = state.verified[&name(&good.path)].clone();
        state.verified.insert(
            name(&other.path),
            Verified {
                at: Utc::now(),
                ok: true,
                problem: None,
                mac: None,
            },
        );
        state.save(&a).unwrap();
        let listed = vault.backup_list(&dest).unwrap();
        let seen = |n: &str| {
            listed
                .iter()
                .find(|l| l.name == n)
                .unwrap()
                .verified
                .clone()
        };
        assert_eq!(
            seen(&name(&good.path)),
            Some(genuine.clone()),
            "its own result counts"
        );
        assert_eq!(seen(&name(&other.path)), None, "the forged one does not");

        // Nor can a genuine result be moved onto another file.
        state.verified.insert(name(&other.path), genuine);
        state.save(&a).unwrap();
        let listed = vault.backup_list(&dest).unwrap();
        assert!(
            listed
                .iter()
                .find(|l| l.name == name(&other.path))
                .unwrap()
                .verified
                .is_none()
        );
    }

    /// A restored copy is a new device, pinned afresh: its own backups are made and verify.
    #[test]
    fn a_restored_vault_is_pinned_as_a_new_device() {
        let dir = tempfile::tempdir().unwrap();
        let (a, dest, into) = (
            dir.path().join("a"),
            dir.path().join("dest"),
            dir.path().join("r"),
        );
        let created = Vault::init(&a, Some(PASSPHRASE)).unwrap();
        let mut vault = created.vault;
        let made = vault.backup_create(&dest, &mut |_| {}).unwrap();
        let restored = restore(
            &made.path,
            &created.recovery_key,
            &into,
            Some(PASSPHRASE),
            &mut |_| {},
        )
        .unwrap();
        let mut copy = restored.vault;
        assert_ne!(copy.meta().device_id, vault.meta().device_id);
        let again = copy
            .backup_create(&dir.path().join("dest2"), &mut |_| {})
            .unwrap();
        assert_eq!(again.manifest.device_id, copy.meta().device_id);
        assert!(copy.backup_verify(&again.path, &mut |_| {}).is_ok());
    }
}
