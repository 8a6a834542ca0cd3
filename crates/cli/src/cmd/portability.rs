//! `casebook export --all DIR` and `casebook import DIR`: the whole vault in open formats
//! (JSON + CSV per record type, with a README of the fields), and back into a new vault.

use std::path::PathBuf;
use std::process::ExitCode;

use casebook_core::{CoreError, Vault};
use clap::Args;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Args)]
pub struct ExportArgs {
    /// Everything (the only export there is; the flag says so out loud).
    #[arg(long, required = true)]
    all: bool,
    /// A new or empty folder.
    dir: PathBuf,
}

#[derive(Args)]
pub struct ImportArgs {
    /// A folder written by `casebook export --all`.
    dir: PathBuf,
}

pub fn export(g: &Globals, a: ExportArgs) -> Outcome {
    let _ = a.all;
    let mut vault = secrets::open_vault(g)?;
    let done = vault.export_all(&a.dir)?;
    if g.json {
        output::json(&done)?;
    } else {
        println!(
            "Exported to {} (JSON and CSV, README.md describes the fields):",
            a.dir.display()
        );
        for (k, n) in &done.counts {
            println!("  {k}: {n}");
        }
        println!("These files are not encrypted: keep them as safe as the records.");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(g: &Globals, a: ImportArgs) -> Outcome {
    if g.vault_dir.join("vault.json").exists() {
        return Err(CoreError::VaultExists(g.vault_dir.clone()).into());
    }
    // As `casebook init`: CASEBOOK_PASSPHRASE → a passphrase key file, else the OS keychain.
    let passphrase = secrets::env_passphrase();
    let created = Vault::import_all(&a.dir, &g.vault_dir, passphrase.as_deref())?;
    if g.json {
        output::json(&serde_json::json!({
            "vault": g.vault_dir,
            "recovery_key": created.recovery_key.as_str(),
        }))?;
    } else {
        println!("Imported into a new vault at {}.", g.vault_dir.display());
        println!();
        println!("Recovery key (write it down and keep it safe; it is shown only once):");
        println!("  {}", created.recovery_key.as_str());
    }
    Ok(ExitCode::SUCCESS)
}
