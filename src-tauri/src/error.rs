//! The one error type every command returns: a stable `kind` word the UI can branch on and
//! a message already worded for a therapist (never debug text, never clinical text).

use casebook_core::CoreError;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct UiError {
    pub kind: &'static str,
    pub message: String,
}

pub type UiResult<T> = std::result::Result<T, UiError>;

impl UiError {
    pub fn locked() -> Self {
        UiError {
            kind: "locked",
            message: "Casebook is locked: unlock it to continue.".into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        UiError {
            kind: "invalid_input",
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        UiError {
            kind: "internal",
            message: message.into(),
        }
    }
}

impl From<CoreError> for UiError {
    fn from(e: CoreError) -> Self {
        // The core's messages name CLI commands and environment variables where a
        // terminal user needs them; in the app a few read better in the app's own words.
        let (kind, message) = match &e {
            CoreError::WrongPassphrase => (
                "wrong_passphrase",
                "That passphrase is not right. Try again — or, if it is lost, use your recovery key.".to_string(),
            ),
            CoreError::PassphraseRequired => ("wrong_passphrase", "Enter your passphrase to unlock.".to_string()),
            CoreError::KeysMissing => (
                "locked",
                "The OS keychain holds no keys for this vault. Restore access with your recovery key (below).".to_string(),
            ),
            CoreError::KeychainUnavailable(_) => (
                "locked",
                "No OS keychain is reachable on this computer. Choose a passphrase instead.".to_string(),
            ),
            CoreError::Database(_) | CoreError::Io { .. } | CoreError::Crypto(_) => (
                "internal",
                "Casebook could not read or write its files. Nothing was changed; try again, and if it keeps happening, check the disk.".to_string(),
            ),
            CoreError::Server(casebook_core::offsite::ServerError::DeviceRevoked) => (
                "revoked",
                "The server no longer accepts this computer (it was signed out or revoked from another device). Connect again in Settings → Off-site copy.".to_string(),
            ),
            CoreError::Server(casebook_core::offsite::ServerError::QuotaFull) => (
                "quota",
                "The server's storage for this account is full. Delete old off-site backups, or ask whoever runs the server for more space. Local backups carry on.".to_string(),
            ),
            CoreError::Server(inner) => ("network", sentence(&inner.to_string())),
            // Its own kind: a screen reading "conflict" as a rule of its own (erasure inside
            // the retention period) must not mistake the join's read-only hold for it.
            CoreError::CatchingUp => (
                "read_only",
                "Your records are read-only until this computer has caught up with your other computers. Nothing was changed; try again in a moment.".to_string(),
            ),
            CoreError::Busy => (
                "busy",
                "An off-site backup is already being sent from this computer. Try again when it has finished.".to_string(),
            ),
            _ => (e.kind().word(), e.to_string()),
        };
        UiError { kind, message }
    }
}

/// A core message as a sentence: capital first letter, full stop at the end.
fn sentence(s: &str) -> String {
    let mut c = s.chars();
    let mut out: String = c
        .next()
        .map(|f| f.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(c.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
