//! # casebook-wire
//!
//! The request and response bodies of the `casebook-sync` HTTP API, and its error codes,
//! shared by the server and (later) the app's sync client so the two cannot drift apart.
//! Blob bodies themselves are opaque bytes (`application/octet-stream`): the server never
//! parses or decrypts them, so no type here describes their contents.

use serde::{Deserialize, Serialize};

pub mod residency;

/// `POST /v1/accounts`: open a new account.
#[derive(Serialize, Deserialize, Clone)]
pub struct SignUp {
    pub username: String,
    pub password: String,
    /// Required when the server only accepts invited sign-ups.
    #[serde(default)]
    pub invite: Option<String>,
}

/// `POST /v1/sessions`: sign in and enrol this device.
#[derive(Serialize, Deserialize, Clone)]
pub struct SignIn {
    pub username: String,
    pub password: String,
    /// The current TOTP code, or a one-time recovery code, when the account has a second factor.
    #[serde(default)]
    pub totp: Option<String>,
    /// A name the therapist will recognise in the device list ("Surgery laptop").
    pub device_name: String,
    /// The device's public key (an age recipient), for sharing keys between devices later.
    pub device_public_key: String,
    /// The token this computer holds now, when it signs in again: if it is the live token of
    /// the account's device with this public key, that device is re-used (same id, a new
    /// token; the old one stops working) instead of another being enrolled. Proof that the
    /// caller is that device, not just someone who knows its public key.
    #[serde(default)]
    pub previous_token: Option<String>,
}

/// A successful sign-in: the device's id and its bearer token (shown once; the server keeps
/// only its hash).
#[derive(Serialize, Deserialize, Clone)]
pub struct Enrolled {
    pub account_id: String,
    pub device_id: String,
    pub token: String,
}

/// One enrolled device, as listed to its own account.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub public_key: String,
    pub created_at: String,
    pub revoked: bool,
    /// When the device last made a request the server answered (RFC 3339, to the minute;
    /// `None` if never since this was recorded). The server's word: informative only.
    #[serde(default)]
    pub last_seen_at: Option<String>,
}

/// The newest blob in one device's log.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub device_id: String,
    pub seq: u64,
    /// Lower-case hex SHA-256 of the blob's bytes.
    pub hash: String,
}

/// Metadata of one stored blob (in a log or a snapshot).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub seq: u64,
    pub size: u64,
    pub hash: String,
}

/// A named snapshot (a backup, or a starting point for a new device).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub name: String,
    pub size: u64,
    pub hash: String,
    pub created_at: String,
}

/// Usage against the account's quota.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub used_bytes: u64,
    pub quota_bytes: u64,
    pub max_blob_bytes: u64,
}

/// Where one storage location keeps its bytes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// What it stores: `metadata` or `blobs`.
    pub role: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `GB`.
    pub country: String,
    /// Provider region if any, e.g. `eu-west-2`.
    pub region: Option<String>,
    /// For people: "London, United Kingdom (eu-west-2)".
    pub description: String,
}

/// `GET /v1/info`: what this server is and where it keeps data.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Info {
    pub version: String,
    pub locations: Vec<Location>,
    pub sign_up: String,
    pub totp_required: bool,
}

/// Confirmation that an account and everything in it is gone.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Deleted {
    pub blobs_removed: u64,
    pub bytes_removed: u64,
}

/// Every error the API returns, as a stable machine-readable code.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    /// Also used for ids that exist but belong to another account: no hint is given.
    NotFound,
    Conflict,
    TooLarge,
    QuotaExceeded,
    RateLimited,
    InviteRequired,
    Internal,
    Unavailable,
}

/// The body of every error response.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// One blob in a range response: its metadata and its bytes (base64, standard alphabet).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct BlobData {
    #[serde(flatten)]
    pub info: BlobInfo,
    pub data: String,
}

/// Reply to a sign-up.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AccountCreated {
    pub account_id: String,
}

/// `POST /v1/totp`: a new (not yet active) TOTP secret for the authenticator app.
#[derive(Serialize, Deserialize, Clone)]
pub struct TotpEnrolment {
    pub otpauth_uri: String,
    pub secret_base32: String,
}

/// `POST /v1/totp/confirm`: a code from the authenticator app, which turns TOTP on.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TotpConfirm {
    pub code: String,
}

/// One-time recovery codes, shown once when TOTP is turned on.
#[derive(Serialize, Deserialize, Clone)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

/// Proof that the person, not just a device token, is asking: for turning on TOTP and for
/// deleting the account.
#[derive(Serialize, Deserialize, Clone)]
pub struct Reauthenticate {
    pub password: String,
    /// The current authenticator code or a recovery code, when TOTP is on.
    #[serde(default)]
    pub totp: Option<String>,
}

/// `POST /v1/account/password`: the current password (and code, when TOTP is on) and the
/// new one (10–1024 characters, as at sign-up).
#[derive(Serialize, Deserialize, Clone)]
pub struct ChangePassword {
    pub password: String,
    /// The current authenticator code or a recovery code, when TOTP is on.
    #[serde(default)]
    pub totp: Option<String>,
    pub new_password: String,
}

/// The password was changed: every other device of the account is signed out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PasswordChanged {
    pub devices_revoked: u64,
}

// ---------- Passkeys (WebAuthn) ----------
//
// The WebAuthn objects themselves (the options a browser or authenticator is handed, and the
// credential it answers with) are carried as JSON exactly as the WebAuthn specification and
// `navigator.credentials` shape them; the server checks them with webauthn-rs.

/// A WebAuthn ceremony begun: hand `options` to the authenticator
/// (`navigator.credentials.create` or `.get`), then send its answer back with `ceremony`
/// within five minutes.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PasskeyChallenge {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// `POST /v1/passkeys`: the authenticator's answer to a registration challenge.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PasskeyRegistration {
    pub ceremony: String,
    /// What the therapist calls it ("MacBook Touch ID", "YubiKey").
    pub name: String,
    pub credential: serde_json::Value,
}

/// One passkey of the signed-in account.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// `POST /v1/sessions/passkey/challenge`: whose passkey will sign in.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PasskeySignInStart {
    pub username: String,
}

/// `POST /v1/sessions/passkey`: the authenticator's answer, and the device to enrol (as in a
/// password sign-in).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PasskeySignIn {
    pub ceremony: String,
    pub credential: serde_json::Value,
    pub device_name: String,
    pub device_public_key: String,
}

/// Debug output never shows a password, token, TOTP secret or recovery code: these types
/// can end up in a log line or a panic message.
macro_rules! redacted_debug {
    ($($t:ident { $($shown:ident),* }),* $(,)?) => {
        $(impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($shown), &self.$shown))*
                    .finish_non_exhaustive()
            }
        })*
    };
}

redacted_debug!(
    SignUp { username },
    SignIn {
        username,
        device_name,
        device_public_key
    },
    Enrolled {
        account_id,
        device_id
    },
    TotpEnrolment {},
    RecoveryCodes {},
    Reauthenticate {},
    ChangePassword {},
);
