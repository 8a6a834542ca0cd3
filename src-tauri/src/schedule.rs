//! The app's one timer: each second the session clock, each whole minute the jobs that may
//! be due (a backup, the off-site copy, the calendar's automatic refresh). The jobs know
//! nothing of each other or of this timer; this is the one place that says when each runs.
//! (Sync runs on its own thread: it waits on the server's long-poll, not on a timer;
//! [`crate::background_sync`].)

use std::time::Duration;

use chrono::{Timelike, Utc};
use tauri::AppHandle;

use crate::{backups, calendar, session_clock};

/// Starts the timer thread.
pub fn start(app: AppHandle) {
    std::thread::spawn(move || {
        loop {
            // Wake just after each whole second so mm:ss changes evenly.
            let ms = 1000 - u64::from(Utc::now().timestamp_subsec_millis()).min(999);
            std::thread::sleep(Duration::from_millis(ms + 5));
            session_clock::tick(&app);
            if Utc::now().second() == 0 {
                backups::run_if_due(&app);
                backups::offsite::run_if_due(&app);
                calendar::refresh_if_due(&app);
            }
        }
    });
}
