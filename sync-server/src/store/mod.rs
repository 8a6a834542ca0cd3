//! Storage behind one trait, so the same story test runs against every backend.
//!
//! A backend keeps two kinds of thing: metadata (accounts, devices, invites, blob and
//! snapshot records) and blob bytes. It never looks inside a blob. Every method that touches
//! an account's data takes the account id and scopes its queries to it: that is the
//! isolation boundary, and the HTTP layer only ever passes the id of the signed-in account.

pub mod embedded;
pub mod scaleout;

use async_trait::async_trait;
pub use axum::body::Bytes;
use casebook_wire::{BlobInfo, Deleted, Device, Head, Snapshot, Usage};
use futures::stream::BoxStream;

/// What each stored blob or snapshot costs against the quota on top of its bytes: its row,
/// its file or object, and their bookkeeping. So empty or tiny objects cannot be stored
/// without limit for free. Both backends count it, in quota checks and in `/v1/usage`.
pub const OBJECT_OVERHEAD: u64 = 4096;

/// What storing an object of `size` bytes costs against the quota.
pub fn charge(size: u64) -> u64 {
    size.saturating_add(OBJECT_OVERHEAD)
}

/// Which blobs of a log [`Store::cut_log`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogCut {
    /// The device's own blobs below this seq, which a checkpoint in its log now covers
    /// (compaction). The head always stays: below past the head is a conflict.
    Below(u64),
    /// Every blob of a device revoked on purpose, or that closed its log (it left the
    /// practice's sync but keeps its token for off-site backups) — never of one only signed
    /// out by a password change, which may sign in again. Asked by another device of the
    /// account once its own checkpoint holds that log.
    Revoked,
    /// Another device's blobs up to and including this seq, which the asking device's own
    /// checkpoint holds (the log of a computer switched off since an erasure, whose blobs may
    /// hold the erased client). The blob at this seq keeps its place without its bytes, so the
    /// log's head and hash stay listed and the device appends after it when it comes back. A
    /// seq past the head is a conflict.
    Through(u64),
}

/// Why [`LogCut::Revoked`] was refused.
/// Why a cut or an emptying past a log's head (`head`) is refused: one message per kind of cut.
pub(crate) fn beyond_head(cut: LogCut, head: i64) -> String {
    match cut {
        LogCut::Below(n) => {
            format!("the log's last blob ({head}) always stays: cut below {n} refused")
        }
        LogCut::Through(n) => format!("the log ends at {head}: removing through {n} refused"),
        LogCut::Revoked => format!("the log ends at {head}"),
    }
}

pub const REVOKED_ONLY: &str = "only the log of a computer removed from the practice, or one that closed its log, is removed whole";

/// Why a blob was refused from a device that closed its log.
pub const LOG_CLOSED: &str =
    "this computer closed its log (it left the practice's sync): it takes no more changes";

/// A snapshot's bytes as they are read, chunk by chunk (never the whole snapshot at once).
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the account's storage quota is full")]
    QuotaExceeded,
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// An invite-only sign-up whose invite is unknown, used or expired.
    #[error("the invite is missing, used or expired")]
    InviteInvalid,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What the sign-in path needs about an account.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: String,
    pub password_hash: String,
    /// The TOTP secret (raw bytes) once enrolment has started.
    pub totp_secret: Option<Vec<u8>>,
    /// TOTP confirmed and required at sign-in.
    pub totp_enabled: bool,
    pub username: String,
}

/// Who a live token belongs to.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub account: String,
    pub device: String,
    pub totp_enabled: bool,
}

/// The outcome of appending to a device's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored as a new blob.
    Stored,
    /// The same bytes were already stored at this seq (a retried upload).
    AlreadyThere,
}

