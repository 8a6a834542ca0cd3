//! `casebook recover`: open the vault with the recovery key and store its keys again.

use std::process::ExitCode;

use casebook_core::{CoreError, Vault};
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

pub fn run(g: &Globals) -> Outcome {
    // Fail early, before asking for anything, if there is no vault here.
    Vault::peek(&g.vault_dir)?;
    let key = secrets::recovery_key()?;
    let vault = match secrets::env_passphrase() {
        Some(p) => Vault::recover(&g.vault_dir, &key, Some(&p))?,
        None => match Vault::recover(&g.vault_dir, &key, None) {
            Err(CoreError::KeychainUnavailable(why)) if secrets::interactive() => {
                eprintln!(
                    "No OS keychain is reachable ({why}); the keys will go in a passphrase key file."
                );
                let p = secrets::prompt_new_passphrase()?;
                Vault::recover(&g.vault_dir, &key, Some(&p))?
            }
            other => other?,
        },
    };
    secrets::say_if_copied(&vault);
    let store = vault.meta().key_store;
    if g.json {
        output::json(&json!({ "vault": g.vault_dir, "key_store": store, "recovered": true }))?;
    } else {
        println!("Recovered the vault in {}.", g.vault_dir.display());
        println!("Keys are now kept in: {}", store.describe());
    }
    Ok(ExitCode::SUCCESS)
}
