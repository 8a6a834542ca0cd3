//! The scale-out backend: PostgreSQL for metadata and an S3-compatible bucket (Garage, AWS
//! S3, …) for blob bytes, so several stateless server instances can run behind a load
//! balancer.
//!
//! Every upload attempt writes its own object, under a key no other attempt uses
//! (`blobs/{account}/{device}/{seq}-{uuid}`, `snapshots/{account}/{sha(name)}-{uuid}`), and
//! the row records that key: an object a row points to is never overwritten or removed by
//! another request. An upload puts its object first (S3 acknowledges only durable writes)
//! and then records the row in one PostgreSQL transaction that locks the account row, so the
//! seq rule and the quota hold across instances. A refused (or already stored) upload
//! removes its own object again; when PostgreSQL cannot say whether the row was committed
//! the object is kept (it may be the acknowledged one). Deleting rows and deleting bytes cannot
//! be one transaction: the keys to delete are written to `purges` in the same transaction
//! that removes the rows, and removed from it once the bucket has dropped them, at once or
//! at the next start.

use std::sync::Arc;

use async_trait::async_trait;
use casebook_wire::{BlobInfo, Deleted, Device, Head, Snapshot};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;

use super::{
    AccountRecord, Appended, ByteStream, Bytes, LOG_CLOSED, LogCut, PasskeyRecord, REVOKED_ONLY,
    Store, StoreError, StoreResult, TokenOwner, charge,
};
use crate::config::{ObjectStoreConfig, PostgresConfig};
use crate::now;

/// The metadata schema, one entry per version (the `schema_version` table). Entries are
/// never edited once released; a change is a new entry.
const MIGRATIONS: &[&str] = &[
    SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6, SCHEMA_V7,
];

