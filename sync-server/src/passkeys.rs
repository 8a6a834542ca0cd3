//! Passkeys (WebAuthn, through webauthn-rs): registering one on a signed-in account, and
//! signing in with one instead of a password and authenticator code.
//!
//! A passkey asks the authenticator for user verification (a PIN or biometric) as well as
//! possession of the key, so a passkey sign-in stands for both factors and asks for no TOTP
//! code. Adding a passkey needs the password (and TOTP code) again, like the other actions a
//! stolen device token alone must not take. The server keeps each passkey's public key and
//! signature counter, never a secret.
//!
//! A ceremony (challenge, then the authenticator's answer) is held in this instance's memory
//! for five minutes and can be answered once. Behind a load balancer with several instances,
//! route `/v1/passkeys*` and `/v1/sessions/passkey*` to one instance per client (sticky
//! sessions); an answer that reaches another instance is refused and the client starts again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use casebook_wire::{
    Enrolled, ErrorCode, PasskeyChallenge, PasskeyInfo, PasskeyRegistration, PasskeySignIn,
    PasskeySignInStart, Reauthenticate,
};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration as RegistrationState, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::AppState;
use crate::auth::{self, Authed, ClientAddr, SignInAttempt};
use crate::config::PasskeyConfig;
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::SignInReservation;
use crate::routes::{check_text, enrol, json_body, rate_limited, reauthenticate};
use crate::store::PasskeyRecord;

/// How long an authenticator has to answer.
const CEREMONY_TTL: Duration = Duration::from_secs(300);
/// Ceremonies held at once, at most. A sign-in ceremony holds the account's passkeys
/// (public keys, a few hundred bytes each), and an account has at most [`MAX_PER_ACCOUNT`].
const MAX_CEREMONIES: usize = 10_000;
/// Passkeys one account may register.
pub const MAX_PER_ACCOUNT: usize = 20;
/// Unanswered registrations one account may hold at once.
const MAX_OPEN_PER_ACCOUNT: usize = 5;
/// Unanswered ceremonies one client may hold at once, by the address prefixes it is in:
/// a challenge costs the asker nothing, so without caps anyone who knows a username with a
/// passkey could fill the table and keep every passkey sign-in on the server waiting. One
/// address (an IPv6 /64, a household or host) holds 5; wider prefixes hold more, but far
/// fewer than the /64s (or addresses) inside them could: an IPv6 /56 (a typical home
/// allocation) 20, a /48 (a typical site) 50, a /32 (a provider's whole allocation) 500;
/// an IPv4 /24 50 and a /16 500. So one /32 or one IPv4 /16 can take at most 5% of the
/// table, and filling it takes twenty such networks. Sign-ins are not capped per account,
/// which would let a stranger keep the owner's own sign-in refused.
const PREFIX_CAPS_V6: [(u8, usize); 4] = [(64, 5), (56, 20), (48, 50), (32, 500)];
const PREFIX_CAPS_V4: [(u8, usize); 3] = [(32, 5), (24, 50), (16, 500)];

/// The relying party and the ceremonies in progress.
pub struct Passkeys {
    webauthn: Webauthn,
    ceremonies: Mutex<HashMap<String, Pending>>,
}

enum Step {
    Register(RegistrationState),
    SignIn {
        username: String,
        state: PasskeyAuthentication,
    },
}

struct Pending {
    account: String,
    /// What the open-ceremony caps count this against, each with its cap: the client's
    /// address prefixes (when known), and for a registration the account.
    holders: Vec<(String, usize)>,
    step: Step,
    began: Instant,
}

/// The keys a client's ceremonies count against: each of its address prefixes with its cap
/// (none on loopback, where every client of a local proxy shares one address).
pub fn address_holders(addr: Option<std::net::IpAddr>) -> Vec<(String, usize)> {
    use std::net::IpAddr;
    match addr {
        None => Vec::new(),
        Some(a) if a.is_loopback() => Vec::new(),
        Some(IpAddr::V4(v4)) => PREFIX_CAPS_V4
            .iter()
            .map(|(bits, cap)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
                let net = std::net::Ipv4Addr::from(u32::from(v4) & mask);
                (format!("v4|{net}/{bits}"), *cap)
            })
            .collect(),
        Some(IpAddr::V6(v6)) => PREFIX_CAPS_V6
            .iter()
            .map(|(bits, cap)| {
                let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
                let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                (format!("v6|{net}/{bits}"), *cap)
            })
            .collect(),
    }
}

