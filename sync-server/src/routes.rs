//! The HTTP layer: thin handlers that check input, call the store for the signed-in account,
//! and shape replies. Every data route takes [`Authed`] and passes only its account id on.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use casebook_wire::*;
use futures::StreamExt;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Authed, ClientAddr};
use crate::budget::Reservation;
use crate::config::SignUpPolicy;
use crate::error::{ApiError, ApiResult, invite_required};
use crate::store::{self, Appended, LogCut};

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

/// A blob or snapshot body: checked for its type and size, read only once memory for it is
/// reserved from the server's budget, into one buffer (no copies), and never empty. The
/// reservation must be kept while the bytes are.
async fn blob_body(
    s: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(Bytes, Reservation)> {
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
    let max = s.config.max_blob_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > max => return Err(too_large()),
        Some(0) => return Err(empty_body()),
        _ => {}
    }
    let expected = declared.unwrap_or(max);
    let reservation = s.budget.reserve(expected).await?;
    let mut buf: Vec<u8> = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the body could not be read"))?;
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        return Err(empty_body());
    }
    Ok((Bytes::from(buf), reservation))
}

fn empty_body() -> ApiError {
    ApiError::bad_request("the body is empty: a blob or snapshot must hold at least one byte")
}

/// A reply body that gives its memory reservation back once the last chunk is handed to
/// the connection (not when the handler returns).
fn reserved_body(mut bytes: Bytes, reservation: Reservation) -> Body {
    const SEND_CHUNK: usize = 256 * 1024;
    let chunks = futures::stream::unfold(Some(reservation), move |held| {
        let next = (!bytes.is_empty()).then(|| bytes.split_to(bytes.len().min(SEND_CHUNK)));
        async move {
            // `held` is dropped here when nothing is left to send.
            let chunk = next?;
            Some((Ok::<_, std::convert::Infallible>(chunk), held))
        }
    });
    Body::from_stream(chunks)
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
    // cannot be enumerated or the password hasher kept busy from one place; sign-ups in
    // flight count too, so a burst cannot slip past the limit.
    let addr_key = auth::address_key(addr);
    let now = std::time::Instant::now();
    let reserved = match &addr_key {
        Some(a) => Some(s.limits.address.begin(a, now).map_err(rate_limited)?),
        None => None,
    };
    let result = sign_up_checked(&s, body).await;
    if let Some(r) = reserved {
        match &result {
            Err(e) if matches!(e.status, StatusCode::CONFLICT | StatusCode::FORBIDDEN) => {
                r.failed()
            }
            _ => r.release(),
        }
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
    // On an invite-only server the invite is checked before the name is looked at, so
    // names cannot be probed without one; it is used up only with the account, below.
    let invite = match s.config.sign_up {
        SignUpPolicy::Open => None,
        SignUpPolicy::Invite => {
            let token = req.invite.as_deref().ok_or_else(invite_required)?;
            let hash = auth::token_hash(token);
            if !s.store.invite_usable(&hash, &crate::now()).await? {
                return Err(invite_required());
            }
            Some(hash)
        }
    };
    if s.store.account_by_username(&req.username).await?.is_some() {
        return Err(taken());
    }
    let password = req.password.clone();
    let hash = auth::argon2_job(move || auth::hash_password(&password))
        .await
        .ok_or_else(|| ApiError::bad_request("that password cannot be used"))??;
    let now = crate::now();
    let account_id = s
        .store
        .create_account(
            &req.username,
            &hash,
            invite.as_deref().map(|h| (h, now.as_str())),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(AccountCreated { account_id })))
}

fn taken() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
        "that username is taken",
    )
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
    .retry_after(wait)
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
    reauthenticate_with(s, who, &req.password, req.totp.as_deref()).await
}

