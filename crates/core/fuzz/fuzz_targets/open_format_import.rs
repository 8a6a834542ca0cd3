//! An export folder for `casebook import` comes from another machine or a person's hands:
//! each record file is outside input. Here one of them (the fuzz data, as `session_notes.json`
//! or, by the first byte, `clients.json` or `audit_log.json`) sits in an otherwise valid
//! export; reading, checking and rehearsing it must refuse cleanly or succeed, never panic.
#![no_main]

use casebook_core::Vault;
use casebook_core::portability::tables;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let target = ["session_notes", "clients", "audit_log"][usize::from(which % 3)];
    let dir = tempfile::tempdir().expect("a temp dir");
    let src = dir.path().join("export");
    std::fs::create_dir(&src).expect("writable temp dir");
    for (stem, _) in tables() {
        let bytes: &[u8] = if stem == target { body } else { b"[]" };
        std::fs::write(src.join(format!("{stem}.json")), bytes).expect("writable temp dir");
    }
    // No counts: the file's length is not checked against the manifest, so the fuzzer
    // reaches the parsing and the rehearsal.
    std::fs::write(
        src.join("manifest.json"),
        br#"{"format":"casebook-export/1","exported_at":"2026-01-01T00:00:00Z","vault_id":"fuzz","counts":{}}"#,
    )
    .expect("writable temp dir");
    let into = dir.path().join("vault");
    if let Ok(created) = Vault::import_all(&src, &into, Some("fuzz passphrase")) {
        // Whatever was accepted opens as a working vault with a verifying trail.
        let mut vault = created.vault;
        assert!(vault.verify_audit().is_ok());
    }
});
