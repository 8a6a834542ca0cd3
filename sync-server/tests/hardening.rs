//! Issue 15 (server hardening), through the real router and the embedded backend: limits
//! that hold for requests arriving together, and the other defects of the review.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use casebook_sync::config::Config;
use casebook_sync::store::Store;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "long enough passphrase";

#[path = "support/in_process.rs"]
mod in_process;
use in_process::Server;

fn server_with(f: impl FnOnce(&mut Config)) -> Server {
    in_process::server_with("GB", f)
}

fn request(method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    match body {
        Some(v) => req
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(v).unwrap()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    }
}

impl Server {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Opens `user`'s account; its id.
    async fn sign_up(&self, user: &str) -> String {
        let body = json!({"username": user, "password": PASSWORD});
        let (st, v) = self
            .send(request(Method::POST, "/v1/accounts", None, Some(&body)))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v["account_id"].as_str().unwrap().to_string()
    }

    /// Signs in as a new device; (device id, token).
    async fn device(&self, user: &str, totp: Option<&str>) -> (String, String) {
        let body = json!({"username": user, "password": PASSWORD, "totp": totp, "device_name": "laptop", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())});
        let (st, v) = self
            .send(request(Method::POST, "/v1/sessions", None, Some(&body)))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        (
            v["device_id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    }

    /// `n` copies of a request, held at a barrier and released together; their statuses.
    async fn burst(&self, n: usize, make: impl Fn() -> Request<Body>) -> Vec<StatusCode> {
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (app, req, barrier) = (self.app.clone(), make(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    app.oneshot(req).await.unwrap().status()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }
}

/// At most `limit` of `statuses` got past the limiter (were answered `checked`); the rest
/// were refused with 429.
fn at_most_checked(statuses: &[StatusCode], checked: StatusCode, limit: usize) {
    let passed = statuses.iter().filter(|s| **s == checked).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        passed <= limit,
        "{passed} of {} attempts were checked (limit {limit})",
        statuses.len()
    );
    assert_eq!(passed + refused, statuses.len(), "{statuses:?}");
}

const BURST: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_gets_five_checks() {
    let s = server_with(|_| {});
    s.sign_up("burst").await;
    let body = json!({"username": "burst", "password": "wrong passphrase!!", "device_name": "d", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())});
    let statuses = s
        .burst(BURST, || {
            request(Method::POST, "/v1/sessions", None, Some(&body))
        })
        .await;
    at_most_checked(&statuses, StatusCode::UNAUTHORIZED, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_totp_codes_with_the_right_password_gets_five_checks() {
    let s = server_with(|_| {});
    let account = s.sign_up("totp-burst").await;
    let secret = [7u8; 20];
    s.store.set_totp_secret(&account, &secret).await.unwrap();
    s.store.enable_totp(&account, &secret, &[]).await.unwrap();
    let body = json!({"username": "totp-burst", "password": PASSWORD, "totp": "not-a-code", "device_name": "d", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())});
    let statuses = s
        .burst(BURST, || {
            request(Method::POST, "/v1/sessions", None, Some(&body))
        })
        .await;
    at_most_checked(&statuses, StatusCode::UNAUTHORIZED, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_reauthentications_gets_five_checks() {
    let s = server_with(|_| {});
    s.sign_up("reauth-burst").await;
    let (_, token) = s.device("reauth-burst", None).await;
    let body = json!({"password": "a guess by a thief"});
    let statuses = s
        .burst(BURST, || {
            request(Method::POST, "/v1/totp", Some(&token), Some(&body))
        })
        .await;
    at_most_checked(&statuses, StatusCode::FORBIDDEN, 5);
}

/// A stolen device token cannot change the password; the owner can, and every other
/// device is signed out while this one stays in. A device signs itself out with its token
/// alone.
#[tokio::test]
async fn changing_the_password_needs_the_old_one_and_signs_other_devices_out() {
    let s = server_with(|_| {});
    s.sign_up("pat").await;
    let (laptop, t1) = s.device("pat", None).await;
    let (_, t2) = s.device("pat", None).await;
    let change = |password: &str, new_password: &str| json!({"password": password, "new_password": new_password});
    let path = "/v1/account/password";
    let body = change("a guess by a thief", "the thief's own password");
    let (st, _) = s
        .send(request(Method::POST, path, Some(&t1), Some(&body)))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let body = change(PASSWORD, "too short");
    let (st, _) = s
        .send(request(Method::POST, path, Some(&t1), Some(&body)))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "same length rules as sign-up");
    let body = change(PASSWORD, "a brand new passphrase");
    let (st, v) = s
        .send(request(Method::POST, path, Some(&t1), Some(&body)))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["devices_revoked"], 1);
    let (st, _) = s
        .send(request(Method::GET, "/v1/devices", Some(&t2), None))
        .await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "the other device is signed out"
    );
    let (st, _) = s
        .send(request(Method::GET, "/v1/devices", Some(&t1), None))
        .await;
    assert_eq!(st, StatusCode::OK, "this device stays signed in");
    let sign_in = |password: &str| json!({"username": "pat", "password": password, "device_name": "d", "device_public_key": format!("age1-{}", uuid::Uuid::new_v4())});
    let (st, _) = s
        .send(request(
            Method::POST,
            "/v1/sessions",
            None,
            Some(&sign_in(PASSWORD)),
        ))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the old password is gone");
    let (st, _) = s
        .send(request(
            Method::POST,
            "/v1/sessions",
            None,
            Some(&sign_in("a brand new passphrase")),
        ))
        .await;
    assert_eq!(st, StatusCode::OK);
    // Signing this device out needs no password.
    let me = format!("/v1/devices/{laptop}");
    let (st, _) = s.send(request(Method::DELETE, &me, Some(&t1), None)).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = s
        .send(request(Method::GET, "/v1/devices", Some(&t1), None))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}
