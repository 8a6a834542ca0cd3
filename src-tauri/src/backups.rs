//! Backups in the app: the Backups screen's commands, and the automatic backup the ticker
//! makes when one is due (three a day by default) while the vault is unlocked. A failure
//! raises a desktop notification and stays on the screen until a backup succeeds.

pub mod offsite;

use std::path::PathBuf;

use casebook_core::backup::{
    self, BackupSettings, BackupState, Health, KeepPolicy, Listing, Verified,
};
use casebook_core::{RecoveryKey, Vault};
use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use zeroize::Zeroizing;

use crate::error::{UiError, UiResult};
use crate::notices::notify;
use crate::state::AppState;

#[derive(Serialize)]
pub(crate) struct BackupHealth {
    state: &'static str,
    message: String,
    last_success: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

#[derive(Serialize)]
pub struct BackupFile {
    name: String,
    path: PathBuf,
    size: u64,
    created_at: Option<DateTime<Utc>>,
    clients: Option<i64>,
    notes: Option<i64>,
    verified: Option<Verified>,
}

#[derive(Serialize)]
pub struct BackupOverview {
    destination: PathBuf,
    every_hours: u32,
    keep: KeepPolicy,
    health: BackupHealth,
    next_due: Option<DateTime<Utc>>,
    files: Vec<BackupFile>,
}

#[derive(Serialize)]
pub struct BackupCheck {
    ok: bool,
    problem: Option<String>,
}

impl BackupCheck {
    pub(crate) fn ok() -> Self {
        BackupCheck {
            ok: true,
            problem: None,
        }
    }
    pub(crate) fn failed(problem: String) -> Self {
        BackupCheck {
            ok: false,
            problem: Some(problem),
        }
    }
}

fn uk(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%d/%m/%Y %H:%M").to_string()
}

pub(crate) fn health(h: Health) -> BackupHealth {
    let (state, message, last_success, failed_at, error) = match h {
        Health::Ok { last_success } => (
            "ok",
            format!("Last backup {}.", uk(last_success)),
            Some(last_success),
            None,
            None,
        ),
        Health::Overdue { last_success } => (
            "overdue",
            format!("No backup since {}: one is overdue.", uk(last_success)),
            Some(last_success),
            None,
            None,
        ),
        Health::Failed {
            last_success,
            failed_at,
            error,
        } => (
            "failed",
            format!("The last backup failed at {}.", uk(failed_at)),
            last_success,
            Some(failed_at),
            Some(error),
        ),
        Health::Never => (
            "never",
            "No backup has been made yet.".to_string(),
            None,
            None,
            None,
        ),
    };
    BackupHealth {
        state,
        message,
        last_success,
        failed_at,
        error,
    }
}

/// A manifest this vault's key does not authenticate is shown as damaged: its date and
/// counts cannot be believed.
fn file(l: Listing) -> BackupFile {
    let manifest = l.manifest.as_ref().filter(|_| l.authentic != Some(false));
    BackupFile {
        created_at: l.created_at(),
        clients: manifest.map(|m| m.counts.clients),
        notes: manifest.map(|m| m.counts.session_notes),
        name: l.name,
        path: l.path,
        size: l.size,
        verified: l.verified,
    }
}

fn overview(vault: &Vault) -> UiResult<BackupOverview> {
    let dir = vault.dir();
    let settings = BackupSettings::load(dir)?;
    let state = BackupState::load(dir)?;
    let destination = settings.destination_for(dir);
    let files = vault
        .backup_list(&destination)?
        .into_iter()
        .map(file)
        .collect();
    Ok(BackupOverview {
        health: health(state.health(&settings, Utc::now())),
        next_due: backup::schedule::next_due(settings.every_hours, state.last_runs()),
        every_hours: settings.every_hours,
        keep: settings.keep,
        destination,
        files,
    })
}

#[tauri::command]
pub async fn backup_overview(state: State<'_, AppState>) -> UiResult<BackupOverview> {
    state.with_vault(|v| overview(v))
}

/// Makes a backup, then lets the keep-policy delete what it no longer wants.
fn make(vault: &mut Vault) -> UiResult<BackupFile> {
    let settings = BackupSettings::load(vault.dir())?;
    let dest = settings.destination_for(vault.dir());
    let made = vault.backup_create(&dest, &mut |_| {})?;
    // The backup is made: a keep-policy problem must not read as a failed backup (it is
    // tried again after the next one).
    let _ = vault.backup_prune(false, Utc::now());
    Ok(BackupFile {
        name: made
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        created_at: made.manifest.created_at.parse().ok(),
        clients: Some(made.manifest.counts.clients),
        notes: Some(made.manifest.counts.session_notes),
        path: made.path,
        size: made.size,
        verified: None,
    })
}

#[tauri::command]
pub async fn backup_now(state: State<'_, AppState>) -> UiResult<BackupFile> {
    state.with_vault(make)
}

/// A backup file of this vault, by its name in the destination folder (never a path from
/// the window, so the window cannot point the app at other files).
fn named(vault: &Vault, name: &str) -> UiResult<PathBuf> {
    let settings = BackupSettings::load(vault.dir())?;
    let dest = settings.destination_for(vault.dir());
    vault
        .backup_list(&dest)?
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.path)
        .ok_or_else(|| UiError {
            kind: "not_found",
            message: format!("There is no backup called {name}."),
        })
}

