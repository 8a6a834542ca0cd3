//! The therapist's day through the real CLI, on real SQLCipher, once per key store:
//! init → client → note (draft, edit, finalise) → addendum → search → measures →
//! process notes → close → audit verify.

mod common;
use common::*;
use predicates::prelude::*;

for_each_key_store!(a_day_with_the_vault, |store| {
    let v = TestVault::new(store);
    let code = v.json(&[
        "client",
        "add",
        "--name",
        "Alice Example",
        "--dob",
        "1990-02-03",
        "--email",
        "alice@example.org",
        "--phone",
        "+44 7700 900123",
    ])["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(code.starts_with("C-") && code.len() == 6, "{code}");

    // A SOAP draft, edited, then finalised.
    let note = v.json(&[
        "note",
        "add",
        &code,
        "--template",
        "soap",
        "--field",
        "subjective=reports poor sleep since March",
        "--field",
        "plan=keep a sleep diary",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let edited = v.json(&[
        "note",
        "edit",
        &note,
        "--field",
        "assessment=low mood, no risk indicated",
    ]);
    assert_eq!(
        edited["fields"]["assessment"],
        "low mood, no risk indicated"
    );
    assert_eq!(
        edited["fields"]["subjective"],
        "reports poor sleep since March"
    );
    let fin = v.json(&["note", "finalise", &note]);
    assert_eq!(fin["status"], "final");

    // A finalised note cannot change; the original stays as it was.
    v.cmd()
        .args(["note", "edit", &note, "--field", "plan=changed"])
        .assert()
        .code(8)
        .stderr(predicate::str::contains("finalised").and(predicate::str::contains("addendum")));
    let amend = v.json(&[
        "note",
        "amend",
        &note,
        "--text",
        "Correction: sleep diary started in April",
    ]);
    let shown = v.json(&["note", "show", &note]);
    assert_eq!(shown["fields"]["plan"], "keep a sleep diary");
    assert_eq!(shown["addenda"][0]["id"], amend["id"]);
    assert_eq!(
        shown["addenda"][0]["text"],
        "Correction: sleep diary started in April"
    );

    // Search finds the note and the addendum, with the client's name from the identity store.
    let hits = v.json(&["search", "sleep diary"]);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    for h in hits {
        assert_eq!(h["client_code"], code.as_str());
        assert_eq!(h["client_name"], "Alice Example");
        assert_eq!(h["note_id"], note.as_str());
    }
    assert!(
        v.json(&["search", "nonexistentword"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Measures: scored, banded, risk flagged.
    let m = v.json(&[
        "measure",
        "add",
        &code,
        "phq9",
        "--items",
        "2,2,2,2,2,2,2,0,1",
    ]);
    assert_eq!(m["score"]["total"], 15.0);
    assert_eq!(m["score"]["band"], "moderately severe");
    assert_eq!(m["score"]["risk"], true);
    v.json(&[
        "measure",
        "add",
        &code,
        "core10",
        "--items",
        "1,0,0,1,1,0,0,0,0,-",
    ]);
    let list = v.json(&["measure", "list", &code]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["score"]["prorated"], true);

    // Process notes live apart and are searchable.
    v.json(&[
        "process-note",
        "add",
        &code,
        "--text",
        "countertransference: felt protective",
    ]);
    assert_eq!(
        v.json(&["process-note", "list", &code])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        v.json(&["note", "list", &code]).as_array().unwrap().len(),
        1
    );

    // Sessions and attendance.
    let appt = v.json(&[
        "appointment",
        "add",
        &code,
        "--start",
        "2026-03-14 09:30",
        "--minutes",
        "50",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let marked = v.json(&["appointment", "mark", &appt, "dna"]);
    assert_eq!(marked["status"], "did_not_attend");

    // Close the file; the client leaves the active list.
    v.json(&["client", "close", &code, "--ended", "2026-04-01"]);
    assert!(v.json(&["client", "list"]).as_array().unwrap().is_empty());
    let all = v.json(&["client", "list", "--all"]);
    assert_eq!(all[0]["full_name"], "Alice Example");
    assert_eq!(all[0]["status"], "closed");

    let ok = v.json(&["audit", "verify"]);
    assert_eq!(ok["ok"], true);
    let status = v.json(&["status"]);
    assert_eq!(status["closed_clients"], 1);
    assert_eq!(status["session_notes"], 1);
});

#[test]
fn global_flags_go_before_or_after_the_subcommand() {
    let v = TestVault::new(KeyStore::Passphrase);
    let before = v
        .cmd()
        .args(["--json", "status"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let after = v
        .cmd()
        .args(["status", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(serde_json::from_slice::<serde_json::Value>(&before).is_ok());
    assert!(serde_json::from_slice::<serde_json::Value>(&after).is_ok());
    let dir = v.dir.to_str().unwrap().to_string();
    Command::cargo_bin("casebook")
        .unwrap()
        .env_remove("CASEBOOK_VAULT")
        .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
        .args(["status", "--vault", &dir])
        .assert()
        .success()
        .stdout(predicate::str::contains("passphrase key file"));
}

#[test]
fn every_command_has_help() {
    let groups: &[&[&str]] = &[
        &[],
        &["init"],
        &["recover"],
        &["status"],
        &["client"],
        &["client", "add"],
        &["client", "list"],
        &["client", "show"],
        &["client", "close"],
        &["appointment", "add"],
        &["appointment", "list"],
        &["appointment", "mark"],
        &["appointment", "attended"],
        &["appointment", "dna"],
        &["appointment", "cancel"],
        &["appointment", "move"],
        &["appointment", "delete"],
        &["appointment", "todo"],
        &["note"],
        &["note", "add"],
        &["note", "edit"],
        &["note", "finalise"],
        &["note", "amend"],
        &["note", "discard"],
        &["note", "show"],
        &["note", "list"],
        &["process-note", "add"],
        &["process-note", "list"],
        &["measure", "add"],
        &["measure", "list"],
        &["search"],
        &["audit", "list"],
        &["audit", "verify"],
        &["audit", "export"],
        &["keys", "show"],
    ];
    for g in groups {
        Command::cargo_bin("casebook")
            .unwrap()
            .args(*g)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: casebook"));
    }
}

#[test]
fn keys_show_prints_two_raw_keys() {
    let v = TestVault::new(KeyStore::Passphrase);
    let keys = v.json(&["keys", "show", "--i-understand"]);
    let obj = keys.as_object().unwrap();
    for k in ["clinical_db_key", "identity_db_key"] {
        let hex = obj[k].as_str().unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert_ne!(obj["clinical_db_key"], obj["identity_db_key"]);
    v.cmd()
        .args(["keys", "show"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("--i-understand"));
}

#[test]
fn audit_export_writes_csv_and_json() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Bea Example");
    v.add_note(&code, "text");
    let csv = v
        .cmd()
        .args(["audit", "export", "--format", "csv"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let csv = String::from_utf8(csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        // Every field quoted: a spreadsheet splitting on ';' still sees one cell each.
        r#""seq","at","device_id","action","client_code","object_id","detail","prev_hash","hash""#
    );
    assert!(csv.contains("note.create"));
    assert!(!csv.contains("Bea Example"));
    let out = v.home.path().join("audit.json");
    v.cmd()
        .args([
            "audit",
            "export",
            "--format",
            "json",
            "--client",
            &code,
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    let entries: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let entries = entries.as_array().unwrap();
    assert!(entries.len() >= 2);
    assert!(entries.iter().all(|e| e["client_code"] == code.as_str()));
}

use assert_cmd::Command;

/// Clinical text can come from standard input, so it never shows in `ps` or shell history.
#[test]
fn note_text_can_come_from_standard_input() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Ola Example");
    let out = v
        .cmd()
        .args(["--json", "note", "add", &code, "--text", "-"])
        .write_stdin("first line\nsecond line about the allotment\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let id = serde_json::from_slice::<serde_json::Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        v.json(&["note", "show", &id])["fields"]["text"],
        "first line\nsecond line about the allotment"
    );
    v.cmd()
        .args(["process-note", "add", &code, "--text", "-"])
        .write_stdin("private reflection")
        .assert()
        .success();
    assert_eq!(
        v.json(&["process-note", "list", &code])[0]["text"],
        "private reflection"
    );
}
