//! The feed fetch against a real local HTTPS server (rustls, a self-signed certificate
//! trusted only by these tests): success, http refused, a redirect to http refused,
//! oversize refused, a slow server timed out, and an untrusted certificate refused.

use std::sync::atomic::Ordering;
use std::time::Duration;

use casebook_core::calendar::fetch_feed;
use casebook_core::{CoreError, ErrorKind};

#[path = "support/https_server.rs"]
mod https_server;
use https_server::{FEED, start};

fn message(e: &CoreError) -> String {
    e.to_string()
}

#[test]
fn a_feed_is_fetched_over_https() {
    let s = start();
    let body = fetch_feed(&s.url("/feed.ics"), &s.limits()).unwrap();
    assert_eq!(body, FEED.as_bytes());
    // A redirect to another https address is followed.
    let body = fetch_feed(&s.url("/to-https"), &s.limits()).unwrap();
    assert_eq!(body, FEED.as_bytes());
    // webcal:// means https.
    let webcal = format!("webcal://127.0.0.1:{}/feed.ics", s.port);
    assert_eq!(fetch_feed(&webcal, &s.limits()).unwrap(), FEED.as_bytes());
}

#[test]
fn http_is_refused_before_any_connection() {
    let s = start();
    let before = s.requests.load(Ordering::SeqCst);
    let e = fetch_feed(
        &format!("http://127.0.0.1:{}/feed.ics", s.port),
        &s.limits(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(message(&e).contains("http://"), "{e}");
    assert_eq!(s.requests.load(Ordering::SeqCst), before);
}

#[test]
fn the_secret_address_is_never_sent_on_as_a_referer() {
    let s = start();
    let body = fetch_feed(&s.url("/to-https?token=s3cret-feed-key"), &s.limits()).unwrap();
    assert_eq!(body, FEED.as_bytes());
    let referers = s.referers.lock().unwrap().clone();
    assert_eq!(referers.len(), 2, "the redirect and the feed: {referers:?}");
    assert!(
        referers.iter().all(Option::is_none),
        "no request carries a Referer: {referers:?}"
    );
}

#[test]
fn a_redirect_to_another_host_or_a_local_name_is_refused() {
    let s = start();
    // 127.0.0.1 → localhost: another host, and a local one. Nothing is fetched from it.
    let e = fetch_feed(&s.url("/to-localhost?token=s3cret"), &s.limits()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(message(&e).contains("another site"), "{e}");
    assert!(
        !message(&e).contains("s3cret"),
        "the address is not shown: {e}"
    );
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        1,
        "only the first request was made"
    );
}

#[test]
fn a_redirect_to_http_is_refused() {
    let s = start();
    let e = fetch_feed(&s.url("/to-http"), &s.limits()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(message(&e).contains("without https://"), "{e}");
    assert!(
        !message(&e).contains("/to-http"),
        "the address is not shown: {e}"
    );
}

#[test]
fn an_oversize_feed_is_refused() {
    let s = start();
    for path in ["/big-declared", "/big-undeclared"] {
        let e = fetch_feed(&s.url(path), &s.limits()).unwrap_err();
        assert!(message(&e).contains("larger than 1 MB"), "{path}: {e}");
    }
}

#[test]
fn a_slow_server_is_timed_out() {
    let s = start();
    for path in ["/slow-headers", "/slow-body"] {
        let started = std::time::Instant::now();
        let e = fetch_feed(&s.url(path), &s.limits()).unwrap_err();
        assert!(message(&e).contains("within 2 seconds"), "{path}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{path} took too long"
        );
    }
}

#[test]
fn an_untrusted_certificate_and_a_missing_feed_are_refused_clearly() {
    let s = start();
    let mut untrusted = s.limits();
    untrusted.extra_root_pem = None;
    let e = fetch_feed(&s.url("/feed.ics"), &untrusted).unwrap_err();
    assert!(message(&e).contains("certificate"), "{e}");
    let e = fetch_feed(&s.url("/nothing-here"), &s.limits()).unwrap_err();
    assert!(message(&e).contains("does not know this address"), "{e}");
}
