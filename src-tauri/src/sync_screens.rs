//! What the sync screens ask for: the status strip's state, this practice's computers,
//! turning sync on here, and the values kept aside when two computers changed the same thing
//! ("Changed on both computers"). Thin: each command calls `casebook_sync::practice` or the
//! core. Background runs are `background_sync`'s; this module only reads what they left and
//! acts when the therapist asks.
//!
//! Turning sync on talks to the server with the vault free (its three steps, as a run's), so
//! the window's other commands never wait on the network.

use casebook_core::Vault;
use casebook_core::conflicts::{Resolution, Resolved};
use casebook_core::merge::Conflict;
use casebook_core::offsite::ServerSettings;
use casebook_sync::engine::{RemoteError, SyncError};
use casebook_sync::practice::{self, DeviceStatus};
use serde::Serialize;
use tauri::{AppHandle, State};
use zeroize::Zeroizing;

use crate::error::{UiError, UiResult};
use crate::state::{AppState, blocking};

/// The sync errors a person can act on, worded; the rest as the engine says them.
fn ui_error(e: SyncError) -> UiError {
    match e {
        SyncError::Core(e) => e.into(),
        SyncError::Remote(RemoteError::Unreachable(_)) => UiError {
            kind: "offline",
            message: "The server could not be reached: nothing was changed. Check the connection and try again.".into(),
        },
        SyncError::Alarm(a) => UiError {
            kind: "alarm",
            message: a.plain().to_string(),
        },
        other => UiError::invalid(other.to_string()),
    }
}

/// Sync as the strip and the Computers section show it (no network).
#[derive(Debug, Clone, Serialize, Default)]
pub struct SyncOverview {
    /// The vault has a server connection (Settings → Off-site copy).
    pub connected: bool,
    /// Sync is on for this computer.
    pub enabled: bool,
    /// Seconds since the epoch of the last run that finished without an alarm.
    pub last_sync: Option<u64>,
    pub pending_changes: u64,
    /// The alarm the last run stopped on (its line: the alarm's name, a colon, what happened).
    pub alarm: Option<String>,
    /// That alarm in plain words, for the therapist.
    pub alarm_words: Option<String>,
    /// Values kept aside from changes made on two computers, not yet resolved.
    pub conflicts: usize,
    pub devices: Vec<DeviceStatus>,
    /// Four words to compare with another computer's screen.
    pub compare_words: String,
    /// This computer's name in the practice's list.
    pub device_name: Option<String>,
    /// Computers' names by any id they go by (the device list's, and the one their records
    /// are stamped with, as a conflict names it).
    pub names: std::collections::BTreeMap<String, String>,
    /// Joined by code and still catching up: the records are read-only until it has.
    pub catching_up: bool,
}

fn overview(vault: &mut Vault) -> UiResult<SyncOverview> {
    overview_with(vault, true)
}

/// The overview; `words`: with the compare words (they read every record).
fn overview_with(vault: &mut Vault, words: bool) -> UiResult<SyncOverview> {
    let Some(settings) = ServerSettings::load(vault.dir())? else {
        return Ok(SyncOverview::default());
    };
    let status =
        practice::status_with(vault, Some(&settings.device_id), words).map_err(ui_error)?;
    let conflicts = if status.enabled {
        vault.sync_conflict_count()?
    } else {
        0
    };
    Ok(SyncOverview {
        connected: true,
        enabled: status.enabled,
        last_sync: status.last_sync,
        pending_changes: status.pending_changes,
        alarm_words: status
            .alarm
            .as_deref()
            .map(|l| casebook_sync::chain::plain_words(l).to_string()),
        alarm: status.alarm,
        conflicts,
        devices: status.devices,
        compare_words: status.compare_words,
        device_name: Some(settings.device_name),
        names: practice::device_names(vault),
        catching_up: vault.catching_up()?,
    })
}

/// Read after each background run and when a sync screen opens: never counts as activity.
/// `words`: with the four compare words (Settings → Computers; they read every record).
#[tauri::command]
pub async fn sync_overview(
    state: State<'_, AppState>,
    words: Option<bool>,
) -> UiResult<SyncOverview> {
    state.with_vault_quietly(|v| overview_with(v, words == Some(true)))
}

/// Settings → Computers → "Turn on sync": this computer joins the practice's signed list.
#[tauri::command]
pub async fn sync_enable(app: AppHandle) -> UiResult<SyncOverview> {
    blocking(app, |_, state| {
        let begun = state.with_vault(|v| practice::enable_begin(v).map_err(ui_error))?;
        let exchanged = begun.exchange().map_err(ui_error)?;
        state.with_vault(|v| {
            practice::enable_finish(v, exchanged).map_err(ui_error)?;
            overview(v)
        })
    })
    .await
}

