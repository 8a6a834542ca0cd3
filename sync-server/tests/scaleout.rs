//! The scale-out backend against a real PostgreSQL and a real Garage: what lands in the
//! bucket, and a fault test.
//!
//! The fault test: the object store (a real Garage, started by this
//! test and stopped by its PID) goes away in the middle of a run of uploads. Requests then
//! fail cleanly (503 with a JSON error, never a hang or a 5xx of another kind); once Garage
//! is back the same server carries on, and every blob that was acknowledged is served back
//! byte for byte.

mod common;

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use casebook_sync::config::Config;
use casebook_sync::{AppState, router};
use serde_json::{Value, json};

/// A Garage we started (killed by its PID when dropped).
struct Garage {
    dir: std::path::PathBuf,
    pid: u32,
    /// Already killed (its PID may since belong to another process).
    stopped: std::cell::Cell<bool>,
    vars: std::collections::HashMap<String, String>,
}

impl Garage {
    fn start(dir: &std::path::Path) -> Garage {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/garage-local");
        let out = Command::new("bash").arg(script).arg(dir).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vars: std::collections::HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Garage {
            dir: dir.to_path_buf(),
            pid: vars["GARAGE_PID"].parse().unwrap(),
            stopped: std::cell::Cell::new(false),
            vars,
        }
    }

