//! Sync in the background while the records are open: the same runs as `casebook sync watch`
//! (after a local edit, when another computer's change reaches the server, and every few
//! minutes), on a thread of its own.
//!
//! **The vault is never held across network I/O.** A run is three steps
//! ([`casebook_sync::practice`]): `begin` seals and lists with the vault, `exchange` talks to
//! the server with the vault free, `finish` applies with the vault again. The window's commands
//! wait at most for one of the short vault steps. Nothing here counts as activity, so
//! background sync never keeps the records from auto-locking; while locked nothing runs (the
//! keys are gone), and the first run after an unlock catches up.
//!
//! Each run is reported to the window as a `sync-ran` event (counts and a worded error only:
//! never a name or a note), so screens can refresh when other computers' changes arrive.
//!
//! **A computer joined by code catches up here.** Its records open as soon as the restored
//! backup is in, held read-only ([`Vault::set_catching_up`], set at unlock by
//! `AppState::after_unlock`) while the runs fetch the other computers' changes since, a
//! step at a time with progress, one run after another. The hold is lifted when a run has
//! reached the state the computer that added it signed — or when a run fails (offline, an
//! alarm): the strip then says why, and the therapist is not kept from their records.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use casebook_core::Vault;
use casebook_sync::engine::{RemoteError, Report, SyncError};
use casebook_sync::watch::{Timing, Waiter, Wake};
use casebook_sync::{adding, practice};
use serde::Serialize;

use crate::state::AppState;

/// What the window hears after each run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SyncRan {
    pub wake: Wake,
    /// Other computers' change batches received and verified.
    pub received: usize,
    /// Changes applied to the records here (0: nothing on screen changed).
    pub applied_changes: usize,
    pub sent: usize,
    pub conflicts: usize,
    /// Why the run did not finish, worded for a person; `alarm` names a server that misbehaved.
    pub error: Option<String>,
    pub alarm: Option<String>,
    /// The alarm in plain words, for the therapist.
    pub alarm_words: Option<String>,
    /// The server could not be reached: changes wait here ("Offline").
    pub offline: bool,
    /// This computer was removed from the practice's computers.
    pub revoked: bool,
    /// Still catching up after joining (the records read-only): change batches fetched so
    /// far, and of how many.
    pub catching_up: Option<CatchUp>,
}

/// A joined computer's catch-up so far, in change batches (blobs).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct CatchUp {
    pub done: u64,
    pub total: u64,
}