#[tauri::command]
pub async fn backup_verify(state: State<'_, AppState>, name: String) -> UiResult<BackupCheck> {
    state.with_vault(|v| {
        let path = named(v, &name)?;
        Ok(match v.backup_verify(&path, &mut |_| {}) {
            Ok(_) => BackupCheck {
                ok: true,
                problem: None,
            },
            Err(e) => BackupCheck {
                ok: false,
                problem: Some(UiError::from(e).message),
            },
        })
    })
}

#[tauri::command]
pub async fn backup_settings_set(
    state: State<'_, AppState>,
    destination: Option<String>,
    every_hours: u32,
    keep: KeepPolicy,
) -> UiResult<BackupOverview> {
    let destination = destination
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    if destination.as_ref().is_some_and(|d| !d.is_absolute()) {
        return Err(UiError::invalid(
            "Give the backup folder as a full path, e.g. /media/usb/casebook-backups.",
        ));
    }
    state.with_vault(|v| {
        v.backup_settings_set(&BackupSettings {
            destination,
            every_hours,
            keep,
        })?;
        overview(v)
    })
}

#[tauri::command]
pub async fn backup_restore(
    state: State<'_, AppState>,
    name: String,
    recovery_key: Zeroizing<String>,
    into: String,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<String> {
    let into = PathBuf::from(into.trim());
    if !into.is_absolute() {
        return Err(UiError::invalid(
            "Give the folder to restore into as a full path.",
        ));
    }
    let path = state.with_vault(|v| {
        if into == v.dir() {
            return Err(UiError::invalid(
                "A backup is never restored over the vault in use: choose a new folder.",
            ));
        }
        named(v, &name)
    })?;
    let key = RecoveryKey::parse(&recovery_key)?;
    let passphrase = passphrase
        .filter(|p| !p.is_empty())
        .map(crate::inputs::new_passphrase)
        .transpose()?;
    backup::restore(&path, &key, &into, passphrase.as_ref().map(|p| p.as_str()), &mut |_| {}).map_err(|e| match e {
        casebook_core::CoreError::PassphraseRequired => UiError::invalid(
            "This backup kept its keys behind a passphrase: give the passphrase the restored vault should use.",
        ),
        other => other.into(),
    })?;
    Ok(into.display().to_string())
}

/// Called by the ticker about once a minute: makes a backup if one is due and the vault is
/// unlocked, on its own thread. Tells the therapist if it failed.
pub fn run_if_due(app: &AppHandle) {
    let app = app.clone();
    std::thread::spawn(move || {
        let state = app.state::<AppState>();
        let Some(mut v) = state.try_vault_slot() else {
            return;
        };
        let Some(vault) = v.as_mut() else { return };
        let due = match (
            BackupSettings::load(vault.dir()),
            BackupState::load(vault.dir()),
        ) {
            (Ok(settings), Ok(s)) => {
                backup::schedule::is_due(settings.every_hours, s.last_runs(), Utc::now())
            }
            (Err(e), _) | (_, Err(e)) => {
                drop(v);
                let message = format!("Backups cannot run: {}", UiError::from(e).message);
                notify(&app, "Backup failed", message);
                return;
            }
        };
        if !due {
            return;
        }
        let result = make(vault);
        drop(v);
        match result {
            Ok(_) => {
                let _ = app.emit("backup", ());
            }
            Err(e) => {
                let _ = app.emit("backup", ());
                notify(
                    &app,
                    "Backup failed",
                    format!("Backup failed: {}", e.message),
                );
            }
        }
    });
}
