//! Calendar import through the real vault: the fixture feeds (in the shapes Google,
//! Outlook, Jane App and Apple produce, plus damaged ones) extract to the events worked out
//! independently in `fixtures/calendar/*.expected.json` (by `make_fixtures.py`, with
//! Python's zoneinfo and dateutil); import, re-import, moves and cancellations; and what is
//! never stored.

use std::path::PathBuf;

use casebook_core::calendar::{self, Change, ImportSource, ImportWindow};
use casebook_core::{AppointmentStatus, ClientCode, ClientIdentity, Vault};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap()
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calendar")
}

fn window() -> ImportWindow {
    ImportWindow::new(
        NaiveDate::from_ymd_opt(2026, 3, 1),
        NaiveDate::from_ymd_opt(2026, 11, 30),
        chrono_tz::Europe::London,
    )
    .unwrap()
}

fn vault() -> (tempfile::TempDir, Vault) {
    let home = tempfile::tempdir().unwrap();
    let created = Vault::init(&home.path().join("v"), Some("calendar test passphrase")).unwrap();
    (home, created.vault)
}

/// (summary, start, end, status) as the expectation files write them.
type Row = (String, String, String, String);

fn expected(name: &str) -> (Vec<Row>, Vec<String>) {
    let v: Value = serde_json::from_slice(&fixture(&format!("{name}.expected.json"))).unwrap();
    let events = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["summary"].as_str().unwrap().to_string(),
                e["start"].as_str().unwrap().to_string(),
                e["end"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let skipped = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["summary"].as_str().unwrap().to_string())
        .collect();
    (events, skipped)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn check_fixture(name: &str) -> calendar::Extraction {
    let x = calendar::extract(&fixture(&format!("{name}.ics")), &window())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut got: Vec<Row> = x
        .events
        .iter()
        .map(|e| {
            (
                e.summary.clone(),
                rfc3339(e.start),
                rfc3339(e.end),
                if e.cancelled {
                    "cancelled"
                } else {
                    "confirmed"
                }
                .to_string(),
            )
        })
        .collect();
    got.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    let (mut want, want_skipped) = expected(name);
    want.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    assert_eq!(got, want, "{name}: events differ from the expectation");
    let all_day: Vec<String> = x
        .skipped
        .iter()
        .filter(|s| s.reason.contains("all-day"))
        .map(|s| s.summary.clone())
        .collect();
    assert_eq!(all_day, want_skipped, "{name}: all-day events skipped");
    x
}

#[test]
fn google_feed_with_zones_series_exdate_override_and_folds() {
    let x = check_fixture("google");
    assert!(!x.is_damaged());
}

#[test]
fn outlook_feed_with_windows_zone_names() {
    check_fixture("outlook");
}

#[test]
fn jane_app_style_feed_with_utc_times_and_durations() {
    check_fixture("jane");
}

#[test]
fn apple_feed_with_floating_times_and_escapes() {
    check_fixture("apple");
}

#[test]
fn privacy_feed_extracts_only_names_and_times() {
    check_fixture("privacy");
}

#[test]
fn a_truncated_file_keeps_its_complete_events_and_says_it_is_damaged() {
    let x = check_fixture("truncated");
    assert!(x.is_damaged());
    assert!(!x.warnings.is_empty());
}

#[test]
fn garbage_bytes_lose_only_what_they_touch() {
    check_fixture("garbage");
}

#[test]
fn an_empty_calendar_imports_nothing() {
    let x = check_fixture("empty");
    assert!(x.events.is_empty() && !x.is_damaged());
}

#[test]
fn line_endings_do_not_matter() {
    let crlf = fixture("google.ics");
    // Convert CRLF → LF on the bytes (the file is not valid UTF-8 line by line).
    let mut only_lf = Vec::with_capacity(crlf.len());
    let mut i = 0;
    while i < crlf.len() {
        if crlf[i] == b'\r' && crlf.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        only_lf.push(crlf[i]);
        i += 1;
    }
    let a = calendar::extract(&crlf, &window()).unwrap();
    let b = calendar::extract(&only_lf, &window()).unwrap();
    assert_eq!(a.events, b.events);
}

fn client(v: &mut Vault, name: &str) -> String {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        ..Default::default()
    })
    .unwrap()
    .code
    .as_str()
    .to_string()
}

