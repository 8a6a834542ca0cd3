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

/// Each device's log on an embedded server: device → (first seq, last seq) it still holds
/// (with their bytes: a log emptied up to its head is not listed).
/// Empty for the scale-out backend (its blobs are in PostgreSQL and the object store).
fn server_logs(server: &Server) -> std::collections::BTreeMap<String, (i64, i64)> {
    let db = server.data.join("meta.db");
    if !db.exists() {
        return Default::default();
    }
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the server's database");
    let mut stmt = conn
        .prepare(
            "SELECT device_id, MIN(seq), MAX(seq) FROM blobs WHERE emptied = 0 GROUP BY device_id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Two computers of one practice, synced: the surgery desktop (`a`, a client `ann` with a
/// draft `note`, backed up off-site) and the laptop (`b`) set up from that backup, sync on
/// for both and the same records on each.
struct Practice {
    a: TestVault,
    b: TestVault,
    ann: String,
    note: String,
    user: String,
}

fn two_computers(server: &Server) -> Practice {
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
    let b = another_computer(server, &user, &a, "laptop");
    let on_b = ok_json(&b, &["sync", "enable"]);
    assert_eq!(on_b["devices"], 2);
    assert_ne!(
        on_b["letter"], on["letter"],
        "two computers with one letter"
    );
    ok_json(&b, &["sync", "now"]);
    assert_eq!(fingerprint(&a), fingerprint(&b));
    Practice {
        a,
        b,
        ann,
        note,
        user,
    }
}

/// One more computer of the practice, set up from the off-site backup `a` made (sync not on
/// yet).
fn another_computer(server: &Server, user: &str, a: &TestVault, name: &str) -> TestVault {
    let v = TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: tempfile::tempdir().unwrap().keep().join(name),
        store: KeyStore::Passphrase,
        recovery_key: a.recovery_key.clone(),
    };
    v.cmd()
        .env("CASEBOOK_SYNC_PASSWORD", PASSWORD)
        .env("CASEBOOK_RECOVERY_KEY", &a.recovery_key)
        .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
        .args([
            "backup",
            "restore",
            "--from-server",
            &server.url(),
            "--username",
            user,
            "--into",
        ])
        .arg(&v.dir)
        .assert()
        .success();
    v
}

fn story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let Practice {
        a, b, ann, note, ..
    } = two_computers(&server);

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
    // `sync status` counts what is made here and not on the server yet: the email, the
    // draft and the new client (its code, its name) at the least on each.
    for v in [&a, &b] {
        let pending = ok_json(v, &["sync", "status"])["pending_changes"]
            .as_u64()
            .expect("pending_changes");
        assert!(pending >= 3, "pending changes before sync: {pending}");
    }

    for v in [&a, &b, &a] {
        ok_json(v, &["sync", "now"]);
    }
    for v in [&a, &b] {
        assert_eq!(
            ok_json(v, &["sync", "status"])["pending_changes"],
            0,
            "everything made here was sent and acknowledged"
        );
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

    // Each computer holds and verifies the other's audit trail, and lists its entries with
    // the computer's name.
    let verified = ok_json(&a, &["audit", "verify"]);
    assert_eq!(
        verified["devices"].as_array().unwrap().len(),
        1,
        "{verified}"
    );
    let trail = ok_json(&a, &["audit", "list", "--limit", "1000"]);
    let laptop_edit = trail
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "client.edit" && e["device_name"] != "this computer")
        .unwrap_or_else(|| panic!("the laptop's edit is not in the surgery's trail: {trail}"));
    assert!(laptop_edit["device_name"].is_string(), "{laptop_edit}");

    // Resolving at the surgery: the draft takes the other computer's version, the email keeps
    // what it has. Taking the other version is an edit like any other: it reaches the laptop.
    let conflicts = ok_json(&a, &["sync", "conflicts"]);
    let of_kind = |kind: &str| {
        conflicts
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} conflict: {conflicts}"))
            .clone()
    };
    let (draft, field) = (of_kind("draft"), of_kind("field"));
    let other_text: String = serde_json::from_str(draft["lost"].as_str().unwrap()).unwrap();
    // A draft edited on both cannot be finalised until the therapist has chosen.
    let blocked = cb(&a)
        .args(["note", "finalise", &note])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8_lossy(&blocked).contains("also edited on another computer"),
        "{}",
        String::from_utf8_lossy(&blocked)
    );
    ok_json(
        &a,
        &[
            "sync",
            "conflicts",
            "--resolve",
            draft["id"].as_str().unwrap(),
            "--keep",
            "other",
        ],
    );
    ok_json(
        &a,
        &[
            "sync",
            "conflicts",
            "--resolve",
            field["id"].as_str().unwrap(),
            "--keep",
            "current",
        ],
    );
    let left = ok_json(&a, &["sync", "conflicts"]);
    assert!(
        !left.to_string().contains(draft["id"].as_str().unwrap())
            && !left.to_string().contains(field["id"].as_str().unwrap()),
        "{left}"
    );
    cb(&a)
        .args([
            "sync",
            "conflicts",
            "--resolve",
            draft["id"].as_str().unwrap(),
            "--keep",
            "other",
        ])
        .assert()
        .code(8);
    ok_json(&a, &["sync", "now"]);
    ok_json(&b, &["sync", "now"]);
    for v in [&a, &b] {
        let shown = ok_json(v, &["note", "show", &note]).to_string();
        assert!(shown.contains(&other_text), "{shown}");
    }
    assert_eq!(fingerprint(&a), fingerprint(&b));
    // Chosen on the surgery's computer: it can sign the note now.
    assert_eq!(
        ok_json(&a, &["note", "finalise", &note])["status"],
        "final",
        "finalising after the choice"
    );
    let trail = ok_json(&a, &["audit", "list"]).to_string();
    assert!(trail.contains("sync.resolve"), "resolving is not audited");
    assert!(
        !trail.contains(&other_text),
        "the audit trail holds note text"
    );

    // An erasure on the laptop reaches the surgery; the client does not come back.
    let before_erasure = server_logs(&server);
    cb(&b)
        .args(["erase", &bea, "--reason", "asked to be forgotten", "--yes"])
        .assert()
        .success();
    // Meanwhile the surgery, not yet told, changes her email: that change is dropped where the
    // erasure was made, and listed there (when, where, whose — nothing it held).
    std::thread::sleep(std::time::Duration::from_millis(20));
    cb(&a)
        .args([
            "client",
            "edit",
            &bea,
            "--email",
            "bea@after-erasure.example",
        ])
        .assert()
        .success();
    ok_json(&b, &["sync", "now"]);
    ok_json(&a, &["sync", "now"]);
    ok_json(&b, &["sync", "now"]);
    let dropped = ok_json(&b, &["sync", "conflicts"]);
    let listed: Vec<&serde_json::Value> = dropped
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "erased")
        .collect();
    assert_eq!(listed.len(), 1, "{dropped}");
    assert_eq!(listed[0]["client_code"], bea.as_str());
    assert!(!dropped.to_string().contains("after-erasure"), "{dropped}");
    assert!(
        !ok_json(&a, &["client", "list"])
            .to_string()
            .contains("Bea Newcomer")
    );
    ok_json(&b, &["sync", "now"]);
    assert_eq!(fingerprint(&a), fingerprint(&b));

    // The erasure made each computer write a checkpoint and cut its log below it: no blob
    // that existed while the client did is left on the server (embedded: its database).
    ok_json(&a, &["sync", "now"]);
    for v in [&a, &b] {
        let cp = &ok_json(v, &["sync", "status"])["checkpoint"];
        assert_eq!(cp["cut"], true, "no compacted log: {cp}");
    }
    let after = server_logs(&server);
    for (device, (_, last_before)) in &before_erasure {
        let Some((first_now, _)) = after.get(device) else {
            continue;
        };
        assert!(
            first_now > last_before,
            "device {device}: blob {first_now} from before the erasure (up to {last_before}) is still on the server"
        );
    }
    if backend == Backend::Embedded {
        assert!(!before_erasure.is_empty(), "the server's logs were read");
    }

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

