//! The off-site copy in the app: Settings → "Off-site copy" (connect, status, back up now,
//! the server's backups with verify and restore, the account's TOTP, sign-out and deletion),
//! the scheduled copy the ticker sends, and the first-run screen's two restore choices (a
//! backup file, or the server). Thin: every decision is in `casebook_core::offsite`.

use std::path::PathBuf;
use std::sync::Mutex;

use casebook_core::backup::{self, BackupSettings, schedule};
use casebook_core::offsite::{
    self, Connect, OffsiteState, RemoteListing, ServerRestore, ServerSettings,
};
use casebook_core::{RecoveryKey, Vault};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use zeroize::Zeroizing;

use super::{BackupCheck, BackupHealth, health};
use crate::error::{UiError, UiResult};
use crate::notices::{self, notify};
use crate::state::{AppState, blocking};

/// A restore from the server begun on the first-run screen (signed in, keys opened, backups
/// listed), waiting for the therapist to choose.
#[derive(Default)]
pub struct PendingRestore(Mutex<Option<ServerRestore>>);

#[derive(Serialize)]
pub struct ServerCheck {
    url: String,
    locations: Vec<String>,
    sign_up: String,
    totp_required: bool,
}

#[derive(Serialize)]
pub struct RemoteBackup {
    name: String,
    created_at: Option<DateTime<Utc>>,
    size: u64,
    clients: Option<i64>,
    notes: Option<i64>,
    usable: bool,
    verified: Option<backup::Verified>,
    problem: Option<String>,
}

fn remote(l: RemoteListing) -> RemoteBackup {
    RemoteBackup {
        usable: l.usable(),
        clients: l.manifest.as_ref().map(|m| m.counts.clients),
        notes: l.manifest.as_ref().map(|m| m.counts.session_notes),
        name: l.name,
        created_at: l.created_at,
        size: l.size,
        verified: l.verified,
        problem: l.problem,
    }
}

#[derive(Serialize, Default)]
pub struct OffsiteOverview {
    connected: bool,
    url: Option<String>,
    username: Option<String>,
    device_name: Option<String>,
    device_id: Option<String>,
    locations: Vec<String>,
    scheduled: bool,
    totp_enabled: bool,
    usage: Option<offsite::Usage>,
    problem: Option<String>,
    health: Option<BackupHealth>,
    backups: Vec<RemoteBackup>,
    missing: Vec<String>,
    unfinished: usize,
}

#[derive(Serialize)]
pub struct OffsiteHealth {
    connected: bool,
    health: Option<BackupHealth>,
}

#[derive(Serialize)]
pub struct RestoredSummary {
    created_at: Option<String>,
    clients: i64,
    notes: i64,
}

/// The off-site status line, from what this computer remembers (no network).
fn offsite_health_of(vault_dir: &std::path::Path) -> UiResult<Option<BackupHealth>> {
    if ServerSettings::load(vault_dir)?.is_none() {
        return Ok(None);
    }
    let every = BackupSettings::load(vault_dir)?.every_hours;
    let state = OffsiteState::load(vault_dir)?;
    Ok(Some(health(schedule::health(
        every,
        state.runs.last_runs(),
        state.runs.last_error.as_deref(),
        Utc::now(),
    ))))
}

fn overview(vault: &Vault) -> UiResult<OffsiteOverview> {
    let Some(settings) = ServerSettings::load(vault.dir())? else {
        return Ok(OffsiteOverview::default());
    };
    let status = vault.server_status()?;
    let mut out = OffsiteOverview {
        connected: true,
        url: Some(settings.url.clone()),
        username: Some(settings.username.clone()),
        device_name: Some(settings.device_name.clone()),
        device_id: Some(settings.device_id.clone()),
        locations: settings.locations.clone(),
        scheduled: settings.scheduled,
        totp_enabled: settings.totp_enabled,
        usage: status.usage,
        problem: status.problem,
        health: offsite_health_of(vault.dir())?,
        ..Default::default()
    };
    if out.problem.is_none() {
        match vault.offsite_list() {
            Ok(list) => {
                out.backups = list.backups.into_iter().map(remote).collect();
                out.missing = list.missing;
                out.unfinished = list.unfinished.len();
            }
            Err(e) => out.problem = Some(UiError::from(e).message),
        }
    }
    Ok(out)
}

