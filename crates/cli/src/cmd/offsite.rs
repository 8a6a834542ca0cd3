//! `casebook backup … --server`: the off-site copy on the connected casebook-sync server —
//! send, list, verify, prune, and restore onto a new machine.

use std::path::PathBuf;
use std::process::ExitCode;

use casebook_core::CoreError;
use casebook_core::backup::{BackupSettings, schedule};
use casebook_core::offsite::{OffsiteState, RemoteListing, ServerRestore};
use chrono::Utc;
use serde_json::json;

use super::Outcome;
use super::backup::{bar, passphrase_words, print_plan, print_restored, restore_passphrase};
use crate::{Globals, output, secrets};

pub fn create(g: &Globals, if_due: bool) -> Outcome {
    if if_due {
        let settings = BackupSettings::load(&g.vault_dir)?;
        let state = OffsiteState::load(&g.vault_dir)?;
        if !schedule::is_due(settings.every_hours, state.runs.last_runs(), Utc::now()) {
            if g.json {
                output::json(&json!({ "server": null, "due": false }))?;
            } else {
                println!("No off-site backup due yet.");
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut vault = secrets::open_vault(g)?;
    let sent = vault.offsite_backup_create(&mut bar())?;
    if g.json {
        output::json(&sent)?;
    } else {
        println!(
            "Sent off-site backup {} ({} in {} encrypted pieces; {} clients, {} session notes).",
            sent.name,
            output::size(sent.size),
            sent.pieces,
            sent.manifest.counts.clients,
            sent.manifest.counts.session_notes
        );
    }
    if sent.erasure_list_replaced {
        eprintln!(
            "Warning: the server's erasure list was not written with the practice's current keys and held erasures this computer does not know. It was replaced by this computer's. Either a computer that had not taken the new keys yet erased a client (that erasure reaches this computer by sync), or the server or a removed computer changed the list."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_listing(l: &RemoteListing) {
    let when = l
        .created_at
        .map(output::datetime)
        .unwrap_or_else(|| "UNREADABLE".into());
    let check = match (&l.problem, &l.verified) {
        (Some(p), _) => format!("DAMAGED: {p}"),
        (None, Some(v)) if v.ok => format!("verified {}", output::datetime(v.at)),
        (None, Some(_)) => "FAILED verification".into(),
        (None, None) => "not verified".into(),
    };
    println!("{}  {:>9}  {when}  {check}", l.name, output::size(l.size));
}

pub fn list(g: &Globals) -> Outcome {
    let vault = secrets::open_vault(g)?;
    let listed = vault.offsite_list()?;
    if g.json {
        output::json(&listed)?;
        return Ok(ExitCode::SUCCESS);
    }
    if listed.backups.is_empty() {
        println!("No off-site backups on the server yet.");
    }
    for l in &listed.backups {
        print_listing(l);
    }
    if !listed.unfinished.is_empty() {
        println!(
            "{} unfinished upload(s) (never a backup; removed by the next run or prune).",
            listed.unfinished.len()
        );
    }
    for m in &listed.missing {
        println!(
            "WARNING: the server no longer lists {m}, which this vault sent and did not prune (deleted or withheld by the server)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(g: &Globals, name: Option<String>) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let name = match name {
        Some(n) => n,
        None => vault
            .offsite_list()?
            .backups
            .into_iter()
            .find(|l| l.usable())
            .map(|l| l.name)
            .ok_or_else(|| CoreError::NotFound {
                what: "off-site backup",
                id: "on the server".into(),
                hint: "backup create --to server",
            })?,
    };
    let report = vault.offsite_verify(&name, &mut bar())?;
    if g.json {
        output::json(
            &json!({ "ok": true, "name": name, "size": report.size, "manifest": report.manifest, "audit_entries": report.audit_entries }),
        )?;
    } else {
        println!(
            "OK: off-site backup {name} — made {}, {} clients, {} session notes, {} audit entries; every piece, both integrity checks and the audit chain verified",
            report
                .manifest
                .created_at
                .parse()
                .map(output::datetime)
                .unwrap_or_default(),
            report.manifest.counts.clients,
            report.manifest.counts.session_notes,
            report.audit_entries
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn prune(g: &Globals, dry_run: bool, forget_missing: bool) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    if forget_missing {
        for n in vault.offsite_forget_missing()? {
            eprintln!("No longer expecting {n} (the server does not list it).");
        }
    }
    let plan = vault.offsite_prune(dry_run, Utc::now())?;
    print_plan(g, &plan, dry_run, "No off-site backups to consider.")
}

pub fn restore(
    g: &Globals,
    url: &str,
    username: &str,
    totp: Option<String>,
    name: Option<String>,
    into: PathBuf,
) -> Outcome {
    let restored = restore_vault(g, url, username, totp, name, &into)?;
    print_restored(
        g,
        &restored,
        &into,
        "off-site backup",
        "; it is connected to the server as this computer",
    )
}

/// Restores an off-site backup into `into` (the newest verified one, or `name`), connected
/// to the server as this computer: `backup restore --from-server`, and the first step of
/// `sync join`. Says where the server keeps data, unless --json.
pub(crate) fn restore_vault(
    g: &Globals,
    url: &str,
    username: &str,
    totp: Option<String>,
    name: Option<String>,
    into: &std::path::Path,
) -> anyhow::Result<casebook_core::backup::Restored> {
    let password = secrets::sync_password(false)?;
    let key = secrets::recovery_key()?;
    let mut session = ServerRestore::sign_in(
        url,
        username,
        &password,
        totp.as_deref(),
        &key,
        &casebook_core::offsite::this_computer_name(),
    )?;
    restore_from(g, &mut session, name, into)
}

/// Restores backup `name` (or the newest verified one) from a signed-in session with the
/// keys in hand (from the recovery key, or handed over by another computer: `sync join --code`).
pub(crate) fn restore_from(
    g: &Globals,
    session: &mut ServerRestore,
    name: Option<String>,
    into: &std::path::Path,
) -> anyhow::Result<casebook_core::backup::Restored> {
    if !g.json {
        println!(
            "The server keeps data in: {}",
            session.locations().join("; ")
        );
    }
    let chosen_key_store = {
        let chosen = match &name {
            Some(n) => session.backups().backups.iter().find(|l| &l.name == n),
            None => session.default_choice(),
        };
        if let (None, Some(c)) = (&name, chosen) {
            // The newest verified one is taken; say so when newer unverified ones exist.
            let newer = session
                .backups()
                .backups
                .iter()
                .filter(|l| l.usable() && l.created_at > c.created_at)
                .count();
            if newer > 0 {
                eprintln!(
                    "Note: restoring {} (the newest verified backup); {newer} newer backup(s) were never verified — give --name to take one of them.",
                    c.name
                );
            }
        }
        chosen
            .and_then(|l| l.manifest.as_ref())
            .map(|m| m.key_store)
    };
    let passphrase = restore_passphrase(chosen_key_store)?;
    Ok(session
        .restore(name.as_deref(), into, passphrase.as_deref(), &mut bar())
        .map_err(passphrase_words)?)
}
