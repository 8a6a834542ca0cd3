//! `casebook backup`: create, list, verify, restore and prune encrypted backups, and set
//! their schedule.

use std::path::PathBuf;
use std::process::ExitCode;

use casebook_core::backup::{self, BackupSettings, BackupState, Health, Progress};
use casebook_core::{CoreError, Vault};
use chrono::Utc;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum BackupCmd {
    /// Write a backup now (to the configured folder, --to DIR, or --to server).
    Create {
        /// The folder to write the backup to (default: the configured destination), or
        /// `server` to send it, wholly encrypted, to the connected server (a folder named
        /// "server" is `./server`).
        #[arg(long, value_name = "DIR|server")]
        to: Option<PathBuf>,
        /// Only the destinations whose backup is due by the schedule: the folder, and the
        /// server when connected (for a cron job or systemd timer).
        #[arg(long)]
        if_due: bool,
    },
    /// List the backups in the destination folder (or on the server), newest first.
    List {
        /// The folder to look in (default: the configured destination).
        #[arg(long, value_name = "DIR", conflicts_with = "server")]
        to: Option<PathBuf>,
        /// List the off-site backups on the connected server instead.
        #[arg(long)]
        server: bool,
    },
    /// Check a backup completely: digests, decryption, integrity checks, audit chain.
    Verify {
        /// The backup file.
        #[arg(required_unless_present = "server")]
        file: Option<PathBuf>,
        /// Download and check an off-site backup (by name; the newest when none is given).
        #[arg(long, value_name = "NAME", num_args = 0..=1, conflicts_with = "file")]
        server: Option<Option<String>>,
    },
    /// Restore a backup into a new vault folder (needs the recovery key): from a file, or
    /// from the server with only the account and the recovery key.
    Restore {
        /// The backup file.
        #[arg(required_unless_present = "from_server")]
        file: Option<PathBuf>,
        /// The new vault folder; must not exist or be empty. Open it with --vault DIR.
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// Restore from this server (password from CASEBOOK_SYNC_PASSWORD or a prompt).
        #[arg(
            long,
            value_name = "URL",
            conflicts_with = "file",
            requires = "username"
        )]
        from_server: Option<String>,
        /// The server account.
        #[arg(long, requires = "from_server")]
        username: Option<String>,
        /// The current authenticator code (or a recovery code), when the account has TOTP on.
        #[arg(long, value_name = "CODE", requires = "from_server")]
        totp: Option<String>,
        /// Which off-site backup (default: the newest verified one).
        #[arg(long, value_name = "NAME", requires = "from_server")]
        name: Option<String>,
    },
    /// Delete backups the keep-policy no longer needs (never the newest verified one).
    Prune {
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Prune the off-site backups on the server (by their own keep-policy) instead.
        #[arg(long)]
        server: bool,
        /// With --server: first stop expecting the backups this computer sent that the
        /// server no longer lists (prune refuses while any are missing).
        #[arg(long, requires = "server")]
        forget_missing: bool,
    },
    /// Show or change where backups go, how often, and how long they are kept.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
}

#[derive(Subcommand)]
pub enum ScheduleCmd {
    /// The settings and the "last backup" status.
    Show,
    /// Change settings; figures not given stay as they are.
    Set {
        /// Destination folder (an external drive, say).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Hours between automatic backups (8 = three a day).
        #[arg(long, value_name = "HOURS")]
        every_hours: Option<u32>,
        /// Keep every backup from the last N hours.
        #[arg(long, value_name = "HOURS")]
        keep_hours: Option<u32>,
        /// Then one a day for N days.
        #[arg(long, value_name = "DAYS")]
        keep_daily: Option<u32>,
        /// Then one a week for N weeks.
        #[arg(long, value_name = "WEEKS")]
        keep_weekly: Option<u32>,
        /// Then one a month for N months.
        #[arg(long, value_name = "MONTHS")]
        keep_monthly: Option<u32>,
        /// Also send each scheduled backup to the connected server (on|off).
        #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
        server: Option<String>,
        /// The --keep-* figures given are for the off-site copies on the server (their own
        /// keep-policy), not the folder's.
        #[arg(long)]
        server_keep: bool,
    },
}

