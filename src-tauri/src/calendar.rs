//! Calendar import in the app: Settings → Calendar's commands, and the optional automatic
//! refresh of the saved feed (every 30 minutes while unlocked), which never imports on its
//! own — it keeps the preview and tells the window, and the therapist confirms.
//!
//! The feed is fetched on a blocking thread without holding the vault (a slow server must
//! not freeze the app), parsed in memory, and only then previewed against the vault. The
//! pending preview (it holds names) is dropped when the vault locks.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use casebook_core::calendar::{
    self, Extraction, FeedSettings, FetchLimits, ImportSource, ImportSummary, ImportWindow,
};
use chrono::Local;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};

use crate::calendar_preview::{PendingImport, PreviewView};
use crate::error::{UiError, UiResult};
use crate::notices;
use crate::state::{AppState, guard};

/// How often the saved feed is checked when automatic refresh is on.
const AUTO_REFRESH: Duration = Duration::from_secs(30 * 60);

#[derive(Serialize)]
pub struct CalendarStatus {
    feed: FeedSettings,
    pending: Option<PreviewView>,
}

fn window() -> UiResult<ImportWindow> {
    Ok(ImportWindow::new(None, None, calendar::local_zone())?)
}

/// Fetches a feed on a blocking thread (the async runtime must not block on the network).
async fn fetch(address: String) -> UiResult<Vec<u8>> {
    tauri::async_runtime::spawn_blocking(move || {
        calendar::fetch_feed(&address, &FetchLimits::default())
    })
    .await
    .map_err(|_| UiError::invalid("The calendar could not be fetched."))?
    .map_err(UiError::from)
}

fn keep(
    state: &AppState,
    extraction: Extraction,
    window: ImportWindow,
    source: ImportSource,
) -> UiResult<PreviewView> {
    let preview = state.with_vault(|v| Ok(v.calendar_preview(&extraction, &window, source)?))?;
    let pending = PendingImport::new(extraction, window, source, preview);
    let view = pending.view();
    state.keep_calendar_preview(pending)?;
    Ok(view)
}

#[tauri::command]
pub async fn calendar_status(state: State<'_, AppState>) -> UiResult<CalendarStatus> {
    let feed = state.with_vault(|v| Ok(v.calendar_feed()?))?;
    let pending = guard(&state.calendar.pending)
        .as_ref()
        .map(PendingImport::view);
    Ok(CalendarStatus { feed, pending })
}

/// Connects a feed: fetched and read first, so an address that does not work is not saved.
#[tauri::command]
pub async fn calendar_feed_set(state: State<'_, AppState>, url: String) -> UiResult<PreviewView> {
    let checked = calendar::feed_url(&url)?.to_string();
    state.with_vault(|_| Ok(()))?;
    let bytes = fetch(checked.clone()).await?;
    let window = window()?;
    let extraction = calendar::extract(&bytes, &window)?;
    drop(bytes);
    state.with_vault(|v| Ok(v.set_calendar_feed(&checked).map(|_| ())?))?;
    keep(&state, extraction, window, ImportSource::Feed)
}

#[tauri::command]
pub async fn calendar_refresh(state: State<'_, AppState>) -> UiResult<PreviewView> {
    let address = state.with_vault(|v| Ok(v.calendar_feed_address()?))?;
    let bytes = fetch(address).await?;
    let window = window()?;
    let extraction = calendar::extract(&bytes, &window)?;
    keep(&state, extraction, window, ImportSource::Feed)
}

/// An `.ics` file the therapist chose; the window read it and sends its text.
#[tauri::command]
pub async fn calendar_preview_file(
    state: State<'_, AppState>,
    name: String,
    text: String,
) -> UiResult<PreviewView> {
    let _ = name;
    if text.len() as u64 > FetchLimits::default().max_bytes {
        return Err(UiError::invalid(
            "This file is larger than 20 MB, more than any appointment calendar needs.",
        ));
    }
    let window = window()?;
    let extraction = calendar::extract(text.as_bytes(), &window)?;
    keep(&state, extraction, window, ImportSource::File)
}

