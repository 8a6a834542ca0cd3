//! Backups through the real `casebook` binary: init → records → backup → restore → compare
//! (rustic style); the standard `age` tool reading the parts; damaged, truncated, foreign and
//! lying backups refused with nothing written; SIGKILL during backup and restore; the
//! keep-policy and the schedule as the CLI applies them.

mod common;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rand::Rng;
use serde_json::Value;

const NAME: &str = "Philippa Quintessence";
const NOTE: &str = "Discussed the allotment and sleep; agreed a wind-down routine.";

/// A vault with something of every kind in it.
fn populated(store: KeyStore) -> (TestVault, String) {
    let v = TestVault::new(store);
    let code = v.json(&[
        "client",
        "add",
        "--name",
        NAME,
        "--email",
        "pq@example.org",
        "--dob",
        "1979-02-03",
    ])["code"]
        .as_str()
        .unwrap()
        .to_string();
    v.add_client("Second Person");
    let note = v.add_note(&code, NOTE);
    v.json(&["note", "finalise", &note]);
    v.json(&[
        "note",
        "amend",
        &note,
        "--text",
        "Correction: the allotment is on Tuesdays.",
    ]);
    v.add_note(&code, "A draft still being written");
    v.json(&["process-note", "add", &code, "--text", "I felt protective."]);
    v.json(&[
        "measure",
        "add",
        &code,
        "phq9",
        "--items",
        "1,2,1,0,1,2,1,0,0",
    ]);
    v.json(&["appointment", "add", &code, "--start", "2026-11-20 10:00"]);
    (v, code)
}

/// Everything a therapist sees of the vault, for comparing two vaults.
fn records(v: &TestVault, code: &str) -> Vec<Value> {
    vec![
        v.json(&["client", "list", "--all"]),
        v.json(&["client", "show", code]),
        v.json(&["note", "list", code]),
        v.json(&["process-note", "list", code]),
        v.json(&["measure", "list", code]),
        v.json(&["appointment", "list", code]),
    ]
}

fn backup_create(v: &TestVault) -> PathBuf {
    let out = v.json(&["backup", "create"]);
    PathBuf::from(out["path"].as_str().unwrap())
}

/// `casebook backup restore` with the recovery key (and a passphrase for a key-file vault).
fn restore_cmd(v: &TestVault, file: &Path, into: &Path, recovery_key: &str) -> assert_cmd::Command {
    let mut c = v.cmd();
    c.env("CASEBOOK_RECOVERY_KEY", recovery_key)
        .args(["--json", "backup", "restore"])
        .arg(file)
        .arg("--into")
        .arg(into);
    c
}

/// The same vault seen through another folder.
fn at(v: &TestVault, dir: &Path) -> TestVault {
    TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: dir.to_path_buf(),
        store: v.store,
        recovery_key: v.recovery_key.clone(),
    }
}

for_each_key_store!(
    round_trip_restores_every_record_and_the_audit_chain,
    |store| {
        let (v, code) = populated(store);
        let before = records(&v, &code);
        let trail: Vec<Value> = v
            .json(&["audit", "export", "--format", "json"])
            .as_array()
            .unwrap()
            .clone();
        let file = backup_create(&v);

        let into = v.home.path().join("restored");
        let out = restore_cmd(&v, &file, &into, &v.recovery_key)
            .assert()
            .success();
        let out: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(
            out["key_store"],
            match store {
                KeyStore::Keychain => "os-keychain",
                KeyStore::Passphrase => "passphrase",
            }
        );
        let r = at(&v, &into);
        assert_eq!(records(&r, &code), before);
        // The trail up to the backup is there, entry for entry, and the chain verifies.
        let restored: Vec<Value> = r
            .json(&["audit", "export", "--format", "json"])
            .as_array()
            .unwrap()
            .clone();
        assert!(restored.len() > trail.len());
        assert_eq!(&restored[..trail.len()], &trail[..]);
        assert!(restored.iter().any(|e| e["action"] == "backup.restore"));
        assert_eq!(r.json(&["audit", "verify"])["ok"], true);
        // The restored vault is a new device of the same vault, and keeps working.
        let (a, b) = (v.json(&["status"]), r.json(&["status"]));
        assert_eq!(a["vault_id"], b["vault_id"]);
        assert_ne!(a["device_id"], b["device_id"]);
        r.add_note(&code, "written after the restore");
        // The original is untouched and still works.
        assert_eq!(v.json(&["audit", "verify"])["ok"], true);
    }
);

