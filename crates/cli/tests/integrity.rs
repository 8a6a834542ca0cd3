//! Immutability and the audit trail: finalised notes refuse change in the CLI and in the
//! database; every command that touches a record is audited; any tampering with the chain
//! is caught and named.

mod common;
use common::*;
use predicates::prelude::*;

#[test]
fn a_finalised_note_refuses_update_and_delete_in_the_database() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Cara Example");
    let note = v.add_note(&code, "original words");
    v.json(&["note", "finalise", &note]);
    let (ck, _) = v.keys();
    let conn = v.open_store("clinical.db", &ck);
    let update = conn.execute(
        "UPDATE session_notes SET body = '{\"text\":\"rewritten\"}' WHERE id = ?1",
        [&note],
    );
    assert!(update.unwrap_err().to_string().contains("immutable"));
    assert!(
        conn.execute("DELETE FROM session_notes WHERE id = ?1", [&note])
            .is_err()
    );
    drop(conn);
    v.cmd()
        .args(["note", "edit", &note, "--text", "rewritten"])
        .assert()
        .code(8);
    v.cmd().args(["note", "discard", &note]).assert().code(8);
    assert_eq!(
        v.json(&["note", "show", &note])["fields"]["text"],
        "original words"
    );
}

#[test]
fn every_command_that_touches_a_record_is_audited() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Dee Example");
    let note = v.add_note(&code, "draft text");
    let draft = v.add_note(&code, "to be discarded");
    let appt = v.json(&["appointment", "add", &code, "--start", "2026-05-01 10:00"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["status"], "vault.status"),
        (
            vec!["client", "add", "--name", "Eve Example"],
            "client.create",
        ),
        (vec!["client", "list"], "client.list"),
        (vec!["client", "show", &code], "client.read"),
        (
            vec!["appointment", "add", &code, "--start", "2026-05-02 10:00"],
            "appointment.create",
        ),
        (vec!["appointment", "list", &code], "appointment.list"),
        (
            vec!["appointment", "mark", &appt, "attended"],
            "appointment.mark",
        ),
        (vec!["note", "add", &code, "--text", "x"], "note.create"),
        (vec!["note", "edit", &note, "--text", "y"], "note.update"),
        (vec!["note", "show", &note], "note.read"),
        (vec!["note", "list", &code], "note.list"),
        (vec!["note", "finalise", &note], "note.finalise"),
        (vec!["note", "amend", &note, "--text", "z"], "note.addendum"),
        (vec!["note", "discard", &draft], "note.discard"),
        (
            vec!["process-note", "add", &code, "--text", "p"],
            "process_note.create",
        ),
        (vec!["process-note", "list", &code], "process_note.list"),
        (
            vec!["measure", "add", &code, "gad7", "--items", "0,0,0,0,0,0,0"],
            "measure.create",
        ),
        (vec!["measure", "list", &code], "measure.list"),
        (vec!["search", "draft"], "search"),
        (vec!["audit", "list"], "audit.list"),
        (vec!["audit", "verify"], "audit.verify"),
        (vec!["audit", "export"], "audit.export"),
        (vec!["keys", "show", "--i-understand"], "keys.show"),
        (vec!["client", "close", &code], "client.close"),
    ];
    for (args, action) in cases {
        let before = v.audit_count();
        v.cmd().args(&args).assert().success();
        let new = v.actions_after(before);
        assert_eq!(
            new,
            vec!["vault.unlock".to_string(), action.to_string()],
            "{args:?}"
        );
    }
    // Entries name codes and ids, never names or clinical text.
    let export = v
        .cmd()
        .args(["audit", "export", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let export = String::from_utf8(export).unwrap();
    for secret in [
        "Dee Example",
        "Eve Example",
        "draft text",
        "to be discarded",
    ] {
        assert!(!export.contains(secret), "audit trail holds {secret:?}");
    }
}

/// Tampers with the audit log directly (after dropping its triggers) and expects
/// `audit verify` to fail naming the entry.
fn tamper(sql: &str, expect: &str) {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Fay Example");
    for i in 0..3 {
        v.add_note(&code, &format!("note {i}"));
    }
    v.json(&["audit", "verify"]);
    let (ck, _) = v.keys_quiet();
    let conn = v.open_store("clinical.db", &ck);
    conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    v.cmd()
        .args(["audit", "verify"])
        .assert()
        .code(9)
        .stderr(predicate::str::contains(expect));
}

#[test]
fn an_altered_entry_is_named() {
    tamper(
        "UPDATE audit_log SET client_code = 'C-ZZZZ' WHERE seq = 5",
        "entry #5 was altered",
    );
}

#[test]
fn an_altered_hash_is_named() {
    tamper(
        "UPDATE audit_log SET hash = prev_hash WHERE seq = 3",
        "entry #3 was altered",
    );
}

#[test]
fn a_removed_entry_is_named() {
    tamper(
        "DELETE FROM audit_log WHERE seq = 4",
        "entry #4 was removed",
    );
}

#[test]
fn removed_entries_at_the_end_are_caught_by_the_head() {
    tamper(
        "DELETE FROM audit_log WHERE seq >= (SELECT max(seq) - 1 FROM audit_log)",
        "were removed from the end",
    );
}

#[test]
fn an_inserted_entry_is_named() {
    use sha2::{Digest, Sha256};
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Hal Example");
    for i in 0..3 {
        v.add_note(&code, &format!("note {i}"));
    }
    let (ck, _) = v.keys_quiet();
    let conn = v.open_store("clinical.db", &ck);
    conn.execute_batch("DROP TRIGGER audit_log_no_update;")
        .unwrap();
    // Make room at #6 and forge a well-formed entry there that follows #5 correctly.
    conn.execute_batch("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 6; UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000;").unwrap();
    let (at, device, prev): (String, String, String) = conn
        .query_row(
            "SELECT at, device_id, hash FROM audit_log WHERE seq = 5",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let canonical = serde_json::to_vec(&(
        6,
        &at,
        &device,
        "note.read",
        Some(&code),
        None::<String>,
        None::<String>,
        &prev,
    ))
    .unwrap();
    let hash = hex::encode(Sha256::digest(canonical));
    conn.execute(
        "INSERT INTO audit_log (seq, at, device_id, action, client_code, prev_hash, hash) VALUES (6, ?1, ?2, 'note.read', ?3, ?4, ?5)",
        rusqlite::params![at, device, code, prev, hash],
    )
    .unwrap();
    drop(conn);
    v.cmd()
        .args(["audit", "verify"])
        .assert()
        .code(9)
        .stderr(predicate::str::contains("an entry was inserted at #6"));
}

/// Someone with only the clinical key changes entry #3 and recomputes every hash after it,
/// so the chain is internally perfect: the head kept in the identity store still catches it.
#[test]
fn a_consistently_rewritten_chain_is_caught_by_the_head_in_the_identity_store() {
    use sha2::{Digest, Sha256};
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Gus Example");
    v.add_note(&code, "note");
    let (ck, _) = v.keys_quiet();
    let conn = v.open_store("clinical.db", &ck);
    conn.execute_batch("DROP TRIGGER audit_log_no_update;")
        .unwrap();
    conn.execute(
        "UPDATE audit_log SET action = 'client.list', client_code = NULL WHERE seq = 3",
        [],
    )
    .unwrap();
    type Row = (
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = conn
        .prepare("SELECT seq, at, device_id, action, client_code, object_id, detail FROM audit_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev = "0".repeat(64);
    for (seq, at, device, action, client, object, detail) in rows {
        let canonical =
            serde_json::to_vec(&(seq, &at, &device, &action, &client, &object, &detail, &prev))
                .unwrap();
        let hash = hex::encode(Sha256::digest(canonical));
        conn.execute(
            "UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            rusqlite::params![seq, prev, hash],
        )
        .unwrap();
        prev = hash;
    }
    drop(conn);
    v.cmd()
        .args(["audit", "verify"])
        .assert()
        .code(9)
        .stderr(predicate::str::contains("the chain was rewritten"));
}

/// Entries cut from the end must not be papered over by later entries: after the cut, every
/// command that would write is refused, and `audit verify` keeps failing.
#[test]
fn a_cut_chain_is_never_healed_by_later_commands() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Ida Example");
    v.add_note(&code, "note");
    let (ck, _) = v.keys_quiet();
    let conn = v.open_store("clinical.db", &ck);
    conn.execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log);").unwrap();
    drop(conn);
    for args in [
        vec!["status"],
        vec!["note", "add", &code, "--text", "more"],
        vec!["client", "list"],
    ] {
        v.cmd()
            .args(&args)
            .assert()
            .code(9)
            .stderr(predicate::str::contains("nothing can be changed"));
    }
    // The audit trail can still be read and checked, and still fails.
    v.cmd().args(["audit", "list"]).assert().success();
    v.cmd().args(["audit", "export"]).assert().success();
    for _ in 0..2 {
        v.cmd()
            .args(["audit", "verify"])
            .assert()
            .code(9)
            .stderr(predicate::str::contains("were removed from the end"));
    }
}
