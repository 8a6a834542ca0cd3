//! The off-site copy: backups sent to the therapist's `casebook-sync` account, and a restore
//! from there onto a new machine.
//!
//! * [`client`] speaks the server's HTTP API and turns its refusals into words;
//! * [`connection`] keeps the vault's link to one account (settings, run record, and the
//!   device's token in the vault's key store);
//! * [`envelope`] is the on-server format: every object opaque, every byte checked on return;
//! * this module ties them to the vault: connect, send, list, verify, prune, restore.
//!
//! The server is untrusted. It sees object names chosen to reveal nothing, sizes and times.
//! Whatever it returns is checked (piece digests, the index's authentication code, and
//! every check of a local restore) before it is used, and a backup this vault sent that the
//! server no longer lists is reported, never silently forgotten.

pub mod client;
pub mod connection;
pub mod envelope;
mod remote;

pub use casebook_wire::{Reauthenticate, Usage};
pub use client::{ServerClient, ServerError, ServerUrl, check_locations};
pub use connection::{OffsiteState, ServerSettings};
pub use remote::{
    BackupsToKeep, Connect, PreparedUpload, RemoteList, RemoteListing, SentBackup, ServerRestore,
    ServerSignIn, ServerStatus, ensure_keys_object, record_run, server_info,
};

/// This computer's name for the account's device list: its host name, or "This computer".
pub fn this_computer_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "This computer".into())
}
