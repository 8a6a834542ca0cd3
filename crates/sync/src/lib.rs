//! # casebook-sync-engine
//!
//! Multi-device sync for Casebook (`docs/sync.md`). The core captures and applies changes
//! and knows nothing of the network; this crate turns changes into signed, encrypted blobs
//! in per-device logs on the untrusted server, and checks everything the server sends back.
//!
//! * [`blob`] — the blob format: sealing and opening, signature and headers;
//! * [`batch`] — what a blob of changes or a heartbeat carries: changes and audit entries;
//! * [`chain`] — each device's hash chain and the heads seen, and the alarms a lying or
//!   broken server raises (rollback, fork, replay, gaps, withheld changes);
//! * [`checkpoint`] — a device's whole state as chunks in its log, so its log can be cut;
//! * [`devices`] — the device list, signed by the devices themselves (never the server's list);
//! * [`keys`] — the practice root derived from the recovery key, and device keys;
//! * [`engine`] — one computer's run: seal, send, check heads, fetch, verify and apply;
//! * [`http`] — the real server as the engine's `Remote`;
//! * [`pairing`] — adding a computer by code: the SPAKE2 exchange and its messages;
//! * [`adding`] — the same over the server: making a code, joining with it;
//! * [`practice`] — `sync enable`, `sync now` and `sync status` for a connected vault.
//! * [`rekey`] — after a revocation, the practice's new keys handed to each computer that stays.
//! * [`watch`] — `sync watch`: a run after every local edit, every change on another computer
//!   (the server's long-poll on heads) and every few minutes.

pub mod adding;
pub mod batch;
pub mod blob;
pub mod chain;
pub mod checkpoint;
pub mod devices;
pub mod engine;
pub mod error;
pub mod http;
pub mod keys;
pub mod pairing;
pub mod practice;
pub mod rekey;
pub mod watch;

pub use chain::Alarm;
pub use error::{BlobError, DevicesError};