/// A progress bar on standard error (hidden when it is not a terminal).
pub(crate) fn bar() -> impl FnMut(Progress) {
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    move |p| match p {
        Progress::Snapshot { done, total } => {
            pb.set_message("Copying");
            pb.set_length(total);
            pb.set_position(done);
        }
        Progress::Encrypt { done, total } => {
            pb.set_message("Encrypting");
            pb.set_length(total);
            pb.set_position(done);
        }
        Progress::Decrypt { done, total } => {
            pb.set_message("Decrypting");
            pb.set_length(total);
            pb.set_position(done);
        }
        Progress::Check => {
            pb.set_message("Checking");
            pb.finish();
        }
        Progress::Upload { done, total } => {
            pb.set_message("Sending");
            pb.set_length(total);
            pb.set_position(done);
        }
        Progress::Download { done, total } => {
            pb.set_message("Fetching");
            pb.set_length(total);
            pb.set_position(done);
        }
    }
}

pub fn run(g: &Globals, cmd: BackupCmd) -> Outcome {
    match cmd {
        BackupCmd::Create { to, if_due }
            if to.as_deref() == Some(std::path::Path::new("server")) =>
        {
            super::offsite::create(g, if_due)
        }
        BackupCmd::Create {
            to: None,
            if_due: true,
        } => {
            let local = create(g, None, true)?;
            if casebook_core::offsite::ServerSettings::load(&g.vault_dir)?
                .is_some_and(|s| s.scheduled)
            {
                super::offsite::create(g, true)?;
            }
            Ok(local)
        }
        BackupCmd::Create { to, if_due } => create(g, to, if_due),
        BackupCmd::List { server: true, .. } => super::offsite::list(g),
        BackupCmd::List { to, .. } => list(g, to),
        BackupCmd::Verify {
            server: Some(name), ..
        } => super::offsite::verify(g, name),
        BackupCmd::Verify { file, .. } => verify(g, file.unwrap_or_default()),
        BackupCmd::Restore {
            from_server: Some(url),
            username,
            totp,
            name,
            into,
            ..
        } => super::offsite::restore(g, &url, &username.unwrap_or_default(), totp, name, into),
        BackupCmd::Restore { file, into, .. } => restore(g, file.unwrap_or_default(), into),
        BackupCmd::Prune {
            dry_run,
            server: true,
            forget_missing,
        } => super::offsite::prune(g, dry_run, forget_missing),
        BackupCmd::Prune { dry_run, .. } => prune(g, dry_run),
        BackupCmd::Schedule(ScheduleCmd::Show) => schedule_show(g),
        BackupCmd::Schedule(ScheduleCmd::Set {
            to,
            every_hours,
            keep_hours,
            keep_daily,
            keep_weekly,
            keep_monthly,
            server,
            server_keep,
        }) => {
            if server_keep {
                let mut vault = secrets::open_vault(g)?;
                let mut keep = casebook_core::offsite::ServerSettings::load(&g.vault_dir)?
                    .map(|s| s.keep)
                    .unwrap_or_default();
                keep.all_hours = keep_hours.unwrap_or(keep.all_hours);
                keep.daily_days = keep_daily.unwrap_or(keep.daily_days);
                keep.weekly_weeks = keep_weekly.unwrap_or(keep.weekly_weeks);
                keep.monthly_months = keep_monthly.unwrap_or(keep.monthly_months);
                vault.offsite_keep_set(keep)?;
                if let Some(on) = server {
                    vault.server_schedule_set(on == "on")?;
                }
                drop(vault);
                return schedule_show(g);
            }
            let mut s = BackupSettings::load(&g.vault_dir)?;
            if let Some(to) = to {
                s.destination = Some(std::path::absolute(&to)?);
            }
            s.every_hours = every_hours.unwrap_or(s.every_hours);
            s.keep.all_hours = keep_hours.unwrap_or(s.keep.all_hours);
            s.keep.daily_days = keep_daily.unwrap_or(s.keep.daily_days);
            s.keep.weekly_weeks = keep_weekly.unwrap_or(s.keep.weekly_weeks);
            s.keep.monthly_months = keep_monthly.unwrap_or(s.keep.monthly_months);
            let mut vault = secrets::open_vault(g)?;
            vault.backup_settings_set(&s)?;
            if let Some(on) = server {
                vault.server_schedule_set(on == "on")?;
            }
            schedule_show(g)
        }
    }
}

