//! The app's state against a real vault (SQLCipher, passphrase key file), without a window:
//! a session ended while Casebook was locked is recorded at the next unlock, the clock
//! learns today's booked times (and forgets who they are with on lock), and core errors
//! reach the window worded for a person. Locking never waits for a busy vault, and a
//! clock file written outside Casebook reaches no record.

use casebook_app::error::UiError;
use casebook_app::state::AppState;
use casebook_core::{
    Appointment, AuditFilter, Client, ClientIdentity, CoreError, Preferences, SessionClock,
    Unrecorded, Vault,
};
use chrono::{DateTime, Duration, Utc};

const PASSPHRASE: &str = "correct horse battery staple";

/// Puts an opened vault in the app's slot, as an unlock does.
fn install(state: &AppState, vault: Vault) {
    let epoch = state.lock_epoch();
    let mut slot = state.vault_slot();
    state.install(&mut slot, vault, epoch).unwrap();
}

/// A new vault with one client, Ada Jones, booked for 50 minutes at noon today (local), so
/// the appointment is on today's list whenever the test runs.
fn vault_with_a_session_at_noon(
    vault_dir: &std::path::Path,
) -> (Vault, Client, Appointment, DateTime<Utc>) {
    let mut vault = Vault::init(vault_dir, Some(PASSPHRASE)).unwrap().vault;
    let client = vault
        .add_client(ClientIdentity {
            full_name: "Ada Jones".into(),
            ..Default::default()
        })
        .unwrap();
    let noon = chrono::Local::now()
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .unwrap()
        .with_timezone(&Utc);
    let appt = vault
        .add_appointment(&client.code, noon, noon + Duration::minutes(50))
        .unwrap();
    (vault, client, appt, noon)
}

#[test]
fn a_session_ended_while_locked_is_recorded_at_the_next_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let (vault, _client, appt, _noon) = vault_with_a_session_at_noon(&vault_dir);
    let now = Utc::now();

    // The app starts (locked), finds today's session, and a session that ran while it was
    // locked is waiting in the saved clock.
    let mut clock = SessionClock::new();
    let prefs = Preferences::default();
    clock
        .start(now - Duration::minutes(60), None, 50, &prefs)
        .unwrap();
    let ran = clock.end().unwrap();
    clock.defer(Unrecorded::End {
        ran,
        ended_at: now - Duration::minutes(5),
    });
    // The app that kept it had the vault's clock key (it had been unlocked before).
    clock.save(&vault_dir, Some(&vault.clock_key())).unwrap();
    drop(vault);

    let state = AppState::new(vault_dir.clone());
    let mut vault = Vault::open(&vault_dir, Some(PASSPHRASE)).unwrap();
    let problems = state.after_unlock(&mut vault);
    assert!(problems.is_empty(), "{problems:?}");
    install(&state, vault);
    let (day, trail) = state
        .with_vault(|vault| {
            let day = state.load_day(vault, chrono::Local::now().date_naive())?;
            let trail = vault.audit_entries(&AuditFilter {
                action: Some("session.".into()),
                ..Default::default()
            })?;
            Ok((day, trail))
        })
        .unwrap();
    assert_eq!(day.len(), 1);
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].detail.as_deref(), Some("minutes=55 overrun=5"));
    assert!(
        SessionClock::load(&vault_dir)
            .unwrap()
            .take_unrecorded()
            .is_empty()
    );

    {
        let c = state.clock.lock().unwrap();
        assert_eq!(c.upcoming.len(), 1);
        assert_eq!(c.upcoming[0].appointment_id, appt.id);
        assert_eq!(c.labels[&appt.id].client_name.as_deref(), Some("Ada Jones"));
    }
    state.lock();
    assert_eq!(state.slot_holds_vault(), Some(false), "the keys are gone");
    let c = state.clock.lock().unwrap();
    assert!(c.labels.is_empty(), "names must not outlive the unlock");
    assert_eq!(
        c.upcoming.len(),
        1,
        "times stay so the clock can run while locked"
    );
}

