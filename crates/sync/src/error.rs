//! The engine's typed errors. An [`Alarm`](crate::chain::Alarm) is not an error of the
//! engine: it is what the server did, named for the therapist.

/// Why a blob could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobError {
    #[error("the blob is damaged or not a Casebook sync blob: {0}")]
    Malformed(&'static str),
    #[error("the blob's signature does not verify with its device's key")]
    BadSignature,
    #[error("the blob says it belongs to another log or place than the one it was served from")]
    Misplaced,
    #[error("the blob cannot be decrypted with this practice's sync key")]
    Undecryptable,
    #[error("the blob could not be written: {0}")]
    Encode(String),
}

/// Why a device list could not be believed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DevicesError {
    #[error("the device list is not valid: {0}")]
    Malformed(String),
    #[error("device-list entry {0} is not signed by a key the list already trusts")]
    Untrusted(usize),
    #[error("device-list entry {0} does not follow the one before it")]
    Broken(usize),
    #[error("device-list entry {0} is not allowed: {1}")]
    Refused(usize, &'static str),
}
