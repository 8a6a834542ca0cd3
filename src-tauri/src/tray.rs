//! The tray icon and its menu. On Linux a tray *title* shows only on AppIndicator hosts and
//! tooltips do nothing, so the live time is also the menu's first line.

use casebook_core::clock::mmss;
use chrono::Local;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Wry};

use crate::commands;
use crate::session_clock::{ClockView, Notice};
use crate::state::AppState;

/// The menu items whose text changes with the clock.
pub struct TrayItems {
    pub time: MenuItem<Wry>,
    pub start_end: MenuItem<Wry>,
    pub extend: MenuItem<Wry>,
}

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let time = MenuItem::with_id(app, "time", "No session running", false, None::<&str>)?;
    let start_end = MenuItem::with_id(app, "start_end", "Start session", true, None::<&str>)?;
    let extend = MenuItem::with_id(app, "extend", "+5 min", false, None::<&str>)?;
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
            &start_end,
            &extend,
            &clock_window,
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
    });
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    let state = app.state::<AppState>();
    let result = match id {
        "start_end" => {
            let running = crate::state::guard(&state.clock).clock.running().is_some();
            if running {
                commands::end_session(app, &state, None).map(|_| ())
            } else {
                commands::start_next_or_adhoc(app, &state).map(|_| ())
            }
        }
        "extend" => commands::extend_session(app, &state).map(|_| ()),
        "clock_window" => commands::show_clock_window(app).map(|_| ()),
        "open" => {
            show_main(app);
            Ok(())
        }
        "lock" => {
            crate::session_clock::want_lock(app, &state, true);
            Ok(())
        }
        "quit" => {
            app.exit(0);
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        let _ = app.emit("notice", Notice { message: e.message });
        show_main(app);
    }
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
    let _ = items.start_end.set_text(if r.running {
        "End session"
    } else if r.next.is_some() {
        "Start next session"
    } else {
        "Start session"
    });
    let _ = items.extend.set_enabled(r.running);
    if let Some(tray) = app.tray_by_id("casebook") {
        let _ = tray.set_title(if title.is_empty() { None } else { Some(title) });
    }
}