impl SyncRan {
    fn of(wake: Wake, result: &Result<Report, SyncError>) -> SyncRan {
        match result {
            Ok(r) => SyncRan {
                wake,
                received: r.received,
                applied_changes: r.applied_changes,
                sent: r.sent,
                conflicts: r.conflicts,
                error: None,
                alarm: None,
                alarm_words: None,
                offline: false,
                revoked: false,
                catching_up: None,
            },
            Err(e) => SyncRan {
                wake,
                received: 0,
                applied_changes: 0,
                sent: 0,
                conflicts: 0,
                error: Some(
                    e.to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                alarm: match e {
                    SyncError::Alarm(a) => Some(a.name().to_string()),
                    _ => None,
                },
                alarm_words: match e {
                    SyncError::Alarm(a) => Some(a.plain().to_string()),
                    _ => None,
                },
                offline: matches!(e, SyncError::Remote(RemoteError::Unreachable(_))),
                revoked: matches!(e, SyncError::Remote(RemoteError::Revoked)),
                catching_up: None,
            },
        }
    }
}

/// Runs `f` on the open vault, without counting as the therapist's activity; `None` when the
/// records are locked.
fn with_open_vault<T>(state: &AppState, f: impl FnOnce(&mut Vault) -> T) -> Option<T> {
    state.with_vault_quietly(|v| Ok(f(v))).ok()
}

/// One run, the vault held only for its first and last steps. `None` when the records are
/// locked (before or during the run) or sync is not on for this computer. While the records
/// are held read-only after a join, the run fetches one step of the catch-up, and lifts the
/// hold once caught up (or failed: see the module's notes).
pub fn run_once(state: &AppState) -> Option<Result<Report, SyncError>> {
    let begun = with_open_vault(state, |vault| -> Option<Result<_, SyncError>> {
        let step = vault.catching_up().unwrap_or(false);
        match practice::is_on(vault) {
            Ok(false) => None,
            Ok(true) => Some(
                practice::begin(vault)
                    .map(|b| if step { b.in_steps() } else { b })
                    .map_err(|e| practice::note_failure(vault, e)),
            ),
            Err(e) => Some(Err(e)),
        }
    })??;
    let begun = match begun {
        Ok(b) => b,
        Err(e) => return Some(Err(lift_hold(state, e))),
    };
    let exchanged = begun.exchange();
    // Locked while the server was being talked to: what came back is dropped unapplied, and
    // the blobs sent are sent again (the same bytes, which the server accepts) next time.
    with_open_vault(state, |vault| {
        let result = practice::finish(vault, exchanged);
        // Caught up (the signed state reached), or failed: the hold goes.
        if result.is_err() || !adding::joining(vault).unwrap_or(false) {
            release_hold(vault);
        }
        result
    })
}

/// A run that could not begin (offline, refused) ends a join's read-only hold: the strip
/// says why, and the records are not kept from the therapist meanwhile.
fn lift_hold(state: &AppState, e: SyncError) -> SyncError {
    if matches!(e, SyncError::Remote(RemoteError::Busy)) {
        return e; // another run has the vault's sync for a moment: not a failure
    }
    with_open_vault(state, release_hold);
    e
}

/// Ends a join's read-only hold, if there is one (a failure to drop it is a failure to
/// drop temporary triggers, which go with the connection anyway).
fn release_hold(vault: &mut Vault) {
    if vault.catching_up().unwrap_or(false) {
        let _ = vault.set_catching_up(false);
    }
}

/// For the end-to-end run's screenshot of a join catching up, which is otherwise over in a
/// moment: `CASEBOOK_CATCH_UP_PAUSE_MS` waits that long (at most 10 s) before each step.
fn pause_before_catch_up_step() {
    if let Some(ms) = std::env::var("CASEBOOK_CATCH_UP_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms.min(10_000)));
    }
}

/// Whether the records are held read-only while this computer catches up.
pub fn catching_up(state: &AppState) -> bool {
    with_open_vault(state, |v| v.catching_up().unwrap_or(false)).unwrap_or(false)
}

/// Sends what was made here and is not on the server yet, in one run — waiting for a run
/// already under way (another process's, or this app's own in the background) for at most
/// `patience`. Returns the changes still waiting: 0 once the server holds everything, or
/// when sync is off or the records are locked.
pub fn send_pending(state: &AppState, patience: Duration) -> Result<u64, SyncError> {
    let pending = || -> Result<u64, SyncError> {
        with_open_vault(state, |v| {
            if !practice::is_on(v)? {
                return Ok(0);
            }
            casebook_sync::engine::pending_changes(v)
        })
        .unwrap_or(Ok(0))
    };
    let until = std::time::Instant::now() + patience;
    loop {
        if pending()? == 0 {
            return Ok(0);
        }
        match run_once(state) {
            Some(Err(SyncError::Remote(RemoteError::Busy)))
                if std::time::Instant::now() < until =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => return pending(),
        }
    }
}

/// The change capture's mark, if the vault is open and free this instant (never waits for it).
fn change_mark(state: &AppState) -> Result<Option<(i64, i64)>, SyncError> {
    let Some(slot) = state.try_vault_slot() else {
        return Ok(None);
    };
    match slot.as_ref() {
        Some(vault) => Ok(Some(vault.change_mark()?)),
        None => Ok(None),
    }
}

/// Where to long-poll: the vault's server and this computer's id, if sync is on here.
fn sync_target(state: &AppState) -> Option<(casebook_core::offsite::ServerClient, String)> {
    with_open_vault(state, |vault| {
        if !practice::is_on(vault).unwrap_or(false) {
            return None;
        }
        let (settings, client) = vault.server_connection().ok()?;
        Some((client, settings.device_id))
    })
    .flatten()
}

/// Syncs while the records are open, until `stop`; `ran` hears about every run. (The app
/// calls this on a thread of its own; tests call it with shorter timings.)
pub fn keep_in_sync(
    state: &AppState,
    timing: &Timing,
    stop: &AtomicBool,
    mut ran: impl FnMut(SyncRan),
) {
    let idle = timing.local_check.max(Duration::from_millis(200));
    let mut waiter: Option<Waiter> = None;
    let mut wake = Wake::Start;
    // A join's catch-up: change batches fetched so far.
    let mut caught = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if !state.is_unlocked() {
            // Locked: the long-poll's connection goes too; the unlock's first run catches up.
            waiter = None;
            wake = Wake::Start;
            std::thread::sleep(idle);
            continue;
        }
        if waiter.is_none() {
            match sync_target(state) {
                Some((client, me)) => waiter = Some(Waiter::new(client, &me, timing.clone())),
                None => {
                    // Not connected, or sync not on here: look again in a while. A join's
                    // read-only hold cannot be lifted by catching up then: it goes now.
                    if catching_up(state) {
                        with_open_vault(state, release_hold);
                        // The window hears it (its banner goes), as after a run.
                        ran(SyncRan {
                            error: Some(
                                "this computer's sync connection could not be read, so it stopped catching up; the records can be changed again".into(),
                            ),
                            ..SyncRan::of(wake, &Ok(Report::default()))
                        });
                    }
                    std::thread::sleep(idle * 10);
                    continue;
                }
            }
        }
        let Some(w) = waiter.as_mut() else { continue };
        if let Some(Ok(Some(mark))) = with_open_vault(state, |v| v.change_mark().map(Some)) {
            w.run_starts(mark);
        }
        let mut more = false;
        if catching_up(state) {
            pause_before_catch_up_step();
        }
        match run_once(state) {
            // Another run (the CLI, removing a computer) has the vault's sync for a moment:
            // no news, not a failure; the next wake tries again.
            Some(Err(SyncError::Remote(RemoteError::Busy))) | None => {}
            Some(result) => {
                let mut r = SyncRan::of(wake, &result);
                if let Ok(report) = &result
                    && catching_up(state)
                {
                    if report.received == 0 {
                        // A step that brought nothing while more is listed: catching up
                        // makes no progress (a server that lists more than it serves), so
                        // the hold goes; the state is still checked at a later run.
                        with_open_vault(state, release_hold);
                        caught = 0;
                    } else {
                        caught += report.received as u64;
                        r.catching_up = Some(CatchUp {
                            done: caught,
                            total: caught + report.remaining,
                        });
                        // The next step at once, not at the next wake.
                        more = true;
                    }
                } else {
                    caught = 0;
                }
                ran(r);
            }
        }
        if more {
            continue;
        }
        match w.next(
            || change_mark(state),
            || stop.load(Ordering::SeqCst) || !state.is_unlocked(),
        ) {
            Ok(Some(next)) => wake = next,
            Ok(None) => {}
            Err(e) => {
                // The server no longer accepts this computer: say so, and look again later
                // (connecting again from Settings starts afresh).
                ran(SyncRan::of(wake, &Err(e)));
                waiter = None;
                std::thread::sleep(timing.at_least_every);
            }
        }
    }
}