/// Settings → Computers → "Remove…": revokes another computer of the practice (a lost or
/// replaced laptop), with the server account's password again. The same steps as
/// `casebook sync revoke`, the vault free whenever the server is talked to: catch up, have
/// the server stop taking its changes, apply the rest of its log, sign the cut.
#[tauri::command]
pub async fn sync_revoke(
    app: AppHandle,
    device: String,
    password: Zeroizing<String>,
    totp: Option<String>,
    recovery_key: Option<Zeroizing<String>>,
) -> UiResult<SyncOverview> {
    if password.is_empty() {
        return Err(UiError::invalid(
            "Type the server account's password to remove a computer.",
        ));
    }
    let totp = totp.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    // With the recovery key the practice's keys change too (re-keying): checked before
    // anything is asked of the server. Without it, the computer is removed all the same.
    let recovery_key = match recovery_key.filter(|k| !k.trim().is_empty()) {
        Some(k) => Some(casebook_core::recovery::RecoveryKey::parse(&k)?),
        None => None,
    };
    blocking(app, move |_, state| {
        // Catch up first, so the cut is made from the newest state. A background run under
        // way holds the sync lock for a moment: waited for, as `sync now` waits.
        let until = std::time::Instant::now() + BUSY_PATIENCE;
        let begun = loop {
            let attempt: Result<practice::RevokeBegun, SyncError> =
                match crate::background_sync::run_once(state) {
                    Some(Err(e)) => Err(e),
                    _ => state.with_vault(|v| {
                        Ok(practice::revoke_begin(v, &device, recovery_key.as_ref()))
                    })?,
                };
            match attempt {
                Ok(begun) => break begun,
                Err(SyncError::Remote(RemoteError::Busy)) if std::time::Instant::now() < until => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(ui_error(e)),
            }
        };
        let reauth = casebook_core::offsite::Reauthenticate {
            password: password.to_string(),
            totp,
        };
        let fetched = begun.exchange(&reauth).map_err(ui_error)?;
        let applied = state.with_vault(|v| practice::revoke_apply(v, fetched).map_err(ui_error))?;
        let published = applied.publish().map_err(ui_error)?;
        state.with_vault(|v| {
            practice::revoke_finish(v, published).map_err(ui_error)?;
            overview(v)
        })
    })
    .await
}

/// Settings → Computers → "Rename…": a computer's new name, signed into the practice's list
/// (the vault free while the server is asked).
#[tauri::command]
pub async fn sync_rename(app: AppHandle, device: String, name: String) -> UiResult<SyncOverview> {
    blocking(app, move |_, state| {
        let begun =
            state.with_vault(|v| practice::rename_begin(v, &device, &name).map_err(ui_error))?;
        let published = begun.publish().map_err(ui_error)?;
        state.with_vault(|v| {
            practice::rename_finish(v, published).map_err(ui_error)?;
            overview(v)
        })
    })
    .await
}

/// Before a lock the therapist asked for (as the window waits for autosave): sends what was
/// made here and is not on the server yet, in one run — waiting for a background run already
/// under way for at most `FLUSH_PATIENCE`. (The window hides the records meanwhile and locks
/// after 4 s whatever happens.) Returns the changes still waiting (kept here
/// either way, and sent at the next unlock).
#[tauri::command]
pub async fn sync_flush(app: AppHandle) -> UiResult<u64> {
    blocking(app, |_, state| {
        crate::background_sync::send_pending(state, FLUSH_PATIENCE).map_err(ui_error)
    })
    .await
}

/// How long removing a computer waits for a background run to let go of the sync lock.
const BUSY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// How long a lock waits for changes to reach the server.
const FLUSH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// The values kept aside, oldest first (reading them is audited: they can hold clinical text).
#[tauri::command]
pub async fn sync_conflicts(state: State<'_, AppState>) -> UiResult<Vec<Conflict>> {
    state.with_vault(|v| Ok(v.sync_conflicts()?))
}

/// Keeps the value the record holds (`current`) or takes the other computer's (`other`).
#[tauri::command]
pub async fn sync_resolve(
    state: State<'_, AppState>,
    id: String,
    keep: String,
) -> UiResult<Resolved> {
    let keep = match keep.as_str() {
        "current" => Resolution::Current,
        "other" => Resolution::Other,
        _ => return Err(UiError::invalid("keep must be current or other")),
    };
    state.with_vault(|v| Ok(v.resolve_conflict(&id, keep)?))
}
