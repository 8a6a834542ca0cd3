//! Fills an existing vault (keys in the OS keychain, as `casebook init` leaves them) with a
//! practice of twenty years, for the desktop app's start-up bench (`scripts/bench-app` with
//! `BENCH_PRACTICE=twenty-years`): 60 active clients (and 60 whose therapy ended), 30,000
//! attended sessions each with a finalised note, and this week booked.
//!
//! `cargo run --release -p casebook-core --features plaintext-bench --example practice -- VAULT_DIR`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

const WORDS: &[&str] = &[
    "sleep",
    "work",
    "mother",
    "anxiety",
    "panic",
    "grief",
    "partner",
    "anger",
    "exam",
    "walk",
    "breathing",
    "boundaries",
    "holiday",
    "childhood",
    "shame",
    "hope",
    "routine",
    "friend",
    "loss",
    "change",
];

fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .context("give the vault's folder")?
        .into();
    let sessions: usize = std::env::var("PRACTICE_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let t = Instant::now();
    let mut vault = casebook_core::Vault::open(&dir, None).context("opening the vault")?;
    casebook_core::bench_support::populate_practice(
        &mut vault,
        60,
        sessions,
        20,
        chrono::Utc::now(),
        |n| {
            (0..12)
                .map(|i| WORDS[(n * 7 + i * 13 + n / 3) % WORDS.len()])
                .collect::<Vec<_>>()
                .join(" ")
        },
    )?;
    eprintln!(
        "practice: 120 clients (60 active), {sessions} sessions with notes, in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