/// Metadata and blob storage for the server.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account; `Conflict` if the username is taken. With `invite` (the hash of
    /// its token, and the time now) the invite is used up in the same transaction, and
    /// checked first: `InviteInvalid` if it is unknown, used or expired at `now` (whatever
    /// the name), and a taken name leaves the invite unused.
    async fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        invite: Option<(&str, &str)>,
    ) -> StoreResult<String>;
    async fn account_by_username(&self, username: &str) -> StoreResult<Option<AccountRecord>>;
    /// Removes the account and everything it owns, at once.
    async fn delete_account(&self, account: &str) -> StoreResult<Deleted>;

    /// Records an invite (by the hash of its token) valid until `expires_at` (RFC 3339).
    async fn create_invite(&self, token_hash: &str, expires_at: &str) -> StoreResult<()>;
    /// Whether an invite could be used at `now` (known, unused, unexpired), without using it.
    async fn invite_usable(&self, token_hash: &str, now: &str) -> StoreResult<bool>;

    /// Enrols a device with a fresh token and returns its id. With `replaces` (the hash of
    /// the token the caller holds), a device of the account with that live token and the
    /// same public key is the same computer signing in again: it keeps its id, takes the new
    /// name and token, and its old token stops working. Otherwise a new device.
    async fn create_device(
        &self,
        account: &str,
        name: &str,
        public_key: &str,
        token_hash: &str,
        replaces: Option<&str>,
    ) -> StoreResult<String>;
    /// The (account, device) a live token belongs to.
    async fn device_for_token(&self, token_hash: &str) -> StoreResult<Option<TokenOwner>>;
    async fn list_devices(&self, account: &str) -> StoreResult<Vec<Device>>;
    /// Records that `device` was seen at `at` (a request answered).
    async fn touch_device(&self, account: &str, device: &str, at: &str) -> StoreResult<()>;
    /// Closes a device's log (it left the practice's sync): it takes no more blobs from it, and
    /// [`LogCut::Revoked`] may then remove it. `NotFound` if it is not the account's.
    async fn close_log(&self, account: &str, device: &str) -> StoreResult<()>;
    /// Revokes one of the account's devices; `NotFound` if it is not theirs.
    async fn revoke_device(&self, account: &str, device: &str) -> StoreResult<()>;
    /// Stores a new password hash and revokes every device of the account but `keep`, in
    /// one transaction; how many devices were revoked.
    async fn change_password(
        &self,
        account: &str,
        password_hash: &str,
        keep: &str,
    ) -> StoreResult<u64>;

    /// Appends blob `seq` to the device's log: it must follow the last one (seq n+1 after n);
    /// an identical re-upload of an existing seq is accepted, anything else is a conflict.
    async fn append_blob(
        &self,
        account: &str,
        device: &str,
        seq: u64,
        bytes: Bytes,
        quota: u64,
    ) -> StoreResult<Appended>;
    /// Removes blobs of one of the account's logs (see [`LogCut`]); `NotFound` if the device
    /// is not the account's. Cutting what is already cut removes nothing.
    async fn cut_log(&self, account: &str, device: &str, cut: LogCut) -> StoreResult<Deleted>;
    /// The last blob of every device of the account.
    async fn heads(&self, account: &str) -> StoreResult<Vec<Head>>;
    /// Whether other server processes may append to the same storage (so a long-poll on
    /// heads must also re-read them now and then: `watch::CROSS_INSTANCE_RECHECK`).
    fn shared_between_instances(&self) -> bool {
        false
    }
    /// What [`Store::blob_range`] with the same arguments returns, without the bytes (so
    /// the caller can reserve memory for them first). Blobs are never changed once stored.
    async fn blob_infos(
        &self,
        account: &str,
        device: &str,
        from: u64,
        limit: u64,
        max_bytes: u64,
    ) -> StoreResult<Vec<BlobInfo>>;
    /// Blobs `from..from+limit` of one of the account's devices, stopping once `max_bytes`
    /// is reached (always at least one blob, if there is one).
    async fn blob_range(
        &self,
        account: &str,
        device: &str,
        from: u64,
        limit: u64,
        max_bytes: u64,
    ) -> StoreResult<Vec<(BlobInfo, Vec<u8>)>>;

    async fn put_snapshot(
        &self,
        account: &str,
        name: &str,
        bytes: Bytes,
        quota: u64,
    ) -> StoreResult<Snapshot>;
    /// A snapshot's size and its bytes as a stream (read as they are sent).
    async fn open_snapshot(&self, account: &str, name: &str) -> StoreResult<(u64, ByteStream)>;
    /// A snapshot's bytes, all at once (for tests and tools; the API streams them).
    async fn get_snapshot(&self, account: &str, name: &str) -> StoreResult<Vec<u8>> {
        use futures::TryStreamExt;
        let (size, stream) = self.open_snapshot(account, name).await?;
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        stream
            .try_for_each(|chunk| {
                out.extend_from_slice(&chunk);
                futures::future::ready(Ok(()))
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(out)
    }
    async fn list_snapshots(&self, account: &str) -> StoreResult<Vec<Snapshot>>;
    async fn delete_snapshot(&self, account: &str, name: &str) -> StoreResult<()>;

    async fn usage(&self, account: &str) -> StoreResult<u64>;

    async fn account_by_id(&self, account: &str) -> StoreResult<Option<AccountRecord>>;
    /// Stores a new, not yet confirmed TOTP secret (replacing an unconfirmed one).
    async fn set_totp_secret(&self, account: &str, secret: &[u8]) -> StoreResult<()>;
    /// Turns TOTP on for the secret that was confirmed (`Conflict` if it changed meanwhile or
    /// TOTP is already on) and stores the hashes of fresh recovery codes.
    async fn enable_totp(
        &self,
        account: &str,
        confirmed_secret: &[u8],
        recovery_code_hashes: &[String],
    ) -> StoreResult<()>;
    /// Turns TOTP off: the secret and every recovery code are forgotten.
    async fn disable_totp(&self, account: &str) -> StoreResult<()>;
    /// Records that TOTP time step `step` was used; false if it (or a later one) already was,
    /// which is how a replayed code is refused.
    async fn use_totp_step(&self, account: &str, step: u64) -> StoreResult<bool>;
    /// Uses up a recovery code; false if unknown or used.
    async fn use_recovery_code(&self, account: &str, code_hash: &str) -> StoreResult<bool>;

    /// Stores a registered passkey (`passkey`: webauthn-rs's record of it, as JSON; the
    /// public key and counter, no secret). `Conflict` if its credential id is already known,
    /// or if the account already has `max` passkeys (counted in the same transaction, so
    /// registrations finishing together cannot pass the cap).
    async fn add_passkey(
        &self,
        account: &str,
        name: &str,
        credential_id: &str,
        passkey: &str,
        max: usize,
    ) -> StoreResult<PasskeyRecord>;
    /// The account's passkeys, oldest first.
    async fn passkeys(&self, account: &str) -> StoreResult<Vec<PasskeyRecord>>;
    /// After a sign-in with it: the updated record (counter) and when it was used.
    async fn passkey_used(
        &self,
        account: &str,
        id: &str,
        passkey: &str,
        at: &str,
    ) -> StoreResult<()>;
    /// Removes one of the account's passkeys; `NotFound` if it has no such passkey.
    async fn delete_passkey(&self, account: &str, id: &str) -> StoreResult<()>;
}

/// The passkeys table, the same in both backends' schemas (embedded v4, PostgreSQL v2):
/// a WebAuthn credential's public key and counter, never a secret.
pub(crate) const PASSKEYS_TABLE: &str = r#"
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    passkey TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX passkeys_by_account ON passkeys(account_id);
"#;

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: String,
}

