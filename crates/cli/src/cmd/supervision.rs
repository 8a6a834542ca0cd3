//! `casebook supervision export CODE… --out DIR [--shift-dates DAYS] [--note ID…]`:
//! chosen notes, pseudonymised for a clinical supervisor.

use std::path::PathBuf;
use std::process::ExitCode;

use casebook_core::ClientCode;
use casebook_core::records::supervision::SupervisionOptions;
use clap::Subcommand;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum SupervisionCmd {
    /// Write the pseudonymised export: codes only, names and aliases replaced.
    Export {
        #[arg(required = true)]
        codes: Vec<String>,
        #[arg(long)]
        out: PathBuf,
        /// Move every date by this many days (e.g. -30); the amount is not written out.
        #[arg(long, allow_negative_numbers = true)]
        shift_dates: Option<i64>,
        /// Only these notes (repeat); default every finalised note of the clients.
        #[arg(long = "note")]
        notes: Vec<String>,
    },
}

pub fn run(g: &Globals, cmd: SupervisionCmd) -> Outcome {
    let SupervisionCmd::Export {
        codes,
        out,
        shift_dates,
        notes,
    } = cmd;
    let codes = codes
        .iter()
        .map(|c| ClientCode::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut vault = secrets::open_vault(g)?;
    let export = vault.supervision_export(
        &codes,
        &SupervisionOptions {
            shift_days: shift_dates,
            note_ids: (!notes.is_empty()).then_some(notes),
        },
    )?;
    let file = export.write_to(&out)?;
    if g.json {
        output::json(&serde_json::json!({ "file": file, "notes": export.notes }))?;
    } else {
        println!(
            "{} pseudonymised {} written to {}",
            export.notes,
            if export.notes == 1 { "note" } else { "notes" },
            file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
