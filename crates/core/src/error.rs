//! Typed errors for everything the core can refuse or fail at.
//!
//! Each variant says, in words a therapist can act on, what went wrong and what to do.
//! The CLI maps each [`ErrorKind`] to its own exit code, so scripts can tell a wrong
//! passphrase from an unknown client code. Messages never contain clinical text,
//! names or secrets.

use std::path::PathBuf;

/// Why an operation was refused or failed. Nothing was changed when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("no vault at {0}: run `casebook init` to create one, or pass --vault DIR")]
    VaultNotFound(PathBuf),

    #[error("a vault already exists at {0}: nothing was changed")]
    VaultExists(PathBuf),

    #[error(
        "{0} holds Casebook files but no vault.json (an interrupted init?): move them away and run `casebook init` again"
    )]
    IncompleteVault(PathBuf),

    #[error(
        "the passphrase is wrong: the vault was not opened (try again, or run `casebook recover` with the recovery key)"
    )]
    WrongPassphrase,

    #[error(
        "this vault keeps its keys in a passphrase-protected key file: set CASEBOOK_PASSPHRASE or run from a terminal to be asked"
    )]
    PassphraseRequired,

    #[error(
        "the key file {0} is damaged and cannot be read: run `casebook recover` with the recovery key"
    )]
    KeyFileCorrupt(PathBuf),

    #[error(
        "the OS keychain holds no keys for this vault: run `casebook recover` with the recovery key"
    )]
    KeysMissing,

    #[error(
        "no OS keychain is reachable ({0}): set CASEBOOK_PASSPHRASE to keep the keys in a passphrase-protected key file instead"
    )]
    KeychainUnavailable(String),

    #[error(
        "the keys do not open this vault's databases: run `casebook recover` with the recovery key"
    )]
    KeysDoNotOpenVault,

    #[error(
        "the recovery key has a typo (its checksum does not match): check each group of four characters"
    )]
    RecoveryKeyTypo,

    #[error(
        "that is not a recovery key: expected 9 groups of 4 letters and digits, like ABCD-EFGH-…"
    )]
    RecoveryKeyMalformed,

    #[error("this recovery key does not belong to this vault: nothing was changed")]
    WrongRecoveryKey,

    #[error("no {what} with {id}: check it with `casebook {hint}`")]
    NotFound {
        what: &'static str,
        id: String,
        hint: &'static str,
    },

    #[error("{0}")]
    InvalidInput(String),

    #[error(
        "note {0} is finalised and cannot be changed: add an addendum with `casebook note amend {0} --text …`"
    )]
    NoteFinalised(String),

    #[error("{0}")]
    Conflict(String),

    #[error("changes from another computer were not applied: {0}")]
    SyncIntegrity(String),
    #[error("the audit trail does not verify: {0}")]
    AuditBroken(String),

    #[error("the backup was refused: {0}; nothing was restored or changed")]
    BackupInvalid(String),

    #[error("the vault's database is damaged or not a Casebook vault: {0}")]
    Corrupt(String),

    #[error(
        "recovery.age in the vault folder is not the file Casebook wrote (it was replaced or damaged): a backup made now could not be restored with your recovery key, so none was made. Nothing else was changed; an earlier backup holds the right file (its keys.age)"
    )]
    RecoveryFileChanged,

    #[error(
        "the vault was made by a newer Casebook (schema {found}, this build knows {known}): update Casebook"
    )]
    SchemaTooNew { found: i64, known: i64 },

    #[error("database error: {0}")]
    Database(rusqlite::Error),

    #[error(
        "the records are read-only until this computer has caught up with the practice's other computers: nothing was changed; try again when it has (the sync indicator says when)"
    )]
    CatchingUp,

    #[error("file error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("encryption error: {0}")]
    Crypto(String),

    /// A calendar feed could not be fetched; the message names the host, never the address.
    #[error("{0}")]
    Fetch(String),

    #[error(
        "an off-site backup, prune or erasure-list update is already running for this vault (in the app or another command): try again when it has finished"
    )]
    Busy,

    /// The Casebook server refused or could not be reached.
    #[error(transparent)]
    Server(#[from] crate::offsite::ServerError),
}

impl From<rusqlite::Error> for CoreError {
    /// A database error, or the refusal of a write while the records are held read-only
    /// ([`crate::catching_up`]), which reaches us as one.
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(_, Some(msg))
                if msg.contains(crate::catching_up::REFUSED) =>
            {
                CoreError::CatchingUp
            }
            _ => CoreError::Database(e),
        }
    }
}

/// The broad class of an error, for exit codes and for the UI to choose how to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No vault, or a vault already exists where one was to be made.
    Vault,
    /// The keys could not be obtained or do not open the vault.
    Locked,
    /// The recovery key is wrong or mistyped.
    Recovery,
    /// The named record does not exist.
    NotFound,
    /// The input is malformed.
    InvalidInput,
    /// The change is not allowed in the record's current state.
    Conflict,
    /// An integrity check failed (audit chain, damaged files).
    Integrity,
    /// Something outside this machine failed (a calendar feed could not be fetched).
    Network,
    /// Anything else: an I/O or database failure.
    Internal,
}

impl ErrorKind {
    /// A one-word name, for audit entries (which never hold error text).
    pub fn word(self) -> &'static str {
        match self {
            ErrorKind::Vault => "vault",
            ErrorKind::Locked => "locked",
            ErrorKind::Recovery => "recovery",
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Network => "network",
            ErrorKind::Internal => "internal",
        }
    }
}

impl CoreError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        use CoreError::*;
        match self {
            VaultNotFound(_) | VaultExists(_) | IncompleteVault(_) | SchemaTooNew { .. } => {
                ErrorKind::Vault
            }
            WrongPassphrase
            | PassphraseRequired
            | KeyFileCorrupt(_)
            | KeysMissing
            | KeychainUnavailable(_)
            | KeysDoNotOpenVault => ErrorKind::Locked,
            RecoveryKeyTypo | RecoveryKeyMalformed | WrongRecoveryKey => ErrorKind::Recovery,
            NotFound { .. } => ErrorKind::NotFound,
            InvalidInput(_) => ErrorKind::InvalidInput,
            NoteFinalised(_) | Conflict(_) | Busy | CatchingUp => ErrorKind::Conflict,
            AuditBroken(_) | Corrupt(_) | BackupInvalid(_) | RecoveryFileChanged
            | SyncIntegrity(_) => ErrorKind::Integrity,
            Fetch(_) => ErrorKind::Network,
            Server(e) => {
                use crate::offsite::ServerError as S;
                match e {
                    S::WrongCredentials | S::DeviceRevoked => ErrorKind::Locked,
                    S::BadAddress(_) | S::OutsideUkEu(_) | S::Invite(_) => ErrorKind::InvalidInput,
                    S::QuotaFull => ErrorKind::Conflict,
                    S::Unreachable(_)
                    | S::Tls(_)
                    | S::RateLimited(_)
                    | S::Refused(_)
                    | S::Protocol(_) => ErrorKind::Network,
                }
            }
            Database(_) | Io { .. } | Crypto(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CoreError {
        let path = path.into();
        move |source| CoreError::Io { path, source }
    }

    /// A refusal of bad input, with a message saying what to do.
    pub fn invalid(msg: impl Into<String>) -> CoreError {
        CoreError::InvalidInput(msg.into())
    }
}

/// Result alias for the core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
