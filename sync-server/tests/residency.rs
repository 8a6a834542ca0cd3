//! The residency guard through the real binary: a storage location outside the UK/EU/EEA,
//! or none declared, is refused at start with one line naming the setting.

use assert_cmd::Command;
use predicates::prelude::*;

#[test]
fn a_us_location_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("casebook-sync")
        .unwrap()
        .args([
            "serve",
            "--data",
            dir.path().to_str().unwrap(),
            "--country",
            "US",
            "--listen",
            "127.0.0.1:0",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "country = US is outside the UK and the EU/EEA",
        ));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing may be written"
    );
}

#[test]
fn an_undeclared_location_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("casebook-sync")
        .unwrap()
        .env_remove("CASEBOOK_SYNC_COUNTRY")
        .args(["serve", "--data", dir.path().to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("country is not set"));
}

/// `serve --config` with `toml` exits with code 3 and says `message`.
fn config_is_refused(toml: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sync.toml");
    std::fs::write(&cfg, toml).unwrap();
    Command::cargo_bin("casebook-sync")
        .unwrap()
        .env_remove("CASEBOOK_SYNC_DATA")
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(message));
}

#[test]
fn a_config_file_with_a_us_country_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    config_is_refused(
        &format!("data = {:?}\ncountry = \"US\"\n", dir.path().join("data")),
        "outside the UK",
    );
}

#[test]
fn a_scale_out_configuration_with_a_us_region_is_refused() {
    config_is_refused(
        r#"
[postgres]
url = "postgres://casebook@127.0.0.1:1/casebook"
country = "GB"

[object_store]
bucket = "casebook"
region = "us-east-1"
country = "GB"
"#,
        "object_store.region = us-east-1 is in US, outside the UK and the EU/EEA",
    );
}

#[test]
fn a_database_without_a_declared_country_is_refused() {
    config_is_refused(
        r#"
[postgres]
url = "postgres://casebook@127.0.0.1:1/casebook"

[object_store]
bucket = "casebook"
region = "eu-west-2"
"#,
        "postgres.country is not set",
    );
}
