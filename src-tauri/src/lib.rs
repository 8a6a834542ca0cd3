//! # casebook-app
//!
//! The Casebook desktop app: a thin Tauri 2 shell. Everything a therapist's data goes
//! through is in `casebook-core`; this crate only wires it to windows, the tray and the
//! desktop's notifications.
//!
//! Its modules import each other one way only (`tests/shape.rs` checks it):
//!
//! * at the bottom, what the app holds and pieces every layer uses: [`state`] (the vault
//!   while unlocked, the clock, preferences), [`calendar_preview`] (a calendar preview
//!   waiting for confirmation), [`error`] (the error every command returns, worded for a
//!   person), [`notices`] (desktop notifications, or a notice in the window), [`inputs`]
//!   (checks of a new passphrase or a chosen place), [`memory`] (giving memory back when
//!   idle), [`rendering`] (how the webview draws without a GPU), [`instance`] (one app per
//!   vault);
//! * above it the jobs, each knowing only the bottom and none of the others:
//!   [`session_clock`] (the clock's second: notifications, auto-lock), [`backups`] (the
//!   Backups screen, the automatic backups, and [`backups::offsite`], the off-site copy and
//!   the first-run restore choices), [`calendar`] (Settings → Calendar and its automatic
//!   refresh), [`background_sync`] (sync with the practice's other computers while the
//!   records are open, never holding the vault across network I/O), [`delayed_end`] (the
//!   tray's "Ended · Undo"), [`clock_window`] (the pop-out clock);
//! * on top what the person drives, and the timer: [`commands`] (what the UI may call, one
//!   function per action, each calling the core), [`rights`] (the GDPR rights' commands),
//!   [`sync_screens`] (the sync strip, the practice's computers, conflicts),
//!   [`adding_screens`] (adding a computer by code, on both computers),
//!   [`tray`] (the tray icon and its menu; optional), [`schedule`] (the one timer: each
//!   second the clock, each minute the jobs that may be due).
//!
//! The vault folder is the OS data folder (as for the `casebook` command) unless
//! `CASEBOOK_VAULT` names another.

pub mod adding_screens;
pub mod background_sync;
pub mod backups;
pub mod calendar;
pub mod calendar_preview;
pub mod clock_window;
pub mod commands;
pub mod delayed_end;
pub mod error;
pub mod inputs;
pub mod instance;
pub mod memory;
pub mod notices;
pub mod rendering;
pub mod rights;
pub mod schedule;
pub mod session_clock;
pub mod state;
pub mod sync_screens;
pub mod tray;

use std::path::PathBuf;

use tauri::{Manager, WindowEvent};

use state::{AppState, guard};

/// Whether the tray icon could be made (closing the window hides it only then).
struct TrayPresent(bool);

fn vault_dir() -> PathBuf {
    std::env::var_os("CASEBOOK_VAULT")
        .map(PathBuf::from)
        .or_else(casebook_core::Vault::default_dir)
        .unwrap_or_else(|| PathBuf::from("casebook-vault"))
}

