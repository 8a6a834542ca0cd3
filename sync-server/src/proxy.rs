//! Failing closed behind a proxy the server was not told about.
//!
//! The client address (for rate limits and passkey ceremony caps) is the peer of the
//! connection unless the peer is listed in `trusted_proxies`. A request from a loopback
//! peer that is not listed, carrying `X-Forwarded-For`, `Forwarded` or `X-Real-IP`, has
//! come through a local proxy: believing its peer address would put every client behind
//! that proxy under one key. Such requests are refused with `503` (and the first one is
//! logged), until the proxy is named in `trusted_proxies`.

use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casebook_wire::ErrorCode;

use crate::AppState;
use crate::error::ApiError;

/// Headers a reverse proxy adds to say whom it is forwarding for.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/// Middleware: see the module documentation.
pub async fn refuse_unconfigured_proxy(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = FORWARDING_HEADERS
        .iter()
        .any(|h| req.headers().contains_key(*h));
    match peer {
        Some(ip) if forwarded && ip.is_loopback() && !s.config.trusted_proxies.contains(&ip) => {
            if !s.proxy_warned.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    "refusing requests forwarded by a proxy on this machine: add it to trusted_proxies (e.g. --trusted-proxy {ip})"
                );
            }
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "this server is behind a proxy it was not told about: its operator must set trusted_proxies",
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}
