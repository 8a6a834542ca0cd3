//! The vault: a folder holding the two encrypted stores and the files that unlock them.
//!
//! ```text
//! vault/
//!   vault.json     plaintext: format, vault id, this device's id, which key store is used
//!   clinical.db    SQLCipher: codes, appointments, notes, measures, audit log
//!   identity.db    SQLCipher: code → name and contact details, audit chain head
//!   recovery.age   both store keys, sealed with the recovery key (age, scrypt)
//!   keys.age       both store keys, sealed with the passphrase (passphrase key store only)
//! ```
//!
//! [`Vault`] is an unlocked vault. Every public operation goes through [`Vault::act`],
//! which runs it in one transaction together with its audit entry, so an action and its
//! record in the audit trail are committed together or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Action, Target};
use crate::db::{self, Mode};
use crate::error::{CoreError, Result};
use crate::hlc::Hlc;
use crate::keys::{KeysDocument, VaultKeys};
use crate::keystore::{self, KeyStoreKind};
use crate::pins;
use crate::recovery::RecoveryKey;
use crate::schema;
use crate::sealed::{self, OpenError};

const META_FILE: &str = "vault.json";
pub(crate) const RECOVERY_FILE: &str = "recovery.age";
/// Failed unlocks cannot be written into a store we could not open; they wait here
/// (times and a reason word only) and enter the audit trail at the next unlock.
const FAILED_UNLOCKS_FILE: &str = "failed-unlocks.log";
pub(crate) const FORMAT: u32 = 1;

/// The plaintext description of a vault (`vault.json`). Holds no secret.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct VaultMeta {
    pub format: u32,
    pub vault_id: String,
    /// This installation's device id, stamped on every row and audit entry it writes.
    pub device_id: String,
    pub key_store: KeyStoreKind,
    pub created_at: String,
}

/// A freshly created vault and the recovery key to show the therapist once.
pub struct Created {
    pub vault: Vault,
    pub recovery_key: RecoveryKey,
}

/// An unlocked vault.
pub struct Vault {
    pub(crate) dir: PathBuf,
    pub(crate) meta: VaultMeta,
    pub(crate) keys: VaultKeys,
    pub(crate) conn: Connection,
    pub(crate) clock: Hlc,
    /// Audit entries for the unlock (and failed unlocks before it), written in the same
    /// transaction as the first action, so a command refused for bad input leaves no trace.
    pub(crate) pending: Vec<(Action, Target, DateTime<Utc>)>,
    /// The failed-unlock file to remove once its entries are committed.
    pub(crate) pending_file: Option<PathBuf>,
    /// Set when this unlock found the folder to be a copy of the vault folder at this path
    /// (which still holds the same vault and device): this copy became a computer of its own.
    pub(crate) copied_from: Option<PathBuf>,
}

/// What an action sees while it runs: the open transaction, a clock for row stamps,
/// and the audit target it fills in.
pub(crate) struct Ctx<'a> {
    pub tx: &'a Transaction<'a>,
    pub device_id: &'a str,
    pub now: DateTime<Utc>,
    clock: Hlc,
    pub target: Target,
    /// Further audit entries this action makes (e.g. each client an import creates),
    /// written before the action's own entry, in the same transaction.
    also: Vec<(Action, Target)>,
}

impl Ctx<'_> {
    /// A new HLC stamp for a row written now.
    pub fn stamp(&mut self) -> String {
        self.clock = self.clock.tick(self.now.timestamp_millis());
        self.clock.to_string()
    }

    /// The action's clock, for folding in stamps that came from other devices.
    pub fn clock_mut(&mut self) -> &mut Hlc {
        &mut self.clock
    }

    pub fn client(&mut self, code: &str) {
        self.target.client_code = Some(code.to_string());
    }
    pub fn object(&mut self, id: &str) {
        self.target.object_id = Some(id.to_string());
    }
    pub fn detail(&mut self, d: impl Into<String>) {
        self.target.detail = Some(d.into());
    }

    /// Records one more audited action inside this one (its target taken from the current
    /// target, which is then cleared for the next).
    pub fn also(&mut self, action: Action) {
        let target = std::mem::take(&mut self.target);
        self.also.push((action, target));
    }
}

pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn read_meta(dir: &Path) -> Result<VaultMeta> {
    let path = dir.join(META_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| CoreError::Corrupt(format!("{} is not valid: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.join(db::CLINICAL_DB).exists() || dir.join(db::IDENTITY_DB).exists() {
                Err(CoreError::IncompleteVault(dir.to_path_buf()))
            } else {
                Err(CoreError::VaultNotFound(dir.to_path_buf()))
            }
        }
        Err(e) => Err(CoreError::Io { path, source: e }),
    }
}

pub(crate) fn write_meta(dir: &Path, meta: &VaultMeta) -> Result<()> {
    let json = serde_json::to_vec_pretty(meta).map_err(|e| CoreError::Corrupt(e.to_string()))?;
    sealed::write_atomically(&dir.join(META_FILE), &json)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}
#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) {}

/// The plaintext files of a vault restored from a backup (the stores are already in `dir`),
/// and the store's pins for this new copy ([`pins`]).
pub(crate) fn write_restored(
    dir: &Path,
    meta: &VaultMeta,
    keys: &VaultKeys,
    sealed_keys: &[u8],
) -> Result<()> {
    restrict(dir, 0o700);
    restrict(&dir.join(db::CLINICAL_DB), 0o600);
    restrict(&dir.join(db::IDENTITY_DB), 0o600);
    let mut conn = db::open_pair(
        dir,
        Some(&keys.clinical),
        Some(&keys.identity),
        Mode::Existing,
    )?;
    // As the first unlock would (a backup from an older Casebook has no key ring yet).
    schema::migrate(&mut conn)?;
    pins::pin(&conn, dir, meta, sealed_keys)?;
    // Re-keyings the sealed keys hold that the restored stores do not (an older backup
    // opened with newer keys) are kept, so this copy seals to the newest keys.
    crate::key_ring::reconcile(&conn, &mut keys.clone())?;
    // A restored copy is a new computer: the sync bookkeeping it holds was the old one's.
    crate::sync_state::forget_other_computers_sync(&conn)?;
    drop(conn);
    sealed::write_atomically(&dir.join(RECOVERY_FILE), sealed_keys)?;
    write_meta(dir, meta)
}

/// Words recorded for a failed unlock (never the attempted secret).
fn failure_reason(e: &CoreError) -> Option<&'static str> {
    Some(match e {
        CoreError::WrongPassphrase => "wrong_passphrase",
        CoreError::KeysMissing => "keys_missing",
        CoreError::KeyFileCorrupt(_) => "key_file_damaged",
        CoreError::KeysDoNotOpenVault => "keys_do_not_open_vault",
        CoreError::WrongRecoveryKey => "wrong_recovery_key",
        _ => return None,
    })
}

fn note_failed_unlock(dir: &Path, e: &CoreError) {
    if let Some(reason) = failure_reason(e) {
        let path = dir.join(FAILED_UNLOCKS_FILE);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = writeln!(f, "{}\t{reason}", timestamp(Utc::now()));
            let _ = f.sync_all();
            restrict(&path, 0o600);
        }
    }
}

