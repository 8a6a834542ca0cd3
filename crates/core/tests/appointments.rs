//! Managing sessions against a real (SQLCipher) vault: every status, cancelling (in time,
//! late, by the therapist; one or this and the following), moving with its history, a
//! weekly series, and deleting a booking made by mistake — each audited and captured for
//! sync, and bad input refused with nothing changed.

use casebook_core::{
    AppointmentStatus, AuditFilter, CancelledBy, ClientCode, ClientIdentity, NoteTemplate, Repeat,
    SeriesEnd, Vault,
};
use chrono::{Duration, NaiveDate, TimeZone, Utc};

fn vault() -> (tempfile::TempDir, Vault, ClientCode) {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = Vault::init(&dir.path().join("vault"), Some("sessions passphrase"))
        .unwrap()
        .vault;
    let client = vault
        .add_client(ClientIdentity {
            full_name: "Ada Example".into(),
            ..Default::default()
        })
        .unwrap();
    (dir, vault, client.code)
}

fn actions(vault: &mut Vault) -> Vec<String> {
    vault
        .audit_entries(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[test]
fn each_status_is_recorded_audited_and_captured_and_only_a_booking_is_cancelled() {
    let (_dir, mut v, code) = vault();
    let nine = Utc.with_ymd_and_hms(2027, 2, 1, 9, 0, 0).unwrap();
    let book = |v: &mut Vault, days: i64| {
        let at = nine + Duration::days(days);
        v.add_appointment(&code, at, at + Duration::minutes(50))
            .unwrap()
    };
    let a = book(&mut v, 0);
    let b = book(&mut v, 1);
    let c = book(&mut v, 2);
    let d = book(&mut v, 3);
    let e = book(&mut v, 4);

    let mark = v.change_mark().unwrap();
    assert_eq!(
        v.mark_appointment(&a.id, AppointmentStatus::Attended)
            .unwrap()
            .status,
        AppointmentStatus::Attended
    );
    assert_eq!(
        v.mark_appointment(&b.id, AppointmentStatus::DidNotAttend)
            .unwrap()
            .status,
        AppointmentStatus::DidNotAttend
    );
    let late = v
        .cancel_appointment(
            &c.id,
            CancelledBy::ClientLate,
            Some("  car broke down "),
            false,
        )
        .unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].status, AppointmentStatus::CancelledLate);
    assert_eq!(late[0].reason.as_deref(), Some("car broke down"));
    let ours = v
        .cancel_appointment(&d.id, CancelledBy::Therapist, None, false)
        .unwrap();
    assert_eq!(ours[0].status, AppointmentStatus::CancelledByTherapist);
    let theirs = v
        .cancel_appointment(&e.id, CancelledBy::Client, None, false)
        .unwrap();
    assert_eq!(theirs[0].status, AppointmentStatus::Cancelled);
    assert_ne!(v.change_mark().unwrap(), mark, "captured for sync");

    // Only a booked session is cancelled or moved; a cancelled one cannot be started.
    assert!(
        v.cancel_appointment(&a.id, CancelledBy::Client, None, false)
            .is_err()
    );
    assert!(v.move_appointment(&d.id, nine, false).is_err());
    assert!(v.start_session(Some(&c.id), 0).is_err());

    // A reason is a few words on one line: anything else is refused and changes nothing.
    let before = v.change_mark().unwrap();
    let booked = book(&mut v, 5);
    let before_bad = v.change_mark().unwrap();
    assert_ne!(before, before_bad);
    for bad in ["line one\nline two", &"x".repeat(201)] {
        assert!(
            v.cancel_appointment(&booked.id, CancelledBy::Client, Some(bad), false)
                .is_err()
        );
    }
    assert_eq!(v.change_mark().unwrap(), before_bad);
    assert_eq!(
        v.appointments(&code).unwrap()[5].status,
        AppointmentStatus::Scheduled
    );

    // Listed as stored, with the status words --json writes.
    let listed: Vec<String> = v
        .appointments(&code)
        .unwrap()
        .iter()
        .map(|a| {
            serde_json::to_value(a).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        listed,
        [
            "attended",
            "did_not_attend",
            "cancelled_late",
            "cancelled_by_therapist",
            "cancelled",
            "scheduled"
        ]
    );
    let trail = actions(&mut v);
    assert_eq!(
        trail.iter().filter(|a| *a == "appointment.cancel").count(),
        3
    );
    assert_eq!(trail.iter().filter(|a| *a == "appointment.mark").count(), 2);
}

#[test]
fn a_fortnightly_series_is_booked_moved_and_cancelled_from_one_session_on() {
    let (_dir, mut v, code) = vault();
    let first = NaiveDate::from_ymd_opt(2027, 1, 11)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    let series = v
        .add_series(&code, first, 50, Repeat::Fortnightly, SeriesEnd::Count(6))
        .unwrap();
    assert_eq!(series.len(), 6);
    let sid = series[0].series_id.clone().unwrap();
    assert!(series.iter().all(|a| a.series_id.as_deref() == Some(&sid)));
    for w in series.windows(2) {
        let gap = w[1].starts_at - w[0].starts_at;
        // Fourteen days, give or take a clock change.
        assert!((gap - Duration::days(14)).num_hours().abs() <= 1, "{gap}");
    }
    let until = v
        .add_series(
            &code,
            first + Duration::hours(3),
            50,
            Repeat::EveryWeeks(3),
            SeriesEnd::Until(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()),
        )
        .unwrap();
    assert_eq!(until.len(), 3, "11 Jan, 1 Feb and 22 Feb");

    // Move the third an hour later, and the ones after it with it.
    let moved = v
        .move_appointment(
            &series[2].id,
            series[2].starts_at + Duration::hours(1),
            true,
        )
        .unwrap();
    assert_eq!(moved.len(), 4);
    for (m, was) in moved.iter().zip(&series[2..]) {
        assert_eq!(m.starts_at, was.starts_at + Duration::hours(1));
        assert_eq!(m.ends_at - m.starts_at, Duration::minutes(50));
    }
    let history = v.appointment_moves(&series[2].id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].from_starts_at, series[2].starts_at);
    assert_eq!(history[0].to_starts_at, moved[0].starts_at);
    assert!(v.appointment_moves(&series[0].id).unwrap().is_empty());

    // Cancel the fifth and everything after it; the fourth is untouched.
    let cancelled = v
        .cancel_appointment(
            &series[4].id,
            CancelledBy::Therapist,
            Some("moving practice"),
            true,
        )
        .unwrap();
    assert_eq!(cancelled.len(), 2);
    let now: Vec<AppointmentStatus> = v
        .appointments(&code)
        .unwrap()
        .into_iter()
        .filter(|a| a.series_id.as_deref() == Some(&sid))
        .map(|a| a.status)
        .collect();
    assert_eq!(
        now,
        [
            AppointmentStatus::Scheduled,
            AppointmentStatus::Scheduled,
            AppointmentStatus::Scheduled,
            AppointmentStatus::Scheduled,
            AppointmentStatus::CancelledByTherapist,
            AppointmentStatus::CancelledByTherapist,
        ]
    );
    let trail = actions(&mut v);
    assert_eq!(
        trail
            .iter()
            .filter(|a| *a == "appointment.series_create")
            .count(),
        2
    );
    assert!(trail.iter().any(|a| a == "appointment.move"));
}

