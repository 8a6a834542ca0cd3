//! Off-site backups end to end: the real `casebook` command against the real
//! `casebook-sync` process on loopback, on both of its backends (embedded; PostgreSQL +
//! Garage, started by scripts/test), through faults.
//!
//! The story: connect (signing up), a scheduled backup goes to the server too, list, verify,
//! prune by the server's own keep-policy, an erasure after the last backup, then a restore
//! from the server into a fresh HOME with only the URL, the account and the recovery key —
//! every record and the audit chain compared. Faults: the server killed mid-upload and
//! restarted, a byte flipped in a stored piece, wrong password / TOTP code / recovery key,
//! quota full, a revoked device — each a one-line error with nothing local changed.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::sync_server::{Backend, PASSWORD, Server, cb, free_port, ok_json, spawn};
use common::{KeyStore, PASSPHRASE, TestVault};
use serde_json::Value;

/// A loopback TCP relay in front of the server that runs `cut` once `after` bytes have gone
/// up through it (a server killed or a network lost mid-upload), refusing everything after.
struct Relay {
    port: u16,
    up_bytes: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
}

impl Relay {
    fn start(to: u16, port: u16, after: u64, cut: impl Fn() + Send + Sync + 'static) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let up_bytes = Arc::new(AtomicU64::new(0));
        let dead = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(cut);
        let (u, d) = (up_bytes.clone(), dead.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                if d.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let (u, d, cut) = (u.clone(), d.clone(), cut.clone());
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 || d.load(Ordering::SeqCst) {
                            break;
                        }
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        if u.fetch_add(n as u64, Ordering::SeqCst) + n as u64 >= after {
                            d.store(true, Ordering::SeqCst);
                            cut();
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Both);
                    let _ = c_read.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    // The server side ended (or died): so does the client's connection, as
                    // it would over a real network.
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Relay {
            port,
            up_bytes,
            dead,
        }
    }

    fn stop(&self) {
        self.dead.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `dead`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn fails(mut c: Command, code: i32) -> String {
    let out = c.assert().code(code).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn usable(list: &Value) -> Vec<Value> {
    list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["complete"] == true && b["problem"].is_null())
        .cloned()
        .collect()
}

/// Every stored byte of the embedded backend's data folder (blobs, snapshots, meta.db).
fn stored_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// One HTTP/1.1 exchange with the server on loopback; the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = json.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = out[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    (status, body)
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
        b = &b[line_end + 2 + size + 2..];
    }
}

/// A token for the account as a second device (the test's own, to look and tamper).
fn api_token(port: u16, user: &str) -> String {
    let sign_in = serde_json::json!({"username": user, "password": PASSWORD, "device_name": "scan", "device_public_key": "age1scan"}).to_string();
    let (st, body) = http(port, "POST", "/v1/sessions", None, Some(&sign_in));
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every object of the account, fetched through the API as a second device.
fn objects_via_api(port: u16, user: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let token = api_token(port, user);
    let (st, body) = http(port, "GET", "/v1/snapshots", Some(&token), None);
    assert_eq!(st, 200);
    let list: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let mut out = vec![(PathBuf::from("(the listing)"), body)];
    for o in list {
        let name = o["name"].as_str().unwrap();
        let (st, bytes) = http(
            port,
            "GET",
            &format!("/v1/snapshots/{name}"),
            Some(&token),
            None,
        );
        assert_eq!(st, 200);
        out.push((PathBuf::from(name), bytes));
    }
    out
}

/// A vault in a fresh HOME restored from the server, opened with a passphrase.
struct Fresh {
    home: tempfile::TempDir,
    dir: PathBuf,
}

impl Fresh {
    fn new() -> Fresh {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("restored");
        Fresh { home, dir }
    }

    fn restore(&self, url: &str, user: &str, recovery_key: &str) -> Command {
        let mut c = Command::cargo_bin("casebook").unwrap();
        c.env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("CASEBOOK_SYNC_PASSWORD", PASSWORD)
            .env("CASEBOOK_RECOVERY_KEY", recovery_key)
            .env("CASEBOOK_PASSPHRASE", PASSPHRASE)
            .env_remove("CASEBOOK_VAULT")
            .write_stdin("")
            .args([
                "backup",
                "restore",
                "--from-server",
                url,
                "--username",
                user,
                "--into",
            ])
            .arg(&self.dir);
        c
    }

    fn vault(&self) -> TestVault {
        TestVault {
            home: tempfile::tempdir().unwrap(),
            dir: self.dir.clone(),
            store: KeyStore::Passphrase,
            recovery_key: String::new(),
        }
    }
}

/// What a restore must give back: every exported record file.
fn export(v: &TestVault) -> std::collections::BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("x");
    cb(v).args(["export", "--all"]).arg(&dir).assert().success();
    let mut files = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // The audit trail grows with every command (the export itself): compared apart.
        if name.starts_with("audit") || name.starts_with("manifest") || name.ends_with(".md") {
            continue;
        }
        if !e.path().is_file() || name == "erasure_records.csv" {
            continue;
        }
        let mut text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if name == "erasure_records.json" {
            // A restore makes each erasure again as its own device (its device id and clock
            // stamp); the erasure itself — id, code, time, reason — must be the same.
            let mut records: Vec<Value> = serde_json::from_str(&text).unwrap();
            for r in &mut records {
                r.as_object_mut()
                    .unwrap()
                    .retain(|k, _| k != "device_id" && k != "hlc");
            }
            text = serde_json::to_string(&records).unwrap();
        }
        files.insert(name, text);
    }
    files
}

