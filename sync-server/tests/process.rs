//! The real `casebook-sync` process on a loopback port: it starts, answers, reports where
//! its data lives, issues invites, stops cleanly on SIGTERM (as systemd stops it), and
//! speaks HTTPS with its own certificate.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Running, free_port, http_get};

#[test]
fn serves_reports_residency_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("casebook-sync");
    let mut server = Running::embedded(&bin, dir.path(), "info", Stdio::piped());
    let health = http_get(server.port, "/healthz").unwrap();
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
        "{health}"
    );
    let info = http_get(server.port, "/v1/info").unwrap();
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

    let status = server.stop();
    assert!(status.success(), "exit status {status}");
    let mut log = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("shutting down"), "{log}");
}

/// Built-in TLS: with a certificate and key in the config file the server speaks HTTPS only.
// Multi-threaded: the client's connection task must keep running while this thread waits
// for the server to exit (an HTTP/2 connection closes in answer to the server's GOAWAY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let port = free_port();
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
    let child = Command::new(assert_cmd::cargo::cargo_bin("casebook-sync"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Running { child, port };
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
    assert!(http_get(port, "/v1/info").is_none_or(|r| !r.contains("locations")));
    assert!(server.stop().success());
}

/// One request over a raw socket with extra header lines; the whole answer.
fn http_get_with(port: u16, path: &str, headers: &str) -> Option<String> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Behind a proxy on loopback every client would look like 127.0.0.1: a loopback address
/// over plain HTTP with no trusted proxy is refused at start, unless the clients are said
/// to be on this machine.
#[test]
fn loopback_over_plain_http_without_a_trusted_proxy_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("casebook-sync"))
        .env_remove("CASEBOOK_SYNC_LOCAL_ONLY")
        .env_remove("CASEBOOK_SYNC_TRUSTED_PROXIES")
        .args([
            "serve",
            "--data",
            dir.path().to_str().unwrap(),
            "--country",
            "GB",
        ])
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("trusted_proxies") && err.contains("--local-only"),
        "{err}"
    );
}

/// With `local_only` (here from the environment), a request that came through a proxy
/// anyway is refused: the server fails closed instead of putting everyone under one key.
#[test]
fn local_only_refuses_requests_forwarded_by_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(assert_cmd::cargo::cargo_bin("casebook-sync"))
        .env("CASEBOOK_SYNC_LOCAL_ONLY", "1")
        .args([
            "serve",
            "--data",
            dir.path().to_str().unwrap(),
            "--country",
            "GB",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running { child, port };
    server.wait_healthy();
    for header in [
        "X-Forwarded-For: 203.0.113.9\r\n",
        "Forwarded: for=203.0.113.9\r\n",
        "X-Real-IP: 203.0.113.9\r\n",
    ] {
        let r = http_get_with(port, "/v1/info", header).unwrap();
        assert!(r.starts_with("HTTP/1.1 503"), "{header}: {r}");
        assert!(r.contains("trusted_proxies"), "{r}");
    }
    let direct = http_get(port, "/v1/info").unwrap();
    assert!(direct.starts_with("HTTP/1.1 200"), "{direct}");
    assert!(server.stop().success());
    let mut log = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert_eq!(
        log.matches("refusing requests forwarded by a proxy")
            .count(),
        1,
        "logged once: {log}"
    );
}
