//! The pop-out session clock: a small frameless, always-on-top, resizable window (the page
//! loaded with "#clock") that can be read across the room. Its size and place are
//! remembered — between openings by the window-state plugin's memory, and between runs of
//! the app in the plugin's file, written whenever the window is closed.

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};

use crate::error::{UiError, UiResult};
use crate::notices;

/// The window's label (also in `capabilities/default.json` and `capabilities/clock.json`).
pub const LABEL: &str = "clock";

/// What is remembered of every window: its size and place, nothing else.
pub const REMEMBERED: StateFlags = StateFlags::SIZE.union(StateFlags::POSITION);

/// Opens the clock window, or brings it forward if it is open.
pub fn show(app: &AppHandle) -> UiResult<()> {
    if let Some(w) = app.get_webview_window(LABEL) {
        let _ = w.show();
        let _ = w.set_focus();
        return Ok(());
    }
    // On Linux the clock shares the main window's web process (a "related view"): a web
    // process of its own would cost ~50 MB for a few digits. The main webview is reached on
    // the main thread, where the window is then built.
    #[cfg(target_os = "linux")]
    if let Some(main) = app.get_webview_window("main") {
        let app = app.clone();
        return main
            .with_webview(move |webview| {
                if let Err(e) = builder(&app).with_related_view(webview.inner()).build() {
                    let message = format!("The clock window could not open: {e}");
                    notices::show(&app, message);
                }
            })
            .map_err(|e| UiError::internal(format!("The clock window could not open: {e}")));
    }
    builder(app)
        .build()
        .map_err(|e| UiError::internal(format!("The clock window could not open: {e}")))?;
    Ok(())
}

fn builder(app: &AppHandle) -> WebviewWindowBuilder<'_, tauri::Wry, AppHandle> {
    WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html#clock".into()))
        .title("Session clock")
        .inner_size(240.0, 120.0)
        .min_inner_size(180.0, 90.0)
        .resizable(true)
        .decorations(false)
        .always_on_top(true)
        .skip_taskbar(true)
}

/// Closes the clock window, keeping its size and place for next time.
pub fn close(app: &AppHandle) -> UiResult<()> {
    let Some(w) = app.get_webview_window(LABEL) else {
        return Ok(());
    };
    // The plugin's memory of the window is brought up to date as it closes; saving first
    // also writes it to disk, so a later run of the app finds it.
    let _ = app.save_window_state(REMEMBERED);
    w.close()
        .map_err(|e| UiError::internal(format!("The clock window could not close: {e}")))?;
    Ok(())
}

#[tauri::command]
pub async fn clock_window(app: AppHandle) -> UiResult<()> {
    show(&app)
}

#[tauri::command]
pub async fn clock_window_close(app: AppHandle) -> UiResult<()> {
    close(&app)
}
