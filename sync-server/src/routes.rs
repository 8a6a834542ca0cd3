//! The HTTP layer: thin handlers that check input, call the store for the signed-in account,
//! and shape replies. Every data route takes [`Authed`] and passes only its account id on.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use casebook_wire::*;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Authed, ClientAddr};
use crate::config::SignUpPolicy;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Appended};

pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(v)| v).map_err(|e| match e {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "send JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(_) => too_large(),
        other => ApiError::bad_request(format!(
            "the request body is not valid: {}",
            other.body_text()
        )),
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooLarge,
        "the body is larger than this server accepts",
    )
}

fn blob_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|ct| ct.to_str().ok())
        .and_then(|s| s.split(';').next())
        .map(str::trim);
    if mime != Some("application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "send blobs as Content-Type: application/octet-stream",
        ));
    }
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request("the body could not be read")
        }
    })
}

pub(crate) fn check_text(what: &str, s: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = s.chars().count();
    if n < min || n > max || s.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{what} must be {min}–{max} characters with no control characters"
        )));
    }
    Ok(())
}

/// An id or name from the path that no stored row can have (control characters, absurd
/// length) is simply not found, before any storage sees it.
fn check_path_name(s: &str) -> ApiResult<()> {
    if s.is_empty() || s.chars().count() > 200 || s.chars().any(char::is_control) {
        return Err(ApiError::not_found());
    }
    Ok(())
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// The committed OpenAPI document (`sync-server/openapi.json`).
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
}

pub async fn info(State(s): State<AppState>) -> Json<Info> {
    Json(Info {
        version: env!("CARGO_PKG_VERSION").into(),
        locations: s.locations.clone(),
        sign_up: match s.config.sign_up {
            SignUpPolicy::Open => "open".into(),
            SignUpPolicy::Invite => "invite".into(),
        },
        totp_required: s.config.totp_required,
    })
}

pub async fn sign_up(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    body: Result<Json<SignUp>, JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    // Refused sign-ups (taken names, bad invites) count against the address, so names
    // cannot be enumerated or the password hasher kept busy from one place.
    let addr_key = auth::address_key(addr);
    let now = std::time::Instant::now();
    if let Some(a) = &addr_key {
        s.limits.address.check(a, now).map_err(rate_limited)?;
    }
    let result = sign_up_checked(&s, body).await;
    if let (Err(e), Some(a)) = (&result, &addr_key)
        && matches!(e.status, StatusCode::CONFLICT | StatusCode::FORBIDDEN)
    {
        s.limits.address.failure(a, now);
    }
    result
}

async fn sign_up_checked(
    s: &AppState,
    body: Result<Json<SignUp>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<AccountCreated>)> {
    let req = json_body(body)?;
    check_text("username", &req.username, 3, 64)?;
    check_text("password", &req.password, 10, 1024)?;
    if s.store.account_by_username(&req.username).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "that username is taken",
        ));
    }
    if s.config.sign_up == SignUpPolicy::Invite {
        let ok = match &req.invite {
            Some(token) => {
                s.store
                    .consume_invite(&auth::token_hash(token), &crate::now())
                    .await?
            }
            None => false,
        };
        if !ok {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::InviteRequired,
                "this server opens accounts by invitation: the invite is missing, used or expired",
            ));
        }
    }
    let password = req.password.clone();
    let hash = auth::argon2_job(move || auth::hash_password(&password))
        .await
        .ok_or_else(|| ApiError::bad_request("that password cannot be used"))??;
    let account_id = s.store.create_account(&req.username, &hash).await?;
    Ok((StatusCode::CREATED, Json(AccountCreated { account_id })))
}

pub(crate) fn rate_limited(wait: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!(
            "too many failed sign-ins: try again in {} seconds",
            wait.as_secs().max(1)
        ),
    )
}

/// Checks a TOTP code (each time step once) or a one-time recovery code.
async fn second_factor_ok(
    s: &AppState,
    account: &store::AccountRecord,
    code: &str,
) -> ApiResult<bool> {
    let secret = account.totp_secret.clone().unwrap_or_default();
    let unix = chrono::Utc::now().timestamp().max(0) as u64;
    Ok(match crate::totp::matching_step(&secret, code, unix) {
        // A step already used (a replayed code) is refused.
        Some(step) => s.store.use_totp_step(&account.id, step).await?,
        None => {
            let h = auth::token_hash(&crate::totp::normalise_recovery_code(code));
            s.store.use_recovery_code(&account.id, &h).await?
        }
    })
}