#[test]
fn verify_reports_in_one_line_and_is_remembered() {
    let (v, _) = populated(KeyStore::Passphrase);
    let file = backup_create(&v);
    let out = v
        .cmd()
        .args(["backup", "verify"])
        .arg(&file)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.starts_with("OK: "), "{text}");
    assert!(text.contains("2 clients, 2 session notes"), "{text}");
    let list = v.json(&["backup", "list"]);
    assert_eq!(list[0]["verified"]["ok"], true);
    assert!(v.actions_after(0).iter().any(|a| a == "backup.verify"));
    // On a machine with no vault, the recovery key alone verifies it.
    StdCommand::new(assert_cmd::cargo::cargo_bin("casebook"))
        .env("CASEBOOK_VAULT", v.home.path().join("nothing-here"))
        .env("CASEBOOK_RECOVERY_KEY", &v.recovery_key)
        .args(["backup", "verify"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .map(|o| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)))
        .unwrap();
}

fn have(tool: &str, args: &[&str]) -> bool {
    let ok = StdCommand::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(!full(), "CASEBOOK_FULL_TESTS=1 but `{tool}` is missing");
        eprintln!("skipping: {tool} not installed");
    }
    ok
}

/// The standard tools, not ours: `tar` unpacks the backup, `age -d -i` decrypts each part with
/// the identities `keys show` prints, and SQLCipher opens the results with the store keys.
#[test]
fn standard_age_tool_decrypts_both_parts() {
    if !have("age", &["--version"]) {
        return;
    }
    let (v, code) = populated(KeyStore::Passphrase);
    let file = backup_create(&v);
    let keys = v.json(&["keys", "show", "--i-understand"]);
    let ids = keys["age_identities"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    let out = v.home.path().join("unpacked");
    std::fs::create_dir(&out).unwrap();
    assert!(
        StdCommand::new("tar")
            .arg("-xf")
            .arg(&file)
            .arg("-C")
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["counts"]["clients"], 2);
    for (part, id, key, db) in [
        ("clinical.age", &ids[0], "clinical_db_key", "clinical.db"),
        ("identity.age", &ids[1], "identity_db_key", "identity.db"),
    ] {
        let id_file = out.join(format!("{part}.key"));
        std::fs::write(&id_file, id.as_str().unwrap()).unwrap();
        let status = StdCommand::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&id_file)
            .arg("-o")
            .arg(out.join(db))
            .arg(out.join(part))
            .status()
            .unwrap();
        assert!(status.success(), "age -d {part}");
        // The decrypted part is a SQLCipher database opened by its store key.
        let conn = rusqlite::Connection::open(out.join(db)).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA key = \"x'{}'\";",
            keys[key].as_str().unwrap()
        ))
        .unwrap();
        if db == "clinical.db" {
            let n: i64 = conn
                .query_row("SELECT count(*) FROM session_notes", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 2);
            let codes: i64 = conn
                .query_row(
                    "SELECT count(*) FROM clients WHERE code = ?1",
                    [&code],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(codes, 1);
        } else {
            let name: String = conn
                .query_row(
                    "SELECT full_name FROM client_identity WHERE code = ?1",
                    [&code],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(name, NAME);
        }
        // A part decrypted with the other store's identity does not open.
        let other = if part == "clinical.age" {
            &ids[1]
        } else {
            &ids[0]
        };
        std::fs::write(&id_file, other.as_str().unwrap()).unwrap();
        let wrong = StdCommand::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&id_file)
            .arg(out.join(part))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            !wrong.success(),
            "{part} opened with the other store's identity"
        );
    }
    // The keys part is an ordinary age passphrase file for the recovery key.
    let sealed = std::fs::read(out.join("keys.age")).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1"));
}