/// A `casebook sync watch --json` running for one computer; its JSON lines are collected as
/// they come. Stopped (by its PID) when dropped.
struct Watcher {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Watcher {
    fn start(v: &TestVault) -> Watcher {
        use std::io::BufRead;
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("casebook"))
            .env("CASEBOOK_VAULT", &v.dir)
            .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
            .env("CASEBOOK_SYNC_PASSWORD", PASSWORD)
            .env_remove("CASEBOOK_RECOVERY_KEY")
            .args(["--json", "sync", "watch"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or_else(|_| {
                    panic!("sync watch --json printed a line that is not JSON: {line}")
                });
                sink.lock().unwrap().push(v);
            }
        });
        Watcher { child, lines }
    }

    /// Waits until it has printed nothing for a second (the other computer's blobs arrive
    /// one by one, and each can wake a run of its own).
    fn settle(&self) {
        let mut seen = self.seen();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let now = self.seen();
            if now == seen {
                return;
            }
            seen = now;
        }
    }

    /// How many lines it has printed so far.
    fn seen(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Waits (up to 30 s) for a run line after the first `from` that `pick` accepts.
    fn wait_for(
        &self,
        from: usize,
        what: &str,
        pick: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .find(|l| pick(l))
            {
                return l.clone();
            }
            assert!(
                std::time::Instant::now() < until,
                "no run of sync watch {what}: {:?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(l: &serde_json::Value) -> u64 {
    l["report"]["received"].as_u64().unwrap_or(0)
}

fn sent(l: &serde_json::Value) -> u64 {
    l["report"]["sent"].as_u64().unwrap_or(0)
}

/// `sync watch` on both computers: a client added on one appears on the other with nobody
/// running `sync now` — sent because the change capture moved here, received because the
/// server's long-poll answered there — well inside the five minutes of the routine run.
fn watch_story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let Practice { a, b, ann, .. } = two_computers(&server);
    let wa = Watcher::start(&a);
    let wb = Watcher::start(&b);
    for w in [&wa, &wb] {
        let first = w.wait_for(0, "at start", |l| l["wake"] == "start");
        assert!(first["report"].is_object(), "the first run failed: {first}");
    }

    // Whatever woke them, the runs after the edit must send it and receive it.
    let (from_a, from_b) = (wa.seen(), wb.seen());
    let added = std::time::Instant::now();
    let dee = a.add_client("Dee Watcher");
    wa.wait_for(from_a, "sending the new client", |l| sent(l) > 0);
    let got = wb.wait_for(from_b, "receiving the new client", |l| received(l) > 0);
    let took = added.elapsed();
    assert_eq!(got["wake"], "elsewhere", "woken by the long-poll: {got}");
    let list = ok_json(&b, &["client", "list"]).to_string();
    assert!(
        list.contains("Dee Watcher") && list.contains(&dee),
        "{list}"
    );
    assert!(
        took < std::time::Duration::from_secs(20),
        "the edit took {took:?} to reach the other computer"
    );

    // And back: an edit on the laptop reaches the surgery the same way.
    wa.settle();
    wb.settle();
    let (from_a, from_b) = (wa.seen(), wb.seen());
    cb(&b)
        .args(["client", "edit", &ann, "--phone", "07700 900456"])
        .assert()
        .success();
    let sent_b = wb.wait_for(from_b, "sending the laptop's edit", |l| sent(l) > 0);
    assert_eq!(sent_b["wake"], "here", "woken by the change here: {sent_b}");
    wa.wait_for(from_a, "receiving the laptop's edit", |l| received(l) > 0);
    let shown = ok_json(&a, &["client", "show", &ann]);
    assert_eq!(shown["identity"]["phone"], "07700 900456", "{shown}");
    drop((wa, wb));
    assert_eq!(fingerprint(&a), fingerprint(&b));
}

#[test]
fn sync_watch_carries_an_edit_to_the_other_computer_embedded() {
    watch_story(Backend::Embedded);
}

#[test]
fn sync_watch_carries_an_edit_to_the_other_computer_scale_out() {
    watch_story(Backend::ScaleOut);
}

/// A third computer joins from the account and the recovery key (`sync join`: the backup,
/// then the log since), and a join stopped after its restore carries on when run again.
/// Then a laptop is revoked from the surgery: its last changes (sent before, never fetched by the
/// surgery) still count everywhere — also on a third computer that syncs only afterwards —
/// and nothing it does after counts; it is told it was revoked. Then the third computer turns
/// sync off: the others stop expecting it.
fn join_revoke_story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let Practice { a, b, user, .. } = two_computers(&server);
    // An erasure on the laptop: its log is cut below a checkpoint, so a computer joining
    // later finds the laptop's log starting there (and the client in no blob of it).
    let hal = b.add_client("Hal To Be Erased");
    ok_json(&b, &["sync", "now"]);
    cb(&b)
        .args(["erase", &hal, "--reason", "asked to be forgotten", "--yes"])
        .assert()
        .success();
    ok_json(&b, &["sync", "now"]);
    assert_eq!(
        ok_json(&b, &["sync", "status"])["checkpoint"]["cut"],
        true,
        "the erasure made the laptop compact its log"
    );
    if backend == Backend::Embedded {
        assert!(
            server_logs(&server).values().any(|(first, _)| *first > 1),
            "no log on the server starts at a checkpoint"
        );
    }
    // Work done on the laptop after the surgery's last backup: only the log has it.
    let since_backup = b.add_client("Gil Since The Backup");
    ok_json(&b, &["sync", "now"]);

    // A third computer joins with the account and the recovery key alone.
    let c = TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: tempfile::tempdir().unwrap().keep().join("home"),
        store: KeyStore::Passphrase,
        recovery_key: a.recovery_key.clone(),
    };
    let join = |v: &TestVault| -> serde_json::Value {
        let out = v
            .cmd()
            .env("CASEBOOK_SYNC_PASSWORD", PASSWORD)
            .env("CASEBOOK_RECOVERY_KEY", &a.recovery_key)
            .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
            .args([
                "--json",
                "sync",
                "join",
                "--server",
                &server.url(),
                "--username",
                &user,
                "--into",
            ])
            .arg(&v.dir)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap()
    };
    let joined = join(&c);
    assert_eq!(joined["resumed"], false, "{joined}");
    assert!(joined["received"].as_u64().unwrap() >= 1, "{joined}");
    assert!(joined["latest"]["device_name"].is_string(), "{joined}");
    assert_eq!(joined["key_generation"], 0, "{joined}");
    assert!(
        ok_json(&c, &["client", "list"])
            .to_string()
            .contains(&since_backup),
        "the joined computer lacks work done since the backup"
    );
    assert!(
        !ok_json(&c, &["client", "list"]).to_string().contains(&hal),
        "an erased client reached the joined computer"
    );
    ok_json(&a, &["sync", "now"]);
    assert_eq!(fingerprint(&a), fingerprint(&c));
    assert_eq!(
        ok_json(&c, &["sync", "status"])["devices"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // The joined computer is renamed from the surgery; the new name reaches it, signed.
    let c_id = ok_json(&c, &["server", "status"])["settings"]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let renamed = ok_json(&a, &["sync", "rename", &c_id, "Home office"]);
    assert_eq!(renamed["device_name"], "Home office", "{renamed}");
    ok_json(&c, &["sync", "now"]);
    let listed = ok_json(&c, &["sync", "devices"]).to_string();
    assert!(listed.contains("\"Home office\""), "{listed}");
    cb(&a)
        .args(["sync", "rename", &c_id, "   "])
        .assert()
        .failure();
    // And back (the computers here are all named after this machine: the revocation below
    // relies on that name being ambiguous).
    let host = casebook_core::offsite::this_computer_name();
    ok_json(&c, &["sync", "rename", &c_id, &host]);
    ok_json(&a, &["sync", "now"]);

    // A join killed after its restore: run again, it carries on from there.
    let d = another_computer(&server, &user, &a, "spare");
    let resumed = join(&d);
    assert_eq!(resumed["resumed"], true, "{resumed}");
    assert!(
        ok_json(&d, &["client", "list"])
            .to_string()
            .contains(&since_backup),
        "the resumed join did not catch up"
    );
    ok_json(&d, &["sync", "disable"]);

    // The laptop's last change reaches the server before it is revoked.
    let dee = b.add_client("Dee Laptop");
    ok_json(&b, &["sync", "now"]);

    let b_id = ok_json(&b, &["server", "status"])["settings"]["device_id"].clone();
    ok_json(&a, &["sync", "now"]);
    let devices = ok_json(&a, &["sync", "devices"]);
    let laptop = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["this_computer"] == false && d["id"] == b_id)
        .unwrap_or_else(|| panic!("the laptop is not listed: {devices}"))
        .clone();
    // The wrong password revokes nothing.
    cb(&a)
        .env("CASEBOOK_SYNC_PASSWORD", "not the password at all")
        .env("CASEBOOK_RECOVERY_KEY", &a.recovery_key)
        .args(["sync", "revoke", laptop["id"].as_str().unwrap()])
        .assert()
        .failure();
    // Nor does a recovery key that is not this vault's (checked before the server is asked),
    // nor none at all without a terminal to ask at.
    let wrong_key = casebook_core::recovery::RecoveryKey::generate();
    cb(&a)
        .env("CASEBOOK_RECOVERY_KEY", wrong_key.as_str())
        .args(["sync", "revoke", laptop["id"].as_str().unwrap()])
        .assert()
        .failure();
    cb(&a)
        .args(["sync", "revoke", laptop["id"].as_str().unwrap()])
        .assert()
        .failure();
    // (The laptop still syncs: nothing was revoked.)
    ok_json(&b, &["sync", "now"]);
    // The laptop and the home computer both go by the machine's host name here: a name two
    // computers share is refused, the id is not.
    cb(&a)
        .env("CASEBOOK_RECOVERY_KEY", &a.recovery_key)
        .args(["sync", "revoke", laptop["name"].as_str().unwrap()])
        .assert()
        .code(7);
    // Revoked with the recovery key: the practice's keys change too.
    let out = cb(&a)
        .env("CASEBOOK_RECOVERY_KEY", &a.recovery_key)
        .args(["--json", "sync", "revoke", laptop["id"].as_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let done: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(done["device_id"], laptop["id"], "{done}");
    assert!(done["until_seq"].as_u64().unwrap() >= 1, "{done}");
    assert_eq!(done["rekeyed"], true, "{done}");
    assert_eq!(done["key_generation"], 1, "{done}");
    assert_eq!(done["sealed_keys_sent"], true, "{done}");
    assert!(
        ok_json(&a, &["client", "list"]).to_string().contains(&dee),
        "the laptop's last change did not count"
    );

    // The laptop can send nothing more, and says why.
    let eve = b.add_client("Eve After Revocation");
    let out = cb(&b)
        .args(["sync", "now"])
        .assert()
        .code(10)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("no longer accepts") || err.contains("revoked"),
        "{err}"
    );

    // The third computer syncs only now: it gets the laptop's changes up to the cut, and
    // the practice's new keys.
    ok_json(&c, &["sync", "now"]);
    for v in [&a, &c] {
        let trail = ok_json(v, &["audit", "list"]).to_string();
        assert!(
            trail.contains("sync.rekey"),
            "taking the new keys is not audited"
        );
        let keys = ok_json(v, &["keys", "show", "--i-understand"]);
        assert_eq!(keys["rekeyed"].as_array().map(Vec::len), Some(1), "{keys}");
        assert_eq!(ok_json(v, &["sync", "status"])["key_generation"], 1);
    }
    rekeyed_blobs_are_closed_to_the_revoked_computer(&server, &a, &b, &c);
    // (Each of the surgery's runs from here may remove a removed computer's log.)
    ok_json(&a, &["sync", "now"]);
    for v in [&a, &c] {
        let list = ok_json(v, &["client", "list"]).to_string();
        assert!(list.contains(&dee) && !list.contains(&eve), "{list}");
        let listed = ok_json(v, &["sync", "devices"]);
        let l = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == laptop["id"])
            .unwrap()
            .clone();
        assert_eq!(l["revoked"], true, "{listed}");
        assert_eq!(l["until_seq"], done["until_seq"], "{listed}");
        assert_eq!(l["stale"], false, "{listed}");
    }
    assert_eq!(fingerprint(&a), fingerprint(&c));

    // A computer joining with the recovery key after the re-keying: the server's sealed keys
    // are the new ones, the backup it restores is from before, and it signs itself into the
    // list with the new practice root.
    let e = another_computer(&server, &user, &a, "after-rekey");
    let joined = join(&e);
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(joined["key_generation"], 1, "{joined}");
    let ivy = a.add_client("Ivy After Rekey");
    ok_json(&a, &["sync", "now"]);
    ok_json(&e, &["sync", "now"]);
    assert!(ok_json(&e, &["client", "list"]).to_string().contains(&ivy));
    assert_eq!(
        ok_json(&e, &["keys", "show", "--i-understand"])["rekeyed"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    ok_json(&e, &["sync", "disable"]);

    // The home computer turns sync off: everything it made is sent first, and the surgery
    // no longer expects it.
    let fay = c.add_client("Fay From Home");
    let off = ok_json(&c, &["sync", "disable"]);
    assert!(off["until_seq"].as_u64().unwrap() >= 1, "{off}");
    assert_eq!(off["log_closed"], true, "{off}");
    cb(&c).args(["sync", "now"]).assert().code(7);
    ok_json(&a, &["sync", "now"]);
    assert!(ok_json(&a, &["client", "list"]).to_string().contains(&fay));
    let listed = ok_json(&a, &["sync", "devices"]).to_string();
    // The laptop revoked; the spare, the one joined after the re-keying and the home
    // computer took themselves off.
    assert_eq!(listed.matches("\"revoked\":true").count(), 4, "{listed}");
    let trail = ok_json(&a, &["audit", "list"]).to_string();
    assert!(trail.contains("sync.revoke"), "revoking is not audited");

    // A checkpoint of the surgery's holds the removed computers' logs (read to their cuts),
    // so it had the server remove them: the laptop's, and those of the two that left (their
    // logs closed) — nothing they sent is left there.
    ok_json(&a, &["sync", "now"]);
    let listed = ok_json(&a, &["sync", "devices"]);
    for d in listed.as_array().unwrap() {
        assert_eq!(d["log_removed"], d["revoked"], "{listed}");
    }
    if backend == Backend::Embedded {
        let left = server_logs(&server);
        let a_id = ok_json(&a, &["server", "status"])["settings"]["device_id"].clone();
        assert_eq!(
            left.keys().collect::<Vec<_>>(),
            vec![a_id.as_str().unwrap()],
            "only the surgery's log is left"
        );
    }
    assert!(ok_json(&a, &["client", "list"]).to_string().contains(&dee));
    let again = ok_json(&a, &["sync", "now"]);
    assert_eq!(again["removed_logs"], 0, "{again}");
}

/// The bytes of `device`'s blobs after `seq` on an embedded server: small ones are kept in
/// its database, larger ones in files (`blobs/<account>/<device>/<seq>.blob`).
fn server_blobs_after(server: &Server, device: &str, seq: i64) -> Vec<Vec<u8>> {
    let conn = rusqlite::Connection::open_with_flags(
        server.data.join("meta.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the server's database");
    let mut stmt = conn
        .prepare(
            "SELECT account_id, seq, data FROM blobs WHERE device_id = ?1 AND seq > ?2 AND emptied = 0 ORDER BY seq",
        )
        .unwrap();
    let rows: Vec<(String, i64, Option<Vec<u8>>)> = stmt
        .query_map(rusqlite::params![device, seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.into_iter()
        .map(|(account, seq, data)| {
            data.unwrap_or_else(|| {
                let path = server
                    .data
                    .join("blobs")
                    .join(account)
                    .join(device)
                    .join(format!("{seq:020}.blob"));
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
        })
        .collect()
}

/// Every backup identity `keys show --json` prints for `v` (each generation's).
fn age_identities(v: &TestVault) -> Vec<age::x25519::Identity> {
    let keys = ok_json(v, &["keys", "show", "--i-understand"]);
    let mut texts: Vec<String> = keys["age_identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect();
    for g in keys["rekeyed"].as_array().into_iter().flatten() {
        for i in g["age_identities"].as_array().unwrap() {
            texts.push(i.as_str().unwrap().to_string());
        }
    }
    texts.iter().map(|t| t.parse().unwrap()).collect()
}

/// The age file inside a sync blob (after its outer header, before its signature).
fn age_body(blob: &[u8]) -> &[u8] {
    let magic = b"age-encryption.org/v1";
    let at = blob
        .windows(magic.len())
        .position(|w| w == magic)
        .expect("an age file inside the blob");
    &blob[at..blob.len() - 64]
}

fn opens(body: &[u8], with: &[age::x25519::Identity]) -> bool {
    use std::io::Read;
    let Ok(d) = age::Decryptor::new(body) else {
        return false;
    };
    d.decrypt(with.iter().map(|i| i as &dyn age::Identity))
        .and_then(|mut r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).map_err(age::DecryptError::from)
        })
        .is_ok()
}

/// After a re-keying, what the surgery seals opens with the keys the remaining computer
/// holds and not with any key the revoked laptop holds — as a server that kept serving the
/// laptop would see (the blobs read straight from the embedded server's files).
fn rekeyed_blobs_are_closed_to_the_revoked_computer(
    server: &Server,
    a: &TestVault,
    b: &TestVault,
    c: &TestVault,
) {
    let before = server_logs(server);
    let jo = a.add_client("Jo After The Rekeying");
    ok_json(a, &["sync", "now"]);
    let a_id = ok_json(a, &["server", "status"])["settings"]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(c, &["sync", "now"]);
    assert!(ok_json(c, &["client", "list"]).to_string().contains(&jo));
    // (The scale-out backend keeps blobs in its object store: read on the embedded one.)
    if server.data.join("meta.db").exists() {
        let newest_before = before.get(&a_id).map_or(0, |(_, last)| *last);
        let new = server_blobs_after(server, &a_id, newest_before);
        assert!(
            !new.is_empty(),
            "the surgery sent nothing after the re-keying"
        );
        let laptop_keys = age_identities(b);
        let home_keys = age_identities(c);
        for blob in &new {
            let body = age_body(blob);
            assert!(
                opens(body, &home_keys),
                "the remaining computer cannot read a new blob"
            );
            assert!(
                !opens(body, &laptop_keys),
                "the revoked laptop can read a new blob"
            );
        }
    }
}

#[test]
fn a_computer_joins_one_is_revoked_up_to_its_cut_and_one_leaves_embedded() {
    join_revoke_story(Backend::Embedded);
}

#[test]
fn a_computer_joins_one_is_revoked_up_to_its_cut_and_one_leaves_scale_out() {
    join_revoke_story(Backend::ScaleOut);
}

/// `sync pair` on the surgery desktop, run in the background: its first JSON line (the
/// code), and the rest of what it prints once it ends.
struct Pairing {
    child: std::process::Child,
    code: String,
}

impl Pairing {
    fn start(a: &TestVault, seconds: Option<u64>) -> Pairing {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("casebook"));
        cmd.env("CASEBOOK_VAULT", &a.dir)
            .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
            .env_remove("CASEBOOK_RECOVERY_KEY")
            .args(["--json", "sync", "pair", "--yes"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped());
        if let Some(s) = seconds {
            cmd.env("CASEBOOK_PAIR_SECONDS", s.to_string());
        }
        let mut child = cmd.spawn().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let line: serde_json::Value = serde_json::from_str(&first)
            .unwrap_or_else(|_| panic!("sync pair printed no code line: {first}"));
        let code = line["code"].as_str().unwrap().to_string();
        assert_eq!(code.len(), 12, "K7Q2-M9XD-4F: {code}");
        Pairing { child, code }
    }

    /// Waits for it to end: its exit code and its last JSON value.
    fn end(self) -> (i32, serde_json::Value) {
        let out = self.child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let last = serde_json::Deserializer::from_str(&text)
            .into_iter::<serde_json::Value>()
            .filter_map(Result::ok)
            .last()
            .unwrap_or_else(|| panic!("sync pair printed no JSON at its end: {text}"));
        (out.status.code().unwrap_or(-1), last)
    }
}

/// `sync join --code` into a new folder: exit code and its JSON.
fn join_by_code(
    server: &Server,
    user: &str,
    code: &str,
    into: &std::path::Path,
) -> (i32, serde_json::Value) {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("casebook"))
        .env("CASEBOOK_SYNC_PASSWORD", PASSWORD)
        .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
        .env_remove("CASEBOOK_RECOVERY_KEY")
        .env("CASEBOOK_VAULT", into)
        .args([
            "--json",
            "sync",
            "join",
            "--server",
            &server.url(),
            "--username",
            user,
            "--code",
            code,
            "--name",
            "Home laptop",
            "--into",
        ])
        .arg(into)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let last = serde_json::Deserializer::from_str(&text)
        .into_iter::<serde_json::Value>()
        .filter_map(Result::ok)
        .last()
        .unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), last)
}

/// Adding a computer by code: with the right code the new computer gets the practice —
/// without the recovery key — and the other computers' work since the backup; a wrong code
/// and an expired one fail with their names on both sides and leave no half-joined folder.
fn pair_story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let Practice {
        a, b, ann, user, ..
    } = two_computers(&server);
    let since_backup = b.add_client("Gil Since The Backup");
    ok_json(&b, &["sync", "now"]);
    let folder = tempfile::tempdir().unwrap();

    // A wrong code: refused on both sides, after one try.
    let offer = Pairing::start(&a, None);
    let wrong = if offer.code.starts_with('2') {
        format!("3{}", &offer.code[1..])
    } else {
        format!("2{}", &offer.code[1..])
    };
    let into = folder.path().join("wrong");
    let (code, out) = join_by_code(&server, &user, &wrong, &into);
    assert_eq!(
        (code, &out["pairing"]),
        (8, &serde_json::json!("code-wrong")),
        "{out}"
    );
    assert!(!into.exists(), "a wrong code left a folder behind");
    let (code, out) = offer.end();
    assert_eq!(
        (code, &out["pairing"]),
        (8, &serde_json::json!("code-wrong")),
        "{out}"
    );

    // An expired code.
    let offer = Pairing::start(&a, Some(1));
    let typed = offer.code.clone();
    let (code, out) = offer.end();
    assert_eq!(
        (code, &out["pairing"]),
        (8, &serde_json::json!("code-expired")),
        "{out}"
    );
    let into = folder.path().join("expired");
    let (code, out) = join_by_code(&server, &user, &typed, &into);
    assert_eq!(
        (code, &out["pairing"]),
        (8, &serde_json::json!("code-expired")),
        "{out}"
    );
    assert!(!into.exists(), "an expired code left a folder behind");

    // A code in the wrong form never reaches the server.
    let (code, out) = join_by_code(&server, &user, "K7Q2-M9XD", &folder.path().join("form"));
    assert_eq!(
        (code, &out["pairing"]),
        (7, &serde_json::json!("code-format")),
        "{out}"
    );

    // The right code, typed in lower case without dashes.
    let offer = Pairing::start(&a, None);
    let typed = offer.code.replace('-', "").to_lowercase();
    let into = folder.path().join("laptop");
    let (code, joined) = join_by_code(&server, &user, &typed, &into);
    assert_eq!(code, 0, "{joined}");
    let (code, added) = offer.end();
    assert_eq!(code, 0, "{added}");
    assert_eq!(added["added"]["device_name"], "Home laptop", "{added}");
    assert_eq!(joined["device_name"], "Home laptop", "{joined}");
    assert_eq!(
        joined["device_id"], added["added"]["device_id"],
        "the computer added is the one that joined"
    );
    let c = TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: into.clone(),
        store: KeyStore::Passphrase,
        recovery_key: a.recovery_key.clone(),
    };
    let clients = ok_json(&c, &["client", "list"]).to_string();
    assert!(clients.contains(&ann), "the backup's client is missing");
    assert!(
        clients.contains(&since_backup),
        "the laptop's work since the backup is missing"
    );
    ok_json(&a, &["sync", "now"]);
    ok_json(&c, &["sync", "now"]);
    assert_eq!(fingerprint(&a), fingerprint(&c));
    let listed = ok_json(&c, &["sync", "devices"]).to_string();
    assert!(listed.contains("Home laptop"), "{listed}");
    let trail = a.actions_after(0);
    assert!(trail.iter().any(|t| t == "sync.pair"), "{trail:?}");
    // The computer joined by code works as any other: a session started there shows here.
    ok_json(&c, &["session", "start", "--minutes", "45"]);
    ok_json(&c, &["sync", "now"]);
    ok_json(&a, &["sync", "now"]);
    let running = ok_json(&a, &["session", "status"]);
    assert_eq!(
        running["running"][0]["computer"], "Home laptop",
        "{running}"
    );
    // What the server relayed is gone once used.
    let (code, _) = join_by_code(&server, &user, &typed, &folder.path().join("again"));
    assert_eq!(code, 8, "a used code worked twice");
}

#[test]
fn a_computer_is_added_by_code_and_wrong_or_expired_codes_fail_embedded() {
    pair_story(Backend::Embedded);
}

#[test]
fn a_computer_is_added_by_code_and_wrong_or_expired_codes_fail_scale_out() {
    pair_story(Backend::ScaleOut);
}

/// One session clock across computers: a session started on the surgery desktop shows as
/// running on the laptop after a sync, with the desktop's name; ending it on the laptop ends
/// it on the desktop, audited there as an end made elsewhere.
fn shared_clock_story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let Practice { a, b, .. } = two_computers(&server);
    let started = ok_json(&a, &["session", "start", "--minutes", "45"]);
    assert_eq!(started["this_computer"], true, "{started}");
    ok_json(&a, &["sync", "now"]);
    ok_json(&b, &["sync", "now"]);
    let seen = ok_json(&b, &["session", "status"]);
    let running = seen["running"].as_array().unwrap();
    assert_eq!(running.len(), 1, "{seen}");
    assert_eq!(running[0]["this_computer"], false, "{seen}");
    assert_eq!(running[0]["computer"], "Surgery desktop", "{seen}");
    assert_eq!(running[0]["run"], started["run"]);

    // More time on the desktop: the laptop shows the new end.
    let extended = ok_json(&a, &["session", "extend", "--minutes", "10"]);
    assert_ne!(extended["ends_at"], started["ends_at"], "{extended}");
    ok_json(&a, &["sync", "now"]);
    ok_json(&b, &["sync", "now"]);
    let seen = ok_json(&b, &["session", "status"]);
    assert_eq!(
        seen["running"][0]["ends_at"], extended["ends_at"],
        "the laptop shows the old end: {seen}"
    );
    // Only the computer a session runs on gives it more time.
    cb(&b).args(["session", "extend"]).assert().code(8);

    let ended = ok_json(&b, &["session", "end"]);
    assert_eq!(ended["ended"], started["run"]);
    assert_eq!(
        ok_json(&b, &["session", "status"])["running"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Ending it twice is refused, changing nothing.
    cb(&b)
        .args(["session", "end", started["run"].as_str().unwrap()])
        .assert()
        .code(8);
    ok_json(&b, &["sync", "now"]);
    ok_json(&a, &["sync", "now"]);
    assert_eq!(
        ok_json(&a, &["session", "status"])["running"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "the desktop still shows the session running"
    );
    assert!(b.actions_after(0).iter().any(|t| t == "session.end"));
}

#[test]
fn a_session_started_on_one_computer_is_ended_on_the_other_embedded() {
    shared_clock_story(Backend::Embedded);
}

#[test]
fn a_session_started_on_one_computer_is_ended_on_the_other_scale_out() {
    shared_clock_story(Backend::ScaleOut);
}

/// A folder and everything in it, copied.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let path = e.path();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&path, &to.join(e.file_name()));
        } else {
            std::fs::copy(&path, to.join(e.file_name())).unwrap();
        }
    }
}

