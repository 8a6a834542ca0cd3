//! `casebook keys show`: print the raw database keys, for standard SQLCipher tools.

use std::process::ExitCode;

use casebook_core::CoreError;
use clap::Subcommand;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Print both database keys and both backup identities. Anyone holding them can read the
    /// vault's files and its backups.
    Show {
        /// Confirm that you understand the keys unlock all your clients' records.
        #[arg(long = "i-understand")]
        i_understand: bool,
    },
}

pub fn run(g: &Globals, cmd: KeysCmd) -> Outcome {
    let KeysCmd::Show { i_understand } = cmd;
    if !i_understand {
        return Err(CoreError::InvalidInput(
            "these keys open every record in the vault: add --i-understand to print them".into(),
        )
        .into());
    }
    let mut vault = secrets::open_vault(g)?;
    let doc = vault.show_keys()?;
    if g.json {
        output::json(&doc)?;
    } else {
        println!("clinical.db key: {}", doc.clinical_db_key);
        println!("identity.db key: {}", doc.identity_db_key);
        for (part, id) in ["clinical.age", "identity.age"]
            .iter()
            .zip(&doc.age_identities)
        {
            println!("backup identity for {part}: {id}");
        }
        // Each re-keying's (a computer removed with the recovery key): backups and sync blobs
        // made since are sealed to the newest; `age -d` takes every identity with one -i each.
        for (n, generation) in doc.rekeyed.iter().enumerate() {
            for (part, id) in ["clinical.age", "identity.age"]
                .iter()
                .zip(&generation.age_identities)
            {
                println!(
                    "backup identity for {part} (key generation {}): {id}",
                    n + 1
                );
            }
        }
        println!();
        println!(
            "Open a store with SQLCipher 4: PRAGMA key = \"x'<key>'\"; (see docs/open-your-data.md)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
