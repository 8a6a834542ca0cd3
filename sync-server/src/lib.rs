//! # casebook-sync
//!
//! The small server that stores only encrypted blobs. It never decrypts or parses what it
//! stores; it is careful about who may touch which blob, where the bytes live (UK/EU only),
//! and bad input. The library holds the router and the storage backends; `main.rs` is a
//! thin command line around [`serve`].
//!
//! Built so far: accounts (Argon2id), device enrolment with hashed bearer tokens, device list
//! and revoke, self-service account deletion, per-device append-only blob logs with heads and
//! ranges, named snapshots, quotas and size limits, the residency guard and `/v1/info`, on two
//! backends behind one trait: embedded (SQLite + folder) and scale-out (PostgreSQL + an
//! S3-compatible bucket). TOTP second factor with one-time recovery codes, and sign-in rate
//! limiting. TLS built in (rustls) or behind a proxy (which must be named in
//! `trusted_proxies`). Passkeys. A server-wide memory budget for large bodies.
//! Prometheus metrics at `/metrics`. The OpenAPI document is `sync-server/openapi.json`, served at `/v1/openapi.json`.

pub mod auth;
pub mod budget;
pub mod config;
pub mod error;
pub mod metrics;
pub mod passkeys;
pub mod proxy;
pub mod ratelimit;
pub mod residency;
pub mod routes;
pub mod seen;
pub mod store;
pub mod totp;
pub mod watch;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use casebook_wire::Location;

use config::Config;
use store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub locations: Vec<Location>,
    /// An Argon2id hash checked when an unknown username signs in (constant-ish timing).
    pub dummy_hash: String,
    pub limits: Arc<ratelimit::SignInLimits>,
    pub metrics: Arc<metrics::Metrics>,
    /// Passkey sign-in, when `[passkeys]` is configured.
    pub passkeys: Option<Arc<passkeys::Passkeys>>,
    /// Memory for large bodies, shared by every request.
    pub budget: Arc<budget::MemoryBudget>,
    /// Whether a request through an unconfigured proxy has been logged already.
    pub proxy_warned: Arc<std::sync::atomic::AtomicBool>,
    /// Wakes long-polls on heads when a log grows.
    pub heads_watch: Arc<watch::HeadWatch>,
    /// Which devices' last-seen times were written lately.
    pub last_seen: Arc<seen::LastSeen>,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl AppState {
    /// Checks residency and builds the state; the error is one line naming the setting.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Result<AppState, String> {
        let locations = config.locations()?;
        let dummy_hash =
            auth::hash_password("not a real password, for timing").map_err(|e| e.message)?;
        let passkeys = match &config.passkeys {
            Some(p) => Some(Arc::new(passkeys::Passkeys::new(p)?)),
            None => None,
        };
        let budget = Arc::new(budget::MemoryBudget::new(config.memory_budget_bytes));
        Ok(AppState {
            store,
            budget,
            proxy_warned: Arc::default(),
            heads_watch: Arc::default(),
            last_seen: Arc::default(),
            config: Arc::new(config),
            locations,
            dummy_hash,
            limits: Arc::default(),
            metrics: Arc::default(),
            passkeys,
        })
    }
}

/// JSON bodies (sign-up, sign-in, TOTP, account deletion) are small; only blobs may be large.
const JSON_LIMIT: usize = 64 * 1024;

/// The whole API. Blob and snapshot bodies are read by their handlers (within
/// `max_blob_bytes` and the memory budget); every other body is JSON of at most 64 KiB.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(metrics::render))
        .route("/v1/info", get(routes::info))
        .route("/v1/openapi.json", get(routes::openapi))
        .route(
            "/v1/accounts",
            post(routes::sign_up).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/account",
            delete(routes::delete_account).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/sessions",
            post(routes::sign_in).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/account/password",
            post(routes::change_password).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route("/v1/devices", get(routes::list_devices))
        .route(
            "/v1/devices/{id}",
            delete(routes::revoke_device).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/devices/{id}/blobs",
            get(routes::blob_range).delete(routes::remove_log),
        )
        .route("/v1/usage", get(routes::usage))
        .route(
            "/v1/totp",
            post(routes::totp_start)
                .delete(routes::totp_disable)
                .layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/totp/confirm",
            post(routes::totp_confirm).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/passkeys/registrations",
            post(passkeys::register_start).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/passkeys",
            get(passkeys::list)
                .post(passkeys::register_finish)
                .layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/passkeys/{id}",
            delete(passkeys::delete).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/sessions/passkey/challenge",
            post(passkeys::sign_in_start).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route(
            "/v1/sessions/passkey",
            post(passkeys::sign_in_finish).layer(DefaultBodyLimit::max(JSON_LIMIT)),
        )
        .route("/v1/heads", get(routes::heads))
        .route("/v1/blobs", delete(routes::cut_log))
        .route("/v1/log/close", post(routes::close_log))
        .route("/v1/blobs/{seq}", put(routes::append_blob))
        .route("/v1/snapshots", get(routes::list_snapshots))
        .route(
            "/v1/snapshots/{name}",
            put(routes::put_snapshot)
                .get(routes::get_snapshot)
                .delete(routes::delete_snapshot),
        )
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            proxy::refuse_unconfigured_proxy,
        ))
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Serves until Ctrl-C / SIGTERM, then finishes in-flight requests. With `tls_cert` and
/// `tls_key` set it speaks HTTPS itself (rustls); otherwise plain HTTP for a TLS proxy.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    state
        .config
        .check_proxy_setup()
        .map_err(|e| anyhow::anyhow!(e))?;
    let addr = state.config.listen;
    let heads_watch = state.heads_watch.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Long-polls answer now instead of holding the shutdown for up to their wait.
        heads_watch.close();
    };
    let tls = match (&state.config.tls_cert, &state.config.tls_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        _ => anyhow::bail!("tls_cert and tls_key must be given together"),
    };
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        None => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!(%addr, "casebook-sync listening (HTTP; put TLS in front)");
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| anyhow::anyhow!("cannot load the TLS certificate or key: {e}"))?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                h.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
            });
            tracing::info!(%addr, "casebook-sync listening (HTTPS)");
            axum_server::bind_rustls(addr, config)
                .handle(handle)
                .serve(app)
                .await?;
        }
    }
    Ok(())
}

/// Runs the server with `config` on a thread and runtime of its own, on a free port of
/// 127.0.0.1, until the process ends; returns its address. For the tests and benchmarks of
/// the clients (the app, the sync engine) that want the real server in their own process.
pub fn start_on_loopback(config: Config) -> anyhow::Result<std::net::SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("casebook-sync-server".into())
        .spawn(move || {
            let started = (|| -> anyhow::Result<_> {
                let rt = tokio::runtime::Runtime::new()?;
                let listener = rt.block_on(async {
                    let store = store::open(&config).await?;
                    let state = AppState::new(config, store).map_err(|e| anyhow::anyhow!(e))?;
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    Ok::<_, anyhow::Error>((listener, state))
                })?;
                Ok((rt, listener))
            })();
            match started {
                Ok((rt, (listener, state))) => {
                    let _ = tx.send(listener.local_addr().map_err(anyhow::Error::from));
                    let app =
                        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
                    let _ = rt.block_on(async move { axum::serve(listener, app).await });
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })?;
    rx.recv()
        .map_err(|_| anyhow::anyhow!("the server's thread stopped before it listened"))?
}

/// Ctrl-C or SIGTERM (systemd's stop): stop accepting, finish in-flight requests, exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
