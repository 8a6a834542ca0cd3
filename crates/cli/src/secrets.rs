//! Getting secrets from the person: environment variables first, a hidden prompt only when
//! standard input is a terminal. Never prompts in scripts.

use std::io::IsTerminal;

use anyhow::Result;
use casebook_core::{CoreError, KeyStoreKind, RecoveryKey, Vault};

use crate::Globals;

pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// `CASEBOOK_PASSPHRASE`, if set.
pub fn env_passphrase() -> Option<String> {
    std::env::var("CASEBOOK_PASSPHRASE").ok()
}

/// Asks twice for a new passphrase (terminal only).
pub fn prompt_new_passphrase() -> Result<String> {
    loop {
        let a = rpassword::prompt_password("Choose a passphrase for the vault's key file: ")?;
        if a.chars().count() < 8 {
            eprintln!("Use at least 8 characters.");
            continue;
        }
        let b = rpassword::prompt_password("Type it again: ")?;
        if a == b {
            return Ok(a);
        }
        eprintln!("The two did not match; try again.");
    }
}

/// Unlocks the vault: OS keychain, or the passphrase key file with `CASEBOOK_PASSPHRASE`
/// or a prompt.
pub fn open_vault(g: &Globals) -> Result<Vault> {
    let meta = Vault::peek(&g.vault_dir)?;
    let passphrase = match meta.key_store {
        KeyStoreKind::OsKeychain => None,
        KeyStoreKind::Passphrase => match env_passphrase() {
            Some(p) => Some(p),
            None if interactive() => Some(rpassword::prompt_password("Vault passphrase: ")?),
            None => return Err(CoreError::PassphraseRequired.into()),
        },
    };
    let vault = Vault::open(&g.vault_dir, passphrase.as_deref())?;
    say_if_copied(&vault);
    Ok(vault)
}

/// Says once, on stderr, that this unlock found a copied vault folder and made it a computer
/// of its own.
pub fn say_if_copied(vault: &Vault) {
    if let Some(notice) = vault.copied_notice() {
        eprintln!("Note: {notice}");
    }
}

/// The recovery key from `CASEBOOK_RECOVERY_KEY` or a prompt.
pub fn recovery_key() -> Result<RecoveryKey> {
    let text = match std::env::var("CASEBOOK_RECOVERY_KEY") {
        Ok(t) => t,
        Err(_) if interactive() => rpassword::prompt_password("Recovery key: ")?,
        Err(_) => {
            return Err(CoreError::InvalidInput(
                "give the recovery key in CASEBOOK_RECOVERY_KEY (or run from a terminal to be asked)".into(),
            )
            .into());
        }
    };
    Ok(RecoveryKey::parse(&text)?)
}

/// The server account's password from `CASEBOOK_SYNC_PASSWORD`, or a prompt (asked twice
/// for a new account). Never prompts without a terminal.
pub fn sync_password(new_account: bool) -> Result<String> {
    if let Ok(p) = std::env::var("CASEBOOK_SYNC_PASSWORD") {
        return Ok(p);
    }
    if !interactive() {
        return Err(CoreError::InvalidInput(
            "give the server account's password in CASEBOOK_SYNC_PASSWORD (or run from a terminal to be asked)".into(),
        )
        .into());
    }
    loop {
        let a = rpassword::prompt_password("Server account password: ")?;
        if !new_account {
            return Ok(a);
        }
        if a.chars().count() < 10 {
            eprintln!("Use at least 10 characters.");
            continue;
        }
        if rpassword::prompt_password("Type it again: ")? == a {
            return Ok(a);
        }
        eprintln!("The two did not match; try again.");
    }
}