/// Rewrites a backup with its manifest changed by `edit` (a lying manifest in a valid tar).
fn with_manifest(file: &Path, out: &Path, edit: impl Fn(&mut Value)) {
    let mut archive = tar::Archive::new(std::fs::File::open(file).unwrap());
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if entry.path().unwrap().as_os_str() == "manifest.json" {
            let mut m: Value = serde_json::from_slice(&data).unwrap();
            edit(&mut m);
            data = serde_json::to_vec_pretty(&m).unwrap();
            header.set_size(data.len() as u64);
            header.set_cksum();
        }
        builder.append(&header, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap();
}

/// Each bad file is refused by verify and by restore, with a clear message; the restore target
/// is never created; the current vault's records and trail stay sound.
#[test]
fn damaged_truncated_foreign_and_lying_backups_are_refused() {
    let (v, code) = populated(KeyStore::Passphrase);
    let before = records(&v, &code);
    let file = backup_create(&v);
    let bytes = std::fs::read(&file).unwrap();
    let bad_dir = v.home.path().join("bad");
    std::fs::create_dir(&bad_dir).unwrap();

    // Offsets: every tar header (a name byte, the mode, the checksum), the first, middle and
    // last byte of each member's data, the padding after it, the end-of-archive blocks, and
    // random bytes anywhere.
    let mut offsets: Vec<usize> = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&file).unwrap());
    for entry in archive.entries().unwrap() {
        let e = entry.unwrap();
        let h = e.raw_header_position() as usize;
        let d = e.raw_file_position() as usize;
        let n = e.size() as usize;
        offsets.extend([h + 3, h + 101, h + 150, d, d + n / 2, d + n - 1]);
        if !n.is_multiple_of(512) {
            offsets.push(d + n + (512 - n % 512) / 2);
        }
    }
    offsets.extend([bytes.len() - 1, bytes.len() - 700]);
    let mut rng = rand::thread_rng();
    offsets.extend((0..8).map(|_| rng.gen_range(0..bytes.len())));

    let mut cases: Vec<(String, PathBuf)> = Vec::new();
    for (i, at) in offsets.iter().enumerate() {
        let mut b = bytes.clone();
        b[*at] ^= 0x01;
        let p = bad_dir.join(format!("flip-{i}.tar"));
        std::fs::write(&p, b).unwrap();
        cases.push((format!("byte {at} flipped"), p));
    }
    for (label, len) in [
        ("truncated by half", bytes.len() / 2),
        ("missing its last block", bytes.len() - 512),
        ("empty", 0),
    ] {
        let p = bad_dir.join(format!("{}.tar", label.replace(' ', "-")));
        std::fs::write(&p, &bytes[..len]).unwrap();
        cases.push((label.into(), p));
    }
    type Lie = Box<dyn Fn(&mut Value)>;
    let lies: [(&str, Lie); 4] = [
        (
            "manifest lies about counts",
            Box::new(|m: &mut Value| m["counts"]["clients"] = 3.into()),
        ),
        (
            "manifest lies about its date",
            Box::new(|m: &mut Value| m["created_at"] = "2027-01-01T00:00:00.000Z".into()),
        ),
        (
            "manifest lies about a digest",
            Box::new(|m: &mut Value| m["parts"]["clinical.age"]["sha256"] = "00".repeat(32).into()),
        ),
        (
            "manifest lies about the vault",
            Box::new(|m: &mut Value| m["vault_id"] = "00000000-0000-4000-8000-000000000000".into()),
        ),
    ];
    for (label, edit) in lies.iter() {
        let p = bad_dir.join(format!("{}.tar", label.replace(' ', "-")));
        with_manifest(&file, &p, edit);
        cases.push((label.to_string(), p));
    }

    let fingerprint = v.fingerprint();
    for (label, path) in &cases {
        // Verify with the vault's keys.
        let out = v
            .cmd()
            .args(["backup", "verify"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "verify accepted a backup with {label}"
        );
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            err.starts_with("error: ") && err.trim().lines().count() == 1,
            "{label}: {err}"
        );
        // Restore with the recovery key: refused, nothing at the target, the vault untouched.
        let into = v.home.path().join("target");
        let out = restore_cmd(&v, path, &into, &v.recovery_key)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "restore accepted a backup with {label}"
        );
        assert!(!into.exists(), "{label}: restore wrote its target");
        let leftovers: Vec<_> = std::fs::read_dir(v.home.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("restoring"))
            .collect();
        assert!(leftovers.is_empty(), "{label}: staging left behind");
    }
    // Restore only read the vault's backup; verification only appended to the trail.
    let after = v.fingerprint();
    assert_eq!(after["vault.json"], fingerprint["vault.json"]);
    assert_eq!(records(&v, &code), before);
    assert_eq!(v.json(&["audit", "verify"])["ok"], true);
    let failed = v
        .actions_after(0)
        .iter()
        .filter(|a| *a == "backup.verify")
        .count();
    assert_eq!(failed, cases.len());

    // A wrong recovery key: refused with the recovery exit code, nothing written.
    let other = TestVault::new(KeyStore::Passphrase);
    let into = v.home.path().join("target");
    restore_cmd(&v, &file, &into, &other.recovery_key)
        .assert()
        .failure()
        .code(5);
    assert!(!into.exists());
    // A backup of another vault does not verify with this vault's keys.
    let foreign = backup_create(&other);
    let out = v
        .cmd()
        .args(["backup", "verify"])
        .arg(&foreign)
        .assert()
        .failure()
        .code(9);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("another vault"), "{err}");
    // A folder that is not empty is never restored over.
    let occupied = v.home.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("mine.txt"), "keep me").unwrap();
    restore_cmd(&v, &file, &occupied, &v.recovery_key)
        .assert()
        .failure()
        .code(3);
    assert_eq!(
        std::fs::read_to_string(occupied.join("mine.txt")).unwrap(),
        "keep me"
    );
    // And never over the current vault.
    restore_cmd(&v, &file, &v.dir, &v.recovery_key)
        .assert()
        .failure()
        .code(3);
    assert_eq!(records(&v, &code), before);
}