#[test]
fn a_booking_made_by_mistake_is_deleted_but_not_once_it_has_a_note() {
    let (_dir, mut v, code) = vault();
    let at = Utc.with_ymd_and_hms(2027, 2, 1, 9, 0, 0).unwrap();
    let mistake = v
        .add_appointment(&code, at, at + Duration::minutes(50))
        .unwrap();
    let held = v
        .add_appointment(
            &code,
            at + Duration::days(7),
            at + Duration::days(7) + Duration::minutes(50),
        )
        .unwrap();
    v.add_note(
        &code,
        NoteTemplate::Free,
        &[("text".into(), "we met".into())],
        Some(&held.id),
    )
    .unwrap();

    let mark = v.change_mark().unwrap();
    let refused = v.delete_appointment(&held.id).unwrap_err();
    assert!(refused.to_string().contains("note"), "{refused}");
    assert_eq!(v.change_mark().unwrap(), mark, "a refusal changes nothing");

    v.delete_appointment(&mistake.id).unwrap();
    assert_ne!(
        v.change_mark().unwrap(),
        mark,
        "the deletion is captured for sync"
    );
    let left: Vec<String> = v
        .appointments(&code)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(left, [held.id]);
    assert!(v.delete_appointment(&mistake.id).is_err(), "gone already");
    assert!(actions(&mut v).iter().any(|a| a == "appointment.delete"));
}

/// What is left to do after sessions: the ones still marked booked once they ended, drafts,
/// and attended sessions with no note — and a walk-in, booked and attended as it starts.
#[test]
fn sessions_left_to_mark_and_notes_left_to_finish_are_listed() {
    let (_dir, mut v, code) = vault();
    let yesterday = Utc::now() - Duration::days(1);
    let booked = v
        .add_appointment(&code, yesterday, yesterday + Duration::minutes(50))
        .unwrap();
    let later = Utc::now() + Duration::days(1);
    v.add_appointment(&code, later, later + Duration::minutes(50))
        .unwrap();
    let to_mark = v.sessions_to_mark(Utc::now()).unwrap();
    assert_eq!(to_mark.len(), 1, "only the one that ended");
    assert_eq!(to_mark[0].appointment.id, booked.id);
    assert_eq!(to_mark[0].client_name.as_deref(), Some("Ada Example"));
    assert!(v.notes_to_finish().unwrap().is_empty());

    // Marked attended: no longer to mark, but its note is to write.
    v.mark_appointment(&booked.id, AppointmentStatus::Attended)
        .unwrap();
    assert!(v.sessions_to_mark(Utc::now()).unwrap().is_empty());
    let todo = v.notes_to_finish().unwrap();
    assert!(
        matches!(&todo[..], [casebook_core::ToFinish::NoNote { appointment_id, .. }] if *appointment_id == booked.id),
        "{todo:?}"
    );

    // A draft for it: the draft is what is left; finalised, nothing is.
    let note = v
        .add_note(
            &code,
            NoteTemplate::Free,
            &[("text".into(), "met".into())],
            Some(&booked.id),
        )
        .unwrap();
    let todo = v.notes_to_finish().unwrap();
    assert!(
        matches!(&todo[..], [casebook_core::ToFinish::Draft { note_id, .. }] if *note_id == note.id),
        "{todo:?}"
    );
    v.finalise_note(&note.id).unwrap();
    assert!(v.notes_to_finish().unwrap().is_empty());

    // A walk-in: booked now and attended, with its note to write.
    let walk_in = v.start_walk_in(&code, 50).unwrap();
    assert_eq!(walk_in.status, AppointmentStatus::Attended);
    assert!((walk_in.starts_at - Utc::now()).num_seconds().abs() < 60);
    assert_eq!(v.notes_to_finish().unwrap().len(), 1);
    assert!(v.start_walk_in(&code, 0).is_err());
    assert!(actions(&mut v).iter().any(|a| a == "session.start"));
}
