//! Running the real `casebook-sync` binary on a loopback port, for tests and the load bench.

#![allow(dead_code)]

pub mod scaleout;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A port nothing is listening on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET over a raw socket; `None` if nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A server process we started, stopped by its own PID.
pub struct Running {
    pub child: Child,
    pub port: u16,
}

impl Running {
    /// `casebook-sync serve --local-only` with the embedded backend in `data`, declared in the UK, logging
    /// at `log` (a RUST_LOG filter) to `stderr`.
    pub fn embedded(bin: &Path, data: &Path, log: &str, stderr: Stdio) -> Running {
        Running::serve(
            bin,
            &["--data", data.to_str().unwrap(), "--country", "GB"],
            log,
            stderr,
        )
    }

    /// `casebook-sync serve` with the settings in a TOML file (any backend).
    pub fn with_config(bin: &Path, config: &Path, log: &str, stderr: Stdio) -> Running {
        Running::serve(bin, &["--config", config.to_str().unwrap()], log, stderr)
    }

    fn serve(bin: &Path, args: &[&str], log: &str, stderr: Stdio) -> Running {
        let port = free_port();
        let child = Command::new(bin)
            .arg("serve")
            .args(args)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            // The test's own client is on this machine; no proxy in front.
            .arg("--local-only")
            .env("RUST_LOG", log)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let r = Running { child, port };
        r.wait_healthy();
        r
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits (at most 20 s) until `/healthz` answers.
    pub fn wait_healthy(&self) {
        let start = Instant::now();
        while http_get(self.port, "/healthz").is_none_or(|r| !r.ends_with("ok")) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits (at most 10 s) for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The password every test account uses.
pub const PASSWORD: &str = "long enough passphrase";

/// Opens `user`'s account (ignoring "already taken").
pub async fn sign_up(client: &reqwest::Client, base: &str, user: &str) {
    let body = serde_json::json!({"username": user, "password": PASSWORD});
    client
        .post(format!("{base}/v1/accounts"))
        .json(&body)
        .send()
        .await
        .unwrap();
}

/// Signs `user` in as a new device; returns (token, device id).
pub async fn enrol(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    device: &str,
) -> (String, String) {
    let body = serde_json::json!({"username": user, "password": PASSWORD, "device_name": device, "device_public_key": format!("age1-{device}")});
    let r: serde_json::Value = client
        .post(format!("{base}/v1/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        r["token"].as_str().unwrap().to_string(),
        r["device_id"].as_str().unwrap().to_string(),
    )
}
