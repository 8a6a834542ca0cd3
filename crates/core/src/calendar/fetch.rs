//! Fetching a calendar feed: HTTPS only, bounded in size and time, kept in memory.
//!
//! A feed address is a secret (anyone holding it can read the calendar), so it is never
//! logged and never appears in an error message; errors name the host at most. `webcal://`
//! is how calendar apps spell "subscribe to this": it means HTTPS here, never HTTP.
//!
//! The address (path and query) is the secret, so no request ever carries it elsewhere: no
//! `Referer` header is sent (reqwest would otherwise send the secret address to the next
//! host on an https→https redirect), and a redirect is followed only to the same host or to
//! another host of the same site (iCloud sends `p01-caldav.icloud.com` on to
//! `p58-caldav.icloud.com`), never to an IP address, `localhost` or a local name.

use std::io::Read;
use std::time::Duration;

use reqwest::Url;
use reqwest::redirect::Policy;

use crate::error::{CoreError, Result};

/// Bounds on one fetch.
#[derive(Clone, Debug)]
pub struct FetchLimits {
    /// The largest body accepted, in bytes.
    pub max_bytes: u64,
    /// The whole fetch (connect, headers, body) must finish within this.
    pub timeout: Duration,
    /// A PEM certificate to trust besides the usual roots. Only tests set this, for a local
    /// server with a self-signed certificate; the app and CLI never do.
    pub extra_root_pem: Option<Vec<u8>>,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            timeout: Duration::from_secs(20),
            extra_root_pem: None,
        }
    }
}

/// Checks a feed address and returns it as an `https://` URL (`webcal://` becomes
/// `https://`). Refuses `http://` and everything else with a clear message.
pub fn feed_url(address: &str) -> Result<Url> {
    let address = address.trim();
    if address.is_empty() {
        return Err(CoreError::invalid("the calendar feed address is empty"));
    }
    let url = Url::parse(address).map_err(|_| {
        CoreError::invalid(
            "this is not a web address: paste the calendar's iCal address, starting https:// or webcal://",
        )
    })?;
    let url = match url.scheme() {
        "https" => url,
        "webcal" | "webcals" => {
            let rest = &address[address.find(':').map_or(0, |i| i + 1)..];
            Url::parse(&format!("https:{rest}"))
                .map_err(|_| CoreError::invalid("this webcal:// address cannot be read"))?
        }
        "http" => {
            return Err(CoreError::invalid(
                "this feed address uses http://, which is not encrypted: anyone on the network could read the calendar. Use the https:// (or webcal://) address your calendar service gives",
            ));
        }
        other => {
            return Err(CoreError::invalid(format!(
                "a calendar feed address starts https:// or webcal://, not {other}://"
            )));
        }
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CoreError::invalid("the feed address has no host"));
    }
    Ok(url)
}

/// Fetches a feed into memory. Redirects are followed only to other `https://` addresses.
pub fn fetch_feed(address: &str, limits: &FetchLimits) -> Result<Vec<u8>> {
    let url = feed_url(address)?;
    let started = std::time::Instant::now();
    let host = url.host_str().unwrap_or_default().to_string();
    let first_host = host.clone();
    let policy = Policy::custom(move |attempt| {
        let to = attempt
            .url()
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if attempt.url().scheme() != "https" {
            attempt.error(RedirectToHttp)
        } else if attempt.previous().len() >= 5 {
            attempt.error(TooManyRedirects)
        } else if !redirect_allowed(&first_host, &to) {
            attempt.error(RedirectElsewhere)
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::blocking::Client::builder()
        .https_only(true)
        .referer(false)
        .redirect(policy)
        .timeout(limits.timeout)
        .connect_timeout(limits.timeout)
        .user_agent(concat!("Casebook/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &limits.extra_root_pem {
        let cert = reqwest::Certificate::from_pem(pem)
            .map_err(|_| CoreError::invalid("the extra certificate is not a PEM certificate"))?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder
        .build()
        .map_err(|_| fetch_error(&host, "the secure connection could not be set up"))?;
    let response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "text/calendar, */*;q=0.5")
        .send()
        .map_err(|e| describe(&host, limits, &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fetch_error(
            &host,
            &match status.as_u16() {
                401 | 403 => {
                    "the calendar service refused access (the address may have been reset)"
                        .to_string()
                }
                404 | 410 => {
                    "the calendar service does not know this address (it may have been reset)"
                        .to_string()
                }
                code => format!("the calendar service answered with an error (HTTP {code})"),
            },
        ));
    }
    let too_big = || {
        fetch_error(
            &host,
            &format!(
                "the feed is larger than {} MB, more than any appointment calendar needs",
                limits.max_bytes / (1024 * 1024)
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_bytes)
    {
        return Err(too_big());
    }
    // The client's timeout restarts with each chunk of the body, so a server trickling
    // bytes could hold the fetch open for ever: the whole fetch has one deadline here.
    let mut body = Vec::new();
    let mut reader = response.take(limits.max_bytes + 1);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| {
            if is_timeout_io(&e) {
                timed_out(&host, limits)
            } else {
                fetch_error(&host, "the connection broke while the feed was downloading")
            }
        })?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        if started.elapsed() > limits.timeout {
            return Err(timed_out(&host, limits));
        }
    }
    if body.len() as u64 > limits.max_bytes {
        return Err(too_big());
    }
    Ok(body)
}

#[derive(Debug)]
struct RedirectToHttp;
impl std::fmt::Display for RedirectToHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("redirect to a non-https address")
    }
}
impl std::error::Error for RedirectToHttp {}

/// Second-level labels under which a country's sites are registered (`example.co.uk`), so
/// that the site is the last three labels there, not `co.uk`.
const SECOND_LEVELS: [&str; 12] = [
    "co", "com", "org", "net", "ac", "gov", "ltd", "plc", "me", "nhs", "sch", "edu",
];

/// The registrable site of a DNS name (`p58-caldav.icloud.com` → `icloud.com`,
/// `cal.example.co.uk` → `example.co.uk`); `None` for an IP address, `localhost`, a local
/// name (`.local`, `.internal`, `.home.arpa`, `.localhost`) or a name of one label.
fn public_site(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let local = [
        "localhost",
        "local",
        "internal",
        "lan",
        "home",
        "arpa",
        "localdomain",
    ];
    if labels.len() < 2 || labels.last().is_some_and(|tld| local.contains(tld)) {
        return None;
    }
    let n = labels.len();
    let take = if n >= 3 && labels[n - 1].len() == 2 && SECOND_LEVELS.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    Some(labels[n - take..].join("."))
}

/// Whether a redirect from `from` to `to` (both lower-case hosts) may be followed: the same
/// host, or another public name of the same site. Never to an address or a local name: a
/// feed's server must not be able to point Casebook at the therapist's router or printer.
fn redirect_allowed(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    match (public_site(from), public_site(to)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[derive(Debug)]
struct RedirectElsewhere;
impl std::fmt::Display for RedirectElsewhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("redirect to another site")
    }
}
impl std::error::Error for RedirectElsewhere {}

#[derive(Debug)]
struct TooManyRedirects;
impl std::fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too many redirects")
    }
}
impl std::error::Error for TooManyRedirects {}