fn ics(events: &[(&str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n");
    for (uid, summary, start, end, status) in events {
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSTATUS:{status}\r\nLOCATION:12 Secret Street\r\nEND:VEVENT\r\n"
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s.into_bytes()
}

fn far_window() -> ImportWindow {
    // In the future, so "no longer in the feed" applies (only future bookings are cancelled so).
    ImportWindow::new(
        NaiveDate::from_ymd_opt(2031, 1, 1),
        NaiveDate::from_ymd_opt(2031, 12, 31),
        chrono_tz::Europe::London,
    )
    .unwrap()
}

#[test]
fn import_matches_names_creates_clients_and_reimport_changes_nothing() {
    let (_home, mut v) = vault();
    let ann = client(&mut v, "Ann Example");
    let feed = ics(&[
        (
            "a1",
            "ann  EXAMPLE",
            "20310106T100000Z",
            "20310106T105000Z",
            "CONFIRMED",
        ),
        (
            "b1",
            "Bea Newcomer",
            "20310107T110000Z",
            "20310107T115000Z",
            "CONFIRMED",
        ),
        (
            "b2",
            "Bea Newcomer",
            "20310114T110000Z",
            "20310114T115000Z",
            "CONFIRMED",
        ),
        (
            "c1",
            "Cy Gone",
            "20310108T110000Z",
            "20310108T115000Z",
            "CANCELLED",
        ),
    ]);
    let w = far_window();
    let x = calendar::extract(&feed, &w).unwrap();
    let audit_before = v.audit_entries(&Default::default()).unwrap().len();

    let preview = v.calendar_preview(&x, &w, ImportSource::File).unwrap();
    assert_eq!(preview.counts.new, 3);
    assert_eq!(preview.new_clients, vec!["Bea Newcomer".to_string()]);
    // A cancelled event of an unknown name is listed, and changes nothing.
    assert_eq!((preview.counts.skipped, preview.counts.unchanged), (0, 1));
    // The preview changed nothing.
    assert!(
        v.appointments(&ClientCode::parse(&ann).unwrap())
            .unwrap()
            .is_empty()
    );
    assert_eq!(v.list_clients(true).unwrap().len(), 1);

    let done = v.calendar_import(&x, &w, ImportSource::File).unwrap();
    assert_eq!((done.counts.new, done.counts.new_clients), (3, 1));
    let clients = v.list_clients(true).unwrap();
    assert_eq!(clients.len(), 2);
    let bea = clients
        .iter()
        .find(|c| c.full_name.as_deref() == Some("Bea Newcomer"))
        .unwrap();
    assert_eq!(v.appointments(&bea.code).unwrap().len(), 2);
    let ann_appts = v.appointments(&ClientCode::parse(&ann).unwrap()).unwrap();
    assert_eq!(ann_appts.len(), 1);
    assert_eq!(ann_appts[0].status, AppointmentStatus::Scheduled);

    // The audit trail has the preview, the client creation and the import, with counts only.
    let entries = v.audit_entries(&Default::default()).unwrap();
    let new: Vec<_> = entries[audit_before..].iter().collect();
    let actions: Vec<&str> = new.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"calendar.preview"), "{actions:?}");
    assert!(actions.contains(&"client.create"), "{actions:?}");
    assert!(actions.contains(&"calendar.import"), "{actions:?}");
    for e in &new {
        let d = e.detail.clone().unwrap_or_default();
        assert!(
            !d.contains("Bea") && !d.contains("Ann") && !d.contains("Secret"),
            "{d}"
        );
    }

    // Again: nothing changes.
    let again = v.calendar_import(&x, &w, ImportSource::File).unwrap();
    assert!(!again.counts.has_changes(), "{:?}", again.counts);
    assert_eq!(again.counts.unchanged, 4);
    assert_eq!(v.list_clients(true).unwrap().len(), 2);
    assert_eq!(v.appointments(&bea.code).unwrap().len(), 2);
}

#[test]
fn a_moved_event_is_updated_and_a_cancelled_one_marked_not_deleted() {
    let (_home, mut v) = vault();
    let ann = client(&mut v, "Ann Example");
    let w = far_window();
    let first = ics(&[
        (
            "m",
            "Ann Example",
            "20310106T100000Z",
            "20310106T105000Z",
            "CONFIRMED",
        ),
        (
            "k",
            "Ann Example",
            "20310113T100000Z",
            "20310113T105000Z",
            "CONFIRMED",
        ),
        (
            "g",
            "Ann Example",
            "20310120T100000Z",
            "20310120T105000Z",
            "CONFIRMED",
        ),
    ]);
    v.calendar_import(
        &calendar::extract(&first, &w).unwrap(),
        &w,
        ImportSource::Feed,
    )
    .unwrap();
    let second = ics(&[
        (
            "m",
            "Ann Example",
            "20310106T140000Z",
            "20310106T145000Z",
            "CONFIRMED",
        ),
        (
            "k",
            "Ann Example",
            "20310113T100000Z",
            "20310113T105000Z",
            "CANCELLED",
        ),
    ]);
    let x = calendar::extract(&second, &w).unwrap();
    let preview = v.calendar_preview(&x, &w, ImportSource::Feed).unwrap();
    let by_action = |a: Change| preview.events.iter().filter(|e| e.action == a).count();
    assert_eq!(by_action(Change::Moved), 1);
    // k is cancelled in the feed; g has gone from the feed (services drop cancellations).
    assert_eq!(by_action(Change::Cancelled), 2);
    let moved = preview
        .events
        .iter()
        .find(|e| e.action == Change::Moved)
        .unwrap();
    assert_eq!(
        rfc3339(moved.previous_start.unwrap()),
        "2031-01-06T10:00:00Z"
    );

    v.calendar_import(&x, &w, ImportSource::Feed).unwrap();
    let appts = v.appointments(&ClientCode::parse(&ann).unwrap()).unwrap();
    assert_eq!(appts.len(), 3, "cancelled sessions are kept");
    assert_eq!(rfc3339(appts[0].starts_at), "2031-01-06T14:00:00Z");
    assert_eq!(appts[0].status, AppointmentStatus::Scheduled);
    assert_eq!(appts[1].status, AppointmentStatus::Cancelled);
    assert_eq!(appts[2].status, AppointmentStatus::Cancelled);
    // The move is kept as history, as one made in Casebook is.
    let history = v.appointment_moves(&appts[0].id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(rfc3339(history[0].from_starts_at), "2031-01-06T10:00:00Z");
    assert_eq!(rfc3339(history[0].to_starts_at), "2031-01-06T14:00:00Z");

    let again = v.calendar_preview(&x, &w, ImportSource::Feed).unwrap();
    assert!(!again.counts.has_changes(), "{:?}", again.counts);
}

#[test]
fn a_damaged_feed_does_not_cancel_what_it_lost() {
    let (_home, mut v) = vault();
    let ann = client(&mut v, "Ann Example");
    let w = far_window();
    let full = ics(&[
        (
            "a",
            "Ann Example",
            "20310106T100000Z",
            "20310106T105000Z",
            "CONFIRMED",
        ),
        (
            "b",
            "Ann Example",
            "20310113T100000Z",
            "20310113T105000Z",
            "CONFIRMED",
        ),
    ]);
    v.calendar_import(
        &calendar::extract(&full, &w).unwrap(),
        &w,
        ImportSource::Feed,
    )
    .unwrap();
    // Cut inside the second event.
    let cut = &full[..full.len() - 60];
    let x = calendar::extract(cut, &w).unwrap();
    assert!(x.is_damaged());
    let p = v.calendar_preview(&x, &w, ImportSource::Feed).unwrap();
    assert_eq!(p.counts.cancelled, 0);
    assert!(p.warnings.iter().any(|w| w.contains("damaged")));
    assert_eq!(
        v.appointments(&ClientCode::parse(&ann).unwrap())
            .unwrap()
            .iter()
            .filter(|a| a.status == AppointmentStatus::Scheduled)
            .count(),
        2
    );
}

#[test]
fn attended_sessions_are_history_and_not_moved() {
    let (_home, mut v) = vault();
    let ann = client(&mut v, "Ann Example");
    let w = far_window();
    let first = ics(&[(
        "a",
        "Ann Example",
        "20310106T100000Z",
        "20310106T105000Z",
        "CONFIRMED",
    )]);
    v.calendar_import(
        &calendar::extract(&first, &w).unwrap(),
        &w,
        ImportSource::File,
    )
    .unwrap();
    let id = v.appointments(&ClientCode::parse(&ann).unwrap()).unwrap()[0]
        .id
        .clone();
    v.mark_appointment(&id, AppointmentStatus::Attended)
        .unwrap();
    let later = ics(&[(
        "a",
        "Ann Example",
        "20310106T120000Z",
        "20310106T125000Z",
        "CANCELLED",
    )]);
    let p = v
        .calendar_import(
            &calendar::extract(&later, &w).unwrap(),
            &w,
            ImportSource::File,
        )
        .unwrap();
    assert!(!p.counts.has_changes());
    let a = &v.appointments(&ClientCode::parse(&ann).unwrap()).unwrap()[0];
    assert_eq!(a.status, AppointmentStatus::Attended);
    assert_eq!(rfc3339(a.starts_at), "2031-01-06T10:00:00Z");
}

#[test]
fn two_clients_with_one_name_are_not_guessed_between() {
    let (_home, mut v) = vault();
    client(&mut v, "Sam Smith");
    client(&mut v, "Sam Smith");
    let w = far_window();
    let feed = ics(&[(
        "a",
        "Sam Smith",
        "20310106T100000Z",
        "20310106T105000Z",
        "CONFIRMED",
    )]);
    let p = v
        .calendar_import(
            &calendar::extract(&feed, &w).unwrap(),
            &w,
            ImportSource::File,
        )
        .unwrap();
    assert_eq!(p.counts.new, 0);
    assert_eq!(p.skipped.len(), 1);
    assert!(p.skipped[0].reason.contains("2 clients"));
}

#[test]
fn the_feed_address_is_kept_secret_and_removed_at_once() {
    let (home, mut v) = vault();
    assert!(
        v.set_calendar_feed("http://calendar.example.com/x.ics")
            .is_err()
    );
    let s = v
        .set_calendar_feed("webcal://calendar.example.com/private-abc123/basic.ics")
        .unwrap();
    assert!(s.connected);
    assert_eq!(s.host.as_deref(), Some("calendar.example.com"));
    assert_eq!(
        v.calendar_feed_address().unwrap(),
        "https://calendar.example.com/private-abc123/basic.ics"
    );
    v.set_calendar_auto_refresh(true).unwrap();
    assert!(v.calendar_feed().unwrap().auto_refresh);
    let entries = v.audit_entries(&Default::default()).unwrap();
    assert!(
        entries
            .iter()
            .all(|e| !e.detail.clone().unwrap_or_default().contains("abc123"))
    );
    v.remove_calendar_feed().unwrap();
    assert!(!v.calendar_feed().unwrap().connected);
    assert!(v.calendar_feed_address().is_err());
    assert!(v.remove_calendar_feed().is_err());
    drop(v);
    // Nothing of the address is left in the files (encrypted, and the row overwritten).
    for entry in std::fs::read_dir(home.path().join("v")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"abc123"));
    }
}

