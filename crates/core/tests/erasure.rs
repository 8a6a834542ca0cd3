//! Erasure and retention through the real vault: erased clients leave no trace in the
//! decrypted bytes of either store (every page, free pages included); erasure inside the
//! retention period needs an explicit override; an erased client does not come back from
//! an older backup; the retention review on a fake clock, with a policy change and an override.

use casebook_core::backup;
use casebook_core::records::erasure::ErasureKind;
use casebook_core::records::retention::RetentionPolicy;
use casebook_core::{ClientCode, ClientIdentity, CoreError, NoteTemplate, Vault};
use chrono::NaiveDate;

#[path = "support/sqlcipher_pages.rs"]
mod pages;

const PASSPHRASE: &str = "erasure test passphrase";
const NAME: &str = "Ottoline Quisenberry";
const NOTE: &str = "spoke about the lighthouse keeper dream";
const ADDENDUM: &str = "recalled the marzipan incident";
const PROCESS: &str = "my own countertransference about ferrets";
const OTHER: &str = "Barnaby Other";
const OTHER_NOTE: &str = "the other client's tangerine story";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn vault() -> (tempfile::TempDir, Vault) {
    let home = tempfile::tempdir().unwrap();
    let v = Vault::init(&home.path().join("vault"), Some(PASSPHRASE))
        .unwrap()
        .vault;
    (home, v)
}

fn client(v: &mut Vault, name: &str, born: Option<&str>) -> ClientCode {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        date_of_birth: born.map(d),
        email: Some("someone@example.org".into()),
        ..Default::default()
    })
    .unwrap()
    .code
}

fn note(v: &mut Vault, code: &ClientCode, text: &str) -> String {
    let n = v
        .add_note(
            code,
            NoteTemplate::Free,
            &[("text".into(), text.into())],
            None,
        )
        .unwrap();
    v.finalise_note(&n.id).unwrap();
    n.id
}

/// The decrypted bytes of both stores, every page.
fn all_bytes(v: &mut Vault) -> Vec<u8> {
    let keys = v.show_keys().unwrap();
    let mut b = pages::decrypted_pages(&v.dir().join("clinical.db"), &keys.clinical_db_key);
    b.extend(pages::decrypted_pages(
        &v.dir().join("identity.db"),
        &keys.identity_db_key,
    ));
    b
}

fn populated() -> (tempfile::TempDir, Vault, ClientCode, ClientCode) {
    let (home, mut v) = vault();
    let code = client(&mut v, NAME, Some("1980-04-01"));
    let other = client(&mut v, OTHER, None);
    let n = note(&mut v, &code, NOTE);
    v.add_addendum(&n, ADDENDUM).unwrap();
    v.add_process_note(&code, PROCESS).unwrap();
    v.add_measure(
        &code,
        casebook_core::Instrument::Gad7,
        &[
            Some(1),
            Some(2),
            Some(1),
            Some(0),
            Some(1),
            Some(2),
            Some(1),
        ],
    )
    .unwrap();
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    v.add_appointment(&code, start, start + chrono::Duration::minutes(50))
        .unwrap();
    note(&mut v, &other, OTHER_NOTE);
    // Searched once, so the index has done its work on these rows.
    assert!(!v.search("lighthouse", 10).unwrap().is_empty());
    (home, v, code, other)
}

#[test]
fn an_erased_client_leaves_no_trace_in_the_decrypted_stores() {
    let (_home, mut v, code, other) = populated();
    let before = all_bytes(&mut v);
    // The reader works: before erasure the text is there to be found.
    for s in [NAME, NOTE, ADDENDUM, PROCESS, "lighthouse"] {
        assert!(
            pages::contains(&before, s),
            "{s:?} should be readable before erasure"
        );
    }

    // Open therapy, so inside retention: refused without the override, and nothing changed.
    let e = v
        .erase_client(&code, "client asked for erasure", false)
        .unwrap_err();
    assert!(matches!(e, CoreError::Conflict(_)), "{e}");
    assert!(v.client(&code).is_ok());
    // A reason naming the client is refused (it is kept for good).
    assert!(v.erase_client(&code, "Quisenberry asked", true).is_err());

    let record = v
        .erase_client(&code, "client asked for erasure (Article 17)", true)
        .unwrap();
    assert_eq!(record.kind, ErasureKind::Erasure);
    assert!(v.client(&code).is_err());
    assert!(v.search("lighthouse", 10).unwrap().is_empty());

    let after = all_bytes(&mut v);
    for s in [
        NAME,
        "Ottoline",
        "Quisenberry",
        NOTE,
        "lighthouse",
        ADDENDUM,
        "marzipan",
        PROCESS,
        "ferrets",
    ] {
        assert!(
            !pages::contains(&after, s),
            "{s:?} is still in the decrypted store bytes"
        );
    }
    // The other client is untouched; the erasure record remains, without a name.
    assert!(pages::contains(&after, OTHER_NOTE));
    assert_eq!(v.notes(&other).unwrap().len(), 1);
    let records = v.erasure_records().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].client_code, code.as_str());
    v.verify_audit().unwrap();
}

