//! Subject access, rectification, supervision export and the open-format round trip,
//! through the real vault and checked against the stores themselves.

use casebook_core::records::access::{AccessOptions, Redaction};
use casebook_core::records::clients::IdentityChanges;
use casebook_core::records::supervision::SupervisionOptions;
use casebook_core::{ClientCode, ClientIdentity, Instrument, NoteTemplate, Vault};
use chrono::NaiveDate;
use serde_json::Value;

const PASSPHRASE: &str = "gdpr test passphrase";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn vault(home: &tempfile::TempDir) -> Vault {
    Vault::init(&home.path().join("vault"), Some(PASSPHRASE))
        .unwrap()
        .vault
}

struct World {
    home: tempfile::TempDir,
    v: Vault,
    ann: ClientCode,
    bob: ClientCode,
}

/// Two clients with notes (one finalised with an addendum, one draft), process notes,
/// measures and sessions; Bob's texts are distinct so their absence can be checked.
fn world() -> World {
    let home = tempfile::tempdir().unwrap();
    let mut v = vault(&home);
    let ann = v
        .add_client(ClientIdentity {
            full_name: "Annabel Fairweather".into(),
            date_of_birth: Some(d("1990-02-03")),
            email: Some("annabel@example.org".into()),
            aliases: vec!["Bella".into()],
            ..Default::default()
        })
        .unwrap()
        .code;
    let bob = v
        .add_client(ClientIdentity {
            full_name: "Robert Otherfield".into(),
            ..Default::default()
        })
        .unwrap()
        .code;
    let start = chrono::Utc::now() - chrono::Duration::days(7);
    v.add_appointment(&ann, start, start + chrono::Duration::minutes(50))
        .unwrap();
    let n = v
        .add_note(
            &ann,
            NoteTemplate::Soap,
            &[
                (
                    "subjective".into(),
                    "Bella said her brother Tom was unkind; Annabel cried".into(),
                ),
                ("plan".into(), "review sleep diary".into()),
            ],
            None,
        )
        .unwrap();
    v.finalise_note(&n.id).unwrap();
    v.add_addendum(&n.id, "Fairweather family meeting agreed")
        .unwrap();
    v.add_note(
        &ann,
        NoteTemplate::Free,
        &[("text".into(), "draft about the allotment".into())],
        None,
    )
    .unwrap();
    v.add_process_note(&ann, "I felt protective of her")
        .unwrap();
    v.add_measure(&ann, Instrument::Phq9, &[Some(1); 9])
        .unwrap();
    let bn = v
        .add_note(
            &bob,
            NoteTemplate::Free,
            &[("text".into(), "bob's zeppelin anxiety".into())],
            None,
        )
        .unwrap();
    v.finalise_note(&bn.id).unwrap();
    v.add_process_note(&bob, "bob process reflection walrus")
        .unwrap();
    World { home, v, ann, bob }
}

