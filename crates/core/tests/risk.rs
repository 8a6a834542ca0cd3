//! The risk and safeguarding flag, against a real (SQLCipher) vault: a draft note flags the
//! client, the flag stands on the day's sessions and the caseload until a later note clears
//! it, a finalised note keeps what it said, and each change is audited (without text) and
//! captured for sync.

use casebook_core::{AuditFilter, CoreError, NoteRisk, NoteTemplate};
use chrono::{Duration, Utc};

#[path = "support/practice.rs"]
mod practice;
use practice::text;

#[test]
fn a_note_flags_the_client_until_a_later_note_clears_it() {
    let (_dir, mut v, codes) = practice::with_clients(&["Ada Example", "Ben Sample"]);
    let [ada, ben] = codes.try_into().unwrap();
    let now = Utc::now();
    let session = v
        .add_appointment(&ada, now + Duration::hours(1), now + Duration::hours(2))
        .unwrap();
    assert_eq!(v.risk_flag(&ada).unwrap(), None);

    let first = v
        .add_note(
            &ada,
            NoteTemplate::Brief,
            &[("risk".into(), "said she feels unsafe".into())],
            None,
        )
        .unwrap();
    let mark = v.change_mark().unwrap();
    v.set_note_risk(&first.id, Some(NoteRisk::Flagged)).unwrap();
    assert_ne!(v.change_mark().unwrap(), mark, "captured for sync");
    assert_eq!(v.note(&first.id).unwrap().risk, Some(NoteRisk::Flagged));
    let flag = v.risk_flag(&ada).unwrap().expect("flagged");
    assert_eq!(flag.note_id, first.id);
    assert_eq!(v.risk_flag(&ben).unwrap(), None, "only Ada");

    // Where the therapist looks: the day's sessions and the caseload.
    let day = v
        .schedule(now - Duration::hours(1), now + Duration::days(1))
        .unwrap();
    assert_eq!(day.len(), 1);
    assert_eq!(day[0].appointment.id, session.id);
    assert_eq!(
        day[0].risk.as_ref().map(|r| r.note_id.clone()),
        Some(first.id.clone())
    );
    let caseload = v.caseload(false, now).unwrap();
    let entry = |code: &str| {
        caseload
            .iter()
            .find(|e| e.client.code.as_str() == code)
            .unwrap()
    };
    assert!(entry(ada.as_str()).risk.is_some());
    assert!(entry(ben.as_str()).risk.is_none());

    // Finalised, the note keeps what it said.
    v.finalise_note(&first.id).unwrap();
    assert!(matches!(
        v.set_note_risk(&first.id, None),
        Err(CoreError::NoteFinalised(_))
    ));
    assert!(v.risk_flag(&ada).unwrap().is_some());

    // A later note that says nothing leaves the flag; one that clears it ends it.
    let quiet = v
        .add_note(&ada, NoteTemplate::Free, &text("a calmer week"), None)
        .unwrap();
    assert!(v.risk_flag(&ada).unwrap().is_some());
    v.set_note_risk(&quiet.id, Some(NoteRisk::Cleared)).unwrap();
    assert_eq!(v.risk_flag(&ada).unwrap(), None);

    // Audited as an edit of the note, with no words of it.
    let audit = v.audit_entries(&AuditFilter::default()).unwrap();
    let details: Vec<_> = audit.iter().filter_map(|e| e.detail.clone()).collect();
    assert!(details.iter().any(|d| d == "risk=flagged"));
    assert!(details.iter().any(|d| d == "risk=cleared"));
    assert!(!details.iter().any(|d| d.contains("unsafe")));
    assert!(v.verify_audit().unwrap().entries > 0, "the chain verifies");
}

#[test]
fn a_risk_word_that_is_not_one_is_refused() {
    assert!(NoteRisk::parse("maybe").is_err());
    assert_eq!(NoteRisk::parse("none").unwrap(), None);
    assert_eq!(
        NoteRisk::parse(" Flagged ").unwrap(),
        Some(NoteRisk::Flagged)
    );
}
