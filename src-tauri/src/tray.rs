//! The tray icon and its menu. On Linux a tray *title* shows only on AppIndicator hosts and
//! tooltips do nothing, so the live time is also the menu's first line. End sits apart from
//! "+5 min" and, pressed, offers "Ended · Undo" for ten seconds before the session ends at
//! the moment it was pressed ([`crate::delayed_end`]). Once a client's session has ended,
//! "Write the session's note" opens the main window on that note.

use casebook_core::clock::mmss;
use chrono::Local;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Listener, Manager, Wry};

use crate::commands;
use crate::delayed_end::{DelayedEnd, UNDO_SECONDS};
use crate::notices;
use crate::session_clock::ClockView;
use crate::state::AppState;

/// The menu items whose text changes with the clock.
pub struct TrayItems {
    pub time: MenuItem<Wry>,
    pub start_end: MenuItem<Wry>,
    pub extend: MenuItem<Wry>,
    pub write_note: MenuItem<Wry>,
}

/// The client's session in progress, then — once it ended — the one whose note the tray
/// offers to write: (client code, session id). Never shown in the menu (no code, no name).
#[derive(Default)]
pub struct LastSession {
    running: std::sync::Mutex<Option<(String, String)>>,
    ended: std::sync::Mutex<Option<(String, String)>>,
}

/// What the window is asked to open by the tray's "Write the session's note".
#[derive(serde::Serialize, Clone)]
pub struct WriteNote {
    pub client_code: String,
    pub appointment_id: String,
}

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let time = MenuItem::with_id(app, "time", "No session running", false, None::<&str>)?;
    let start_end = MenuItem::with_id(app, "start_end", "Start session", true, None::<&str>)?;
    let extend = MenuItem::with_id(app, "extend", "+5 min", false, None::<&str>)?;
    let write_note = MenuItem::with_id(
        app,
        "write_note",
        "Write the session's note",
        false,
        None::<&str>,
    )?;
    let clock_window =
        MenuItem::with_id(app, "clock_window", "Show clock window", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Casebook", true, None::<&str>)?;
    let lock = MenuItem::with_id(app, "lock", "Lock", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Casebook", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &time,
            &PredefinedMenuItem::separator(app)?,
            &extend,
            &clock_window,
            &PredefinedMenuItem::separator(app)?,
            &start_end,
            &write_note,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &lock,
            &quit,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id("casebook")
        .menu(&menu)
        .tooltip("Casebook");
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.on_menu_event(|app, event| on_menu(app, event.id.as_ref()))
        .build(app)?;
    app.manage(TrayItems {
        time,
        start_end,
        extend,
        write_note,
    });
    app.manage(LastSession::default());
    app.manage(DelayedEnd::default());
    // The clock announces each new reading to every window; the tray shows it too.
    let handle = app.clone();
    app.listen_any("clock", move |_| {
        let state = handle.state::<AppState>();
        let v = crate::session_clock::view(&state, &crate::state::guard(&state.clock));
        show(&handle, &v);
    });
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    let state = app.state::<AppState>();
    let result = match id {
        "start_end" => {
            let running = crate::state::guard(&state.clock).clock.running().is_some();
            let delayed = app.state::<DelayedEnd>();
            if delayed.undo() {
                refresh(app, &state);
                Ok(())
            } else if running {
                end_after_undo_time(app, &state);
                Ok(())
            } else {
                commands::start_next_or_adhoc(app, &state).map(|_| ())
            }
        }
        "extend" => commands::extend_session(app, &state).map(|_| ()),
        "write_note" => {
            let ended = app
                .try_state::<LastSession>()
                .and_then(|l| crate::state::guard(&l.ended).take());
            show_main(app);
            if let Some((client_code, appointment_id)) = ended {
                let _ = app.emit(
                    "write-note",
                    WriteNote {
                        client_code,
                        appointment_id,
                    },
                );
            }
            if let Some(items) = app.try_state::<TrayItems>() {
                let _ = items.write_note.set_enabled(false);
            }
            Ok(())
        }
        "clock_window" => crate::clock_window::show(app),
        "open" => {
            show_main(app);
            Ok(())
        }
        "lock" => {
            crate::session_clock::want_lock(app, &state, true);
            Ok(())
        }
        "quit" => {
            // An End still waiting for its Undo time is sent, not lost.
            if let Some(pressed) = app.state::<DelayedEnd>().take() {
                let _ = commands::end_session(app, &state, Some(pressed));
            }
            app.exit(0);
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        notices::show(app, e.message);
        show_main(app);
    }
}

/// End pressed in the tray: "Ended · Undo" for [`UNDO_SECONDS`], then the session ends at
/// the moment End was pressed (unless undone, or ended some other way meanwhile).
fn end_after_undo_time(app: &AppHandle, state: &AppState) {
    let Some(generation) = app.state::<DelayedEnd>().request(chrono::Utc::now()) else {
        return;
    };
    refresh(app, state);
    let app = app.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(UNDO_SECONDS));
        let Some(pressed) = app.state::<DelayedEnd>().due(generation) else {
            return;
        };
        let state = app.state::<AppState>();
        if let Err(e) = commands::end_session(&app, &state, Some(pressed)) {
            notices::show(&app, e.message);
        }
        refresh(&app, &state);
    });
}

