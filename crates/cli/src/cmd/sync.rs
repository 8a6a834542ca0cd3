//! `casebook sync`: several computers sharing one practice through the vault's server
//! connection (`casebook server connect`). Everything is end-to-end encrypted and signed on
//! this computer; anything the server does that an honest server never does stops the run
//! with exit 9 and one line naming the alarm, and nothing suspect is applied.

use std::process::ExitCode;

use casebook_core::conflicts::Resolution;
use casebook_sync::adding;
use casebook_sync::engine::{RemoteError, SyncError};
use casebook_sync::pairing::{Code, PairError};
use casebook_sync::practice;
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum SyncCmd {
    /// Turn sync on for this computer (it joins the practice's signed device list).
    Enable,
    /// Send this computer's changes and apply the other computers' now.
    Now,
    /// Stay running and sync after every change, here or on another computer, until stopped.
    ///
    /// A change made on this computer (by the app or another command) is sent within a
    /// fraction of a second; one made on another computer arrives as soon as the server has it
    /// (a long-poll on its heads). With --json, one JSON line per run. An alarm stops it with
    /// exit 9; while the server cannot be reached it says so and keeps trying.
    Watch {
        /// Sync at least this often (minutes) even when nothing woke a run.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1440))]
        every: u64,
    },
    /// This computer's sync: devices, last sync, the last alarm, the records' fingerprint.
    Status,
    /// Values kept when two computers changed the same thing offline (nothing typed is lost),
    /// and resolving them.
    ///
    /// With no option, lists the unresolved ones. `--resolve ID --keep current` keeps what the
    /// record holds; `--keep other` takes the other computer's value instead (an ordinary
    /// edit, sent to the other computers at the next sync).
    Conflicts {
        /// The conflict to resolve (its id, as listed).
        #[arg(long, requires = "keep")]
        resolve: Option<String>,
        /// Which version to keep.
        #[arg(long, value_enum, requires = "resolve")]
        keep: Option<Keep>,
    },
    /// Adds a new computer to the practice by a one-time code: shows a code to type on the new
    /// computer (`casebook sync join --code`, or "Join my Casebook" in the app), then asks
    /// "Add <name>?" and, on yes, hands it the practice's keys through an encrypted channel the
    /// server cannot read.
    ///
    /// The code is valid ten minutes, for one try: a wrong code cancels it. Both computers
    /// show the same four words when nobody is in between; compare them before saying yes.
    /// Without a terminal, --yes is needed (the words are then printed, not asked about). With
    /// --json, one JSON line when the code is made ({"code", "expires_at"}) and one at the end.
    Pair {
        /// Add the computer that answers without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Sets up this computer as another computer of the practice, from the server account and
    /// the recovery key — or a code from another computer of the practice (`sync pair`): the
    /// newest off-site backup, then every computer's changes since.
    ///
    /// The account password comes from CASEBOOK_SYNC_PASSWORD (or a prompt), the recovery key
    /// (without --code) from CASEBOOK_RECOVERY_KEY (or a prompt); the new vault's keys go where
    /// `init` puts them (the keychain, or a passphrase with CASEBOOK_PASSPHRASE). Killed part
    /// way, run it again with the same --into: it carries on. Ends by naming the newest state
    /// found, so you can judge whether it is as recent as it should be.
    Join {
        /// The server's address.
        #[arg(long, value_name = "URL")]
        server: String,
        /// The server account.
        #[arg(long)]
        username: String,
        /// The new vault folder (must not exist or be empty, or hold an unfinished join).
        #[arg(long, value_name = "DIR")]
        into: std::path::PathBuf,
        /// The current authenticator code (or a recovery code), when the account has TOTP on.
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
        /// The code another computer of the practice shows (`sync pair`), instead of the
        /// recovery key.
        #[arg(long, value_name = "CODE")]
        code: Option<String>,
        /// This computer's name in the practice (default: its host name).
        #[arg(long)]
        name: Option<String>,
    },
    /// The practice's computers, from the device list they signed themselves.
    Devices,
    /// Removes another computer from the practice (a lost or replaced laptop): the server
    /// stops taking anything from it, every computer applies its changes up to now and refuses
    /// anything after, and it can sync nothing more.
    ///
    /// The practice's keys are changed at the same time (re-keying): new backups and new
    /// changes are sealed to keys the removed computer never had, so even a server that kept
    /// serving it could show it nothing new. That needs the recovery key
    /// (CASEBOOK_RECOVERY_KEY or a prompt), because the new keys are also sealed into
    /// recovery.age with it; --no-rekey revokes without it.
    ///
    /// Needs the server account's password (CASEBOOK_SYNC_PASSWORD or a prompt) and, when the
    /// account has TOTP, --totp. What is already on that computer stays encrypted there:
    /// consider changing the vault's passphrase and the account's password.
    Revoke {
        /// The computer: its name or its id, as `sync devices` shows.
        device: String,
        /// The current authenticator code (or a recovery code), when TOTP is on.
        #[arg(long)]
        totp: Option<String>,
        /// Keep the practice's keys (no recovery key needed): only the server's refusal then
        /// keeps the removed computer from what is written from now on.
        #[arg(long)]
        no_rekey: bool,
    },
    /// Gives a computer of the practice (this one or another) a new name, signed into the
    /// practice's device list so every computer shows it.
    Rename {
        /// The computer: its name or its id, as `sync devices` shows.
        device: String,
        /// Its new name, e.g. "Surgery desktop".
        name: String,
    },
    /// Turns sync off for this computer: its changes are sent first, then it leaves the
    /// practice's device list. The records here stay; off-site backups carry on.
    Disable,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Keep {
    /// What the record holds now.
    Current,
    /// The other computer's value.
    Other,
}

/// Exit codes as for every command: 9 an alarm (the server misbehaved), 10 the server could
/// not be reached, else the core's own.
fn failed(g: &Globals, e: SyncError) -> Outcome {
    let code = match e {
        SyncError::Alarm(_) => 9,
        SyncError::Remote(_) => 10,
        // The core's errors keep their own exit codes (main maps them).
        SyncError::Core(c) => return Err(c.into()),
        SyncError::Seal(_) => 1,
        // A code typed wrong in form is bad input; a message changed on the way is an
        // integrity failure; expired, wrong or declined are refusals.
        SyncError::Pair(PairError::BadCode(_)) => 7,
        SyncError::Pair(PairError::KeyCheck | PairError::Malformed(_)) => 9,
        SyncError::Pair(_) => 8,
    };
    if g.json {
        let alarm = match &e {
            SyncError::Alarm(a) => Some(a.name()),
            _ => None,
        };
        let pairing = match &e {
            SyncError::Pair(p) => Some(p.name()),
            _ => None,
        };
        output::json(&json!({ "error": e.to_string(), "alarm": alarm, "pairing": pairing }))?;
    }
    eprintln!(
        "error: {}",
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(ExitCode::from(code))
}

/// A command's result: its JSON with --json, else `say` puts it in words; a failure as
/// [`failed`] reports it.
fn reported<T: serde::Serialize>(
    g: &Globals,
    result: Result<T, SyncError>,
    say: impl FnOnce(&T),
) -> Outcome {
    match result {
        Ok(done) => {
            if g.json {
                output::json(&done)?;
            } else {
                say(&done);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => failed(g, e),
    }
}

pub fn run(g: &Globals, cmd: SyncCmd) -> Outcome {
    match cmd {
        SyncCmd::Enable => {
            let mut vault = secrets::open_vault(g)?;
            reported(g, practice::enable(&mut vault), |done| {
                println!(
                    "Sync is on for this computer ({}). The practice has {} computer(s); new client codes made here start with {}.",
                    done.device_name, done.devices, done.letter
                );
            })
        }
        SyncCmd::Now => {
            let mut vault = secrets::open_vault(g)?;
            reported(g, practice::sync_now(&mut vault), |report| {
                println!(
                    "Synced: {} change batch(es) sent, {} received ({} changes applied, {} conflicts kept).",
                    report.sent, report.received, report.applied_changes, report.conflicts
                );
                if report.removed_logs > 0 {
                    println!(
                        "Removed from the server what {} removed computer(s) had sent (a checkpoint here holds it).",
                        report.removed_logs
                    );
                }
                if report.emptied_logs > 0 {
                    println!(
                        "Emptied on the server what {} computer(s) switched off since an erasure had sent (a checkpoint here holds it; they carry on when they are back).",
                        report.emptied_logs
                    );
                }
                for w in &report.warnings {
                    println!("WARNING: {}", w.line());
                }
            })
        }
        SyncCmd::Watch { every } => watch(g, every),
        SyncCmd::Conflicts {
            resolve: Some(id),
            keep: Some(keep),
        } => {
            let mut vault = secrets::open_vault(g)?;
            let keep = match keep {
                Keep::Current => Resolution::Current,
                Keep::Other => Resolution::Other,
            };
            let done = vault.resolve_conflict(&id, keep)?;
            if g.json {
                output::json(&done)?;
            } else {
                println!(
                    "Resolved: {} {} · {} keeps {}.",
                    done.table,
                    done.row,
                    done.field,
                    match keep {
                        Resolution::Current => "the value it had",
                        Resolution::Other => "the other computer's value (sent at the next sync)",
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SyncCmd::Devices => devices(g),
        SyncCmd::Pair { yes } => pair(g, yes),
        SyncCmd::Join {
            server,
            username,
            into,
            totp,
            code,
            name,
        } => join(g, &server, &username, into, totp, code, name),
        SyncCmd::Revoke {
            device,
            totp,
            no_rekey,
        } => {
            let mut vault = secrets::open_vault(g)?;
            let recovery_key = if no_rekey {
                None
            } else {
                Some(secrets::recovery_key()?)
            };
            let password = secrets::sync_password(false)?;
            let reauth = casebook_core::offsite::Reauthenticate { password, totp };
            let done = practice::revoke(&mut vault, &device, &reauth, recovery_key.as_ref());
            reported(g, done, |done| {
                println!(
                    "Revoked {}: the server takes nothing more from it, and every computer applies its changes up to number {} and nothing after. What is already on it stays encrypted there; consider changing the vault's passphrase and the account's password.",
                    done.device_name, done.until_seq
                );
                if done.rekeyed {
                    println!(
                        "The practice's keys were changed (generation {}): backups and changes from now on are sealed to keys {} never had. The other computers take them at their next sync.",
                        done.key_generation, done.device_name
                    );
                    if !done.sealed_keys_sent {
                        println!(
                            "NOTE: the server's copy of the sealed keys was not replaced just now; the next off-site backup replaces it."
                        );
                    }
                } else {
                    println!(
                        "NOTE: the practice's keys were not changed (--no-rekey): only the server's refusal keeps {} from what is written from now on. Revoke with the recovery key to change them.",
                        done.device_name
                    );
                }
            })
        }
        SyncCmd::Rename { device, name } => {
            let mut vault = secrets::open_vault(g)?;
            reported(g, practice::rename(&mut vault, &device, &name), |done| {
                println!(
                    "Renamed: that computer is now \"{}\" on every computer of the practice (each shows it after its next sync).",
                    done.device_name
                );
            })
        }
        SyncCmd::Disable => {
            let mut vault = secrets::open_vault(g)?;
            reported(g, practice::disable(&mut vault), |done| {
                println!(
                    "Sync is off for this computer: all its changes were sent, and it has left the practice's device list. The records here stay; off-site backups carry on."
                );
                if !done.log_closed {
                    println!(
                        "NOTE: the server did not close this computer's log, so what it sent stays there (encrypted) after the others no longer need it."
                    );
                }
            })
        }
        SyncCmd::Conflicts { .. } => {
            let mut vault = secrets::open_vault(g)?;
            let list = vault.sync_conflicts()?;
            if g.json {
                output::json(&list)?;
            } else if list.is_empty() {
                println!("No conflicts: every edit made on two computers at once merged cleanly.");
            } else {
                let names = practice::device_names(&vault);
                for c in &list {
                    if c.kind == "erased" {
                        println!(
                            "{}  client {}: changed on {} ({}) after the client was erased here — dropped, not kept",
                            c.id,
                            c.client_code.as_deref().unwrap_or("?"),
                            names
                                .get(&c.lost_device)
                                .map_or("another computer", String::as_str),
                            c.lost_stamp
                                .split('-')
                                .next()
                                .and_then(|ms| ms.parse::<i64>().ok())
                                .and_then(chrono::DateTime::from_timestamp_millis)
                                .map(output::datetime)
                                .unwrap_or_else(|| c.lost_stamp.clone())
                        );
                        continue;
                    }
                    println!(
                        "{}  {} {} · {} ({}): kept {} — the other computer's {} is kept here",
                        c.id,
                        c.table,
                        c.row,
                        c.field,
                        c.kind,
                        c.kept.as_deref().unwrap_or("nothing"),
                        c.lost.as_deref().unwrap_or("nothing")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SyncCmd::Status => {
            let vault = secrets::open_vault(g)?;
            let me = vault.server_status().ok().map(|s| s.settings.device_id);
            let status = match practice::status(&vault, me.as_deref()) {
                Ok(s) => s,
                Err(e) => return failed(g, e),
            };
            if g.json {
                output::json(&status)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Sync:        {}",
                if status.enabled {
                    "on"
                } else {
                    "off (turn on with `casebook sync enable`)"
                }
            );
            for d in &status.devices {
                let heard = d
                    .last_heard
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map(output::datetime)
                    .unwrap_or_else(|| "never".into());
                println!(
                    "  {} {} (codes {}…){} — last heard {heard}{}",
                    if d.this_computer { "*" } else { " " },
                    d.name,
                    d.letter,
                    if d.revoked { " — revoked" } else { "" },
                    if d.stale {
                        " — STALE: nothing new from it for 3 days or more (switched off, or the server is withholding its changes)"
                    } else {
                        ""
                    }
                );
            }
            match status
                .last_sync
                .and_then(|s| chrono::DateTime::from_timestamp(s as i64, 0))
            {
                Some(t) => println!("Last sync:   {}", output::datetime(t)),
                None => println!("Last sync:   never"),
            }
            println!(
                "Waiting:     {}",
                match status.pending_changes {
                    0 => "nothing: the server has every change made here".to_string(),
                    1 => "1 change made here is not on the server yet".to_string(),
                    n => format!("{n} changes made here are not on the server yet"),
                }
            );
            if let Some(a) = &status.alarm {
                println!("ALARM:       {a}");
            }
            if let Some(c) = &status.checkpoint
                && let Some(t) = chrono::DateTime::from_timestamp(c.at, 0)
            {
                println!(
                    "Checkpoint:  {} — {}",
                    output::datetime(t),
                    if c.cut {
                        "the server no longer keeps the changes before it"
                    } else {
                        "not sent yet: the log is cut once it is"
                    }
                );
            }
            println!(
                "Fingerprint: {} (the same on computers that have seen the same changes)",
                status.fingerprint
            );
            println!(
                "Compare:     {} (read these off the other computer: equal words, the same records)",
                status.compare_words
            );
            if status.key_generation > 0 {
                println!(
                    "Keys:        changed {} time(s), when a computer was removed (generation {})",
                    status.key_generation, status.key_generation
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `sync join`: restore the newest off-site backup into `into` (unless an earlier, killed
/// join already did), turn sync on, then fetch every computer's changes since, in steps.
fn join(
    g: &Globals,
    url: &str,
    username: &str,
    into: std::path::PathBuf,
    totp: Option<String>,
    code: Option<String>,
    name: Option<String>,
) -> Outcome {
    let here = Globals {
        json: g.json,
        vault_dir: into.clone(),
    };
    let resuming = into.join("vault.json").exists();
    let mut vault = if resuming {
        let vault = secrets::open_vault(&here)?;
        let settings = vault.server_status().ok().map(|s| s.settings);
        let same = settings.as_ref().is_some_and(|s| {
            s.username == username && s.url.trim_end_matches('/') == url.trim_end_matches('/')
        });
        if !same {
            return Err(casebook_core::CoreError::VaultExists(into).into());
        }
        if !g.json {
            println!(
                "Carrying on with the join already begun in {}.",
                into.display()
            );
        }
        vault
    } else {
        let restored = match code {
            Some(code) => match by_code(&here, url, username, totp, &code, name, &into) {
                Ok(r) => r,
                Err(e) => return failed(g, e),
            },
            None => super::offsite::restore_vault(&here, url, username, totp, name, &into)?,
        };
        if !g.json {
            println!(
                "Restored the off-site backup made {} ({} clients, {} session notes).",
                restored
                    .manifest
                    .created_at
                    .parse()
                    .map(output::datetime)
                    .unwrap_or_default(),
                restored.manifest.counts.clients,
                restored.manifest.counts.session_notes
            );
        }
        restored.vault
    };
    let enabled = if practice::is_on(&vault).map_err(anyhow::Error::from)? {
        None
    } else {
        match practice::enable(&mut vault) {
            Ok(e) => Some(e),
            Err(e) => return failed(g, e),
        }
    };
    let bar = (!g.json).then(|| {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {pos}/{len} change batches",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.set_message("Catching up");
        pb
    });
    let caught_up = practice::catch_up(&mut vault, |done, total| {
        if let Some(pb) = &bar {
            pb.set_length(total);
            pb.set_position(done);
        }
    });
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let report = match caught_up {
        Ok(r) => r,
        Err(e) => return failed(g, e),
    };
    // Joined by code: the state the other computer signed must have been reached.
    if let Err(e) = adding::check_reached(&mut vault) {
        return failed(g, practice::note_failure(&mut vault, e));
    }
    let latest = practice::latest_state(&vault).map_err(anyhow::Error::from)?;
    let me = vault.server_status().ok().map(|s| s.settings);
    if g.json {
        output::json(&json!({
            "vault": into,
            "device_id": me.as_ref().map(|s| &s.device_id),
            "device_name": me.as_ref().map(|s| &s.device_name),
            "letter": enabled.as_ref().map(|e| e.letter),
            "resumed": resuming,
            "received": report.received,
            "applied_changes": report.applied_changes,
            "latest": latest.as_ref().map(|(id, name, at)| json!({
                "device_id": id, "device_name": name, "at": at
            })),
            "key_generation": vault.key_generation(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Joined the practice as {}: {} change batch(es) from the other computers applied ({} changes).",
        me.as_ref()
            .map_or("this computer", |s| s.device_name.as_str()),
        report.received,
        report.applied_changes
    );
    match latest.and_then(|(_, name, at)| {
        chrono::DateTime::from_timestamp(at, 0).map(|t| (name, output::datetime(t)))
    }) {
        Some((name, at)) => println!(
            "Latest state found: {name}, {at}. If a computer of the practice has newer work, the server has not shown it: check before relying on this copy."
        ),
        None => println!("Latest state found: no changes yet."),
    }
    // The server could serve a copy from before a re-keying (the recovery key opens that
    // too): the therapist knows whether a computer was removed with the recovery key.
    match vault.key_generation() {
        0 => println!(
            "Practice keys: never changed. If a computer was removed from the practice with the recovery key, they were: the server has served an older copy, so do not rely on this one."
        ),
        n => println!("Practice keys: changed {n} time(s), when computers were removed."),
    }
    println!("Open it with --vault {}", into.display());
    Ok(ExitCode::SUCCESS)
}

/// `sync join --code`: signs in, answers the other computer's offer with the code, waits for
/// its yes, and restores the newest off-site backup with the keys it handed over (kept, with
/// the state it signed, for the rest of the join).
fn by_code(
    g: &Globals,
    url: &str,
    username: &str,
    totp: Option<String>,
    code: &str,
    name: Option<String>,
    into: &std::path::Path,
) -> Result<casebook_core::backup::Restored, SyncError> {
    let code = Code::parse(code)?;
    let password = secrets::sync_password(false).map_err(cli_core)?;
    let name = name.unwrap_or_else(casebook_core::offsite::this_computer_name);
    let signed_in = adding::sign_in(url, username, &password, totp.as_deref(), &name)?;
    let responded = adding::respond(signed_in, &code)?;
    if !g.json {
        println!(
            "The other computer is asked to add \"{}\". Both screens show these words: {}",
            responded.name(),
            responded.words()
        );
        println!("Waiting for the other computer's answer…");
    }
    let mut received = responded.wait()?;
    let mut restored =
        super::offsite::restore_from(g, &mut received.restore, None, into).map_err(cli_core)?;
    received.keep(&mut restored.vault)?;
    Ok(restored)
}

/// An error of the CLI's own steps (prompts, restore) as a sync error, keeping the core's kind.
fn cli_core(e: anyhow::Error) -> SyncError {
    match e.downcast::<casebook_core::CoreError>() {
        Ok(c) => SyncError::Core(c),
        Err(e) => SyncError::Core(casebook_core::CoreError::InvalidInput(e.to_string())),
    }
}

/// `sync pair`: makes a code, waits for a new computer to answer with it, asks (or with --yes
/// does not), and on yes adds it to the practice.
fn pair(g: &Globals, yes: bool) -> Outcome {
    use std::io::Write;
    if !yes && !secrets::interactive() {
        return Err(casebook_core::CoreError::InvalidInput(
            "without a terminal, give --yes to add the computer that answers (compare the words it prints with the new computer's)".into(),
        )
        .into());
    }
    // Tests make short-lived codes; the therapist's are valid ten minutes.
    let valid = std::env::var("CASEBOOK_PAIR_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(casebook_sync::pairing::VALID_SECONDS);
    let mut vault = secrets::open_vault(g)?;
    let invitation = match adding::invite_begin(&mut vault, valid) {
        Ok(i) => i,
        Err(e) => return failed(g, e),
    };
    drop(vault);
    if let Err(e) = invitation.publish() {
        return failed(g, e);
    }
    let until = chrono::DateTime::from_timestamp(invitation.expires_at(), 0)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_default();
    if g.json {
        println!(
            "{}",
            json!({ "code": invitation.code(), "expires_at": invitation.expires_at() })
        );
    } else {
        println!(
            "On the new computer, choose \"Join my Casebook\" (or run `casebook sync join --code`) and type this code:\n\n    {}\n\nValid until {until}, for one try.",
            invitation.code()
        );
    }
    let _ = std::io::stdout().flush();
    let mut invitation = invitation;
    let proposal = match invitation.wait() {
        Ok(p) => p,
        Err(e) => return failed(g, e),
    };
    let name = proposal.joining.name.clone();
    if !g.json {
        println!(
            "\"{name}\" answered. Its screen should show these words: {}",
            proposal.words
        );
    }
    let agreed = yes || {
        print!("Add \"{name}\" to the practice? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        matches!(line.trim(), "y" | "Y" | "yes" | "Yes")
    };
    if !agreed {
        if let Err(e) = invitation.decline() {
            return failed(g, e);
        }
        if g.json {
            println!("{}", json!({ "added": null, "declined": name }));
        } else {
            println!("Not added: the other computer is told.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let invited = match invitation.accept() {
        Ok(i) => i,
        Err(e) => return failed(g, e),
    };
    let mut vault = secrets::open_vault(g)?;
    let added = match adding::invite_finish(&mut vault, invited) {
        Ok(a) => a,
        Err(e) => return failed(g, e),
    };
    if g.json {
        println!("{}", json!({ "added": added, "words": proposal.words }));
    } else {
        println!(
            "Added \"{}\" to the practice. It is now restoring the newest off-site backup and catching up.",
            added.device_name
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `sync devices`: the signed device list as this computer holds it (no network).
fn devices(g: &Globals) -> Outcome {
    let vault = secrets::open_vault(g)?;
    let me = vault.server_status().ok().map(|s| s.settings.device_id);
    let status = match practice::status(&vault, me.as_deref()) {
        Ok(s) => s,
        Err(e) => return failed(g, e),
    };
    if g.json {
        output::json(&status.devices)?;
        return Ok(ExitCode::SUCCESS);
    }
    if status.devices.is_empty() {
        println!("No computers yet: sync is not on (`casebook sync enable`).");
    }
    let when = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| output::datetime(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| t.to_string())
    };
    for d in &status.devices {
        let heard = d
            .last_heard
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(output::datetime)
            .unwrap_or_else(|| "never".into());
        println!(
            "{} {}{}",
            d.name,
            if d.this_computer {
                "(this computer)"
            } else {
                ""
            },
            match (&d.revoked_at, d.until_seq) {
                (Some(at), Some(n)) =>
                    format!(" — REVOKED {}: changes up to number {n} count", when(at)),
                _ if d.stale => " — STALE: nothing new from it for 3 days or more".into(),
                _ => String::new(),
            }
        );
        println!(
            "    id {} · codes {}… · added {} · last heard {heard}",
            d.id,
            d.letter,
            when(&d.added)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `sync watch`: runs until stopped (Ctrl-C, or the service manager), an alarm (exit 9), a
/// vault that cannot be read, or the server refusing this computer.
fn watch(g: &Globals, every: u64) -> Outcome {
    use casebook_sync::watch::{Timing, Wake};
    use std::ops::ControlFlow;
    let mut vault = secrets::open_vault(g)?;
    let timing = Timing {
        at_least_every: std::time::Duration::from_secs(every * 60),
        ..Timing::default()
    };
    if !g.json {
        println!(
            "Watching: changes here and on the practice's other computers sync as they happen. Ctrl-C stops."
        );
    }
    let why = |w: Wake| match w {
        Wake::Start => "starting",
        Wake::Here => "a change here",
        Wake::Elsewhere => "a change on another computer",
        Wake::Timer => "routine",
    };
    let outcome = casebook_sync::watch::watch(&mut vault, &timing, |wake, result| {
        let at = chrono::Local::now().format("%H:%M:%S").to_string();
        match result {
            Ok(r) => {
                if g.json {
                    println!("{}", json!({ "at": at, "wake": wake, "report": r }));
                } else {
                    if r.sent + r.received > 0 || wake == Wake::Start {
                        println!(
                            "{at}  synced ({}): {} sent, {} received, {} changes applied, {} conflicts kept",
                            why(wake),
                            r.sent,
                            r.received,
                            r.applied_changes,
                            r.conflicts
                        );
                    }
                    for w in &r.warnings {
                        println!("{at}  WARNING: {}", w.line());
                    }
                }
                ControlFlow::Continue(())
            }
            // The server away or refusing one request: say so and keep watching.
            Err(SyncError::Remote(e)) if e != RemoteError::Revoked => {
                let line = e
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if g.json {
                    println!("{}", json!({ "at": at, "wake": wake, "error": line }));
                } else {
                    println!("{at}  not synced ({}): {line}; trying again", why(wake));
                }
                ControlFlow::Continue(())
            }
            // An alarm, or the vault itself: stop, and say why as `sync now` would.
            Err(e) => ControlFlow::Break(Err(e)),
        }
    });
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => failed(g, e),
    }
}
