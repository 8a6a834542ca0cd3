//! schemathesis (PyPI) against the committed OpenAPI document and the real server process:
//! generated and stateful requests on every operation; no 5xx, and every response matches
//! the schema. Required in the full suite (`scripts/test` installs schemathesis). The seed is
//! fixed so CI is repeatable; run schemathesis by hand without `--seed` to explore further.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[tokio::test]
async fn schemathesis_finds_nothing() {
    let have = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var("CASEBOOK_FULL_TESTS").as_deref() != Ok("1"),
            "CASEBOOK_FULL_TESTS=1 but schemathesis is not installed"
        );
        eprintln!("skipping: schemathesis not installed (scripts/test installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_casebook-sync"))
        .args([
            "serve",
            "--data",
            dir.path().join("data").to_str().unwrap(),
            "--country",
            "GB",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .post(format!("{base}/v1/accounts"))
        .json(&json!({"username": "schema", "password": "long enough passphrase"}))
        .send()
        .await
        .unwrap();
    let enrolled: Value = client
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"username": "schema", "password": "long enough passphrase", "device_name": "st", "device_public_key": "age1st"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = enrolled["token"].as_str().unwrap();
    let out = Command::new("schemathesis")
        .current_dir(dir.path())
        .args([
            "run",
            &format!("{base}/v1/openapi.json"),
            "-H",
            &format!("Authorization: Bearer {token}"),
        ])
        .args([
            "-c",
            "all",
            "-n",
            "50",
            "--seed",
            "20261122",
            "--exclude-operation-id",
            "deleteAccount",
            "--exclude-operation-id",
            "revokeDevice",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("No issues found"), "{report}");
}