fn audit(v: &TestVault) -> Vec<Value> {
    ok_json(v, &["audit", "list", "--limit", "100000"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn story(backend: Backend, store: KeyStore) {
    if store == KeyStore::Keychain && !common::keychain_available() {
        return;
    }
    let Some(mut server) = Server::start(backend, None) else {
        return;
    };
    let url = server.url();
    let user = format!("t{}", rand::random::<u32>());
    let v = TestVault::new(store);
    let ann = v.add_client("Ann Offsite");
    let bo = v.add_client("Bo Erased");
    v.add_note(&ann, "slept badly; plan reviewed");
    v.add_note(&bo, "first session");

    // Connect, opening the account: where the server keeps data is said first.
    let out = cb(&v)
        .args([
            "server",
            "connect",
            &url,
            "--username",
            &user,
            "--signup",
            "--device-name",
            "Surgery laptop",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("London, United Kingdom"));
    // The token is in the key store, not in any plaintext file of the vault.
    let status = ok_json(&v, &["server", "status"]);
    assert_eq!(status["settings"]["device_name"], "Surgery laptop");
    for (p, bytes) in stored_bytes(&v.dir) {
        assert!(
            !contains(&bytes, "\"token\""),
            "{} holds a token",
            p.display()
        );
    }
    // Connecting again (same vault) keeps the device.
    let again = ok_json(&v, &["server", "connect", &url, "--username", &user]);
    assert_eq!(again["device_id"], status["settings"]["device_id"]);

    // The schedule sends to both destinations; each is due on its own.
    let before_local = std::fs::read_dir(v.dir.with_file_name("vault-backups"))
        .map(|d| d.count())
        .unwrap_or(0);
    cb(&v)
        .args(["backup", "create", "--if-due"])
        .assert()
        .success();
    let after_local = std::fs::read_dir(v.dir.with_file_name("vault-backups"))
        .map(|d| d.count())
        .unwrap();
    assert!(after_local > before_local, "a local backup was made");
    let list = ok_json(&v, &["backup", "list", "--server"]);
    let first = usable(&list);
    assert_eq!(first.len(), 1, "{list}");
    assert_eq!(first[0]["manifest"]["counts"]["clients"], 2);
    let first_name = first[0]["name"].as_str().unwrap().to_string();
    let not_due = ok_json(&v, &["backup", "create", "--to", "server", "--if-due"]);
    assert_eq!(not_due["due"], false);

    // Verify downloads and checks it completely.
    let verified = ok_json(&v, &["backup", "verify", "--server", &first_name]);
    assert_eq!(verified["ok"], true);
    assert!(verified["audit_entries"].as_i64().unwrap() > 4);

    // The server holds nothing readable: no manifest, vault id, client code or count.
    let vault_id = ok_json(&v, &["status"])["vault_id"]
        .as_str()
        .unwrap()
        .to_string();
    let scan: Vec<(PathBuf, Vec<u8>)> = match backend {
        Backend::Embedded => stored_bytes(&server.data),
        // The bucket's objects, as the server hands them back (the bytes it stored there).
        Backend::ScaleOut => objects_via_api(server.port, &user),
    };
    for (p, bytes) in &scan {
        for needle in [
            vault_id.as_str(),
            ann.as_str(),
            bo.as_str(),
            "manifest",
            "\"clients\"",
            "session_notes",
            "Ann Offsite",
            "slept badly",
        ] {
            assert!(!contains(bytes, needle), "{} holds {needle:?}", p.display());
        }
    }
    assert!(scan.len() > 4, "the scan saw the stored objects");

    // Two more; a keep-policy of nothing keeps the newest and the newest verified.
    ok_json(&v, &["backup", "create", "--to", "server"]);
    let third = ok_json(&v, &["backup", "create", "--to", "server"]);
    cb(&v)
        .args([
            "backup",
            "schedule",
            "set",
            "--server-keep",
            "--keep-hours",
            "0",
            "--keep-daily",
            "0",
            "--keep-weekly",
            "0",
            "--keep-monthly",
            "0",
        ])
        .assert()
        .success();
    let plan = ok_json(&v, &["backup", "prune", "--server"]);
    assert_eq!(plan["delete"].as_array().unwrap().len(), 1, "{plan}");
    let names: Vec<String> = usable(&ok_json(&v, &["backup", "list", "--server"]))
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&first_name), "the newest verified stays");
    assert!(
        names.contains(&third["name"].as_str().unwrap().to_string()),
        "the newest stays"
    );
    // The local folder kept its own policy: untouched by the server's prune.
    assert_eq!(
        std::fs::read_dir(v.dir.with_file_name("vault-backups"))
            .unwrap()
            .count(),
        after_local
    );

    // An erasure after the last server backup survives a restore from the server.
    cb(&v)
        .args(["erase", &bo, "--reason", "client asked", "--yes"])
        .assert()
        .success();
    let expected = export(&v);
    let original_audit = audit(&v);

    // A new machine: only the URL, the account and the recovery key.
    let fresh = Fresh::new();
    let out = fresh
        .restore(&url, &user, &v.recovery_key)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(
        String::from_utf8_lossy(&out).contains("Restored"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let r = fresh.vault();
    let clients = ok_json(&r, &["client", "list", "--all"]);
    let codes: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert!(codes.contains(&ann.as_str()));
    assert!(
        !codes.contains(&bo.as_str()),
        "the erased client did not come back"
    );
    // Every record is as it was (the newest backup plus the erasure after it).
    assert_eq!(export(&r), expected);
    // The audit chain verifies and begins with the original's entries.
    assert_eq!(ok_json(&r, &["audit", "verify"])["ok"], true);
    let restored_audit = audit(&r);
    let same_prefix = original_audit
        .iter()
        .zip(&restored_audit)
        .take_while(|(a, b)| a["hash"] == b["hash"])
        .count();
    assert!(
        same_prefix > 10,
        "the restored chain is the original's ({same_prefix} shared)"
    );
    // The restored vault is connected as a second device of the account.
    let rs = ok_json(&r, &["server", "status"]);
    assert_ne!(rs["settings"]["device_id"], status["settings"]["device_id"]);

    // The server withholds the erasure list: a restore refuses (an erased client could come
    // back), nothing written. (The next off-site backup sends the list again.)
    let token = api_token(server.port, &user);
    let (_, body) = http(server.port, "GET", "/v1/snapshots", Some(&token), None);
    let private: Vec<String> = serde_json::from_slice::<Vec<Value>>(&body)
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .filter(|n| n.starts_with('v') && n.len() == 33)
        .map(str::to_string)
        .collect();
    assert!(!private.is_empty(), "the erasure list is on the server");
    for n in &private {
        let (st, _) = http(
            server.port,
            "DELETE",
            &format!("/v1/snapshots/{n}"),
            Some(&token),
            None,
        );
        assert_eq!(st, 204);
    }
    let withheld = Fresh::new();
    let e = fails(withheld.restore(&url, &user, &v.recovery_key), 9);
    assert!(e.contains("erasure list is missing"), "{e}");
    assert!(!withheld.dir.exists(), "nothing written");
    // That next backup is made after the erasure: the older ones, which still hold the
    // erased client (readable with the recovery key), are deleted from the server.
    let before = usable(&ok_json(&v, &["backup", "list", "--server"]));
    assert!(!before.is_empty());
    let sent_now = ok_json(&v, &["backup", "create", "--to", "server"]);
    let after = usable(&ok_json(&v, &["backup", "list", "--server"]));
    assert_eq!(
        after.len(),
        1,
        "only the backup made after the erasure is left: {after:?}"
    );
    assert!(
        before.iter().all(|b| b["name"] != after[0]["name"]),
        "{sent_now}"
    );
    let trail = ok_json(&v, &["audit", "list"]).to_string();
    assert!(
        trail.contains(&format!("older_deleted_after_erasure={}", before.len())),
        "the deletion is audited"
    );
    let again = Fresh::new();
    again
        .restore(&url, &user, &v.recovery_key)
        .assert()
        .success();

    // The server drops a backup this computer sent: listed as missing, and prune refuses
    // until told to stop expecting it.
    let sent = usable(&ok_json(&v, &["backup", "list", "--server"]));
    let dropped = sent.last().unwrap()["name"].as_str().unwrap().to_string();
    let (st, _) = http(
        server.port,
        "DELETE",
        &format!("/v1/snapshots/{dropped}"),
        Some(&token),
        None,
    );
    assert_eq!(st, 204);
    let list = ok_json(&v, &["backup", "list", "--server"]);
    assert_eq!(list["missing"], serde_json::json!([dropped]));
    assert_eq!(list["warning"], true);
    let e = fails(
        {
            let mut c = cb(&v);
            c.args(["backup", "prune", "--server"]);
            c
        },
        9,
    );
    assert!(e.contains("no longer lists 1"), "{e}");
    ok_json(&v, &["backup", "prune", "--server", "--forget-missing"]);
    assert_eq!(
        ok_json(&v, &["backup", "list", "--server"])["missing"],
        serde_json::json!([])
    );

    // Faults: wrong password, wrong recovery key — one line, nothing written.
    let bad = Fresh::new();
    let mut c = bad.restore(&url, &user, &v.recovery_key);
    c.env("CASEBOOK_SYNC_PASSWORD", "not the password at all");
    let e = fails(c, 4);
    assert!(e.contains("password"), "{e}");
    assert!(!bad.dir.exists());
    let wrong_key = TestVault::new(KeyStore::Passphrase).recovery_key;
    let e = fails(bad.restore(&url, &user, &wrong_key), 5);
    assert!(e.contains("recovery key"), "{e}");
    assert!(!bad.dir.exists());

    // The server killed mid-upload and restarted: the run fails (network), nothing is listed,
    // and the next run succeeds and removes the unfinished pieces.
    killed_mid_upload(&mut server, &v, &user);
    if backend == Backend::Embedded {
        flipped_byte(&server, &v, &fresh, &user);
    }

    // A revoked device: the account deleted from the restored computer signs every device out.
    let deleted = ok_json(&r, &["server", "delete-account", "--yes"]);
    assert!(deleted["blobs_removed"].as_u64().unwrap() > 3, "{deleted}");
    let local_before = common::fingerprint(&v.dir);
    let e = fails(
        {
            let mut c = cb(&v);
            c.args(["backup", "create", "--to", "server"]);
            c
        },
        4,
    );
    assert!(e.contains("no longer accepts this computer"), "{e}");
    let local_after = common::fingerprint(&v.dir);
    let changed: Vec<_> = local_after
        .iter()
        .filter(|(k, val)| local_before.get(*k) != Some(val))
        .map(|(k, _)| k.clone())
        // The stores take the audit entry of the attempt; the run record its failure.
        .filter(|k| {
            !k.starts_with("clinical") && !k.starts_with("identity") && k != "server-state.json"
        })
        .collect();
    assert!(
        changed.is_empty(),
        "only the audit entry and the run record change: {changed:?}"
    );
    assert_eq!(export(&v), expected, "no record changed");
    // Local backups carry on.
    cb(&v).args(["backup", "create"]).assert().success();
    let warn = ok_json(&v, &["server", "status"]);
    assert!(
        warn["state"]["last_error"]
            .as_str()
            .unwrap()
            .contains("no longer accepts")
    );
}

/// The relay kills the server once part of a backup has gone up; the run fails with a
/// network error and lists nothing; after a restart the next run is a good backup and the
/// pieces of the cut-off one are gone.
fn killed_mid_upload(server: &mut Server, v: &TestVault, user: &str) {
    let listed = ok_json(v, &["backup", "list", "--server"]);
    let before = usable(&listed).len();
    // (Pieces left by a backup the server dropped earlier in the story are not this run's.)
    let leftovers = listed["unfinished"].clone();
    // Point the vault at a relay (the same account, through another port).
    let relay_port = free_port();
    let pid = server.child.id();
    let relay = Relay::start(server.port, relay_port, 180_000, move || {
        let _ = StdCommand::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    });
    let relay_url = format!("http://127.0.0.1:{relay_port}");
    cb(v).args(["server", "disconnect"]).assert().success();
    cb(v)
        .args(["server", "connect", &relay_url, "--username", user])
        .assert()
        .success();
    let e = fails(
        {
            let mut c = cb(v);
            c.args(["backup", "create", "--to", "server"]);
            c
        },
        10,
    );
    assert!(e.contains("cannot be reached"), "{e}");
    assert!(relay.up_bytes.load(Ordering::SeqCst) >= 180_000);
    relay.stop();
    server.restart();
    // The relay is gone; the server is back on its own port: reconnect there.
    let settings = v.dir.join("server.json");
    let text = std::fs::read_to_string(&settings)
        .unwrap()
        .replace(&relay_url, &server.url());
    std::fs::write(&settings, text).unwrap();
    let list = ok_json(v, &["backup", "list", "--server"]);
    assert_eq!(
        usable(&list).len(),
        before,
        "the cut-off upload is not a backup"
    );
    assert_ne!(
        list["unfinished"], leftovers,
        "the cut-off upload left pieces: {list}"
    );
    ok_json(v, &["backup", "create", "--to", "server"]);
    let list = ok_json(v, &["backup", "list", "--server"]);
    assert_eq!(usable(&list).len(), before + 1);
    assert_eq!(list["unfinished"], leftovers, "its pieces are gone: {list}");
}

/// A byte flipped in one stored piece: verify says so (integrity), a restore refuses it and
/// writes nothing.
fn flipped_byte(server: &Server, v: &TestVault, _fresh: &Fresh, user: &str) {
    let newest = usable(&ok_json(v, &["backup", "list", "--server"]))[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    // The largest stored file is a full piece of some backup; flip a byte in every full-size
    // piece so the newest is certainly hit.
    let mut hit = 0;
    for (p, mut bytes) in stored_bytes(&server.data) {
        if bytes.len() == 65536 {
            bytes[1000] ^= 0x55;
            std::fs::write(&p, bytes).unwrap();
            hit += 1;
        }
    }
    assert!(hit > 0);
    let e = fails(
        {
            let mut c = cb(v);
            c.args(["backup", "verify", "--server", &newest]);
            c
        },
        9,
    );
    assert!(
        e.contains("refused") || e.contains("altered") || e.contains("damaged"),
        "{e}"
    );
    let other = Fresh::new();
    let mut c = other.restore(&server.url(), user, &v.recovery_key);
    c.args(["--name", &newest]);
    fails(c, 9);
    assert!(!other.dir.exists(), "nothing written");
}

/// A full account: the off-site backup fails with words saying so; local backups carry on.
fn quota_full(backend: Backend) {
    let Some(server) = Server::start(backend, Some(150_000)) else {
        return;
    };
    let v = TestVault::new(KeyStore::Passphrase);
    v.add_client("Cy Quota");
    let user = format!("q{}", rand::random::<u32>());
    cb(&v)
        .args([
            "server",
            "connect",
            &server.url(),
            "--username",
            &user,
            "--signup",
        ])
        .assert()
        .success();
    let e = fails(
        {
            let mut c = cb(&v);
            c.args(["backup", "create", "--to", "server"]);
            c
        },
        8,
    );
    assert!(e.contains("storage for this account is full"), "{e}");
    assert!(usable(&ok_json(&v, &["backup", "list", "--server"])).is_empty());
    cb(&v).args(["backup", "create"]).assert().success();
}

/// TOTP on the account: turned on with a code from the secret, shown ten recovery codes;
/// a restore with a wrong code is refused (exit 4), with the right one it works.
fn second_factor(backend: Backend) {
    let Some(server) = Server::start(backend, None) else {
        return;
    };
    let v = TestVault::new(KeyStore::Passphrase);
    v.add_client("Di Totp");
    let user = format!("f{}", rand::random::<u32>());
    cb(&v)
        .args([
            "server",
            "connect",
            &server.url(),
            "--username",
            &user,
            "--signup",
        ])
        .assert()
        .success();
    let start = ok_json(&v, &["server", "totp", "enable"]);
    let secret = start["secret_base32"].as_str().unwrap().to_string();
    let code = |offset: i64| {
        let t = chrono::Utc::now().timestamp() + offset;
        totp_code(&secret, t as u64)
    };
    let codes = ok_json(&v, &["server", "totp", "enable", "--code", &code(0)]);
    assert_eq!(codes["codes"].as_array().unwrap().len(), 10);
    ok_json(&v, &["backup", "create", "--to", "server"]);

    let fresh = Fresh::new();
    let mut c = fresh.restore(&server.url(), &user, &v.recovery_key);
    c.args(["--totp", "000000"]);
    let e = fails(c, 4);
    assert!(e.contains("code"), "{e}");
    assert!(!fresh.dir.exists());
    // A one-time recovery code stands in for the authenticator.
    let mut c = fresh.restore(&server.url(), &user, &v.recovery_key);
    c.args(["--totp", codes["codes"][0].as_str().unwrap()]);
    c.assert().success();

    // Turned off with a code (a wrong one changes nothing); then no code is needed.
    fails(
        {
            let mut c = cb(&v);
            c.args(["server", "totp", "disable", "--totp", "123456"]);
            c
        },
        4,
    );
    ok_json(
        &v,
        &[
            "server",
            "totp",
            "disable",
            "--totp",
            codes["codes"][1].as_str().unwrap(),
        ],
    );
    let other = Fresh::new();
    other
        .restore(&server.url(), &user, &v.recovery_key)
        .assert()
        .success();
}

/// RFC 6238 with SHA-1, 6 digits, 30 s (what the server's authenticator setup says).
fn totp_code(secret_b32: &str, unix: u64) -> String {
    use hmac_sha1::hmac;
    let key = base32_decode(secret_b32);
    let counter = (unix / 30).to_be_bytes();
    let mac = hmac(&key, &counter);
    let off = (mac[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([mac[off] & 0x7f, mac[off + 1], mac[off + 2], mac[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

fn base32_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut n, mut out) = (0u64, 0u32, Vec::new());
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = A.iter().position(|a| *a == c.to_ascii_uppercase()).unwrap() as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// HMAC-SHA1 for the test's authenticator (SHA-1 itself from the `sha1_smol`-free route:
/// a small implementation, test-only).
mod hmac_sha1 {
    fn sha1(data: &[u8]) -> [u8; 20] {
        let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
        let mut msg = data.to_vec();
        let bit_len = (data.len() as u64) * 8;
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&bit_len.to_be_bytes());
        for chunk in msg.chunks(64) {
            let mut w = [0u32; 80];
            for i in 0..16 {
                w[i] = u32::from_be_bytes([
                    chunk[4 * i],
                    chunk[4 * i + 1],
                    chunk[4 * i + 2],
                    chunk[4 * i + 3],
                ]);
            }
            for i in 16..80 {
                w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
            }
            let (mut a, mut b, mut c, mut d, mut e) = (h[0], h[1], h[2], h[3], h[4]);
            for (i, wi) in w.iter().enumerate() {
                let (f, k) = match i {
                    0..=19 => ((b & c) | (!b & d), 0x5A827999),
                    20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                    40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                    _ => (b ^ c ^ d, 0xCA62C1D6),
                };
                let t = a
                    .rotate_left(5)
                    .wrapping_add(f)
                    .wrapping_add(e)
                    .wrapping_add(k)
                    .wrapping_add(*wi);
                e = d;
                d = c;
                c = b.rotate_left(30);
                b = a;
                a = t;
            }
            for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
                *x = x.wrapping_add(y);
            }
        }
        let mut out = [0u8; 20];
        for (i, v) in h.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    pub fn hmac(key: &[u8], msg: &[u8]) -> [u8; 20] {
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        inner.extend_from_slice(msg);
        let ih = sha1(&inner);
        let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        outer.extend_from_slice(&ih);
        sha1(&outer)
    }
}

#[test]
fn embedded_story_keychain() {
    story(Backend::Embedded, KeyStore::Keychain);
}

#[test]
fn embedded_story_passphrase() {
    story(Backend::Embedded, KeyStore::Passphrase);
}

#[test]
fn scale_out_story() {
    story(Backend::ScaleOut, KeyStore::Passphrase);
}

#[test]
fn quota_full_embedded() {
    quota_full(Backend::Embedded);
}

#[test]
fn quota_full_scale_out() {
    quota_full(Backend::ScaleOut);
}

#[test]
fn second_factor_embedded() {
    second_factor(Backend::Embedded);
}

#[test]
fn plain_http_to_another_computer_and_a_non_uk_eu_server_are_refused() {
    let v = TestVault::new(KeyStore::Passphrase);
    let before = common::fingerprint(&v.dir);
    let e = fails(
        {
            let mut c = cb(&v);
            c.args([
                "server",
                "connect",
                "http://192.0.2.1:8787",
                "--username",
                "x",
            ]);
            c
        },
        7,
    );
    assert!(e.contains("plain http://"), "{e}");
    let e = fails(
        {
            let mut c = cb(&v);
            c.args([
                "server",
                "connect",
                &format!("http://127.0.0.1:{}", free_port()),
                "--username",
                "x",
            ]);
            c
        },
        10,
    );
    assert!(e.contains("cannot be reached"), "{e}");
    assert_eq!(common::fingerprint(&v.dir), before);
}

/// A server whose certificate this computer does not trust: refused before anything is sent,
/// in words (TLS failure), exit 10.
#[test]
fn a_server_with_an_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let config = dir.path().join("sync.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata = {:?}\ncountry = \"GB\"\ntls_cert = {cert_path:?}\ntls_key = {key_path:?}\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let mut child = spawn(&config);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = TestVault::new(KeyStore::Passphrase);
    let before = common::fingerprint(&v.dir);
    let e = fails(
        {
            let mut c = cb(&v);
            c.args([
                "server",
                "connect",
                &format!("https://127.0.0.1:{port}"),
                "--username",
                "x",
            ]);
            c
        },
        10,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(e.contains("secure connection"), "{e}");
    assert_eq!(common::fingerprint(&v.dir), before);
}