impl PasskeyRecord {
    /// A passkey being registered now, under a fresh id.
    pub(crate) fn new(name: &str, passkey: &str) -> PasskeyRecord {
        PasskeyRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            created_at: crate::now(),
            last_used_at: None,
            passkey: passkey.to_string(),
        }
    }

    /// The refusal when the credential is registered already (to this or another account).
    pub(crate) fn taken() -> StoreError {
        StoreError::Conflict("that passkey is already registered".into())
    }

    /// The refusal when the account has `max` passkeys already.
    pub(crate) fn too_many(max: usize) -> StoreError {
        StoreError::Conflict(format!(
            "an account can have at most {max} passkeys: remove one first"
        ))
    }
}

/// Opens the backend the configuration names: `data` (embedded) or `[postgres]` with
/// `[object_store]` (scale-out). Call after [`crate::config::Config::locations`] passed.
pub async fn open(cfg: &crate::config::Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    match (&cfg.data, &cfg.postgres, &cfg.object_store) {
        (Some(dir), None, None) => Ok(std::sync::Arc::new(embedded::Embedded::open(dir)?)),
        (None, Some(pg), Some(os)) => {
            Ok(std::sync::Arc::new(scaleout::ScaleOut::open(pg, os).await?))
        }
        _ => anyhow::bail!("no single storage backend is configured"),
    }
}

/// Usage figures for the API.
pub fn usage(used: u64, quota: u64, max_blob: u64) -> Usage {
    Usage {
        used_bytes: used,
        quota_bytes: quota,
        max_blob_bytes: max_blob,
    }
}
