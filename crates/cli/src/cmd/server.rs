//! `casebook server`: connect the vault to a casebook-sync account (for off-site backups),
//! see how it is doing, the account's second factor, disconnect, and delete the account.

use std::process::ExitCode;

use casebook_core::offsite::{self, Connect};
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum ServerCmd {
    /// Connect this vault to a server account (password from CASEBOOK_SYNC_PASSWORD or a prompt).
    Connect {
        /// The server's address, e.g. https://sync.example.org (http:// only for this computer).
        url: String,
        /// The account name.
        #[arg(long)]
        username: String,
        /// Open the account first.
        #[arg(long)]
        signup: bool,
        /// The invite code, when the server opens accounts by invitation.
        #[arg(long, value_name = "CODE")]
        invite: Option<String>,
        /// The current authenticator code (or a recovery code), when the account has TOTP on.
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
        /// How this computer is named in the account's device list (default: its host name).
        #[arg(long, value_name = "NAME")]
        device_name: Option<String>,
    },
    /// The server, where it keeps data, the account, this device, storage and the last backup there.
    Status,
    /// The account's second factor (TOTP): turn it on or off.
    #[command(subcommand)]
    Totp(TotpCmd),
    /// Sign this computer out of the server and forget the connection (backups there stay).
    Disconnect,
    /// Delete the server account and every off-site backup in it (password and code again).
    DeleteAccount {
        /// The current authenticator code (or a recovery code), when TOTP is on.
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
        /// Confirm: without it, only says what would be removed.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
pub enum TotpCmd {
    /// Start: shows the otpauth URI and secret for your authenticator app; finish with
    /// `server totp enable --code CODE`, which shows the ten recovery codes once.
    Enable {
        /// The code your authenticator app shows, to finish turning TOTP on.
        #[arg(long, value_name = "CODE")]
        code: Option<String>,
    },
    /// Turn TOTP off (password and a current or recovery code again).
    Disable {
        /// The current authenticator code, or a recovery code.
        #[arg(long, value_name = "CODE")]
        totp: String,
    },
}

pub fn run(g: &Globals, cmd: ServerCmd) -> Outcome {
    match cmd {
        ServerCmd::Connect {
            url,
            username,
            signup,
            invite,
            totp,
            device_name,
        } => connect(g, &url, &username, signup, invite, totp, device_name),
        ServerCmd::Status => status(g),
        ServerCmd::Totp(TotpCmd::Enable { code }) => totp_enable(g, code),
        ServerCmd::Totp(TotpCmd::Disable { totp }) => {
            let mut vault = secrets::open_vault(g)?;
            let password = secrets::sync_password(false)?;
            vault.server_totp_disable(&password, &totp)?;
            if g.json {
                output::json(&json!({ "totp": false }))?;
            } else {
                println!("TOTP is off for this account; its recovery codes no longer work.");
            }
            Ok(ExitCode::SUCCESS)
        }
        ServerCmd::Disconnect => disconnect(g),
        ServerCmd::DeleteAccount { totp, yes } => delete_account(g, totp, yes),
    }
}

fn connect(
    g: &Globals,
    url: &str,
    username: &str,
    signup: bool,
    invite: Option<String>,
    totp: Option<String>,
    device_name: Option<String>,
) -> Outcome {
    // Where the data would live is checked (and shown) before any secret is asked for.
    let (_, info, places) = offsite::server_info(url)?;
    if !g.json {
        println!("The server keeps data in: {}", places.join("; "));
    }
    if signup && info.sign_up == "invite" && invite.is_none() {
        return Err(casebook_core::CoreError::invalid(
            "this server opens accounts by invitation: give the invite code with --invite CODE",
        )
        .into());
    }
    let password = secrets::sync_password(signup)?;
    let mut vault = secrets::open_vault(g)?;
    let device_name = device_name.unwrap_or_else(offsite::this_computer_name);
    let settings = vault.server_connect(&Connect {
        url,
        username,
        password: &password,
        totp: totp.as_deref(),
        sign_up: signup,
        invite: invite.as_deref(),
        device_name: &device_name,
    })?;
    if g.json {
        output::json(&settings)?;
    } else {
        println!(
            "Connected to {} as {} (this computer: {}). Off-site backups run on the backup schedule; send one now with `casebook backup create --to server`.",
            settings.url, settings.username, settings.device_name
        );
        if info.totp_required {
            println!(
                "This server asks for a second factor before it stores anything: run `casebook server totp enable`."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(g: &Globals) -> Outcome {
    let vault = secrets::open_vault(g)?;
    let s = vault.server_status()?;
    if g.json {
        output::json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Server:      {}", s.settings.url);
    println!("Keeps data:  {}", s.settings.locations.join("; "));
    println!("Account:     {}", s.settings.username);
    println!(
        "This device: {} ({})",
        s.settings.device_name, s.settings.device_id
    );
    match &s.usage {
        Some(u) => println!(
            "Storage:     {} of {} used",
            output::size(u.used_bytes),
            output::size(u.quota_bytes)
        ),
        None => println!(
            "Storage:     unknown — {}",
            s.problem
                .as_deref()
                .unwrap_or("the server could not be asked")
        ),
    }
    match (s.state.runs.last_success, s.state.runs.last_failure) {
        (_, Some(f)) if s.state.runs.last_success.is_none_or(|ok| f > ok) => println!(
            "WARNING: the last off-site backup failed at {}: {}",
            output::datetime(f),
            s.state
                .runs
                .last_error
                .as_deref()
                .unwrap_or("unknown error")
        ),
        (Some(ok), _) => println!("Last backup there: {}", output::datetime(ok)),
        (None, _) => println!("Last backup there: none yet"),
    }
    if s.state.ledger_unsent {
        println!(
            "WARNING: an erasure made while the server could not be reached is not on the server yet: it goes with the next off-site backup (`casebook backup create --to server`)"
        );
    }
    println!(
        "Scheduled:   {}",
        if s.settings.scheduled {
            "yes, with the local backups"
        } else {
            "no (turn on with `casebook backup schedule set --server on`)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn totp_enable(g: &Globals, code: Option<String>) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    match code {
        None => {
            let password = secrets::sync_password(false)?;
            let e = vault.server_totp_start(&password)?;
            if g.json {
                output::json(&e)?;
            } else {
                println!("Add this account to your authenticator app:");
                println!("  {}", e.otpauth_uri);
                println!("  (or type the secret: {})", e.secret_base32);
                println!(
                    "Then finish with: casebook server totp enable --code <the six digits it shows>"
                );
            }
        }
        Some(code) => {
            let codes = vault.server_totp_confirm(&code)?;
            if g.json {
                output::json(&codes)?;
            } else {
                println!(
                    "TOTP is on. These ten recovery codes are shown only now; each signs in once without the authenticator:"
                );
                for c in &codes.codes {
                    println!("  {c}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn disconnect(g: &Globals) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let confirmed = vault.server_disconnect()?;
    if g.json {
        output::json(&json!({ "disconnected": true, "signed_out_on_server": confirmed }))?;
    } else if confirmed {
        println!("Signed out and disconnected. The off-site backups stay in the account.");
    } else {
        println!(
            "Disconnected here, but the server could not be reached to sign this computer out: revoke it from another device."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn delete_account(g: &Globals, totp: Option<String>, yes: bool) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let s = vault.server_status()?;
    if !yes {
        if g.json {
            output::json(&json!({
                "deleted": false,
                "would_remove": {
                    "account": s.settings.username,
                    "server": s.settings.url,
                    "used_bytes": s.usage.as_ref().map(|u| u.used_bytes),
                },
                "confirm_with": "--yes",
            }))?;
            return Ok(ExitCode::SUCCESS);
        }
        let used = s.usage.as_ref().map(|u| output::size(u.used_bytes));
        println!(
            "This would delete the account {} on {} and everything in it: every off-site backup{}, and every device's sign-in. The records on this computer and local backups are not touched. Run again with --yes to delete.",
            s.settings.username,
            s.settings.url,
            used.map(|u| format!(" ({u})")).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let password = secrets::sync_password(false)?;
    let deleted = vault.server_delete_account(&password, totp.as_deref())?;
    if g.json {
        output::json(&deleted)?;
    } else {
        println!(
            "The account is deleted: {} objects ({}) removed. This vault is no longer connected.",
            deleted.blobs_removed,
            output::size(deleted.bytes_removed)
        );
    }
    Ok(ExitCode::SUCCESS)
}