/// Shows the clock's current reading in the tray now (not waiting for the next change).
fn refresh(app: &AppHandle, state: &AppState) {
    let view = crate::session_clock::view(state, &crate::state::guard(&state.clock));
    show(app, &view);
}

/// Brings the main window forward; if it was closed (the app lives on in the tray or the
/// clock window), opens it again as configured.
pub fn show_main(app: &AppHandle) {
    let window = app.get_webview_window("main").or_else(|| {
        let config = app
            .config()
            .app
            .windows
            .iter()
            .find(|w| w.label == "main")?;
        tauri::WebviewWindowBuilder::from_config(app, config)
            .and_then(|b| b.build())
            .ok()
    });
    if let Some(w) = window {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Puts the reading in the tray: title (where shown) and the menu's first line.
pub fn show(app: &AppHandle, v: &ClockView) {
    let Some(items) = app.try_state::<TrayItems>() else {
        return;
    };
    let r = &v.reading;
    let (line, title) = if r.running {
        let secs = r.remaining_seconds.unwrap_or(0);
        if secs < 0 {
            (
                format!("Overrun {}", mmss(-secs)),
                format!("+{}", mmss(-secs)),
            )
        } else {
            (format!("Session: {} left", r.display), r.display.clone())
        }
    } else if let Some(next) = &r.next {
        let at = next.starts_at.with_timezone(&Local).format("%H:%M");
        (format!("Next session at {at}"), String::new())
    } else {
        ("No session running".to_string(), String::new())
    };
    let _ = items.time.set_text(line);
    let delayed = app.try_state::<DelayedEnd>();
    if !r.running
        && let Some(d) = &delayed
    {
        d.clear();
    }
    let ending = delayed.is_some_and(|d| d.pending());
    let _ = items.start_end.set_text(if ending {
        "Ended · Undo"
    } else if r.running {
        "End session"
    } else if r.next.is_some() {
        "Start next session"
    } else {
        "Start session"
    });
    let _ = items.extend.set_enabled(r.running);
    // A client's session that ended: its note is one click away, until another starts.
    if let Some(last) = app.try_state::<LastSession>() {
        let mut running = crate::state::guard(&last.running);
        let mut ended = crate::state::guard(&last.ended);
        if r.running {
            *running = v.client_code.clone().zip(r.appointment_id.clone());
            *ended = None;
        } else if let Some(s) = running.take() {
            *ended = Some(s);
        }
        let _ = items.write_note.set_enabled(ended.is_some());
    }
    if let Some(tray) = app.tray_by_id("casebook") {
        let _ = tray.set_title(if title.is_empty() { None } else { Some(title) });
    }
}