/// Builds and runs the app until the therapist quits.
pub fn run() {
    let vault_dir = vault_dir();
    let claim = match instance::claim(&vault_dir, instance::run_dir().as_deref()) {
        Ok(instance::Instance::First(claim)) => Some(claim),
        Ok(instance::Instance::Another(running)) => {
            match running.show() {
                Ok(()) => eprintln!(
                    "casebook: Casebook is already open on this vault; its window is brought forward"
                ),
                Err(e) => eprintln!(
                    "casebook: Casebook is already open on this vault (its window could not be brought forward: {e})"
                ),
            }
            return;
        }
        Err(e) => {
            eprintln!(
                "casebook: could not check for another Casebook on this vault ({e}); starting anyway"
            );
            None
        }
    };
    let app = tauri::Builder::default()
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(clock_window::REMEMBERED)
                .build(),
        )
        .plugin(tauri_plugin_dialog::init())
        // Only "Show in folder": no link-click script (it would call open_url, not granted).
        .plugin(
            tauri_plugin_opener::Builder::new()
                .open_js_links_on_click(false)
                .build(),
        )
        .manage(AppState::new(vault_dir))
        .manage(backups::offsite::PendingRestore::default())
        .manage(adding_screens::PendingPairing::default())
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::vault_create,
            commands::vault_unlock,
            commands::vault_recover,
            commands::vault_lock,
            commands::touch,
            commands::today,
            commands::clients_list,
            commands::client_add,
            commands::client_close,
            commands::client_file,
            commands::appointment_add,
            commands::appointment_mark,
            commands::clients_caseload,
            commands::appointment_series_add,
            commands::appointments_between,
            commands::appointment_move,
            commands::appointment_delete,
            commands::work_todo,
            commands::note_create,
            commands::note_save,
            commands::note_finalise,
            commands::note_set_risk,
            commands::note_discard,
            commands::note_addendum,
            commands::note_templates,
            commands::process_note_add,
            commands::instruments,
            commands::measure_add,
            commands::search,
            commands::audit_list,
            commands::audit_verify,
            commands::audit_export,
            commands::settings_get,
            commands::settings_set,
            commands::clock_view,
            commands::clock_start,
            commands::clock_extend,
            commands::clock_end,
            commands::clock_end_elsewhere,
            clock_window::clock_window,
            clock_window::clock_window_close,
            backups::backup_overview,
            backups::backup_now,
            backups::backup_verify,
            backups::backup_settings_set,
            backups::backup_restore,
            backups::offsite::server_check,
            backups::offsite::server_connect,
            backups::offsite::offsite_overview,
            backups::offsite::offsite_health,
            backups::offsite::offsite_backup_now,
            backups::offsite::offsite_verify,
            backups::offsite::offsite_restore,
            backups::offsite::offsite_schedule_set,
            backups::offsite::server_totp_start,
            backups::offsite::server_totp_confirm,
            backups::offsite::server_disconnect,
            backups::offsite::server_delete_account,
            backups::offsite::restore_file_first_run,
            backups::offsite::server_restore_sign_in,
            backups::offsite::server_restore_first_run,
            backups::offsite::server_restore_cancel,
            calendar::calendar_status,
            calendar::calendar_feed_set,
            calendar::calendar_refresh,
            calendar::calendar_preview_file,
            calendar::calendar_apply,
            calendar::calendar_discard,
            calendar::calendar_feed_remove,
            calendar::calendar_auto_refresh_set,
            sync_screens::sync_overview,
            sync_screens::sync_enable,
            sync_screens::sync_flush,
            sync_screens::sync_revoke,
            sync_screens::sync_rename,
            sync_screens::sync_conflicts,
            sync_screens::sync_resolve,
            adding_screens::pair_start,
            adding_screens::pair_poll,
            adding_screens::pair_answer,
            adding_screens::pair_cancel,
            adding_screens::join_by_code,
            adding_screens::join_poll,
            adding_screens::join_cancel,
            adding_screens::join_finish,
            rights::client_edit,
            rights::client_history,
            rights::client_erase,
            rights::retention_of,
            rights::retention_review,
            rights::retention_policy_get,
            rights::retention_policy_set,
            rights::practice_get,
            rights::practice_set,
            rights::retention_extend,
            rights::retention_destroy,
            rights::sar_list,
            rights::sar_open,
            rights::sar_create,
            rights::sar_close,
            rights::supervision_export,
        ])
        .setup(move |app| {
            // Without a tray host library the tray code can panic; Casebook then runs
            // without a tray (the clock strip and the clock window still work).
            let handle = app.handle().clone();
            let tray =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tray::build(&handle)));
            let present = matches!(tray, Ok(Ok(())));
            if !present {
                eprintln!(
                    "casebook: no system tray available; the session clock stays in the window"
                );
            }
            app.manage(TrayPresent(present));
            if let Some(mut claim) = claim {
                let handle = app.handle().clone();
                if let Err(e) = claim.serve(move || tray::show_main(&handle)) {
                    eprintln!("casebook: a second start cannot bring this window forward: {e}");
                }
                app.manage(claim);
            }
            schedule::start(app.handle().clone());
            background_sync::start(app.handle().clone());
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the main window during a session keeps the clock going in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == "main"
            {
                let state = window.state::<AppState>();
                let tray = window.try_state::<TrayPresent>().is_some_and(|t| t.0);
                if tray && guard(&state.clock).clock.running().is_some() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("casebook: the app could not start: {e}");
            std::process::exit(1);
        }
    }
}