/// How long sync may keep failing (unreachable, refused) before the therapist is told.
pub const FAILING_TOO_LONG: Duration = Duration::from_secs(24 * 60 * 60);

/// Decides which runs are worth a desktop notification: only what needs the therapist — an
/// alarm (once, until a run succeeds again), this computer revoked (once), and sync failing
/// for more than a day since it last worked (once, until it works again; a failure just
/// after a weekend away counts only if the last success was a day before). Everything else
/// shows in the strip.
#[derive(Debug, Default)]
pub struct Notifier {
    alarm: Option<String>,
    told_revoked: bool,
    failing_since: Option<std::time::SystemTime>,
    told_failing: bool,
}

impl Notifier {
    /// The notification to show for `ran`, heard at `now`: a title and a sentence.
    /// `last_success`: when this computer last synced (however long ago: a failing day is
    /// counted from there, or from the first failure heard if it never did).
    pub fn hear(
        &mut self,
        ran: &SyncRan,
        now: std::time::SystemTime,
        last_success: Option<std::time::SystemTime>,
    ) -> Option<(&'static str, String)> {
        if ran.error.is_none() {
            *self = Notifier {
                told_revoked: self.told_revoked,
                ..Notifier::default()
            };
            return None;
        }
        let first_failure = *self.failing_since.get_or_insert(now);
        let since = last_success.unwrap_or(first_failure);
        if let Some(words) = &ran.alarm_words {
            if self.alarm.as_deref() == Some(words) {
                return None;
            }
            self.alarm = Some(words.clone());
            return Some(("Sync needs attention", words.clone()));
        }
        if ran.revoked {
            if self.told_revoked {
                return None;
            }
            self.told_revoked = true;
            return Some((
                "This computer was removed from the practice",
                "It no longer syncs with the practice's other computers. The records already here stay readable; if that was not you, change the server account's password.".into(),
            ));
        }
        if !self.told_failing && now.duration_since(since).unwrap_or_default() >= FAILING_TOO_LONG {
            self.told_failing = true;
            return Some((
                "Sync has not worked for a day",
                "Changes made here are kept here and will be sent when sync works again. Settings → Computers says why.".into(),
            ));
        }
        None
    }
}

/// Starts background sync for the app's life.
pub fn start(app: tauri::AppHandle) {
    use tauri::{Emitter, Manager};
    let stop = Arc::new(AtomicBool::new(false));
    let _ = std::thread::Builder::new()
        .name("casebook-sync".into())
        .spawn(move || {
            let state = app.state::<AppState>();
            let mut notifier = Notifier::default();
            keep_in_sync(&state, &Timing::default(), &stop, |ran| {
                let last_success = casebook_core::sync_state::last_synced(&state.vault_dir)
                    .map(|s| std::time::UNIX_EPOCH + Duration::from_secs(s));
                if let Some((title, words)) =
                    notifier.hear(&ran, std::time::SystemTime::now(), last_success)
                {
                    crate::notices::notify(&app, title, words);
                }
                let _ = app.emit("sync-ran", ran);
            });
        });
}
