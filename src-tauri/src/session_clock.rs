//! The live side of the session clock: each second ([`crate::schedule`] calls [`tick`]) it
//! advances the core's state machine, sends the reading to the windows (and so to the tray,
//! which listens), raises desktop notifications, learns the new day's sessions after
//! midnight, and locks the vault after the idle time. It also keeps the clock shared with the
//! practice's other computers: a session running on one of them shows here, and this
//! computer's session ended on another ends here. Knows no other job.

use std::time::Duration as StdDuration;

use casebook_core::ClockReading;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};

use crate::notices;
use crate::state::{AppState, ClockState, Elsewhere, LockStep, guard};

/// What the windows show: the core's reading plus, while unlocked, who the session is with,
/// and a session running on another computer of the practice.
#[derive(Serialize, Clone, Debug)]
pub struct ClockView {
    #[serde(flatten)]
    pub reading: ClockReading,
    pub client_code: Option<String>,
    pub client_name: Option<String>,
    pub elsewhere: Option<ElsewhereView>,
}

/// "Session running on Laptop since 10:02".
#[derive(Serialize, Clone, Debug)]
pub struct ElsewhereView {
    pub run: String,
    pub computer: String,
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub client_code: Option<String>,
    pub client_name: Option<String>,
}

pub fn view(state: &AppState, c: &ClockState) -> ClockView {
    let reading = c.clock.reading(Utc::now(), &state.prefs(), &c.upcoming);
    let label = reading
        .appointment_id
        .as_ref()
        .and_then(|id| c.labels.get(id));
    let elsewhere = c.elsewhere.as_ref().map(|e| {
        let label = e.appointment_id.as_ref().and_then(|id| c.labels.get(id));
        ElsewhereView {
            run: e.run.clone(),
            computer: e.computer.clone(),
            started_at: e.started_at,
            ends_at: e.ends_at,
            client_code: label.map(|l| l.client_code.clone()),
            client_name: label.and_then(|l| l.client_name.clone()),
        }
    });
    ClockView {
        client_code: label.map(|l| l.client_code.clone()),
        client_name: label.and_then(|l| l.client_name.clone()),
        elsewhere,
        reading,
    }
}

/// How often the records are read for the clock shared with the other computers.
const SHARED_EVERY: StdDuration = StdDuration::from_secs(2);

