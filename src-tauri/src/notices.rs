//! Telling the therapist something from the background: a desktop notification, or a notice
//! in the window when the desktop cannot show one (no notification daemon) or when the
//! message belongs with the window (a save that failed). Every job uses it; it knows none.

use serde::Serialize;
use tauri::{AppHandle, Emitter};

/// A message the window shows when the desktop could not.
#[derive(Serialize, Clone)]
pub struct Notice {
    pub message: String,
}

/// Shows `message` in the window (the `notice` event).
pub fn show(app: &AppHandle, message: String) {
    let _ = app.emit("notice", Notice { message });
}

/// Shows a desktop notification off the main thread (notify-rust blocks on D-Bus). With no
/// notification daemon it fails: the message then goes to the window instead.
pub fn notify(app: &AppHandle, summary: &'static str, message: String) {
    let app = app.clone();
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Casebook")
            .summary(summary)
            .body(&message)
            .show();
        if shown.is_err() {
            show(&app, message);
        }
    });
}
