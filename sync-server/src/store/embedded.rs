//! The embedded backend: SQLite for metadata and a local folder for blob bytes.
//! `casebook-sync serve --data DIR --country GB` is all it takes.
//!
//! Uploads are group-committed: each upload writes its bytes to a temporary file on its own
//! blocking thread and queues itself; one committer thread takes everything queued, checks
//! and places each blob (rename) and inserts its row in one SQLite transaction, makes the
//! whole batch durable with a single `syncfs` of the data filesystem (fsync of every file and
//! folder where `syncfs` is not available), commits, and only then answers every upload in
//! the batch. So an acknowledged blob is on disk, and many uploads share one flush instead of
//! three fsyncs each. A crash before the commit leaves at most unreferenced files, which the
//! next upload of that seq overwrites, and which the sweep at start removes.
//!
//! Blobs up to [`INLINE_MAX`] (a sync change is typically a few kilobytes) are not files at
//! all: their bytes go into their row, in the same transaction, and the commit's own WAL
//! flush makes them durable. No file to create, rename and flush per upload, which is most
//! of what an upload of a small blob cost. Larger blobs and every snapshot stay in the folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use casebook_wire::{BlobInfo, Deleted, Device, Head, Snapshot};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{
    AccountRecord, Appended, ByteStream, Bytes, LOG_CLOSED, LogCut, PasskeyRecord, REVOKED_ONLY,
    Store, StoreError, StoreResult, TokenOwner, beyond_head, charge,
};
use crate::now;

/// The metadata schema, one entry per version (`PRAGMA user_version`). Entries are never
/// edited once released; a change is a new entry. v1 is written with IF NOT EXISTS, so a
/// folder made before versioning (version 0 with the tables) is brought to v1 unchanged.
const MIGRATIONS: &[&str] = &[
    SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6, SCHEMA_V7, SCHEMA_V8,
    SCHEMA_V9,
];

const SCHEMA_V1: &str = r#"
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    totp_secret BLOB,
    totp_enabled INTEGER NOT NULL DEFAULT 0,
    totp_last_step INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, code_hash)
);
CREATE TABLE IF NOT EXISTS invites (
    token_hash TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS blobs (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    size INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX IF NOT EXISTS blobs_by_account ON blobs(account_id);
CREATE TABLE IF NOT EXISTS snapshots (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);
"#;

/// v2: each account's bytes in use kept on its row by triggers, so the quota check of an
/// upload reads one row instead of summing every blob the account ever stored.
const SCHEMA_V2: &str = r#"
ALTER TABLE accounts ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET used_bytes =
    (SELECT COALESCE(SUM(size), 0) FROM blobs WHERE account_id = accounts.id)
  + (SELECT COALESCE(SUM(size), 0) FROM snapshots WHERE account_id = accounts.id);
CREATE TRIGGER blobs_usage_insert AFTER INSERT ON blobs BEGIN
    UPDATE accounts SET used_bytes = used_bytes + NEW.size WHERE id = NEW.account_id;
END;
CREATE TRIGGER blobs_usage_delete AFTER DELETE ON blobs BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size WHERE id = OLD.account_id;
END;
CREATE TRIGGER snapshots_usage_insert AFTER INSERT ON snapshots BEGIN
    UPDATE accounts SET used_bytes = used_bytes + NEW.size WHERE id = NEW.account_id;
END;
CREATE TRIGGER snapshots_usage_update AFTER UPDATE OF size ON snapshots BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size + NEW.size WHERE id = NEW.account_id;
END;
CREATE TRIGGER snapshots_usage_delete AFTER DELETE ON snapshots BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size WHERE id = OLD.account_id;
END;
"#;

/// v6: when each device was last seen (a request answered), to the minute.
const SCHEMA_V6: &str = r#"
ALTER TABLE devices ADD COLUMN last_seen_at TEXT;
"#;

/// v7: devices signed out by a password change (not revoked one by one) may sign in again
/// with their last token and keep their id and log.
const SCHEMA_V7: &str = r#"
ALTER TABLE devices ADD COLUMN signed_out_by_password INTEGER NOT NULL DEFAULT 0;
"#;

/// v8: a device that left the practice's sync closes its log: it takes no more blobs, and
/// another device of the account may remove it (as a revoked device's).
const SCHEMA_V8: &str = r#"
ALTER TABLE devices ADD COLUMN log_closed INTEGER NOT NULL DEFAULT 0;
"#;

/// v9: a blob whose bytes another device had removed (its checkpoint holds them) keeps its
/// row — its seq and hash, so the log's head stays listed — but is never served; its size
/// becomes 0, and the account's bytes in use follow (only the row's overhead is left).
const SCHEMA_V9: &str = r#"
ALTER TABLE blobs ADD COLUMN emptied INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER blobs_usage_update AFTER UPDATE OF size ON blobs BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size + NEW.size WHERE id = NEW.account_id;
END;
"#;

/// v3: small blobs' bytes kept in their row (`data`); NULL means the bytes are in the folder.
const SCHEMA_V3: &str = r#"
ALTER TABLE blobs ADD COLUMN data BLOB;
"#;

/// v4: passkeys (WebAuthn credentials: public key and counter, never a secret).
const SCHEMA_V4: &str = super::PASSKEYS_TABLE;

/// v5: every blob and snapshot costs [`super::OBJECT_OVERHEAD`] (4096) bytes on top of its
/// size, so empty or tiny objects are not free; the totals are recomputed to match.
const SCHEMA_V5: &str = r#"
DROP TRIGGER blobs_usage_insert;
DROP TRIGGER blobs_usage_delete;
DROP TRIGGER snapshots_usage_insert;
DROP TRIGGER snapshots_usage_delete;
UPDATE accounts SET used_bytes =
    (SELECT COALESCE(SUM(size + 4096), 0) FROM blobs WHERE account_id = accounts.id)
  + (SELECT COALESCE(SUM(size + 4096), 0) FROM snapshots WHERE account_id = accounts.id);
CREATE TRIGGER blobs_usage_insert AFTER INSERT ON blobs BEGIN
    UPDATE accounts SET used_bytes = used_bytes + NEW.size + 4096 WHERE id = NEW.account_id;
END;
CREATE TRIGGER blobs_usage_delete AFTER DELETE ON blobs BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size - 4096 WHERE id = OLD.account_id;
END;
CREATE TRIGGER snapshots_usage_insert AFTER INSERT ON snapshots BEGIN
    UPDATE accounts SET used_bytes = used_bytes + NEW.size + 4096 WHERE id = NEW.account_id;
END;
CREATE TRIGGER snapshots_usage_delete AFTER DELETE ON snapshots BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size - 4096 WHERE id = OLD.account_id;
END;
"#;

/// Blobs of at most this many bytes are kept in their row rather than as files.
pub const INLINE_MAX: usize = 64 * 1024;

/// SQLite + folder storage.
pub struct Embedded {
    root: PathBuf,
    /// The one writer (every change goes through it).
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for the hot reads (a token's device, heads, ranges): in WAL
    /// mode they read the last commit without waiting for the writer's open transaction.
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: std::sync::atomic::AtomicUsize,
    appends: std::sync::mpsc::Sender<AppendJob>,
}

/// How many read-only connections.
const READERS: usize = 4;

/// One upload waiting for the committer.
struct AppendJob {
    account: String,
    device: String,
    seq: u64,
    size: u64,
    hash: String,
    quota: u64,
    bytes: Placement,
    reply: tokio::sync::oneshot::Sender<StoreResult<Appended>>,
}

/// Where an upload's bytes go.
enum Placement {
    /// Into its row (a small blob).
    Inline(Bytes),
    /// Into the folder: written under a temporary name, renamed to `path` at commit.
    File { staged: Staged, path: PathBuf },
}

/// The most uploads one commit takes (more wait for the next one).
const MAX_BATCH: usize = 512;

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How much of a snapshot file is read at a time when it is sent.
const READ_CHUNK: usize = 256 * 1024;

/// A file's bytes as a stream of chunks, read as they are asked for.
fn file_stream(file: tokio::fs::File) -> ByteStream {
    use tokio::io::AsyncReadExt;
    Box::pin(futures::stream::try_unfold(file, |mut f| async move {
        let mut buf = Vec::with_capacity(READ_CHUNK);
        let n = (&mut f)
            .take(READ_CHUNK as u64)
            .read_to_end(&mut buf)
            .await?;
        Ok((n > 0).then(|| (Bytes::from(buf), f)))
    }))
}

/// Creates `dir` (and missing parents) so that the new entries survive a crash: each
/// created folder's parent is fsync'd.
fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durably(parent)?;
    }
    match private::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    std::fs::File::open(dir.parent().unwrap_or(Path::new(".")))?.sync_all()
}

/// Only the server's own user may read what the data folder holds (TOTP secrets, password
/// and token hashes, blobs): folders 0700 and files 0600, whatever the process umask.
mod private {
    use std::path::Path;

    #[cfg(unix)]
    pub fn create_dir(dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    pub fn create_dir(dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir(dir)
    }

    /// A new file, readable and writable by the owner only.
    pub fn create_file(path: &Path) -> std::io::Result<std::fs::File> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(path)
    }

    /// Sets `path`'s mode to `mode` if it is looser (an existing folder made under another
    /// umask); a missing path is fine.
    #[cfg(unix)]
    pub fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.permissions().mode() & 0o777 & !mode != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    pub fn tighten(_: &Path, _: u32) -> std::io::Result<()> {
        Ok(())
    }

    /// The data folder at open: every folder 0700, every file 0600 (also those written by an
    /// earlier version under a looser umask). `meta.db` is created 0600 before SQLite opens
    /// it, so its `-wal` and `-shm` (which SQLite gives the database's mode) are too.
    pub fn prepare(root: &Path) -> std::io::Result<()> {
        for dir in [
            root.to_path_buf(),
            root.join("blobs"),
            root.join("snapshots"),
        ] {
            if !dir.is_dir() {
                super::create_dir_durably(&dir)?;
            }
        }
        let db = root.join("meta.db");
        if !db.exists() {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            match o.open(&db) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        tighten_tree(root)
    }

    fn tighten_tree(dir: &Path) -> std::io::Result<()> {
        tighten(dir, 0o700)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                tighten_tree(&entry.path())?;
            } else if kind.is_file() {
                tighten(&entry.path(), 0o600)?;
            }
        }
        Ok(())
    }
}