fn count(v: &mut Vault, table: &str, code: &ClientCode) -> usize {
    let keys = v.show_keys().unwrap();
    let conn = rusqlite::Connection::open(v.dir().join("clinical.db")).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", keys.clinical_db_key))
        .unwrap();
    conn.query_row(
        &format!("SELECT count(*) FROM {table} WHERE client_code = ?1 AND deleted = 0"),
        [code.as_str()],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

#[test]
fn a_subject_access_bundle_holds_everything_about_the_client_and_nothing_else() {
    let mut w = world();
    let out = w.home.path().join("sar");
    let export =
        w.v.subject_access_export(
            &w.ann,
            &AccessOptions {
                received_on: Some(d("2026-01-31")),
                ..Default::default()
            },
            &out,
        )
        .unwrap();
    let json: Value = serde_json::from_slice(&std::fs::read(&export.json).unwrap()).unwrap();
    let html = std::fs::read_to_string(&export.html).unwrap();

    // Every item, checked against the store.
    assert_eq!(
        json["session_notes"].as_array().unwrap().len(),
        count(&mut w.v, "session_notes", &w.ann)
    );
    assert_eq!(
        json["appointments"].as_array().unwrap().len(),
        count(&mut w.v, "appointments", &w.ann)
    );
    assert_eq!(
        json["outcome_measures"].as_array().unwrap().len(),
        count(&mut w.v, "outcome_measures", &w.ann)
    );
    assert_eq!(json["identity"]["full_name"], "Annabel Fairweather");
    assert_eq!(json["identity"]["email"], "annabel@example.org");
    let all = json.to_string();
    for s in [
        "Tom was unkind",
        "review sleep diary",
        "Fairweather family meeting",
        "allotment",
    ] {
        assert!(all.contains(s), "{s:?} missing from the bundle");
        assert!(html.contains(s), "{s:?} missing from the readable document");
    }
    assert_eq!(json["outcome_measures"][0]["total"], 9.0);
    // The dates of the request.
    assert_eq!(json["request"]["received_on"], "2026-01-31");
    assert_eq!(json["request"]["due_on"], "2026-02-28");
    assert!(html.contains("2026-02-28"));
    // Process notes withheld by default, and listed as withheld.
    assert!(json["process_notes"].is_null());
    assert!(!all.contains("protective"));
    assert!(json["withheld"].to_string().contains("process note"));
    // Nothing about Bob.
    for s in ["Otherfield", "zeppelin", "walrus", w.bob.as_str()] {
        assert!(
            !all.contains(s) && !html.contains(s),
            "{s:?} leaked into Ann's bundle"
        );
    }
    // The request is open, with its due date.
    let open = w.v.access_requests(false).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].due_on, d("2026-02-28"));
    w.v.answer_access_request(&open[0].id).unwrap();
    assert!(w.v.access_requests(false).unwrap().is_empty());
}

#[test]
fn process_notes_only_when_asked_and_redactions_are_listed() {
    let mut w = world();
    let notes = w.v.notes(&w.ann).unwrap();
    let final_note = notes.iter().find(|n| n.finalised_at.is_some()).unwrap();
    let export =
        w.v.subject_access_export(
            &w.ann,
            &AccessOptions {
                include_process_notes: true,
                redactions: vec![Redaction {
                    item_id: final_note.id.clone(),
                    passage: "her brother Tom was unkind".into(),
                    reason: "about a third party".into(),
                }],
                received_on: None,
            },
            &w.home.path().join("sar"),
        )
        .unwrap();
    let json = export.content;
    let all = json.to_string();
    assert!(all.contains("I felt protective of her"));
    assert!(!all.contains("walrus"));
    assert!(!all.contains("Tom was unkind") && all.contains("[withheld]"));
    assert!(json["withheld"].to_string().contains("about a third party"));
    // The choice to include process notes is in the audit trail.
    let trail = w.v.audit_entries(&Default::default()).unwrap();
    assert!(trail.iter().any(|e| {
        e.action == "sar.create"
            && e.detail
                .as_deref()
                .unwrap_or_default()
                .contains("include_process_notes=true")
    }));
}

#[test]
fn identity_corrections_keep_their_history() {
    let mut w = world();
    w.v.edit_client(
        &w.ann,
        &IdentityChanges {
            email: Some(Some("annabel.f@example.org".into())),
            date_of_birth: Some(Some(d("1990-03-02"))),
            ..Default::default()
        },
        Some("client corrected her details"),
    )
    .unwrap();
    let c = w.v.client(&w.ann).unwrap();
    assert_eq!(
        c.identity.unwrap().email.as_deref(),
        Some("annabel.f@example.org")
    );
    let h = w.v.client_history(&w.ann).unwrap();
    assert_eq!(h.len(), 2);
    let email = h.iter().find(|c| c.field == "email").unwrap();
    assert_eq!(email.old_value.as_deref(), Some("annabel@example.org"));
    assert_eq!(
        email.reason.as_deref(),
        Some("client corrected her details")
    );
    // Nothing to change is refused; the audit entry names fields, not values.
    assert!(
        w.v.edit_client(&w.ann, &IdentityChanges::default(), None)
            .is_err()
    );
    let trail = w.v.audit_entries(&Default::default()).unwrap();
    let edit = trail.iter().find(|e| e.action == "client.edit").unwrap();
    assert!(
        !edit
            .detail
            .clone()
            .unwrap_or_default()
            .contains("example.org")
    );
}

