//! A day on the session clock against a real (SQLCipher) vault: the schedule for the Today
//! screen carries names from the identity store, starting a booked session records
//! attendance, and starting and ending are both in the audit trail.

use casebook_core::{
    AppointmentStatus, AuditFilter, ClientIdentity, Preferences, SessionClock, Vault,
};
use chrono::{Duration, TimeZone, Utc};

#[test]
fn a_booked_session_is_started_attended_and_ended_with_audit_entries() {
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let mut vault = Vault::init(&vault_dir, Some("correct horse battery staple"))
        .unwrap()
        .vault;
    let client = vault
        .add_client(ClientIdentity {
            full_name: "Siân O'Brien".into(),
            ..Default::default()
        })
        .unwrap();
    let nine = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let first = vault
        .add_appointment(&client.code, nine, nine + Duration::minutes(50))
        .unwrap();
    let second = vault
        .add_appointment(
            &client.code,
            nine + Duration::minutes(60),
            nine + Duration::minutes(110),
        )
        .unwrap();
    vault
        .add_appointment(
            &client.code,
            nine + Duration::days(1),
            nine + Duration::days(1) + Duration::minutes(50),
        )
        .unwrap();

    let day = vault
        .schedule(nine - Duration::hours(9), nine + Duration::hours(15))
        .unwrap();
    assert_eq!(
        day.iter()
            .map(|d| d.appointment.id.as_str())
            .collect::<Vec<_>>(),
        [first.id.as_str(), second.id.as_str()]
    );
    assert_eq!(day[0].client_name.as_deref(), Some("Siân O'Brien"));
    assert!(vault.schedule(nine, nine).is_err());

    let prefs = Preferences::default();
    let slots: Vec<_> = day.iter().map(|d| d.slot()).collect();
    let mut clock = SessionClock::default();
    let now = nine + Duration::minutes(1);
    clock.start(now, Some(&slots[0]), 0, &prefs).unwrap();
    let marked = vault.start_session(Some(&first.id), 0).unwrap().unwrap();
    assert_eq!(marked.status, AppointmentStatus::Attended);
    let ran = clock.end().unwrap();
    vault
        .end_session(&ran, nine + Duration::minutes(53))
        .unwrap();
    vault.start_session(None, 30).unwrap();

    let trail = vault
        .audit_entries(&AuditFilter {
            action: Some("session.".into()),
            ..Default::default()
        })
        .unwrap();
    let got: Vec<_> = trail
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.client_code.as_deref(),
                e.detail.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "session.start",
                Some(client.code.as_str()),
                Some("status=attended")
            ),
            (
                "session.end",
                Some(client.code.as_str()),
                Some("minutes=52 overrun=3")
            ),
            ("session.start", None, Some("ad_hoc minutes=30")),
        ]
    );
    assert!(vault.start_session(Some("no-such-id"), 0).is_err());
    vault.verify_audit().unwrap();
}

/// The clock shared with the practice's other computers: a started session is listed as
/// running here (this computer's), an end closes it, ending it twice is refused — and an
/// erased client's booked session leaves no run behind.
#[test]
fn a_shared_run_opens_and_closes_and_goes_with_its_clients_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = Vault::init(
        &dir.path().join("vault"),
        Some("correct horse battery staple"),
    )
    .unwrap()
    .vault;
    let client = vault
        .add_client(ClientIdentity {
            full_name: "Ada Example".into(),
            ..Default::default()
        })
        .unwrap();
    let now = Utc::now();
    let booked = vault
        .add_appointment(&client.code, now, now + Duration::minutes(50))
        .unwrap();
    vault.start_session(Some(&booked.id), 0).unwrap();
    let running = vault.sessions_running().unwrap();
    assert_eq!(running.len(), 1);
    assert!(running[0].this_computer);
    assert_eq!(
        running[0].appointment_id.as_deref(),
        Some(booked.id.as_str())
    );
    assert_eq!(vault.session_elsewhere().unwrap(), None, "it runs here");
    // More time: the shared run's planned end moves (what the other computers show), audited
    // with how much.
    let later = running[0].ends_at + Duration::minutes(5);
    vault.extend_session(later).unwrap();
    assert_eq!(vault.sessions_running().unwrap()[0].ends_at, later);
    let extended = vault
        .audit_entries(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .rfind(|e| e.action == "session.extend")
        .expect("the extension is audited");
    assert_eq!(extended.detail.as_deref(), Some("minutes=5"));
    assert!(
        vault.extend_session(running[0].started_at).is_err(),
        "an end before the start was taken"
    );
    let run = running[0].run.clone();
    vault.end_shared_session(&run, Utc::now()).unwrap();
    assert!(vault.sessions_running().unwrap().is_empty());
    assert!(vault.end_shared_session(&run, Utc::now()).is_err());
    assert!(
        vault.extend_session(later).is_err(),
        "an ended session was extended"
    );
    // Ended here: not "ended elsewhere".
    assert_eq!(
        vault
            .own_session_ended_elsewhere(running[0].started_at)
            .unwrap(),
        None
    );

    // A new booked session for the client, running, then the client is erased.
    vault.start_session(Some(&booked.id), 0).unwrap();
    assert_eq!(vault.sessions_running().unwrap().len(), 1);
    vault
        .erase_client(&client.code, "client asked", true)
        .unwrap();
    assert!(
        vault.sessions_running().unwrap().is_empty(),
        "the run outlived the erasure"
    );
}

/// A start the session clock kept while the records were locked, busy or catching up is
/// recorded as starting when Start was pressed (an ad-hoc session ends its minutes after
/// that), a later start ends the earlier run at its own start, and a time ahead is now.
#[test]
fn a_start_recorded_late_keeps_the_moment_start_was_pressed() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = Vault::init(
        &dir.path().join("vault"),
        Some("correct horse battery staple"),
    )
    .unwrap()
    .vault;
    let pressed = Utc::now() - Duration::minutes(3);
    vault.start_session_at(None, 50, Some(pressed)).unwrap();
    let running = vault.sessions_running().unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].started_at.timestamp(), pressed.timestamp());
    assert_eq!(
        running[0].ends_at - running[0].started_at,
        Duration::minutes(50)
    );
    let second = Utc::now() - Duration::minutes(1);
    vault.start_session_at(None, 30, Some(second)).unwrap();
    let running = vault.sessions_running().unwrap();
    assert_eq!(running.len(), 1, "the first run was not ended");
    assert_eq!(running[0].started_at.timestamp(), second.timestamp());
    let before = Utc::now();
    vault
        .start_session_at(None, 30, Some(before + Duration::hours(2)))
        .unwrap();
    let ahead = vault.sessions_running().unwrap()[0].started_at;
    assert!(ahead <= Utc::now() && ahead >= before - Duration::seconds(1));
    vault.verify_audit().unwrap();
}
