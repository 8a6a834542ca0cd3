//! An edit on one computer visible on another, both running `sync watch`'s loop
//! ([`casebook_sync::watch::watch`]) against the real casebook-sync on loopback (in this
//! process, embedded backend): from the moment the edit is committed on A to the moment B's
//! records match A's (goal p50 ≤ 200 ms, p99 ≤ 1 s). Side by side in the same run, the floor:
//! the same edit carried by `sync now` on A then `sync now` on B straight away, with no waiting
//! at all — what watch's waiting adds is the difference.
//!
//! ```sh
//! cargo bench -p casebook-sync-engine --bench watch_latency
//! ```
//! (`BENCH_EDITS`, default 40 for each way of carrying them.)

use std::time::{Duration, Instant};

use casebook_core::offsite::Connect;
use casebook_core::{ClientIdentity, Vault};
use casebook_sync::practice;
use casebook_sync::watch::{Timing, watch};

const PASSPHRASE: &str = "bench passphrase";
const PASSWORD: &str = "a long enough account password";

fn connect(vault: &mut Vault, url: &str, user: &str, sign_up: bool, name: &str) {
    vault
        .server_connect(&Connect {
            url,
            username: user,
            password: PASSWORD,
            totp: None,
            sign_up,
            invite: None,
            device_name: name,
        })
        .expect("connect");
    practice::enable(vault).expect("sync on");
}

fn add(vault: &mut Vault, name: &str) {
    vault
        .add_client(ClientIdentity {
            full_name: name.into(),
            ..Default::default()
        })
        .expect("add a client");
}

/// Waits until `b`'s records match `target` (polled every millisecond); how long it took.
fn until_same(b: &Vault, target: &str, from: Instant) -> Duration {
    loop {
        if b.records_fingerprint().expect("fingerprint") == target {
            return from.elapsed();
        }
        assert!(
            from.elapsed() < Duration::from_secs(60),
            "B never caught up"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<44} n={:<3} p50 {:>7.1} ms   p90 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
        times.len(),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(*times.last().expect("some times"))
    );
}

fn main() {
    let edits: usize = std::env::var("BENCH_EDITS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let home = tempfile::tempdir().expect("temp dir");
    let cfg = casebook_sync_server::config::Config::local(&home.path().join("server"));
    let url = format!(
        "http://{}",
        casebook_sync_server::start_on_loopback(cfg).expect("server")
    );

    // Two computers of one practice: B starts as a copy of A, made a computer of its own.
    let (a_dir, b_dir) = (home.path().join("a"), home.path().join("b"));
    let mut a = Vault::init(&a_dir, Some(PASSPHRASE)).expect("init").vault;
    std::fs::create_dir_all(&b_dir).expect("mkdir");
    for e in std::fs::read_dir(&a_dir).expect("read") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), b_dir.join(e.file_name())).expect("copy");
    }
    connect(&mut a, &url, "bench", true, "A");
    let mut b = Vault::open(&b_dir, Some(PASSPHRASE)).expect("open B");
    b.reidentify().expect("reidentify");
    connect(&mut b, &url, "bench", false, "B");
    practice::sync_now(&mut a).expect("sync A");
    practice::sync_now(&mut b).expect("sync B");

    // The floor: `sync now` on A, then on B, right after each edit.
    let mut floor = Vec::new();
    for i in 0..edits {
        let t = Instant::now();
        add(&mut a, &format!("Floor {i}"));
        practice::sync_now(&mut a).expect("sync A");
        practice::sync_now(&mut b).expect("sync B");
        let target = a.records_fingerprint().expect("fingerprint");
        floor.push(until_same(&b, &target, t));
    }

    // Both computers watching, each on a thread with a vault handle of its own; the edits are
    // made and the records compared through two more handles, as the app or another command
    // would.
    for dir in [a_dir.clone(), b_dir.clone()] {
        std::thread::spawn(move || {
            let mut v = Vault::open(&dir, Some(PASSPHRASE)).expect("open for watch");
            let _ = watch(&mut v, &Timing::default(), |_, r| {
                r.expect("a watch run");
                std::ops::ControlFlow::Continue(())
            });
        });
    }
    drop((a, b));
    let mut a = Vault::open(&a_dir, Some(PASSPHRASE)).expect("open A");
    let b = Vault::open(&b_dir, Some(PASSPHRASE)).expect("open B");
    std::thread::sleep(Duration::from_secs(2)); // both watchers past their first run
    let mut watched = Vec::new();
    for i in 0..edits {
        let t = Instant::now();
        add(&mut a, &format!("Watched {i}"));
        let target = a.records_fingerprint().expect("fingerprint");
        watched.push(until_same(&b, &target, t));
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("{edits} client additions on A, until B's records match A's:");
    summary("`sync now` on A then on B, no waiting", floor);
    summary("both running `sync watch`", watched);
}
