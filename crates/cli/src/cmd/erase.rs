//! `casebook erase CODE --reason R [--override-retention] [--yes]`: the right to erasure.
//!
//! Deletes everything about a client from both stores and leaves only an erasure record
//! (code, time, reason). The retention period is checked first and said: inside it, the
//! confirmation (typing the code, or `--yes`) is the explicit decision that erasure comes
//! first, and `--reason` its explicit reason; the audit entry records the override.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use casebook_core::{ClientCode, CoreError};
use clap::Args;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Args)]
pub struct EraseArgs {
    code: String,
    /// Why (kept for good in the erasure record; must not name the client).
    #[arg(long)]
    reason: String,
    /// Say in advance that erasure comes before the retention period (implied by --yes).
    #[arg(long)]
    override_retention: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(g: &Globals, a: EraseArgs) -> Outcome {
    let code = ClientCode::parse(&a.code)?;
    let mut vault = secrets::open_vault(g)?;
    let today = chrono::Local::now().date_naive();
    let retained_until = vault
        .retention_of(&code)?
        .map(|(d, _)| d)
        .filter(|d| *d > today);
    if let Some(until) = retained_until {
        eprintln!(
            "Note: {code}'s records are inside their retention period (review due {}). Erasing them now overrides it, for the reason given.",
            output::date(until)
        );
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CoreError::invalid(
                "erasure cannot be undone: run again with --yes to confirm",
            )
            .into());
        }
        print!("Erase every record of {code}? This cannot be undone. Type the code to confirm: ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim().to_uppercase() != code.as_str() {
            println!("Nothing was erased.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    // Confirmed knowing the retention date: that is the explicit decision.
    let override_retention = a.override_retention || retained_until.is_some();
    let record = vault.erase_client(&code, &a.reason, override_retention)?;
    if g.json {
        output::json(&record)?;
    } else {
        println!(
            "Client {} erased at {}. Only the erasure record is kept.",
            record.client_code,
            output::datetime(record.erased_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}
