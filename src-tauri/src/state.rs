//! What the app holds while it runs: the vault (only while unlocked), the session clock
//! with today's booked times, the therapist's preferences, and when they were last active.
//!
//! Lock order, to keep clear of deadlocks: `vault` before `clock`.
//!
//! **Locking never waits for the vault.** A long task (a backup writing to a stalled
//! network folder, say) holds the vault's mutex; Lock must still clear the screen at once.
//! So whether the records are open is an atomic flag, [`AppState::is_unlocked`], turned
//! off first by [`AppState::lock`]; every way to the vault ([`AppState::vault_slot`],
//! [`AppState::with_vault`]) checks it and drops a vault that should no longer be open, and
//! the ticker drops it as soon as the mutex is free ([`AppState::drop_if_locked`]), so the
//! keys leave memory the moment the task lets go.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Instant;

use casebook_core::{ClockKey, DayAppointment, Preferences, SessionClock, Slot, Unrecorded, Vault};
use chrono::{DateTime, Duration, Local, NaiveDate, TimeZone, Utc};

use crate::error::{UiError, UiResult};

/// Who an appointment is with; held only while the vault is unlocked.
#[derive(Clone)]
pub struct Label {
    pub client_code: String,
    pub client_name: Option<String>,
}

#[derive(Default)]
pub struct ClockState {
    pub clock: SessionClock,
    /// Today's booked sessions still on (times only: kept while locked).
    pub upcoming: Vec<Slot>,
    /// Appointment id → client, for the clock's display. Emptied on lock.
    pub labels: HashMap<String, Label>,
    /// The local day `upcoming` was loaded for (after midnight it is reloaded).
    pub day: Option<NaiveDate>,
    /// A session running on another computer of the practice, as last read from the records
    /// (`session_clock` looks every few seconds while unlocked). Emptied on lock.
    pub elsewhere: Option<Elsewhere>,
}

/// A session running on another computer of the practice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elsewhere {
    pub run: String,
    /// That computer's name in the practice's list.
    pub computer: String,
    pub appointment_id: Option<String>,
    pub started_at: chrono::DateTime<Utc>,
    pub ends_at: chrono::DateTime<Utc>,
}

pub struct AppState {
    pub vault_dir: PathBuf,
    /// The unlocked vault. Reached only through [`AppState::vault_slot`] and friends, which
    /// honour [`AppState::is_unlocked`].
    vault: Mutex<Option<Vault>>,
    /// Whether the records are open for the window. Turned off at once by a lock, even
    /// while a long task still holds the vault.
    unlocked: AtomicBool,
    /// Counts locks, so an unlock that was under way when a lock came does not open the
    /// records again behind the lock screen ([`AppState::install`]).
    lock_epoch: AtomicU64,
    /// Authenticates the clock's file ([`casebook_core::clock`]); learnt at the first
    /// unlock and kept while locked (it opens nothing), so the clock works through a lock.
    clock_key: Mutex<Option<ClockKey>>,
    pub clock: Mutex<ClockState>,
    pub prefs: Mutex<Preferences>,
    /// When the therapist was last active: by the monotonic clock and by the wall clock
    /// (the monotonic one stops while the computer sleeps; a night asleep must still lock).
    pub last_activity: Mutex<(Instant, DateTime<Utc>)>,
    /// A calendar preview waiting for confirmation, and the automatic refresh's timing.
    pub calendar: crate::calendar_preview::CalendarState,
    /// When the window was asked to lock (tray Lock, auto-lock), so that it could save
    /// typing still waiting first; the ticker locks anyway after [`LOCK_GRACE`].
    pub lock_asked: Mutex<Option<Instant>>,
}

/// How long the window has to save and lock by itself before the vault is locked anyway
/// (the window gives a hanging save 3 s).
pub const LOCK_GRACE: std::time::Duration = std::time::Duration::from_millis(4000);

/// What to do about a lock someone or something wants.
#[derive(Debug, PartialEq, Eq)]
pub enum LockStep {
    /// Ask the window to lock (it saves pending typing first).
    AskWindow,
    /// The window did not lock in time (or is gone): lock now.
    LockNow,
    Nothing,
}

