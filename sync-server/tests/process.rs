//! The real `casebook-sync` process on a loopback port: it starts, answers, reports where
//! its data lives, issues invites, and stops cleanly on SIGTERM (as systemd stops it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> Option<String> {
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

#[test]
fn serves_reports_residency_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = assert_cmd::cargo::cargo_bin("casebook-sync");
    let mut child = Command::new(&bin)
        .args([
            "serve",
            "--data",
            dir.path().to_str().unwrap(),
            "--country",
            "GB",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let health = loop {
        if let Some(r) = get(port, "/healthz") {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
        "{health}"
    );
    let info = get(port, "/v1/info").unwrap();
    assert!(
        info.contains("\"country\":\"GB\"") && info.contains("United Kingdom"),
        "{info}"
    );

    let invite = Command::new(&bin)
        .args([
            "invite",
            "--data",
            dir.path().to_str().unwrap(),
            "--days",
            "3",
        ])
        .output()
        .unwrap();
    assert!(invite.status.success());
    assert_eq!(String::from_utf8(invite.stdout).unwrap().trim().len(), 64);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("shutting down"), "{log}");
}

/// Built-in TLS: with a certificate and key in the config file the server speaks HTTPS only.
#[tokio::test]
async fn serves_https_with_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("sync.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata = {:?}\ncountry = \"DE\"\nplace = \"Frankfurt\"\ntls_cert = {:?}\ntls_key = {:?}\n",
            dir.path().join("data"),
            cert_path,
            key_path
        ),
    )
    .unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("casebook-sync"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/v1/info");
    let start = Instant::now();
    let info: serde_json::Value = loop {
        match client.get(&url).send().await {
            Ok(r) => break r.json().await.unwrap(),
            Err(_) => {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "HTTPS server did not start"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(info["locations"][0]["description"], "Frankfurt, Germany");
    // Plain HTTP on the same port gets no API answer.
    assert!(get(port, "/v1/info").is_none_or(|r| !r.contains("locations")));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