/// Where a long off-site task has got to, for the window's progress bar (event
/// `offsite-progress`): `stage` is copy, encrypt, upload, download, decrypt or check.
#[derive(Serialize, Clone)]
struct ProgressEvent {
    stage: &'static str,
    done: u64,
    total: u64,
}

/// A progress callback that tells the window, at most ten times a second per stage.
pub(crate) fn progress_to(app: &AppHandle) -> impl FnMut(backup::Progress) + '_ {
    use backup::Progress as P;
    let mut last: Option<(&'static str, std::time::Instant)> = None;
    move |p| {
        let (stage, done, total) = match p {
            P::Snapshot { done, total } => ("copy", done, total),
            P::Encrypt { done, total } => ("encrypt", done, total),
            P::Upload { done, total } => ("upload", done, total),
            P::Download { done, total } => ("download", done, total),
            P::Decrypt { done, total } => ("decrypt", done, total),
            P::Check => ("check", 0, 0),
        };
        let due = match last {
            Some((s, at)) => s != stage || done >= total || at.elapsed().as_millis() >= 100,
            None => true,
        };
        if due {
            last = Some((stage, std::time::Instant::now()));
            let _ = app.emit("offsite-progress", ProgressEvent { stage, done, total });
        }
    }
}

#[tauri::command]
pub async fn server_check(app: AppHandle, url: String) -> UiResult<ServerCheck> {
    blocking(app, move |_, _| {
        let (url, info, locations) = offsite::server_info(&url)?;
        Ok(ServerCheck {
            url: url.as_str().to_string(),
            locations,
            sign_up: info.sign_up,
            totp_required: info.totp_required,
        })
    })
    .await
}

#[allow(clippy::too_many_arguments)]
#[tauri::command]
pub async fn server_connect(
    app: AppHandle,
    url: String,
    username: String,
    password: Zeroizing<String>,
    totp: Option<String>,
    sign_up: bool,
    invite: Option<String>,
    device_name: String,
) -> UiResult<OffsiteOverview> {
    let device_name = device_name.trim().to_string();
    if device_name.is_empty() {
        return Err(UiError::invalid(
            "Give this computer a name, e.g. \"Surgery laptop\".",
        ));
    }
    let blank = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (totp, invite) = (blank(totp), blank(invite));
    blocking(app, move |_, state| {
        state.with_vault(|v| {
            v.server_connect(&Connect {
                url: &url,
                username: username.trim(),
                password: &password,
                totp: totp.as_deref(),
                sign_up,
                invite: invite.as_deref(),
                device_name: &device_name,
            })?;
            overview(v)
        })
    })
    .await
}

#[tauri::command]
pub async fn offsite_overview(app: AppHandle) -> UiResult<OffsiteOverview> {
    blocking(app, |_, state| state.with_vault(|v| overview(v))).await
}

#[tauri::command]
pub async fn offsite_health(state: State<'_, AppState>) -> UiResult<OffsiteHealth> {
    if !state.is_unlocked() {
        return Err(UiError::locked());
    }
    let health = offsite_health_of(&state.vault_dir)?;
    Ok(OffsiteHealth {
        connected: health.is_some(),
        health,
    })
}