#[test]
fn backup_erase_restore_keeps_the_client_erased() {
    let home = tempfile::tempdir().unwrap();
    let created = Vault::init(&home.path().join("vault"), Some(PASSPHRASE)).unwrap();
    let recovery = created.recovery_key;
    let mut v = created.vault;
    let code = client(&mut v, NAME, None);
    note(&mut v, &code, NOTE);
    let keep = client(&mut v, OTHER, None);
    let dest = home.path().join("backups");
    let made = v.backup_create(&dest, &mut |_| {}).unwrap();
    v.erase_client(&code, "client asked for erasure", true)
        .unwrap();
    drop(v);

    let into = home.path().join("restored");
    let restored =
        backup::restore(&made.path, &recovery, &into, Some(PASSPHRASE), &mut |_| {}).unwrap();
    let mut r = restored.vault;
    assert!(r.client(&code).is_err(), "the erased client came back");
    assert!(r.client(&keep).is_ok());
    assert!(r.search("lighthouse", 10).unwrap().is_empty());
    let records = r.erasure_records().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].client_code, code.as_str());
    let bytes = all_bytes(&mut r);
    assert!(!pages::contains(&bytes, NAME) && !pages::contains(&bytes, "lighthouse"));
    r.verify_audit().unwrap();
}

#[test]
fn retention_review_on_a_fake_clock_with_policy_change_and_override() {
    let (_home, mut v) = vault();
    // Adult, ended 2019-01-10: due 2026-01-10.
    let adult = client(&mut v, "Ada Adult", Some("1970-05-05"));
    v.close_client(&adult, d("2019-01-10")).unwrap();
    // 17 at the end (born 2002-03-01, ended 2019-09-01): until the 26th birthday, 2028-03-01.
    let seventeen = client(&mut v, "Sev Teen", Some("2002-03-01"));
    v.close_client(&seventeen, d("2019-09-01")).unwrap();
    // 12 at the end (born 2007-06-15, ended 2019-06-01): until the 25th birthday, 2032-06-15.
    let twelve = client(&mut v, "Twel Ve", Some("2007-06-15"));
    v.close_client(&twelve, d("2019-06-01")).unwrap();
    // Adult ended 2019-05-01: due 2026-05-01.
    let soon = client(&mut v, "Sue Soon", None);
    v.close_client(&soon, d("2019-05-01")).unwrap();

    assert_eq!(
        v.retention_of(&seventeen).unwrap().unwrap().0,
        d("2028-03-01")
    );
    // The clinical store holds the dates only: no birth date, no age, no basis sentence.
    {
        let keys = v.show_keys().unwrap();
        let conn = rusqlite::Connection::open(v.dir().join("clinical.db")).unwrap();
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", keys.clinical_db_key))
            .unwrap();
        let with_basis: i64 = conn
            .query_row(
                "SELECT count(*) FROM client_retention WHERE basis IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(with_basis, 0);
        let dates: i64 = conn
            .query_row(
                "SELECT count(*) FROM client_retention WHERE review_on IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(dates, 4);
    }
    assert_eq!(v.retention_of(&twelve).unwrap().unwrap().0, d("2032-06-15"));

    // On 2026-02-15: Ada is due; Sue falls within 90 days; the minors are far off.
    let list = v.retention_review(d("2026-02-15")).unwrap();
    let codes: Vec<(&str, bool)> = list.iter().map(|i| (i.code.as_str(), i.due)).collect();
    assert_eq!(codes, vec![(adult.as_str(), true), (soon.as_str(), false)]);
    assert_eq!(list[0].full_name.as_deref(), Some("Ada Adult"));

    // NHS adult policy (8 years): Ada's date moves to 2027-01-10 — nobody due on that day.
    v.set_retention_policy(RetentionPolicy::preset("nhs-adult").unwrap())
        .unwrap();
    assert!(v.retention_review(d("2026-02-15")).unwrap().is_empty());
    assert_eq!(v.retention_of(&adult).unwrap().unwrap().0, d("2027-01-10"));
    v.set_retention_policy(RetentionPolicy::default()).unwrap();

    // Extending Ada with a reason takes her off the list until then.
    v.extend_retention(&adult, Some(d("2030-01-01")), "open insurance claim")
        .unwrap();
    let list = v.retention_review(d("2026-02-15")).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].code, soon.as_str());
    let (date, basis) = v.retention_of(&adult).unwrap().unwrap();
    assert_eq!(date, d("2030-01-01"));
    assert!(basis.contains("insurance"));

    // Destroying before the review date is refused; after it, a certificate results.
    assert!(v.destroy_for_retention(&twelve).is_err());
    let rec = v.destroy_for_retention(&soon);
    // Sue's date (2026-05-01) may be in the future on the machine's real clock; only
    // destroy when it has passed.
    if chrono::Local::now().date_naive() >= d("2026-05-01") {
        let rec = rec.unwrap();
        let cert = rec.certificate.unwrap();
        assert_eq!(cert.client_code, soon.as_str());
        assert_eq!(cert.ended_on, Some(d("2019-05-01")));
        assert_eq!(cert.review_on, Some(d("2026-05-01")));
        assert!(cert.policy.contains("BACP"));
        assert!(v.client(&soon).is_err());
    } else {
        assert!(rec.is_err());
    }
}