#[test]
fn errors_reach_the_window_worded_for_a_person() {
    for core in [
        CoreError::PassphraseRequired,
        CoreError::KeychainUnavailable("no D-Bus".into()),
    ] {
        let core_text = core.to_string();
        assert!(core_text.contains("CASEBOOK_PASSPHRASE"), "{core_text}");
        let e = UiError::from(core);
        assert!(!e.message.contains("CASEBOOK_"), "{}", e.message);
    }
    let e = UiError::from(CoreError::Database(rusqlite::Error::InvalidQuery));
    assert_eq!(e.kind, "internal");
    assert!(!e.message.contains("database error"), "{}", e.message);
    let e = UiError::from(CoreError::InvalidInput("the note is empty".into()));
    assert_eq!(
        (e.kind, e.message.as_str()),
        ("invalid_input", "the note is empty")
    );
    let json = serde_json::to_value(UiError::locked()).unwrap();
    assert_eq!(json["kind"], "locked");
}

/// The tray's Lock and the auto-lock ask the window first (so a note's pending autosave is
/// written), and lock regardless once the window has had its grace period.
#[test]
fn a_wanted_lock_asks_the_window_then_locks_anyway() {
    use casebook_app::state::{LOCK_GRACE, LockStep};
    use std::time::{Duration as StdDuration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let vault = Vault::init(&vault_dir, Some(PASSPHRASE)).unwrap().vault;
    let state = AppState::new(vault_dir.clone());
    let t0 = Instant::now();

    // Locked already: nothing to do, however much a lock is wanted.
    assert_eq!(state.lock_step(true, t0), LockStep::Nothing);

    install(&state, vault);
    assert_eq!(state.lock_step(false, t0), LockStep::Nothing);
    assert_eq!(state.lock_step(true, t0), LockStep::AskWindow);
    // Asked once only, while the window saves and locks.
    assert_eq!(
        state.lock_step(true, t0 + StdDuration::from_secs(1)),
        LockStep::Nothing
    );
    // The window locked by itself: nothing left to do, and no stale request after the
    // next unlock.
    state.lock();
    assert_eq!(state.lock_step(false, t0 + LOCK_GRACE), LockStep::Nothing);
    install(&state, Vault::open(&vault_dir, Some(PASSPHRASE)).unwrap());
    assert_eq!(
        state.lock_step(false, t0 + LOCK_GRACE * 2),
        LockStep::Nothing
    );

    // A window that never answers: the vault is locked once the grace period is over.
    let t1 = t0 + LOCK_GRACE * 3;
    assert_eq!(state.lock_step(true, t1), LockStep::AskWindow);
    assert_eq!(
        state.lock_step(false, t1 + LOCK_GRACE - StdDuration::from_millis(1)),
        LockStep::Nothing
    );
    assert_eq!(state.lock_step(false, t1 + LOCK_GRACE), LockStep::LockNow);
}

/// Left open past midnight, the clock learns the new day's sessions (once), so the next
/// session and the gap follow the new day; while locked it waits for the unlock.
#[test]
fn after_midnight_the_clock_learns_the_new_day() {
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let (vault, client, appt, noon) = vault_with_a_session_at_noon(&vault_dir);
    let today = chrono::Local::now().date_naive();
    let state = AppState::new(vault_dir.clone());

    // The clock was filled yesterday (nothing booked then); now it is today, but locked.
    state.clock.lock().unwrap().day = Some(today - Duration::days(1));
    assert!(
        state.refresh_day(today).is_none(),
        "locked: nothing to read"
    );
    assert!(state.clock.lock().unwrap().upcoming.is_empty());

    install(&state, vault);
    assert!(matches!(state.refresh_day(today), Some(Ok(()))));
    {
        let c = state.clock.lock().unwrap();
        assert_eq!(c.day, Some(today));
        assert_eq!(c.upcoming.len(), 1);
        assert_eq!(c.upcoming[0].starts_at, noon);
        assert_eq!(
            c.labels.get(&appt.id).map(|l| l.client_code.as_str()),
            Some(client.code.as_str())
        );
    }
    // Once per day: the next tick has nothing to do.
    assert!(state.refresh_day(today).is_none());

    // A session started on today's appointment still runs at the next midnight, when the
    // new day has nothing booked: it keeps who it is with.
    {
        let mut c = state.clock.lock().unwrap();
        let slot = c.upcoming[0].clone();
        c.clock
            .start(noon, Some(&slot), 50, &Preferences::default())
            .unwrap();
    }
    let tomorrow = today + Duration::days(1);
    assert!(matches!(state.refresh_day(tomorrow), Some(Ok(()))));
    let c = state.clock.lock().unwrap();
    assert!(c.upcoming.is_empty(), "nothing booked tomorrow");
    assert_eq!(
        c.labels.get(&appt.id).map(|l| l.client_code.as_str()),
        Some(client.code.as_str()),
        "the running session's client is still shown"
    );
}

/// A long task (a backup stuck on a stalled network folder) holds the vault: Lock, Ctrl+L
/// and the auto-lock still close the records at once, and the keys go as soon as the task
/// lets go — never a passphrase-free way back in.
#[test]
fn lock_never_waits_for_a_busy_vault() {
    use casebook_app::state::LockStep;
    use std::sync::mpsc;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let vault = Vault::init(&vault_dir, Some(PASSPHRASE)).unwrap().vault;
    let state = AppState::new(vault_dir.clone());
    install(&state, vault);

    std::thread::scope(|scope| {
        let (held, is_held) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let shared = &state;
        let task = scope.spawn(move || {
            let state = shared;
            let slot = state.vault_slot();
            assert!(slot.is_some());
            held.send(()).unwrap();
            released.recv().unwrap(); // "stuck" until the test lets go
            drop(slot);
        });
        is_held.recv().unwrap();

        // The auto-lock and the tray ask the window, and lock, without waiting.
        let t0 = Instant::now();
        assert_eq!(state.lock_step(true, t0), LockStep::AskWindow);
        assert_eq!(
            state.lock_step(false, t0 + casebook_app::state::LOCK_GRACE),
            LockStep::LockNow
        );
        // Lock returns while the task still holds the vault; the window's calls are refused.
        state.lock();
        assert!(!state.is_unlocked());
        let e = state.with_vault(|_| Ok(())).unwrap_err();
        assert_eq!(e.kind, "locked");
        assert_eq!(
            state.lock_step(true, t0),
            LockStep::Nothing,
            "already locked"
        );
        assert!(
            state.try_vault_slot().is_none(),
            "the task still holds the vault"
        );

        // The task lets go: the next tick drops the vault and its keys.
        release.send(()).unwrap();
        task.join().unwrap();
        assert_eq!(state.slot_holds_vault(), Some(true), "kept until the tick");
        state.drop_if_locked();
        assert_eq!(state.slot_holds_vault(), Some(false), "the keys are gone");
    });

    // An unlock that was under way when a lock came does not open the records behind the
    // lock screen.
    let epoch = state.lock_epoch();
    let mut slot = state.vault_slot();
    state.lock();
    let vault = Vault::open(&vault_dir, Some(PASSPHRASE)).unwrap();
    assert_eq!(
        state.install(&mut slot, vault, epoch).unwrap_err().kind,
        "locked"
    );
    drop(slot);
    assert!(!state.is_unlocked());
    assert_eq!(state.slot_holds_vault(), Some(false));
}

/// Someone who can write to the vault folder edits session-clock.json to slip in a start
/// for a booked session: at the unlock it is not recorded (the session is not marked
/// attended, no audit entry), and the therapist is told.
#[test]
fn a_forged_clock_file_reaches_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let (vault, _client, appt, _noon) = vault_with_a_session_at_noon(&vault_dir);
    drop(vault);
    let forged = serde_json::json!({
        "running": null,
        "announced_next": null,
        "unrecorded": [{ "start": { "appointment_id": appt.id, "minutes": 50 } }],
    });
    std::fs::write(
        vault_dir.join("session-clock.json"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    assert!(
        SessionClock::load(&vault_dir).unwrap().has_unrecorded(),
        "the forged start is read"
    );

    let state = AppState::new(vault_dir.clone());
    let mut vault = Vault::open(&vault_dir, Some(PASSPHRASE)).unwrap();
    let problems = state.after_unlock(&mut vault);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("not written by Casebook"),
        "{problems:?}"
    );
    let trail = vault
        .audit_entries(&AuditFilter {
            action: Some("session.".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(trail.is_empty(), "no session entry: {trail:?}");
    let day = state
        .load_day(&mut vault, chrono::Local::now().date_naive())
        .unwrap();
    assert_eq!(
        day[0].appointment.status,
        casebook_core::AppointmentStatus::Scheduled,
        "not marked attended"
    );
}
