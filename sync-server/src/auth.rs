//! Passwords (Argon2id) and device tokens (random, stored only as SHA-256 hashes).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// At most this many Argon2id computations run at once (each takes 19 MiB and ~50 ms of a
/// core), so a burst of sign-ins cannot exhaust memory or starve other requests.
pub static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Runs a password hash or check off the async threads, two at a time at most.
pub async fn argon2_job<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// Hashes a password with Argon2id (the crate's default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::bad_request("that password cannot be used"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A fresh bearer token (256 random bits, hex).
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The signed-in account and device, from `Authorization: Bearer <token>`.
pub struct Authed {
    pub account: String,
    pub device: String,
    /// The account has a confirmed second factor.
    pub totp_enabled: bool,
}

impl Authed {
    /// Refuses data access when the server requires a second factor the account lacks.
    pub fn require_second_factor(&self, state: &AppState) -> Result<(), ApiError> {
        if state.config.totp_required && !self.totp_enabled {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                casebook_wire::ErrorCode::Unauthorized,
                "this server requires a second factor: turn on TOTP (POST /v1/totp) before storing data",
            ));
        }
        Ok(())
    }
}

/// The rate-limit key for a client address: IPv6 by its /64 (one household or host), and
/// none for loopback, where every client of a local TLS proxy would share one address and
/// could lock each other out.
pub fn address_key(addr: Option<std::net::IpAddr>) -> Option<String> {
    match addr? {
        a if a.is_loopback() => None,
        std::net::IpAddr::V4(v4) => Some(v4.to_string()),
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}

/// What one sign-in attempt (password or passkey) counts against: its (username, address)
/// pair and, off loopback, its address. The limits and lockouts are in [`crate::ratelimit`].
pub struct SignInAttempt {
    pub pair: String,
    pub address: Option<String>,
}

impl SignInAttempt {
    pub fn new(username: &str, addr: Option<std::net::IpAddr>) -> SignInAttempt {
        let address = address_key(addr);
        let pair = format!(
            "{}|{}",
            username.to_lowercase(),
            address.as_deref().unwrap_or("local")
        );
        SignInAttempt { pair, address }
    }
}

/// The client's address, when the server was started with connection info (not in tests
/// that call the router directly). Behind a trusted proxy, the address the proxy saw.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        Ok(ClientAddr(client_address(
            peer,
            &forwarded,
            &state.config.trusted_proxies,
        )))
    }
}

/// The address to rate-limit: the peer, unless the peer is a trusted proxy; then the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy (the left
/// part of the header is whatever the client claimed, and is never believed).
pub fn client_address(
    peer: Option<std::net::IpAddr>,
    forwarded: &str,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut last = peer;
    for part in forwarded.rsplit(',') {
        match part.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => last = ip,
            Ok(ip) => return Some(ip),
            // A malformed entry: stop believing the chain here.
            Err(_) => return Some(last),
        }
    }
    Some(last)
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        match state
            .store
            .device_for_token(&token_hash(token.trim()))
            .await?
        {
            Some(o) => {
                if state.last_seen.due(&o.device)
                    && let Err(e) = state
                        .store
                        .touch_device(&o.account, &o.device, &crate::seen::minute())
                        .await
                {
                    // The request itself goes ahead: last-seen is informative only.
                    tracing::warn!("could not record when a device was last seen: {e}");
                }
                Ok(Authed {
                    account: o.account,
                    device: o.device,
                    totp_enabled: o.totp_enabled,
                })
            }
            None => Err(ApiError::unauthorized()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxy = [ip("127.0.0.1")];
        // Through the proxy: the address it saw (the right-most), not what the client claimed.
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), "1.2.3.4, 203.0.113.9", &proxy),
            Some(ip("203.0.113.9"))
        );
        // Not from the proxy: the header is ignored.
        assert_eq!(
            client_address(Some(ip("198.51.100.7")), "203.0.113.9", &proxy),
            Some(ip("198.51.100.7"))
        );
        // No proxy configured: the peer.
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), "203.0.113.9", &[]),
            Some(ip("127.0.0.1"))
        );
        // Junk in the header: the proxy itself.
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), "not-an-address", &proxy),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(client_address(None, "203.0.113.9", &proxy), None);
    }

    #[test]
    fn address_keys_group_ipv6_and_skip_loopback() {
        assert_eq!(address_key(None), None);
        assert_eq!(address_key(Some("127.0.0.1".parse().unwrap())), None);
        assert_eq!(address_key(Some("::1".parse().unwrap())), None);
        assert_eq!(
            address_key(Some("192.0.2.7".parse().unwrap())).as_deref(),
            Some("192.0.2.7")
        );
        let a = address_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = address_key(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, address_key(Some("2001:db8:1:3::1".parse().unwrap())));
    }
}