/// Sends a backup to the server: made with the vault held (a fraction of a second), sent
/// with the vault free (the therapist carries on while the bytes travel), then recorded and
/// audited, and the off-site keep-policy applied. `hold` takes the vault (waiting for it,
/// or not, as the caller chooses) and gives `None` when it is locked.
fn send<'s>(
    state: &'s AppState,
    mut hold: impl FnMut() -> Option<std::sync::MutexGuard<'s, Option<Vault>>>,
    progress: &mut dyn FnMut(backup::Progress),
) -> UiResult<RemoteBackup> {
    let prepared = {
        let mut slot = hold().ok_or_else(UiError::locked)?;
        let vault = slot.as_mut().ok_or_else(UiError::locked)?;
        vault.offsite_prepare(progress)
    };
    let result = prepared.and_then(|p| p.send(progress));
    let mut slot = hold();
    match slot.as_mut().and_then(|s| s.as_mut()) {
        Some(vault) => {
            vault.offsite_record(&result)?;
            if result.is_ok() {
                // Sent: a keep-policy problem must not read as a failed backup.
                let _ = vault.offsite_prune(false, Utc::now());
            }
        }
        // Locked meanwhile: the status line still learns the outcome.
        None => {
            let _ = offsite::record_run(&state.vault_dir, &result);
        }
    }
    let sent = result?;
    Ok(RemoteBackup {
        created_at: sent.manifest.created_at.parse().ok(),
        clients: Some(sent.manifest.counts.clients),
        notes: Some(sent.manifest.counts.session_notes),
        name: sent.name,
        size: sent.size,
        usable: true,
        verified: None,
        problem: sent.erasure_list_replaced.then(|| {
            "The server's erasure list was not written with the practice's current keys and held erasures this computer does not know. It was replaced by this computer's. Either a computer that had not taken the new keys yet erased a client (that erasure reaches this computer by sync), or the server or a removed computer changed the list.".to_string()
        }),
    })
}

#[tauri::command]
pub async fn offsite_backup_now(app: AppHandle) -> UiResult<RemoteBackup> {
    blocking(app, |app, state| {
        if !state.is_unlocked() {
            return Err(UiError::locked());
        }
        state.touch();
        let result = send(
            state,
            || state.is_unlocked().then(|| state.vault_slot()),
            &mut progress_to(app),
        );
        let _ = app.emit("backup", ());
        result
    })
    .await
}

#[tauri::command]
pub async fn offsite_verify(app: AppHandle, name: String) -> UiResult<BackupCheck> {
    blocking(app, move |app, state| {
        state.with_vault(|v| match v.offsite_verify(&name, &mut progress_to(app)) {
            Ok(_) => Ok(BackupCheck::ok()),
            // The server could not be asked: not a verdict on the backup.
            Err(e @ casebook_core::CoreError::Server(_)) => Err(e.into()),
            Err(e) => Ok(BackupCheck::failed(UiError::from(e).message)),
        })
    })
    .await
}

#[tauri::command]
pub async fn offsite_restore(
    app: AppHandle,
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
    let key = RecoveryKey::parse(&recovery_key)?;
    let passphrase = passphrase
        .filter(|p| !p.is_empty())
        .map(crate::inputs::new_passphrase)
        .transpose()?;
    blocking(app, move |app, state| {
        state.with_vault(|v| {
            if into == v.dir() {
                return Err(UiError::invalid(
                    "A backup is never restored over the vault in use: choose a new folder.",
                ));
            }
            v.offsite_restore(
                &name,
                &key,
                &into,
                passphrase.as_ref().map(|p| p.as_str()),
                &mut progress_to(app),
            )
            .map_err(passphrase_words)?;
            Ok(into.display().to_string())
        })
    })
    .await
}

pub(crate) fn passphrase_words(e: casebook_core::CoreError) -> UiError {
    match e {
        casebook_core::CoreError::PassphraseRequired => UiError::invalid(
            "This backup kept its keys behind a passphrase: give the passphrase the restored vault should use.",
        ),
        other => other.into(),
    }
}

#[tauri::command]
pub async fn offsite_schedule_set(app: AppHandle, on: bool) -> UiResult<OffsiteOverview> {
    blocking(app, move |_, state| {
        state.with_vault(|v| {
            v.server_schedule_set(on)?;
            overview(v)
        })
    })
    .await
}

#[derive(Serialize)]
pub struct TotpStart {
    otpauth_uri: String,
    secret_base32: String,
}

