//! The feed fetch against a real local HTTPS server (rustls, a self-signed certificate
//! trusted only by these tests): success, http refused, a redirect to http refused,
//! oversize refused, a slow server timed out, and an untrusted certificate refused.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use casebook_core::calendar::{FetchLimits, fetch_feed};
use casebook_core::{CoreError, ErrorKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Ann Example\r\nDTSTART:20310106T100000Z\r\nDTEND:20310106T105000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

struct Server {
    port: u16,
    cert_pem: Vec<u8>,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn limits(&self) -> FetchLimits {
        FetchLimits {
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(2),
            extra_root_pem: Some(self.cert_pem.clone()),
        }
    }
}

fn start() -> Server {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                let _ = serve(tcp, config, port, &counter);
            });
        }
    });
    Server {
        port,
        cert_pem: cert.cert.pem().into_bytes(),
        requests,
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    port: u16,
    counter: &AtomicUsize,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    counter.fetch_add(1, Ordering::SeqCst);
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let head = |status: &str, extra: &str, len: Option<usize>| {
        let len = len.map(|n| format!("Content-Length: {n}\r\n")).unwrap_or_default();
        format!("HTTP/1.1 {status}\r\n{extra}{len}Connection: close\r\n\r\n")
    };
    match path.as_str() {
        "/feed.ics" => {
            tls.write_all(head("200 OK", "Content-Type: text/calendar\r\n", Some(FEED.len())).as_bytes())?;
            tls.write_all(FEED.as_bytes())?;
        }
        "/to-https" => {
            let to = format!("Location: https://127.0.0.1:{port}/feed.ics\r\n");
            tls.write_all(head("302 Found", &to, Some(0)).as_bytes())?;
        }
        "/to-http" => {
            let to = format!("Location: http://127.0.0.1:{port}/feed.ics\r\n");
            tls.write_all(head("302 Found", &to, Some(0)).as_bytes())?;
        }
        "/big-declared" => {
            tls.write_all(head("200 OK", "", Some(30 * 1024 * 1024)).as_bytes())?;
            tls.write_all(&[b'x'; 1024])?;
        }
        "/big-undeclared" => {
            tls.write_all(head("200 OK", "", None).as_bytes())?;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..40 {
                tls.write_all(&chunk)?;
            }
        }
        "/slow-headers" => {
            std::thread::sleep(Duration::from_secs(5));
            tls.write_all(head("200 OK", "", Some(FEED.len())).as_bytes())?;
            tls.write_all(FEED.as_bytes())?;
        }
        "/slow-body" => {
            tls.write_all(head("200 OK", "", Some(FEED.len())).as_bytes())?;
            tls.flush()?;
            for b in FEED.as_bytes() {
                std::thread::sleep(Duration::from_millis(50));
                tls.write_all(&[*b])?;
                tls.flush()?;
            }
        }
        _ => {
            tls.write_all(head("404 Not Found", "", Some(0)).as_bytes())?;
        }
    }
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

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
    let e = fetch_feed(&format!("http://127.0.0.1:{}/feed.ics", s.port), &s.limits()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(message(&e).contains("http://"), "{e}");
    assert_eq!(s.requests.load(Ordering::SeqCst), before);
}

#[test]
fn a_redirect_to_http_is_refused() {
    let s = start();
    let e = fetch_feed(&s.url("/to-http"), &s.limits()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(message(&e).contains("without https://"), "{e}");
    assert!(!message(&e).contains("/to-http"), "the address is not shown: {e}");
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
        assert!(started.elapsed() < Duration::from_secs(4), "{path} took too long");
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
