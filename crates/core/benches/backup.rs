//! Backup and restore of a large vault, side by side with the limits: a plain `cp` of the
//! same store files, and `age` alone encrypting them (the library, and the `age` command when
//! installed). Also how long the app's writes wait while a backup runs.
//!
//! `cargo bench -p casebook-core --features plaintext-bench --bench backup`
//! (`BENCH_NOTES`, default 30,000 session notes of ~3 kB: about 100 MB of stores;
//! `BENCH_RUNS`, default 3, the median is reported).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{env_usize, time_runs};

use casebook_core::backup;
use casebook_core::{ClientIdentity, RecoveryKey, Vault};

const PASSPHRASE: &str = "bench passphrase";

fn size_of(dir: &Path) -> u64 {
    ["clinical.db", "identity.db"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
        .sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let notes = env_usize("BENCH_NOTES", 30_000);
    let runs = env_usize("BENCH_RUNS", 3);
    let root = tempfile::tempdir()?;
    let vault_dir = root.path().join("vault");
    let created = Vault::init(&vault_dir, Some(PASSPHRASE))?;
    let recovery: RecoveryKey = created.recovery_key;
    let mut vault = created.vault;
    let t = Instant::now();
    let sentence = "Client described a difficult week at work; we revisited the sleep diary, \
                    noticed patterns of avoidance around family visits and agreed a small \
                    behavioural experiment before next session. ";
    casebook_core::bench_support::populate(&mut vault, 300, notes, |n| {
        format!("Session {n}. {}", sentence.repeat(5))
    })?;
    let bytes = size_of(&vault_dir);
    println!(
        "vault: {notes} notes, 300 clients, {:.1} MB of stores (built in {:.1} s)",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // The limits: copy the same files; encrypt the same files with age.
    let cp = time_runs(runs, |i| {
        let to = root.path().join(format!("cp-{i}"));
        std::fs::create_dir_all(&to).unwrap();
        let ok = Command::new("cp")
            .arg(vault_dir.join("clinical.db"))
            .arg(vault_dir.join("identity.db"))
            .arg(&to)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    });
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let age_lib = time_runs(runs, |i| {
        for f in ["clinical.db", "identity.db"] {
            let mut src = std::fs::File::open(vault_dir.join(f)).unwrap();
            let out = std::fs::File::create(root.path().join(format!("{f}.{i}.age"))).unwrap();
            let enc =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .unwrap();
            let mut w = enc.wrap_output(out).unwrap();
            std::io::copy(&mut src, &mut w).unwrap();
            w.finish().unwrap();
        }
    });
    let age_cli = Command::new("age")
        .arg("--version")
        .output()
        .is_ok()
        .then(|| {
            time_runs(runs, |i| {
                for f in ["clinical.db", "identity.db"] {
                    let ok = Command::new("age")
                        .arg("-r")
                        .arg(recipient.to_string())
                        .arg("-o")
                        .arg(root.path().join(format!("{f}.{i}.cli.age")))
                        .arg(vault_dir.join(f))
                        .status()
                        .unwrap()
                        .success();
                    assert!(ok);
                }
            })
        });

    // Casebook: backup (while another connection keeps writing), verify, restore.
    // The runs above leave ~1 GB of unwritten pages; write them out first, so the kernel's
    // writeback of them does not land in the middle of the runs below.
    let _ = Command::new("sync").status();
    let dest = root.path().join("backups");
    let writing = Arc::new(AtomicBool::new(true));
    let waits = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (dir, writing, waits) = (vault_dir.clone(), writing.clone(), waits.clone());
        std::thread::spawn(move || {
            let mut v = Vault::open(&dir, Some(PASSPHRASE)).unwrap();
            while writing.load(Ordering::Relaxed) {
                let t = Instant::now();
                v.add_client(ClientIdentity {
                    full_name: "Writer During Backup".into(),
                    ..Default::default()
                })
                .unwrap();
                waits.lock().unwrap().push(t.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut files = Vec::new();
    let mut stages = (Duration::ZERO, Duration::ZERO);
    let make = time_runs(runs, |_| {
        let t = Instant::now();
        let mut snapshot_done = None;
        let mut encrypt_done = Duration::ZERO;
        files.push(
            vault
                .backup_create(&dest, &mut |p| {
                    if let backup::Progress::Encrypt { .. } = p {
                        snapshot_done.get_or_insert(t.elapsed());
                        encrypt_done = t.elapsed();
                    }
                })
                .unwrap()
                .path,
        );
        let snap = snapshot_done.unwrap_or_default();
        stages = (snap, encrypt_done - snap);
    });
    writing.store(false, Ordering::Relaxed);
    writer.join().unwrap();
    let mut waits = waits.lock().unwrap().clone();
    waits.sort();
    let file = files.last().unwrap().clone();
    let backup_size = std::fs::metadata(&file)?.len();
    let verify = time_runs(runs, |_| {
        vault.backup_verify(&file, &mut |_| {}).unwrap();
    });
    let restore = time_runs(runs, |i| {
        backup::restore(
            &file,
            &recovery,
            &root.path().join(format!("restored-{i}")),
            Some(PASSPHRASE),
            &mut |_| {},
        )
        .unwrap();
    });

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\n| work on {:.1} MB | median of {runs} | vs age alone |",
        bytes as f64 / 1e6
    );
    println!("|---|---:|---:|");
    println!(
        "| `cp` of the two store files | {:.0} ms | {:.2}× |",
        ms(cp),
        ms(cp) / ms(age_lib)
    );
    println!(
        "| age alone (library, X25519, both files) | {:.0} ms | 1.00× |",
        ms(age_lib)
    );
    if let Some(a) = age_cli {
        println!(
            "| `age -r` command, both files | {:.0} ms | {:.2}× |",
            ms(a),
            ms(a) / ms(age_lib)
        );
    }
    println!(
        "| `backup create` (snapshot + encrypt + tar + fsync; {:.1} MB file) | {:.0} ms | {:.2}× |",
        backup_size as f64 / 1e6,
        ms(make),
        ms(make) / ms(age_lib)
    );
    println!(
        "| `backup verify` (decrypt, digests, integrity checks, audit chain) | {:.0} ms | {:.2}× |",
        ms(verify),
        ms(verify) / ms(age_lib)
    );
    println!(
        "| `backup restore` (verify + keys + switch; incl. 2 scrypt) | {:.0} ms | {:.2}× |",
        ms(restore),
        ms(restore) / ms(age_lib)
    );
    println!(
        "\nlast backup's stages: snapshot {:.0} ms, encrypt + hash + tar {:.0} ms, then manifest + fsync + audit",
        ms(stages.0),
        ms(stages.1)
    );
    if !waits.is_empty() {
        println!(
            "\nwrites by another connection during the backups: {} writes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            waits.len(),
            ms(waits[waits.len() / 2]),
            ms(waits[(waits.len() * 99 / 100).min(waits.len() - 1)]),
            ms(*waits.last().unwrap())
        );
    }
    Ok(())
}
