//! `casebook init`: create the vault and show the recovery key once.

use std::process::ExitCode;

use casebook_core::{CoreError, Vault};
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

pub fn run(g: &Globals) -> Outcome {
    let created = match secrets::env_passphrase() {
        Some(p) => Vault::init(&g.vault_dir, Some(&p))?,
        None => match Vault::init(&g.vault_dir, None) {
            Err(CoreError::KeychainUnavailable(why)) if secrets::interactive() => {
                eprintln!("No OS keychain is reachable ({why}).");
                eprintln!("The keys will be kept in a key file protected by a passphrase.");
                let p = secrets::prompt_new_passphrase()?;
                Vault::init(&g.vault_dir, Some(&p))?
            }
            other => other?,
        },
    };
    let key = created.recovery_key.as_str();
    let store = created.vault.meta().key_store;
    if g.json {
        output::json(&json!({
            "vault": g.vault_dir,
            "key_store": store,
            "recovery_key": key,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Created a Casebook vault in {}", g.vault_dir.display());
    println!("Keys are kept in: {}", store.describe());
    println!();
    println!("Your recovery key (shown only now — write it down and keep it somewhere safe):");
    println!();
    println!("    {key}");
    println!();
    println!("With it you can open this vault on a new machine or if the keychain loses the keys.");
    if secrets::interactive() {
        let last = &key[key.len() - 4..];
        loop {
            let typed = rpassword::prompt_password(
                "To confirm you have it, type its last four characters: ",
            )?;
            if typed.trim().eq_ignore_ascii_case(last) {
                println!("Thank you. The vault is ready.");
                break;
            }
            eprintln!("That does not match the last group; look again.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