/// A vault folder copied to another computer while the original stays in use there: two
/// copies writing as one device. The second to write finds, in its own log, a change signed
/// with its key that it never wrote; it says so (`copied-vault`, exit 9) and becomes a
/// computer of its own. Connected again as itself, its work reaches the others and theirs
/// reaches it: nothing either copy wrote is lost.
fn copied_vault_story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let Practice {
        a, b, user, ann, ..
    } = two_computers(&server);
    // The laptop's folder copied "to another computer": here, a copy beside it while the
    // original moves (a copy whose original folder is gone is not caught at unlock — as on
    // another computer, where the original is out of sight).
    let elsewhere = TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: tempfile::tempdir().unwrap().keep().join("copied"),
        store: KeyStore::Passphrase,
        recovery_key: a.recovery_key.clone(),
    };
    copy_tree(&b.dir, &elsewhere.dir);
    let laptop = TestVault {
        home: tempfile::tempdir().unwrap(),
        dir: b.dir.with_file_name("laptop-moved"),
        store: KeyStore::Passphrase,
        recovery_key: a.recovery_key.clone(),
    };
    std::fs::rename(&b.dir, &laptop.dir).unwrap();
    let device = |v: &TestVault| ok_json(v, &["status"])["device_id"].clone();
    assert_eq!(
        device(&laptop),
        device(&elsewhere),
        "not a copy of one device"
    );

    // The desktop corrects a detail the copy holds as it was: the copy's history, sent again
    // later, must not bring the old value back or count as a conflict.
    cb(&a)
        .args(["client", "edit", &ann, "--phone", "07700 900789"])
        .assert()
        .success();
    ok_json(&a, &["sync", "now"]);
    // The laptop writes first; the copy's next sync proves the copy.
    let bea = laptop.add_client("Bea On The Laptop");
    ok_json(&laptop, &["sync", "now"]);
    let cy = elsewhere.add_client("Cy On The Copy");
    let out = cb(&elsewhere)
        .args(["--json", "sync", "now"])
        .assert()
        .code(9)
        .get_output()
        .clone();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("copied-vault"), "{said}");
    assert!(said.contains("become a computer of its own"), "{said}");
    assert_ne!(
        device(&elsewhere),
        device(&laptop),
        "the copy kept the laptop's id"
    );
    let trail = elsewhere.actions_after(0);
    assert!(trail.iter().any(|t| t == "device.reidentify"), "{trail:?}");
    // The laptop, which wrote first, carries on as itself.
    ok_json(&laptop, &["sync", "now"]);

    // Connected again as itself, the copy sends everything it holds and gets the rest.
    cb(&elsewhere)
        .args([
            "server",
            "connect",
            &server.url(),
            "--username",
            &user,
            "--device-name",
            "Home desktop",
        ])
        .assert()
        .success();
    ok_json(&elsewhere, &["sync", "enable"]);
    ok_json(&elsewhere, &["sync", "now"]);
    for v in [&a, &laptop, &elsewhere, &a] {
        ok_json(v, &["sync", "now"]);
    }
    for v in [&a, &laptop, &elsewhere] {
        let clients = ok_json(v, &["client", "list"]).to_string();
        assert!(clients.contains(&bea) && clients.contains(&cy), "{clients}");
        let shown = ok_json(v, &["client", "show", &ann]).to_string();
        assert!(
            shown.contains("07700 900789"),
            "the old phone came back: {shown}"
        );
    }
    assert_eq!(fingerprint(&a), fingerprint(&laptop));
    assert_eq!(fingerprint(&a), fingerprint(&elsewhere));
    // The copy's history sent again as the new computer's merges as what it is: nothing
    // is kept aside as changed on both computers.
    for v in [&a, &laptop, &elsewhere] {
        let conflicts = ok_json(v, &["sync", "conflicts"]);
        assert_eq!(conflicts, serde_json::json!([]), "{conflicts}");
    }
}

