//! # casebook-core
//!
//! The Casebook vault and everything a therapist's data goes through. No UI; the only
//! network use is fetching the therapist's own calendar feed ([`calendar`]), over HTTPS.
//!
//! A vault is two SQLCipher databases kept apart on purpose (the *two-code* design): the
//! **clinical store** knows clients only by random codes such as `C-7KQ2` and holds
//! appointments, session notes, addenda, process notes, outcome measures and the audit
//! trail; the **identity store** maps each code to a name and contact details. Each has
//! its own random 256-bit key, kept in the OS keychain (or a passphrase key file) and,
//! for disaster recovery, sealed with a recovery key shown once at setup.
//!
//! Start with [`Vault::init`] or [`Vault::open`]; every method on [`Vault`] is one
//! audited transaction. Module map:
//!
//! * [`vault`] — the folder, unlocking, recovery, and the audited-transaction helper;
//! * [`keys`], [`keystore`], [`recovery`] — key material and where it is kept;
//! * [`records`] — clients, appointments, notes, process notes, measures;
//! * [`search`] — full-text search inside the encrypted clinical store;
//! * [`audit`] — the hash-chained audit trail and its verification;
//! * [`backup`] — encrypted backup files, their schedule, keep-policy, checks and restore;
//! * [`clock`] — the session clock (a pure state machine) and [`preferences`];
//! * [`calendar`] — importing appointments from an iCal feed or `.ics` file;
//! * [`portability`] — the whole vault in open formats (JSON + CSV) and back;
//!   [`spreadsheet`] keeps every CSV cell from running as a formula;
//! * [`offsite`] — the off-site copy: backups sent, wholly encrypted, to the therapist's
//!   `casebook-sync` account, and a restore from there onto a new machine;
//! * [`hlc`] — hybrid logical clock stamps for sync; [`catching_up`] holds a newly joined
//!   computer's records read-only until it has caught up with the others.

pub mod audit;
pub mod audit_devices;
pub mod backup;
pub mod calendar;
pub mod catching_up;
pub mod changes;
pub mod checkpoint;
pub mod clock;
pub mod conflicts;
mod db;
pub mod error;
pub mod hlc;
mod jsonfile;
mod key_ring;
pub mod keys;
pub mod keystore;
pub mod merge;
pub mod offsite;
mod pins;
pub mod portability;
pub mod preferences;
pub mod records;
pub mod recovery;
pub mod registry;
pub mod rekeying;
mod schema;
mod sealed;
pub mod search;
pub mod spreadsheet;
pub mod sync_state;
pub mod vault;

#[cfg(feature = "plaintext-bench")]
pub mod bench_support;

pub use audit::{Action, AuditEntry, AuditFilter, SentEntry, Verification};
pub use clock::{ClockEvent, ClockReading, Running, SessionClock, Slot, Unrecorded, Unverified};
pub use error::{CoreError, ErrorKind, Result};
pub use keys::ClockKey;
pub use keys::KeysDocument;
pub use keystore::KeyStoreKind;
pub use preferences::Preferences;
pub use records::appointments::{Appointment, AppointmentMove, AppointmentStatus, CancelledBy};
pub use records::caseload::CaseloadEntry;
pub use records::clients::{
    Client, ClientCode, ClientFileParts, ClientIdentity, ClientStatus, ClientSummary,
};
pub use records::measures::{Instrument, OutcomeMeasure, Score};
pub use records::notes::{Addendum, NoteStatus, NoteTemplate, SessionNote};
pub use records::parse_date;
pub use records::process_notes::ProcessNote;
pub use records::risk::{NoteRisk, RiskFlag};
pub use records::series::{Repeat, SeriesEnd};
pub use records::sessions::{DayAppointment, SharedSession, ToFinish};
pub use recovery::RecoveryKey;
pub use search::{SearchFilter, SearchHit};
pub use vault::{Created, Status, Vault, VaultMeta};

/// Writes a file the therapist asked for (an export) so that only they can read it (0600),
/// atomically: a crash leaves the old file or the new one.
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    sealed::write_atomically(path, bytes)
}

/// The database file names inside a vault folder.
pub use db::{CLINICAL_DB, IDENTITY_DB};