#[test]
fn the_supervision_export_holds_no_name_or_alias() {
    let mut w = world();
    let export =
        w.v.supervision_export(
            std::slice::from_ref(&w.ann),
            &SupervisionOptions {
                shift_days: Some(-17),
                note_ids: None,
            },
        )
        .unwrap();
    let text = export.content.to_string().to_lowercase();
    assert_eq!(export.notes, 1, "finalised notes only, by default");
    for s in [
        "annabel",
        "fairweather",
        "bella",
        "annabel@example.org",
        "otherfield",
        "robert",
    ] {
        assert!(!text.contains(s), "{s:?} is in the supervision export");
    }
    assert!(text.contains(&w.ann.as_str().to_lowercase()));
    assert!(text.contains("review sleep diary"));
    // Dates are shifted: the note was written today, the export says 17 days earlier.
    let shifted = (chrono::Utc::now() - chrono::Duration::days(17))
        .date_naive()
        .to_string();
    assert!(text.contains(&shifted), "{text}");
}

fn tables(dir: &std::path::Path) -> Vec<(String, Value)> {
    casebook_core::portability::tables()
        .into_iter()
        .map(|(stem, _)| {
            let v: Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("{stem}.json"))).unwrap())
                    .unwrap();
            (stem.to_string(), v)
        })
        .collect()
}

#[test]
fn export_then_import_is_lossless() {
    let mut w = world();
    w.v.erase_client(&w.bob, "duplicate record", true).unwrap();
    w.v.subject_access_export(
        &w.ann,
        &AccessOptions::default(),
        &w.home.path().join("sar"),
    )
    .unwrap();
    let first = w.home.path().join("export-1");
    w.v.export_all(&first).unwrap();
    assert!(first.join("README.md").exists() && first.join("session_notes.csv").exists());

    let into = w.home.path().join("imported");
    let mut imported = Vault::import_all(&first, &into, Some("another passphrase"))
        .unwrap()
        .vault;
    imported.verify_audit().unwrap();
    let second = w.home.path().join("export-2");
    imported.export_all(&second).unwrap();

    for ((name, a), (_, b)) in tables(&first).into_iter().zip(tables(&second)) {
        if name == "audit_log" {
            // The trail carries over verbatim, with the import appended.
            let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
            assert_eq!(&b[..a.len()], &a[..]);
            assert_eq!(b[a.len()]["action"], "vault.import");
        } else {
            assert_eq!(a, b, "{name} differs after the round trip");
        }
    }
    // Search works from the imported notes.
    assert!(!imported.search("sleep", 10).unwrap().is_empty());
}

#[test]
fn bad_import_files_are_refused_and_no_vault_is_created() {
    let mut w = world();
    let good = w.home.path().join("export");
    w.v.export_all(&good).unwrap();
    let copy = |name: &str| {
        let dir = w.home.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&good).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        dir
    };
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        {
            let d = copy("no-manifest");
            std::fs::remove_file(d.join("manifest.json")).unwrap();
            (d, "manifest.json")
        },
        {
            let d = copy("broken-json");
            std::fs::write(d.join("session_notes.json"), b"[{\"id\": ").unwrap();
            (d, "session_notes.json")
        },
        {
            let d = copy("unknown-field");
            let mut v: Value =
                serde_json::from_slice(&std::fs::read(d.join("clients.json")).unwrap()).unwrap();
            v[0]["favourite_colour"] = Value::from("blue");
            std::fs::write(d.join("clients.json"), serde_json::to_vec(&v).unwrap()).unwrap();
            (d, "favourite_colour")
        },
        {
            // An addendum whose note does not exist: caught by the rehearsal.
            let d = copy("dangling");
            let mut v: Value =
                serde_json::from_slice(&std::fs::read(d.join("addenda.json")).unwrap()).unwrap();
            v[0]["note_id"] = Value::from("no-such-note");
            std::fs::write(d.join("addenda.json"), serde_json::to_vec(&v).unwrap()).unwrap();
            (d, "addenda.json")
        },
        {
            let d = copy("truncated");
            let mut v: Value =
                serde_json::from_slice(&std::fs::read(d.join("appointments.json")).unwrap())
                    .unwrap();
            v.as_array_mut().unwrap().clear();
            std::fs::write(d.join("appointments.json"), serde_json::to_vec(&v).unwrap()).unwrap();
            (d, "manifest says")
        },
    ];
    for (dir, expect) in cases {
        let into = w.home.path().join(format!(
            "vault-from-{}",
            dir.file_name().unwrap().to_string_lossy()
        ));
        let e = match Vault::import_all(&dir, &into, Some("another passphrase")) {
            Ok(_) => panic!("{} was imported", dir.display()),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(expect), "{}: {e}", dir.display());
        assert!(!into.exists(), "{} was created", into.display());
        let leftovers: Vec<_> = std::fs::read_dir(w.home.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".casebook-import-")
            })
            .collect();
        assert!(leftovers.is_empty(), "staging left behind");
    }
}

