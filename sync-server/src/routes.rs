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
use crate::auth::{self, Authed};
use crate::config::SignUpPolicy;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Appended};

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
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
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let mime = ct
            .to_str()
            .ok()
            .and_then(|s| s.split(';').next())
            .map(str::trim);
        if mime != Some("application/octet-stream") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::BadRequest,
                "send blobs as Content-Type: application/octet-stream",
            ));
        }
    }
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request("the body could not be read")
        }
    })
}

fn check_text(what: &str, s: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = s.chars().count();
    if n < min || n > max || s.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{what} must be {min}–{max} characters with no control characters"
        )));
    }
    Ok(())
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn info(State(s): State<AppState>) -> Json<Info> {
    Json(Info {
        version: env!("CARGO_PKG_VERSION").into(),
        locations: s.locations.clone(),
        sign_up: match s.config.sign_up {
            SignUpPolicy::Open => "open".into(),
            SignUpPolicy::Invite => "invite".into(),
        },
        totp_required: false,
    })
}

pub async fn sign_up(
    State(s): State<AppState>,
    body: Result<Json<SignUp>, JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let req = json_body(body)?;
    check_text("username", &req.username, 3, 64)?;
    check_text("password", &req.password, 10, 1024)?;
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
    let hash = auth::hash_password(&req.password)?;
    let account_id = s.store.create_account(&req.username, &hash).await?;
    Ok((StatusCode::CREATED, Json(AccountCreated { account_id })))
}

pub async fn sign_in(
    State(s): State<AppState>,
    body: Result<Json<SignIn>, JsonRejection>,
) -> ApiResult<Json<Enrolled>> {
    let req = json_body(body)?;
    check_text("device_name", &req.device_name, 1, 100)?;
    check_text("device_public_key", &req.device_public_key, 1, 200)?;
    if req.username.len() > 64 || req.password.len() > 1024 {
        return Err(ApiError::unauthorized());
    }
    let account = s.store.account_by_username(&req.username).await?;
    // Verify against a dummy hash when the account does not exist, so timing gives nothing away.
    let (id, hash) = match &account {
        Some(a) => (Some(a.id.clone()), a.password_hash.clone()),
        None => (None, s.dummy_hash.clone()),
    };
    let password = req.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(account_id) = id.filter(|_| ok) else {
        return Err(ApiError::unauthorized());
    };
    let token = auth::new_token();
    let device_id = s
        .store
        .create_device(
            &account_id,
            &req.device_name,
            &req.device_public_key,
            &auth::token_hash(&token),
        )
        .await?;
    Ok(Json(Enrolled {
        account_id,
        device_id,
        token,
    }))
}

pub async fn delete_account(State(s): State<AppState>, who: Authed) -> ApiResult<Json<Deleted>> {
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
    Ok(Json(s.store.heads(&who.account).await?))
}

pub async fn append_blob(
    State(s): State<AppState>,
    who: Authed,
    Path(seq): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    let seq: u64 = seq
        .parse()
        .ok()
        .filter(|n| *n >= 1 && *n <= i64::MAX as u64)
        .ok_or_else(|| ApiError::bad_request("seq must be a whole number from 1"))?;
    let bytes = blob_body(&headers, body)?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the blob is empty"));
    }
    let outcome = s
        .store
        .append_blob(&who.account, &who.device, seq, &bytes, s.config.quota_bytes)
        .await?;
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
    let from: u64 = match range.from {
        None => 1,
        Some(f) => f
            .parse()
            .ok()
            .filter(|n| *n >= 1)
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
        .blob_range(&who.account, &device, from, limit)
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
    check_text("snapshot name", &name, 1, 100)?;
    let bytes = blob_body(&headers, body)?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the snapshot is empty"));
    }
    let snap = s
        .store
        .put_snapshot(&who.account, &name, &bytes, s.config.quota_bytes)
        .await?;
    Ok((StatusCode::CREATED, Json(snap)))
}

pub async fn get_snapshot(
    State(s): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let bytes = s.store.get_snapshot(&who.account, &name).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

pub async fn list_snapshots(
    State(s): State<AppState>,
    who: Authed,
) -> ApiResult<Json<Vec<Snapshot>>> {
    Ok(Json(s.store.list_snapshots(&who.account).await?))
}

pub async fn delete_snapshot(
    State(s): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_snapshot(&who.account, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
