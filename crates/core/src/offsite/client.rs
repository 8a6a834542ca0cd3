//! The HTTP client for one `casebook-sync` server: typed calls for the routes the off-site
//! copy uses, and the server's replies turned into [`ServerError`]s a therapist can act on.
//!
//! Blocking (reqwest's blocking client): every caller is already on a worker thread (the CLI,
//! or a Tauri command run off the UI thread). The server is untrusted: nothing it returns is
//! believed without a check by the caller (hashes, authentication codes, decryption).

use std::io::Read;
use std::net::IpAddr;
use std::time::Duration;

use casebook_wire::{
    AccountCreated, Deleted, Enrolled, ErrorBody, ErrorCode, Info, Reauthenticate, RecoveryCodes,
    SignIn, SignUp, Snapshot, TotpConfirm, TotpEnrolment, Usage,
};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;

/// Why a call to the server did not succeed. Nothing local was changed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "the server address is not valid ({0}): give it as https://host (plain http:// only for this computer, e.g. http://127.0.0.1:8787)"
    )]
    BadAddress(String),
    #[error("the Casebook server at {0} cannot be reached: check the address and your connection")]
    Unreachable(String),
    #[error(
        "the secure connection to {0} failed (its certificate is not trusted or does not match the address): nothing was sent"
    )]
    Tls(String),
    #[error("the username, password or authenticator code is wrong")]
    WrongCredentials,
    #[error(
        "too many failed attempts: the server asks you to wait {0} seconds before trying again"
    )]
    RateLimited(u64),
    #[error("{0}")]
    Invite(String),
    #[error(
        "the server's storage for this account is full: prune old off-site backups or ask the server's operator for more space"
    )]
    QuotaFull,
    #[error(
        "the server no longer accepts this computer (it was signed out or revoked from another device): connect again with `casebook server connect`"
    )]
    DeviceRevoked,
    #[error(
        "the server keeps data in {0}, outside the UK and EU/EEA: Casebook will not send anything to it"
    )]
    OutsideUkEu(String),
    #[error("the server says: {0}")]
    Refused(String),
    #[error("the server's reply could not be understood ({0}): is this a Casebook server?")]
    Protocol(String),
}

/// A server address checked for use: `https://`, or `http://` to this computer only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl(reqwest::Url);