/// When a local day starts, in UTC. Where the clocks change at midnight the day starts at
/// the first hour that exists.
pub(crate) fn local_start(day: NaiveDate) -> UiResult<DateTime<Utc>> {
    (0..=2)
        .find_map(|h| {
            Local
                .from_local_datetime(&day.and_hms_opt(h, 0, 0)?)
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| UiError::invalid("that day cannot be placed in this time zone"))
}

/// Locks a mutex even if a panicking thread poisoned it (the data is still consistent:
/// every change under these locks is a single assignment or a core call).
pub fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    pub fn new(vault_dir: PathBuf) -> Self {
        let prefs = Preferences::load(&vault_dir)
            .and_then(|p| p.checked())
            .unwrap_or_default();
        let clock = SessionClock::load(&vault_dir).unwrap_or_else(|_| {
            // Keep an unreadable clock file (it may hold unrecorded session ends) rather
            // than overwrite it at the next save.
            let path = vault_dir.join("session-clock.json");
            let aside = vault_dir.join(format!(
                "session-clock.json.unreadable-{}",
                Utc::now().timestamp()
            ));
            let _ = std::fs::rename(path, aside);
            SessionClock::new()
        });
        AppState {
            vault_dir,
            vault: Mutex::new(None),
            unlocked: AtomicBool::new(false),
            lock_epoch: AtomicU64::new(0),
            clock_key: Mutex::new(None),
            clock: Mutex::new(ClockState {
                clock,
                ..ClockState::default()
            }),
            prefs: Mutex::new(prefs),
            last_activity: Mutex::new((Instant::now(), Utc::now())),
            calendar: Default::default(),
            lock_asked: Mutex::new(None),
        }
    }

    pub fn touch(&self) {
        *guard(&self.last_activity) = (Instant::now(), Utc::now());
    }

    /// How long since the last activity, counting time asleep.
    pub fn idle(&self) -> std::time::Duration {
        let (mono, wall) = *guard(&self.last_activity);
        let wall = (Utc::now() - wall).to_std().unwrap_or_default();
        mono.elapsed().max(wall)
    }

    pub fn prefs(&self) -> Preferences {
        guard(&self.prefs).clone()
    }

    /// Whether the records are open (false from the moment a lock was asked for).
    pub fn is_unlocked(&self) -> bool {
        self.unlocked.load(Ordering::SeqCst)
    }

    /// A vault the window should no longer see is dropped (and its keys with it).
    fn checked<'a>(
        &self,
        mut slot: MutexGuard<'a, Option<Vault>>,
    ) -> MutexGuard<'a, Option<Vault>> {
        if !self.is_unlocked() {
            *slot = None;
        }
        slot
    }

    /// The vault's slot, waiting for a task that holds it: `None` inside when locked.
    pub fn vault_slot(&self) -> MutexGuard<'_, Option<Vault>> {
        self.checked(guard(&self.vault))
    }

    /// The vault's slot if no task holds it now; `None` when busy.
    pub fn try_vault_slot(&self) -> Option<MutexGuard<'_, Option<Vault>>> {
        match self.vault.try_lock() {
            Ok(v) => Some(self.checked(v)),
            Err(TryLockError::Poisoned(p)) => Some(self.checked(p.into_inner())),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Which lock the records are after: read before an unlock begins, given to
    /// [`AppState::install`].
    pub fn lock_epoch(&self) -> u64 {
        self.lock_epoch.load(Ordering::SeqCst)
    }

    /// Puts a vault just opened in its slot (held by the caller) and opens the records —
    /// unless a lock came since `epoch` was read: then the vault is dropped and the answer
    /// is "locked", so the window's lock screen and the records agree.
    pub fn install(
        &self,
        slot: &mut MutexGuard<'_, Option<Vault>>,
        vault: Vault,
        epoch: u64,
    ) -> UiResult<()> {
        *guard(&self.clock_key) = Some(vault.clock_key());
        if self.lock_epoch() != epoch {
            **slot = None;
            return Err(UiError::locked());
        }
        **slot = Some(vault);
        self.unlocked.store(true, Ordering::SeqCst);
        if self.lock_epoch() != epoch {
            // A lock came while this one was being put in place: it wins.
            self.unlocked.store(false, Ordering::SeqCst);
            **slot = None;
            return Err(UiError::locked());
        }
        Ok(())
    }

    /// Whether the slot holds a vault, read without any of the checks above (`None` while
    /// a task holds it): for tests that must see the keys really go.
    #[doc(hidden)]
    pub fn slot_holds_vault(&self) -> Option<bool> {
        match self.vault.try_lock() {
            Ok(v) => Some(v.is_some()),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner().is_some()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Keeps a calendar preview (it holds names) only while the records are open: checked
    /// under the same mutex that a lock clears, so a lock can never be overtaken.
    pub fn keep_calendar_preview(
        &self,
        pending: crate::calendar_preview::PendingImport,
    ) -> UiResult<()> {
        let mut slot = guard(&self.calendar.pending);
        if !self.is_unlocked() {
            return Err(UiError::locked());
        }
        *slot = Some(pending);
        Ok(())
    }

    /// Runs `f` on the unlocked vault, or fails with "locked" — at once when a lock was
    /// asked for, without waiting for a task that still holds the vault.
    pub fn with_vault<T>(&self, f: impl FnOnce(&mut Vault) -> UiResult<T>) -> UiResult<T> {
        if !self.is_unlocked() {
            return Err(UiError::locked());
        }
        self.touch();
        let mut v = self.vault_slot();
        let vault = v.as_mut().ok_or_else(UiError::locked)?;
        f(vault)
    }

    /// [`AppState::with_vault`] for work the app does by itself (background sync, a screen
    /// refreshing after it): it does not count as the therapist's activity, so it never keeps
    /// the records from auto-locking.
    pub fn with_vault_quietly<T>(&self, f: impl FnOnce(&mut Vault) -> UiResult<T>) -> UiResult<T> {
        if !self.is_unlocked() {
            return Err(UiError::locked());
        }
        let mut v = self.vault_slot();
        let vault = v.as_mut().ok_or_else(UiError::locked)?;
        f(vault)
    }

    /// Called by the ticker: once a task has let go of a vault that was locked meanwhile,
    /// drops it (and the keys) now.
    pub fn drop_if_locked(&self) {
        if !self.is_unlocked() {
            drop(self.try_vault_slot());
        }
    }

    /// Saves the clock (it must survive a restart); a failure is reported, not fatal.
    pub fn save_clock(&self, c: &mut ClockState) -> UiResult<()> {
        let key = guard(&self.clock_key).clone();
        c.clock
            .save(&self.vault_dir, key.as_ref())
            .map_err(UiError::from)
    }

    /// After an unlock: records the unlock and the starts and ends made while locked.
    /// (The caller then loads the day with [`AppState::load_day`].)
    /// Returns messages for anything that could not be recorded.
    pub fn after_unlock(&self, vault: &mut Vault) -> Vec<String> {
        let mut problems: Vec<String> = vault.copied_notice().into_iter().collect();
        if let Err(e) = vault.record_unlock() {
            problems.push(UiError::from(e).message);
        }
        // From now on the clock's file is saved authenticated.
        *guard(&self.clock_key) = Some(vault.clock_key());
        let mut c = guard(&self.clock);
        // The clock file was read before the key was known: check it now.
        let found = c.clock.authenticate(&vault.clock_key());
        if found.any() {
            problems.push(format!(
                "The session clock's file was not written by Casebook (changed outside it, or \
                 after a restart while locked): {} waiting start(s) or end(s) were not recorded{}.",
                found.dropped,
                if found.running {
                    ", and the running session's end will not be recorded"
                } else {
                    ""
                }
            ));
        }
        problems.extend(self.record_deferred(vault, &mut c));
        if let Err(e) = self.save_clock(&mut c) {
            problems.push(e.message);
        }
        // Joined by code and not caught up yet: read-only until background sync has
        // (`background_sync` lifts it).
        if casebook_sync::adding::joining(vault).unwrap_or(false)
            && casebook_sync::practice::is_on(vault).unwrap_or(false)
            && let Err(e) = vault.set_catching_up(true)
        {
            problems.push(UiError::from(e).message);
        }
        problems
    }

    /// Records the starts and ends the clock kept while the vault was locked or busy.
    pub fn record_deferred(&self, vault: &mut Vault, c: &mut ClockState) -> Vec<String> {
        let mut problems = Vec::new();
        // Read-only while catching up after a join: they wait until it has.
        if vault.catching_up().unwrap_or(false) {
            return problems;
        }
        for record in c.clock.take_unrecorded() {
            let result = match &record {
                Unrecorded::Start {
                    appointment_id,
                    minutes,
                    started_at,
                } => vault
                    .start_session_at(appointment_id.as_deref(), *minutes, *started_at)
                    .map(|_| ()),
                Unrecorded::End { ran, ended_at } => vault.end_session(ran, *ended_at),
            };
            if let Err(e) = result {
                let e = UiError::from(e);
                // Keep it for the next unlock unless it can never be recorded.
                if !matches!(e.kind, "not_found" | "invalid_input" | "conflict") {
                    c.clock.defer(record);
                }
                problems.push(format!(
                    "A session change made while locked could not be recorded: {}",
                    e.message
                ));
            }
        }
        problems
    }

    /// Today's (or another day's) sessions; when it is today, the clock learns them too.
    pub fn load_day(&self, vault: &mut Vault, day: NaiveDate) -> UiResult<Vec<DayAppointment>> {
        self.load_day_as_of(vault, day, Local::now().date_naive())
    }

    /// [`AppState::load_day`] with today given (tests choose it).
    fn load_day_as_of(
        &self,
        vault: &mut Vault,
        day: NaiveDate,
        today: NaiveDate,
    ) -> UiResult<Vec<DayAppointment>> {
        let (from, to) = (local_start(day)?, local_start(day + Duration::days(1))?);
        let list = vault.schedule(from, to)?;
        if day == today {
            let mut c = guard(&self.clock);
            // Names are learnt only while the records are open: checked under the clock's
            // mutex, which a lock takes to forget them, so a lock is never overtaken.
            if !self.is_unlocked() {
                return Ok(list);
            }
            c.day = Some(day);
            c.upcoming = list
                .iter()
                .filter(|d| !d.appointment.status.is_cancelled())
                .map(DayAppointment::slot)
                .collect();
            // A session running across midnight keeps who it is with.
            let running = c
                .clock
                .running()
                .and_then(|r| r.appointment_id.clone())
                .and_then(|id| c.labels.get(&id).cloned().map(|l| (id, l)));
            c.labels = list
                .iter()
                .map(|d| {
                    (
                        d.appointment.id.clone(),
                        Label {
                            client_code: d.appointment.client_code.clone(),
                            client_name: d.client_name.clone(),
                        },
                    )
                })
                .chain(running)
                .collect();
        }
        Ok(list)
    }

    /// When the day has turned since the clock learnt its sessions (the app left open past
    /// midnight), learns the new day's, so "next session" and the gap follow the new day.
    /// Needs the vault unlocked and not busy; otherwise waits for a later tick (an unlock
    /// loads the day anyway). `Some` when it tried: the new day was loaded, or why not.
    pub fn refresh_day(&self, today: NaiveDate) -> Option<UiResult<()>> {
        if guard(&self.clock).day == Some(today) {
            return None;
        }
        let mut v = self.try_vault_slot()?;
        let vault = v.as_mut()?;
        let loaded = self.load_day_as_of(vault, today, today).map(|_| ());
        // Tried once for this day: a failure is reported, not retried every second.
        guard(&self.clock).day = Some(today);
        Some(loaded)
    }

    /// A lock is wanted now (the tray's Lock, or the idle limit reached): the first time,
    /// ask the window; once [`LOCK_GRACE`] has passed without the window locking, lock.
    /// `wanted` false only carries an earlier request through. Called every second by
    /// the ticker; never waits on a vault busy with a long task.
    pub fn lock_step(&self, wanted: bool, now: Instant) -> LockStep {
        let mut asked = guard(&self.lock_asked);
        if !self.is_unlocked() {
            *asked = None;
            return LockStep::Nothing;
        }
        match *asked {
            Some(at) if now.duration_since(at) >= LOCK_GRACE => LockStep::LockNow,
            Some(_) => LockStep::Nothing,
            None if wanted => {
                *asked = Some(now);
                LockStep::AskWindow
            }
            None => LockStep::Nothing,
        }
    }

    /// Closes the records at once and forgets who the clock's sessions are with; the vault
    /// (and with it the keys) is dropped now, or — if a task holds it — as soon as that
    /// task lets go. Never waits.
    pub fn lock(&self) {
        self.lock_epoch.fetch_add(1, Ordering::SeqCst);
        self.unlocked.store(false, Ordering::SeqCst);
        *guard(&self.lock_asked) = None;
        {
            let mut c = guard(&self.clock);
            c.labels.clear();
            c.elsewhere = None;
        }
        // The calendar preview holds names.
        *guard(&self.calendar.pending) = None;
        *guard(&self.calendar.last_auto) = None;
        self.drop_if_locked();
    }
}

/// Runs `f` on a blocking thread: for commands that wait on the network (the blocking HTTP
/// client must not run on the async runtime's own threads).
pub async fn blocking<T: Send + 'static>(
    app: tauri::AppHandle,
    f: impl FnOnce(&tauri::AppHandle, &AppState) -> UiResult<T> + Send + 'static,
) -> UiResult<T> {
    use tauri::Manager;
    tauri::async_runtime::spawn_blocking(move || {
        let state = app.state::<AppState>();
        f(&app, &state)
    })
    .await
    .map_err(|_| UiError::invalid("That could not be finished; nothing was changed. Try again."))?
}