impl Passkeys {
    /// From `[passkeys]`; the error is one line naming what is wrong.
    pub fn new(cfg: &PasskeyConfig) -> Result<Passkeys, String> {
        let origin = Url::parse(&cfg.origin)
            .map_err(|e| format!("passkeys.origin {:?} is not a URL: {e}", cfg.origin))?;
        let webauthn = WebauthnBuilder::new(&cfg.rp_id, &origin)
            .and_then(|b| b.rp_name(&cfg.rp_name).build())
            .map_err(|e| {
                format!(
                    "passkeys: rp_id {:?} must be a domain name that origin {:?} is on ({e})",
                    cfg.rp_id, cfg.origin
                )
            })?;
        Ok(Passkeys {
            webauthn,
            ceremonies: Mutex::new(HashMap::new()),
        })
    }

    fn begin(&self, account: &str, holders: Vec<(String, usize)>, step: Step) -> ApiResult<String> {
        let mut all = self.ceremonies.lock().map_err(|_| busy())?;
        let now = Instant::now();
        all.retain(|_, p| now.duration_since(p.began) < CEREMONY_TTL);
        for (key, cap) in &holders {
            let open = all
                .values()
                .filter(|p| p.holders.iter().any(|(k, _)| k == key))
                .count();
            if open >= *cap {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many passkey ceremonies waiting for an answer: finish one, or wait five minutes",
                )
                .retry_after(CEREMONY_TTL));
            }
        }
        if all.len() >= MAX_CEREMONIES {
            return Err(busy());
        }
        let id = auth::new_token();
        all.insert(
            id.clone(),
            Pending {
                account: account.to_string(),
                holders,
                step,
                began: now,
            },
        );
        Ok(id)
    }

    /// The ceremony, once: a second answer to the same challenge finds nothing.
    fn take(&self, id: &str) -> Option<Pending> {
        let p = self.ceremonies.lock().ok()?.remove(id)?;
        (p.began.elapsed() < CEREMONY_TTL).then_some(p)
    }
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
        "too many passkey ceremonies in progress: try again in a minute",
    )
}

fn too_many_passkeys() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
        format!("an account can have at most {MAX_PER_ACCOUNT} passkeys: remove one first"),
    )
}

fn enabled(s: &AppState) -> ApiResult<&Passkeys> {
    s.passkeys.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "passkeys are not turned on on this server",
        )
    })
}

fn expired() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "that passkey ceremony is unknown, used or expired: start again",
    )
}

/// A stored passkey as webauthn-rs's type, or `None` for a record that does not parse (then
/// it is skipped, never trusted).
fn parse(record: &PasskeyRecord) -> Option<Passkey> {
    serde_json::from_str(&record.passkey).ok()
}

fn credential_id(p: &Passkey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p.cred_id().as_ref() as &[u8])
}

fn info(r: PasskeyRecord) -> PasskeyInfo {
    PasskeyInfo {
        id: r.id,
        name: r.name,
        created_at: r.created_at,
        last_used_at: r.last_used_at,
    }
}

/// `POST /v1/passkeys/registrations`: the password (and TOTP code) again, then the options
/// for the authenticator to make a passkey.
pub async fn register_start(
    State(s): State<AppState>,
    who: Authed,
    ClientAddr(addr): ClientAddr,
    body: Result<Json<Reauthenticate>, JsonRejection>,
) -> ApiResult<Json<PasskeyChallenge>> {
    let pk = enabled(&s)?;
    reauthenticate(&s, &who, body).await?;
    let account = s
        .store
        .account_by_id(&who.account)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let stored = s.store.passkeys(&who.account).await?;
    if stored.len() >= MAX_PER_ACCOUNT {
        return Err(too_many_passkeys());
    }
    let existing: Vec<_> = stored
        .iter()
        .filter_map(parse)
        .map(|p| p.cred_id().clone())
        .collect();
    // The user handle is the account id (a UUID), never the username.
    let handle = Uuid::parse_str(&account.id).unwrap_or_else(|_| Uuid::new_v4());
    let (options, state) = pk
        .webauthn
        .start_passkey_registration(handle, &account.username, &account.username, Some(existing))
        .map_err(|e| ApiError::bad_request(format!("a passkey cannot be registered now: {e}")))?;
    let mut holders = address_holders(addr);
    holders.push((format!("account|{}", who.account), MAX_OPEN_PER_ACCOUNT));
    let ceremony = pk.begin(&who.account, holders, Step::Register(state))?;
    Ok(Json(PasskeyChallenge {
        ceremony,
        options: serde_json::to_value(options).map_err(|_| busy())?,
    }))
}

