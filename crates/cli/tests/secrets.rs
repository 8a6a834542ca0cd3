//! Wrong secrets and bad input: a clear one-line error, a distinct exit code, and nothing
//! changed. Recovery with the recovery key after the keys are lost.

mod common;
use common::*;
use predicates::prelude::*;

/// The files whose bytes must not change when a command is refused.
fn stores(v: &TestVault) -> Vec<(String, String)> {
    v.fingerprint()
        .into_iter()
        .filter(|(name, _)| name != "failed-unlocks.log")
        .collect()
}

#[test]
fn a_wrong_passphrase_changes_nothing_and_is_audited_later() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Ivy Example");
    let before = stores(&v);
    v.cmd()
        .env("CASEBOOK_PASSPHRASE", "not the passphrase")
        .args(["client", "show", &code])
        .assert()
        .code(4)
        .stderr(
            predicate::str::contains("passphrase is wrong")
                .and(predicate::str::contains("Ivy").not()),
        );
    assert_eq!(stores(&v), before);
    // No passphrase and no terminal: a clear error, no prompt.
    v.cmd()
        .env_remove("CASEBOOK_PASSPHRASE")
        .arg("status")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("CASEBOOK_PASSPHRASE"));
    assert_eq!(stores(&v), before);
    // The next successful unlock records the failed attempt.
    let failed = v.json(&["audit", "list", "--action", "vault.unlock_failed"]);
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains("wrong_passphrase")
    );
    assert!(!v.dir.join("failed-unlocks.log").exists());
}

#[test]
fn a_corrupted_key_file_is_reported_and_recovery_repairs_it() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Jo Example");
    let key_file = v.dir.join("keys.age");
    let mut bytes = std::fs::read(&key_file).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    std::fs::write(&key_file, &bytes).unwrap();
    let before = stores(&v);
    v.cmd()
        .arg("status")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("damaged").and(predicate::str::contains("recover")));
    assert_eq!(stores(&v), before);
    v.cmd()
        .env("CASEBOOK_RECOVERY_KEY", &v.recovery_key)
        .env("CASEBOOK_PASSPHRASE", "a new passphrase")
        .arg("recover")
        .assert()
        .success();
    let out = v
        .cmd()
        .env("CASEBOOK_PASSPHRASE", "a new passphrase")
        .args(["--json", "client", "show", &code])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("Jo Example"));
    v.cmd().arg("status").assert().code(4); // the old passphrase no longer opens it
}

#[test]
fn wrong_and_mistyped_recovery_keys_change_nothing() {
    let v = TestVault::new(KeyStore::Passphrase);
    let other = TestVault::new(KeyStore::Passphrase);
    v.add_client("Kit Example");
    let before = stores(&v);
    v.cmd()
        .env("CASEBOOK_RECOVERY_KEY", &other.recovery_key)
        .arg("recover")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("does not belong to this vault"));
    assert_eq!(stores(&v), before);
    let mut typo: Vec<char> = v.recovery_key.chars().collect();
    typo[1] = if typo[1] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    v.cmd()
        .env("CASEBOOK_RECOVERY_KEY", &typo)
        .arg("recover")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("typo"));
    v.cmd()
        .env("CASEBOOK_RECOVERY_KEY", "hello")
        .arg("recover")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("not a recovery key"));
    v.cmd()
        .arg("recover")
        .assert()
        .code(7)
        .stderr(predicate::str::contains("CASEBOOK_RECOVERY_KEY"));
    assert_eq!(stores(&v), before);
    // Still opens normally.
    v.cmd().arg("status").assert().success();
}

