//! Multi-device sync through the real `casebook` binary against a real `casebook-sync`
//! process (embedded backend; the scale-out one when its services run, as in the full suite):
//! a second computer is set up from the off-site backup, both edit offline — the same client
//! and the same draft among them — and converge; an erasure on one reaches the other; the
//! server's files hold no name and no note.

mod common;

use common::sync_server::{Backend, PASSWORD, Server, cb, ok_json};
use common::{KeyStore, PASSPHRASE, TestVault};

fn fingerprint(v: &TestVault) -> String {
    ok_json(v, &["sync", "status"])["fingerprint"]
        .as_str()
        .unwrap()
        .to_string()
}

fn files_contain(dir: &std::path::Path, needle: &str) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                return true;
            }
        }
    }
    false
}

fn story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let user = format!("practice-{}", rand::random::<u32>());

    // The surgery desktop: a vault, connected, sync on, a client and a draft.
    let a = TestVault::new(KeyStore::Passphrase);
    cb(&a)
        .args([
            "server",
            "connect",
            &server.url(),
            "--username",
            &user,
            "--signup",
            "--device-name",
            "Surgery desktop",
        ])
        .assert()
        .success();
    let on = ok_json(&a, &["sync", "enable"]);
    let letter_a = on["letter"].as_str().unwrap().to_string();
    let ann = a.add_client("Ann Example");
    assert!(
        ann.starts_with(&format!("C-{letter_a}")),
        "{ann} does not start with {letter_a}"
    );
    let note = a.add_note(&ann, "sleeping badly since the move");
    cb(&a)
        .args(["backup", "create", "--to", "server"])
        .assert()
        .success();
    ok_json(&a, &["sync", "now"]);

    // The laptop: set up from the off-site backup, then sync on.
    let home = tempfile::tempdir().unwrap();
    let b = TestVault {
        home,
        dir: tempfile::tempdir().unwrap().keep().join("laptop"),
        store: KeyStore::Passphrase,
        recovery_key: a.recovery_key.clone(),
    };
    let mut restore = b.cmd();
    restore
        .env("CASEBOOK_SYNC_PASSWORD", PASSWORD)
        .env("CASEBOOK_RECOVERY_KEY", &a.recovery_key)
        .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
        .args([
            "backup",
            "restore",
            "--from-server",
            &server.url(),
            "--username",
            &user,
            "--into",
        ])
        .arg(&b.dir)
        .assert()
        .success();
    let on_b = ok_json(&b, &["sync", "enable"]);
    assert_eq!(on_b["devices"], 2);
    assert_ne!(
        on_b["letter"], on["letter"],
        "two computers with one letter"
    );
    ok_json(&b, &["sync", "now"]);
    assert_eq!(fingerprint(&a), fingerprint(&b));

    // Offline on both: the same client's email (concurrently), the phone on one, the same
    // draft on both, and a new client on each.
    cb(&a)
        .args(["client", "edit", &ann, "--email", "ann@surgery.example"])
        .assert()
        .success();
    cb(&b)
        .args([
            "client",
            "edit",
            &ann,
            "--email",
            "ann@laptop.example",
            "--phone",
            "07700 900123",
        ])
        .assert()
        .success();
    cb(&a)
        .args([
            "note",
            "edit",
            &note,
            "--text",
            "sleeping badly; edited at the surgery",
        ])
        .assert()
        .success();
    cb(&b)
        .args([
            "note",
            "edit",
            &note,
            "--text",
            "sleeping badly; edited on the laptop",
        ])
        .assert()
        .success();
    let bea = b.add_client("Bea Newcomer");
    let cy = a.add_client("Cy Surgery");
    assert_ne!(bea, cy);

    for v in [&a, &b, &a] {
        ok_json(v, &["sync", "now"]);
    }
    assert_eq!(
        fingerprint(&a),
        fingerprint(&b),
        "the two computers did not converge"
    );
    // Per field: the phone typed on the laptop is kept everywhere, and the email is one of
    // the two (the later), the other kept as a conflict on both computers.
    for v in [&a, &b] {
        let shown = ok_json(v, &["client", "show", &ann]);
        assert_eq!(shown["identity"]["phone"], "07700 900123", "{shown}");
        let email = shown["identity"]["email"].as_str().unwrap().to_string();
        assert!(
            email == "ann@laptop.example" || email == "ann@surgery.example",
            "{email}"
        );
    }
    for v in [&a, &b] {
        let list = ok_json(v, &["client", "list"]);
        let text = list.to_string();
        assert!(
            text.contains("Bea Newcomer") && text.contains("Cy Surgery"),
            "{text}"
        );
    }

    // Both drafts are kept: one is the note, the other a conflict, on both computers.
    for v in [&a, &b] {
        let note_now = ok_json(v, &["note", "show", &note]).to_string();
        let conflicts = ok_json(v, &["sync", "conflicts"]).to_string();
        let both = format!("{note_now}{conflicts}");
        assert!(
            both.contains("edited at the surgery") && both.contains("edited on the laptop"),
            "{both}"
        );
        assert!(conflicts.contains("\"draft\""), "{conflicts}");
    }

    // An erasure on the laptop reaches the surgery; the client does not come back.
    cb(&b)
        .args(["erase", &bea, "--reason", "asked to be forgotten", "--yes"])
        .assert()
        .success();
    ok_json(&b, &["sync", "now"]);
    ok_json(&a, &["sync", "now"]);
    assert!(
        !ok_json(&a, &["client", "list"])
            .to_string()
            .contains("Bea Newcomer")
    );
    ok_json(&b, &["sync", "now"]);
    assert_eq!(fingerprint(&a), fingerprint(&b));

    // The server holds no name and no note text (embedded backend: its files on disk).
    if backend == Backend::Embedded {
        for needle in ["Ann Example", "Newcomer", "sleeping badly", "ann@surgery"] {
            assert!(
                !files_contain(&server.data, needle),
                "the server's files hold {needle:?}"
            );
        }
    }
}

#[test]
fn two_computers_edit_offline_converge_and_share_an_erasure_embedded() {
    story(Backend::Embedded);
}

#[test]
fn two_computers_edit_offline_converge_and_share_an_erasure_scale_out() {
    story(Backend::ScaleOut);
}
