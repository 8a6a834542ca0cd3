//! `casebook`: the Casebook vault from a terminal.
//!
//! One file per command group under `cmd/`; this file holds the argument grammar, turns
//! core errors into one-line messages with distinct exit codes, and nothing else.

mod cmd;
mod output;
mod secrets;

use std::path::PathBuf;
use std::process::ExitCode;

use casebook_core::{CoreError, ErrorKind};
use clap::{Parser, Subcommand};

/// Casebook: encrypted client records for therapists, kept on this machine.
#[derive(Parser)]
#[command(name = "casebook", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// The vault folder (default: the OS data dir, e.g. ~/.local/share/casebook).
    #[arg(long, global = true, env = "CASEBOOK_VAULT", value_name = "DIR")]
    vault: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new vault and show its recovery key (once).
    Init,
    /// Open the vault with the recovery key and store its keys again (new machine, lost keychain).
    Recover,
    /// Where the vault is, how its keys are kept, and what it holds.
    Status,
    /// Add, list, show and close clients.
    #[command(subcommand)]
    Client(cmd::client::ClientCmd),
    /// Book sessions and record attendance.
    #[command(subcommand)]
    Appointment(cmd::appointment::AppointmentCmd),
    /// Write, edit, finalise and amend session notes.
    #[command(subcommand)]
    Note(cmd::note::NoteCmd),
    /// Private process notes, kept apart from the clinical record.
    #[command(subcommand, name = "process-note")]
    ProcessNote(cmd::process_note::ProcessNoteCmd),
    /// The session clock shared by the practice's computers: start, list what runs, end.
    #[command(subcommand)]
    Session(cmd::session::SessionCmd),
    /// Record and list outcome measures (PHQ-9, GAD-7, CORE-10).
    #[command(subcommand)]
    Measure(cmd::measure::MeasureCmd),
    /// Search notes, addenda and process notes.
    Search(cmd::search::SearchArgs),
    /// List, verify and export the audit trail.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCmd),
    /// Encrypted backups: create, list, verify, restore, prune, schedule.
    #[command(subcommand)]
    Backup(cmd::backup::BackupCmd),
    /// Erase a client: every record goes, an erasure record (code, time, reason) stays.
    Erase(cmd::erase::EraseArgs),
    /// The retention policy, the review list, extensions and destruction.
    #[command(subcommand)]
    Retention(cmd::retention::RetentionCmd),
    /// The practice's name and the therapist's registration, printed on exports.
    #[command(subcommand)]
    Practice(cmd::practice::PracticeCmd),
    /// Subject-access requests: the bundle for a client, open requests and due dates.
    #[command(subcommand)]
    Sar(cmd::sar::SarCmd),
    /// Pseudonymised notes for clinical supervision.
    #[command(subcommand)]
    Supervision(cmd::supervision::SupervisionCmd),
    /// Export everything in open formats (JSON + CSV per record type).
    Export(cmd::portability::ExportArgs),
    /// Create a new vault from a folder written by `casebook export --all`.
    Import(cmd::portability::ImportArgs),
    /// Import appointments from a booking calendar (iCal feed or .ics file).
    #[command(subcommand)]
    Calendar(cmd::calendar::CalendarCmd),
    /// Connect to a casebook-sync server for off-site backups; its status, TOTP, sign-out.
    #[command(subcommand)]
    Server(cmd::server::ServerCmd),
    /// Several computers sharing one practice: end-to-end encrypted, signed, checked.
    #[command(subcommand)]
    Sync(cmd::sync::SyncCmd),
    /// Show the database keys (to open your data with standard SQLCipher tools).
    #[command(subcommand)]
    Keys(cmd::keys::KeysCmd),
}

/// What a command needs from the global flags.
pub struct Globals {
    pub json: bool,
    pub vault_dir: PathBuf,
}

/// The exit code for each kind of failure, so scripts can tell them apart.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Internal => 1,
        // 2 is clap's code for a usage error.
        ErrorKind::Vault => 3,
        ErrorKind::Locked => 4,
        ErrorKind::Recovery => 5,
        ErrorKind::NotFound => 6,
        ErrorKind::InvalidInput => 7,
        ErrorKind::Conflict => 8,
        ErrorKind::Integrity => 9,
        ErrorKind::Network => 10,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(vault_dir) = cli.vault.clone().or_else(casebook_core::Vault::default_dir) else {
        eprintln!("error: no home directory found: pass --vault DIR");
        return ExitCode::from(3);
    };
    let g = Globals {
        json: cli.json,
        vault_dir,
    };
    let result = match cli.command {
        Command::Init => cmd::init::run(&g),
        Command::Recover => cmd::recover::run(&g),
        Command::Status => cmd::status::run(&g),
        Command::Client(c) => cmd::client::run(&g, c),
        Command::Appointment(c) => cmd::appointment::run(&g, c),
        Command::Note(c) => cmd::note::run(&g, c),
        Command::ProcessNote(c) => cmd::process_note::run(&g, c),
        Command::Session(c) => cmd::session::run(&g, c),
        Command::Measure(c) => cmd::measure::run(&g, c),
        Command::Search(a) => cmd::search::run(&g, a),
        Command::Audit(c) => cmd::audit::run(&g, c),
        Command::Keys(c) => cmd::keys::run(&g, c),
        Command::Backup(c) => cmd::backup::run(&g, c),
        Command::Calendar(c) => cmd::calendar::run(&g, c),
        Command::Server(c) => cmd::server::run(&g, c),
        Command::Sync(c) => cmd::sync::run(&g, c),
        Command::Erase(a) => cmd::erase::run(&g, a),
        Command::Retention(c) => cmd::retention::run(&g, c),
        Command::Practice(c) => cmd::practice::run(&g, c),
        Command::Sar(c) => cmd::sar::run(&g, c),
        Command::Supervision(c) => cmd::supervision::run(&g, c),
        Command::Export(a) => cmd::portability::export(&g, a),
        Command::Import(a) => cmd::portability::import(&g, a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = match err.downcast_ref::<CoreError>() {
                Some(core) => exit_code(core.kind()),
                None => 1,
            };
            // One line, always: messages from libraries (age, I/O) can hold line breaks.
            let message = format!("{err:#}");
            eprintln!(
                "error: {}",
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::from(code)
        }
    }
}