#[test]
fn keychain_loss_is_recovered_with_the_recovery_key() {
    if !keychain_available() {
        return;
    }
    let v = TestVault::new(KeyStore::Keychain);
    let code = v.add_client("Lou Example");
    let vault_id = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(v.dir.join("vault.json")).unwrap(),
    )
    .unwrap()["vault_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The keychain forgets this vault's keys (a new machine, a reset login keyring).
    for which in ["clinical", "identity"] {
        let status = std::process::Command::new("secret-tool")
            .args([
                "clear",
                "service",
                "casebook",
                "username",
                &format!("{vault_id}/{which}-db-key"),
            ])
            .status()
            .expect("secret-tool (libsecret-tools) is needed for this test");
        assert!(status.success());
    }
    v.cmd()
        .arg("status")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("holds no keys").and(predicate::str::contains("recover")));
    v.cmd()
        .env("CASEBOOK_RECOVERY_KEY", v.recovery_key.to_lowercase())
        .arg("recover")
        .assert()
        .success()
        .stdout(predicate::str::contains("OS keychain"));
    assert_eq!(
        v.json(&["client", "show", &code])["identity"]["full_name"],
        "Lou Example"
    );
    let recovered = v.json(&["audit", "list", "--action", "vault.recover"]);
    assert_eq!(recovered.as_array().unwrap().len(), 1);
    let failed = v.json(&["audit", "list", "--action", "vault.unlock_failed"]);
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains("keys_missing")
    );
}

#[test]
fn bad_input_gets_a_clear_error_a_distinct_code_and_changes_nothing() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Max Example");
    let note = v.add_note(&code, "text");
    let before = stores(&v);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["client", "show", "C-2222"], 6, "no client with C-2222"),
        (vec!["client", "show", "nonsense!"], 7, "not a client code"),
        (vec!["note", "add", "C-2222", "--text", "x"], 6, "no client"),
        (vec!["note", "show", "no-such-note"], 6, "no note"),
        (
            vec!["note", "add", &code, "--template", "soap", "--text", "x"],
            7,
            "--field",
        ),
        (
            vec![
                "note",
                "add",
                &code,
                "--template",
                "soap",
                "--field",
                "mood=low",
            ],
            7,
            "not a field of a SOAP note",
        ),
        (
            vec!["note", "add", &code, "--template", "poem", "--text", "x"],
            7,
            "not a note template",
        ),
        (vec!["note", "add", &code, "--text", "   "], 7, "empty"),
        (
            vec!["note", "amend", &note, "--text", "x"],
            8,
            "still a draft",
        ),
        (
            vec!["measure", "add", &code, "phq9", "--items", "1,2,3"],
            7,
            "has 9 items",
        ),
        (
            vec![
                "measure",
                "add",
                &code,
                "phq9",
                "--items",
                "1,2,3,4,0,0,0,0,0",
            ],
            7,
            "items score 0–3",
        ),
        (
            vec!["measure", "add", &code, "phq9", "--items", "a,b"],
            7,
            "whole numbers",
        ),
        (
            vec!["measure", "add", &code, "bdi", "--items", "1"],
            7,
            "not a measure",
        ),
        (
            vec!["client", "add", "--name", "X", "--dob", "31/31/1990"],
            7,
            "not a date",
        ),
        (
            vec!["client", "add", "--name", "X", "--dob", "2999-01-01"],
            7,
            "future",
        ),
        (
            vec!["client", "add", "--name", "X", "--email", "nope"],
            7,
            "not an email",
        ),
        (
            vec!["client", "add", "--name", "X", "--phone", "call me"],
            7,
            "not a phone number",
        ),
        (vec!["client", "add", "--name", ""], 7, "name is empty"),
        (
            vec!["client", "close", &code, "--ended", "2999-01-01"],
            7,
            "in the future",
        ),
        (
            vec!["appointment", "add", &code, "--start", "tomorrow"],
            7,
            "not a date and time",
        ),
        (vec!["search", "***"], 7, "search is empty"),
        (
            vec!["audit", "list", "--since", "yesterday"],
            7,
            "not a date",
        ),
        (vec!["init"], 3, "already exists"),
    ];
    for (args, code, msg) in cases {
        let out = v
            .cmd()
            .args(&args)
            .assert()
            .code(code)
            .stderr(predicate::str::contains(msg))
            .get_output()
            .stderr
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.trim_end().lines().count(),
            1,
            "{args:?}: one line expected, got {text}"
        );
        assert_eq!(stores(&v), before, "{args:?} changed the vault");
    }
    // A vault that is not there.
    let missing = v.home.path().join("nowhere");
    Command::cargo_bin("casebook")
        .unwrap()
        .env("CASEBOOK_VAULT", &missing)
        .arg("status")
        .write_stdin("")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("casebook init"));
    assert!(!missing.exists());
}

use assert_cmd::Command;