#[test]
fn a_vault_copied_to_another_computer_becomes_a_computer_of_its_own_embedded() {
    copied_vault_story(Backend::Embedded);
}

#[test]
fn a_vault_copied_to_another_computer_becomes_a_computer_of_its_own_scale_out() {
    copied_vault_story(Backend::ScaleOut);
}

/// A computer switched off since an erasure: the other empties its log once it has been quiet
/// (`CASEBOOK_SYNC_QUIET_SECONDS`, six hours in use), so nothing of the erased client is left
/// on the server; back on, it carries on after its emptied head and both converge.
fn switched_off_story(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let Practice { a, b, .. } = two_computers(&server);
    let quiet = |v: &TestVault, args: &[&str]| -> serde_json::Value {
        let out = cb(v)
            .env("CASEBOOK_SYNC_QUIET_SECONDS", "6")
            .arg("--json")
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap()
    };
    // The laptop writes about a new client, sends it, and is switched off.
    let cai = b.add_client("Cai Leftbehind");
    b.add_note(&cai, "spoke about the allotment");
    ok_json(&b, &["sync", "now"]);
    let laptop_before = server_logs(&server);
    quiet(&a, &["sync", "now"]);
    cb(&a)
        .args(["erase", &cai, "--reason", "right to erasure", "--yes"])
        .assert()
        .success();
    let r = quiet(&a, &["sync", "now"]);
    assert_eq!(r["emptied_logs"], 0, "not quiet yet: {r}");
    std::thread::sleep(std::time::Duration::from_millis(6500));
    let r = quiet(&a, &["sync", "now"]);
    assert_eq!(r["emptied_logs"], 1, "{r}");
    let again = quiet(&a, &["sync", "now"]);
    assert_eq!(again["emptied_logs"], 0, "{again}");
    // Nothing the laptop sent before is served any more (embedded: its database and files).
    if backend == Backend::Embedded {
        let after = server_logs(&server);
        assert!(!laptop_before.is_empty(), "the server's logs were read");
        for (device, (_, last_before)) in &laptop_before {
            if let Some((first_now, _)) = after.get(device) {
                assert!(
                    first_now > last_before,
                    "device {device}: blob {first_now} from before the erasure is still on the server"
                );
            }
        }
        for needle in ["Leftbehind", "allotment"] {
            assert!(
                !files_contain(&server.data, needle),
                "the server's files hold {needle:?}"
            );
        }
    }
    // Back on: no alarm, the erasure reaches it, and what it writes next reaches the other.
    ok_json(&b, &["sync", "now"]);
    assert!(
        !ok_json(&b, &["client", "list"])
            .to_string()
            .contains("Leftbehind")
    );
    b.add_client("Dee Afterwards");
    ok_json(&b, &["sync", "now"]);
    quiet(&a, &["sync", "now"]);
    ok_json(&b, &["sync", "now"]);
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert!(
        ok_json(&a, &["client", "list"])
            .to_string()
            .contains("Afterwards")
    );
    for v in [&a, &b] {
        cb(v).args(["audit", "verify"]).assert().success();
    }
}

#[test]
fn a_computer_switched_off_since_an_erasure_leaves_nothing_of_the_client_on_the_server_embedded() {
    switched_off_story(Backend::Embedded);
}

#[test]
fn a_computer_switched_off_since_an_erasure_leaves_nothing_of_the_client_on_the_server_scale_out() {
    switched_off_story(Backend::ScaleOut);
}
