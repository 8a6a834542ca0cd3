//! TOTP, recovery codes, replay, rate limiting, invites and the "TOTP required" setting,
//! through the real router and embedded backend.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use casebook_sync::config::{Config, SignUpPolicy};
use casebook_sync::store::Store;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};
use tower::ServiceExt;

#[path = "support/in_process.rs"]
mod in_process;
use in_process::Server;

fn server_with(f: impl FnOnce(&mut Config)) -> Server {
    in_process::server_with("IE", f)
}

impl Server {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn sign_up(&self, user: &str) {
        let (st, _) = self
            .send(
                Method::POST,
                "/v1/accounts",
                None,
                Some(json!({"username": user, "password": "long enough passphrase"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }

    async fn sign_in(&self, user: &str, password: &str, totp: Option<&str>) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"username": user, "password": password, "totp": totp, "device_name": "laptop", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())})),
        )
        .await
    }
}

fn code_at(secret_b32: &str, unix: u64) -> String {
    let secret = Secret::Encoded(secret_b32.to_string()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, secret, None, "x".into())
        .unwrap()
        .generate(unix)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn totp_enrol_confirm_sign_in_replay_and_recovery_codes() {
    let s = server_with(|_| {});
    s.sign_up("fay").await;
    let (_, enrolled) = s.sign_in("fay", "long enough passphrase", None).await;
    let token = enrolled["token"].as_str().unwrap().to_string();

    // A device token alone cannot turn TOTP on (a thief would lock the owner out).
    let (st, _) = s
        .send(
            Method::POST,
            "/v1/totp",
            Some(&token),
            Some(json!({"password": "not the passphrase"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, e) = s
        .send(
            Method::POST,
            "/v1/totp",
            Some(&token),
            Some(json!({"password": "long enough passphrase"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        e["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let secret = e["secret_base32"].as_str().unwrap().to_string();

    let (st, _) = s
        .send(
            Method::POST,
            "/v1/totp/confirm",
            Some(&token),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "a wrong code does not turn TOTP on"
    );
    let (st, codes) = s
        .send(
            Method::POST,
            "/v1/totp/confirm",
            Some(&token),
            Some(json!({"code": code_at(&secret, now())})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let codes: Vec<String> = codes["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);

    // Password alone is no longer enough; a wrong code fails.
    let (st, body) = s.sign_in("fay", "long enough passphrase", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("authenticator"));
    assert_eq!(
        s.sign_in("fay", "long enough passphrase", Some("123456"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // The next step's code works once; replaying it fails.
    let next = code_at(&secret, now() + 30);
    assert_eq!(
        s.sign_in("fay", "long enough passphrase", Some(&next))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.sign_in("fay", "long enough passphrase", Some(&next))
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "replayed code"
    );

    // A recovery code works once, in any case and with or without its dash.
    let rc = codes[3].to_lowercase().replace('-', "");
    assert_eq!(
        s.sign_in("fay", "long enough passphrase", Some(&rc))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.sign_in("fay", "long enough passphrase", Some(&codes[3]))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // The right code with the wrong password is still refused.
    assert_eq!(
        s.sign_in("fay", "wrong passphrase!!", Some(&codes[4]))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_then_released() {
    let s = server_with(|_| {});
    s.sign_up("gil").await;
    for _ in 0..5 {
        assert_eq!(
            s.sign_in("gil", "wrong passphrase!!", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (st, body) = s.sign_in("gil", "long enough passphrase", None).await;
    assert_eq!(
        st,
        StatusCode::TOO_MANY_REQUESTS,
        "locked even with the right password"
    );
    assert_eq!(body["code"], "rate_limited");
    assert!(body["message"].as_str().unwrap().contains("seconds"));
    // Another account from the same place is not locked.
    s.sign_up("hal").await;
    assert_eq!(
        s.sign_in("hal", "long enough passphrase", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn expired_and_used_invites_are_refused() {
    let s = server_with(|c| c.sign_up = SignUpPolicy::Invite);
    let hash = |t: &str| casebook_sync::auth::token_hash(t);
    s.store
        .create_invite(&hash("fresh-invite"), "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    s.store
        .create_invite(&hash("old-invite"), "2020-01-01T00:00:00Z")
        .await
        .unwrap();
    let body = |inv: &str| json!({"username": format!("u{}", inv.len()), "password": "long enough passphrase", "invite": inv});
    // A taken username does not use up the invite.
    s.store
        .create_invite(&hash("careful-invite"), "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    s.store.create_account("taken", "x", None).await.unwrap();
    let taken = json!({"username": "taken", "password": "long enough passphrase", "invite": "careful-invite"});
    assert_eq!(
        s.send(Method::POST, "/v1/accounts", None, Some(taken))
            .await
            .0,
        StatusCode::CONFLICT
    );
    let free = json!({"username": "free-name", "password": "long enough passphrase", "invite": "careful-invite"});
    assert_eq!(
        s.send(Method::POST, "/v1/accounts", None, Some(free))
            .await
            .0,
        StatusCode::CREATED
    );
    let (st, e) = s
        .send(Method::POST, "/v1/accounts", None, Some(body("old-invite")))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(e["code"], "invite_required");
    assert_eq!(
        s.send(
            Method::POST,
            "/v1/accounts",
            None,
            Some(body("fresh-invite"))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let again = json!({"username": "another", "password": "long enough passphrase", "invite": "fresh-invite"});
    assert_eq!(
        s.send(Method::POST, "/v1/accounts", None, Some(again))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "an invite is used once"
    );
}

#[tokio::test]
async fn a_server_that_requires_totp_stores_nothing_until_it_is_on() {
    let s = server_with(|c| c.totp_required = true);
    s.sign_up("ivy").await;
    let (_, enrolled) = s.sign_in("ivy", "long enough passphrase", None).await;
    let token = enrolled["token"].as_str().unwrap().to_string();
    let (st, e) = s.send(Method::GET, "/v1/heads", Some(&token), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(e["message"].as_str().unwrap().contains("second factor"));
    let (_, en) = s
        .send(
            Method::POST,
            "/v1/totp",
            Some(&token),
            Some(json!({"password": "long enough passphrase"})),
        )
        .await;
    let secret = en["secret_base32"].as_str().unwrap().to_string();
    s.send(
        Method::POST,
        "/v1/totp/confirm",
        Some(&token),
        Some(json!({"code": code_at(&secret, now())})),
    )
    .await;
    assert_eq!(
        s.send(Method::GET, "/v1/heads", Some(&token), None).await.0,
        StatusCode::OK
    );
}

/// Names are limited in characters, not bytes, at sign-up and sign-in alike.
#[tokio::test]
async fn a_long_non_latin_username_can_sign_in() {
    let s = server_with(|_| {});
    let name = "Ελένη-Παπαδοπούλου-ψυχοθεραπεύτρια-Αθήνα"; // 40 characters, 75 bytes
    assert!(name.len() > 64 && name.chars().count() <= 64);
    s.sign_up(name).await;
    assert_eq!(
        s.sign_in(name, "long enough passphrase", None).await.0,
        StatusCode::OK
    );
}

/// A sign-in as it arrives through a reverse proxy: the connection from `peer`, the address
/// the proxy saw in `X-Forwarded-For`.
async fn sign_in_via(s: &Server, peer: &str, forwarded: &str, user: &str) -> StatusCode {
    let body = json!({"username": user, "password": "wrong passphrase!!", "device_name": "laptop", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())});
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/v1/sessions")
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded)
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    s.app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited() {
    let s = server_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    // 30 failures from one address (different names, so the per-name limit does not trip
    // first) lock that address…
    for i in 0..30 {
        let st = sign_in_via(&s, "127.0.0.1", "203.0.113.9", &format!("user{i}")).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        sign_in_via(&s, "127.0.0.1", "198.51.100.1, 203.0.113.9", "another").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address the proxy saw is the right-most one"
    );
    // …but not everyone behind the same proxy.
    assert_eq!(
        sign_in_via(&s, "127.0.0.1", "198.51.100.1", "another").await,
        StatusCode::UNAUTHORIZED
    );
    // A client that is not the proxy cannot choose its address with the header.
    assert_eq!(
        sign_in_via(&s, "192.0.2.50", "203.0.113.77", "another").await,
        StatusCode::UNAUTHORIZED
    );
}
