//! The real router over a fresh embedded backend in a temporary folder, driven in process
//! (no socket): for the tests that send requests through `tower::ServiceExt::oneshot`.

#![allow(dead_code)]

use std::sync::Arc;

use casebook_sync::config::Config;
use casebook_sync::store::embedded::Embedded;
use casebook_sync::{AppState, router};

pub struct Server {
    pub _dir: tempfile::TempDir,
    pub store: Arc<Embedded>,
    pub app: axum::Router,
}

/// A server whose data is declared in `country`, with `f` changing any other setting.
pub fn server_with(country: &str, f: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data: Some(dir.path().to_path_buf()),
        country: Some(country.into()),
        ..Config::default()
    };
    f(&mut cfg);
    let store = Arc::new(Embedded::open(dir.path()).unwrap());
    let state = AppState::new(cfg, store.clone()).unwrap();
    Server {
        _dir: dir,
        store,
        app: router(state),
    }
}
