//! A local HTTPS server for the calendar fetch tests (core and CLI): rustls with a fresh
//! self-signed certificate for 127.0.0.1, trusted only by the tests that are given it.
//! `/feed.ics` serves whatever the test last put in [`Server::feed`]; other paths misbehave
//! on purpose (redirects to http, oversize bodies, slow answers).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use casebook_core::calendar::FetchLimits;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Ann Example\r\nDTSTART:20310106T100000Z\r\nDTEND:20310106T105000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

pub struct Server {
    pub feed: Arc<Mutex<Vec<u8>>>,
    pub port: u16,
    pub cert_pem: Vec<u8>,
    pub requests: Arc<AtomicUsize>,
    /// The `Referer` header of every request, in order (`None` when absent).
    pub referers: Arc<Mutex<Vec<Option<String>>>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn limits(&self) -> FetchLimits {
        casebook_core::calendar::FetchLimits {
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(2),
            extra_root_pem: Some(self.cert_pem.clone()),
        }
    }
}

pub fn start() -> Server {
    let feed = Arc::new(Mutex::new(FEED.as_bytes().to_vec()));
    let served = feed.clone();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
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
    let referers = Arc::new(Mutex::new(Vec::new()));
    let seen = referers.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            let counter = counter.clone();
            let served = served.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                let _ = serve(tcp, config, port, &counter, &served, &seen);
            });
        }
    });
    Server {
        feed,
        port,
        cert_pem: cert.cert.pem().into_bytes(),
        requests,
        referers,
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    port: u16,
    counter: &AtomicUsize,
    feed: &Mutex<Vec<u8>>,
    referers: &Mutex<Vec<Option<String>>>,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut referer = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("referer")
        {
            referer = Some(value.trim().to_string());
        }
    }
    if let Ok(mut r) = referers.lock() {
        r.push(referer);
    }
    counter.fetch_add(1, Ordering::SeqCst);
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let head = |status: &str, extra: &str, len: Option<usize>| {
        let len = len
            .map(|n| format!("Content-Length: {n}\r\n"))
            .unwrap_or_default();
        format!("HTTP/1.1 {status}\r\n{extra}{len}Connection: close\r\n\r\n")
    };
    match path.as_str() {
        "/feed.ics" => {
            let body = feed.lock().map(|b| b.clone()).unwrap_or_default();
            tls.write_all(
                head(
                    "200 OK",
                    "Content-Type: text/calendar\r\n",
                    Some(body.len()),
                )
                .as_bytes(),
            )?;
            tls.write_all(&body)?;
        }
        "/to-https" => {
            let to = format!("Location: https://127.0.0.1:{port}/feed.ics\r\n");
            tls.write_all(head("302 Found", &to, Some(0)).as_bytes())?;
        }
        "/to-localhost" => {
            let to = format!("Location: https://localhost:{port}/feed.ics\r\n");
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
