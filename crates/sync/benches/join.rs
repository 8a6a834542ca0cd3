//! A new computer joining a 20-year practice (the 30,000-note bench vault) against the real
//! casebook-sync on loopback (in this process, embedded backend), side by side with a
//! `backup restore --from-server` of the same vault (goal: joining ≤ 1.5× the restore); and
//! the server's bytes for the sync logs before and after compaction, against the two store
//! files (goal ≤ 0.6×).
//!
//! ```sh
//! cargo bench --features casebook-sync-engine/bench --bench join
//! ```
//! (`BENCH_NOTES`, default 30,000; `BENCH_RUNS`, default 3, medians.)

use std::path::Path;
use std::time::{Duration, Instant};

use casebook_core::offsite::{Connect, ServerRestore};
use casebook_core::{ClientCode, ClientIdentity, RecoveryKey, Vault};
use casebook_sync::practice;

const PASSPHRASE: &str = "bench passphrase";
const PASSWORD: &str = "a long enough account password";

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Bytes of the sync logs the server keeps (every blob, inline or in a file).
fn log_bytes(server: &Path) -> u64 {
    let db = rusqlite::Connection::open_with_flags(
        server.join("meta.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the server's database");
    db.query_row("SELECT COALESCE(SUM(size), 0) FROM blobs", [], |r| {
        r.get::<_, i64>(0)
    })
    .expect("blob sizes") as u64
}

fn store_bytes(vault: &Path) -> u64 {
    ["clinical.db", "identity.db"]
        .iter()
        .map(|f| std::fs::metadata(vault.join(f)).map_or(0, |m| m.len()))
        .sum()
}

struct Joined {
    received: usize,
    fingerprint: String,
}

/// `sync join` as the command runs it: the newest off-site backup restored, sync on, then
/// every other computer's log since, in steps.
fn join(url: &str, recovery: &RecoveryKey, into: &Path) -> Joined {
    let t = Instant::now();
    let mut session =
        ServerRestore::sign_in(url, "bench", PASSWORD, None, recovery, "joining").expect("sign in");
    let mut vault = session
        .restore(None, into, Some(PASSPHRASE), &mut |_| {})
        .expect("restore")
        .vault;
    let restored = t.elapsed();
    practice::enable(&mut vault).expect("sync on");
    let enabled = t.elapsed();
    let report = practice::catch_up(&mut vault, |_, _| {}).expect("catch up");
    eprintln!(
        "(join: restored at {:.0} ms, sync on at {:.0} ms, caught up at {:.0} ms: {} blobs, {} changes)",
        ms(restored),
        ms(enabled),
        ms(t.elapsed()),
        report.received,
        report.applied_changes
    );
    Joined {
        received: report.received,
        fingerprint: vault.records_fingerprint().expect("fingerprint"),
    }
}

fn restore(url: &str, recovery: &RecoveryKey, into: &Path) {
    let mut session = ServerRestore::sign_in(url, "bench", PASSWORD, None, recovery, "restoring")
        .expect("sign in");
    session
        .restore(None, into, Some(PASSPHRASE), &mut |_| {})
        .expect("restore");
}

fn main() {
    let notes = env_usize("BENCH_NOTES", 30_000);
    let runs = env_usize("BENCH_RUNS", 3);
    let home = tempfile::tempdir().expect("temp dir");
    let server_dir = home.path().join("server");
    let cfg = casebook_sync_server::config::Config {
        quota_bytes: 20 << 30,
        ..casebook_sync_server::config::Config::local(&server_dir)
    };
    let url = format!(
        "http://{}",
        casebook_sync_server::start_on_loopback(cfg).expect("server")
    );

    let a_dir = home.path().join("surgery");
    let created = Vault::init(&a_dir, Some(PASSPHRASE)).expect("init");
    let recovery = created.recovery_key;
    let mut a = created.vault;
    let sentence = "Client described a difficult week at work; we revisited the sleep diary, \
                    noticed patterns of avoidance around family visits and agreed a small \
                    behavioural experiment before next session. ";
    let codes = casebook_core::bench_support::populate(&mut a, 300, notes, |n| {
        format!("Session {n}. {}", sentence.repeat(5))
    })
    .expect("populate");
    a.server_connect(&Connect {
        url: &url,
        username: "bench",
        password: PASSWORD,
        totp: None,
        sign_up: true,
        invite: None,
        device_name: "Surgery",
    })
    .expect("connect");
    practice::enable(&mut a).expect("sync on");
    let t = Instant::now();
    practice::sync_now(&mut a).expect("first sync");
    println!(
        "vault: {notes} notes, 300 clients, {:.1} MB of stores; first sync of all of it: {:.0} ms",
        store_bytes(&a_dir) as f64 / 1e6,
        ms(t.elapsed())
    );
    a.offsite_backup_create(&mut |_| {})
        .expect("off-site backup");
    // A day's work after the backup: 40 new clients.
    for i in 0..40 {
        a.add_client(ClientIdentity {
            full_name: format!("After The Backup {i}"),
            ..Default::default()
        })
        .expect("client");
    }
    practice::sync_now(&mut a).expect("sync");
    let target = a.records_fingerprint().expect("fingerprint");
    let logs_before = log_bytes(&server_dir);

    let (mut restores, mut joins) = (Vec::new(), Vec::new());
    let mut received = 0;
    for i in 0..runs {
        let into = home.path().join(format!("restored-{i}"));
        let t = Instant::now();
        restore(&url, &recovery, &into);
        restores.push(t.elapsed());
        let into = home.path().join(format!("joined-{i}"));
        let t = Instant::now();
        let joined = join(&url, &recovery, &into);
        joins.push(t.elapsed());
        assert_eq!(joined.fingerprint, target, "the joined computer differs");
        received = joined.received;
    }
    let (restore_t, join_t) = (median(restores), median(joins));

    // An erasure: the surgery writes a checkpoint and cuts its log. A computer joining from
    // the backup made before it now finds the log cut and starts from the checkpoint.
    let erased: &ClientCode = &codes[0];
    a.erase_client(erased, "asked to be forgotten", true)
        .expect("erase");
    practice::sync_now(&mut a).expect("sync");
    let target = a.records_fingerprint().expect("fingerprint");
    let logs_after = log_bytes(&server_dir);
    let stores = store_bytes(&a_dir);
    let (mut cut_restores, mut cut_joins) = (Vec::new(), Vec::new());
    for i in 0..runs {
        // The same restore now replays the erasure list (the client erased after the backup).
        let into = home.path().join(format!("restored-cut-{i}"));
        let t = Instant::now();
        restore(&url, &recovery, &into);
        cut_restores.push(t.elapsed());
        let into = home.path().join(format!("joined-cut-{i}"));
        let t = Instant::now();
        let joined = join(&url, &recovery, &into);
        cut_joins.push(t.elapsed());
        assert_eq!(joined.fingerprint, target, "the joined computer differs");
    }
    let (cut_restore_t, cut_join_t) = (median(cut_restores), median(cut_joins));
    // Where the time of that join goes: reading the checkpoint's rows on the surgery, and
    // applying them on a restored copy that already holds nearly all of them.
    let t = Instant::now();
    let rows = [
        a.checkpoint_rows(casebook_core::registry::Store::Clinical)
            .expect("rows"),
        a.checkpoint_rows(casebook_core::registry::Store::Identity)
            .expect("rows"),
    ];
    let read_t = t.elapsed();
    let into = home.path().join("applied");
    restore(&url, &recovery, &into);
    let mut copy = Vault::open(&into, Some(PASSPHRASE)).expect("open the copy");
    let t = Instant::now();
    for r in &rows {
        copy.apply_checkpoint(r).expect("apply");
    }
    let apply_t = t.elapsed();
    let json: usize = rows
        .iter()
        .map(|r| serde_json::to_vec(r).map_or(0, |v| v.len()))
        .sum();
    println!(
        "(checkpoint: {} rows, {:.1} MB of JSON before compression; read on the surgery in {:.0} ms, applied on a restored copy in {:.0} ms)",
        rows[0].len() + rows[1].len(),
        json as f64 / 1e6,
        ms(read_t),
        ms(apply_t)
    );

    println!("| work (median of {runs}) | time | vs restore |");
    println!("|---|---:|---:|");
    println!(
        "| `backup restore --from-server` of the newest backup | {:.0} ms | 1.00× |",
        ms(restore_t)
    );
    println!(
        "| `sync join`: that restore, sync on, the log since ({received} blobs) | {:.0} ms | {:.2}× |",
        ms(join_t),
        join_t.as_secs_f64() / restore_t.as_secs_f64()
    );
    println!(
        "| after an erasure: the same restore (it replays the erasure list) | {:.0} ms | 1.00× |",
        ms(cut_restore_t)
    );
    println!(
        "| `sync join` then: the log was cut below a checkpoint newer than the backup | {:.0} ms | {:.2}× |",
        ms(cut_join_t),
        cut_join_t.as_secs_f64() / cut_restore_t.as_secs_f64()
    );
    println!();
    println!("| bytes | size | vs the two store files |");
    println!("|---|---:|---:|");
    println!(
        "| the two store files | {:.1} MB | 1.00× |",
        stores as f64 / 1e6
    );
    println!(
        "| sync logs on the server, whole | {:.1} MB | {:.2}× |",
        logs_before as f64 / 1e6,
        logs_before as f64 / stores as f64
    );
    println!(
        "| sync logs on the server after compaction | {:.1} MB | {:.2}× |",
        logs_after as f64 / 1e6,
        logs_after as f64 / stores as f64
    );
}
