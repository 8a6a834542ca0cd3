//! `casebook appointment …` end to end on a real vault: a weekly series across the March
//! clock change stays at 10:00 London time; cancel (late, by the therapist, this and the
//! following), dna, attended, move and delete — each audited, `--json` keeping `id`,
//! `status` and `starts_at`, and bad input refused with nothing changed.

mod common;
use common::*;
use serde_json::Value;

fn london(v: &TestVault, args: &[&str]) -> Value {
    let out = v
        .cmd()
        .env("TZ", "Europe/London")
        .arg("--json")
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

fn statuses(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sessions_are_booked_as_a_series_cancelled_marked_moved_and_deleted() {
    let v = TestVault::new(KeyStore::Passphrase);
    let code = v.add_client("Ada Example");
    let start = v.audit_count();

    // Weekly from Monday 15 March 2027, four sessions: the clocks go forward on the 28th.
    let series = london(
        &v,
        &[
            "appointment",
            "add",
            &code,
            "--start",
            "2027-03-15 10:00",
            "--repeat",
            "weekly",
            "--count",
            "4",
        ],
    );
    let ids: Vec<String> = series["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4, "one id per session: {series}");
    let list = london(&v, &["appointment", "list", &code]);
    let starts: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2027-03-15T10:00:00Z",
            "2027-03-22T10:00:00Z",
            "2027-03-29T09:00:00Z",
            "2027-04-05T09:00:00Z"
        ],
        "10:00 London time throughout"
    );
    assert_eq!(statuses(&list), ["scheduled"; 4]);

    // A fortnightly one until a date.
    let until = london(
        &v,
        &[
            "appointment",
            "add",
            &code,
            "--start",
            "2027-05-03 16:00",
            "--minutes",
            "60",
            "--repeat",
            "fortnightly",
            "--until",
            "2027-06-01",
        ],
    );
    assert_eq!(until["ids"].as_array().unwrap().len(), 3, "{until}");

    let one = london(&v, &["appointment", "attended", &ids[0]]);
    assert_eq!(one["status"], "attended");
    let two = london(
        &v,
        &[
            "appointment",
            "cancel",
            &ids[1],
            "--late",
            "--reason",
            "train strike",
        ],
    );
    assert_eq!(two[0]["status"], "cancelled_late");
    assert_eq!(two[0]["reason"], "train strike");
    let dna = london(&v, &["appointment", "dna", &ids[2]]);
    assert_eq!(dna["status"], "did_not_attend");

    // Moving the last an hour later keeps it (and the move) on record.
    let moved = london(
        &v,
        &[
            "appointment",
            "move",
            &ids[3],
            "--start",
            "2027-04-05 11:00",
        ],
    );
    assert_eq!(moved[0]["starts_at"], "2027-04-05T10:00:00Z");
    // The fortnightly series, cancelled by the therapist from its second session on.
    let until_ids: Vec<&str> = until["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    let off = london(
        &v,
        &[
            "appointment",
            "cancel",
            until_ids[1],
            "--by-therapist",
            "--following",
        ],
    );
    assert_eq!(statuses(&off), ["cancelled_by_therapist"; 2]);

    // Refused, with nothing changed: cancelling twice, a reason on two lines, a bad repeat,
    // a move to a time that is not one.
    let before = v.fingerprint();
    for args in [
        vec!["appointment", "cancel", ids[1].as_str()],
        vec![
            "appointment",
            "cancel",
            ids[3].as_str(),
            "--reason",
            "one\ntwo",
        ],
        vec![
            "appointment",
            "add",
            code.as_str(),
            "--start",
            "2027-03-15 10:00",
            "--repeat",
            "monthly",
            "--count",
            "3",
        ],
        vec![
            "appointment",
            "add",
            code.as_str(),
            "--start",
            "2027-03-15 10:00",
            "--repeat",
            "weekly",
        ],
        vec![
            "appointment",
            "move",
            ids[3].as_str(),
            "--start",
            "tomorrow",
        ],
    ] {
        v.cmd()
            .env("TZ", "Europe/London")
            .args(&args)
            .assert()
            .failure();
    }
    assert_eq!(v.fingerprint(), before, "refused input changed the vault");

    // A booking made by mistake goes; one with a note stays.
    let mistake = london(
        &v,
        &["appointment", "add", &code, "--start", "2027-07-01 09:00"],
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    v.cmd()
        .args([
            "note",
            "add",
            &code,
            "--session",
            &ids[0],
            "--text",
            "we met",
        ])
        .assert()
        .success();
    v.cmd()
        .args(["appointment", "delete", &ids[0]])
        .assert()
        .failure()
        .stderr(predicates::str::contains("note"));
    let gone = london(&v, &["appointment", "delete", &mistake]);
    assert_eq!(gone["deleted"], true);
    let left = london(&v, &["appointment", "list", &code]);
    assert!(
        left.as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"].as_str() != Some(mistake.as_str()))
    );

    // What is left: the attended first session's note is a draft now; nothing is left
    // marked booked in the past (every session here is in 2027).
    let todo = london(&v, &["appointment", "todo"]);
    assert_eq!(todo["to_mark"].as_array().unwrap().len(), 0, "{todo}");
    let finish = todo["notes_to_finish"].as_array().unwrap();
    assert_eq!(finish.len(), 1, "{todo}");
    assert_eq!(finish[0]["kind"], "draft");
    assert_eq!(finish[0]["appointment_id"], ids[0].as_str());

    let actions = v.actions_after(start);
    for action in [
        "appointment.series_create",
        "appointment.cancel",
        "appointment.mark",
        "appointment.move",
        "appointment.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not audited: {actions:?}"
        );
    }
}

/// The note after a session: a brief session note (a UK starter template) linked to the
/// session, found again by a search narrowed to the client and the session's day, dated by
/// the session.
#[test]
fn a_brief_note_for_a_session_is_found_by_client_and_day() {
    let v = TestVault::new(KeyStore::Passphrase);
    let ada = v.add_client("Ada Example");
    let ben = v.add_client("Ben Sample");
    let booked = london(
        &v,
        &["appointment", "add", &ada, "--start", "2027-01-12 10:00"],
    );
    let session = booked["id"].as_str().unwrap().to_string();
    let note = london(
        &v,
        &[
            "note",
            "add",
            &ada,
            "--template",
            "brief",
            "--session",
            &session,
            "--field",
            "attendance=On time",
            "--field",
            "themes=the lighthouse dream",
            "--field",
            "risk=None disclosed",
        ],
    );
    let shown = london(&v, &["note", "show", note["id"].as_str().unwrap()]);
    assert_eq!(shown["template"], "brief");
    assert_eq!(shown["appointment_id"].as_str(), Some(session.as_str()));
    assert_eq!(shown["fields"]["risk"], "None disclosed");
    assert!(
        shown["risk"].is_null(),
        "says nothing about risk until asked"
    );
    // The risk and safeguarding flag: set on the draft, refused when not a word it knows.
    let id = note["id"].as_str().unwrap();
    london(&v, &["note", "risk", id, "flagged"]);
    assert_eq!(london(&v, &["note", "show", id])["risk"], "flagged");
    v.cmd()
        .args(["note", "risk", id, "maybe"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("not a risk statement"));
    assert_eq!(
        london(&v, &["note", "show", id])["risk"],
        "flagged",
        "unchanged"
    );
    london(&v, &["note", "add", &ben, "--text", "lighthouse keeper"]);

    let hits = london(
        &v,
        &[
            "search",
            "lighthouse",
            "--client",
            &ada,
            "--from",
            "2027-01-12",
            "--to",
            "12/01/2027",
        ],
    );
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["client_code"].as_str(), Some(ada.as_str()));
    assert!(
        hits[0]["at"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-12T10:00:00"),
        "dated by the session: {}",
        hits[0]
    );
    let none = london(
        &v,
        &[
            "search",
            "lighthouse",
            "--client",
            &ada,
            "--from",
            "2027-01-13",
        ],
    );
    assert_eq!(none.as_array().unwrap().len(), 0);
    v.cmd()
        .args([
            "note",
            "add",
            &ada,
            "--template",
            "brief",
            "--field",
            "mood=low",
        ])
        .assert()
        .failure()
        .stderr(predicates::str::contains("not a field of a BRIEF note"));
}