impl ServerUrl {
    pub fn parse(input: &str) -> Result<Self, ServerError> {
        let bad = |why: &str| ServerError::BadAddress(why.to_string());
        let url = reqwest::Url::parse(input.trim()).map_err(|_| bad("not a web address"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("it must not carry a user name or password"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not have a ? or # part"));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(bad("plain http:// is allowed only for this computer")),
            _ => return Err(bad("it must start with https://")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host"));
        }
        let mut url = url;
        // One canonical form: no trailing slash, so joining paths cannot double it.
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        Ok(ServerUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    fn host(&self) -> String {
        self.0.host_str().unwrap_or_default().to_string()
    }

    fn join(&self, path: &str) -> String {
        format!("{}{path}", self.as_str())
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The places a server says it keeps data, as people read them ("London, United Kingdom"),
/// or the refusal when any of them is outside the UK and EU/EEA (or none is named).
pub fn check_locations(info: &Info) -> Result<Vec<String>, ServerError> {
    if info.locations.is_empty() {
        return Err(ServerError::OutsideUkEu(
            "no declared place (the server names no storage location)".into(),
        ));
    }
    let mut out = Vec::new();
    for l in &info.locations {
        if casebook_wire::residency::allowed_country(&l.country).is_none() {
            return Err(ServerError::OutsideUkEu(format!(
                "{} (country code {:?})",
                l.description, l.country
            )));
        }
        if !out.contains(&l.description) {
            out.push(l.description.clone());
        }
    }
    Ok(out)
}

/// A server's message as it may be shown: no control characters, at most 200 characters.
fn tame(message: &str) -> String {
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    clean.trim().to_string()
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// A connection to one server, with or without a device token.
pub struct ServerClient {
    url: ServerUrl,
    http: Client,
    token: Option<String>,
}

/// Snapshot bodies can be tens of megabytes: allow time for them on a slow line.
const BODY_TIMEOUT: Duration = Duration::from_secs(600);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

impl ServerClient {
    pub fn new(url: ServerUrl, token: Option<String>) -> Result<Self, ServerError> {
        let http = Client::builder()
            .user_agent(concat!("casebook/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(BODY_TIMEOUT)
            // The server never redirects; following one could send the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .https_only(url.0.scheme() == "https")
            .build()
            .map_err(|e| ServerError::Protocol(e.to_string()))?;
        Ok(ServerClient { url, http, token })
    }

    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    pub fn set_token(&mut self, token: String) {
        self.token = Some(token);
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let r = self.http.request(method, self.url.join(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends and turns every failure into a [`ServerError`]. `signing_in` says whether a 401
    /// means wrong credentials (a sign-in or re-authentication) or a revoked device.
    fn send(&self, req: RequestBuilder, signing_in: bool) -> Result<Response, ServerError> {
        let resp = req.send().map_err(|e| self.transport(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.refusal(resp, signing_in))
    }

    fn transport(&self, e: reqwest::Error) -> ServerError {
        let tls = {
            let mut src: Option<&dyn std::error::Error> = Some(&e);
            let mut found = false;
            while let Some(s) = src {
                let text = s.to_string().to_ascii_lowercase();
                if text.contains("certificate")
                    || text.contains("tls")
                    || text.contains("handshake")
                {
                    found = true;
                    break;
                }
                src = s.source();
            }
            found
        };
        if tls {
            ServerError::Tls(self.url.host())
        } else if e.is_decode() || e.is_body() && !e.is_timeout() {
            ServerError::Protocol("the reply was cut short or malformed".into())
        } else {
            ServerError::Unreachable(self.url.host())
        }
    }

    fn refusal(&self, resp: Response, signing_in: bool) -> ServerError {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        // An error reply is small; a hostile server's endless one is cut off, and its words
        // are tamed before they reach a message, a state file or a notification.
        let mut raw = Vec::new();
        let _ = resp.take(16 * 1024).read_to_end(&mut raw);
        let body: Option<ErrorBody> = serde_json::from_slice(&raw).ok();
        let code = body.as_ref().map(|b| b.code);
        let message = body
            .map(|b| tame(&b.message))
            .unwrap_or_else(|| format!("HTTP {status}"));
        match (status, code) {
            (_, Some(ErrorCode::RateLimited)) | (StatusCode::TOO_MANY_REQUESTS, _) => {
                ServerError::RateLimited(retry_after.unwrap_or(60))
            }
            (_, Some(ErrorCode::InviteRequired)) => ServerError::Invite(message),
            (_, Some(ErrorCode::QuotaExceeded)) => ServerError::QuotaFull,
            (StatusCode::UNAUTHORIZED, _) if !signing_in => ServerError::DeviceRevoked,
            (StatusCode::UNAUTHORIZED, _) => ServerError::WrongCredentials,
            (StatusCode::FORBIDDEN, Some(ErrorCode::Unauthorized))
                if message.contains("second factor") =>
            {
                ServerError::Refused(message)
            }
            (StatusCode::FORBIDDEN, Some(ErrorCode::Unauthorized)) => ServerError::WrongCredentials,
            (StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY, _) => {
                ServerError::Unreachable(self.url.host())
            }
            _ => ServerError::Refused(message),
        }
    }

    fn json<T: DeserializeOwned>(resp: Response) -> Result<T, ServerError> {
        // Replies other than snapshot bodies are small; refuse a huge one before reading it.
        if resp.content_length().is_some_and(|n| n > 4 * 1024 * 1024) {
            return Err(ServerError::Protocol(
                "a reply was far larger than expected".into(),
            ));
        }
        let mut buf = Vec::new();
        resp.take(4 * 1024 * 1024)
            .read_to_end(&mut buf)
            .map_err(|e| ServerError::Protocol(e.to_string()))?;
        serde_json::from_slice(&buf).map_err(|e| ServerError::Protocol(e.to_string()))
    }

    /// `GET /v1/info`: what the server is and where it keeps data.
    pub fn info(&self) -> Result<Info, ServerError> {
        let r = self.send(self.request(reqwest::Method::GET, "/v1/info"), false)?;
        Self::json(r)
    }

    pub fn sign_up(&self, req: &SignUp) -> Result<AccountCreated, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::POST, "/v1/accounts")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(to_json(req)),
            true,
        )?;
        Self::json(r)
    }

    pub fn sign_in(&self, req: &SignIn) -> Result<Enrolled, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::POST, "/v1/sessions")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(to_json(req)),
            true,
        )?;
        Self::json(r)
    }

    /// Signs this device out: its token stops working.
    pub fn sign_out(&self, device_id: &str) -> Result<(), ServerError> {
        self.send(
            self.request(reqwest::Method::DELETE, &format!("/v1/devices/{device_id}")),
            false,
        )?;
        Ok(())
    }

    /// Revokes another device of the account (the password, and code, again): its token stops
    /// working and it can append nothing more.
    pub fn revoke_device(
        &self,
        device_id: &str,
        reauth: &Reauthenticate,
    ) -> Result<(), ServerError> {
        self.send(
            self.request(reqwest::Method::DELETE, &format!("/v1/devices/{device_id}"))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(to_json(reauth)),
            true,
        )?;
        Ok(())
    }

    pub fn usage(&self) -> Result<Usage, ServerError> {
        Self::json(self.send(self.request(reqwest::Method::GET, "/v1/usage"), false)?)
    }

    pub fn devices(&self) -> Result<Vec<casebook_wire::Device>, ServerError> {
        Self::json(self.send(self.request(reqwest::Method::GET, "/v1/devices"), false)?)
    }

    pub fn totp_start(&self, reauth: &Reauthenticate) -> Result<TotpEnrolment, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::POST, "/v1/totp")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(to_json(reauth)),
            true,
        )?;
        Self::json(r)
    }

    pub fn totp_confirm(&self, code: &str) -> Result<RecoveryCodes, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::POST, "/v1/totp/confirm")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(to_json(&TotpConfirm { code: code.into() })),
            true,
        )?;
        Self::json(r)
    }

    /// Turns the account's second factor off (password and a code again).
    pub fn totp_disable(&self, reauth: &Reauthenticate) -> Result<(), ServerError> {
        self.send(
            self.request(reqwest::Method::DELETE, "/v1/totp")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(to_json(reauth)),
            true,
        )?;
        Ok(())
    }

    pub fn delete_account(&self, reauth: &Reauthenticate) -> Result<Deleted, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::DELETE, "/v1/account")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(to_json(reauth)),
            true,
        )?;
        Self::json(r)
    }

    pub fn snapshots(&self) -> Result<Vec<Snapshot>, ServerError> {
        Self::json(self.send(self.request(reqwest::Method::GET, "/v1/snapshots"), false)?)
    }

    /// Stores one object; the reply says what the server stored (checked by the caller).
    pub fn put_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<Snapshot, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::PUT, &format!("/v1/snapshots/{name}"))
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
            false,
        )?;
        Self::json(r)
    }

    /// One object's bytes, as a stream (never held whole in memory here).
    pub fn get_snapshot(&self, name: &str) -> Result<Response, ServerError> {
        self.send(
            self.request(reqwest::Method::GET, &format!("/v1/snapshots/{name}")),
            false,
        )
    }

    pub fn delete_snapshot(&self, name: &str) -> Result<(), ServerError> {
        self.send(
            self.request(reqwest::Method::DELETE, &format!("/v1/snapshots/{name}")),
            false,
        )?;
        Ok(())
    }
    /// `GET /v1/heads`: the newest blob of each device's log (for sync).
    pub fn heads(&self) -> Result<Vec<casebook_wire::Head>, ServerError> {
        Self::json(self.send(self.request(reqwest::Method::GET, "/v1/heads"), false)?)
    }

    /// `GET /v1/heads?wait=&since=`: a long-poll. Answers once any head differs from the
    /// heads `since` tagged (the tag an earlier answer gave), or after `wait` with the same
    /// heads; returns the heads and their new tag. Without `since` it answers at once.
    pub fn wait_for_heads(
        &self,
        since: Option<&str>,
        wait: Duration,
    ) -> Result<(Vec<casebook_wire::Head>, String), ServerError> {
        let mut req = self.request(reqwest::Method::GET, "/v1/heads");
        if let Some(tag) = since {
            let secs = wait.as_secs().min(50);
            req = req
                .query(&[("wait", secs.to_string()), ("since", tag.to_string())])
                .timeout(Duration::from_secs(secs + 30));
        }
        let r = self.send(req, false)?;
        let tag = r
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_string())
            .filter(|t| t.len() <= 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_default();
        Ok((Self::json(r)?, tag))
    }

    /// `PUT /v1/blobs/{seq}`: appends this device's blob; the same bytes again are accepted.
    pub fn put_blob(
        &self,
        seq: u64,
        bytes: Vec<u8>,
    ) -> Result<casebook_wire::BlobInfo, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::PUT, &format!("/v1/blobs/{seq}"))
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
            false,
        )?;
        Self::json(r)
    }

    /// `DELETE /v1/blobs?below=N`: removes this device's own blobs below `below` (after a
    /// checkpoint in its log covers them).
    pub fn cut_log(&self, below: u64) -> Result<casebook_wire::Deleted, ServerError> {
        let r = self.send(
            self.request(reqwest::Method::DELETE, &format!("/v1/blobs?below={below}")),
            false,
        )?;
        Self::json(r)
    }

    /// `POST /v1/log/close`: this device has left the practice's sync: its log takes no more
    /// blobs, and another device may remove it.
    pub fn close_log(&self) -> Result<(), ServerError> {
        self.send(self.request(reqwest::Method::POST, "/v1/log/close"), false)?;
        Ok(())
    }

    /// `DELETE /v1/devices/{id}/blobs`: removes the whole log of a device revoked from the
    /// account (once this computer's checkpoint holds it).
    pub fn remove_revoked_log(&self, device: &str) -> Result<casebook_wire::Deleted, ServerError> {
        let r = self.send(
            self.request(
                reqwest::Method::DELETE,
                &format!("/v1/devices/{device}/blobs"),
            ),
            false,
        )?;
        Self::json(r)
    }

    /// `DELETE /v1/devices/{id}/blobs?through=N`: removes another device's blobs up to `N`
    /// (a computer switched off since an erasure, whose log this computer's checkpoint holds);
    /// blob `N` stays listed as the log's head, without its bytes.
    pub fn empty_log(
        &self,
        device: &str,
        through: u64,
    ) -> Result<casebook_wire::Deleted, ServerError> {
        let r = self.send(
            self.request(
                reqwest::Method::DELETE,
                &format!("/v1/devices/{device}/blobs?through={through}"),
            ),
            false,
        )?;
        Self::json(r)
    }

    /// `GET /v1/devices/{id}/blobs?from=&limit=`: up to `limit` (≤ 1000) blobs of a device's
    /// log from `from`, decoded from base64. Each blob's hash is checked by the caller.
    pub fn blob_range(
        &self,
        device: &str,
        from: u64,
        limit: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, ServerError> {
        use base64::Engine as _;
        let r = self.send(
            self.request(
                reqwest::Method::GET,
                &format!("/v1/devices/{device}/blobs?from={from}&limit={limit}"),
            ),
            false,
        )?;
        // A range reply carries up to `limit` blobs: allow for them, and no more.
        let mut buf = Vec::new();
        r.take(256 * 1024 * 1024)
            .read_to_end(&mut buf)
            .map_err(|e| ServerError::Protocol(e.to_string()))?;
        let blobs: Vec<casebook_wire::BlobData> =
            serde_json::from_slice(&buf).map_err(|e| ServerError::Protocol(e.to_string()))?;
        blobs
            .into_iter()
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.data.as_bytes())
                    .map(|bytes| (b.info.seq, bytes))
                    .map_err(|_| {
                        ServerError::Protocol("a blob in a range reply is not base64".into())
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_this_computer() {
        for ok in [
            "https://sync.example.org",
            "https://sync.example.org/",
            "http://127.0.0.1:8787",
            "http://[::1]:8787/",
            "http://localhost:9000",
        ] {
            assert!(ServerUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://sync.example.org",
            "http://192.168.1.5:8787",
            "ftp://sync.example.org",
            "sync.example.org",
            "https://user:pw@sync.example.org",
            "https://sync.example.org/?next=x",
            "",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ServerUrl::parse("https://sync.example.org/")
                .unwrap()
                .as_str(),
            "https://sync.example.org"
        );
    }

    fn info(countries: &[&str]) -> Info {
        Info {
            version: "x".into(),
            locations: countries
                .iter()
                .map(|c| casebook_wire::Location {
                    role: "blobs".into(),
                    country: c.to_string(),
                    region: None,
                    description: format!("somewhere in {c}"),
                })
                .collect(),
            sign_up: "open".into(),
            totp_required: false,
        }
    }

    #[test]
    fn only_uk_and_eu_eea_locations_are_accepted() {
        assert!(check_locations(&info(&["GB"])).is_ok());
        assert!(check_locations(&info(&["DE", "NO"])).is_ok());
        for bad in [&["US"][..], &["GB", "US"], &[], &["CH"]] {
            assert!(
                matches!(
                    check_locations(&info(bad)),
                    Err(ServerError::OutsideUkEu(_))
                ),
                "{bad:?}"
            );
        }
    }
}