/// Spawns `casebook` for this vault with no stdin and no output.
fn spawn(v: &TestVault, args: &[&str], extra: &[(&str, &str)]) -> std::process::Child {
    let mut c = StdCommand::new(assert_cmd::cargo::cargo_bin("casebook"));
    c.env("CASEBOOK_VAULT", &v.dir)
        .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, val) in extra {
        c.env(k, val);
    }
    c.spawn().unwrap()
}

fn time_of(mut child: std::process::Child) -> u64 {
    let t = Instant::now();
    assert!(child.wait().unwrap().success());
    t.elapsed().as_micros() as u64
}

#[test]
fn sigkill_during_backup_and_restore_leaves_no_damage() {
    let (v, code) = populated(KeyStore::Passphrase);
    // Enough data that the work takes a while to interrupt.
    for i in 0..40 {
        v.add_note(&code, &format!("{NOTE} {i} {}", "more words ".repeat(200)));
    }
    let before = records(&v, &code);
    let mut rng = rand::thread_rng();

    let full = time_of(spawn(&v, &["backup", "create"], &[]));
    for _ in 0..15 {
        let mut child = spawn(&v, &["backup", "create"], &[]);
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..full)));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(v.json(&["audit", "verify"])["ok"], true);
    }
    assert_eq!(records(&v, &code), before);
    // Every backup listed is whole: each one verifies.
    let list = v.json(&["backup", "list"]);
    let list = list.as_array().unwrap();
    assert!(!list.is_empty());
    for b in list {
        assert!(
            b["manifest"].is_object(),
            "a listed backup has no manifest: {b}"
        );
        v.cmd()
            .args(["backup", "verify", b["path"].as_str().unwrap()])
            .assert()
            .success();
    }

    let file = PathBuf::from(list[0]["path"].as_str().unwrap());
    let rk = v.recovery_key.clone();
    let env = [("CASEBOOK_RECOVERY_KEY", rk.as_str())];
    let file_s = file.to_string_lossy().to_string();
    let probe = v.home.path().join("probe");
    let full = time_of(spawn(
        &v,
        &[
            "backup",
            "restore",
            &file_s,
            "--into",
            probe.to_str().unwrap(),
        ],
        &env,
    ));
    let (mut whole, mut absent) = (0, 0);
    for i in 0..15 {
        let into = v.home.path().join(format!("restore-{i}"));
        let mut child = spawn(
            &v,
            &[
                "backup",
                "restore",
                &file_s,
                "--into",
                into.to_str().unwrap(),
            ],
            &env,
        );
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..full)));
        let _ = child.kill();
        let _ = child.wait();
        // The target is either absent or a whole vault holding every record.
        if into.exists() {
            whole += 1;
            let r = at(&v, &into);
            assert_eq!(
                records(&r, &code),
                before,
                "restore {i} left a partial vault"
            );
        } else {
            absent += 1;
        }
        assert_eq!(records(&v, &code), before);
    }
    eprintln!("restores: {whole} whole, {absent} absent");
}

