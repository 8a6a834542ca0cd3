//! The API through the real router, run against every storage backend: the story of one
//! therapist's devices, isolation between accounts on every endpoint, and bad input.
//! A new backend joins by adding a variant to [`Backend`] and a line to `backend_tests!`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use casebook_sync::config::{Config, SignUpPolicy};
use casebook_sync::{AppState, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;

struct Server {
    _dir: tempfile::TempDir,
    store: std::sync::Arc<dyn casebook_sync::store::Store>,
    app: axum::Router,
}

/// The storage backends the suite runs against.
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// SQLite metadata + blob folder.
    Embedded,
    /// PostgreSQL metadata + S3-compatible bucket (a real PostgreSQL and Garage, started by
    /// scripts/test; each test gets its own database and key prefix).
    ScaleOut,
}

impl Backend {
    /// The backend's settings; `None` when the scale-out services are not running and this
    /// is not the full suite (then the test says so and passes).
    async fn configure(self, cfg: &mut Config, dir: &std::path::Path) -> Option<()> {
        match self {
            Backend::Embedded => {
                cfg.data = Some(dir.to_path_buf());
                cfg.country = Some("GB".into());
                cfg.place = Some("London".into());
            }
            Backend::ScaleOut => {
                let (pg, os) = common::scaleout::fresh().await?;
                cfg.postgres = Some(pg);
                cfg.object_store = Some(os);
            }
        }
        Some(())
    }
}

async fn server_with(b: Backend, f: impl FnOnce(&mut Config)) -> Option<Server> {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    b.configure(&mut cfg, dir.path()).await?;
    f(&mut cfg);
    let store = casebook_sync::store::open(&cfg).await.unwrap();
    let state = AppState::new(cfg, store.clone()).unwrap();
    Some(Server {
        _dir: dir,
        store,
        app: router(state),
    })
}

