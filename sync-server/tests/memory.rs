//! The memory ceiling, measured on the real process: one account sends 16 maximum-size
//! (32 MiB) uploads and 16 range fetches of maximum-size blobs at once, against the
//! embedded backend with the default settings (memory budget 256 MiB), and the server's
//! peak resident memory (VmHWM) must stay under the ceiling docs/operations.md states:
//! the memory budget plus 128 MiB.
//!
//! `cargo test -p casebook-sync --test memory -- --nocapture` prints the figures
//! (docs/performance.md records them).

mod common;

use std::process::Stdio;
use std::time::Instant;

use common::Running;

const MIB: u64 = 1024 * 1024;
/// The default `memory_budget_bytes`.
const BUDGET: u64 = 256 * MIB;
/// What the process may take beyond the budget: the runtime, SQLite's caches, two Argon2
/// computations (19 MiB each), connection buffers.
const FIXED: u64 = 128 * MIB;
const MAX_BLOB: usize = 32 * 1024 * 1024;
const BURST: usize = 16;

fn mem_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_large_uploads_and_ranges_stays_under_the_ceiling() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipped: needs /proc (Linux)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_casebook-sync"));
    let mut server = Running::embedded(bin, dir.path(), "warn", Stdio::null());
    let pid = server.child.id();
    let base = server.base();
    let client = reqwest::Client::new();
    common::sign_up(&client, &base, "bulk").await;
    let (token, device) = common::enrol(&client, &base, "bulk", "laptop").await;
    let big: axum::body::Bytes = (0..MAX_BLOB).map(|i| (i * 31 % 251) as u8).collect();
    // Two maximum-size blobs in the log, to fetch back.
    for seq in 1..=2 {
        let r = client
            .put(format!("{base}/v1/blobs/{seq}"))
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let idle_kb = mem_kb(pid, "VmRSS:");

    let t0 = Instant::now();
    let uploads = (0..BURST).map(|i| {
        let (client, base, token, big) = (client.clone(), base.clone(), token.clone(), big.clone());
        tokio::spawn(async move {
            let r = client
                .put(format!("{base}/v1/snapshots/burst-{i}"))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(big)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        })
    });
    let ranges = (0..BURST).map(|i| {
        let (client, base, token, device) =
            (client.clone(), base.clone(), token.clone(), device.clone());
        tokio::spawn(async move {
            let r = client
                .get(format!(
                    "{base}/v1/devices/{device}/blobs?from={}&limit=1",
                    1 + i % 2
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            if status == 200 {
                assert!(body.len() > MAX_BLOB * 4 / 3, "a whole blob, base64");
            }
            status
        })
    });
    let tasks: Vec<_> = uploads.chain(ranges).collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let elapsed = t0.elapsed();
    let peak_kb = mem_kb(pid, "VmHWM:");
    assert!(server.stop().success());
    let stored = statuses[..BURST].iter().filter(|s| **s == 201).count();
    let fetched = statuses[BURST..].iter().filter(|s| **s == 200).count();
    println!(
        "{BURST} uploads of 32 MiB ({stored} stored) and {BURST} ranges of a 32 MiB blob ({fetched} answered) at once, in {:.1} s: idle RSS {} MiB, peak RSS (VmHWM) {} MiB; ceiling {} MiB (budget {} MiB + {} MiB)",
        elapsed.as_secs_f64(),
        idle_kb / 1024,
        peak_kb / 1024,
        (BUDGET + FIXED) / MIB,
        BUDGET / MIB,
        FIXED / MIB
    );
    // Everything is answered; a request may be told to come back (503), never fail otherwise.
    assert!(
        statuses.iter().all(|s| [200, 201, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(stored >= BURST / 2 && fetched >= BURST / 2, "{statuses:?}");
    assert!(
        peak_kb * 1024 < BUDGET + FIXED,
        "peak RSS {} MiB is over the ceiling of {} MiB",
        peak_kb / 1024,
        (BUDGET + FIXED) / MIB
    );
}

/// An off-site backup of 100 MB, sent as the app sends it (8 MiB pieces, one after another):
/// the server's peak memory stays under 100 MB, whatever the backup's size — it holds one
/// piece at a time. (The whole path, app included, is in the `offsite` bench.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_offsite_backup_in_pieces_keeps_the_server_under_100_mb() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipped: needs /proc (Linux)");
        return;
    }
    const PIECE: usize = 8 * 1024 * 1024;
    const TOTAL: usize = 100 * 1000 * 1000;
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_casebook-sync"));
    let mut server = Running::embedded(bin, dir.path(), "warn", Stdio::null());
    let pid = server.child.id();
    let base = server.base();
    let client = reqwest::Client::new();
    common::sign_up(&client, &base, "offsite").await;
    let (token, _) = common::enrol(&client, &base, "offsite", "laptop").await;
    let piece: axum::body::Bytes = (0..PIECE).map(|i| (i * 7 % 253) as u8).collect();
    let mut sent = 0;
    let mut i = 0;
    while sent < TOTAL {
        let n = PIECE.min(TOTAL - sent);
        let r = client
            .put(format!("{base}/v1/snapshots/b0.{i:04}"))
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(piece.slice(..n))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        sent += n;
        i += 1;
    }
    let peak_kb = mem_kb(pid, "VmHWM:");
    assert!(server.stop().success());
    println!(
        "a {} MB off-site backup in {i} pieces of 8 MiB: server peak RSS (VmHWM) {} MiB",
        TOTAL / 1_000_000,
        peak_kb / 1024
    );
    assert!(
        peak_kb * 1024 < 100 * 1000 * 1000,
        "peak RSS {} MiB is over 100 MB",
        peak_kb / 1024
    );
}