#[test]
fn keep_policy_prunes_old_backups_but_never_the_newest_verified() {
    let v = TestVault::new(KeyStore::Passphrase);
    v.add_client("Prune Person");
    let file = backup_create(&v);
    let dest = file.parent().unwrap().to_path_buf();
    let now = chrono::Utc::now();
    // Copies of the backup with other dates, signed with the vault's key as a real backup of
    // that date would be (prune only trusts manifests the vault can authenticate).
    let (ck, _) = v.keys_quiet();
    let key = casebook_core::keys::StoreKey::from_hex(&ck).unwrap();
    let make = |name: &str, age: chrono::Duration| {
        let at = (now - age).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        with_manifest(&file, &dest.join(name), |m| {
            m["created_at"] = at.clone().into();
            let mut parsed: casebook_core::backup::archive::Manifest =
                serde_json::from_value(m.clone()).unwrap();
            parsed.mac = String::new();
            m["mac"] = casebook_core::backup::archive::manifest_mac(&parsed, &key).into();
        });
    };
    // A copy whose date was rewritten by someone without the key: never pruned.
    with_manifest(&file, &dest.join("casebook-0005-forged-ancient.tar"), |m| {
        m["created_at"] = (now - chrono::Duration::days(1000))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .into();
    });
    // Only the oldest has been verified.
    make(
        "casebook-0001-verified-old.tar",
        chrono::Duration::days(800),
    );
    // Verified the real way: a result written into backup-state.json by hand would carry no
    // authentication code, and the keep-policy would not count it.
    let verified = dest.join("casebook-0001-verified-old.tar");
    v.json(&["backup", "verify", verified.to_str().unwrap()]);
    make(
        "casebook-0002-day-early.tar",
        chrono::Duration::days(5) + chrono::Duration::hours(2),
    );
    make("casebook-0003-day-late.tar", chrono::Duration::days(5));
    make("casebook-0004-ancient.tar", chrono::Duration::days(900));

    // The list checks each manifest with the vault's key: the forged date is not shown as
    // a date, the re-signed copies are.
    let listed = v.json(&["backup", "list"]);
    let authentic = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .map(|l| l["authentic"].clone())
            .unwrap_or_else(|| panic!("{name} not listed: {listed}"))
    };
    assert_eq!(authentic("casebook-0005-forged-ancient.tar"), false);
    let forged_json = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "casebook-0005-forged-ancient.tar")
        .unwrap();
    assert_eq!(
        forged_json["manifest"],
        Value::Null,
        "an altered manifest's date and counts are not passed on"
    );
    assert_eq!(authentic("casebook-0004-ancient.tar"), true);
    let out = v.cmd().args(["backup", "list"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let forged = text
        .lines()
        .find(|l| l.starts_with("casebook-0005-forged-ancient.tar"))
        .unwrap_or_else(|| panic!("forged copy not listed:\n{text}"));
    assert!(forged.contains("ALTERED"), "{forged}");
    // Without the passphrase (lost, say) the files are still listed, dates marked unchecked.
    let out = v
        .cmd()
        .env_remove("CASEBOOK_PASSPHRASE")
        .args(["backup", "list"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stderr.contains("not checked"), "{stderr}");
    assert!(
        stdout.contains("casebook-0005-forged-ancient.tar"),
        "{stdout}"
    );

    let dry = v.json(&["backup", "prune", "--dry-run"]);
    let deleted: Vec<&str> = dry["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(deleted.contains(&"casebook-0004-ancient.tar"), "{dry}");
    // (Besides the backups, the folder holds the erasure list, `erasures-<vault id>.age`.)
    assert_eq!(
        std::fs::read_dir(&dest)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tar"))
            .count(),
        6,
        "a dry run deleted something"
    );
    assert!(std::fs::read_dir(&dest).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("erasures-")
    }));
    let kept: Vec<&str> = dry["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(kept.contains(&"casebook-0001-verified-old.tar"));
    let real = v.json(&["backup", "prune"]);
    assert_eq!(real["delete"], dry["delete"]);
    assert!(!dest.join("casebook-0004-ancient.tar").exists());
    assert!(dest.join("casebook-0001-verified-old.tar").exists());
    assert!(
        dest.join("casebook-0005-forged-ancient.tar").exists(),
        "a backup whose manifest does not authenticate is never pruned"
    );
    assert!(file.exists(), "the newest backup was pruned");
    // One of the two from the same day five days ago is kept (unless the day rule split them).
    let same_day = ["casebook-0002-day-early.tar", "casebook-0003-day-late.tar"]
        .iter()
        .filter(|n| dest.join(n).exists())
        .count();
    assert!(same_day >= 1);
    assert!(v.actions_after(0).iter().any(|a| a == "backup.prune"));
}

#[test]
fn schedule_status_and_if_due() {
    let v = TestVault::new(KeyStore::Passphrase);
    let show = v.json(&["backup", "schedule", "show"]);
    assert_eq!(show["every_hours"], 8);
    assert_eq!(show["status"]["state"], "never");
    assert_eq!(show["warning"], true);
    // Nothing made yet: due now.
    let first = v.json(&["backup", "create", "--if-due"]);
    assert!(first["path"].is_string());
    // Just made: not due for eight hours.
    let second = v.json(&["backup", "create", "--if-due"]);
    assert_eq!(second["due"], false);
    let show = v.json(&["backup", "schedule", "show"]);
    assert_eq!(show["status"]["state"], "ok");
    assert_eq!(show["warning"], false);
    // A destination that cannot be written: the failure is shown as a warning.
    let blocked = v.home.path().join("a-file");
    std::fs::write(&blocked, "not a folder").unwrap();
    v.json(&[
        "backup",
        "schedule",
        "set",
        "--to",
        blocked.to_str().unwrap(),
        "--every-hours",
        "12",
    ]);
    v.cmd().args(["backup", "create"]).assert().failure();
    let show = v.json(&["backup", "schedule", "show"]);
    assert_eq!(show["every_hours"], 12);
    assert_eq!(show["status"]["state"], "failed");
    assert_eq!(show["warning"], true);
    // Bad settings are refused and change nothing.
    v.cmd()
        .args(["backup", "schedule", "set", "--every-hours", "0"])
        .assert()
        .failure()
        .code(7);
    assert_eq!(v.json(&["backup", "schedule", "show"])["every_hours"], 12);
}
