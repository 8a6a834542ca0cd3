//! The caseload (the client list's columns) against a real (SQLCipher) vault: the next
//! session, the last one attended, sessions attended and notes to finish, per client; closed
//! clients only when asked; audited as one list.

use casebook_core::{AppointmentStatus, AuditFilter, NoteTemplate, Vault};
use chrono::{Duration, TimeZone, Utc};

#[path = "support/practice.rs"]
mod practice;
use practice::text;

#[test]
fn each_client_shows_next_session_last_seen_attended_and_notes_to_finish() {
    let (_dir, mut v, codes) = practice::with_clients(&["Ada Example", "Ben Sample", "Cal Closed"]);
    let [ada, ben, cal] = codes.try_into().unwrap();

    let now = Utc.with_ymd_and_hms(2027, 3, 10, 12, 0, 0).unwrap();
    let at = |days: i64| now + Duration::days(days);
    let book = |v: &mut Vault, code, days| {
        v.add_appointment(code, at(days), at(days) + Duration::minutes(50))
            .unwrap()
    };
    // Ada: three attended (one with a finalised note, one with a draft, one with none), one
    // did not attend, one cancelled in the future, two booked ahead.
    let a1 = book(&mut v, &ada, -21);
    let a2 = book(&mut v, &ada, -14);
    let a3 = book(&mut v, &ada, -7);
    let dna = book(&mut v, &ada, -3);
    let cancelled = book(&mut v, &ada, 1);
    book(&mut v, &ada, 7);
    book(&mut v, &ada, 14);
    for a in [&a1, &a2, &a3] {
        v.mark_appointment(&a.id, AppointmentStatus::Attended)
            .unwrap();
    }
    v.mark_appointment(&dna.id, AppointmentStatus::DidNotAttend)
        .unwrap();
    v.cancel_appointment(
        &cancelled.id,
        casebook_core::CancelledBy::Client,
        None,
        false,
    )
    .unwrap();
    let n1 = v
        .add_note(&ada, NoteTemplate::Free, &text("first"), Some(&a1.id))
        .unwrap();
    v.finalise_note(&n1.id).unwrap();
    v.add_note(
        &ada,
        NoteTemplate::Free,
        &text("second, a draft"),
        Some(&a2.id),
    )
    .unwrap();
    // Ben: nothing yet but a contact note in draft. Cal: closed.
    v.add_note(&ben, NoteTemplate::Free, &text("phone call"), None)
        .unwrap();
    v.close_client(&cal, chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
        .unwrap();

    let list = v.caseload(false, now).unwrap();
    assert_eq!(
        list.iter()
            .map(|e| e.client.full_name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["Ada Example", "Ben Sample"],
        "in therapy only, by name"
    );
    let a = &list[0];
    assert_eq!(a.next_session, Some(at(7)), "the cancelled one is not next");
    assert_eq!(a.last_seen, Some(at(-7)), "the DNA is not a visit");
    assert_eq!(a.attended, 3);
    assert_eq!(a.notes_to_finish, 2, "a2's draft and a3's missing note");
    let b = &list[1];
    assert_eq!(
        (b.next_session, b.last_seen, b.attended, b.notes_to_finish),
        (None, None, 0, 1)
    );

    // A session under way has not ended: it is still "next" until it ends.
    let during = at(7) + Duration::minutes(20);
    assert_eq!(
        v.caseload(false, during).unwrap()[0].next_session,
        Some(at(7))
    );

    let all = v.caseload(true, now).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|e| e.client.code == cal));

    let audit = v.audit_entries(&AuditFilter::default()).unwrap();
    let last = audit.last().unwrap();
    assert_eq!(last.action, "client.list");
    assert_eq!(last.detail.as_deref(), Some("count=3 caseload"));
}

#[test]
fn giving_back_the_page_cache_loses_nothing() {
    // The desktop app drops SQLite's page cache once an unlock has settled
    // (`Vault::release_cache`): every later read finds the same records, read again from disk.
    let (_dir, mut v, codes) = practice::with_clients(&["Ada Example", "Ben Sample"]);
    let now = Utc::now();
    let before = v.caseload(false, now).unwrap();
    v.release_cache().unwrap();
    let after = v.caseload(false, now).unwrap();
    let json = |x: &Vec<casebook_core::CaseloadEntry>| serde_json::to_string(x).unwrap();
    assert_eq!(json(&before), json(&after));
    assert_eq!(after.len(), codes.len());
    // And the vault still writes after it.
    v.release_cache().unwrap();
    let c = v
        .add_client(casebook_core::ClientIdentity {
            full_name: "Cal New".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(
        v.list_clients(false)
            .unwrap()
            .iter()
            .any(|x| x.code == c.code)
    );
}

/// The client's whole file in one read: the same parts as reading them one by one, and the
/// same audit entries (each part its own, naming the client), written in one transaction.
#[test]
fn a_client_file_read_at_once_is_what_the_parts_say_and_audited_as_each_part() {
    let (_dir, mut v, codes) = practice::with_clients(&["Ada Example"]);
    let ada = &codes[0];
    let start = Utc::now() + Duration::days(1);
    v.add_appointment(ada, start, start + Duration::minutes(50))
        .unwrap();
    v.add_note(
        ada,
        NoteTemplate::Free,
        &[("text".into(), "first".into())],
        None,
    )
    .unwrap();
    v.add_process_note(ada, "my reaction").unwrap();
    let one_by_one = (
        v.client(ada).unwrap(),
        v.appointments(ada).unwrap(),
        v.notes(ada).unwrap(),
        v.process_notes(ada).unwrap(),
        v.measures(ada).unwrap(),
        v.risk_flag(ada).unwrap(),
    );
    let before = v.audit_entries(&AuditFilter::default()).unwrap().len();
    let f = v.client_file(ada).unwrap();
    assert_eq!(f.client.code, one_by_one.0.code);
    assert_eq!(f.appointments.len(), 1);
    assert_eq!(f.appointments[0].id, one_by_one.1[0].id);
    assert_eq!(f.notes.len(), one_by_one.2.len());
    assert_eq!(f.process_notes[0].text, one_by_one.3[0].text);
    assert_eq!(
        (f.measures.len(), f.risk.is_some()),
        (0, one_by_one.5.is_some())
    );
    let after = v.audit_entries(&AuditFilter::default()).unwrap();
    // (Listing the trail is itself audited: that entry is left out.)
    let read: Vec<_> = after[before..]
        .iter()
        .filter(|e| e.action != "audit.list")
        .collect();
    let mut actions: Vec<_> = read.iter().map(|e| e.action.as_str()).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "appointment.list",
            "client.read",
            "measure.list",
            "note.list",
            "note.list",
            "process_note.list"
        ]
    );
    assert!(
        read.iter()
            .all(|e| e.client_code.as_deref() == Some(ada.as_str()))
    );
}