#[tauri::command]
pub async fn server_totp_start(app: AppHandle, password: Zeroizing<String>) -> UiResult<TotpStart> {
    blocking(app, move |_, state| {
        state.with_vault(|v| {
            let e = v.server_totp_start(&password)?;
            Ok(TotpStart {
                otpauth_uri: e.otpauth_uri,
                secret_base32: e.secret_base32,
            })
        })
    })
    .await
}

#[derive(Serialize)]
pub struct Codes {
    codes: Vec<String>,
}

#[tauri::command]
pub async fn server_totp_confirm(app: AppHandle, code: String) -> UiResult<Codes> {
    blocking(app, move |_, state| {
        state.with_vault(|v| {
            Ok(Codes {
                codes: v.server_totp_confirm(&code)?.codes,
            })
        })
    })
    .await
}

#[derive(Serialize)]
pub struct SignedOut {
    signed_out_on_server: bool,
}

#[tauri::command]
pub async fn server_disconnect(app: AppHandle) -> UiResult<SignedOut> {
    blocking(app, |_, state| {
        state.with_vault(|v| {
            Ok(SignedOut {
                signed_out_on_server: v.server_disconnect()?,
            })
        })
    })
    .await
}

#[derive(Serialize)]
pub struct AccountDeleted {
    blobs_removed: u64,
    bytes_removed: u64,
}

#[tauri::command]
pub async fn server_delete_account(
    app: AppHandle,
    password: Zeroizing<String>,
    totp: Option<String>,
) -> UiResult<AccountDeleted> {
    let totp = totp.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    blocking(app, move |_, state| {
        state.with_vault(|v| {
            let d = v.server_delete_account(&password, totp.as_deref())?;
            Ok(AccountDeleted {
                blobs_removed: d.blobs_removed,
                bytes_removed: d.bytes_removed,
            })
        })
    })
    .await
}

// ---------- First run: restore instead of creating a vault ----------

fn first_run_check(state: &AppState) -> UiResult<()> {
    if Vault::peek(&state.vault_dir).is_ok() {
        return Err(UiError::invalid(
            "A vault already exists on this computer: restore into a new folder from the Backups screen instead.",
        ));
    }
    Ok(())
}

/// Puts a vault just restored into the app's slot, unlocked, as after `vault_create`.
pub(crate) fn install_restored(
    app: &AppHandle,
    state: &AppState,
    mut vault: Vault,
    epoch: u64,
) -> UiResult<()> {
    let mut slot = state.vault_slot();
    state.touch();
    for message in state.after_unlock(&mut vault) {
        notices::show(app, message);
    }
    state.install(&mut slot, vault, epoch)?;
    Ok(())
}

fn summary(m: &backup::Manifest) -> RestoredSummary {
    RestoredSummary {
        created_at: Some(m.created_at.clone()),
        clients: m.counts.clients,
        notes: m.counts.session_notes,
    }
}