#[tauri::command]
pub async fn calendar_apply(state: State<'_, AppState>, id: String) -> UiResult<ImportSummary> {
    let pending = {
        let mut slot = guard(&state.calendar.pending);
        match slot.take() {
            Some(p) if p.id == id => p,
            other => {
                let replaced = other.is_some();
                *slot = other;
                return Err(UiError::invalid(if replaced {
                    "The calendar has changed since this preview: nothing was imported. Review the new preview."
                } else {
                    "There is no calendar preview to import: preview it again."
                }));
            }
        }
    };
    let result = state.with_vault(|v| {
        let done = v.calendar_import(&pending.extraction, &pending.window, pending.source)?;
        // The clock learns today's imported sessions (best effort: the next unlock reloads).
        let _ = state.load_day(v, Local::now().date_naive());
        Ok(done.counts)
    });
    if result.is_err() {
        // Nothing was imported; the preview stays for another try (if still unlocked).
        let _ = state.keep_calendar_preview(pending);
    }
    result
}

#[tauri::command]
pub async fn calendar_discard(state: State<'_, AppState>) -> UiResult<()> {
    *guard(&state.calendar.pending) = None;
    Ok(())
}

#[tauri::command]
pub async fn calendar_feed_remove(state: State<'_, AppState>) -> UiResult<()> {
    state.with_vault(|v| Ok(v.remove_calendar_feed()?))?;
    let mut pending = guard(&state.calendar.pending);
    if pending
        .as_ref()
        .is_some_and(|p| p.source == ImportSource::Feed)
    {
        *pending = None;
    }
    Ok(())
}

#[tauri::command]
pub async fn calendar_auto_refresh_set(
    state: State<'_, AppState>,
    enabled: bool,
) -> UiResult<CalendarStatus> {
    let feed = state.with_vault(|v| Ok(v.set_calendar_auto_refresh(enabled)?))?;
    let pending = guard(&state.calendar.pending)
        .as_ref()
        .map(PendingImport::view);
    Ok(CalendarStatus { feed, pending })
}

/// Called by the ticker about once a minute: when automatic refresh is on and due, checks
/// the feed on its own thread; changes are kept for confirmation and announced to the window.
pub fn refresh_if_due(app: &AppHandle) {
    let state = app.state::<AppState>();
    let due = {
        let last = guard(&state.calendar.last_auto);
        last.is_none_or(|t| t.elapsed() >= AUTO_REFRESH)
    };
    if !due || state.calendar.in_flight.load(Ordering::SeqCst) {
        return;
    }
    let wanted = {
        // The ticker never waits for a vault busy with a long task: it checks next minute.
        let Some(mut v) = state.try_vault_slot() else {
            return;
        };
        match v.as_mut() {
            Some(vault) => vault
                .calendar_feed()
                .is_ok_and(|f| f.connected && f.auto_refresh),
            None => false,
        }
    };
    if !wanted {
        return;
    }
    *guard(&state.calendar.last_auto) = Some(Instant::now());
    state.calendar.in_flight.store(true, Ordering::SeqCst);
    let app = app.clone();
    std::thread::spawn(move || {
        let state = app.state::<AppState>();
        let outcome = auto_refresh(&state);
        state.calendar.in_flight.store(false, Ordering::SeqCst);
        match outcome {
            Ok(Some(preview)) => {
                let _ = app.emit("calendar-changes", preview);
            }
            Ok(None) => {}
            Err(e) => {
                notices::show(&app, format!("Calendar check: {}", e.message));
            }
        }
    });
}

/// One automatic check: the preview when it would change something, else nothing.
fn auto_refresh(state: &AppState) -> UiResult<Option<PreviewView>> {
    let address = {
        let mut v = state.vault_slot();
        let vault = v.as_mut().ok_or_else(UiError::locked)?;
        vault.calendar_feed_address()?
    };
    let bytes = calendar::fetch_feed(&address, &FetchLimits::default())?;
    drop(address);
    let window = window()?;
    let extraction = calendar::extract(&bytes, &window)?;
    let preview = {
        let mut v = state.vault_slot();
        let vault = v.as_mut().ok_or_else(UiError::locked)?;
        vault.calendar_preview(&extraction, &window, ImportSource::Feed)?
    };
    if !preview.counts.has_changes() {
        return Ok(None);
    }
    // Stored only while the vault is still unlocked (the preview holds names).
    let pending = PendingImport::new(extraction, window, ImportSource::Feed, preview);
    let view = pending.view();
    state.keep_calendar_preview(pending)?;
    Ok(Some(view))
}
