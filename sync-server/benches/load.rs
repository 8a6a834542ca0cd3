//! Load test on loopback: many simulated devices uploading and fetching 4 KB blobs against
//! a real `casebook-sync` process, bounded in time.
//!
//! `cargo bench -p casebook-sync --bench load` (env: LOAD_SECONDS, default 10; LOAD_DEVICES,
//! default 64; LOAD_BACKEND=scaleout for PostgreSQL + Garage, reached through the
//! `CASEBOOK_SYNC_TEST_*` variables that scripts/postgres-local and scripts/garage-local
//! print). Prints requests/s, p50/p99 latency and the server's peak memory (VmHWM).

#[path = "../tests/common/mod.rs"]
mod common;

use common::Running;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

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

struct Phase {
    name: &'static str,
    count: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn report(p: &mut Phase) {
    let rps = p.count as f64 / p.elapsed.as_secs_f64();
    let (p50, p99) = if p.latencies.is_empty() {
        (Duration::ZERO, Duration::ZERO)
    } else {
        (pct(&mut p.latencies, 0.5), pct(&mut p.latencies, 0.99))
    };
    println!(
        "| {} | {} | {} | {:.0} | {:.2} | {:.2} |",
        p.name,
        p.count,
        p.errors,
        rps,
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = env_or("LOAD_SECONDS", 10);
    let devices = env_or("LOAD_DEVICES", 64) as usize;
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_casebook-sync"));
    let scaleout = std::env::var("LOAD_BACKEND").is_ok_and(|b| b == "scaleout");
    // The request log would only measure the terminal: Stdio::null.
    let mut server = if scaleout {
        let (mut pg, os) = common::scaleout::fresh()
            .await
            .expect("LOAD_BACKEND=scaleout needs PostgreSQL and Garage (see the module doc)");
        pg.pool_size = 32;
        let cfg = dir.path().join("sync.toml");
        common::scaleout::write_config(&cfg, &pg, &os);
        Running::with_config(bin, &cfg, "warn", Stdio::null())
    } else {
        Running::embedded(bin, dir.path(), "warn", Stdio::null())
    };
    let backend = if scaleout {
        "PostgreSQL + Garage"
    } else {
        "embedded"
    };
    let base = server.base();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(devices)
        .build()
        .unwrap();

    // Accounts of two devices each.
    let mut tokens = Vec::new();
    for i in 0..devices.div_ceil(2) {
        let user = format!("load{i}");
        common::sign_up(&client, &base, &user).await;
        for d in 0..2 {
            tokens.push(common::enrol(&client, &base, &user, &format!("d{d}")).await);
        }
    }
    tokens.truncate(devices);
    let tokens = Arc::new(tokens);
    let idle_rss = mem_kb(server.child.id(), "VmRSS:");

    let deadline = Duration::from_secs(seconds);
    let mut phases = Vec::new();
    for name in ["upload 4 KB", "fetch range of 10"] {
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..devices {
            let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
            tasks.push(tokio::spawn(async move {
                let (token, _) = &tokens[i];
                // Fetch a sibling device's log (same account: devices come in pairs).
                let (_, sibling) = &tokens[(i ^ 1).min(tokens.len() - 1)];
                let mut lat = Vec::new();
                let mut errors = 0;
                let mut seq = 0u64;
                let mut blob = vec![0u8; 4096];
                while t0.elapsed() < deadline {
                    let t = Instant::now();
                    let ok = if name.starts_with("upload") {
                        seq += 1;
                        rand::thread_rng().fill_bytes(&mut blob);
                        client
                            .put(format!("{base}/v1/blobs/{seq}"))
                            .bearer_auth(token)
                            .header("content-type", "application/octet-stream")
                            .body(blob.clone())
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success())
                    } else {
                        client
                            .get(format!("{base}/v1/devices/{sibling}/blobs?from=1&limit=10"))
                            .bearer_auth(token)
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success())
                    };
                    lat.push(t.elapsed());
                    if !ok {
                        errors += 1;
                    }
                }
                (lat, errors)
            }));
        }
        let mut phase = Phase {
            name,
            count: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
        };
        for t in tasks {
            let (lat, errors) = t.await.unwrap();
            phase.count += lat.len();
            phase.errors += errors;
            phase.latencies.extend(lat);
        }
        phase.elapsed = t0.elapsed();
        phases.push(phase);
    }
    let peak = mem_kb(server.child.id(), "VmHWM:");
    println!("{backend} backend, {devices} devices, {seconds} s per phase, 4 KB blobs, loopback");
    println!("| phase | requests | errors | requests/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for p in &mut phases {
        report(p);
    }
    println!(
        "server memory: idle after sign-ins {} MB, peak (VmHWM) {} MB",
        idle_rss / 1024,
        peak / 1024
    );
    server.stop();
}
