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

/// A practice of `years` years for the app's benches: `active` clients seen now (and as many
/// again whose therapy has ended), `sessions` attended sessions spread over the years, each
/// with a finalised brief note, and this week booked — six sessions a weekday around `now`.
/// Written in one transaction with plain SQL (setup, not how the app writes), through the
/// store's triggers (search index, change capture).
pub fn populate_practice(
    vault: &mut Vault,
    active: usize,
    sessions: usize,
    years: i64,
    now: chrono::DateTime<chrono::Utc>,
    text: impl Fn(usize) -> String,
) -> Result<()> {
    use chrono::{Datelike, Duration, Timelike};
    let mut codes = Vec::with_capacity(active * 2);
    for i in 0..active * 2 {
        codes.push(
            vault
                .add_client(ClientIdentity {
                    full_name: format!("Practice Client {i:03}"),
                    ..Default::default()
                })?
                .code,
        );
    }
    let tx = vault.conn.transaction()?;
    {
        // Those past the first `active` have ended therapy.
        tx.execute(
            "UPDATE clients SET status = 'closed', ended_on = '2020-01-01'
             WHERE code IN (SELECT code FROM clients ORDER BY rowid LIMIT -1 OFFSET ?1)",
            [active as i64],
        )?;
        let mut appt = tx.prepare(
            "INSERT INTO appointments (id, client_code, starts_at, ends_at, status, hlc, device_id)
             VALUES (?1, ?2, ?3, ?4, ?5, 'h', 'bench-device')",
        )?;
        let mut note = tx.prepare(
            "INSERT INTO session_notes (id, client_code, appointment_id, template, body, status,
                 created_at, updated_at, finalised_at, hlc, device_id)
             VALUES (?1, ?2, ?3, 'brief', ?4, 'final', ?5, ?5, ?5, 'h', 'bench-device')",
        )?;
        let start = now - Duration::days(years * 365);
        let span = (now - Duration::days(1) - start).num_minutes().max(1);
        for n in 0..sessions {
            // Oldest first, on the hour between 09:00 and 17:00.
            let at = start + Duration::minutes(span * n as i64 / sessions.max(1) as i64);
            let at = at
                .with_hour(9 + (n % 8) as u32)
                .and_then(|t| t.with_minute(0))
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(at);
            // Older sessions belong to the clients who have ended; recent ones to today's.
            let client = if n < sessions / 2 {
                &codes[active + n % active]
            } else {
                &codes[n % active]
            };
            let id = crate::vault::new_id();
            appt.execute(rusqlite::params![
                id,
                client.as_str(),
                at,
                at + Duration::minutes(50),
                "attended"
            ])?;
            let body = serde_json::json!({
                "attendance": "Attended on time.",
                "themes": text(n),
                "plan": "Review next session.",
            })
            .to_string();
            note.execute(rusqlite::params![
                crate::vault::new_id(),
                client.as_str(),
                id,
                body,
                at + Duration::hours(1)
            ])?;
        }
        // This week, Monday to Friday: six sessions a day, booked.
        let monday = now.date_naive() - Duration::days(now.weekday().num_days_from_monday() as i64);
        for day in 0..5 {
            for slot in 0..6 {
                let Some(at) = (monday + Duration::days(day))
                    .and_hms_opt(9 + slot, 0, 0)
                    .map(|t| t.and_utc())
                else {
                    continue;
                };
                let client = &codes[(day as usize * 6 + slot as usize) % active];
                appt.execute(rusqlite::params![
                    crate::vault::new_id(),
                    client.as_str(),
                    at,
                    at + Duration::minutes(50),
                    "scheduled"
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}