    fn stop(&self) {
        // SAFETY: kill(2) on the PID of a process this test started and has not killed yet.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGKILL);
        }
        self.stopped.set(true);
        // Reap it (it is a grandchild via bash; wait for the port to close instead).
        let port = self.vars["S3_ENDPOINT"]
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        for _ in 0..100 {
            if std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Garage did not stop");
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        if !self.stopped.get() {
            // SAFETY: as in `stop`.
            unsafe {
                libc::kill(self.pid as i32, libc::SIGKILL);
            }
        }
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn json(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn upload(&self, token: &str, seq: u64, bytes: &[u8]) -> reqwest::Response {
        self.http
            .put(format!("{}/v1/blobs/{seq}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap()
    }
}

fn blob(seq: u64) -> Vec<u8> {
    format!("ciphertext of change {seq}")
        .repeat(64)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_object_store_stops_mid_run_and_no_acknowledged_blob_is_lost() {
    let Some((pg, _)) = common::scaleout::fresh().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let v = &garage.vars;
    let os = casebook_sync::config::ObjectStoreConfig {
        endpoint: Some(v["S3_ENDPOINT"].clone()),
        bucket: v["S3_BUCKET"].clone(),
        region: v["S3_REGION"].clone(),
        prefix: None,
        access_key_id: Some(v["S3_KEY_ID"].clone()),
        secret_access_key: Some(v["S3_SECRET"].clone()),
        country: Some("GB".into()),
        place: None,
    };
    let cfg = Config {
        postgres: Some(pg),
        object_store: Some(os),
        ..Config::default()
    };
    let store = casebook_sync::store::open(&cfg).await.unwrap();
    let app = router(AppState::new(cfg, store).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let c = Client {
        http: reqwest::Client::new(),
        base,
    };
    c.json(
        "/v1/accounts",
        json!({"username": "fran", "password": "long enough passphrase"}),
    )
    .await;
    let s = c
        .json("/v1/sessions", json!({"username": "fran", "password": "long enough passphrase", "device_name": "laptop", "device_public_key": "age1example"}))
        .await;
    let (device, token) = (
        s["device_id"].as_str().unwrap().to_string(),
        s["token"].as_str().unwrap().to_string(),
    );

    // A run of uploads; the object store dies part-way through.
    let mut acknowledged = 0u64;
    for seq in 1..=10 {
        assert_eq!(c.upload(&token, seq, &blob(seq)).await.status(), 201);
        acknowledged = seq;
    }
    garage.stop();
    for attempt in 0..3 {
        let r = c
            .upload(&token, acknowledged + 1, &blob(acknowledged + 1))
            .await;
        assert_eq!(r.status(), 503, "attempt {attempt}: a clean 'unavailable'");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unavailable");
        assert!(
            !body["message"].as_str().unwrap().contains("127.0.0.1"),
            "no internals"
        );
    }
    let r = c
        .http
        .get(format!(
            "{}/v1/devices/{device}/blobs?from=1&limit=5",
            c.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "reads fail cleanly too");

    // It comes back (same folder, same key): service resumes where it stopped.
    let back = Garage::start(&garage.dir);
    for seq in acknowledged + 1..=acknowledged + 5 {
        assert_eq!(
            c.upload(&token, seq, &blob(seq)).await.status(),
            201,
            "seq {seq}"
        );
        acknowledged = seq;
    }
    let heads: Value = c
        .http
        .get(format!("{}/v1/heads", c.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(heads[0]["seq"], acknowledged);
    let range: Value = c
        .http
        .get(format!(
            "{}/v1/devices/{device}/blobs?from=1&limit=100",
            c.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let range = range.as_array().unwrap();
    assert_eq!(
        range.len() as u64,
        acknowledged,
        "every acknowledged blob is there"
    );
    for item in range {
        let seq = item["seq"].as_u64().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(item["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, blob(seq), "blob {seq} byte for byte");
    }
    drop(back);
}

/// Every key under the store's prefix.
async fn keys(os: &casebook_sync::config::ObjectStoreConfig) -> Vec<String> {
    use futures::TryStreamExt;
    let objects = casebook_sync::store::scaleout::object_store(os).unwrap();
    let mut keys: Vec<String> = objects
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_bucket_holds_only_what_rows_point_to_and_nothing_after_account_deletion() {
    use casebook_sync::store::{Appended, Bytes, Store, StoreError};
    let Some((pg, os)) = common::scaleout::fresh().await else {
        return;
    };
    let store = casebook_sync::store::scaleout::ScaleOut::open(&pg, &os)
        .await
        .unwrap();
    // Each object costs its size and 4096 bytes of overhead.
    let quota = 30_000;
    let a = store.create_account("gwen", "hash", None).await.unwrap();
    let d = store
        .create_device(&a, "laptop", "age1k", "token-hash", None)
        .await
        .unwrap();
    assert_eq!(
        store
            .append_blob(&a, &d, 1, Bytes::from_static(b"one"), quota)
            .await
            .unwrap(),
        Appended::Stored
    );
    assert_eq!(
        store
            .append_blob(&a, &d, 2, Bytes::from_static(b"two"), quota)
            .await
            .unwrap(),
        Appended::Stored
    );
    assert_eq!(
        store
            .append_blob(&a, &d, 2, Bytes::from_static(b"two"), quota)
            .await
            .unwrap(),
        Appended::AlreadyThere
    );
    // Refused uploads leave no object behind.
    assert!(matches!(
        store
            .append_blob(&a, &d, 2, Bytes::from_static(b"other"), quota)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .append_blob(&a, &d, 5, Bytes::from_static(b"gap"), quota)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .append_blob(&a, &d, 3, vec![0u8; 20_000].into(), quota)
            .await,
        Err(StoreError::QuotaExceeded)
    ));
    // A replaced snapshot's old version goes; a refused one never lands.
    store
        .put_snapshot(&a, "backup", Bytes::from_static(b"first version"), quota)
        .await
        .unwrap();
    store
        .put_snapshot(&a, "backup", Bytes::from_static(b"second version"), quota)
        .await
        .unwrap();
    assert!(matches!(
        store
            .put_snapshot(&a, "big", vec![1u8; 20_000].into(), quota)
            .await,
        Err(StoreError::QuotaExceeded)
    ));
    assert_eq!(
        store.get_snapshot(&a, "backup").await.unwrap(),
        b"second version"
    );
    let held = keys(&os).await;
    assert_eq!(
        held.len(),
        3,
        "two blobs and one snapshot version: {held:?}"
    );
    assert!(
        held.iter().all(|k| k.contains(&a)),
        "every key is under the account"
    );
    // Someone else's device stores nothing.
    let b = store.create_account("huw", "hash", None).await.unwrap();
    assert!(matches!(
        store
            .append_blob(&b, &d, 3, Bytes::from_static(b"x"), quota)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(keys(&os).await.len(), 3);

    let deleted = store.delete_account(&a).await.unwrap();
    assert_eq!(deleted.blobs_removed, 3);
    assert!(
        keys(&os).await.is_empty(),
        "no byte of the account is left in the bucket"
    );
    assert!(store.account_by_id(&a).await.unwrap().is_none());
    assert!(
        store
            .device_for_token("token-hash")
            .await
            .unwrap()
            .is_none()
    );
}
