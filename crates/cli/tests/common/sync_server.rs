//! A real `casebook-sync` process for the tests that cross the network: the embedded
//! backend in a temporary folder, or the scale-out one (PostgreSQL + Garage started by
//! `scripts/test`), on a free loopback port, stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

use super::TestVault;

/// The server account's password in these tests.
pub const PASSWORD: &str = "long enough passphrase";

/// `casebook` with this vault and the server account's password.
pub fn cb(v: &TestVault) -> Command {
    let mut c = v.cmd();
    c.env("CASEBOOK_SYNC_PASSWORD", PASSWORD);
    c
}

/// Runs a command that must succeed (with the account's password) and returns its JSON.
pub fn ok_json(v: &TestVault, args: &[&str]) -> Value {
    let out = cb(v)
        .arg("--json")
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    ScaleOut,
}

/// A running `casebook-sync serve`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub config: PathBuf,
    pub data: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

impl Server {
    /// Starts a server; `None` for the scale-out backend when its services are not running
    /// (outside the full suite, where they must be).
    pub fn start(backend: Backend, quota: Option<u64>) -> Option<Server> {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let port = free_port();
        let mut toml =
            format!("listen = \"127.0.0.1:{port}\"\nlocal_only = true\nmax_blob_bytes = 65536\n");
        if let Some(q) = quota {
            toml.push_str(&format!("quota_bytes = {q}\n"));
        }
        match backend {
            Backend::Embedded => toml.push_str(&format!(
                "data = {data:?}\ncountry = \"GB\"\nplace = \"London\"\n"
            )),
            Backend::ScaleOut => {
                let (Some(pg), Some(endpoint), Some(bucket), Some(region), Some(key), Some(secret)) = (
                    env("CASEBOOK_SYNC_TEST_POSTGRES_URL"),
                    env("CASEBOOK_SYNC_TEST_S3_ENDPOINT"),
                    env("CASEBOOK_SYNC_TEST_S3_BUCKET"),
                    env("CASEBOOK_SYNC_TEST_S3_REGION"),
                    env("CASEBOOK_SYNC_TEST_S3_KEY_ID"),
                    env("CASEBOOK_SYNC_TEST_S3_SECRET"),
                ) else {
                    assert!(
                        !super::full(),
                        "PostgreSQL and Garage are not running: scripts/test starts them"
                    );
                    eprintln!("skipped: PostgreSQL + Garage not running (run scripts/test)");
                    return None;
                };
                // A fresh key prefix; accounts are told apart by their random names.
                let prefix = format!("offsite-{}", rand::random::<u64>());
                toml.push_str(&format!(
                    "[postgres]\nurl = {:?}\ncountry = \"GB\"\n\n[object_store]\nendpoint = {endpoint:?}\nbucket = {bucket:?}\nregion = {region:?}\nprefix = {prefix:?}\naccess_key_id = {key:?}\nsecret_access_key = {secret:?}\ncountry = \"GB\"\nplace = \"London\"\n",
                    format!("{pg}/postgres")
                ));
            }
        }
        let config = dir.path().join("sync.toml");
        std::fs::write(&config, toml).unwrap();
        let mut s = Server {
            child: spawn(&config),
            port,
            config,
            data,
            _dir: dir,
        };
        s.wait_up();
        Some(s)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn wait_up(&mut self) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("casebook-sync exited at start: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn(&self.config);
        self.wait_up();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn spawn(config: &Path) -> Child {
    let bin = assert_cmd::cargo::cargo_bin("casebook-sync");
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build -p casebook-sync` (cargo test --workspace builds it)",
        bin.display()
    );
    StdCommand::new(bin)
        .args(["serve", "--config", config.to_str().unwrap()])
        .env_remove("CASEBOOK_SYNC_DATA")
        .env_remove("CASEBOOK_SYNC_LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