#[test]
fn a_passage_to_withhold_that_is_not_found_stops_the_export() {
    let mut w = world();
    let notes = w.v.notes(&w.ann).unwrap();
    let final_note = notes.iter().find(|n| n.finalised_at.is_some()).unwrap();
    let out = w.home.path().join("sar");
    let e =
        w.v.subject_access_export(
            &w.ann,
            &AccessOptions {
                redactions: vec![Redaction {
                    item_id: final_note.id.clone(),
                    passage: "her BROTHER Tom".into(),
                    reason: "third party".into(),
                }],
                ..Default::default()
            },
            &out,
        )
        .unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    assert!(!out.exists(), "nothing is written");
    assert!(
        w.v.access_requests(true).unwrap().is_empty(),
        "nothing is recorded"
    );
}

#[test]
fn supervision_export_replaces_earlier_names_and_the_people_around_the_client() {
    let mut w = world();
    w.v.edit_client(
        &w.ann,
        &IdentityChanges {
            full_name: Some("Annabel Newsurname".into()),
            emergency_contact: Some(Some("Gregory Fairweather".into())),
            ..Default::default()
        },
        Some("married"),
    )
    .unwrap();
    let export =
        w.v.supervision_export(std::slice::from_ref(&w.ann), &SupervisionOptions::default())
            .unwrap();
    let text = export.content.to_string().to_lowercase();
    for s in ["fairweather", "newsurname", "annabel", "gregory"] {
        assert!(!text.contains(s), "{s:?} is in the supervision export");
    }
    assert!(
        w.v.supervision_export(
            std::slice::from_ref(&w.ann),
            &SupervisionOptions {
                shift_days: Some(i64::MAX),
                note_ids: None
            }
        )
        .is_err()
    );
}

#[test]
fn an_extension_cannot_bring_destruction_forward_and_a_tampered_trail_is_not_imported() {
    let mut w = world();
    w.v.close_client(&w.bob, d("2020-01-01")).unwrap();
    let e =
        w.v.extend_retention(&w.bob, Some(d("2021-01-01")), "mistake")
            .unwrap_err();
    assert!(e.to_string().contains("later than"), "{e}");

    let dir = w.home.path().join("export");
    w.v.export_all(&dir).unwrap();
    let mut trail: Value =
        serde_json::from_slice(&std::fs::read(dir.join("audit_log.json")).unwrap()).unwrap();
    trail[1]["action"] = Value::from("note.read");
    std::fs::write(
        dir.join("audit_log.json"),
        serde_json::to_vec(&trail).unwrap(),
    )
    .unwrap();
    let into = w.home.path().join("never");
    let e = match Vault::import_all(&dir, &into, Some("x passphrase")) {
        Ok(_) => panic!("a tampered trail was imported"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("does not verify"), "{e}");
    assert!(!into.exists());
}

#[test]
fn a_second_received_date_for_an_open_request_is_refused_and_an_alias_cannot_be_a_reason() {
    let mut w = world();
    let out = w.home.path().join("sar");
    w.v.subject_access_export(
        &w.ann,
        &AccessOptions {
            received_on: Some(d("2026-01-10")),
            ..Default::default()
        },
        &out,
    )
    .unwrap();
    let e =
        w.v.subject_access_export(
            &w.ann,
            &AccessOptions {
                received_on: Some(d("2026-01-20")),
                ..Default::default()
            },
            &out,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("open request received 10/01/2026"),
        "{e}"
    );
    // The same request again (no date given) is fine.
    w.v.subject_access_export(&w.ann, &AccessOptions::default(), &out)
        .unwrap();
    // "Bella" is Annabel's alias: it may not be in the reason kept for good.
    let e =
        w.v.erase_client(&w.ann, "Bella asked for this", true)
            .unwrap_err();
    assert!(e.to_string().contains("must not name the client"), "{e}");
}