/// [`reauthenticate`] with the password and code already parsed (from a larger body).
pub(crate) async fn reauthenticate_with(
    s: &AppState,
    who: &Authed,
    password: &str,
    totp: Option<&str>,
) -> ApiResult<()> {
    let key = format!("reauth|{}", who.account);
    let attempt = s
        .limits
        .pair
        .begin(&key, std::time::Instant::now())
        .map_err(rate_limited)?;
    let refused = |attempt: crate::ratelimit::Attempt<'_>| {
        attempt.failed();
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized,
            "the password (or authenticator code) was not accepted",
        )
    };
    if password.chars().count() > 1024 {
        return Err(refused(attempt));
    }
    let account = s
        .store
        .account_by_id(&who.account)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let (password, hash) = (password.to_string(), account.password_hash.clone());
    let ok = auth::argon2_job(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        return Err(refused(attempt));
    }
    if account.totp_enabled {
        let Some(code) = totp else {
            return Err(refused(attempt));
        };
        if !second_factor_ok(s, &account, code).await? {
            return Err(refused(attempt));
        }
    }
    attempt.succeeded();
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
    let attempt = auth::SignInAttempt::new(&req.username, addr);
    let reserved = s
        .limits
        .begin(&attempt, std::time::Instant::now())
        .map_err(rate_limited)?;
    let fail = |r: crate::ratelimit::SignInReservation<'_>| {
        r.failed();
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
        return Err(fail(reserved));
    };
    if account.totp_enabled {
        // Same reply as a wrong password, and counted as a failure: no password oracle.
        let Some(code) = req.totp.as_deref() else {
            return Err(fail(reserved));
        };
        let accepted = second_factor_ok(&s, &account, code).await?;
        if !accepted {
            return Err(fail(reserved));
        }
    }
    reserved.succeeded();
    let replaces = req.previous_token.as_deref().map(auth::token_hash);
    enrol(
        &s,
        account.id,
        &req.device_name,
        &req.device_public_key,
        replaces.as_deref(),
    )
    .await
}

/// The end of every successful sign-in (password or passkey): a device with a fresh token,
/// which is shown this once and kept only as its hash — the same device again when the
/// caller proved it holds that device's live token (`replaces`, its hash), else a new one.
pub(crate) async fn enrol(
    s: &AppState,
    account_id: String,
    device_name: &str,
    device_public_key: &str,
    replaces: Option<&str>,
) -> ApiResult<Json<Enrolled>> {
    let token = auth::new_token();
    let device_id = s
        .store
        .create_device(
            &account_id,
            device_name,
            device_public_key,
            &auth::token_hash(&token),
            replaces,
        )
        .await?;
    Ok(Json(Enrolled {
        account_id,
        device_id,
        token,
    }))
}

/// `DELETE /v1/totp`: turns the second factor off, after the password and a current code
/// (or a recovery code). Refused on a server that requires a second factor.
pub async fn totp_disable(
    State(s): State<AppState>,
    who: Authed,
    body: Result<Json<Reauthenticate>, JsonRejection>,
) -> ApiResult<StatusCode> {
    if s.config.totp_required {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Conflict,
            "this server requires a second factor: TOTP cannot be turned off",
        ));
    }
    reauthenticate(&s, &who, body).await?;
    s.store.disable_totp(&who.account).await?;
    Ok(StatusCode::NO_CONTENT)
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