#[tauri::command]
pub async fn restore_file_first_run(
    app: AppHandle,
    path: String,
    recovery_key: Zeroizing<String>,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<RestoredSummary> {
    let path = PathBuf::from(path.trim());
    if !path.is_absolute() {
        return Err(UiError::invalid("Give the backup file as a full path."));
    }
    if !path.is_file() {
        return Err(UiError {
            kind: "not_found",
            message: format!("There is no backup file at {}.", path.display()),
        });
    }
    let key = RecoveryKey::parse(&recovery_key)?;
    let passphrase = passphrase
        .filter(|p| !p.is_empty())
        .map(crate::inputs::new_passphrase)
        .transpose()?;
    blocking(app, move |app, state| {
        first_run_check(state)?;
        let epoch = state.lock_epoch();
        let restored = backup::restore(
            &path,
            &key,
            &state.vault_dir,
            passphrase.as_ref().map(|p| p.as_str()),
            &mut progress_to(app),
        )
        .map_err(passphrase_words)?;
        let out = summary(&restored.manifest);
        install_restored(app, state, restored.vault, epoch)?;
        Ok(out)
    })
    .await
}

#[derive(Serialize)]
pub struct ServerBackups {
    locations: Vec<String>,
    backups: Vec<RemoteBackup>,
    default: Option<String>,
}

#[tauri::command]
pub async fn server_restore_sign_in(
    app: AppHandle,
    url: String,
    username: String,
    password: Zeroizing<String>,
    totp: Option<String>,
    recovery_key: Zeroizing<String>,
) -> UiResult<ServerBackups> {
    let key = RecoveryKey::parse(&recovery_key)?;
    let totp = totp.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    blocking(app, move |app, state| {
        first_run_check(state)?;
        let session = ServerRestore::sign_in(
            &url,
            username.trim(),
            &password,
            totp.as_deref(),
            &key,
            &offsite::this_computer_name(),
        )?;
        let out = ServerBackups {
            locations: session.locations().to_vec(),
            default: session.default_choice().map(|l| l.name.clone()),
            backups: session
                .backups()
                .backups
                .iter()
                .cloned()
                .map(remote)
                .collect(),
        };
        let pending = app.state::<PendingRestore>();
        *pending.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
        Ok(out)
    })
    .await
}

#[tauri::command]
pub async fn server_restore_first_run(
    app: AppHandle,
    name: Option<String>,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<RestoredSummary> {
    let passphrase = passphrase
        .filter(|p| !p.is_empty())
        .map(crate::inputs::new_passphrase)
        .transpose()?;
    blocking(app, move |app, state| {
        first_run_check(state)?;
        let pending = app.state::<PendingRestore>();
        let mut guard = pending.0.lock().unwrap_or_else(|p| p.into_inner());
        let session = guard
            .as_mut()
            .ok_or_else(|| UiError::invalid("Sign in to the server first."))?;
        let epoch = state.lock_epoch();
        // On failure the signed-in session stays, so the therapist can try again (another
        // backup, or with the passphrase asked for).
        let restored = session
            .restore(
                name.as_deref(),
                &state.vault_dir,
                passphrase.as_ref().map(|p| p.as_str()),
                &mut progress_to(app),
            )
            .map_err(passphrase_words)?;
        guard.take();
        drop(guard);
        let out = summary(&restored.manifest);
        install_restored(app, state, restored.vault, epoch)?;
        Ok(out)
    })
    .await
}

#[tauri::command]
pub async fn server_restore_cancel(app: AppHandle) -> UiResult<()> {
    // Dropping the session signs the device it enrolled out again (a network call).
    blocking(app, |app, _| {
        let pending = app.state::<PendingRestore>();
        let session = pending.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(session);
        Ok(())
    })
    .await
}

/// Called by the ticker after the local backup check: sends an off-site backup if one is
/// due, the vault is connected and unlocked, and the schedule includes the server. A failure
/// is a notification and a warning on the backup strip; local backups carry on regardless.
pub fn run_if_due(app: &AppHandle) {
    let app = app.clone();
    std::thread::spawn(move || {
        let state = app.state::<AppState>();
        if !matches!(ServerSettings::load(&state.vault_dir), Ok(Some(s)) if s.scheduled) {
            return;
        }
        let due = match (
            BackupSettings::load(&state.vault_dir),
            OffsiteState::load(&state.vault_dir),
        ) {
            (Ok(settings), Ok(s)) => {
                schedule::is_due(settings.every_hours, s.runs.last_runs(), Utc::now())
            }
            _ => false,
        };
        if !due || !state.is_unlocked() {
            return;
        }
        // Never waits for the vault to make the backup (a command holding it goes first; the
        // next tick tries again), and never counts as the therapist's activity.
        let mut first = true;
        let result = send(
            &state,
            || {
                if std::mem::take(&mut first) {
                    state.try_vault_slot()
                } else {
                    Some(state.vault_slot())
                }
            },
            &mut progress_to(&app),
        );
        // Locked, or another run already sending: nothing to tell; the next tick looks again.
        if matches!(&result, Err(e) if e.kind == "locked" || e.kind == "busy") {
            return;
        }
        let _ = app.emit("backup", ());
        if let Err(e) = result {
            notify(
                &app,
                "Off-site backup failed",
                format!(
                    "Off-site backup failed: {} Local backups carry on.",
                    e.message
                ),
            );
        }
    });
}
