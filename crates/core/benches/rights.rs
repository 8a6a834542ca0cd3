//! Subject-access export and erasure of one client with 500 notes in a vault of 100,000,
//! side by side with a plain SELECT of the same rows (the floor: reading them at all).
//!
//! `cargo bench -p casebook-core --features plaintext-bench --bench rights`
//! (`BENCH_NOTES`, default 100,000 notes over 200 clients, i.e. 500 each; `BENCH_RUNS`,
//! default 3, the median is reported; every run erases a different client).

use std::time::{Duration, Instant};

mod common;
use common::{env_usize, median};

use casebook_core::bench_support;
use casebook_core::records::access::AccessOptions;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let notes = env_usize("BENCH_NOTES", 100_000);
    let runs = env_usize("BENCH_RUNS", 3).max(1);
    let clients = 200;
    for encrypted in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut vault, _keys) = bench_support::create(dir.path(), encrypted).expect("vault");
        let t = Instant::now();
        let codes = bench_support::populate(&mut vault, clients, notes, |n| {
            format!(
                "Session {n}: discussed sleep, work and the family; agreed to keep a diary of moods and try the breathing exercise before meetings. Risk reviewed, none."
            )
        })
        .expect("populate");
        let built = t.elapsed();
        let per_client = notes / clients;

        let select = median(
            (0..runs)
                .map(|i| {
                    let t = Instant::now();
                    let n =
                        bench_support::raw_client_rows(&vault, codes[i].as_str()).expect("select");
                    assert_eq!(n, per_client);
                    t.elapsed()
                })
                .collect(),
        );
        let out = tempfile::tempdir().expect("out dir");
        let sar = median(
            (0..runs)
                .map(|i| {
                    let t = Instant::now();
                    let e = vault
                        .subject_access_export(&codes[i], &AccessOptions::default(), out.path())
                        .expect("export");
                    assert_eq!(
                        e.content["session_notes"].as_array().map(Vec::len),
                        Some(per_client)
                    );
                    t.elapsed()
                })
                .collect(),
        );
        let erase = median(
            (0..runs)
                .map(|i| {
                    let code = &codes[clients - 1 - i];
                    let t = Instant::now();
                    vault.erase_client(code, "timing run", true).expect("erase");
                    t.elapsed()
                })
                .collect(),
        );
        println!(
            "{}: {notes} notes ({per_client} for the client), built in {:.1} s",
            if encrypted {
                "SQLCipher"
            } else {
                "plain SQLite"
            },
            built.as_secs_f64()
        );
        println!(
            "  plain SELECT of the client's rows   {:>8.1} ms",
            ms(select)
        );
        println!("  subject-access export (JSON + HTML) {:>8.1} ms", ms(sar));
        println!(
            "  erasure (secure delete, audited)    {:>8.1} ms",
            ms(erase)
        );
    }
}