#[test]
fn an_erased_client_is_not_brought_back_by_the_calendar() {
    let (_home, mut v) = vault();
    let w = far_window();
    let feed = ics(&[(
        "e1",
        "Eve Erased",
        "20310106T100000Z",
        "20310106T105000Z",
        "CONFIRMED",
    )]);
    let x = calendar::extract(&feed, &w).unwrap();
    v.calendar_import(&x, &w, ImportSource::Feed).unwrap();
    let code = v.list_clients(true).unwrap()[0].code.clone();
    v.erase_client(&code, "client asked", true).unwrap();
    let again = v.calendar_preview(&x, &w, ImportSource::Feed).unwrap();
    assert_eq!(again.counts.new, 0);
    assert!(again.new_clients.is_empty());
    assert!(
        again.skipped[0].reason.contains("erased"),
        "{:?}",
        again.skipped
    );
}

#[test]
fn an_empty_feed_cancels_nothing_and_cancelled_sessions_stay_cancelled() {
    let (_home, mut v) = vault();
    let ann = client(&mut v, "Ann Example");
    let w = far_window();
    let feed = ics(&[
        (
            "a",
            "Ann Example",
            "20310106T100000Z",
            "20310106T105000Z",
            "CONFIRMED",
        ),
        (
            "b",
            "Ann Example",
            "20310113T100000Z",
            "20310113T105000Z",
            "CONFIRMED",
        ),
    ]);
    let x = calendar::extract(&feed, &w).unwrap();
    v.calendar_import(&x, &w, ImportSource::Feed).unwrap();
    // The service answers with an empty calendar (an address reset, say).
    let empty =
        calendar::extract(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", &w).unwrap();
    let p = v.calendar_preview(&empty, &w, ImportSource::Feed).unwrap();
    assert_eq!(p.counts.cancelled, 0);
    assert!(!p.warnings.is_empty());
    // The therapist cancels one here; the calendar still lists it: it stays cancelled.
    let id = v
        .appointments(&ClientCode::parse(ann.as_str()).unwrap())
        .unwrap()[1]
        .id
        .clone();
    v.mark_appointment(&id, AppointmentStatus::Cancelled)
        .unwrap();
    let p = v.calendar_import(&x, &w, ImportSource::Feed).unwrap();
    assert!(!p.counts.has_changes(), "{:?}", p.counts);
    let appts = v
        .appointments(&ClientCode::parse(ann.as_str()).unwrap())
        .unwrap();
    assert_eq!(appts[1].status, AppointmentStatus::Cancelled);
    // Each imported session is in the trail under its client.
    let trail = v.audit_entries(&Default::default()).unwrap();
    assert!(trail.iter().any(|e| e.action == "appointment.create"
        && e.client_code.as_deref() == Some(ann.as_str())
        && e.detail.as_deref() == Some("source=calendar")));
}
