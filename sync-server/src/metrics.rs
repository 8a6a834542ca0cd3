//! Prometheus metrics (`GET /metrics`) and the request log.
//!
//! Requests are counted and timed by route *template* (`/v1/snapshots/{name}`, never the
//! actual path) and status; nothing identifying an account, a token or a blob is recorded.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteOnly {
    pub route: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteLabels, Counter>,
    pub latency: Family<RouteOnly, Histogram>,
    pub uploaded_bytes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("casebook_sync");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<RouteOnly, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        let uploaded_bytes = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by route template",
            latency.clone(),
        );
        registry.register(
            "uploaded_bytes",
            "Bytes of blobs and snapshots accepted (a running total; deletions do not lower it)",
            uploaded_bytes.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            uploaded_bytes,
        }
    }
}

/// Counts, times and logs every request.
pub async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // Only known methods become label values, so made-up ones cannot grow the series.
    let method = match req.method().as_str() {
        m @ ("GET" | "PUT" | "POST" | "DELETE" | "HEAD") => m.to_string(),
        _ => "other".to_string(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    s.metrics
        .requests
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    s.metrics
        .latency
        .get_or_create(&RouteOnly {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(%method, %route, status, ms = elapsed.as_secs_f64() * 1000.0, "request");
    resp
}

/// `GET /metrics` in the Prometheus text format.
pub async fn render(State(s): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &s.metrics.registry).is_err() {
        out.clear();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
}