fn snapshot_file(root: &Path, account: &str, name: &str, content_hash: &str) -> PathBuf {
    root.join("snapshots").join(account).join(format!(
        "{}-{}.blob",
        sha256_hex(name.as_bytes()),
        content_hash
    ))
}

/// Writes `bytes` to `path` durably: a staged temp file, fsync, rename, fsync the folder.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    Staged::write(path.parent().unwrap_or(Path::new(".")), bytes)?.place(path)
}

/// Bytes written and fsync'd under a temporary name; removed again unless placed.
struct Staged(Option<PathBuf>);

impl Staged {
    fn write(dir: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
        create_dir_durably(dir)?;
        let tmp = dir.join(format!(".staged-{}", uuid::Uuid::new_v4()));
        let mut f = private::create_file(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(Staged(Some(tmp)))
    }

    /// Bytes written under a temporary name, not yet flushed (the committer flushes a whole
    /// batch at once).
    fn write_unsynced(dir: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
        create_dir_durably(dir)?;
        let tmp = dir.join(format!(".staged-{}", uuid::Uuid::new_v4()));
        let mut f = private::create_file(&tmp)?;
        f.write_all(bytes)?;
        Ok(Staged(Some(tmp)))
    }

    /// Renames into place without flushing (the caller makes it durable).
    fn rename_into(mut self, path: &Path) -> std::io::Result<()> {
        if let Some(tmp) = self.0.take()
            && let Err(e) = std::fs::rename(&tmp, path)
        {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }

    /// Renames into place and fsyncs the folder, so the name survives a crash.
    fn place(mut self, path: &Path) -> std::io::Result<()> {
        if let Some(tmp) = self.0.take() {
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.0.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl Embedded {
    /// `UPDATE devices SET <set>` on one of the account's devices; `NotFound` if it is not
    /// theirs. (`set` is a constant of this file, never input.)
    async fn set_on_device(
        &self,
        account: &str,
        device: &str,
        set: &'static str,
    ) -> StoreResult<()> {
        let (a, d) = (account.to_string(), device.to_string());
        self.with(move |c| {
            let n = c
                .execute(
                    &format!("UPDATE devices SET {set} WHERE id = ?1 AND account_id = ?2"),
                    params![d, a],
                )
                .map_err(db_err)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound)
            }
        })
        .await
    }
    /// Opens (creating if needed) the store in `root`.
    pub fn open(root: &Path) -> anyhow::Result<Embedded> {
        private::prepare(root)?;
        let mut conn = Connection::open(root.join("meta.db"))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        sweep(&conn, root)?;
        let conn = Arc::new(Mutex::new(conn));
        let (appends, queue) = std::sync::mpsc::channel();
        let (c, r) = (conn.clone(), root.to_path_buf());
        std::thread::Builder::new()
            .name("blob-committer".into())
            .spawn(move || commit_loop(&c, &r, &queue))?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                root.join("meta.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            r.busy_timeout(std::time::Duration::from_secs(10))?;
            readers.push(Mutex::new(r));
        }
        Ok(Embedded {
            root: root.to_path_buf(),
            conn,
            readers: Arc::new(readers),
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            appends,
        })
    }

    fn blob_path(&self, account: &str, device: &str, seq: u64) -> PathBuf {
        self.root
            .join("blobs")
            .join(account)
            .join(device)
            .join(format!("{seq:020}.blob"))
    }

    /// Where one version of a named snapshot lives: the name's hash (no name can escape the
    /// folder) and the content's hash, so a new version never overwrites the one the
    /// committed row points to.
    fn snapshot_path(&self, account: &str, name: &str, content_hash: &str) -> PathBuf {
        snapshot_file(&self.root, account, name, content_hash)
    }

    /// Runs a read-only `f` on one of the reader connections, on a blocking thread.
    async fn with_read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = self.readers.clone();
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % readers.len();
        tokio::task::spawn_blocking(move || {
            let guard = readers[i]
                .lock()
                .map_err(|_| StoreError::Unavailable("reader lock poisoned".into()))?;
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Unavailable("metadata lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }
}

const ACCOUNT_COLUMNS: &str = "id, password_hash, totp_secret, totp_enabled, username";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        id: r.get(0)?,
        password_hash: r.get(1)?,
        totp_secret: r.get(2)?,
        totp_enabled: r.get(3)?,
        username: r.get(4)?,
    })
}

/// One row from a statement kept prepared on its connection: the hot paths (every upload,
/// every request's token) run the same few statements thousands of times a second, and
/// parsing them each time showed up in profiles.
fn cached_row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

fn owns_device(conn: &Connection, account: &str, device: &str) -> StoreResult<bool> {
    cached_row(
        conn,
        "SELECT EXISTS(SELECT 1 FROM devices WHERE id = ?1 AND account_id = ?2)",
        params![device, account],
        |r| r.get(0),
    )
    .map_err(db_err)
}

fn used_bytes(conn: &Connection, account: &str) -> StoreResult<u64> {
    // Kept up to date by the v2 triggers.
    let n: Option<i64> = cached_row(
        conn,
        "SELECT used_bytes FROM accounts WHERE id = ?1",
        [account],
        |r| r.get(0),
    )
    .optional()
    .map_err(db_err)?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

#[async_trait]
impl Store for Embedded {
    async fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        invite: Option<(&str, &str)>,
    ) -> StoreResult<String> {
        let (username, password_hash) = (username.to_string(), password_hash.to_string());
        let invite = invite.map(|(t, n)| (t.to_string(), n.to_string()));
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err)?;
            if let Some((token, at)) = &invite {
                let used = tx
                    .execute(
                        "UPDATE invites SET used = 1 WHERE token_hash = ?1 AND used = 0 AND expires_at > ?2",
                        params![token, at],
                    )
                    .map_err(db_err)?;
                if used != 1 {
                    return Err(StoreError::InviteInvalid);
                }
            }
            let id = uuid::Uuid::new_v4().to_string();
            match tx.execute(
                "INSERT INTO accounts (id, username, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, username, password_hash, now()],
            ) {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    // Rolled back: the invite stays unused.
                    return Err(StoreError::Conflict("that username is taken".into()));
                }
                Err(e) => return Err(db_err(e)),
            }
            tx.commit().map_err(db_err)?;
            Ok(id)
        })
        .await
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<AccountRecord>> {
        let username = username.to_string();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = ?1"),
                [username],
                account_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn delete_account(&self, account: &str) -> StoreResult<Deleted> {
        let account = account.to_string();
        let root = self.root.clone();
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let (blobs, bytes): (i64, i64) = tx
                .query_row(
                    "SELECT (SELECT count(*) FROM blobs WHERE account_id = ?1) + (SELECT count(*) FROM snapshots WHERE account_id = ?1),
                            (SELECT COALESCE(SUM(size), 0) FROM blobs WHERE account_id = ?1) + (SELECT COALESCE(SUM(size), 0) FROM snapshots WHERE account_id = ?1)",
                    [&account],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(db_err)?;
            let n = tx.execute("DELETE FROM accounts WHERE id = ?1", [&account]).map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().map_err(db_err)?;
            // Rows are gone (so nothing is served); now the bytes.
            for dir in [root.join("blobs").join(&account), root.join("snapshots").join(&account)] {
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(e)),
                }
            }
            Ok(Deleted { blobs_removed: blobs.max(0) as u64, bytes_removed: bytes.max(0) as u64 })
        })
        .await
    }

    async fn create_invite(&self, token_hash: &str, expires_at: &str) -> StoreResult<()> {
        let (t, e) = (token_hash.to_string(), expires_at.to_string());
        self.with(move |c| {
            c.execute(
                "INSERT INTO invites (token_hash, expires_at) VALUES (?1, ?2)",
                params![t, e],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn invite_usable(&self, token_hash: &str, now: &str) -> StoreResult<bool> {
        let (t, n) = (token_hash.to_string(), now.to_string());
        self.with_read(move |c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM invites WHERE token_hash = ?1 AND used = 0 AND expires_at > ?2)",
                params![t, n],
                |r| r.get(0),
            )
            .map_err(db_err)
        })
        .await
    }

    async fn create_device(
        &self,
        account: &str,
        name: &str,
        public_key: &str,
        token_hash: &str,
        replaces: Option<&str>,
    ) -> StoreResult<String> {
        let (a, n, k, t) = (
            account.to_string(),
            name.to_string(),
            public_key.to_string(),
            token_hash.to_string(),
        );
        let old = replaces.map(str::to_string);
        self.with(move |c| {
            // The same device signing in again (its live token, same key) gets a new token
            // in place of the old one, not a second entry in the device list.
            if let Some(old) = old {
                let again: Option<String> = c
                    .query_row(
                        "UPDATE devices SET token_hash = ?1, name = ?2, revoked = 0, signed_out_by_password = 0
                         WHERE account_id = ?3 AND public_key = ?4 AND token_hash = ?5 AND (revoked = 0 OR signed_out_by_password = 1) RETURNING id",
                        params![t, n, a, k, old],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                if let Some(id) = again {
                    return Ok(id);
                }
            }
            let id = uuid::Uuid::new_v4().to_string();
            c.execute(
                "INSERT INTO devices (id, account_id, name, public_key, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, a, n, k, t, now()],
            )
            .map_err(db_err)?;
            Ok(id)
        })
        .await
    }

    async fn device_for_token(&self, token_hash: &str) -> StoreResult<Option<TokenOwner>> {
        let t = token_hash.to_string();
        self.with_read(move |c| {
            cached_row(
                c,
                "SELECT d.account_id, d.id, a.totp_enabled FROM devices d JOIN accounts a ON a.id = d.account_id
                 WHERE d.token_hash = ?1 AND d.revoked = 0",
                [t],
                |r| Ok(TokenOwner { account: r.get(0)?, device: r.get(1)?, totp_enabled: r.get(2)? }),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn list_devices(&self, account: &str) -> StoreResult<Vec<Device>> {
        let a = account.to_string();
        self.with_read(move |c| {
            let mut stmt = c
                .prepare("SELECT id, name, public_key, created_at, revoked, last_seen_at FROM devices WHERE account_id = ?1 ORDER BY created_at")
                .map_err(db_err)?;
            let rows = stmt
                .query_map([a], |r| {
                    Ok(Device { id: r.get(0)?, name: r.get(1)?, public_key: r.get(2)?, created_at: r.get(3)?, revoked: r.get(4)?, last_seen_at: r.get(5)? })
                })
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn touch_device(&self, account: &str, device: &str, at: &str) -> StoreResult<()> {
        let (a, d, t) = (account.to_string(), device.to_string(), at.to_string());
        self.with(move |c| {
            c.execute(
                "UPDATE devices SET last_seen_at = ?3 WHERE id = ?1 AND account_id = ?2",
                params![d, a, t],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn close_log(&self, account: &str, device: &str) -> StoreResult<()> {
        self.set_on_device(account, device, "log_closed = 1").await
    }

    async fn revoke_device(&self, account: &str, device: &str) -> StoreResult<()> {
        self.set_on_device(account, device, "revoked = 1, signed_out_by_password = 0")
            .await
    }

    async fn change_password(
        &self,
        account: &str,
        password_hash: &str,
        keep: &str,
    ) -> StoreResult<u64> {
        let (a, h, k) = (
            account.to_string(),
            password_hash.to_string(),
            keep.to_string(),
        );
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let n = tx
                .execute(
                    "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                    params![a, h],
                )
                .map_err(db_err)?;
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            let revoked = tx
                .execute(
                    "UPDATE devices SET revoked = 1, signed_out_by_password = 1 WHERE account_id = ?1 AND id <> ?2 AND revoked = 0",
                    params![a, k],
                )
                .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(revoked as u64)
        })
        .await
    }

    async fn append_blob(
        &self,
        account: &str,
        device: &str,
        seq: u64,
        bytes: Bytes,
        quota: u64,
    ) -> StoreResult<Appended> {
        let size = bytes.len() as u64;
        let (hash, placement) = if bytes.len() <= INLINE_MAX {
            (sha256_hex(&bytes), Placement::Inline(bytes))
        } else {
            // Hash and write the bytes on this upload's own thread; the committer then takes
            // it with whatever else is queued. (The bytes are shared, not copied.)
            let path = self.blob_path(account, device, seq);
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let (hash, staged) =
                tokio::task::spawn_blocking(move || -> StoreResult<(String, Staged)> {
                    Ok((
                        sha256_hex(&bytes),
                        Staged::write_unsynced(&dir, &bytes).map_err(io_err)?,
                    ))
                })
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))??;
            (hash, Placement::File { staged, path })
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.appends
            .send(AppendJob {
                account: account.to_string(),
                device: device.to_string(),
                seq,
                size,
                hash,
                quota,
                bytes: placement,
                reply,
            })
            .map_err(|_| StoreError::Unavailable("the blob committer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the blob committer has stopped".into()))?
    }

    async fn cut_log(&self, account: &str, device: &str, cut: LogCut) -> StoreResult<Deleted> {
        let (a, d) = (account.to_string(), device.to_string());
        let root = self.root.clone();
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            if !owns_device(&tx, &a, &d)? {
                return Err(StoreError::NotFound);
            }
            let below = match cut {
                // Cut below a seq (its own log: the last blob always stays) or empty through
                // one (another's: up to its last blob at most).
                LogCut::Below(n) | LogCut::Through(n) => {
                    let n = n.min(i64::MAX as u64) as i64;
                    let head: i64 = tx
                        .query_row(
                            "SELECT COALESCE(MAX(seq), 0) FROM blobs WHERE device_id = ?1 AND account_id = ?2",
                            params![d, a],
                            |r| r.get(0),
                        )
                        .map_err(db_err)?;
                    if n > head {
                        return Err(StoreError::Conflict(beyond_head(cut, head)));
                    }
                    n
                }
                LogCut::Revoked => {
                    let revoked: bool = tx
                        .query_row(
                            "SELECT (revoked = 1 AND signed_out_by_password = 0) OR log_closed = 1 FROM devices WHERE id = ?1 AND account_id = ?2",
                            params![d, a],
                            |r| r.get(0),
                        )
                        .map_err(db_err)?;
                    if !revoked {
                        return Err(StoreError::Conflict(REVOKED_ONLY.into()));
                    }
                    i64::MAX
                }
            };
            // Emptying through a seq: that blob's row stays, without its bytes (its size
            // becomes 0, so they no longer count against the quota).
            let mut emptied: Option<(i64, bool)> = None;
            let mut emptied_bytes: i64 = 0;
            if let LogCut::Through(_) = cut {
                emptied_bytes = tx
                    .query_row(
                        "SELECT size FROM blobs WHERE device_id = ?1 AND account_id = ?2 AND seq = ?3 AND emptied = 0",
                        params![d, a, below],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?
                    .unwrap_or(0);
                emptied = tx
                    .query_row(
                        "UPDATE blobs SET emptied = 1, data = NULL, size = 0 WHERE device_id = ?1 AND account_id = ?2 AND seq = ?3 AND emptied = 0
                         RETURNING seq",
                        params![d, a, below],
                        // Its bytes may have been in a file: removed below if so.
                        |r| Ok((r.get(0)?, true)),
                    )
                    .optional()
                    .map_err(db_err)?;
            }
            let gone: Vec<(i64, i64, bool)> = {
                let mut stmt = tx
                    .prepare("DELETE FROM blobs WHERE device_id = ?1 AND account_id = ?2 AND seq < ?3 RETURNING seq, size, data IS NULL")
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(params![d, a, below], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(db_err)?;
                rows.collect::<Result<_, _>>().map_err(db_err)?
            };
            tx.commit().map_err(db_err)?;
            // Rows are gone or emptied (nothing is served); now the bytes kept in files. (An
            // emptied blob's bytes may have been inline: then there is no file to remove.)
            let files = gone
                .iter()
                .map(|(seq, _, in_file)| (*seq, *in_file))
                .chain(emptied);
            for (seq, in_file) in files {
                if in_file {
                    let path = root.join("blobs").join(&a).join(&d).join(format!("{:020}.blob", seq));
                    match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err(e)),
                    }
                }
            }
            Ok(Deleted {
                blobs_removed: gone.len() as u64 + u64::from(emptied.is_some()),
                bytes_removed: gone.iter().map(|(_, size, _)| (*size).max(0) as u64).sum::<u64>()
                    + emptied_bytes.max(0) as u64,
            })
        })
        .await
    }

    async fn heads(&self, account: &str) -> StoreResult<Vec<Head>> {
        let a = account.to_string();
        self.with_read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT b.device_id, b.seq, b.hash FROM blobs b
                     WHERE b.account_id = ?1 AND b.seq = (SELECT MAX(seq) FROM blobs WHERE device_id = b.device_id)
                     ORDER BY b.device_id",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map([a], |r| Ok(Head { device_id: r.get(0)?, seq: r.get::<_, i64>(1)? as u64, hash: r.get(2)? }))
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn blob_infos(
        &self,
        account: &str,
        device: &str,
        from: u64,
        limit: u64,
        max_bytes: u64,
    ) -> StoreResult<Vec<BlobInfo>> {
        let (a, d) = (account.to_string(), device.to_string());
        self.with_read(move |c| {
            if !owns_device(c, &a, &d)? {
                return Err(StoreError::NotFound);
            }
            let mut stmt = c
                .prepare_cached("SELECT seq, size, hash FROM blobs WHERE device_id = ?1 AND account_id = ?2 AND seq >= ?3 AND emptied = 0 ORDER BY seq LIMIT ?4")
                .map_err(db_err)?;
            let mut rows = stmt
                .query(params![d, a, from.min(i64::MAX as u64) as i64, limit.min(i64::MAX as u64) as i64])
                .map_err(db_err)?;
            let mut out: Vec<BlobInfo> = Vec::new();
            let mut total = 0u64;
            while let Some(r) = rows.next().map_err(db_err)? {
                let info = BlobInfo {
                    seq: r.get::<_, i64>(0).map_err(db_err)? as u64,
                    size: r.get::<_, i64>(1).map_err(db_err)? as u64,
                    hash: r.get(2).map_err(db_err)?,
                };
                if !out.is_empty() && total + info.size > max_bytes {
                    break;
                }
                total += info.size;
                out.push(info);
            }
            Ok(out)
        })
        .await
    }

    async fn blob_range(
        &self,
        account: &str,
        device: &str,
        from: u64,
        limit: u64,
        max_bytes: u64,
    ) -> StoreResult<Vec<(BlobInfo, Vec<u8>)>> {
        let (a, d) = (account.to_string(), device.to_string());
        let root = self.root.clone();
        self.with_read(move |c| {
            if !owns_device(c, &a, &d)? {
                return Err(StoreError::NotFound);
            }
            let mut stmt = c
                .prepare_cached("SELECT seq, size, hash, data FROM blobs WHERE device_id = ?1 AND account_id = ?2 AND seq >= ?3 AND emptied = 0 ORDER BY seq LIMIT ?4")
                .map_err(db_err)?;
            let mut rows = stmt
                .query(params![d, a, from.min(i64::MAX as u64) as i64, limit.min(i64::MAX as u64) as i64])
                .map_err(db_err)?;
            // A byte budget, so one request cannot pull gigabytes into memory: rows are read
            // one at a time and the reading stops at the budget, inline bytes included.
            let mut out = Vec::new();
            let mut total = 0u64;
            while let Some(r) = rows.next().map_err(db_err)? {
                let info = BlobInfo {
                    seq: r.get::<_, i64>(0).map_err(db_err)? as u64,
                    size: r.get::<_, i64>(1).map_err(db_err)? as u64,
                    hash: r.get(2).map_err(db_err)?,
                };
                if !out.is_empty() && total + info.size > max_bytes {
                    break;
                }
                total += info.size;
                let bytes = match r.get::<_, Option<Vec<u8>>>(3).map_err(db_err)? {
                    Some(bytes) => bytes,
                    None => {
                        let path = root.join("blobs").join(&a).join(&d).join(format!("{:020}.blob", info.seq));
                        std::fs::read(path).map_err(io_err)?
                    }
                };
                out.push((info, bytes));
            }
            Ok(out)
        })
        .await
    }

    async fn put_snapshot(
        &self,
        account: &str,
        name: &str,
        bytes: Bytes,
        quota: u64,
    ) -> StoreResult<Snapshot> {
        let (a, n) = (account.to_string(), name.to_string());
        let hash = sha256_hex(&bytes);
        let path = self.snapshot_path(account, name, &hash);
        let root = self.root.clone();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let previous: Option<(i64, String)> = tx
                .query_row("SELECT size, hash FROM snapshots WHERE account_id = ?1 AND name = ?2", params![a, n], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db_err)?;
            // A replaced version gives back what it cost; a new name costs its overhead too.
            let previous_cost = previous.as_ref().map_or(0, |p| charge(p.0.max(0) as u64));
            if used_bytes(&tx, &a)?.saturating_sub(previous_cost) + charge(bytes.len() as u64) > quota {
                return Err(StoreError::QuotaExceeded);
            }
            let snap = Snapshot { name: n.clone(), size: bytes.len() as u64, hash: hash.clone(), created_at: now() };
            // The new version goes beside the old one; the row switches in the commit; only
            // then is the old file removed. A crash at any point leaves the committed row
            // with its own, complete file (and at most an orphan the sweep removes).
            write_durably(&path, &bytes).map_err(io_err)?;
            tx.execute(
                "INSERT INTO snapshots (account_id, name, size, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(account_id, name) DO UPDATE SET size = excluded.size, hash = excluded.hash, created_at = excluded.created_at",
                params![a, n, snap.size as i64, snap.hash, snap.created_at],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            if let Some((_, old)) = previous.filter(|(_, old)| *old != hash) {
                let _ = std::fs::remove_file(snapshot_file(&root, &a, &n, &old));
            }
            Ok(snap)
        })
        .await
    }

    async fn open_snapshot(&self, account: &str, name: &str) -> StoreResult<(u64, ByteStream)> {
        let (a, n) = (account.to_string(), name.to_string());
        let root = self.root.clone();
        // The file is opened while the row is read; a replacement committed afterwards
        // removes the old file's name, and the open handle still reads the old version whole.
        let (size, file) = self
            .with_read(move |c| {
                let row: Option<(i64, String)> = c
                    .query_row(
                        "SELECT size, hash FROM snapshots WHERE account_id = ?1 AND name = ?2",
                        params![a, n],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(db_err)?;
                let (size, hash) = row.ok_or(StoreError::NotFound)?;
                let file =
                    std::fs::File::open(snapshot_file(&root, &a, &n, &hash)).map_err(io_err)?;
                Ok((size.max(0) as u64, file))
            })
            .await?;
        Ok((size, file_stream(tokio::fs::File::from_std(file))))
    }

    async fn list_snapshots(&self, account: &str) -> StoreResult<Vec<Snapshot>> {
        let a = account.to_string();
        self.with_read(move |c| {
            let mut stmt = c
                .prepare("SELECT name, size, hash, created_at FROM snapshots WHERE account_id = ?1 ORDER BY name")
                .map_err(db_err)?;
            let rows = stmt
                .query_map([a], |r| Ok(Snapshot { name: r.get(0)?, size: r.get::<_, i64>(1)? as u64, hash: r.get(2)?, created_at: r.get(3)? }))
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn delete_snapshot(&self, account: &str, name: &str) -> StoreResult<()> {
        let (a, n) = (account.to_string(), name.to_string());
        let root = self.root.clone();
        self.with(move |c| {
            let hash: Option<String> = c
                .query_row(
                    "DELETE FROM snapshots WHERE account_id = ?1 AND name = ?2 RETURNING hash",
                    params![a, n],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let hash = hash.ok_or(StoreError::NotFound)?;
            let _ = std::fs::remove_file(snapshot_file(&root, &a, &n, &hash));
            Ok(())
        })
        .await
    }

    async fn usage(&self, account: &str) -> StoreResult<u64> {
        let a = account.to_string();
        self.with(move |c| used_bytes(c, &a)).await
    }

    async fn account_by_id(&self, account: &str) -> StoreResult<Option<AccountRecord>> {
        let a = account.to_string();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                [a],
                account_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn set_totp_secret(&self, account: &str, secret: &[u8]) -> StoreResult<()> {
        let (a, secret) = (account.to_string(), secret.to_vec());
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE accounts SET totp_secret = ?2 WHERE id = ?1 AND totp_enabled = 0",
                    params![a, secret],
                )
                .map_err(db_err)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict(
                    "TOTP is already on for this account".into(),
                ))
            }
        })
        .await
    }

    async fn disable_totp(&self, account: &str) -> StoreResult<()> {
        let a = account.to_string();
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            tx.execute(
                "UPDATE accounts SET totp_enabled = 0, totp_secret = NULL WHERE id = ?1",
                [&a],
            )
            .map_err(db_err)?;
            tx.execute("DELETE FROM recovery_codes WHERE account_id = ?1", [&a])
                .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn enable_totp(
        &self,
        account: &str,
        confirmed_secret: &[u8],
        recovery_code_hashes: &[String],
    ) -> StoreResult<()> {
        let (a, secret, hashes) = (
            account.to_string(),
            confirmed_secret.to_vec(),
            recovery_code_hashes.to_vec(),
        );
        self.with(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let n = tx
                .execute(
                    "UPDATE accounts SET totp_enabled = 1 WHERE id = ?1 AND totp_enabled = 0 AND totp_secret = ?2",
                    params![a, secret],
                )
                .map_err(db_err)?;
            if n != 1 {
                return Err(StoreError::Conflict(
                    "TOTP changed while confirming (already on, or a new secret was started): start again".into(),
                ));
            }
            tx.execute("DELETE FROM recovery_codes WHERE account_id = ?1", [&a])
                .map_err(db_err)?;
            for h in hashes {
                tx.execute(
                    "INSERT INTO recovery_codes (account_id, code_hash) VALUES (?1, ?2)",
                    params![a, h],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn use_totp_step(&self, account: &str, step: u64) -> StoreResult<bool> {
        let a = account.to_string();
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE accounts SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
                    params![a, step as i64],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn use_recovery_code(&self, account: &str, code_hash: &str) -> StoreResult<bool> {
        let (a, h) = (account.to_string(), code_hash.to_string());
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE recovery_codes SET used = 1 WHERE account_id = ?1 AND code_hash = ?2 AND used = 0",
                    params![a, h],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn add_passkey(
        &self,
        account: &str,
        name: &str,
        credential_id: &str,
        passkey: &str,
        max: usize,
    ) -> StoreResult<PasskeyRecord> {
        let record = PasskeyRecord::new(name, passkey);
        let (a, cred, r) = (
            account.to_string(),
            credential_id.to_string(),
            record.clone(),
        );
        // On the one writer connection: the count and the insert cannot interleave with
        // another registration.
        self.with(move |c| {
            let held: i64 = c
                .query_row("SELECT count(*) FROM passkeys WHERE account_id = ?1", [&a], |row| row.get(0))
                .map_err(db_err)?;
            if held.max(0) as usize >= max {
                return Err(PasskeyRecord::too_many(max));
            }
            let taken: bool = c
                .query_row("SELECT EXISTS(SELECT 1 FROM passkeys WHERE credential_id = ?1)", [&cred], |row| row.get(0))
                .map_err(db_err)?;
            if taken {
                return Err(PasskeyRecord::taken());
            }
            c.execute(
                "INSERT INTO passkeys (id, account_id, name, credential_id, passkey, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![r.id, a, r.name, cred, r.passkey, r.created_at],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await?;
        Ok(record)
    }

    async fn passkeys(&self, account: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let a = account.to_string();
        self.with_read(move |c| {
            let mut stmt = c
                .prepare("SELECT id, name, created_at, last_used_at, passkey FROM passkeys WHERE account_id = ?1 ORDER BY created_at, id")
                .map_err(db_err)?;
            let rows = stmt
                .query_map([a], |r| {
                    Ok(PasskeyRecord { id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)?, last_used_at: r.get(3)?, passkey: r.get(4)? })
                })
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn passkey_used(
        &self,
        account: &str,
        id: &str,
        passkey: &str,
        at: &str,
    ) -> StoreResult<()> {
        let (a, i, p, t) = (
            account.to_string(),
            id.to_string(),
            passkey.to_string(),
            at.to_string(),
        );
        self.with(move |c| {
            c.execute(
                "UPDATE passkeys SET passkey = ?1, last_used_at = ?2 WHERE id = ?3 AND account_id = ?4",
                params![p, t, i, a],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_passkey(&self, account: &str, id: &str) -> StoreResult<()> {
        let (a, i) = (account.to_string(), id.to_string());
        self.with(move |c| {
            let n = c
                .execute(
                    "DELETE FROM passkeys WHERE id = ?1 AND account_id = ?2",
                    params![i, a],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }
}

/// Brings the metadata to the newest schema, one version per transaction; refuses a folder
/// written by a newer server.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        anyhow::bail!(
            "the data folder was written by a newer casebook-sync (metadata schema {found}; this build knows {known}): update the server"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}

/// Removes what a crash can leave behind: staged files of uploads never committed, the
/// folders of deleted accounts (rows go first, bytes after), snapshot versions no row points
/// to, and blob files beyond a device's committed log. Runs at start, before any request.
fn sweep(conn: &Connection, root: &Path) -> anyhow::Result<()> {
    let accounts: std::collections::HashSet<String> = conn
        .prepare("SELECT id FROM accounts")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut snapshots: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    {
        let mut stmt = conn.prepare("SELECT account_id, name, hash FROM snapshots")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (a, n, h) = row?;
            let file = snapshot_file(root, &a, &n, &h);
            // Data written before versioned names: move the file to its versioned name.
            let unversioned = root
                .join("snapshots")
                .join(&a)
                .join(format!("{}.blob", sha256_hex(n.as_bytes())));
            if !file.exists() && unversioned.exists() {
                std::fs::rename(&unversioned, &file)?;
            }
            snapshots.insert(file);
        }
    }
    let mut blobs: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    {
        // Only blobs whose bytes are files (a file left beside an inline row is a leftover).
        let mut stmt = conn.prepare(
            "SELECT account_id, device_id, seq FROM blobs WHERE data IS NULL AND emptied = 0",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (a, d, seq) = row?;
            blobs.insert(
                root.join("blobs")
                    .join(a)
                    .join(d)
                    .join(format!("{seq:020}.blob")),
            );
        }
    }
    for (kind, keep) in [("blobs", &blobs), ("snapshots", &snapshots)] {
        let Ok(dirs) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for account_dir in dirs.flatten() {
            let account = account_dir.file_name().to_string_lossy().into_owned();
            if !accounts.contains(&account) {
                std::fs::remove_dir_all(account_dir.path())?;
                continue;
            }
            for file in walk_files(&account_dir.path()) {
                if !keep.contains(&file) {
                    std::fs::remove_file(&file)?;
                }
            }
        }
    }
    Ok(())
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The committer: takes every queued upload, places and records them in one transaction,
/// flushes once, commits, then answers them all. Ends when the store is dropped.
fn commit_loop(
    conn: &Mutex<Connection>,
    root: &Path,
    queue: &std::sync::mpsc::Receiver<AppendJob>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcomes = match conn.lock() {
            Ok(mut c) => commit_batch(&mut c, root, &mut batch),
            Err(_) => Err(StoreError::Unavailable("metadata lock poisoned".into())),
        };
        match outcomes {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(match &e {
                        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
                        _ => StoreError::Unavailable("the upload could not be stored".into()),
                    }));
                }
            }
        }
    }
}

/// Checks, places and records each upload of the batch in one transaction (a refused one
/// does not disturb the others), flushes the data filesystem once, and commits.
fn commit_batch(
    c: &mut Connection,
    root: &Path,
    batch: &mut [AppendJob],
) -> StoreResult<Vec<StoreResult<Appended>>> {
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let mut results = Vec::with_capacity(batch.len());
    let mut placed_dirs: Vec<PathBuf> = Vec::new();
    let mut placed_files: Vec<PathBuf> = Vec::new();
    for job in batch.iter_mut() {
        let result = (|| -> StoreResult<Appended> {
            // The device is the account's (else not found), and whether it closed its log:
            // one read.
            let closed: bool = cached_row(
                &tx,
                "SELECT log_closed = 1 FROM devices WHERE id = ?1 AND account_id = ?2",
                params![job.device, job.account],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?
            .ok_or(StoreError::NotFound)?;
            let existing: Option<String> = cached_row(
                &tx,
                "SELECT hash FROM blobs WHERE device_id = ?1 AND seq = ?2",
                params![job.device, job.seq as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
            if let Some(h) = existing {
                return if h == job.hash {
                    Ok(Appended::AlreadyThere)
                } else {
                    Err(StoreError::Conflict(format!(
                        "blob {} already exists with different contents",
                        job.seq
                    )))
                };
            }
            let head: i64 = cached_row(
                &tx,
                "SELECT COALESCE(MAX(seq), 0) FROM blobs WHERE device_id = ?1",
                [&job.device],
                |r| r.get(0),
            )
            .map_err(db_err)?;
            if closed {
                return Err(StoreError::Conflict(LOG_CLOSED.into()));
            }
            if job.seq as i64 != head + 1 {
                return Err(StoreError::Conflict(format!(
                    "blob {} does not follow the log's last blob ({head}): send {}",
                    job.seq,
                    head + 1
                )));
            }
            if used_bytes(&tx, &job.account)? + charge(job.size) > job.quota {
                return Err(StoreError::QuotaExceeded);
            }
            let inline = match std::mem::replace(&mut job.bytes, Placement::Inline(Bytes::new())) {
                Placement::Inline(bytes) => Some(bytes),
                Placement::File { staged, path } => {
                    staged.rename_into(&path).map_err(io_err)?;
                    if let Some(dir) = path.parent()
                        && !placed_dirs.iter().any(|d| d == dir)
                    {
                        placed_dirs.push(dir.to_path_buf());
                    }
                    placed_files.push(path);
                    None
                }
            };
            tx.prepare_cached(
                "INSERT INTO blobs (account_id, device_id, seq, size, hash, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| st.execute(params![job.account, job.device, job.seq as i64, job.size as i64, job.hash, inline.as_deref()]))
            .map_err(db_err)?;
            Ok(Appended::Stored)
        })();
        results.push(result);
    }
    if !placed_files.is_empty() {
        flush(root, &placed_files, &placed_dirs).map_err(io_err)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(results)
}

/// Makes the placed files and their folder entries durable: one `syncfs` of the data
/// filesystem on Linux, else an fsync of each file and folder.
fn flush(root: &Path, files: &[PathBuf], dirs: &[PathBuf]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(root)?;
        // SAFETY: `syncfs` only reads the descriptor, which `f` keeps open for the call.
        if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
            return Ok(());
        }
    }
    let _ = root;
    for f in files {
        std::fs::File::open(f)?.sync_all()?;
    }
    for d in dirs {
        std::fs::File::open(d)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Modes (permission bits) of everything under `dir`, folders included.
    #[cfg(unix)]
    fn modes(dir: &Path, out: &mut Vec<(PathBuf, u32)>) {
        use std::os::unix::fs::PermissionsExt;
        out.push((
            dir.to_path_buf(),
            std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        ));
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                modes(&p, out);
            } else {
                out.push((
                    p.clone(),
                    std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                ));
            }
        }
    }

    /// TOTP secrets and password and token hashes are in `meta.db`: nobody but the server's
    /// own user may read the folder, whatever the umask, and a folder left loose by an
    /// earlier version is tightened at open.
    #[cfg(unix)]
    #[test]
    fn the_data_folder_is_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: umask only changes this process's file-creation mask.
        let previous = unsafe { libc::umask(0o022) };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(root.join("meta.db"), b"").unwrap();
        std::fs::set_permissions(root.join("meta.db"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let store = Embedded::open(&root).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let a = store.create_account("private", "hash", None).await.unwrap();
            let d = store
                .create_device(&a, "laptop", "pk", "t", None)
                .await
                .unwrap();
            let big = Bytes::from(vec![1u8; INLINE_MAX + 1]);
            store.append_blob(&a, &d, 1, big, u64::MAX).await.unwrap();
            store
                .put_snapshot(&a, "backup", Bytes::from_static(b"snap"), u64::MAX)
                .await
                .unwrap();
        });
        // SAFETY: as above.
        unsafe { libc::umask(previous) };
        let mut found = Vec::new();
        modes(&root, &mut found);
        let names: Vec<String> = found
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in ["meta.db", "meta.db-wal", "meta.db-shm"] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        assert!(names.iter().any(|n| n.ends_with(".blob")), "{names:?}");
        for (path, mode) in &found {
            let want = if path.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(*mode, want, "{} is {mode:o}", path.display());
        }
        drop(store);
    }

    /// A folder written by a v1 server (usage summed on demand) gets its running totals
    /// from what it already holds, and the triggers keep them right from then on.
    #[test]
    fn usage_totals_are_brought_in_by_the_v2_migration_and_kept_by_triggers() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO accounts (id, username, password_hash, created_at) VALUES ('a', 'ann', 'h', 't'), ('b', 'bea', 'h', 't');
             INSERT INTO devices (id, account_id, name, public_key, token_hash, created_at) VALUES ('d', 'a', 'n', 'k', 'th', 't');
             INSERT INTO blobs (account_id, device_id, seq, size, hash) VALUES ('a', 'd', 1, 100, 'x'), ('a', 'd', 2, 50, 'y');
             INSERT INTO snapshots (account_id, name, size, hash, created_at) VALUES ('a', 's', 7, 'z', 't');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        // v5: each object also costs 4096 bytes of overhead.
        assert_eq!(used_bytes(&conn, "a").unwrap(), 157 + 3 * 4096);
        // v3: blobs stored before it keep their bytes in the folder (no inline data), so
        // the sweep at start keeps their files.
        let in_folder: i64 = conn
            .query_row("SELECT count(*) FROM blobs WHERE data IS NULL", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(in_folder, 2);
        assert_eq!(used_bytes(&conn, "b").unwrap(), 0);
        conn.execute_batch(
            "INSERT INTO blobs (account_id, device_id, seq, size, hash) VALUES ('a', 'd', 3, 1000, 'w');
             UPDATE snapshots SET size = 20 WHERE account_id = 'a' AND name = 's';
             INSERT INTO snapshots (account_id, name, size, hash, created_at) VALUES ('a', 't', 3, 'v', 't');
             DELETE FROM snapshots WHERE name = 't';
             DELETE FROM blobs WHERE seq = 1;",
        )
        .unwrap();
        assert_eq!(used_bytes(&conn, "a").unwrap(), 50 + 1000 + 20 + 3 * 4096);
        let summed: i64 = conn
            .query_row(
                "SELECT (SELECT SUM(size + 4096) FROM blobs WHERE account_id = 'a') + (SELECT SUM(size + 4096) FROM snapshots WHERE account_id = 'a')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            summed,
            1070 + 3 * 4096,
            "the running total agrees with a full sum"
        );
    }
}