/// For actions a stolen device token alone must not be able to take: the password again,
/// and the second factor when it is on. Failures count towards the sign-in limits.
pub(crate) async fn reauthenticate(
    s: &AppState,
    who: &Authed,
    body: Result<Json<Reauthenticate>, JsonRejection>,
) -> ApiResult<()> {
    let req = json_body(body)?;
    let key = format!("reauth|{}", who.account);
    let now = std::time::Instant::now();
    s.limits.pair.check(&key, now).map_err(rate_limited)?;
    let refused = || {
        s.limits.pair.failure(&key, now);
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized,
            "the password (or authenticator code) was not accepted",
        )
    };
    if req.password.chars().count() > 1024 {
        return Err(refused());
    }
    let account = s
        .store
        .account_by_id(&who.account)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let (password, hash) = (req.password.clone(), account.password_hash.clone());
    let ok = auth::argon2_job(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        return Err(refused());
    }
    if account.totp_enabled {
        let Some(code) = req.totp.as_deref() else {
            return Err(refused());
        };
        if !second_factor_ok(s, &account, code).await? {
            return Err(refused());
        }
    }
    s.limits.pair.success(&key);
    Ok(())
}

pub async fn sign_in(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    body: Result<Json<SignIn>, JsonRejection>,
) -> ApiResult<Json<Enrolled>> {
    let req = json_body(body)?;
    check_text("device_name", &req.device_name, 1, 100)?;
    check_text("device_public_key", &req.device_public_key, 1, 200)?;
    // No account has a longer name or password (sign-up counts characters too), and the
    // name becomes a rate-limit key, so refuse these before anything is remembered.
    if req.username.chars().count() > 64
        || req.username.chars().any(char::is_control)
        || req.password.chars().count() > 1024
    {
        return Err(ApiError::unauthorized());
    }
    let now = std::time::Instant::now();
    let attempt = auth::SignInAttempt::new(&req.username, addr);
    s.limits.check(&attempt, now).map_err(rate_limited)?;
    let fail = |s: &AppState| {
        s.limits.failure(&attempt, now);
        ApiError::unauthorized()
    };
    let account = s.store.account_by_username(&req.username).await?;
    // Verify against a dummy hash when the account does not exist, so timing gives nothing away.
    let hash = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| s.dummy_hash.clone());
    let password = req.password.clone();
    let ok = auth::argon2_job(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(account) = account.filter(|_| ok) else {
        return Err(fail(&s));
    };
    if account.totp_enabled {
        // Same reply as a wrong password, and counted as a failure: no password oracle.
        let Some(code) = req.totp.as_deref() else {
            return Err(fail(&s));
        };
        let accepted = second_factor_ok(&s, &account, code).await?;
        if !accepted {
            return Err(fail(&s));
        }
    }
    s.limits.success(&attempt);
    enrol(&s, account.id, &req.device_name, &req.device_public_key).await
}

/// The end of every successful sign-in (password or passkey): a new device with a fresh
/// token, which is shown this once and kept only as its hash.
pub(crate) async fn enrol(
    s: &AppState,
    account_id: String,
    device_name: &str,
    device_public_key: &str,
) -> ApiResult<Json<Enrolled>> {
    let token = auth::new_token();
    let device_id = s
        .store
        .create_device(
            &account_id,
            device_name,
            device_public_key,
            &auth::token_hash(&token),
        )
        .await?;
    Ok(Json(Enrolled {
        account_id,
        device_id,
        token,
    }))
}

/// Starts TOTP enrolment: a new secret for the authenticator app (not active until confirmed).
pub async fn totp_start(
    State(s): State<AppState>,
    who: Authed,
    body: Result<Json<Reauthenticate>, JsonRejection>,
) -> ApiResult<Json<TotpEnrolment>> {
    reauthenticate(&s, &who, body).await?;
    let secret = crate::totp::new_secret();
    s.store.set_totp_secret(&who.account, &secret).await?;
    let (otpauth_uri, secret_base32) = crate::totp::enrolment(&secret)
        .ok_or_else(|| ApiError::bad_request("could not make a TOTP secret"))?;
    Ok(Json(TotpEnrolment {
        otpauth_uri,
        secret_base32,
    }))
}

/// Confirms TOTP with a first code; returns the one-time recovery codes (shown once).
pub async fn totp_confirm(
    State(s): State<AppState>,
    who: Authed,
    body: Result<Json<TotpConfirm>, JsonRejection>,
) -> ApiResult<Json<RecoveryCodes>> {
    let req = json_body(body)?;
    let account = s
        .store
        .account_by_id(&who.account)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if account.totp_enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "TOTP is already on for this account",
        ));
    }
    let secret = account.totp_secret.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "start with POST /v1/totp",
        )
    })?;
    let unix = chrono::Utc::now().timestamp().max(0) as u64;
    let step = crate::totp::matching_step(&secret, &req.code, unix).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized,
            "that code is not the current one: check the authenticator app's clock",
        )
    })?;
    if !s.store.use_totp_step(&who.account, step).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized,
            "that code was already used: wait for the next one",
        ));
    }
    let codes = crate::totp::recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| auth::token_hash(&crate::totp::normalise_recovery_code(c)))
        .collect();
    s.store.enable_totp(&who.account, &secret, &hashes).await?;
    Ok(Json(RecoveryCodes { codes }))
}