impl Vault {
    /// The default vault folder: the OS data dir (e.g. `~/.local/share/casebook`).
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "casebook").map(|d| d.data_dir().to_path_buf())
    }

    /// Reads `vault.json` without unlocking: tells whether a vault exists and which key store it uses.
    pub fn peek(dir: &Path) -> Result<VaultMeta> {
        read_meta(dir)
    }

    /// Creates a new vault in `dir`. With a passphrase the keys go in a passphrase key file;
    /// without one, in the OS keychain (failing with [`CoreError::KeychainUnavailable`] if
    /// none is reachable, before anything is written).
    pub fn init(dir: &Path, passphrase: Option<&str>) -> Result<Created> {
        let mut created = Self::init_empty(dir, passphrase)?;
        let kind = created.vault.meta.key_store;
        created.vault.act(Action::VaultInit, |cx| {
            cx.detail(format!("key_store={}", kind_word(kind)));
            Ok(())
        })?;
        Ok(created)
    }

    /// A new vault with nothing in its audit trail yet (for [`Vault::init`], and for an
    /// import, which brings its own trail).
    pub(crate) fn init_empty(dir: &Path, passphrase: Option<&str>) -> Result<Created> {
        match read_meta(dir) {
            Ok(_) => return Err(CoreError::VaultExists(dir.to_path_buf())),
            Err(CoreError::VaultNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        if passphrase.is_some_and(str::is_empty) {
            return Err(CoreError::invalid(
                "the passphrase is empty: choose one you will remember",
            ));
        }
        let meta = VaultMeta {
            format: FORMAT,
            vault_id: uuid::Uuid::new_v4().to_string(),
            device_id: uuid::Uuid::new_v4().to_string(),
            key_store: if passphrase.is_some() {
                KeyStoreKind::Passphrase
            } else {
                KeyStoreKind::OsKeychain
            },
            created_at: timestamp(Utc::now()),
        };
        let keys = VaultKeys::generate();
        let recovery_key = RecoveryKey::generate();
        // The keychain first: if it is unreachable, nothing has been written yet.
        if passphrase.is_none() {
            keystore::keychain_save(&meta.vault_id, &keys)?;
        }
        let written = Self::write_new_vault(dir, &meta, &keys, &recovery_key, passphrase);
        let conn = match written {
            Ok(conn) => conn,
            Err(e) => {
                // Leave no keychain entries behind for a vault that was never finished.
                if passphrase.is_none() {
                    keystore::keychain_forget(&meta.vault_id);
                }
                return Err(e);
            }
        };
        let vault = Vault::from_parts(dir, meta, keys, conn, Hlc::default());
        Ok(Created {
            vault,
            recovery_key,
        })
    }

    /// The files of a new vault; `vault.json` last, so a vault without it is known to be unfinished.
    fn write_new_vault(
        dir: &Path,
        meta: &VaultMeta,
        keys: &VaultKeys,
        recovery_key: &RecoveryKey,
        passphrase: Option<&str>,
    ) -> Result<Connection> {
        std::fs::create_dir_all(dir).map_err(CoreError::io(dir))?;
        restrict(dir, 0o700);
        let mut conn = db::open_pair(
            dir,
            Some(&keys.clinical),
            Some(&keys.identity),
            Mode::Create,
        )?;
        restrict(&dir.join(db::CLINICAL_DB), 0o600);
        restrict(&dir.join(db::IDENTITY_DB), 0o600);
        schema::migrate(&mut conn)?;
        let sealed = sealed::seal(recovery_key.as_str(), &keys.to_json())?;
        pins::pin(&conn, dir, meta, &sealed)?;
        sealed::write_atomically(&dir.join(RECOVERY_FILE), &sealed)?;
        if let Some(p) = passphrase {
            keystore::passphrase_save(dir, p, keys)?;
        }
        write_meta(dir, meta)?;
        Ok(conn)
    }

    /// Unlocks the vault in `dir`. `passphrase` is needed only for a passphrase key store.
    /// A failed attempt is noted and enters the audit trail at the next successful unlock.
    pub fn open(dir: &Path, passphrase: Option<&str>) -> Result<Vault> {
        let meta = read_meta(dir)?;
        let keys = match meta.key_store {
            KeyStoreKind::OsKeychain => keystore::keychain_load(&meta.vault_id),
            KeyStoreKind::Passphrase => match passphrase {
                Some(p) => keystore::passphrase_load(dir, p),
                None => Err(CoreError::PassphraseRequired),
            },
        };
        let keys = keys.inspect_err(|e| note_failed_unlock(dir, e))?;
        Self::unlock_with(dir, meta, keys, Action::VaultUnlock)
    }

    /// Opens the vault with its recovery key and stores the keys again: in a passphrase key
    /// file if `passphrase` is given, otherwise in the OS keychain.
    pub fn recover(
        dir: &Path,
        recovery_key: &RecoveryKey,
        passphrase: Option<&str>,
    ) -> Result<Vault> {
        let meta = read_meta(dir)?;
        let path = dir.join(RECOVERY_FILE);
        let sealed_keys = std::fs::read(&path).map_err(CoreError::io(&path))?;
        let keys = match sealed::open(recovery_key.as_str(), &sealed_keys) {
            Ok(plain) => VaultKeys::from_json(&plain)?,
            Err(OpenError::WrongPassphrase) => {
                let e = CoreError::WrongRecoveryKey;
                note_failed_unlock(dir, &e);
                return Err(e);
            }
            Err(OpenError::Damaged) => {
                return Err(CoreError::Corrupt(format!("{} is damaged", path.display())));
            }
            Err(OpenError::ExcessiveWork) => {
                return Err(CoreError::Corrupt(format!(
                    "{} asks for more key-derivation work than Casebook ever writes: it was not made by Casebook",
                    path.display()
                )));
            }
        };
        // Prove the keys open the stores, and that vault.json is this vault's (its id names
        // the keychain entries about to be written or removed), before storing them anywhere.
        let conn = db::open_pair(
            dir,
            Some(&keys.clinical),
            Some(&keys.identity),
            Mode::Existing,
        )?;
        let mut meta = pins::checked_meta(&conn, meta, || Ok(sealed_keys.clone()))?;
        drop(conn);
        match passphrase {
            Some(p) => {
                keystore::passphrase_save(dir, p, &keys)?;
                meta.key_store = KeyStoreKind::Passphrase;
            }
            None => {
                keystore::keychain_save(&meta.vault_id, &keys)?;
                meta.key_store = KeyStoreKind::OsKeychain;
            }
        }
        write_meta(dir, &meta)?;
        if meta.key_store == KeyStoreKind::OsKeychain {
            let _ = std::fs::remove_file(keystore::key_file(dir));
        } else {
            keystore::keychain_forget(&meta.vault_id);
        }
        Self::unlock_with(dir, meta, keys, Action::VaultRecover)
    }

    fn unlock_with(dir: &Path, meta: VaultMeta, keys: VaultKeys, action: Action) -> Result<Vault> {
        let mut conn = db::open_pair(
            dir,
            Some(&keys.clinical),
            Some(&keys.identity),
            Mode::Existing,
        )
        .inspect_err(|e| note_failed_unlock(dir, e))?;
        schema::migrate(&mut conn)?;
        // The key store holds the first generation; re-keyings are in the stores.
        let mut keys = keys;
        crate::key_ring::reconcile(&conn, &mut keys)?;
        // vault.json is believed only where the store's own pins agree.
        let recovery = dir.join(RECOVERY_FILE);
        let meta = pins::checked_meta(&conn, meta, || {
            std::fs::read(&recovery).map_err(CoreError::io(&recovery))
        })?;
        let home = pins::home(&conn, dir, &meta)?;
        let clock = load_clock(&conn)?;
        let mut vault = Vault::from_parts(dir, meta, keys, conn, clock);
        vault.queue_failed_unlocks();
        if let pins::Home::CopyOf(original) = home {
            // Two copies must never write as one computer (one audit trail, one sync log).
            vault.become_copy(&original)?;
        }
        let kind = vault.meta.key_store;
        let target = Target {
            detail: Some(format!("key_store={}", kind_word(kind))),
            ..Target::default()
        };
        vault.pending.push((action, target, Utc::now()));
        if action == Action::VaultRecover {
            // Recovery has already re-stored the keys: record it now.
            vault.record_unlock()?;
        }
        Ok(vault)
    }

    pub(crate) fn from_parts(
        dir: &Path,
        meta: VaultMeta,
        keys: VaultKeys,
        conn: Connection,
        clock: Hlc,
    ) -> Vault {
        Vault {
            dir: dir.to_path_buf(),
            meta,
            keys,
            conn,
            clock,
            pending: Vec::new(),
            pending_file: None,
            copied_from: None,
        }
    }

    /// Queues noted failed unlocks for the audit trail.
    fn queue_failed_unlocks(&mut self) {
        let path = self.dir.join(FAILED_UNLOCKS_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        for line in text.lines() {
            let Some((at, reason)) = line.split_once('\t') else {
                continue;
            };
            // Only words we wrote ourselves go into the log.
            if !reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                continue;
            }
            let Ok(at) = DateTime::parse_from_rfc3339(at) else {
                continue;
            };
            let target = Target {
                detail: Some(format!("reason={reason}")),
                ..Target::default()
            };
            self.pending
                .push((Action::VaultUnlockFailed, target, at.with_timezone(&Utc)));
        }
        self.pending_file = Some(path);
    }

    /// Writes the unlock's audit entries now rather than with the first action (the
    /// desktop app calls this when the therapist unlocks).
    pub fn record_unlock(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Never append to a trail whose end no longer matches its head: the new entries
        // would hide the cut. They stay pending.
        if !audit::head_matches(&tx)? {
            return Err(CoreError::AuditBroken(
                "its last entries do not match the chain head kept in the identity store; nothing was added (verify the audit trail)".into(),
            ));
        }
        Self::write_pending(&tx, &self.meta.device_id, &self.pending)?;
        tx.commit()?;
        self.pending_committed();
        Ok(())
    }

    fn write_pending(
        tx: &Transaction<'_>,
        device_id: &str,
        pending: &[(Action, Target, DateTime<Utc>)],
    ) -> Result<()> {
        for (action, target, at) in pending {
            audit::append(tx, device_id, action.as_str(), &timestamp(*at), target)?;
        }
        Ok(())
    }

    fn pending_committed(&mut self) {
        self.pending.clear();
        if let Some(path) = self.pending_file.take() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Runs `f` in one transaction and appends the audit entry for `action` in that same
    /// transaction. If `f` fails, nothing is written.
    ///
    /// Before anything is written the end of the audit chain is checked against the head kept
    /// in the identity store. If they disagree the trail was cut short or rewritten: the action
    /// is refused, so that no new entry papers over the damage (see [`Vault::verify_audit`]).
    pub(crate) fn act<T>(
        &mut self,
        action: Action,
        f: impl FnOnce(&mut Ctx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.act_with(action, false, f)
    }

    /// As [`Vault::act`], but for the read-only audit actions (list, export, verify): when the
    /// chain's end and its head disagree they still run, and record nothing.
    fn act_with<T>(
        &mut self,
        action: Action,
        read_only_if_broken: bool,
        f: impl FnOnce(&mut Ctx<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let intact = audit::head_matches(&tx)?;
        if !intact && !read_only_if_broken {
            return Err(CoreError::AuditBroken(
                "its last entries do not match the chain head kept in the identity store (entries were removed or rewritten); nothing can be changed until this is looked into: run `casebook audit verify`".into(),
            ));
        }
        // The unlock comes first in the trail, and is visible to the action (e.g. `audit list`).
        if intact {
            Self::write_pending(&tx, &self.meta.device_id, &self.pending)?;
        }
        // Another process may have the vault open too (the CLI beside the app): the stamp
        // stored by the last writer is read inside this write transaction, so no two
        // writes ever get the same or a lower stamp.
        let clock = self.clock.max(load_clock(&tx)?);
        let mut cx = Ctx {
            tx: &tx,
            device_id: &self.meta.device_id,
            now: Utc::now(),
            clock,
            target: Target::default(),
            also: Vec::new(),
        };
        let out = f(&mut cx)?;
        let (clock, target, now, also) = (cx.clock, cx.target, cx.now, cx.also);
        if !intact {
            // Dropping the transaction rolls it back: a read-only action, nothing recorded.
            return Ok(out);
        }
        if clock != self.clock {
            // (also when another process moved the stored stamp and this action stamped nothing)
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('hlc', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![clock.to_string()],
            )?;
        }
        for (action, target) in &also {
            audit::append(
                &tx,
                &self.meta.device_id,
                action.as_str(),
                &timestamp(now),
                target,
            )?;
        }
        audit::append(
            &tx,
            &self.meta.device_id,
            action.as_str(),
            &timestamp(now),
            &target,
        )?;
        tx.commit()?;
        self.clock = clock;
        self.pending_committed();
        Ok(out)
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key that authenticates the session clock's file ([`crate::clock`]).
    pub fn clock_key(&self) -> crate::keys::ClockKey {
        self.keys.clock_key()
    }

    /// Gives back the memory SQLite holds for the pages it has cached (both stores). Nothing
    /// is lost: a page is read, and decrypted, again when next needed. The desktop app calls
    /// it once the vault has gone quiet, so that an idle app holds no more than it needs.
    pub fn release_cache(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(())
    }

    /// The plaintext description of this vault.
    pub fn meta(&self) -> &VaultMeta {
        &self.meta
    }

    /// The store keys, for opening the databases with standard SQLCipher tools. Audited.
    pub fn show_keys(&mut self) -> Result<KeysDocument> {
        let doc = self.keys.to_document();
        self.act(Action::KeysShow, |_| Ok(()))?;
        Ok(doc)
    }

    /// Counts and settings for `casebook status`. Audited.
    pub fn status(&mut self) -> Result<Status> {
        let key_store = self.meta.key_store;
        let dir = self.dir.clone();
        let vault_id = self.meta.vault_id.clone();
        let device_id = self.meta.device_id.clone();
        self.act(Action::VaultStatus, |cx| {
            let count = |sql: &str| -> Result<i64> { Ok(cx.tx.query_row(sql, [], |r| r.get(0))?) };
            Ok(Status {
                vault: dir,
                vault_id,
                device_id,
                key_store,
                key_store_description: key_store.describe().to_string(),
                clinical_schema: count("PRAGMA main.user_version")?,
                identity_schema: count("PRAGMA identity.user_version")?,
                active_clients: count(
                    "SELECT count(*) FROM clients WHERE deleted = 0 AND status = 'active'",
                )?,
                closed_clients: count(
                    "SELECT count(*) FROM clients WHERE deleted = 0 AND status = 'closed'",
                )?,
                session_notes: count("SELECT count(*) FROM session_notes WHERE deleted = 0")?,
                draft_notes: count(
                    "SELECT count(*) FROM session_notes WHERE deleted = 0 AND status = 'draft'",
                )?,
                audit_entries: count("SELECT count(*) FROM audit_log")? + 1,
            })
        })
    }
}

fn kind_word(k: KeyStoreKind) -> &'static str {
    match k {
        KeyStoreKind::OsKeychain => "os-keychain",
        KeyStoreKind::Passphrase => "passphrase",
    }
}

pub(crate) fn load_clock(conn: &Connection) -> Result<Hlc> {
    let text: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'hlc'", [], |r| r.get(0))
        .optional()?;
    Ok(text.and_then(|t| Hlc::parse(&t)).unwrap_or_default())
}

/// What `casebook status` shows.
#[derive(Serialize, Debug, Clone)]
pub struct Status {
    pub vault: PathBuf,
    pub vault_id: String,
    pub device_id: String,
    pub key_store: KeyStoreKind,
    pub key_store_description: String,
    pub clinical_schema: i64,
    pub identity_schema: i64,
    pub active_clients: i64,
    pub closed_clients: i64,
    pub session_notes: i64,
    pub draft_notes: i64,
    /// Including the entry this status check itself adds.
    pub audit_entries: i64,
}

impl Vault {
    /// Entries of the audit trail matching `filter`. Reading the trail is itself audited.
    pub fn audit_entries(&mut self, filter: &audit::AuditFilter) -> Result<Vec<audit::AuditEntry>> {
        self.act_with(Action::AuditList, true, |cx| {
            let list = audit::list(cx.tx, filter)?;
            cx.detail(format!("count={}", list.len()));
            Ok(list)
        })
    }

    /// Entries for export (CSV or JSON, written by the caller). Audited as an export.
    pub fn audit_export(
        &mut self,
        filter: &audit::AuditFilter,
        format: &str,
    ) -> Result<Vec<audit::AuditEntry>> {
        let format = format.to_string();
        self.act_with(Action::AuditExport, true, |cx| {
            let list = audit::list(cx.tx, filter)?;
            cx.detail(format!("count={} format={format}", list.len()));
            Ok(list)
        })
    }

    /// Walks the whole audit chain inside one transaction. The check is recorded in the
    /// trail, with the problem it found if it failed (identifiers only) — unless the chain's
    /// end no longer matches its head, in which case nothing is appended.
    pub fn verify_audit(&mut self) -> Result<audit::Verification> {
        self.act_with(Action::AuditVerify, true, |cx| {
            let result = audit::verify(cx.tx);
            cx.detail(match &result {
                Ok(v) => format!("ok entries={}", v.entries),
                Err(e) => format!("failed: {e}"),
            });
            Ok(result)
        })?
    }
}