fn create(g: &Globals, to: Option<PathBuf>, if_due: bool) -> Outcome {
    Vault::peek(&g.vault_dir)?;
    let settings = BackupSettings::load(&g.vault_dir)?;
    if if_due {
        let state = BackupState::load(&g.vault_dir)?;
        if !backup::schedule::is_due(settings.every_hours, state.last_runs(), Utc::now()) {
            if g.json {
                output::json(&json!({ "path": null, "due": false }))?;
            } else {
                println!("No backup due yet.");
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    let dest = to.unwrap_or_else(|| settings.destination_for(&g.vault_dir));
    let mut vault = secrets::open_vault(g)?;
    let made = vault.backup_create(&dest, &mut bar())?;
    if g.json {
        output::json(&json!({ "path": made.path, "size": made.size, "manifest": made.manifest }))?;
    } else {
        println!(
            "Backed up to {} ({}; {} clients, {} session notes).",
            made.path.display(),
            output::size(made.size),
            made.manifest.counts.clients,
            made.manifest.counts.session_notes
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list(g: &Globals, to: Option<PathBuf>) -> Outcome {
    let settings = BackupSettings::load(&g.vault_dir)?;
    let dest = to.unwrap_or_else(|| settings.destination_for(&g.vault_dir));
    // Unlocked, each manifest is checked against the vault's key before its date is shown.
    // When the vault cannot be opened (a lost passphrase, a damaged store: the moment one
    // looks for a backup), the files are still listed, with their dates marked unchecked.
    let listed = match secrets::open_vault(g) {
        Ok(vault) => vault.backup_list(&dest)?,
        Err(e) => {
            eprintln!("Not unlocked ({e:#}): dates below are as each file says, not checked.");
            let meta = Vault::peek(&g.vault_dir)?;
            let state = BackupState::load(&g.vault_dir)?;
            backup::list(&dest, Some(&meta.vault_id), &state)?
        }
    };
    if g.json {
        output::json(&listed)?;
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        println!("No backups in {}.", dest.display());
    }
    for l in &listed {
        let when = match (l.created_at(), l.authentic) {
            (Some(t), _) => output::datetime(t),
            (None, Some(false)) => "ALTERED (manifest not written by this vault)".into(),
            (None, _) => "DAMAGED (manifest unreadable)".into(),
        };
        let check = match &l.verified {
            Some(v) if v.ok => format!("verified {}", output::datetime(v.at)),
            Some(_) => "FAILED verification".into(),
            None => "not verified".into(),
        };
        println!("{}  {:>9}  {when}  {check}", l.name, output::size(l.size));
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(g: &Globals, file: PathBuf) -> Outcome {
    let use_recovery =
        std::env::var_os("CASEBOOK_RECOVERY_KEY").is_some() || Vault::peek(&g.vault_dir).is_err();
    let report = if use_recovery {
        let key = secrets::recovery_key()?;
        backup::verify_with_recovery_key(&file, &key, &mut bar())?
    } else {
        let mut vault = secrets::open_vault(g)?;
        vault.backup_verify(&file, &mut bar())?
    };
    if g.json {
        output::json(
            &json!({ "ok": true, "path": report.path, "manifest": report.manifest, "audit_entries": report.audit_entries }),
        )?;
    } else {
        println!(
            "OK: {} — made {}, {} clients, {} session notes, {} audit entries; every digest, both integrity checks and the audit chain verified",
            report
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
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

fn restore(g: &Globals, file: PathBuf, into: PathBuf) -> Outcome {
    // Learn how the keys were kept before asking for anything.
    let manifest = backup::peek(&file)?;
    let key = secrets::recovery_key()?;
    let passphrase = restore_passphrase(Some(manifest.key_store))?;
    let restored = backup::restore(&file, &key, &into, passphrase.as_deref(), &mut bar())
        .map_err(passphrase_words)?;
    print_restored(g, &restored, &into, "backup", "")
}

/// The passphrase for a restored vault that keeps its keys in a key file: from
/// `CASEBOOK_PASSPHRASE`, or asked (terminal only) when the backup says it needs one.
pub(crate) fn restore_passphrase(
    key_store: Option<casebook_core::KeyStoreKind>,
) -> anyhow::Result<Option<String>> {
    Ok(match (secrets::env_passphrase(), key_store) {
        (Some(p), _) => Some(p),
        (None, Some(casebook_core::KeyStoreKind::Passphrase)) if secrets::interactive() => {
            Some(secrets::prompt_new_passphrase()?)
        }
        (None, _) => None,
    })
}

/// A restore's missing passphrase, in words that say what to set.
pub(crate) fn passphrase_words(e: CoreError) -> CoreError {
    match e {
        CoreError::PassphraseRequired => CoreError::InvalidInput(
            "this backup kept its keys in a passphrase key file: set CASEBOOK_PASSPHRASE to the passphrase for the restored vault".into(),
        ),
        other => other,
    }
}

/// Says what was restored where (`what`: "backup" or "off-site backup"; `more`: a clause
/// after the counts).
pub(crate) fn print_restored(
    g: &Globals,
    restored: &backup::Restored,
    into: &std::path::Path,
    what: &str,
    more: &str,
) -> Outcome {
    let store = restored.vault.meta().key_store;
    if g.json {
        output::json(&json!({ "vault": into, "key_store": store, "manifest": restored.manifest }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Restored the {what} made {} into {} ({} clients, {} session notes){more}.",
        restored
            .manifest
            .created_at
            .parse()
            .map(output::datetime)
            .unwrap_or_default(),
        into.display(),
        restored.manifest.counts.clients,
        restored.manifest.counts.session_notes
    );
    println!(
        "Keys are kept in: {}. Open it with --vault {}",
        store.describe(),
        into.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn prune(g: &Globals, dry_run: bool) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let plan = vault.backup_prune(dry_run, Utc::now())?;
    print_plan(g, &plan, dry_run, "No backups to consider.")
}

/// What a prune kept (and why) and deleted.
pub(crate) fn print_plan(
    g: &Globals,
    plan: &backup::PrunePlan,
    dry_run: bool,
    nothing: &str,
) -> Outcome {
    if g.json {
        output::json(
            &json!({ "dry_run": dry_run, "keep": plan.keep.iter().map(|(n, r)| json!({"name": n, "rule": r})).collect::<Vec<_>>(), "delete": plan.delete }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for (n, r) in &plan.keep {
        println!("keep    {n}  ({r})");
    }
    for n in &plan.delete {
        println!("{}  {n}", if dry_run { "would delete" } else { "deleted" });
    }
    if plan.keep.is_empty() && plan.delete.is_empty() {
        println!("{nothing}");
    }
    Ok(ExitCode::SUCCESS)
}

fn schedule_show(g: &Globals) -> Outcome {
    Vault::peek(&g.vault_dir)?;
    let settings = BackupSettings::load(&g.vault_dir)?;
    let state = BackupState::load(&g.vault_dir)?;
    let now = Utc::now();
    let health = state.health(&settings, now);
    let dest = settings.destination_for(&g.vault_dir);
    let next = backup::schedule::next_due(settings.every_hours, state.last_runs());
    let server = casebook_core::offsite::ServerSettings::load(&g.vault_dir)?;
    let server_state = casebook_core::offsite::OffsiteState::load(&g.vault_dir)?;
    let server_health = server
        .as_ref()
        .map(|_| server_state.runs.health(&settings, now));
    if g.json {
        output::json(&json!({
            "destination": dest,
            "every_hours": settings.every_hours,
            "keep": settings.keep,
            "status": health,
            "warning": health.is_warning() || server_health.as_ref().is_some_and(Health::is_warning),
            "next_due": next,
            "server": server.as_ref().map(|s| json!({
                "url": s.url,
                "scheduled": s.scheduled,
                "keep": s.keep,
                "status": server_health,
            })),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Destination: {}", dest.display());
    println!(
        "Every {} hours; keep all from the last {} h, then one a day for {} days, one a week for {} weeks, one a month for {} months.",
        settings.every_hours,
        settings.keep.all_hours,
        settings.keep.daily_days,
        settings.keep.weekly_weeks,
        settings.keep.monthly_months
    );
    let line = match &health {
        Health::Ok { last_success } => {
            format!("Last backup: {}", output::datetime(*last_success))
        }
        Health::Overdue { last_success } => format!(
            "WARNING: overdue — last backup {}",
            output::datetime(*last_success)
        ),
        Health::Failed {
            failed_at, error, ..
        } => format!(
            "WARNING: the last backup failed at {}: {error}",
            output::datetime(*failed_at)
        ),
        Health::Never => "WARNING: no backup has been made yet".into(),
    };
    println!("{line}");
    match next {
        Some(t) if t > now => println!("Next due: {}", output::datetime(t)),
        _ => println!("Next due: now"),
    }
    if let (Some(s), Some(h)) = (&server, &server_health) {
        println!(
            "Off-site copy: {} ({}); keep all from the last {} h, then {} daily, {} weekly, {} monthly.",
            s.url,
            if s.scheduled {
                "with each scheduled backup"
            } else {
                "scheduled copies off"
            },
            s.keep.all_hours,
            s.keep.daily_days,
            s.keep.weekly_weeks,
            s.keep.monthly_months
        );
        println!(
            "{}",
            match h {
                Health::Ok { last_success } =>
                    format!("Last off-site backup: {}", output::datetime(*last_success)),
                Health::Overdue { last_success } => format!(
                    "WARNING: off-site copy overdue — last {}",
                    output::datetime(*last_success)
                ),
                Health::Failed {
                    failed_at, error, ..
                } => format!(
                    "WARNING: the last off-site backup failed at {}: {error}",
                    output::datetime(*failed_at)
                ),
                Health::Never => "WARNING: no off-site backup has been made yet".into(),
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
