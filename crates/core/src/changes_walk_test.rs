//! The registry walk: a practice's every kind of write, made through the vault's own
//! operations on a real (SQLCipher) vault, must leave a captured change for every row of
//! every synced table — and a delete for every row erasure removed. A table added to the
//! registry as synced without capture, or a write path that slips past the triggers, fails here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate, Utc};

use crate::calendar::{self, ImportSource, ImportWindow};
use crate::records::retention::RetentionPolicy;
use crate::registry::{Sharing, Store, TABLES};
use crate::{ClientCode, ClientIdentity, Instrument, Vault};

fn keys_in_table(v: &Vault, t: &crate::registry::Table) -> BTreeSet<String> {
    let mut sql = format!("SELECT CAST(\"{}\" AS TEXT) FROM {}", t.key, t.qualified());
    if let Sharing::SyncedKeys(keys, _) = t.sharing {
        sql.push_str(&format!(
            " WHERE \"{}\" IN ({})",
            t.key,
            keys.iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    v.conn
        .prepare(&sql)
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// (table, op) → keys captured.
fn captured(v: &Vault) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for store in [Store::Clinical, Store::Identity] {
        for c in super::pending(&v.conn, store, 0, usize::MAX >> 1).unwrap() {
            out.entry((c.table, c.op)).or_default().insert(c.key);
        }
    }
    out
}

fn client(v: &mut Vault, name: &str) -> ClientCode {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        date_of_birth: NaiveDate::from_ymd_opt(1980, 5, 1),
        ..Default::default()
    })
    .unwrap()
    .code
}

#[test]
fn every_write_to_a_synced_table_leaves_a_change() {
    let home = tempfile::tempdir().unwrap();
    let mut v = Vault::init(&home.path().join("vault"), Some("walk the registry"))
        .unwrap()
        .vault;

    // Two clients: one kept, one erased at the end.
    let kept = client(&mut v, "Kept Person");
    let gone = client(&mut v, "Gone Person");
    for code in [&kept, &gone] {
        let changes: crate::records::clients::IdentityChanges =
            serde_json::from_str(r#"{"email": "someone@example.org"}"#).unwrap();
        v.edit_client(code, &changes, Some("typo")).unwrap();
        let start = Utc::now() + Duration::days(2);
        let a = v
            .add_appointment(code, start, start + Duration::minutes(50))
            .unwrap();
        v.mark_appointment(&a.id, crate::AppointmentStatus::Cancelled)
            .unwrap();
        let first = (Utc::now() + Duration::days(7)).naive_local();
        let series = v
            .add_series(
                code,
                first,
                50,
                crate::Repeat::Weekly,
                crate::SeriesEnd::Count(3),
            )
            .unwrap();
        v.move_appointment(
            &series[1].id,
            series[1].starts_at + Duration::hours(1),
            true,
        )
        .unwrap();
        v.cancel_appointment(
            &series[1].id,
            crate::CancelledBy::ClientLate,
            Some("ill"),
            false,
        )
        .unwrap();
        v.delete_appointment(&series[0].id).unwrap();
        let draft = v
            .add_note(
                code,
                crate::NoteTemplate::Free,
                &[("text".into(), "first".into())],
                None,
            )
            .unwrap();
        v.edit_note(&draft.id, &[("text".into(), "second".into())])
            .unwrap();
        v.finalise_note(&draft.id).unwrap();
        v.add_addendum(&draft.id, "later").unwrap();
        let discarded = v
            .add_note(
                code,
                crate::NoteTemplate::Free,
                &[("text".into(), "oops".into())],
                None,
            )
            .unwrap();
        v.discard_note(&discarded.id).unwrap();
        v.add_process_note(code, "my reaction").unwrap();
        v.add_measure(code, Instrument::Gad7, &[Some(1); 7])
            .unwrap();
        let r = v
            .open_access_request(code, Utc::now().date_naive())
            .unwrap();
        v.answer_access_request(&r.id).unwrap();
        v.close_client(code, Utc::now().date_naive()).unwrap();
        v.extend_retention(code, NaiveDate::from_ymd_opt(2060, 1, 1), "complaint open")
            .unwrap();
    }
    // A session on the clock, started and ended: shared with the practice's other computers.
    v.start_session(None, 30).unwrap();
    let run = v.sessions_running().unwrap().remove(0).run;
    v.end_shared_session(&run, Utc::now()).unwrap();
    v.set_retention_policy(RetentionPolicy::preset("bacp").unwrap())
        .unwrap();
    v.set_practice_profile(&crate::records::practice::PracticeProfile {
        practice_name: Some("Willow Counselling".into()),
        ..Default::default()
    })
    .unwrap();
    // A calendar import: appointments, a new client, and the practice's calendar secret.
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
        BEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Gone Person\r\nDTSTART:20310106T100000Z\r\nDTEND:20310106T105000Z\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:e2\r\nSUMMARY:New Booker\r\nDTSTART:20310107T100000Z\r\nDTEND:20310107T105000Z\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let w = ImportWindow::new(
        NaiveDate::from_ymd_opt(2031, 1, 1),
        NaiveDate::from_ymd_opt(2031, 12, 31),
        chrono_tz::Europe::London,
    )
    .unwrap();
    let x = calendar::extract(ics.as_bytes(), &w).unwrap();
    v.calendar_import(&x, &w, ImportSource::File).unwrap();

    // What erasure will take: every row naming the erased client, before it goes.
    let mut erased_rows: Vec<(&str, BTreeSet<String>)> = Vec::new();
    for t in TABLES
        .iter()
        .filter(|t| t.captured() && t.erased_by.is_some())
    {
        let sql = format!(
            "SELECT CAST(\"{}\" AS TEXT) FROM {} WHERE \"{}\" = ?1",
            t.key,
            t.qualified(),
            t.erased_by.unwrap()
        );
        let keys: BTreeSet<String> = v
            .conn
            .prepare(&sql)
            .unwrap()
            .query_map([gone.as_str()], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        erased_rows.push((t.name, keys));
    }
    v.erase_client(&gone, "client asked", true).unwrap();

    let got = captured(&v);
    for t in TABLES.iter().filter(|t| t.captured()) {
        let present = keys_in_table(&v, t);
        assert!(
            !present.is_empty(),
            "the walk wrote nothing to {}: extend it so the table is covered",
            t.qualified()
        );
        let upserts = got
            .get(&(t.name.to_string(), "upsert".to_string()))
            .cloned()
            .unwrap_or_default();
        let missing: Vec<_> = present.difference(&upserts).collect();
        assert!(
            missing.is_empty(),
            "{}: rows with no captured change: {missing:?}",
            t.qualified()
        );
    }
    for (table, keys) in erased_rows {
        assert!(
            !keys.is_empty(),
            "{table} held nothing of the erased client"
        );
        let deletes = got
            .get(&(table.to_string(), "delete".to_string()))
            .cloned()
            .unwrap_or_default();
        let missing: Vec<_> = keys.difference(&deletes).collect();
        assert!(
            missing.is_empty(),
            "{table}: erased rows with no delete change: {missing:?}"
        );
    }
    // Device-local tables are never captured.
    for (table, _) in got.keys() {
        let t = TABLES.iter().find(|t| t.name == table).unwrap();
        assert!(t.captured(), "{table} is device-local but was captured");
    }
}

/// The CLI and the app open on one vault: each reads the stamp the other stored inside its
/// own write transaction, so neither ever issues the same or a lower stamp — even when the
/// other's clock ran ahead.
#[test]
fn two_processes_on_one_vault_never_issue_the_same_or_a_lower_stamp() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("vault");
    let mut app = Vault::init(&dir, Some("two at once")).unwrap().vault;
    let mut cli = Vault::open(&dir, Some("two at once")).unwrap();
    let a = client(&mut app, "Ann Example");
    // The app's last stamp is an hour ahead of the wall clock (its clock was wrong then).
    let ahead = crate::hlc::Hlc {
        wall_ms: Utc::now().timestamp_millis() + 3_600_000,
        counter: 7,
    };
    app.conn
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'hlc'",
            [ahead.to_string()],
        )
        .unwrap();
    let b = client(&mut cli, "Bea Example");
    app.close_client(&a, Utc::now().date_naive()).unwrap();
    cli.close_client(&b, Utc::now().date_naive()).unwrap();
    let stamps: Vec<String> = super::pending(&app.conn, Store::Clinical, 0, 100)
        .unwrap()
        .into_iter()
        .filter_map(|c| c.hlc)
        .collect();
    assert!(stamps.len() >= 4, "{stamps:?}");
    assert!(stamps[1] > ahead.to_string(), "{stamps:?}");
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}
