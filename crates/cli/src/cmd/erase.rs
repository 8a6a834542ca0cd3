//! `casebook erase CODE --reason R [--override-retention] [--yes]`: the right to erasure.
//!
//! Deletes everything about a client from both stores and leaves only an erasure record
//! (code, time, reason). Asks first unless `--yes`; refused while the records are inside
//! their retention period unless `--override-retention`.

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
    /// Erase even though the retention period has not ended (say why in --reason).
    #[arg(long)]
    override_retention: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(g: &Globals, a: EraseArgs) -> Outcome {
    let code = ClientCode::parse(&a.code)?;
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
    let mut vault = secrets::open_vault(g)?;
    let record = vault.erase_client(&code, &a.reason, a.override_retention)?;
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
