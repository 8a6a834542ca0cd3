//! Off-site backups against the real `casebook-sync` on loopback, side by side with what
//! they are made of: a local `backup create` plus a plain `curl -T` of the same file to the
//! same server (the goal: `backup create --to server` ≤ 1.3× that sum); a restore from the
//! server against `curl` downloading the file plus a local restore (goal ≤ 1.2×); and the
//! server's peak memory while an off-site backup of the bench vault goes up (goal < 100 MB).
//!
//! ```sh
//! cargo build --release -p casebook-sync
//! cargo bench -p casebook-core --features plaintext-bench --bench offsite
//! ```
//! (`BENCH_NOTES`, default 30,000 session notes: about 93 MB of stores; `BENCH_RUNS`,
//! default 3, medians; `CASEBOOK_SYNC_BIN` overrides the server binary.)

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{env_usize, median};

use casebook_core::backup;
use casebook_core::offsite::{Connect, ServerClient, ServerRestore, ServerUrl};
use casebook_core::{RecoveryKey, Vault};

const PASSPHRASE: &str = "bench passphrase";
const PASSWORD: &str = "bench account password";

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(bin: &Path) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("sync.toml");
        // A body limit above the whole backup, so `curl -T` can send it in one request.
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\nlocal_only = true\ndata = {:?}\ncountry = \"GB\"\nmax_blob_bytes = 268435456\nquota_bytes = 10737418240\n",
                dir.path().join("data")
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start casebook-sync");
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn peak_mib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .unwrap_or(0)
            / 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CASEBOOK_SYNC_BIN") {
        return p.into();
    }
    // target/release/deps/offsite-… → target/release/casebook-sync
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("casebook-sync");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p casebook-sync` first (or set CASEBOOK_SYNC_BIN)",
        bin.display()
    );
    bin
}

fn connect(vault: &mut Vault, url: &str, user: &str, sign_up: bool) {
    vault
        .server_connect(&Connect {
            url,
            username: user,
            password: PASSWORD,
            totp: None,
            sign_up,
            invite: None,
            device_name: "bench",
        })
        .unwrap();
}

/// A token for `curl`, as a second device of the account.
fn token(url: &str, user: &str) -> String {
    let c = ServerClient::new(ServerUrl::parse(url).unwrap(), None).unwrap();
    c.sign_in(&casebook_wire::SignIn {
        username: user.into(),
        password: PASSWORD.into(),
        totp: None,
        device_name: "curl".into(),
        device_public_key: format!("age1curl{}", rand_suffix()),
        previous_token: None,
    })
    .unwrap()
    .token
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn curl(args: &[&str]) {
    let ok = Command::new("curl")
        .args(["-sS", "--fail"])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("curl")
        .success();
    assert!(ok, "curl {args:?}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let notes = env_usize("BENCH_NOTES", 30_000);
    let runs = env_usize("BENCH_RUNS", 3);
    let bin = server_bin();
    let root = tempfile::tempdir()?;
    let vault_dir = root.path().join("vault");
    let created = Vault::init(&vault_dir, Some(PASSPHRASE))?;
    let recovery: RecoveryKey = created.recovery_key;
    let mut vault = created.vault;
    let sentence = "Client described a difficult week at work; we revisited the sleep diary, \
                    noticed patterns of avoidance around family visits and agreed a small \
                    behavioural experiment before next session. ";
    casebook_core::bench_support::populate(&mut vault, 300, notes, |n| {
        format!("Session {n}. {}", sentence.repeat(5))
    })?;
    let stores: u64 = ["clinical.db", "identity.db"]
        .iter()
        .map(|f| {
            std::fs::metadata(vault_dir.join(f))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    println!(
        "vault: {notes} notes, 300 clients, {:.1} MB of stores",
        stores as f64 / 1e6
    );

    // The server's peak memory while one off-site backup of this vault goes up, on a fresh
    // server that does nothing else.
    {
        let server = Server::start(&bin);
        connect(&mut vault, &server.url(), "memory", true);
        let before = server.peak_mib();
        let sent = vault.offsite_backup_create(&mut |_| {})?;
        println!(
            "server peak RSS (VmHWM) while a {:.1} MB off-site backup went up in {} pieces: {} MiB (idle {} MiB)",
            sent.size as f64 / 1e6,
            sent.pieces,
            server.peak_mib(),
            before
        );
        vault.server_disconnect()?;
    }

    let server = Server::start(&bin);
    let url = server.url();
    connect(&mut vault, &url, "timing", true);
    let curl_token = token(&url, "timing");
    let auth = format!("Authorization: Bearer {curl_token}");
    let dest = root.path().join("local");
    let _ = Command::new("sync").status();

    let (mut local, mut plain, mut offsite) = (Vec::new(), Vec::new(), Vec::new());
    let mut file = PathBuf::new();
    for i in 0..runs {
        let t = Instant::now();
        file = vault.backup_create(&dest, &mut |_| {})?.path;
        local.push(t.elapsed());
        let t = Instant::now();
        curl(&[
            "-T",
            file.to_str().unwrap(),
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            &auth,
            &format!("{url}/v1/snapshots/curl-{i}"),
        ]);
        plain.push(t.elapsed());
        let _ = Command::new("sync").status();
        let t = Instant::now();
        vault.offsite_backup_create(&mut |_| {})?;
        offsite.push(t.elapsed());
        let _ = Command::new("sync").status();
    }
    let (local, plain, offsite) = (median(local), median(plain), median(offsite));
    let size = std::fs::metadata(&file)?.len();
    println!("backup file: {:.1} MB", size as f64 / 1e6);
    println!("| work | median of {runs} | |");
    println!("|---|---:|---:|");
    println!("| local `backup create` | {:.0} ms | |", ms(local));
    println!(
        "| `curl -T` of that file to the server | {:.0} ms | |",
        ms(plain)
    );
    println!("| sum | {:.0} ms | 1.00× |", ms(local + plain));
    println!(
        "| `backup create --to server` | {:.0} ms | {:.2}× |",
        ms(offsite),
        offsite.as_secs_f64() / (local + plain).as_secs_f64()
    );

    // Restores: from the server (sign-in, keys, pieces, every check) against curl fetching
    // the file plus a local restore of it.
    let (mut from_server, mut baseline) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let into = root.path().join(format!("restored-server-{i}"));
        let t = Instant::now();
        let mut session =
            ServerRestore::sign_in(&url, "timing", PASSWORD, None, &recovery, "bench restore")?;
        let signed_in = t.elapsed();
        let mut fetched_at = None;
        session.restore(None, &into, Some(PASSPHRASE), &mut |p| {
            if matches!(p, backup::Progress::Decrypt { .. }) && fetched_at.is_none() {
                fetched_at = Some(t.elapsed());
            }
        })?;
        from_server.push(t.elapsed());
        if i + 1 == runs {
            println!(
                "(last restore from the server: signed in, keys opened and backups listed at {:.0} ms; the file fetched by {:.0} ms; done at {:.0} ms)",
                ms(signed_in),
                ms(fetched_at.unwrap_or_default()),
                ms(t.elapsed())
            );
        }

        let fetched = root.path().join(format!("fetched-{i}.tar"));
        let into = root.path().join(format!("restored-local-{i}"));
        let t = Instant::now();
        curl(&[
            "-o",
            fetched.to_str().unwrap(),
            "-H",
            &auth,
            &format!("{url}/v1/snapshots/curl-0"),
        ]);
        backup::restore(&fetched, &recovery, &into, Some(PASSPHRASE), &mut |_| {})?;
        baseline.push(t.elapsed());
        let _ = Command::new("sync").status();
    }
    let (from_server, baseline) = (median(from_server), median(baseline));
    println!(
        "| `curl` download + local `backup restore` | {:.0} ms | 1.00× |",
        ms(baseline)
    );
    println!(
        "| `backup restore --from-server` | {:.0} ms | {:.2}× |",
        ms(from_server),
        from_server.as_secs_f64() / baseline.as_secs_f64()
    );
    Ok(())
}