const SCHEMA_V1: &str = r#"
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    totp_secret BYTEA,
    totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account_id, code_hash)
);
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX devices_by_account ON devices(account_id);
CREATE TABLE blobs (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    size BIGINT NOT NULL,
    hash TEXT NOT NULL,
    object TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX blobs_by_account ON blobs(account_id);
CREATE TABLE snapshots (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    hash TEXT NOT NULL,
    object TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE purges (
    key TEXT PRIMARY KEY,
    is_prefix BOOLEAN NOT NULL
);
-- Each account's bytes in use, kept on its row, so an upload's quota check reads one row.
ALTER TABLE accounts ADD COLUMN used_bytes BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION casebook_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE accounts SET used_bytes = used_bytes + NEW.size WHERE id = NEW.account_id;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE accounts SET used_bytes = used_bytes - OLD.size WHERE id = OLD.account_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER blobs_usage AFTER INSERT OR UPDATE OF size OR DELETE ON blobs
    FOR EACH ROW EXECUTE FUNCTION casebook_usage();
CREATE TRIGGER snapshots_usage AFTER INSERT OR UPDATE OF size OR DELETE ON snapshots
    FOR EACH ROW EXECUTE FUNCTION casebook_usage();
"#;

/// v2: passkeys (WebAuthn credentials: public key and counter, never a secret).
const SCHEMA_V2: &str = super::PASSKEYS_TABLE;

/// v3: every blob and snapshot costs [`super::OBJECT_OVERHEAD`] (4096) bytes on top of its
/// size, so empty or tiny objects are not free; the totals are recomputed to match. (On an
/// update of `size` the overhead is added and taken away again, so it is counted once.)
/// v5: devices signed out by a password change (not revoked one by one) may sign in again
/// with their last token and keep their id and log.
const SCHEMA_V5: &str = r#"
ALTER TABLE devices ADD COLUMN signed_out_by_password BOOLEAN NOT NULL DEFAULT FALSE;
"#;

/// v6: a device that left the practice's sync closes its log: it takes no more blobs, and
/// another device of the account may remove it (as a revoked device's).
const SCHEMA_V6: &str = r#"
ALTER TABLE devices ADD COLUMN log_closed BOOLEAN NOT NULL DEFAULT FALSE;
"#;

/// v7: a blob whose bytes another device had removed (its checkpoint holds them) keeps its
/// row — its seq and hash, so the log's head stays listed — but is never served; its object
/// is purged.
const SCHEMA_V7: &str = r#"
ALTER TABLE blobs ADD COLUMN emptied BOOLEAN NOT NULL DEFAULT FALSE;
"#;

/// v4: when each device was last seen (a request answered), to the minute.
const SCHEMA_V4: &str = r#"
ALTER TABLE devices ADD COLUMN last_seen_at TEXT;
"#;

const SCHEMA_V3: &str = r#"
CREATE OR REPLACE FUNCTION casebook_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE accounts SET used_bytes = used_bytes + NEW.size + 4096 WHERE id = NEW.account_id;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE accounts SET used_bytes = used_bytes - OLD.size - 4096 WHERE id = OLD.account_id;
    END IF;
    RETURN NULL;
END $$;
UPDATE accounts SET used_bytes =
    (SELECT COALESCE(SUM(size + 4096), 0) FROM blobs WHERE account_id = accounts.id)
  + (SELECT COALESCE(SUM(size + 4096), 0) FROM snapshots WHERE account_id = accounts.id);
"#;

/// PostgreSQL + object storage.
pub struct ScaleOut {
    pool: Pool,
    objects: Arc<dyn ObjectStore>,
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(format!("the metadata database: {e}"))
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("the metadata database: {e}"))
}

fn object_err(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => {
            StoreError::Unavailable("a stored object is missing from the bucket".into())
        }
        e => StoreError::Unavailable(format!("the object store: {e}")),
    }
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fresh key for one upload attempt of blob `seq`.
fn blob_key(account: &str, device: &str, seq: u64) -> Key {
    Key::from(format!(
        "blobs/{account}/{device}/{seq:020}-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

/// A fresh key for one version of a named snapshot (the name's hash: no name can shape a key).
fn snapshot_key(account: &str, name: &str) -> Key {
    Key::from(format!(
        "snapshots/{account}/{}-{}",
        sha256_hex(name.as_bytes()),
        uuid::Uuid::new_v4().simple()
    ))
}

fn account_prefixes(account: &str) -> [String; 2] {
    [format!("blobs/{account}/"), format!("snapshots/{account}/")]
}

/// The S3 client for `cfg`: path-style requests (what Garage and most S3-compatible
/// services expect), short retries so an outage shows as a clean error quickly.
pub fn object_store(cfg: &ObjectStoreConfig) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(&cfg.bucket)
        .with_region(&cfg.region)
        .with_retry(object_store::RetryConfig {
            backoff: object_store::BackoffConfig::default(),
            max_retries: 2,
            retry_timeout: std::time::Duration::from_secs(10),
        })
        .with_client_options(
            object_store::ClientOptions::new()
                .with_timeout(std::time::Duration::from_secs(30))
                .with_connect_timeout(std::time::Duration::from_secs(5)),
        );
    if let Some(endpoint) = &cfg.endpoint {
        b = b
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
        b = b.with_access_key_id(id).with_secret_access_key(secret);
    }
    let s3: Arc<dyn ObjectStore> = Arc::new(b.build()?);
    Ok(match cfg.prefix.as_deref().map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => Arc::new(PrefixStore::new(s3, p)),
        _ => s3,
    })
}

impl ScaleOut {
    /// `UPDATE devices SET <set>` on one of the account's devices; `NotFound` if it is not
    /// theirs. (`set` is a constant of this file, never input.)
    async fn set_on_device(
        &self,
        account: &str,
        device: &str,
        set: &'static str,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                &format!("UPDATE devices SET {set} WHERE id = $1 AND account_id = $2"),
                &[&device, &account],
            )
            .await
            .map_err(pg_err)?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
    /// Connects, brings the schema up to date (one instance at a time) and finishes any
    /// deletions of bytes a previous run left pending.
    pub async fn open(pg: &PostgresConfig, os: &ObjectStoreConfig) -> anyhow::Result<ScaleOut> {
        let pg_config: tokio_postgres::Config = pg
            .url
            .parse()
            .map_err(|e| anyhow::anyhow!("postgres.url is not a PostgreSQL address: {e}"))?;
        let manager = Manager::from_config(
            pg_config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pg.pool_size.max(1))
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()?;
        let store = ScaleOut {
            pool,
            objects: object_store(os)?,
        };
        store.migrate().await?;
        store.purge_pending().await;
        Ok(store)
    }

    /// Applies the schema versions this database lacks, under an advisory lock so instances
    /// starting together do not race; refuses a database written by a newer server.
    async fn migrate(&self) -> anyhow::Result<()> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(8787001)", &[])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .await?;
        let found: i32 = tx
            .query_opt("SELECT version FROM schema_version", &[])
            .await?
            .map(|r| r.get(0))
            .unwrap_or(0);
        let known = MIGRATIONS.len() as i32;
        if found > known {
            anyhow::bail!(
                "the database was written by a newer casebook-sync (metadata schema {found}; this build knows {known}): update the server"
            );
        }
        for sql in MIGRATIONS.iter().skip(found.max(0) as usize) {
            tx.batch_execute(sql).await?;
        }
        tx.execute("DELETE FROM schema_version", &[]).await?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&known],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Deletes from the bucket every key (or prefix) recorded in `purges`, forgetting each
    /// once done. Failures are left for the next call: rows are already gone, so nothing
    /// is served meanwhile.
    async fn purge_pending(&self) {
        let Ok(c) = self.client().await else { return };
        let Ok(rows) = c.query("SELECT key, is_prefix FROM purges", &[]).await else {
            return;
        };
        for row in rows {
            let (key, is_prefix): (String, bool) = (row.get(0), row.get(1));
            if self.delete_objects(&key, is_prefix).await.is_ok() {
                let _ = c
                    .execute("DELETE FROM purges WHERE key = $1", &[&key])
                    .await;
            } else {
                tracing::warn!("object deletion left pending; retried at the next start");
            }
        }
    }

    async fn delete_objects(&self, key: &str, is_prefix: bool) -> object_store::Result<()> {
        if !is_prefix {
            return match self.objects.delete(&Key::from(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            };
        }
        let prefix = Key::from(key.trim_end_matches('/'));
        let keys = self
            .objects
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        self.objects
            .delete_stream(keys)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    /// Removes an object a refused upload had put (best effort: an orphan is harmless, its
    /// key is never reused for other bytes).
    async fn discard(&self, key: &Key) {
        let _ = self.objects.delete(key).await;
    }

    /// The blobs a range returns, with their object keys: at most `limit` from `from`,
    /// stopping before `max_bytes` (one at least).
    async fn chosen_blobs(
        &self,
        account: &str,
        device: &str,
        from: u64,
        limit: u64,
        max_bytes: u64,
    ) -> StoreResult<Vec<(BlobInfo, Key)>> {
        let c = self.client().await?;
        if !owns_device(&c, account, device).await? {
            return Err(StoreError::NotFound);
        }
        let rows = c
            .query(
                "SELECT seq, size, hash, object FROM blobs WHERE device_id = $1 AND account_id = $2 AND seq >= $3 AND NOT emptied ORDER BY seq LIMIT $4",
                &[&device, &account, &seq_i64(from), &seq_i64(limit)],
            )
            .await
            .map_err(pg_err)?;
        // A byte budget, so one request cannot pull gigabytes into memory.
        let mut chosen = Vec::new();
        let mut total = 0u64;
        for r in &rows {
            let info = BlobInfo {
                seq: r.get::<_, i64>(0) as u64,
                size: r.get::<_, i64>(1) as u64,
                hash: r.get(2),
            };
            if !chosen.is_empty() && total + info.size > max_bytes {
                break;
            }
            total += info.size;
            chosen.push((info, Key::from(r.get::<_, String>(3))));
        }
        Ok(chosen)
    }

    async fn get_bytes(&self, key: &Key) -> StoreResult<Vec<u8>> {
        let got = self.objects.get(key).await.map_err(object_err)?;
        Ok(got.bytes().await.map_err(object_err)?.to_vec())
    }
}

const ACCOUNT_COLUMNS: &str = "id, password_hash, totp_secret, totp_enabled, username";

fn account_row(r: &tokio_postgres::Row) -> AccountRecord {
    AccountRecord {
        id: r.get(0),
        password_hash: r.get(1),
        totp_secret: r.get(2),
        totp_enabled: r.get(3),
        username: r.get(4),
    }
}

async fn owns_device(
    c: &impl deadpool_postgres::GenericClient,
    account: &str,
    device: &str,
) -> StoreResult<bool> {
    c.query_one(
        "SELECT EXISTS(SELECT 1 FROM devices WHERE id = $1 AND account_id = $2)",
        &[&device, &account],
    )
    .await
    .map(|r| r.get(0))
    .map_err(pg_err)
}

async fn used_bytes(c: &impl deadpool_postgres::GenericClient, account: &str) -> StoreResult<u64> {
    // Kept up to date by the usage triggers.
    let n: i64 = c
        .query_opt("SELECT used_bytes FROM accounts WHERE id = $1", &[&account])
        .await
        .map_err(pg_err)?
        .map_or(0, |r| r.get(0));
    Ok(n.max(0) as u64)
}

/// Locks the account's row for the rest of the transaction (uploads of one account are
/// checked one at a time, across every instance); `NotFound` if it is gone.
async fn lock_account(tx: &deadpool_postgres::Transaction<'_>, account: &str) -> StoreResult<()> {
    tx.query_opt(
        "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE",
        &[&account],
    )
    .await
    .map_err(pg_err)?
    .map(|_| ())
    .ok_or(StoreError::NotFound)
}

/// The hash of blob `seq` of `device`, if it is stored.
async fn stored_hash(
    c: &impl deadpool_postgres::GenericClient,
    device: &str,
    seq: i64,
) -> StoreResult<Option<String>> {
    c.query_opt(
        "SELECT hash FROM blobs WHERE device_id = $1 AND seq = $2",
        &[&device, &seq],
    )
    .await
    .map(|row| row.map(|r| r.get(0)))
    .map_err(pg_err)
}

/// A seq as PostgreSQL stores it.
fn seq_i64(seq: u64) -> i64 {
    seq.min(i64::MAX as u64) as i64
}

#[async_trait]
impl Store for ScaleOut {
    async fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        invite: Option<(&str, &str)>,
    ) -> StoreResult<String> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        if let Some((token, at)) = invite {
            // The row lock taken by the UPDATE makes a second sign-up with the same invite
            // wait for this one, then find it used.
            let used = tx
                .execute(
                    "UPDATE invites SET used = TRUE WHERE token_hash = $1 AND NOT used AND expires_at > $2",
                    &[&token, &at],
                )
                .await
                .map_err(pg_err)?;
            if used != 1 {
                return Err(StoreError::InviteInvalid);
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        match tx
            .execute(
                "INSERT INTO accounts (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                &[&id, &username, &password_hash, &now()],
            )
            .await
        {
            Ok(_) => {}
            // Dropped without commit: rolled back, the invite stays unused.
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict("that username is taken".into()));
            }
            Err(e) => return Err(pg_err(e)),
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(id)
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<AccountRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1"),
                &[&username],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.as_ref().map(account_row))
    }

    async fn delete_account(&self, account: &str) -> StoreResult<Deleted> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        lock_account(&tx, account).await?;
        let row = tx
            .query_one(
                "SELECT ((SELECT count(*) FROM blobs WHERE account_id = $1) + (SELECT count(*) FROM snapshots WHERE account_id = $1))::BIGINT,
                        ((SELECT COALESCE(SUM(size), 0) FROM blobs WHERE account_id = $1) + (SELECT COALESCE(SUM(size), 0) FROM snapshots WHERE account_id = $1))::BIGINT",
                &[&account],
            )
            .await
            .map_err(pg_err)?;
        let (blobs, bytes): (i64, i64) = (row.get(0), row.get(1));
        for prefix in account_prefixes(account) {
            tx.execute(
                "INSERT INTO purges (key, is_prefix) VALUES ($1, TRUE) ON CONFLICT DO NOTHING",
                &[&prefix],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.execute("DELETE FROM accounts WHERE id = $1", &[&account])
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        // Rows are gone (nothing is served); now the bytes.
        self.purge_pending().await;
        Ok(Deleted {
            blobs_removed: blobs.max(0) as u64,
            bytes_removed: bytes.max(0) as u64,
        })
    }

    async fn create_invite(&self, token_hash: &str, expires_at: &str) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO invites (token_hash, expires_at) VALUES ($1, $2)",
            &[&token_hash, &expires_at],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn invite_usable(&self, token_hash: &str, now: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        c.query_one(
            "SELECT EXISTS(SELECT 1 FROM invites WHERE token_hash = $1 AND NOT used AND expires_at > $2)",
            &[&token_hash, &now],
        )
        .await
        .map(|r| r.get(0))
        .map_err(pg_err)
    }

    async fn create_device(
        &self,
        account: &str,
        name: &str,
        public_key: &str,
        token_hash: &str,
        replaces: Option<&str>,
    ) -> StoreResult<String> {
        let c = self.client().await?;
        // The same device signing in again (its live token, same key) gets a new token in
        // place of the old one, not a second entry in the device list.
        if let Some(old) = replaces
            && let Some(row) = c
                .query_opt(
                    "UPDATE devices SET token_hash = $1, name = $2, revoked = FALSE, signed_out_by_password = FALSE
                     WHERE account_id = $3 AND public_key = $4 AND token_hash = $5 AND (NOT revoked OR signed_out_by_password) RETURNING id",
                    &[&token_hash, &name, &account, &public_key, &old],
                )
                .await
                .map_err(pg_err)?
        {
            return Ok(row.get(0));
        }
        let id = uuid::Uuid::new_v4().to_string();
        c.execute(
            "INSERT INTO devices (id, account_id, name, public_key, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &account, &name, &public_key, &token_hash, &now()],
        )
        .await
        .map_err(pg_err)?;
        Ok(id)
    }

    async fn device_for_token(&self, token_hash: &str) -> StoreResult<Option<TokenOwner>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT d.account_id, d.id, a.totp_enabled FROM devices d JOIN accounts a ON a.id = d.account_id
                 WHERE d.token_hash = $1 AND NOT d.revoked",
                &[&token_hash],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.map(|r| TokenOwner {
            account: r.get(0),
            device: r.get(1),
            totp_enabled: r.get(2),
        }))
    }

    async fn list_devices(&self, account: &str) -> StoreResult<Vec<Device>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, name, public_key, created_at, revoked, last_seen_at FROM devices WHERE account_id = $1 ORDER BY created_at",
                &[&account],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Device {
                id: r.get(0),
                name: r.get(1),
                public_key: r.get(2),
                created_at: r.get(3),
                revoked: r.get(4),
                last_seen_at: r.get(5),
            })
            .collect())
    }

    async fn touch_device(&self, account: &str, device: &str, at: &str) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE devices SET last_seen_at = $3 WHERE id = $1 AND account_id = $2",
            &[&device, &account, &at],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn close_log(&self, account: &str, device: &str) -> StoreResult<()> {
        self.set_on_device(account, device, "log_closed = TRUE")
            .await
    }

    async fn revoke_device(&self, account: &str, device: &str) -> StoreResult<()> {
        self.set_on_device(
            account,
            device,
            "revoked = TRUE, signed_out_by_password = FALSE",
        )
        .await
    }

    async fn change_password(
        &self,
        account: &str,
        password_hash: &str,
        keep: &str,
    ) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = tx
            .execute(
                "UPDATE accounts SET password_hash = $2 WHERE id = $1",
                &[&account, &password_hash],
            )
            .await
            .map_err(pg_err)?;
        if n != 1 {
            return Err(StoreError::NotFound);
        }
        let revoked = tx
            .execute(
                "UPDATE devices SET revoked = TRUE, signed_out_by_password = TRUE WHERE account_id = $1 AND id <> $2 AND NOT revoked",
                &[&account, &keep],
            )
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(revoked)
    }

    async fn append_blob(
        &self,
        account: &str,
        device: &str,
        seq: u64,
        bytes: Bytes,
        quota: u64,
    ) -> StoreResult<Appended> {
        let hash = sha256_hex(&bytes);
        let seq_db = seq_i64(seq);
        let size = bytes.len() as i64;
        // Cheap checks first, so a retry or someone else's device costs no object write.
        {
            let c = self.client().await?;
            if !owns_device(&c, account, device).await? {
                return Err(StoreError::NotFound);
            }
            if let Some(existing) = stored_hash(&c, device, seq_db).await? {
                return same_or_conflict(&existing, &hash, seq);
            }
        }
        let key = blob_key(account, device, seq);
        self.objects
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(object_err)?;
        let outcome = async {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            lock_account(&tx, account).await?;
            // The device is the account's (else not found), and whether it closed its log:
            // one read.
            let closed: bool = tx
                .query_opt(
                    "SELECT log_closed FROM devices WHERE id = $1 AND account_id = $2",
                    &[&device, &account],
                )
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound)?
                .get(0);
            if let Some(existing) = stored_hash(&tx, device, seq_db).await? {
                return same_or_conflict(&existing, &hash, seq);
            }
            let head: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(seq), 0) FROM blobs WHERE device_id = $1",
                    &[&device],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            if closed {
                return Err(StoreError::Conflict(LOG_CLOSED.into()));
            }
            if seq_db != head + 1 {
                return Err(StoreError::Conflict(format!(
                    "blob {seq} does not follow the log's last blob ({head}): send {}",
                    head + 1
                )));
            }
            if used_bytes(&tx, account).await? + charge(size as u64) > quota {
                return Err(StoreError::QuotaExceeded);
            }
            tx.execute(
                "INSERT INTO blobs (account_id, device_id, seq, size, hash, object) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&account, &device, &seq_db, &size, &hash, &key.to_string()],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(Appended::Stored)
        }
        .await;
        // Refused, or the same bytes already stored under another attempt's key: nothing
        // points to this attempt's object. Unavailable: whether the commit happened is
        // unknown, so the object stays.
        if matches!(
            outcome,
            Ok(Appended::AlreadyThere)
                | Err(StoreError::Conflict(_) | StoreError::QuotaExceeded | StoreError::NotFound)
        ) {
            self.discard(&key).await;
        }
        outcome
    }

    fn shared_between_instances(&self) -> bool {
        true
    }

    async fn cut_log(&self, account: &str, device: &str, cut: LogCut) -> StoreResult<Deleted> {
        let gone = {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            lock_account(&tx, account).await?;
            if !owns_device(&tx, account, device).await? {
                return Err(StoreError::NotFound);
            }
            let below = match cut {
                // Cut below a seq (its own log: the last blob always stays) or empty through
                // one (another's: up to its last blob at most).
                LogCut::Below(n) | LogCut::Through(n) => {
                    let n = seq_i64(n);
                    let head: i64 = tx
                        .query_one(
                            "SELECT COALESCE(MAX(seq), 0) FROM blobs WHERE device_id = $1",
                            &[&device],
                        )
                        .await
                        .map_err(pg_err)?
                        .get(0);
                    if n > head {
                        return Err(StoreError::Conflict(super::beyond_head(cut, head)));
                    }
                    n
                }
                LogCut::Revoked => {
                    let revoked: bool = tx
                        .query_one(
                            "SELECT (revoked AND NOT signed_out_by_password) OR log_closed FROM devices WHERE id = $1 AND account_id = $2",
                            &[&device, &account],
                        )
                        .await
                        .map_err(pg_err)?
                        .get(0);
                    if !revoked {
                        return Err(StoreError::Conflict(REVOKED_ONLY.into()));
                    }
                    i64::MAX
                }
            };
            // Emptying through a seq: that blob's row stays (its seq and hash), its object goes
            // and its size becomes 0 (no longer counted against the quota; the trigger follows).
            let emptied: Option<(String, i64)> = match cut {
                LogCut::Through(_) => tx
                    .query_opt(
                        "UPDATE blobs SET emptied = TRUE, size = 0 FROM (
                             SELECT size AS old_size FROM blobs
                             WHERE device_id = $1 AND account_id = $2 AND seq = $3 AND NOT emptied FOR UPDATE
                         ) AS old
                         WHERE device_id = $1 AND account_id = $2 AND seq = $3 AND NOT emptied
                         RETURNING object, old.old_size",
                        &[&device, &account, &below],
                    )
                    .await
                    .map_err(pg_err)?
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))),
                _ => None,
            };
            let rows = tx
                .query(
                    "DELETE FROM blobs WHERE device_id = $1 AND account_id = $2 AND seq < $3 RETURNING size, object",
                    &[&device, &account, &below],
                )
                .await
                .map_err(pg_err)?;
            let objects = rows
                .iter()
                .map(|r| r.get::<_, String>(1))
                .chain(emptied.as_ref().map(|(object, _)| object.clone()));
            for object in objects {
                tx.execute(
                    "INSERT INTO purges (key, is_prefix) VALUES ($1, FALSE) ON CONFLICT DO NOTHING",
                    &[&object],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)?;
            Deleted {
                blobs_removed: rows.len() as u64 + u64::from(emptied.is_some()),
                bytes_removed: rows
                    .iter()
                    .map(|r| r.get::<_, i64>(0).max(0) as u64)
                    .sum::<u64>()
                    + emptied
                        .as_ref()
                        .map_or(0, |(_, size)| (*size).max(0) as u64),
            }
        };
        // Rows are gone (nothing is served); now the objects.
        self.purge_pending().await;
        Ok(gone)
    }

    async fn heads(&self, account: &str) -> StoreResult<Vec<Head>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT DISTINCT ON (device_id) device_id, seq, hash FROM blobs
                 WHERE account_id = $1 ORDER BY device_id, seq DESC",
                &[&account],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Head {
                device_id: r.get(0),
                seq: r.get::<_, i64>(1) as u64,
                hash: r.get(2),
            })
            .collect())
    }

    async fn blob_infos(
        &self,
        account: &str,
        device: &str,
        from: u64,
        limit: u64,
        max_bytes: u64,
    ) -> StoreResult<Vec<BlobInfo>> {
        Ok(self
            .chosen_blobs(account, device, from, limit, max_bytes)
            .await?
            .into_iter()
            .map(|(info, _)| info)
            .collect())
    }

    async fn blob_range(
        &self,
        account: &str,
        device: &str,
        from: u64,
        limit: u64,
        max_bytes: u64,
    ) -> StoreResult<Vec<(BlobInfo, Vec<u8>)>> {
        let chosen = self
            .chosen_blobs(account, device, from, limit, max_bytes)
            .await?;
        futures::stream::iter(chosen)
            .map(|(info, key)| async move {
                let bytes = self.get_bytes(&key).await?;
                Ok((info, bytes))
            })
            .buffered(8)
            .try_collect()
            .await
    }

    async fn put_snapshot(
        &self,
        account: &str,
        name: &str,
        bytes: Bytes,
        quota: u64,
    ) -> StoreResult<Snapshot> {
        {
            // Someone else's (or a deleted) account stores nothing.
            let c = self.client().await?;
            if c.query_opt("SELECT 1 FROM accounts WHERE id = $1", &[&account])
                .await
                .map_err(pg_err)?
                .is_none()
            {
                return Err(StoreError::NotFound);
            }
        }
        let key = snapshot_key(account, name);
        let snap = Snapshot {
            name: name.to_string(),
            size: bytes.len() as u64,
            hash: sha256_hex(&bytes),
            created_at: now(),
        };
        self.objects
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(object_err)?;
        // Ok(true) when an earlier version was replaced (its object is queued for deletion).
        let outcome: StoreResult<bool> = async {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            lock_account(&tx, account).await?;
            let previous = tx
                .query_opt(
                    "SELECT size, object FROM snapshots WHERE account_id = $1 AND name = $2",
                    &[&account, &name],
                )
                .await
                .map_err(pg_err)?
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
            // A replaced version gives back what it cost; a new name costs its overhead too.
            let previous_cost = previous.as_ref().map_or(0, |p| charge(p.0.max(0) as u64));
            if used_bytes(&tx, account).await?.saturating_sub(previous_cost) + charge(snap.size)
                > quota
            {
                return Err(StoreError::QuotaExceeded);
            }
            if let Some((_, old)) = &previous {
                tx.execute(
                    "INSERT INTO purges (key, is_prefix) VALUES ($1, FALSE) ON CONFLICT DO NOTHING",
                    &[old],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.execute(
                "INSERT INTO snapshots (account_id, name, size, hash, object, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (account_id, name) DO UPDATE SET size = excluded.size, hash = excluded.hash, object = excluded.object, created_at = excluded.created_at",
                &[&account, &name, &(snap.size as i64), &snap.hash, &key.to_string(), &snap.created_at],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(previous.is_some())
        }
        .await;
        match outcome {
            Ok(replaced) => {
                if replaced {
                    self.purge_pending().await;
                }
                Ok(snap)
            }
            Err(e) => {
                // Refused: this version's own object goes. Unavailable: kept (the commit
                // may have happened).
                if !matches!(e, StoreError::Unavailable(_)) {
                    self.discard(&key).await;
                }
                Err(e)
            }
        }
    }

    async fn open_snapshot(&self, account: &str, name: &str) -> StoreResult<(u64, ByteStream)> {
        let (size, object): (i64, String) = {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    "SELECT size, object FROM snapshots WHERE account_id = $1 AND name = $2",
                    &[&account, &name],
                )
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound)?;
            (row.get(0), row.get(1))
        };
        let got = self
            .objects
            .get(&Key::from(object))
            .await
            .map_err(object_err)?;
        let stream = got
            .into_stream()
            .map_err(|e| std::io::Error::other(format!("the object store: {e}")))
            .boxed();
        Ok((size.max(0) as u64, stream))
    }

    async fn list_snapshots(&self, account: &str) -> StoreResult<Vec<Snapshot>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT name, size, hash, created_at FROM snapshots WHERE account_id = $1 ORDER BY name",
                &[&account],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Snapshot {
                name: r.get(0),
                size: r.get::<_, i64>(1) as u64,
                hash: r.get(2),
                created_at: r.get(3),
            })
            .collect())
    }

    async fn delete_snapshot(&self, account: &str, name: &str) -> StoreResult<()> {
        {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            let object: String = tx
                .query_opt(
                    "DELETE FROM snapshots WHERE account_id = $1 AND name = $2 RETURNING object",
                    &[&account, &name],
                )
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound)?
                .get(0);
            tx.execute(
                "INSERT INTO purges (key, is_prefix) VALUES ($1, FALSE) ON CONFLICT DO NOTHING",
                &[&object],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
        }
        self.purge_pending().await;
        Ok(())
    }

    async fn usage(&self, account: &str) -> StoreResult<u64> {
        let c = self.client().await?;
        used_bytes(&c, account).await
    }

    async fn account_by_id(&self, account: &str) -> StoreResult<Option<AccountRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"),
                &[&account],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.as_ref().map(account_row))
    }

    async fn set_totp_secret(&self, account: &str, secret: &[u8]) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE accounts SET totp_secret = $2 WHERE id = $1 AND NOT totp_enabled",
                &[&account, &secret],
            )
            .await
            .map_err(pg_err)?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "TOTP is already on for this account".into(),
            ))
        }
    }

    async fn disable_totp(&self, account: &str) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        tx.execute(
            "UPDATE accounts SET totp_enabled = FALSE, totp_secret = NULL WHERE id = $1",
            &[&account],
        )
        .await
        .map_err(pg_err)?;
        tx.execute(
            "DELETE FROM recovery_codes WHERE account_id = $1",
            &[&account],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }

    async fn enable_totp(
        &self,
        account: &str,
        confirmed_secret: &[u8],
        recovery_code_hashes: &[String],
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = tx
            .execute(
                "UPDATE accounts SET totp_enabled = TRUE WHERE id = $1 AND NOT totp_enabled AND totp_secret = $2",
                &[&account, &confirmed_secret],
            )
            .await
            .map_err(pg_err)?;
        if n != 1 {
            return Err(StoreError::Conflict(
                "TOTP changed while confirming (already on, or a new secret was started): start again".into(),
            ));
        }
        tx.execute(
            "DELETE FROM recovery_codes WHERE account_id = $1",
            &[&account],
        )
        .await
        .map_err(pg_err)?;
        for h in recovery_code_hashes {
            tx.execute(
                "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)",
                &[&account, h],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn use_totp_step(&self, account: &str, step: u64) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE accounts SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                &[&account, &seq_i64(step)],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn use_recovery_code(&self, account: &str, code_hash: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE recovery_codes SET used = TRUE WHERE account_id = $1 AND code_hash = $2 AND NOT used",
                &[&account, &code_hash],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
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
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        // The account row is locked, so registrations finishing together are counted one
        // after the other.
        lock_account(&tx, account).await?;
        let held: i64 = tx
            .query_one(
                "SELECT count(*) FROM passkeys WHERE account_id = $1",
                &[&account],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        if held.max(0) as usize >= max {
            return Err(PasskeyRecord::too_many(max));
        }
        // The unique credential id settles a race between two registrations of one key.
        let n = tx
            .execute(
                "INSERT INTO passkeys (id, account_id, name, credential_id, passkey, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING",
                &[
                    &record.id,
                    &account,
                    &record.name,
                    &credential_id,
                    &record.passkey,
                    &record.created_at,
                ],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(PasskeyRecord::taken());
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(record)
    }

    async fn passkeys(&self, account: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, name, created_at, last_used_at, passkey FROM passkeys WHERE account_id = $1 ORDER BY created_at, id",
                &[&account],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| PasskeyRecord {
                id: r.get(0),
                name: r.get(1),
                created_at: r.get(2),
                last_used_at: r.get(3),
                passkey: r.get(4),
            })
            .collect())
    }

    async fn passkey_used(
        &self,
        account: &str,
        id: &str,
        passkey: &str,
        at: &str,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3 AND account_id = $4",
            &[&passkey, &at, &id, &account],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn delete_passkey(&self, account: &str, id: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "DELETE FROM passkeys WHERE id = $1 AND account_id = $2",
                &[&id, &account],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// An upload of a seq that is already stored: the same bytes are a retry, others a conflict.
fn same_or_conflict(existing: &str, hash: &str, seq: u64) -> StoreResult<Appended> {
    if existing == hash {
        Ok(Appended::AlreadyThere)
    } else {
        Err(StoreError::Conflict(format!(
            "blob {seq} already exists with different contents"
        )))
    }
}