/// The clock shared with the practice's other computers (every [`SHARED_EVERY`], while
/// unlocked and the vault is free): a session running on another computer is shown; this
/// computer's session, ended on another one, ends here too (recorded there, not again here).
fn shared_check(app: &AppHandle, state: &AppState) {
    static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    {
        let mut last = guard(&LAST);
        if last.is_some_and(|t| t.elapsed() < SHARED_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
    }
    if !state.is_unlocked() {
        return;
    }
    let Some(mut slot) = state.try_vault_slot() else {
        return;
    };
    let Some(vault) = slot.as_mut() else { return };
    let (running, planned, unrecorded) = {
        let c = guard(&state.clock);
        let (running, planned) = c
            .clock
            .running()
            .filter(|r| !r.unverified)
            .map(|r| (r.started_at, r.ends_at))
            .unzip();
        (running, planned, c.clock.has_unrecorded())
    };
    // More time given while the records were busy or catching up (or before the start was
    // recorded) is shared now: the shared run's planned end follows the clock here.
    if let Some(ends_at) = planned
        && !unrecorded
        && !vault.catching_up().unwrap_or(true)
        && let Ok(Some(own)) = vault
            .sessions_running()
            .map(|runs| runs.into_iter().find(|r| r.this_computer))
        && ends_at > own.ends_at + chrono::Duration::seconds(1)
    {
        // Tried again in 2 s if it fails (the +5's own command said so already).
        let _ = vault.extend_session(ends_at);
    }
    let ended_here = match running {
        Some(started_at) => vault.own_session_ended_elsewhere(started_at).ok().flatten(),
        None => None,
    };
    let elsewhere = vault.session_elsewhere().ok().flatten();
    let names = if ended_here.is_some() || elsewhere.is_some() {
        casebook_sync::practice::device_names(vault)
    } else {
        Default::default()
    };
    drop(slot);
    let name_of = |id: &str| {
        names
            .get(id)
            .cloned()
            .unwrap_or_else(|| "another computer".into())
    };
    let mut c = guard(&state.clock);
    c.elsewhere = elsewhere.map(|s| Elsewhere {
        computer: name_of(&s.started_on),
        run: s.run,
        appointment_id: s.appointment_id,
        started_at: s.started_at,
        ends_at: s.ends_at,
    });
    if let Some((ended_at, by)) = ended_here
        && c.clock.running().is_some()
    {
        c.clock.end();
        if let Err(e) = state.save_clock(&mut c) {
            notices::show(app, e.message);
        }
        let at = ended_at.with_timezone(&chrono::Local).format("%H:%M");
        notices::show(
            app,
            format!("The session was ended on {} at {at}.", name_of(&by)),
        );
        let _ = app.emit("day-changed", ());
    }
    let v = view(state, &c);
    drop(c);
    publish(app, &v);
}

/// Sends the current reading everywhere it is shown — only when it changed, so an idle app
/// sends nothing each second (no IPC message, no tray menu rebuild).
pub fn publish(app: &AppHandle, v: &ClockView) {
    static LAST: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    let now = serde_json::to_string(v).unwrap_or_default();
    {
        let mut last = guard(&LAST);
        if *last == now {
            return;
        }
        *last = now;
    }
    // The tray listens for this too.
    let _ = app.emit("clock", v);
}

/// One second of the clock (called by [`crate::schedule`]): advances the core's state
/// machine, sends the reading, raises its notifications, learns the new day's sessions after
/// midnight, locks after the idle time and records starts and ends made while busy.
pub fn tick(app: &AppHandle) {
    let state = app.state::<AppState>();
    let prefs = state.prefs();
    let (events, v) = {
        let mut c = guard(&state.clock);
        let upcoming = c.upcoming.clone();
        let events = c.clock.tick(Utc::now(), &prefs, &upcoming);
        if !events.is_empty()
            && let Err(e) = state.save_clock(&mut c)
        {
            notices::show(app, e.message);
        }
        (events, view(&state, &c))
    };
    publish(app, &v);
    // "Colour only": the clock's colour says it; nothing pops up over a shared screen.
    if prefs.session_notifications {
        for e in events {
            notices::notify(app, "Session clock", e.message());
        }
    }
    match state.refresh_day(chrono::Local::now().date_naive()) {
        Some(Ok(())) => {
            let _ = app.emit("day-changed", ());
        }
        Some(Err(e)) => {
            notices::show(app, e.message);
        }
        None => {}
    }
    auto_lock(app, &state, prefs.auto_lock_minutes);
    // Keys of a vault locked while a task held it leave memory as soon as it lets go.
    state.drop_if_locked();
    record_deferred_if_free(app, &state);
    shared_check(app, &state);
}

/// Starts and ends made while a long task held the vault are recorded once it is free
/// (those made while locked wait for the unlock, which records them).
fn record_deferred_if_free(app: &AppHandle, state: &AppState) {
    if !state.is_unlocked() || !guard(&state.clock).clock.has_unrecorded() {
        return;
    }
    let Some(mut slot) = state.try_vault_slot() else {
        return;
    };
    let Some(vault) = slot.as_mut() else { return };
    let mut c = guard(&state.clock);
    let mut problems = state.record_deferred(vault, &mut c);
    if let Err(e) = state.save_clock(&mut c) {
        problems.push(e.message);
    }
    drop(c);
    drop(slot);
    for message in problems {
        notices::show(app, message);
    }
}

fn auto_lock(app: &AppHandle, state: &AppState, minutes: u32) {
    let limit = StdDuration::from_secs(u64::from(minutes) * 60);
    want_lock(app, state, state.idle() >= limit);
}

/// Locks the way the window's Lock button does: the window is asked first, so a note's
/// pending autosave is written; if it has not locked within [`crate::state::LOCK_GRACE`]
/// (a hung or closed window), the vault is locked here. `wanted` false only carries an
/// earlier request through (the ticker calls this every second).
pub fn want_lock(app: &AppHandle, state: &AppState, wanted: bool) {
    match state.lock_step(wanted, std::time::Instant::now()) {
        LockStep::AskWindow => {
            let _ = app.emit("lock-requested", ());
        }
        LockStep::LockNow => {
            state.lock();
            let _ = app.emit("locked", ());
        }
        LockStep::Nothing => {}
    }
}