fn fetch_error(host: &str, what: &str) -> CoreError {
    CoreError::Fetch(format!("calendar feed from {host}: {what}"))
}

fn timed_out(host: &str, limits: &FetchLimits) -> CoreError {
    fetch_error(
        host,
        &format!(
            "no complete answer within {} seconds; try again later",
            limits.timeout.as_secs().max(1)
        ),
    )
}

fn is_timeout_io(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
        {
            return true;
        }
        source = s.source();
    }
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
        .is_some_and(reqwest::Error::is_timeout)
}

/// A sentence for a failed request, never containing the address itself.
fn describe(host: &str, limits: &FetchLimits, e: &reqwest::Error) -> CoreError {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if s.is::<RedirectToHttp>() {
            return fetch_error(
                host,
                "the service redirected to an address without https://, so the feed was not fetched (it would travel unencrypted)",
            );
        }
        if s.is::<RedirectElsewhere>() {
            return fetch_error(
                host,
                "the service redirected to another site or to a local address, so the feed was not fetched (paste the address your calendar service gives for subscribing)",
            );
        }
        if s.is::<TooManyRedirects>() {
            return fetch_error(host, "the service redirected too many times");
        }
        source = s.source();
    }
    if e.is_timeout() {
        return timed_out(host, limits);
    }
    if e.is_connect() {
        let text = format!("{e:?}").to_ascii_lowercase();
        if text.contains("certificate") || text.contains("invalidcertificate") {
            return fetch_error(
                host,
                "the service's certificate is not valid, so the connection is not safe",
            );
        }
        return fetch_error(
            host,
            "could not connect (check the internet connection and the address)",
        );
    }
    if e.is_redirect() {
        return fetch_error(
            host,
            "the service redirected in a way that cannot be followed",
        );
    }
    fetch_error(host, "the feed could not be fetched")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_same_site_and_never_reach_local_addresses() {
        for (from, to) in [
            ("calendar.example.com", "calendar.example.com"),
            ("p01-caldav.icloud.com", "p58-caldav.icloud.com"),
            ("cal.example.co.uk", "feeds.example.co.uk"),
            ("127.0.0.1", "127.0.0.1"),
        ] {
            assert!(
                redirect_allowed(from, to),
                "{from} → {to} should be followed"
            );
        }
        for (from, to) in [
            ("calendar.example.com", "evil.example.net"),
            ("calendar.example.com", "localhost"),
            ("calendar.example.com", "127.0.0.1"),
            ("calendar.example.com", "10.0.0.1"),
            ("calendar.example.com", "192.168.1.1"),
            ("calendar.example.com", "[::1]"),
            ("calendar.example.com", "169.254.169.254"),
            ("calendar.example.com", "printer.local"),
            ("calendar.example.com", "router"),
            ("a.example.co.uk", "b.other.co.uk"),
            ("127.0.0.1", "localhost"),
        ] {
            assert!(!redirect_allowed(from, to), "{from} → {to} must be refused");
        }
    }

    #[test]
    fn webcal_means_https_and_http_is_refused() {
        assert_eq!(
            feed_url("webcal://calendar.example.com/feed.ics?k=1")
                .unwrap()
                .as_str(),
            "https://calendar.example.com/feed.ics?k=1"
        );
        assert_eq!(
            feed_url(" https://example.com/a.ics ").unwrap().scheme(),
            "https"
        );
        for bad in [
            "http://example.com/a.ics",
            "ftp://example.com/a",
            "example.com",
            "",
            "https://",
        ] {
            assert!(feed_url(bad).is_err(), "{bad} should be refused");
        }
        let e = feed_url("http://example.com/secret-token")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http://") && !e.contains("secret-token"));
    }
}
