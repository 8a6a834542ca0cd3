//! GDPR rights and retention through the real `casebook` binary, as a therapist would use
//! them: a subject-access bundle and the open request, a correction with its history, a
//! supervision export without names, backup → erase → restore of the older backup (the
//! client stays erased), the retention review, and export → import into a new vault.

mod common;
use common::*;

use serde_json::Value;

const NAME: &str = "Philippa Marchbanks";
const ALIAS: &str = "Pippa";
const NOTE: &str = "Pippa described the quarry dream";
/// A valid NHS number (its check digit is right), as a therapist types it.
const NHS: &str = "943 476 5919";

fn with_client(store: KeyStore) -> (TestVault, String) {
    let v = TestVault::new(store);
    let code = v.json(&[
        "client",
        "add",
        "--name",
        NAME,
        "--alias",
        ALIAS,
        "--dob",
        "1988-08-08",
        "--email",
        "pm@example.org",
        "--nhs-number",
        NHS,
    ])["code"]
        .as_str()
        .unwrap()
        .to_string();
    let note = v.add_note(&code, NOTE);
    v.json(&["note", "finalise", &note]);
    v.json(&[
        "process-note",
        "add",
        &code,
        "--text",
        "my reaction to the quarry",
    ]);
    (v, code)
}

#[test]
fn subject_access_bundle_and_the_open_request() {
    let (v, code) = with_client(KeyStore::Passphrase);
    let p = v.json(&[
        "practice",
        "set",
        "--name",
        "Willow Counselling",
        "--therapist",
        "Sam Okafor",
        "--body",
        "bacp",
        "--number",
        "123456",
    ]);
    assert_eq!(p["registration_body"], "BACP");
    assert_eq!(
        v.json(&["practice", "show"])["practice_name"],
        "Willow Counselling"
    );
    let out = v.home.path().join("sar");
    let made = v.json(&[
        "sar",
        "create",
        &code,
        "--received",
        "2026-03-14",
        "--out",
        out.to_str().unwrap(),
    ]);
    let json: Value =
        serde_json::from_slice(&std::fs::read(made["json"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(json["request"]["due_on"], "2026-04-14");
    assert!(json.to_string().contains("quarry dream"));
    assert!(
        !json.to_string().contains("my reaction"),
        "process notes are out by default"
    );
    let html = std::fs::read_to_string(made["html"].as_str().unwrap()).unwrap();
    assert!(html.contains(NAME) && html.contains("2026-04-14"));
    // The NHS number is part of what is held, and the response says who holds the records.
    assert_eq!(json["identity"]["nhs_number"], "9434765919");
    assert!(
        html.contains("Records held by Willow Counselling · Sam Okafor · BACP 123456"),
        "{html}"
    );

    let open = v.json(&["sar", "list"]);
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["due_on"], "2026-04-14");
    let id = open[0]["id"].as_str().unwrap().to_string();
    v.json(&["sar", "close", &id]);
    assert!(v.json(&["sar", "list"]).as_array().unwrap().is_empty());
}

#[test]
fn corrections_are_kept_and_supervision_export_has_no_names() {
    let (v, code) = with_client(KeyStore::Passphrase);
    v.json(&[
        "client",
        "edit",
        &code,
        "--email",
        "philippa@example.org",
        "--reason",
        "typo",
    ]);
    let h = v.json(&["client", "history", &code]);
    assert_eq!(h[0]["old_value"], "pm@example.org");
    assert_eq!(h[0]["new_value"], "philippa@example.org");

    let letter = v.add_note(
        &code,
        "The GP's letter gives NHS number 943 476 5919; the referral wrote 943-476-5919.",
    );
    v.json(&["note", "finalise", &letter]);
    // A mistyped NHS number is refused, with the reason, and nothing changes.
    let refused = v
        .cmd()
        .args(["client", "edit", &code, "--nhs-number", "943 476 5918"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&refused).contains("not a valid NHS number"));
    assert_eq!(
        v.json(&["client", "show", &code])["identity"]["nhs_number"],
        "9434765919"
    );

    let out = v.home.path().join("sup");
    let made = v.json(&[
        "supervision",
        "export",
        &code,
        "--out",
        out.to_str().unwrap(),
        "--shift-dates",
        "-40",
    ]);
    let text = std::fs::read_to_string(made["file"].as_str().unwrap())
        .unwrap()
        .to_lowercase();
    for s in [
        "philippa",
        "marchbanks",
        "pippa",
        "philippa@example.org",
        "943 476 5919",
        "943-476-5919",
        "9434765919",
    ] {
        assert!(!text.contains(s), "{s:?} in the supervision export");
    }
    assert!(text.contains("quarry dream") && text.contains(&code.to_lowercase()));
}

#[test]
fn an_erased_client_stays_erased_after_restoring_an_older_backup() {
    let (v, code) = with_client(KeyStore::Passphrase);
    let keep = v.add_client("Someone Else");
    let backup = v.json(&["backup", "create"]);
    let file = backup["path"].as_str().unwrap().to_string();

    // Without a confirmation nothing happens.
    let unconfirmed = v
        .cmd()
        .args(["erase", &code, "--reason", "client request"])
        .output()
        .unwrap();
    assert_eq!(unconfirmed.status.code(), Some(7));
    // Inside retention (a note written today): said, and the confirmed erasure records the
    // override in the audit trail.
    let before = v.audit_count();
    let out = v
        .cmd()
        .args([
            "--json",
            "erase",
            &code,
            "--reason",
            "client request (Art. 17)",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("retention period"));
    let (ck, _) = v.keys_quiet();
    let detail: String = v
        .open_store("clinical.db", &ck)
        .query_row(
            "SELECT detail FROM audit_log WHERE action = 'client.erase' AND seq > ?1",
            [before],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("override_retention=true"), "{detail}");
    let out = v.cmd().args(["client", "show", &code]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));

    let into = v.home.path().join("restored");
    let restored = v
        .cmd()
        .env("CASEBOOK_RECOVERY_KEY", &v.recovery_key)
        .args([
            "--json",
            "backup",
            "restore",
            &file,
            "--into",
            into.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let r = TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: into.clone(),
        store: v.store,
        recovery_key: v.recovery_key.clone(),
    };
    let list = r.json(&["client", "list", "--all"]).to_string();
    assert!(!list.contains(&code) && !list.contains(NAME), "{list}");
    assert!(list.contains(&keep));
    let hits = r.json(&["search", "quarry"]);
    assert!(hits.as_array().unwrap().is_empty());
    let (ck, ik) = r.keys();
    let clinical = all_text(&r.open_store("clinical.db", &ck));
    let identity = all_text(&r.open_store("identity.db", &ik));
    assert!(!clinical.contains("quarry") && !identity.contains(NAME));
}

#[test]
fn retention_review_and_policy() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Old Client");
    v.json(&["client", "close", &code, "--ended", "2018-01-05"]);
    let due = v.json(&["retention", "review", "--on", "2025-02-01"]);
    assert_eq!(due[0]["code"], code.as_str());
    assert_eq!(due[0]["review_on"], "2025-01-05");
    assert_eq!(due[0]["due"], true);
    v.json(&[
        "retention",
        "policy",
        "set",
        "--preset",
        "nhs-mental-health",
    ]);
    assert!(
        v.json(&["retention", "review", "--on", "2025-02-01"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let shown = v.json(&["retention", "policy", "show"]);
    assert_eq!(shown["adult_years"], 20);
    // Destroying before the review date is refused.
    let out = v
        .cmd()
        .args(["retention", "destroy", &code, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8));
}

#[test]
fn export_all_then_import_into_a_new_vault() {
    let (v, code) = with_client(KeyStore::Passphrase);
    let dir = v.home.path().join("export");
    v.json(&["export", "--all", dir.to_str().unwrap()]);
    for f in [
        "manifest.json",
        "README.md",
        "clients.json",
        "clients.csv",
        "session_notes.csv",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let into = v.home.path().join("moved");
    let out = v
        .cmd()
        .env("CASEBOOK_VAULT", &into)
        .args([
            "--json",
            "--vault",
            into.to_str().unwrap(),
            "import",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let moved = TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: into.clone(),
        store: KeyStore::Passphrase,
        recovery_key: created["recovery_key"].as_str().unwrap().to_string(),
    };
    assert_eq!(
        moved.json(&["client", "show", &code]),
        v.json(&["client", "show", &code])
    );
    assert_eq!(
        moved.json(&["note", "list", &code]),
        v.json(&["note", "list", &code])
    );
    moved.json(&["audit", "verify"]);

    // A damaged export: clear error, no vault.
    std::fs::write(dir.join("clients.json"), b"not json").unwrap();
    let bad = v.home.path().join("never");
    let out = v
        .cmd()
        .args([
            "--vault",
            bad.to_str().unwrap(),
            "import",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clients.json"));
    assert!(!bad.exists());
}