/// `POST /v1/passkeys`: the authenticator's answer; the passkey is kept under `name`.
pub async fn register_finish(
    State(s): State<AppState>,
    who: Authed,
    body: Result<Json<PasskeyRegistration>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<PasskeyInfo>)> {
    let pk = enabled(&s)?;
    let req = json_body(body)?;
    check_text("name", &req.name, 1, 100)?;
    let pending = pk.take(&req.ceremony).ok_or_else(expired)?;
    let (Step::Register(state), true) = (pending.step, pending.account == who.account) else {
        return Err(expired());
    };
    let credential: RegisterPublicKeyCredential = serde_json::from_value(req.credential)
        .map_err(|_| ApiError::bad_request("credential is not a WebAuthn registration response"))?;
    let passkey = pk
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|_| ApiError::bad_request("the authenticator's answer was not accepted"))?;
    let json = serde_json::to_string(&passkey).map_err(|_| busy())?;
    // The store counts the account's passkeys in the same transaction as the insert.
    let record = s
        .store
        .add_passkey(
            &who.account,
            &req.name,
            &credential_id(&passkey),
            &json,
            MAX_PER_ACCOUNT,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info(record))))
}

/// `GET /v1/passkeys`.
pub async fn list(State(s): State<AppState>, who: Authed) -> ApiResult<Json<Vec<PasskeyInfo>>> {
    enabled(&s)?;
    let all = s.store.passkeys(&who.account).await?;
    Ok(Json(all.into_iter().map(info).collect()))
}