/// Revokes a device. Signing this device out needs nothing more; revoking another one needs
/// the password (and code) again, so a stolen token cannot cut the owner's devices off.
pub async fn revoke_device(
    State(s): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: Result<Json<Reauthenticate>, JsonRejection>,
) -> ApiResult<StatusCode> {
    check_path_name(&id)?;
    if id != who.device {
        reauthenticate(&s, &who, body).await?;
    }
    s.store.revoke_device(&who.account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/account/password`: the password (and code) again, then a new one; every other
/// device of the account is signed out, this one stays signed in.
pub async fn change_password(
    State(s): State<AppState>,
    who: Authed,
    body: Result<Json<ChangePassword>, JsonRejection>,
) -> ApiResult<Json<PasswordChanged>> {
    let req = json_body(body)?;
    check_text("new_password", &req.new_password, 10, 1024)?;
    reauthenticate_with(&s, &who, &req.password, req.totp.as_deref()).await?;
    let new_password = req.new_password.clone();
    let hash = auth::argon2_job(move || auth::hash_password(&new_password))
        .await
        .ok_or_else(|| ApiError::bad_request("that password cannot be used"))??;
    let devices_revoked = s
        .store
        .change_password(&who.account, &hash, &who.device)
        .await?;
    Ok(Json(PasswordChanged { devices_revoked }))
}

pub async fn usage(State(s): State<AppState>, who: Authed) -> ApiResult<Json<Usage>> {
    let used = s.store.usage(&who.account).await?;
    Ok(Json(store::usage(
        used,
        s.config.quota_bytes,
        s.config.max_blob_bytes,
    )))
}

#[derive(Deserialize)]
pub struct HeadsQuery {
    wait: Option<String>,
    since: Option<String>,
}

/// `GET /v1/heads`: the last blob of every device's log, with an `ETag` tagging them. With
/// `wait=N` (seconds, at most `watch::MAX_WAIT_SECONDS`) and `since=TAG` it answers once the
/// heads differ from the ones that tag names, or after N seconds with the same heads.
pub async fn heads(
    State(s): State<AppState>,
    who: Authed,
    Query(q): Query<HeadsQuery>,
) -> ApiResult<Response> {
    who.require_second_factor(&s)?;
    let wait: u64 = match q.wait.as_deref() {
        None => 0,
        Some(w) => w
            .parse()
            .ok()
            .filter(|n| *n <= crate::watch::MAX_WAIT_SECONDS)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "wait must be a whole number of seconds from 0 to {}",
                    crate::watch::MAX_WAIT_SECONDS
                ))
            })?,
    };
    if let Some(since) = &q.since
        && (since.len() > 64 || !since.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ApiError::bad_request(
            "since must be the ETag of an earlier answer",
        ));
    }
    let heads = match q.since {
        Some(since) if wait > 0 => {
            let recheck = s
                .store
                .shared_between_instances()
                .then_some(crate::watch::CROSS_INSTANCE_RECHECK);
            let store = s.store.clone();
            let account = who.account.clone();
            s.heads_watch
                .wait_for_change(
                    &who.account,
                    &since,
                    std::time::Duration::from_secs(wait),
                    recheck,
                    || {
                        let (store, account) = (store.clone(), account.clone());
                        async move { store.heads(&account).await }
                    },
                )
                .await?
        }
        _ => s.store.heads(&who.account).await?,
    };
    let tag = crate::watch::tag(&heads);
    Ok(([(header::ETAG, format!("\"{tag}\""))], Json(heads)).into_response())
}

pub async fn append_blob(
    State(s): State<AppState>,
    who: Authed,
    Path(seq): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    who.require_second_factor(&s)?;
    let seq: u64 = seq
        .parse()
        .ok()
        .filter(|n| *n >= 1 && *n <= i64::MAX as u64)
        .ok_or_else(|| ApiError::bad_request("seq must be a whole number from 1"))?;
    let (bytes, _reserved) = blob_body(&s, &headers, body).await?;
    let size = bytes.len() as u64;
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let outcome = s
        .store
        .append_blob(&who.account, &who.device, seq, bytes, s.config.quota_bytes)
        .await?;
    if outcome == Appended::Stored {
        s.metrics.uploaded_bytes.inc_by(size);
        s.heads_watch.grew(&who.account);
    }
    let status = if outcome == Appended::Stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(BlobInfo { seq, size, hash })))
}

#[derive(Deserialize)]
pub struct Cut {
    below: Option<String>,
}

/// `DELETE /v1/blobs?below=N`: this device removes its own blobs below `N`, which a
/// checkpoint in its log now covers (compaction). Only its own log, and never its head.
pub async fn cut_log(
    State(s): State<AppState>,
    who: Authed,
    Query(cut): Query<Cut>,
) -> ApiResult<Json<Deleted>> {
    who.require_second_factor(&s)?;
    let below: u64 = cut
        .below
        .as_deref()
        .and_then(|b| b.parse().ok())
        .filter(|n| *n >= 1 && *n <= i64::MAX as u64)
        .ok_or_else(|| ApiError::bad_request("below must be a whole number from 1"))?;
    let gone = s
        .store
        .cut_log(&who.account, &who.device, LogCut::Below(below))
        .await?;
    Ok(Json(gone))
}

/// `POST /v1/log/close`: this device leaves the practice's sync: its log takes no more
/// blobs, and another device may remove it once its own checkpoint holds it. The device
/// stays signed in (its off-site backups carry on).
pub async fn close_log(State(s): State<AppState>, who: Authed) -> ApiResult<StatusCode> {
    who.require_second_factor(&s)?;
    s.store.close_log(&who.account, &who.device).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct Through {
    through: Option<String>,
}

/// `DELETE /v1/devices/{id}/blobs`: removes the whole log of a device revoked from the
/// account, once another computer's checkpoints hold it (so no copy of an erased client is
/// left in it). Never a log of a device only signed out by a password change.
///
/// `?through=N`: removes another device's blobs up to `N` (a computer switched off since an
/// erasure; the asking computer's checkpoint holds them). Blob `N` keeps its place without its
/// bytes, so the log's head stays listed and the device carries on after it.
pub async fn remove_log(
    State(s): State<AppState>,
    who: Authed,
    Path(device): Path<String>,
    Query(through): Query<Through>,
) -> ApiResult<Json<Deleted>> {
    who.require_second_factor(&s)?;
    check_path_name(&device)?;
    let cut = match through.through.as_deref() {
        None => LogCut::Revoked,
        Some(n) => LogCut::Through(
            n.parse()
                .ok()
                .filter(|n| *n >= 1 && *n <= i64::MAX as u64)
                .ok_or_else(|| ApiError::bad_request("through must be a whole number from 1"))?,
        ),
    };
    let gone = s.store.cut_log(&who.account, &device, cut).await?;
    Ok(Json(gone))
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
) -> ApiResult<Response> {
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
    // Which blobs, first (metadata only), so memory for the reply can be reserved before
    // any bytes are read: the raw bytes, and the JSON with their base64.
    let infos = s
        .store
        .blob_infos(&who.account, &device, from, limit, s.config.max_blob_bytes)
        .await?;
    let raw: u64 = infos.iter().map(|i| i.size).sum();
    let reply_len: u64 = 2 + infos.iter().map(range_entry_len).sum::<u64>();
    let mut reserved = s.budget.reserve(raw + reply_len).await?;
    let blobs = s
        .store
        .blob_range(&who.account, &device, from, infos.len() as u64, raw)
        .await?;
    let json = range_json(blobs, reply_len);
    reserved.shrink_to(json.len() as u64);
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, json.len())
        .body(reserved_body(json, reserved))
        .unwrap_or_else(|_| ApiError::not_found().into_response()))
}

/// The most one blob's entry in a range reply can take, in bytes.
fn range_entry_len(info: &BlobInfo) -> u64 {
    info.size.div_ceil(3) * 4 + info.hash.len() as u64 + 96
}

/// The range reply (`[BlobData, …]`), written straight into one buffer of `capacity`, each
/// blob's bytes dropped as soon as they are encoded.
fn range_json(blobs: Vec<(BlobInfo, Vec<u8>)>, capacity: u64) -> Bytes {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = String::with_capacity(usize::try_from(capacity).unwrap_or(0));
    out.push('[');
    for (i, (info, bytes)) in blobs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // The hash is lower-case hex, as the store wrote it: nothing to escape.
        out.push_str(&format!(
            "{{\"seq\":{},\"size\":{},\"hash\":\"{}\",\"data\":\"",
            info.seq, info.size, info.hash
        ));
        engine.encode_string(&bytes, &mut out);
        out.push_str("\"}");
    }
    out.push(']');
    Bytes::from(out)
}

pub async fn put_snapshot(
    State(s): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    who.require_second_factor(&s)?;
    check_text("snapshot name", &name, 1, 100)?;
    let (bytes, _reserved) = blob_body(&s, &headers, body).await?;
    let size = bytes.len() as u64;
    let snap = s
        .store
        .put_snapshot(&who.account, &name, bytes, s.config.quota_bytes)
        .await?;
    s.metrics.uploaded_bytes.inc_by(size);
    Ok((StatusCode::CREATED, Json(snap)))
}

pub async fn get_snapshot(
    State(s): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    who.require_second_factor(&s)?;
    check_path_name(&name)?;
    // Streamed from storage as it is sent: no snapshot is ever held whole in memory.
    let (size, stream) = s.store.open_snapshot(&who.account, &name).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(stream),
    ))
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