pub async fn delete_account(
    State(s): State<AppState>,
    who: Authed,
    body: Result<Json<Reauthenticate>, JsonRejection>,
) -> ApiResult<Json<Deleted>> {
    reauthenticate(&s, &who, body).await?;
    Ok(Json(s.store.delete_account(&who.account).await?))
}

pub async fn list_devices(State(s): State<AppState>, who: Authed) -> ApiResult<Json<Vec<Device>>> {
    Ok(Json(s.store.list_devices(&who.account).await?))
}

pub async fn revoke_device(
    State(s): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    check_path_name(&id)?;
    s.store.revoke_device(&who.account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn usage(State(s): State<AppState>, who: Authed) -> ApiResult<Json<Usage>> {
    let used = s.store.usage(&who.account).await?;
    Ok(Json(store::usage(
        used,
        s.config.quota_bytes,
        s.config.max_blob_bytes,
    )))
}

pub async fn heads(State(s): State<AppState>, who: Authed) -> ApiResult<Json<Vec<Head>>> {
    who.require_second_factor(&s)?;
    Ok(Json(s.store.heads(&who.account).await?))
}

pub async fn append_blob(
    State(s): State<AppState>,
    who: Authed,
    Path(seq): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    who.require_second_factor(&s)?;
    let seq: u64 = seq
        .parse()
        .ok()
        .filter(|n| *n >= 1 && *n <= i64::MAX as u64)
        .ok_or_else(|| ApiError::bad_request("seq must be a whole number from 1"))?;
    let bytes = blob_body(&headers, body)?;
    let outcome = s
        .store
        .append_blob(&who.account, &who.device, seq, &bytes, s.config.quota_bytes)
        .await?;
    if outcome == Appended::Stored {
        s.metrics.uploaded_bytes.inc_by(bytes.len() as u64);
    }
    let status = if outcome == Appended::Stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(BlobInfo {
            seq,
            size: bytes.len() as u64,
            hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        }),
    ))
}

#[derive(Deserialize)]
pub struct Range {
    from: Option<String>,
    limit: Option<String>,
}

pub async fn blob_range(
    State(s): State<AppState>,
    who: Authed,
    Path(device): Path<String>,
    Query(range): Query<Range>,
) -> ApiResult<Json<Vec<BlobData>>> {
    who.require_second_factor(&s)?;
    check_path_name(&device)?;
    let from: u64 = match range.from {
        None => 1,
        Some(f) => f
            .parse()
            .ok()
            .filter(|n| *n >= 1 && *n <= i64::MAX as u64)
            .ok_or_else(|| ApiError::bad_request("from must be a whole number from 1"))?,
    };
    let limit: u64 = match range.limit {
        None => 100,
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit must be 1–1000"))?,
    };
    let blobs = s
        .store
        .blob_range(&who.account, &device, from, limit, s.config.max_blob_bytes)
        .await?;
    let engine = base64::engine::general_purpose::STANDARD;
    Ok(Json(
        blobs
            .into_iter()
            .map(|(info, bytes)| BlobData {
                info,
                data: engine.encode(bytes),
            })
            .collect(),
    ))
}

pub async fn put_snapshot(
    State(s): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    who.require_second_factor(&s)?;
    check_text("snapshot name", &name, 1, 100)?;
    let bytes = blob_body(&headers, body)?;
    let snap = s
        .store
        .put_snapshot(&who.account, &name, &bytes, s.config.quota_bytes)
        .await?;
    s.metrics.uploaded_bytes.inc_by(bytes.len() as u64);
    Ok((StatusCode::CREATED, Json(snap)))
}

pub async fn get_snapshot(
    State(s): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    who.require_second_factor(&s)?;
    check_path_name(&name)?;
    let bytes = s.store.get_snapshot(&who.account, &name).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

pub async fn list_snapshots(
    State(s): State<AppState>,
    who: Authed,
) -> ApiResult<Json<Vec<Snapshot>>> {
    who.require_second_factor(&s)?;
    Ok(Json(s.store.list_snapshots(&who.account).await?))
}

pub async fn delete_snapshot(
    State(s): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    who.require_second_factor(&s)?;
    check_path_name(&name)?;
    s.store.delete_snapshot(&who.account, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