/// `DELETE /v1/passkeys/{id}`: the password (and code) again, so a stolen device token
/// cannot take the owner's passkeys away.
pub async fn delete(
    State(s): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: Result<Json<Reauthenticate>, JsonRejection>,
) -> ApiResult<StatusCode> {
    enabled(&s)?;
    reauthenticate(&s, &who, body).await?;
    s.store.delete_passkey(&who.account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A failed passkey sign-in: counted as a failed password sign-in is, with the same reply.
fn failed(reserved: SignInReservation<'_>) -> ApiError {
    reserved.failed();
    ApiError::unauthorized()
}

/// `POST /v1/sessions/passkey/challenge`: the options for the authenticator to sign in as
/// `username`. An unknown account, or one with no passkey, gets the same 401 as a wrong
/// password, counted against the same limits. (So whether a name has a passkey can be
/// learnt here, at the pace the limits allow: see docs/threat-model.md.)
pub async fn sign_in_start(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    body: Result<Json<PasskeySignInStart>, JsonRejection>,
) -> ApiResult<Json<PasskeyChallenge>> {
    let pk = enabled(&s)?;
    let req = json_body(body)?;
    if req.username.chars().count() > 64 || req.username.chars().any(char::is_control) {
        return Err(ApiError::unauthorized());
    }
    let attempt = SignInAttempt::new(&req.username, addr);
    let reserved = s
        .limits
        .begin(&attempt, Instant::now())
        .map_err(rate_limited)?;
    let Some(account) = s.store.account_by_username(&req.username).await? else {
        return Err(failed(reserved));
    };
    let keys: Vec<Passkey> = s
        .store
        .passkeys(&account.id)
        .await?
        .iter()
        .filter_map(parse)
        .collect();
    if keys.is_empty() {
        return Err(failed(reserved));
    }
    let (options, state) = match pk.webauthn.start_passkey_authentication(&keys) {
        Ok(started) => started,
        Err(_) => return Err(failed(reserved)),
    };
    // A challenge handed out is no verdict: the answer is counted when it comes back.
    reserved.release();
    let ceremony = pk.begin(
        &account.id,
        address_holders(addr),
        Step::SignIn {
            username: req.username,
            state,
        },
    )?;
    Ok(Json(PasskeyChallenge {
        ceremony,
        options: serde_json::to_value(options).map_err(|_| busy())?,
    }))
}

/// `POST /v1/sessions/passkey`: the authenticator's answer; enrols the device as a password
/// sign-in does.
pub async fn sign_in_finish(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    body: Result<Json<PasskeySignIn>, JsonRejection>,
) -> ApiResult<Json<Enrolled>> {
    let pk = enabled(&s)?;
    let req = json_body(body)?;
    check_text("device_name", &req.device_name, 1, 100)?;
    check_text("device_public_key", &req.device_public_key, 1, 200)?;
    let Some(Pending {
        account,
        step: Step::SignIn { username, state },
        ..
    }) = pk.take(&req.ceremony)
    else {
        return Err(ApiError::unauthorized());
    };
    let attempt = SignInAttempt::new(&username, addr);
    let reserved = s
        .limits
        .begin(&attempt, Instant::now())
        .map_err(rate_limited)?;
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(req.credential) else {
        return Err(failed(reserved));
    };
    let Ok(result) = pk
        .webauthn
        .finish_passkey_authentication(&credential, &state)
    else {
        return Err(failed(reserved));
    };
    // The passkey it was: its counter moves on (a cloned key would fall behind).
    let records = s.store.passkeys(&account).await?;
    let used = records.iter().find_map(|r| {
        let mut p = parse(r)?;
        p.update_credential(&result)?;
        Some((r.id.clone(), p))
    });
    let Some((id, passkey)) = used else {
        // Removed between the challenge and the answer.
        return Err(failed(reserved));
    };
    let json = serde_json::to_string(&passkey).map_err(|_| busy())?;
    s.store
        .passkey_used(&account, &id, &json, &crate::now())
        .await?;
    reserved.succeeded();
    enrol(&s, account, &req.device_name, &req.device_public_key, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relying_party() -> Passkeys {
        Passkeys::new(&PasskeyConfig {
            rp_id: "localhost".into(),
            origin: "http://localhost:8787".into(),
            rp_name: "test".into(),
        })
        .unwrap()
    }

    fn step(pk: &Passkeys) -> Step {
        let (_, state) = pk
            .webauthn
            .start_passkey_registration(Uuid::new_v4(), "u", "u", None)
            .unwrap();
        Step::Register(state)
    }

    /// Ceremonies begun from `addrs`; how many were accepted.
    fn accepted(pk: &Passkeys, addrs: impl Iterator<Item = std::net::IpAddr>) -> usize {
        addrs
            .filter(|a| {
                pk.begin("acct", address_holders(Some(*a)), step(pk))
                    .is_ok()
            })
            .count()
    }

    #[test]
    fn one_ipv6_slash_48_cannot_fill_the_table() {
        let pk = relying_party();
        // 300 different /64s of 2001:db8:1::/48 (spread over its 256 /56s), 5 tries each.
        let addrs = (0..300u32).flat_map(|i| {
            let subnet = (((i % 256) << 8) | (i / 256)) as u16;
            (1..=5u16).map(move |h| {
                std::net::IpAddr::V6(std::net::Ipv6Addr::new(
                    0x2001, 0xdb8, 1, subnet, 0, 0, 0, h,
                ))
            })
        });
        assert_eq!(accepted(&pk, addrs), 50, "50 per /48");
        // Another network is not affected.
        assert_eq!(
            accepted(&pk, std::iter::once("2001:db9::1".parse().unwrap())),
            1
        );
    }

    #[test]
    fn prefixes_are_capped_at_every_width() {
        let pk = relying_party();
        // One /64: 5.
        let one = (0..10u16).map(|h| {
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, h))
        });
        assert_eq!(accepted(&pk, one), 5);
        // One /56 (256 /64s): 20 in all, the 5 above included.
        let home = (0..256u16).map(|n| {
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, n, 0, 0, 0, 1))
        });
        assert_eq!(accepted(&pk, home), 15);
        // IPv4: 5 per address, 50 per /24.
        let v4 = (0..=255u8).flat_map(|h| {
            (0..2).map(move |_| std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, h)))
        });
        assert_eq!(accepted(&pk, v4), 50);
        // Loopback (a client on this machine) counts against no address.
        assert!(address_holders(Some("127.0.0.1".parse().unwrap())).is_empty());
    }
}
