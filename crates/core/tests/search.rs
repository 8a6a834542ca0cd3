//! Search that says when, against a real (SQLCipher) vault: each hit carries its date (a
//! note's session, else when it was written), kind and client; a search narrows to one
//! client and to a range of dates; a range that ends before it starts is refused.

use casebook_core::{NoteTemplate, SearchFilter};
use chrono::{Duration, TimeZone, Utc};

#[path = "support/practice.rs"]
mod practice;
use practice::text;

#[test]
fn hits_are_dated_and_narrow_by_client_and_dates() {
    let (_dir, mut v, codes) = practice::with_clients(&["Ada Example", "Ben Sample"]);
    let [ada, ben] = codes.try_into().unwrap();

    // Ada's note for a session in January, written now; Ben's contact note (no session).
    let january = Utc.with_ymd_and_hms(2027, 1, 12, 10, 0, 0).unwrap();
    let session = v
        .add_appointment(&ada, january, january + Duration::minutes(50))
        .unwrap();
    let a_note = v
        .add_note(
            &ada,
            NoteTemplate::Free,
            &text("the lighthouse dream"),
            Some(&session.id),
        )
        .unwrap();
    v.finalise_note(&a_note.id).unwrap();
    let addendum = v
        .add_addendum(&a_note.id, "the lighthouse again, later")
        .unwrap();
    let b_note = v
        .add_note(&ben, NoteTemplate::Free, &text("lighthouse keeper"), None)
        .unwrap();
    let process = v.add_process_note(&ben, "my own lighthouse").unwrap();

    let all = v.search("lighthouse", 10).unwrap();
    assert_eq!(all.len(), 4);
    let hit = |id: &str| all.iter().find(|h| h.object_id == id).unwrap();
    assert_eq!(
        hit(&a_note.id).at,
        Some(january),
        "a note is dated by its session"
    );
    assert_eq!(hit(&a_note.id).kind, "note");
    assert_eq!(hit(&a_note.id).client_name.as_deref(), Some("Ada Example"));
    assert_eq!(hit(&addendum.id).kind, "addendum");
    assert_eq!(hit(&addendum.id).at, Some(addendum.created_at));
    assert_eq!(
        hit(&b_note.id).at,
        Some(b_note.created_at),
        "no session: when it was written"
    );
    assert_eq!(hit(&process.id).kind, "process_note");

    let by_client = v
        .search_with(
            "lighthouse",
            &SearchFilter {
                client_code: Some(ben.to_string()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    let mut ids: Vec<_> = by_client.iter().map(|h| h.object_id.clone()).collect();
    ids.sort();
    let mut want = vec![b_note.id.clone(), process.id.clone()];
    want.sort();
    assert_eq!(ids, want);

    // January only: Ada's note (dated by its session), nothing written today.
    let in_january = v
        .search_with(
            "lighthouse",
            &SearchFilter {
                from: Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()),
                to: Some(Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).unwrap()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(
        in_january
            .iter()
            .map(|h| h.object_id.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&a_note.id)
    );

    let backwards = v.search_with(
        "lighthouse",
        &SearchFilter {
            from: Some(january),
            to: Some(january - Duration::days(1)),
            ..Default::default()
        },
        10,
    );
    assert!(backwards.is_err());
}

#[test]
fn a_moved_session_moves_its_note_in_search() {
    let (_dir, mut v, codes) = practice::with_clients(&["Ada Example"]);
    let ada = &codes[0];
    let march = Utc.with_ymd_and_hms(2027, 3, 9, 10, 0, 0).unwrap();
    let session = v
        .add_appointment(ada, march, march + Duration::minutes(50))
        .unwrap();
    let note = v
        .add_note(
            ada,
            NoteTemplate::Free,
            &text("a harbour"),
            Some(&session.id),
        )
        .unwrap();
    let month = |y, m| SearchFilter {
        from: Some(Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap()),
        to: Some(Utc.with_ymd_and_hms(y, m + 1, 1, 0, 0, 0).unwrap()),
        ..Default::default()
    };
    assert_eq!(
        v.search_with("harbour", &month(2027, 3), 10).unwrap().len(),
        1
    );

    let april = Utc.with_ymd_and_hms(2027, 4, 13, 10, 0, 0).unwrap();
    v.move_appointment(&session.id, april, false).unwrap();
    assert!(
        v.search_with("harbour", &month(2027, 3), 10)
            .unwrap()
            .is_empty()
    );
    let hits = v.search_with("harbour", &month(2027, 4), 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].object_id, note.id);
    assert_eq!(hits[0].at, Some(april));
    // Only one entry for the note, however often its session moves.
    v.move_appointment(&session.id, march, false).unwrap();
    assert_eq!(v.search("harbour", 10).unwrap().len(), 1);
}
