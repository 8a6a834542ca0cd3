//! Crash safety: `casebook` is killed with SIGKILL at random moments while it writes.
//! After every kill the vault opens, every write that was acknowledged (the command
//! exited 0 and printed an id) is there, and the audit chain verifies.

mod common;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rand::Rng;

#[test]
fn sigkill_at_random_points_loses_no_acknowledged_write() {
    let store = if keychain_available() {
        KeyStore::Keychain
    } else {
        KeyStore::Passphrase
    };
    let v = TestVault::new(store);
    let code = v.add_client("Ned Example");
    let bin = assert_cmd::cargo::cargo_bin("casebook");
    let spawn = |i: usize| {
        let mut c = StdCommand::new(&bin);
        c.env("CASEBOOK_VAULT", &v.dir).args([
            "--json",
            "note",
            "add",
            &code,
            "--text",
            &format!("crash test note {i}"),
        ]);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if store == KeyStore::Passphrase {
            c.env("CASEBOOK_PASSPHRASE", PASSPHRASE);
        } else {
            c.env_remove("CASEBOOK_PASSPHRASE");
        }
        c.spawn().unwrap()
    };
    // How long one uninterrupted write takes here, to aim the kills inside it.
    let t = Instant::now();
    assert!(spawn(0).wait_with_output().unwrap().status.success());
    let full = t.elapsed().as_micros() as u64;

    let mut rng = rand::thread_rng();
    let mut acknowledged = Vec::new();
    let (mut killed, mut completed) = (0, 0);
    for i in 1..=40 {
        let mut child = spawn(i);
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..full + full / 5)));
        let _ = child.kill(); // SIGKILL on Unix
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            completed += 1;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            acknowledged.push(v["id"].as_str().unwrap().to_string());
        } else {
            killed += 1;
        }
        // After every kill: the vault opens, the chain verifies, acknowledged notes are there.
        let verify = v.json(&["audit", "verify"]);
        assert_eq!(verify["ok"], true, "after attempt {i}");
        let notes = v.json(&["note", "list", &code]);
        let ids: Vec<&str> = notes
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        for id in &acknowledged {
            assert!(
                ids.contains(&id.as_str()),
                "acknowledged note {id} lost after attempt {i}"
            );
        }
    }
    eprintln!("{killed} killed, {completed} completed");
    assert!(
        killed > 0,
        "no run was interrupted: the test did not test anything"
    );
}