async fn server(b: Backend) -> Option<Server> {
    server_with(b, |_| {}).await
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Server {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        if status.is_client_error() || status.is_server_error() {
            let v: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                panic!(
                    "{path}: error without a JSON body: {}",
                    String::from_utf8_lossy(&body)
                )
            });
            assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        }
        // 507 is the one deliberate 5xx: the account's quota is full, as the issue asks.
        assert!(
            !status.is_server_error() || status == StatusCode::INSUFFICIENT_STORAGE,
            "{path} gave {status}"
        );
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn json(&self, method: Method, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(
            method,
            path,
            token,
            Some("application/json"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await
    }

    async fn blob(&self, path: &str, token: &str, bytes: &[u8]) -> Reply {
        self.call(
            Method::PUT,
            path,
            Some(token),
            Some("application/octet-stream"),
            bytes.to_vec(),
        )
        .await
    }

    /// Begins a passkey registration with the account's password.
    async fn passkey_registration(&self, token: &str) -> Reply {
        self.json(
            Method::POST,
            "/v1/passkeys/registrations",
            Some(token),
            json!({"password": "long enough passphrase"}),
        )
        .await
    }

    /// Asks for a passkey sign-in challenge for `user`.
    async fn passkey_challenge(&self, user: &str) -> Reply {
        self.json(
            Method::POST,
            "/v1/sessions/passkey/challenge",
            None,
            json!({"username": user}),
        )
        .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None, vec![]).await
    }

    /// Signs up `user` and enrols one device; returns (device id, token).
    async fn account(&self, user: &str) -> (String, String) {
        let r = self
            .json(
                Method::POST,
                "/v1/accounts",
                None,
                json!({"username": user, "password": "long enough passphrase"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        self.device(user, "Surgery laptop").await
    }

    async fn device(&self, user: &str, name: &str) -> (String, String) {
        let r = self
            .json(Method::POST, "/v1/sessions", None, json!({"username": user, "password": "long enough passphrase", "device_name": name, "device_public_key": format!("age1-{name}")}))
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        (
            v["device_id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    }
}

async fn a_therapist_with_two_devices(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (laptop, t1) = s.account("therapist").await;
    let (desktop, t2) = s.device("therapist", "Home desktop").await;

    // Each device appends to its own log; a retried upload is idempotent; gaps and rewrites conflict.
    assert_eq!(
        s.blob("/v1/blobs/1", &t1, b"ciphertext one").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.blob("/v1/blobs/2", &t1, b"ciphertext two").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.blob("/v1/blobs/2", &t1, b"ciphertext two").await.status,
        StatusCode::OK
    );
    assert_eq!(
        s.blob("/v1/blobs/2", &t1, b"something else").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.blob("/v1/blobs/4", &t1, b"gap").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.blob("/v1/blobs/1", &t2, b"desktop one").await.status,
        StatusCode::CREATED
    );

    let heads = s.get("/v1/heads", Some(&t2)).await.json();
    let heads = heads.as_array().unwrap();
    assert_eq!(heads.len(), 2);
    let lap = heads
        .iter()
        .find(|h| h["device_id"] == laptop.as_str())
        .unwrap();
    assert_eq!(lap["seq"], 2);

    // The other device reads the laptop's log back, byte for byte.
    let range = s
        .get(
            &format!("/v1/devices/{laptop}/blobs?from=1&limit=10"),
            Some(&t2),
        )
        .await
        .json();
    let range = range.as_array().unwrap();
    assert_eq!(range.len(), 2);
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD
        .decode(range[1]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(b, b"ciphertext two");

    // A blob larger than the embedded backend keeps in its rows (a file there) comes back
    // byte for byte too, in order after a small one.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(
        s.blob("/v1/blobs/2", &t2, &big).await.status,
        StatusCode::CREATED
    );
    let from_desktop = s
        .get(
            &format!(
                "/v1/devices/{}/blobs?from=1&limit=10",
                heads
                    .iter()
                    .find(|h| h["device_id"] != laptop.as_str())
                    .unwrap()["device_id"]
                    .as_str()
                    .unwrap()
            ),
            Some(&t1),
        )
        .await
        .json();
    let from_desktop = from_desktop.as_array().unwrap();
    assert_eq!(from_desktop.len(), 2);
    let got: Vec<Vec<u8>> = from_desktop
        .iter()
        .map(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b["data"].as_str().unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(got[0], b"desktop one");
    assert_eq!(got[1], big);

    // Snapshots.
    assert_eq!(
        s.blob(
            "/v1/snapshots/backup%202026-11-22%2009:00",
            &t1,
            b"encrypted backup"
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.blob("/v1/snapshots/sauvegarde-%C3%A9t%C3%A9", &t1, b"second")
            .await
            .status,
        StatusCode::CREATED
    );
    let list = s.get("/v1/snapshots", Some(&t2)).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let got = s
        .get("/v1/snapshots/backup%202026-11-22%2009:00", Some(&t2))
        .await;
    assert_eq!(got.body, b"encrypted backup");
    assert_eq!(
        s.call(
            Method::DELETE,
            "/v1/snapshots/sauvegarde-%C3%A9t%C3%A9",
            Some(&t1),
            None,
            vec![]
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );

    // Usage: the bytes, and 4096 for each of the five objects (four blobs, one snapshot).
    let usage = s.get("/v1/usage", Some(&t1)).await.json();
    assert_eq!(
        usage["used_bytes"],
        (b"ciphertext one".len()
            + b"ciphertext two".len()
            + b"desktop one".len()
            + big.len()
            + b"encrypted backup".len()
            + 5 * 4096) as u64
    );

    // Metrics count by route template and status, and never carry a token or a name.
    let metrics = String::from_utf8(s.get("/metrics", None).await.body).unwrap();
    assert!(
        metrics.contains(r#"route="/v1/blobs/{seq}",status="201""#),
        "{metrics}"
    );
    assert!(
        metrics.contains("casebook_sync_uploaded_bytes_total"),
        "{metrics}"
    );
    assert!(
        !metrics.contains(&t1) && !metrics.contains("backup 2026"),
        "{metrics}"
    );

    // Revoke the desktop from the laptop: the password again (a stolen laptop token alone
    // cannot cut the owner's other devices off); its token stops working at once.
    let devices = s.get("/v1/devices", Some(&t1)).await.json();
    assert_eq!(devices.as_array().unwrap().len(), 2);
    // Each has been seen (to the minute): both have made requests by now.
    for d in devices.as_array().unwrap() {
        let seen = d["last_seen_at"].as_str().unwrap_or_default();
        assert!(seen.ends_with(":00Z"), "{d}");
        assert!(chrono::DateTime::parse_from_rfc3339(seen).is_ok(), "{d}");
    }
    let other = format!("/v1/devices/{desktop}");
    assert_eq!(
        s.call(Method::DELETE, &other, Some(&t1), None, vec![])
            .await
            .status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no password given"
    );
    assert_eq!(
        s.json(
            Method::DELETE,
            &other,
            Some(&t1),
            json!({"password": "a guess by a thief"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.json(
            Method::DELETE,
            &other,
            Some(&t1),
            json!({"password": "long enough passphrase"})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get("/v1/heads", Some(&t2)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A device token alone cannot delete the account: the password is asked again.
    let refused = s
        .json(
            Method::DELETE,
            "/v1/account",
            Some(&t1),
            json!({"password": "a guess by a thief"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.get("/v1/heads", Some(&t1))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Delete the account: everything goes, and says so.
    let gone = s
        .json(
            Method::DELETE,
            "/v1/account",
            Some(&t1),
            json!({"password": "long enough passphrase"}),
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(gone.json()["blobs_removed"], 5);
    assert_eq!(
        s.get("/v1/heads", Some(&t1)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let relogin = s.json(Method::POST, "/v1/sessions", None, json!({"username": "therapist", "password": "long enough passphrase", "device_name": "x", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())})).await;
    assert_eq!(relogin.status, StatusCode::UNAUTHORIZED);
}

/// The same computer signing in again — its device key *and* its live token — keeps its place
/// in the device list: same id, a new token, and the old token stops working. Knowing the key
/// alone (keys are listed to the account) is no proof: that enrols a new device and leaves the
/// real one alone. A revoked device is never revived.
async fn signing_in_again_reuses_the_device(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (laptop, old) = s.account("again").await;
    let again = |key: &str, previous: Option<&str>| json!({"username": "again", "password": "long enough passphrase", "device_name": "Surgery laptop", "device_public_key": key, "previous_token": previous});
    let r = s
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            again("age1-Surgery laptop", Some(&old)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(
        v["device_id"],
        laptop.as_str(),
        "the same key and its token: the same device"
    );
    let new = v["token"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    assert_eq!(
        s.get("/v1/heads", Some(&old)).await.status,
        StatusCode::UNAUTHORIZED,
        "the old token is replaced"
    );
    let devices = s.get("/v1/devices", Some(&new)).await.json();
    assert_eq!(devices.as_array().unwrap().len(), 1);

    // The key without the token (or with a wrong one) is someone else: a new device, and the
    // laptop keeps working.
    for previous in [None, Some("not the token")] {
        let r = s
            .json(
                Method::POST,
                "/v1/sessions",
                None,
                again("age1-Surgery laptop", previous),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_ne!(r.json()["device_id"], laptop.as_str());
    }
    assert_eq!(s.get("/v1/heads", Some(&new)).await.status, StatusCode::OK);

    // A revoked device's token proves nothing any more.
    let (desk, desk_token) = s.device("again", "Home desktop").await;
    let r = s
        .json(
            Method::DELETE,
            &format!("/v1/devices/{desk}"),
            Some(&new),
            json!({"password": "long enough passphrase"}),
        )
        .await;
    assert!(
        r.status.is_success(),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let r = s
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            again("age1-Home desktop", Some(&desk_token)),
        )
        .await;
    assert_ne!(
        r.json()["device_id"],
        desk.as_str(),
        "a revoked device stays revoked"
    );

    // A device signed out by a password change (not revoked) signs in again with the new
    // password and its last token: the same device, its log kept (sync knows it by its id).
    let (spare, spare_token) = s.device("again", "Spare room").await;
    s.blob("/v1/blobs/1", &spare_token, b"spare one").await;
    let r = s
        .json(
            Method::POST,
            "/v1/account/password",
            Some(&new),
            json!({"password": "long enough passphrase", "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        s.get("/v1/heads", Some(&spare_token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = s
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            json!({"username": "again", "password": "a brand new passphrase", "device_name": "Spare room", "device_public_key": "age1-Spare room", "previous_token": spare_token}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()["device_id"],
        spare.as_str(),
        "the same device again"
    );
    let token = r.json()["token"].as_str().unwrap().to_string();
    let heads = s.get("/v1/heads", Some(&token)).await.json();
    assert!(
        heads
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["device_id"] == spare.as_str() && h["seq"] == 1),
        "its log is kept: {heads}"
    );
    // The revoked desktop still cannot, even with the new password.
    let r = s
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            json!({"username": "again", "password": "a brand new passphrase", "device_name": "Home desktop", "device_public_key": "age1-Home desktop", "previous_token": desk_token}),
        )
        .await;
    assert_ne!(r.json()["device_id"], desk.as_str());
}

async fn another_account_gets_no_data_and_no_hint_from_any_endpoint(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (alice_dev, alice) = s.account("alice").await;
    let (_bob_dev, bob) = s.account("bob").await;
    s.blob("/v1/blobs/1", &alice, b"alice secret").await;
    s.blob("/v1/snapshots/alice-backup", &alice, b"alice backup")
        .await;

    // Bob, with his own valid token, aims at Alice's ids.
    let r = s
        .get(&format!("/v1/devices/{alice_dev}/blobs"), Some(&bob))
        .await;
    let missing = s
        .get(
            "/v1/devices/00000000-0000-0000-0000-000000000000/blobs",
            Some(&bob),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body, missing.body,
        "the reply must not differ from a device that does not exist"
    );
    assert_eq!(
        s.get("/v1/snapshots/alice-backup", Some(&bob)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.call(
            Method::DELETE,
            "/v1/snapshots/alice-backup",
            Some(&bob),
            None,
            vec![]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.json(
            Method::DELETE,
            &format!("/v1/devices/{alice_dev}"),
            Some(&bob),
            json!({"password": "long enough passphrase"}),
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        s.get("/v1/heads", Some(&bob))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        s.get("/v1/snapshots", Some(&bob))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.get("/v1/usage", Some(&bob)).await.json()["used_bytes"], 0);
    let devices = s.get("/v1/devices", Some(&bob)).await.json();
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["id"] != alice_dev.as_str())
    );
    // Bob's snapshot of the same name is his own.
    s.blob("/v1/snapshots/alice-backup", &bob, b"bob's").await;
    assert_eq!(
        s.get("/v1/snapshots/alice-backup", Some(&alice)).await.body,
        b"alice backup"
    );
    // Deleting Bob's account leaves Alice's data.
    s.json(
        Method::DELETE,
        "/v1/account",
        Some(&bob),
        json!({"password": "long enough passphrase"}),
    )
    .await;
    assert_eq!(
        s.get("/v1/heads", Some(&alice))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // No token, a made-up token: 401 everywhere, same body.
    for path in [
        "/v1/heads",
        "/v1/devices",
        "/v1/snapshots",
        "/v1/usage",
        "/v1/snapshots/alice-backup",
    ] {
        assert_eq!(s.get(path, None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            s.get(path, Some("made-up")).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        s.blob("/v1/blobs/2", "made-up", b"x").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn bad_input_gets_a_clear_4xx_and_stores_nothing(b: Backend) {
    let Some(s) = server_with(b, |c| {
        c.max_blob_bytes = 1024;
        // Three blobs of 1000 bytes, with 4096 bytes of overhead each.
        c.quota_bytes = 3 * (1000 + 4096);
    })
    .await
    else {
        return;
    };
    let (dev, t) = s.account("carol").await;
    let cases: Vec<(Reply, StatusCode)> = vec![
        (
            s.call(
                Method::POST,
                "/v1/accounts",
                None,
                Some("application/json"),
                b"{not json".to_vec(),
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.call(
                Method::POST,
                "/v1/accounts",
                None,
                Some("text/plain"),
                b"{}".to_vec(),
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            s.json(Method::POST, "/v1/accounts", None, json!({"username": "x"}))
                .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.json(
                Method::POST,
                "/v1/accounts",
                None,
                json!({"username": "ok-name", "password": "short"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.json(
                Method::POST,
                "/v1/accounts",
                None,
                json!({"username": "carol", "password": "long enough passphrase"}),
            )
            .await,
            StatusCode::CONFLICT,
        ),
        (
            s.json(
                Method::POST,
                "/v1/accounts",
                None,
                json!({"username": "bad\u{0}name", "password": "long enough passphrase"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.call(
                Method::PUT,
                "/v1/blobs/1",
                Some(&t),
                Some("text/plain"),
                b"x".to_vec(),
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            s.blob("/v1/blobs/1", &t, &vec![0u8; 2048]).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            s.blob("/v1/blobs/0", &t, b"x").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.blob("/v1/blobs/-1", &t, b"x").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.blob("/v1/blobs/99999999999999999999999", &t, b"x").await,
            StatusCode::BAD_REQUEST,
        ),
        (s.blob("/v1/blobs/5", &t, b"x").await, StatusCode::CONFLICT),
        // Empty bodies cost storage rows and files for nothing: refused.
        (
            s.blob("/v1/blobs/1", &t, b"").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.blob("/v1/snapshots/empty", &t, b"").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.get(&format!("/v1/devices/{dev}/blobs?from=0"), Some(&t))
                .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.get(
                &format!("/v1/devices/{dev}/blobs?limit=100000000"),
                Some(&t),
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.get(&format!("/v1/devices/{dev}/blobs?from=abc"), Some(&t))
                .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            s.blob(&format!("/v1/snapshots/{}", "n".repeat(101)), &t, b"x")
                .await,
            StatusCode::BAD_REQUEST,
        ),
    ];
    // JSON bodies have their own small limit, whatever the blob limit is.
    let huge = format!("{{\"username\": \"{}\"}}", "u".repeat(100_000));
    let r = s
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            Some("application/json"),
            huge.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    for (i, (reply, want)) in cases.iter().enumerate() {
        assert_eq!(
            reply.status,
            *want,
            "case {i}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    assert!(
        s.get("/v1/heads", Some(&t))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.get("/v1/usage", Some(&t)).await.json()["used_bytes"], 0);

    // The quota: 3 × (1000 bytes + overhead) fit, the fourth is refused with 507.
    for seq in 1..=3 {
        assert_eq!(
            s.blob(&format!("/v1/blobs/{seq}"), &t, &vec![7u8; 1000])
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let full = s.blob("/v1/blobs/4", &t, &vec![7u8; 1000]).await;
    assert_eq!(full.status, StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(full.json()["code"], "quota_exceeded");
    // A range stops at a byte budget (the maximum blob size), always returning at least one.
    let range = s
        .get(
            &format!("/v1/devices/{dev}/blobs?from=1&limit=10"),
            Some(&t),
        )
        .await
        .json();
    assert_eq!(range.as_array().unwrap().len(), 1);
}

async fn invite_only_sign_up(b: Backend) {
    let Some(s) = server_with(b, |c| c.sign_up = SignUpPolicy::Invite).await else {
        return;
    };
    let r = s
        .json(
            Method::POST,
            "/v1/accounts",
            None,
            json!({"username": "dan", "password": "long enough passphrase"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["code"], "invite_required");
    // A taken name with no invite, or a bad one, gets the same 403 as a free name: names
    // cannot be probed without an invite.
    s.store
        .create_invite(
            &casebook_sync::auth::token_hash("good-invite"),
            "2999-01-01T00:00:00Z",
        )
        .await
        .unwrap();
    s.store.create_account("existing", "x", None).await.unwrap();
    for invite in [None, Some("made-up-invite")] {
        let r = s
            .json(
                Method::POST,
                "/v1/accounts",
                None,
                json!({"username": "existing", "password": "long enough passphrase", "invite": invite}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{invite:?}");
        assert_eq!(r.json()["code"], "invite_required");
    }
    // With a good invite the taken name is refused, and the invite is still usable.
    let taken = s
        .json(
            Method::POST,
            "/v1/accounts",
            None,
            json!({"username": "existing", "password": "long enough passphrase", "invite": "good-invite"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    // Taken-name sign-ups racing a real one for the same invite never burn it: the store
    // uses it up in the same transaction that creates the account.
    let hash = casebook_sync::auth::token_hash("good-invite");
    let now = "2026-01-01T00:00:00Z";
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = s.store.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                store
                    .create_account("existing", "x", Some((&hash, now)))
                    .await
            })
        })
        .collect();
    for r in racers {
        assert!(matches!(
            r.await.unwrap(),
            Err(casebook_sync::store::StoreError::Conflict(_))
        ));
    }
    let made = s
        .json(
            Method::POST,
            "/v1/accounts",
            None,
            json!({"username": "dan", "password": "long enough passphrase", "invite": "good-invite"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    // Used once: two sign-ups at once with one invite make one account.
    s.store
        .create_invite(
            &casebook_sync::auth::token_hash("one-use"),
            "2999-01-01T00:00:00Z",
        )
        .await
        .unwrap();
    let hash = casebook_sync::auth::token_hash("one-use");
    let pair: Vec<_> = (0..2)
        .map(|i| {
            let store = s.store.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                store
                    .create_account(&format!("twin{i}"), "x", Some((&hash, now)))
                    .await
            })
        })
        .collect();
    let mut made = 0;
    for r in pair {
        match r.await.unwrap() {
            Ok(_) => made += 1,
            Err(e) => assert!(
                matches!(e, casebook_sync::store::StoreError::InviteInvalid),
                "{e}"
            ),
        }
    }
    assert_eq!(made, 1);
    let info = s.get("/v1/info", None).await.json();
    assert_eq!(info["sign_up"], "invite");
    assert_eq!(
        info["locations"][0]["description"],
        "London, United Kingdom"
    );
}

async fn wrong_password_and_unknown_user_look_the_same(b: Backend) {
    let Some(s) = server(b).await else { return };
    s.account("erin").await;
    let wrong = s.json(Method::POST, "/v1/sessions", None, json!({"username": "erin", "password": "not the passphrase", "device_name": "d", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())})).await;
    let nobody = s.json(Method::POST, "/v1/sessions", None, json!({"username": "nobody", "password": "not the passphrase", "device_name": "d", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())})).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, nobody.body);
}

/// One `#[tokio::test]` per (backend, story).
/// Passkeys end to end with a software authenticator (webauthn-authenticator-rs): register
/// one (the password again first), sign in with it on a new device with no password or
/// code, and never with a replayed answer, another account's passkey or a removed one.
async fn passkeys_sign_in_once_and_only_for_their_account(b: Backend) {
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;
    const ORIGIN: &str = "http://localhost:8787";
    let Some(s) = server_with(b, |c| {
        c.passkeys = Some(casebook_sync::config::PasskeyConfig {
            rp_id: "localhost".into(),
            origin: ORIGIN.into(),
            rp_name: "Casebook sync (test)".into(),
        })
    })
    .await
    else {
        return;
    };
    let origin = url::Url::parse(ORIGIN).unwrap();
    let (_, token) = s.account("keyholder").await;
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));

    // Registration needs the password again: a device token alone cannot add a passkey.
    let refused = s
        .json(
            Method::POST,
            "/v1/passkeys/registrations",
            Some(&token),
            json!({"password": "wrong"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let challenge = s.passkey_registration(&token).await.json();
    let options = serde_json::from_value(challenge["options"].clone()).unwrap();
    let credential = authenticator
        .do_registration(origin.clone(), options)
        .unwrap();
    let registration = json!({
        "ceremony": challenge["ceremony"],
        "name": "Laptop fingerprint",
        "credential": credential,
    });
    let made = s
        .json(
            Method::POST,
            "/v1/passkeys",
            Some(&token),
            registration.clone(),
        )
        .await;
    assert_eq!(
        made.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&made.body)
    );
    let passkey_id = made.json()["id"].as_str().unwrap().to_string();
    // The same answer again: the ceremony is used up.
    let again = s
        .json(Method::POST, "/v1/passkeys", Some(&token), registration)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let listed = s.get("/v1/passkeys", Some(&token)).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "Laptop fingerprint");
    assert_eq!(listed[0]["last_used_at"], Value::Null);

    // Sign in on a new device with the passkey alone.
    let sign_in = |challenge: &Value, credential: &Value| {
        json!({
            "ceremony": challenge["ceremony"],
            "credential": credential,
            "device_name": "Home desktop",
            "device_public_key": "age1examplepublickey",
        })
    };
    let challenge = s.passkey_challenge("keyholder").await.json();
    let options = serde_json::from_value(challenge["options"].clone()).unwrap();
    let answer = serde_json::to_value(
        authenticator
            .do_authentication(origin.clone(), options)
            .unwrap(),
    )
    .unwrap();
    let enrolled = s
        .json(
            Method::POST,
            "/v1/sessions/passkey",
            None,
            sign_in(&challenge, &answer),
        )
        .await;
    assert_eq!(
        enrolled.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&enrolled.body)
    );
    let new_token = enrolled.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        s.get("/v1/heads", Some(&new_token)).await.status,
        StatusCode::OK
    );
    let listed = s.get("/v1/passkeys", Some(&token)).await.json();
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
    // A replayed answer is refused.
    let replay = s
        .json(
            Method::POST,
            "/v1/sessions/passkey",
            None,
            sign_in(&challenge, &answer),
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);

    // Another account: no passkey, so no challenge (the same 401 as an unknown name), and
    // this account's passkey cannot answer for it.
    s.account("neighbour").await;
    for user in ["neighbour", "nobody-at-all"] {
        let r = s.passkey_challenge(user).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{user}");
    }
    // Another account cannot see or remove this account's passkey.
    let (_, neighbour) = s.device("neighbour", "x").await;
    assert_eq!(
        s.get("/v1/passkeys", Some(&neighbour)).await.json(),
        json!([])
    );
    assert_eq!(
        s.json(
            Method::DELETE,
            &format!("/v1/passkeys/{passkey_id}"),
            Some(&neighbour),
            json!({"password": "long enough passphrase"}),
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Removed: a challenge is refused, and an answer to a challenge made before is too.
    let before = s.passkey_challenge("keyholder").await.json();
    // A device token alone cannot remove a passkey: the password again.
    let remove = format!("/v1/passkeys/{passkey_id}");
    assert_eq!(
        s.json(
            Method::DELETE,
            &remove,
            Some(&token),
            json!({"password": "wrong"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.json(
            Method::DELETE,
            &remove,
            Some(&token),
            json!({"password": "long enough passphrase"})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let options = serde_json::from_value(before["options"].clone()).unwrap();
    let late = serde_json::to_value(
        authenticator
            .do_authentication(origin.clone(), options)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        s.json(
            Method::POST,
            "/v1/sessions/passkey",
            None,
            sign_in(&before, &late)
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.passkey_challenge("keyholder").await.status,
        StatusCode::UNAUTHORIZED
    );
    // A ceremony answers only for the account that began it, and only its own kind.
    let theirs = s.passkey_registration(&token).await.json();
    let options = serde_json::from_value(theirs["options"].clone()).unwrap();
    let answer = authenticator
        .do_registration(origin.clone(), options)
        .unwrap();
    let hijack = json!({"ceremony": theirs["ceremony"], "name": "mine now", "credential": answer});
    assert_eq!(
        s.json(Method::POST, "/v1/passkeys", Some(&neighbour), hijack)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get("/v1/passkeys", Some(&neighbour)).await.json(),
        json!([])
    );
    let (_, t2) = s.device("keyholder", "again").await;
    let sign_in_ceremony = json!({"ceremony": before["ceremony"], "name": "x", "credential": {}});
    assert_eq!(
        s.json(Method::POST, "/v1/passkeys", Some(&t2), sign_in_ceremony)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Garbage where a credential belongs: a clear 4xx.
    let r = s.passkey_registration(&token).await.json();
    let bad = s
        .json(
            Method::POST,
            "/v1/passkeys",
            Some(&token),
            json!({"ceremony": r["ceremony"], "name": "x", "credential": {"id": 5}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Registrations begun and not finished are capped per account (a 429, not a full table).
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = s.passkey_registration(&t2).await;
        statuses.push(r.status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        !statuses.iter().any(|s| s.is_server_error()),
        "{statuses:?}"
    );
}

/// With no `[passkeys]` settings the endpoints say passkeys are off.
async fn passkeys_are_off_unless_configured(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (_, token) = s.account("plain").await;
    let r = s.get("/v1/passkeys", Some(&token)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not turned on")
    );
    let r = s.passkey_challenge("plain").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The long-poll on heads: a computer waiting with the tag of the heads it knows is answered
/// as soon as another computer of the account stores a blob, not at the end of its wait; with
/// nothing new it answers after its wait with the same tag; bad `wait`/`since` are a 400.
async fn a_long_poll_on_heads_answers_when_a_log_grows(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (_d1, t1) = s.account("poller").await;
    let (d2, t2) = s.device("poller", "Home desktop").await;
    assert_eq!(
        s.blob("/v1/blobs/1", &t2, b"first").await.status,
        StatusCode::CREATED
    );
    let first = s.get("/v1/heads", Some(&t1)).await;
    let tag = first.headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert!(!tag.is_empty());

    // Nothing new: the same tag after the wait.
    let started = std::time::Instant::now();
    let quiet = s
        .get(&format!("/v1/heads?wait=1&since={tag}"), Some(&t1))
        .await;
    assert_eq!(quiet.status, StatusCode::OK);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "it waited"
    );
    assert_eq!(
        quiet.headers["etag"].to_str().unwrap().trim_matches('"'),
        tag
    );

    // Another computer stores a blob while this one waits (up to 30 s): answered at once.
    let s = std::sync::Arc::new(s);
    let waiter = {
        let (s, t1, tag) = (s.clone(), t1.clone(), tag.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = s
                .get(&format!("/v1/heads?wait=30&since={tag}"), Some(&t1))
                .await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        s.blob("/v1/blobs/2", &t2, b"second").await.status,
        StatusCode::CREATED
    );
    let (woken, took) = tokio::time::timeout(std::time::Duration::from_secs(20), waiter)
        .await
        .expect("the long-poll answered")
        .unwrap();
    assert_eq!(woken.status, StatusCode::OK);
    assert!(
        took < std::time::Duration::from_secs(10),
        "answered when the log grew, not after 30 s ({took:?})"
    );
    let heads = woken.json();
    let home = heads
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["device_id"] == d2.as_str())
        .unwrap();
    assert_eq!(home["seq"], 2);
    assert_ne!(
        woken.headers["etag"].to_str().unwrap().trim_matches('"'),
        tag
    );

    // A tag that is not the current one answers at once, whatever the wait.
    let started = std::time::Instant::now();
    assert_eq!(
        s.get(&format!("/v1/heads?wait=30&since={tag}"), Some(&t1))
            .await
            .status,
        StatusCode::OK
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let long = format!("since={}", "a".repeat(65));
    for bad in [
        "wait=51&since=ab",
        "wait=-1&since=ab",
        "wait=x&since=ab",
        "wait=5&since=not-hex",
        "since=not-hex",
        long.as_str(),
        "wait=51",
    ] {
        assert_eq!(
            s.get(&format!("/v1/heads?{bad}"), Some(&t1)).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

/// Compaction: a device removes its own blobs below a checkpoint; the head stays, the log
/// goes on, the quota is freed, and no device can cut another's log.
async fn a_device_cuts_its_own_log_below_a_checkpoint(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (d1, t1) = s.account("compactor").await;
    let (d2, t2) = s.device("compactor", "Laptop").await;
    let big = vec![7u8; 100 * 1024]; // kept as a file by the embedded store
    for (seq, bytes) in [(1, &b"one"[..]), (2, &big[..]), (3, b"three"), (4, b"four")] {
        assert_eq!(
            s.blob(&format!("/v1/blobs/{seq}"), &t2, bytes).await.status,
            StatusCode::CREATED
        );
    }
    let used = |v: Value| v["used_bytes"].as_u64().unwrap();
    let before = used(s.get("/v1/usage", Some(&t1)).await.json());

    let cut = s
        .call(Method::DELETE, "/v1/blobs?below=3", Some(&t2), None, vec![])
        .await;
    assert_eq!(cut.status, StatusCode::OK);
    assert_eq!(cut.json()["blobs_removed"], 2);
    assert_eq!(cut.json()["bytes_removed"], 3 + 100 * 1024);
    let left = s
        .get(
            &format!("/v1/devices/{d2}/blobs?from=1&limit=10"),
            Some(&t1),
        )
        .await
        .json();
    let seqs: Vec<u64> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![3, 4], "served from the cut on");
    assert!(used(s.get("/v1/usage", Some(&t1)).await.json()) < before - 100 * 1024);
    let heads = s.get("/v1/heads", Some(&t1)).await.json();
    assert!(
        heads
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["device_id"] == d2.as_str() && h["seq"] == 4)
    );

    // Again: nothing more to remove. Past the head: refused, nothing removed.
    let again = s
        .call(Method::DELETE, "/v1/blobs?below=3", Some(&t2), None, vec![])
        .await;
    assert_eq!(again.json()["blobs_removed"], 0);
    assert_eq!(
        s.call(Method::DELETE, "/v1/blobs?below=5", Some(&t2), None, vec![])
            .await
            .status,
        StatusCode::CONFLICT
    );
    for bad in ["", "?below=0", "?below=x", "?below=-2"] {
        assert_eq!(
            s.call(
                Method::DELETE,
                &format!("/v1/blobs{bad}"),
                Some(&t2),
                None,
                vec![]
            )
            .await
            .status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // The other device's cut reaches only its own (empty) log.
    assert_eq!(
        s.call(Method::DELETE, "/v1/blobs?below=4", Some(&t1), None, vec![])
            .await
            .status,
        StatusCode::CONFLICT
    );
    let _ = d1;
    let still = s
        .get(
            &format!("/v1/devices/{d2}/blobs?from=1&limit=10"),
            Some(&t1),
        )
        .await
        .json();
    assert_eq!(still.as_array().unwrap().len(), 2);
    // The log goes on after the cut.
    assert_eq!(
        s.blob("/v1/blobs/5", &t2, b"five").await.status,
        StatusCode::CREATED
    );
}

/// A computer removed from the practice: another device of the account removes its whole
/// log (head included) once checkpoints hold it; never a log still in use, nor one only
/// signed out by a password change, nor another account's.
async fn a_revoked_devices_whole_log_is_removed(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (_d1, t1) = s.account("revoker").await;
    let (d2, t2) = s.device("revoker", "Stolen laptop").await;
    let (d3, t3) = s.device("revoker", "Spare room").await;
    for (seq, bytes) in [(1, &b"one"[..]), (2, b"two")] {
        assert_eq!(
            s.blob(&format!("/v1/blobs/{seq}"), &t2, bytes).await.status,
            StatusCode::CREATED
        );
        assert_eq!(
            s.blob(&format!("/v1/blobs/{seq}"), &t3, bytes).await.status,
            StatusCode::CREATED
        );
    }
    let remove = |d: &str| format!("/v1/devices/{d}/blobs");
    let used = |v: Value| v["used_bytes"].as_u64().unwrap();
    // Still in use: refused, nothing removed.
    assert_eq!(
        s.call(Method::DELETE, &remove(&d2), Some(&t1), None, vec![])
            .await
            .status,
        StatusCode::CONFLICT
    );
    // Another account aims at it: the same answer as a device that does not exist.
    let (_e, eve) = s.account("eve-remover").await;
    assert_eq!(
        s.call(Method::DELETE, &remove(&d2), Some(&eve), None, vec![])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = s
        .json(
            Method::DELETE,
            &format!("/v1/devices/{d2}"),
            Some(&t1),
            json!({"password": "long enough passphrase"}),
        )
        .await;
    assert!(r.status.is_success());
    let before = used(s.get("/v1/usage", Some(&t1)).await.json());
    let gone = s
        .call(Method::DELETE, &remove(&d2), Some(&t1), None, vec![])
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(gone.json()["blobs_removed"], 2);
    assert!(used(s.get("/v1/usage", Some(&t1)).await.json()) < before);
    let left = s.get(&format!("{}?from=1", remove(&d2)), Some(&t1)).await;
    assert_eq!(left.json().as_array().unwrap().len(), 0);
    let heads = s.get("/v1/heads", Some(&t1)).await.json();
    assert!(
        heads
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["device_id"] != d2.as_str()),
        "its head is gone too"
    );
    let again = s
        .call(Method::DELETE, &remove(&d2), Some(&t1), None, vec![])
        .await;
    assert_eq!(again.json()["blobs_removed"], 0);

    // A computer that left the practice's sync closes its log (it stays signed in, for its
    // off-site backups): it takes no more blobs, and another device may remove it whole.
    let (d4, t4) = s.device("revoker", "Left sync").await;
    assert_eq!(
        s.blob("/v1/blobs/1", &t4, b"its last").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.call(Method::DELETE, &remove(&d4), Some(&t1), None, vec![])
            .await
            .status,
        StatusCode::CONFLICT,
        "not closed yet"
    );
    let closed = s
        .call(Method::POST, "/v1/log/close", Some(&t4), None, vec![])
        .await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.blob("/v1/blobs/2", &t4, b"after leaving").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(s.get("/v1/usage", Some(&t4)).await.status, StatusCode::OK);
    let gone = s
        .call(Method::DELETE, &remove(&d4), Some(&t1), None, vec![])
        .await;
    assert_eq!(gone.json()["blobs_removed"], 1);

    // Signed out by a password change (it may sign in again with its log): refused.
    let r = s
        .json(
            Method::POST,
            "/v1/account/password",
            Some(&t1),
            json!({"password": "long enough passphrase", "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        s.call(Method::DELETE, &remove(&d3), Some(&t1), None, vec![])
            .await
            .status,
        StatusCode::CONFLICT
    );
    let kept = s.get(&format!("{}?from=1", remove(&d3)), Some(&t1)).await;
    assert_eq!(kept.json().as_array().unwrap().len(), 2);
    assert_eq!(
        s.call(Method::DELETE, &remove(&d3), Some(&t3), None, vec![])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

macro_rules! backend_tests {
    ($backend:ident: $($name:ident),*) => {
        #[allow(non_snake_case)]
        mod $backend {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::$backend).await
                }
            )*
        }
    };
}

/// A computer switched off since an erasure: another device of the account empties its log
/// up to a seq its own checkpoint holds. That blob keeps its place without its bytes (the head
/// and its hash stay listed), nothing up to it is served again, and the computer carries on
/// after it when it comes back — a blob it sends again there is taken as already held.
async fn another_devices_log_is_emptied_through_a_seq(b: Backend) {
    let Some(s) = server(b).await else { return };
    let (_d1, t1) = s.account("emptier").await;
    let (d2, t2) = s.device("emptier", "Laptop at home").await;
    let big = vec![9u8; 100 * 1024]; // a file in the embedded store, not a row
    let blobs: [(u64, &[u8]); 3] = [(1, b"one"), (2, &big), (3, b"three")];
    for (seq, bytes) in blobs {
        assert_eq!(
            s.blob(&format!("/v1/blobs/{seq}"), &t2, bytes).await.status,
            StatusCode::CREATED
        );
    }
    let head_before = s.get("/v1/heads", Some(&t1)).await.json();
    let empty = |n: &str| format!("/v1/devices/{d2}/blobs?through={n}");
    for bad in ["0", "x", "-1"] {
        assert_eq!(
            s.call(Method::DELETE, &empty(bad), Some(&t1), None, vec![])
                .await
                .status,
            StatusCode::BAD_REQUEST,
            "through={bad}"
        );
    }
    assert_eq!(
        s.call(Method::DELETE, &empty("4"), Some(&t1), None, vec![])
            .await
            .status,
        StatusCode::CONFLICT,
        "past the head"
    );
    let (_e, eve) = s.account("eve-emptier").await;
    assert_eq!(
        s.call(Method::DELETE, &empty("3"), Some(&eve), None, vec![])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let used = |v: Value| v["used_bytes"].as_u64().unwrap();
    let before = used(s.get("/v1/usage", Some(&t1)).await.json());
    let gone = s
        .call(Method::DELETE, &empty("2"), Some(&t1), None, vec![])
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(gone.json()["blobs_removed"], 2);
    // Blob 1 goes with its row's overhead; blob 2's bytes stop counting, its row stays.
    assert_eq!(gone.json()["bytes_removed"], 3 + 100 * 1024);
    let after = used(s.get("/v1/usage", Some(&t1)).await.json());
    assert_eq!(
        before - after,
        3 + 4096 + 100 * 1024,
        "every removed byte is freed"
    );
    let (sr, d2r) = (&s, &d2);
    let range = |t: String| async move {
        let r = sr
            .get(&format!("/v1/devices/{d2r}/blobs?from=1"), Some(&t))
            .await;
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(range(t1.clone()).await, vec![3]);
    // Through the head: nothing served, the head still listed with its hash.
    let gone = s
        .call(Method::DELETE, &empty("3"), Some(&t1), None, vec![])
        .await;
    assert_eq!(gone.json()["blobs_removed"], 2);
    assert_eq!(gone.json()["bytes_removed"], 5);
    assert_eq!(
        after - used(s.get("/v1/usage", Some(&t1)).await.json()),
        4096 + 5,
        "blob 2's row and blob 3's bytes"
    );
    assert!(range(t1.clone()).await.is_empty());
    assert_eq!(s.get("/v1/heads", Some(&t1)).await.json(), head_before);
    let again = s
        .call(Method::DELETE, &empty("3"), Some(&t1), None, vec![])
        .await;
    assert_eq!(again.json()["blobs_removed"], 0);
    // Back again: its last blob sent once more is held already; the next follows it.
    assert_eq!(
        s.blob("/v1/blobs/3", &t2, b"three").await.status,
        StatusCode::OK
    );
    assert_eq!(
        s.blob("/v1/blobs/3", &t2, b"other").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.blob("/v1/blobs/4", &t2, b"four").await.status,
        StatusCode::CREATED
    );
    assert_eq!(range(t1.clone()).await, vec![4]);
    // Its own compaction below that works as ever.
    assert_eq!(
        s.call(Method::DELETE, "/v1/blobs?below=4", Some(&t2), None, vec![])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(range(t2).await, vec![4]);
}

backend_tests!(Embedded: a_therapist_with_two_devices, signing_in_again_reuses_the_device, another_account_gets_no_data_and_no_hint_from_any_endpoint, bad_input_gets_a_clear_4xx_and_stores_nothing, invite_only_sign_up, wrong_password_and_unknown_user_look_the_same, passkeys_sign_in_once_and_only_for_their_account, passkeys_are_off_unless_configured, a_long_poll_on_heads_answers_when_a_log_grows, a_device_cuts_its_own_log_below_a_checkpoint, a_revoked_devices_whole_log_is_removed, another_devices_log_is_emptied_through_a_seq);
backend_tests!(ScaleOut: a_therapist_with_two_devices, signing_in_again_reuses_the_device, another_account_gets_no_data_and_no_hint_from_any_endpoint, bad_input_gets_a_clear_4xx_and_stores_nothing, invite_only_sign_up, wrong_password_and_unknown_user_look_the_same, passkeys_sign_in_once_and_only_for_their_account, passkeys_are_off_unless_configured, a_long_poll_on_heads_answers_when_a_log_grows, a_device_cuts_its_own_log_below_a_checkpoint, a_revoked_devices_whole_log_is_removed, another_devices_log_is_emptied_through_a_seq);
