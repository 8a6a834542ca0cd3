//! `casebook status`: where the vault is, how its keys are kept, what it holds.

use std::process::ExitCode;

use super::Outcome;
use crate::{Globals, output, secrets};

pub fn run(g: &Globals) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let s = vault.status()?;
    if g.json {
        output::json(&s)?;
    } else {
        println!("Vault:          {}", s.vault.display());
        println!("Key store:      {}", s.key_store_description);
        println!(
            "Clients:        {} active, {} closed",
            s.active_clients, s.closed_clients
        );
        println!(
            "Session notes:  {} ({} drafts)",
            s.session_notes, s.draft_notes
        );
        println!("Audit entries:  {}", s.audit_entries);
        println!(
            "Schema:         clinical v{}, identity v{}",
            s.clinical_schema, s.identity_schema
        );
    }
    Ok(ExitCode::SUCCESS)
}
