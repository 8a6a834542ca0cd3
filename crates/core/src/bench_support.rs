//! Benchmark support (feature `plaintext-bench` only, never in the app): builds the same
//! vault with SQLCipher or as plain SQLite, so the benches compare the two on identical work.

use std::path::Path;

use crate::db::{self, Mode};
use crate::error::Result;
use crate::hlc::Hlc;
use crate::keys::VaultKeys;
use crate::keystore::KeyStoreKind;
use crate::vault::{Vault, VaultMeta, load_clock};
use crate::{ClientCode, ClientIdentity, schema};

/// A bench vault's keys (`None` for plain SQLite).
#[derive(Clone)]
pub struct BenchKeys(Option<VaultKeys>);

fn meta() -> VaultMeta {
    VaultMeta {
        format: 1,
        vault_id: "bench".into(),
        device_id: "bench-device".into(),
        key_store: KeyStoreKind::Passphrase,
        created_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// Creates a vault in `dir`, encrypted or not, without touching any key store.
pub fn create(dir: &Path, encrypted: bool) -> Result<(Vault, BenchKeys)> {
    let keys = encrypted.then(VaultKeys::generate);
    let mut conn = db::open_pair(
        dir,
        keys.as_ref().map(|k| &k.clinical),
        keys.as_ref().map(|k| &k.identity),
        Mode::Create,
    )?;
    schema::migrate(&mut conn)?;
    let vault = Vault::from_parts(
        dir,
        meta(),
        keys.clone().unwrap_or_else(VaultKeys::generate),
        conn,
        Hlc::default(),
    );
    Ok((vault, BenchKeys(keys)))
}

/// Opens the vault as `Vault::open` does once it has the keys: key both stores, check
/// they read, check the schema, read the clock. (The unlock's audit entry is written
/// with the first action, as in the app.)
pub fn open(dir: &Path, keys: &BenchKeys) -> Result<Vault> {
    let k = keys.0.as_ref();
    let mut conn = db::open_pair(
        dir,
        k.map(|k| &k.clinical),
        k.map(|k| &k.identity),
        Mode::Existing,
    )?;
    schema::migrate(&mut conn)?;
    let clock = load_clock(&conn)?;
    Ok(Vault::from_parts(
        dir,
        meta(),
        k.cloned().unwrap_or_else(VaultKeys::generate),
        conn,
        clock,
    ))
}

/// Adds `clients` clients and `notes` finalised free-text notes spread across them, in one
/// transaction (setup for search benches; not how the app writes).
pub fn populate(
    vault: &mut Vault,
    clients: usize,
    notes: usize,
    text: impl Fn(usize) -> String,
) -> Result<Vec<ClientCode>> {
    let mut codes = Vec::with_capacity(clients);
    for i in 0..clients {
        codes.push(
            vault
                .add_client(ClientIdentity {
                    full_name: format!("Bench Client {i}"),
                    ..Default::default()
                })?
                .code,
        );
    }
    let tx = vault.conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO session_notes (id, client_code, template, body, status, created_at, updated_at, hlc, device_id)
             VALUES (?1, ?2, 'free', ?3, 'final', ?4, ?4, 'h', 'bench-device')",
        )?;
        // Written over twenty years, oldest first: from 1 January 2006 to the end of 2025.
        let first = chrono::NaiveDate::from_ymd_opt(2006, 1, 1)
            .unwrap_or_default()
            .and_hms_opt(9, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let span_days = 20 * 365;
        for n in 0..notes {
            let body = serde_json::json!({ "text": text(n) }).to_string();
            let at = first + chrono::Duration::days((n * span_days / notes.max(1)) as i64);
            stmt.execute(rusqlite::params![
                crate::vault::new_id(),
                codes[n % clients].as_str(),
                body,
                at
            ])?;
        }
    }
    tx.commit()?;
    Ok(codes)
}

/// Runs a raw FTS query (no audit entry), to separate index speed from commit cost.
pub fn raw_search(vault: &Vault, fts: &str) -> Result<usize> {
    let mut stmt = vault.conn.prepare_cached(
        "SELECT object_id, snippet(search_index, 0, '[', ']', '…', 12) FROM search_index WHERE search_index MATCH ?1 ORDER BY rank LIMIT 50",
    )?;
    let n = stmt.query_map([fts], |r| r.get::<_, String>(0))?.count();
    Ok(n)
}

/// Reads one client's notes (and their addenda) with a plain SELECT and no audit entry: the
/// floor a subject-access export or an erasure is compared with.
pub fn raw_client_rows(vault: &Vault, code: &str) -> Result<usize> {
    let mut stmt = vault.conn.prepare_cached(
        "SELECT n.id, n.body, n.status, n.created_at, a.text FROM session_notes n
         LEFT JOIN addenda a ON a.note_id = n.id WHERE n.client_code = ?1",
    )?;
    let n = stmt
        .query_map([code], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .count();
    Ok(n)
}
