//! Merge properties on real stores (in-memory SQLite with the vault's schema and triggers):
//! devices that make random edits offline and exchange their changes in any order — each
//! device's own changes in the order it made them, and each batch after everything its writer
//! had seen when sealing it (the causal order the sync engine applies blobs in) — end with the same
//! records; applying a batch twice changes nothing; an erased client never comes back.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rusqlite::{Connection, params};

use super::*;
use crate::registry::{Sharing, TABLES};

struct Dev {
    id: String,
    conn: Connection,
    clock: Hlc,
    sent: [i64; 2],
    log: Vec<RowChange>,
    /// Where each sealed batch of `log` ends, and how much of every device's log this device
    /// had applied when it sealed it (the blob's view, which the engine applies in causal
    /// order by).
    batches: Vec<(usize, Vec<usize>)>,
    n: usize,
}

fn store() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("ATTACH DATABASE ':memory:' AS identity")
        .unwrap();
    crate::schema::migrate(&mut conn).unwrap();
    conn
}

impl Dev {
    fn new(i: usize) -> Dev {
        Dev {
            id: format!("dev-{i}"),
            conn: store(),
            clock: Hlc::default(),
            sent: [0, 0],
            log: Vec::new(),
            batches: Vec::new(),
            n: 0,
        }
    }

    fn stamp(&mut self, now: i64) -> String {
        self.clock = self.clock.tick(now);
        self.clock.to_string()
    }

    /// Moves this device's new changes into its log as one batch (what sealing a blob does);
    /// `view` is how much of each device's log this device has applied.
    fn seal(&mut self, view: &[usize]) {
        let before = self.log.len();
        for (i, store) in [Store::Clinical, Store::Identity].into_iter().enumerate() {
            let out = outgoing(
                &self.conn,
                store,
                self.sent[i],
                10_000,
                &self.id,
                self.clock,
            )
            .unwrap();
            if let Some((seq, _)) = out.last() {
                self.sent[i] = *seq;
            }
            // Changes that sent nothing still move the mark.
            let last: Option<i64> = self
                .conn
                .query_row(
                    &format!("SELECT max(seq) FROM {}.sync_changes", store.schema()),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            self.sent[i] = self.sent[i].max(last.unwrap_or(0));
            self.log.extend(out.into_iter().map(|(_, c)| c));
        }
        if self.log.len() > before {
            self.batches.push((self.log.len(), view.to_vec()));
        }
    }

    fn receive(&mut self, changes: &[RowChange], now: i64) -> Result<ApplyReport> {
        let tx = self.conn.transaction()?;
        let mut clock = self.clock;
        let report = crate::changes::applying(&tx, |tx| {
            apply(tx, &mut clock, now, "now", changes, Source::Log)
        })?;
        tx.commit()?;
        self.clock = clock;
        Ok(report)
    }

    fn exists(&self, sql: &str) -> bool {
        self.conn
            .query_row(&format!("SELECT EXISTS({sql})"), [], |r| r.get(0))
            .unwrap()
    }

    /// Every synced row, every column but the row's own bookkeeping stamp (which says which
    /// write this copy saw last, not what the record says), keyed by table and key.
    fn dump(&self) -> BTreeMap<String, Vec<Vec<String>>> {
        let mut out = BTreeMap::new();
        for t in TABLES.iter().filter(|t| t.captured()) {
            let cols: Vec<String> = columns(&self.conn, t)
                .unwrap()
                .into_iter()
                .filter(|c| c != "hlc" && c != "device_id")
                .map(|c| format!("\"{c}\""))
                .collect();
            let mut sql = format!("SELECT {} FROM {}", cols.join(", "), t.qualified());
            if let Sharing::SyncedKeys(keys, _) = t.sharing {
                sql.push_str(&format!(
                    " WHERE key IN ({})",
                    keys.iter()
                        .map(|k| format!("'{k}'"))
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            sql.push_str(&format!(" ORDER BY \"{}\"", t.key));
            let mut stmt = self.conn.prepare(&sql).unwrap();
            let n = stmt.column_count();
            let rows: Vec<Vec<String>> = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, SqlValue>(i).map(|v| format!("{v:?}")))
                        .collect()
                })
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            out.insert(t.qualified(), rows);
        }
        out
    }
}

#[derive(Clone, Debug)]
enum Op {
    Email(usize, u8),
    Phone(usize, u8),
    Body(usize, u8),
    Finalise(usize),
    Discard(usize),
    Addendum(usize),
    ProcessNote(usize),
    EmailB(usize, u8),
    EraseB(usize),
    Seal(usize),
    Deliver(usize, usize),
}

fn op(devices: usize) -> impl Strategy<Value = Op> {
    let d = 0..devices;
    prop_oneof![
        (d.clone(), 0u8..3).prop_map(|(d, v)| Op::Email(d, v)),
        (d.clone(), 0u8..3).prop_map(|(d, v)| Op::Phone(d, v)),
        (d.clone(), 0u8..3).prop_map(|(d, v)| Op::Body(d, v)),
        d.clone().prop_map(Op::Finalise),
        d.clone().prop_map(Op::Discard),
        d.clone().prop_map(Op::Addendum),
        d.clone().prop_map(Op::ProcessNote),
        (d.clone(), 0u8..3).prop_map(|(d, v)| Op::EmailB(d, v)),
        d.clone().prop_map(Op::EraseB),
        d.clone().prop_map(Op::Seal),
        (d.clone(), d).prop_map(|(a, b)| Op::Deliver(a, b)),
    ]
}

const A: &str = "C-AAAA";
const B: &str = "C-BBBB";

/// Device 0 makes two clients and a draft note each; every device starts from that state.
fn practice(n: usize) -> (Vec<Dev>, Vec<Vec<usize>>) {
    let mut devs: Vec<Dev> = (0..n).map(Dev::new).collect();
    let d0 = &mut devs[0];
    for (code, note) in [(A, "note-a"), (B, "note-b")] {
        let h = d0.stamp(1);
        d0.conn.execute(
            "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES (?1, ?2, 'active', '2026-01-01', ?3, 'dev-0')",
            params![format!("id-{code}"), code, h],
        ).unwrap();
        let h = d0.stamp(1);
        d0.conn.execute(
            "INSERT INTO identity.client_identity (code, full_name, hlc, device_id) VALUES (?1, 'Name', ?2, 'dev-0')",
            params![code, h],
        ).unwrap();
        let h = d0.stamp(1);
        d0.conn.execute(
            "INSERT INTO session_notes (id, client_code, template, body, status, created_at, updated_at, hlc, device_id)
             VALUES (?1, ?2, 'free', '{\"text\":\"start\"}', 'draft', 't', 't', ?3, 'dev-0')",
            params![note, code, h],
        ).unwrap();
    }
    d0.seal(&vec![0; n]);
    let first = d0.log.clone();
    for d in devs.iter_mut().skip(1) {
        d.receive(&first, 2).unwrap();
    }
    // delivered[to][from]: how much of `from`'s log `to` has applied.
    let mut delivered = vec![vec![0; n]; n];
    for (to, row) in delivered.iter_mut().enumerate() {
        if to != 0 {
            row[0] = first.len();
        }
    }
    (devs, delivered)
}

fn run(devs: &mut [Dev], delivered: &mut [Vec<usize>], op: &Op, now: i64) {
    let note_is = |d: &Dev, what: &str| {
        d.exists(&format!(
            "SELECT 1 FROM session_notes WHERE id = 'note-a' AND {what}"
        ))
    };
    match *op {
        Op::Email(i, v) | Op::Phone(i, v) | Op::EmailB(i, v) => {
            let (field, code) = match op {
                Op::Email(..) => ("email", A),
                Op::Phone(..) => ("phone", A),
                _ => ("email", B),
            };
            let d = &mut devs[i];
            let h = d.stamp(now);
            d.conn.execute(
                &format!("UPDATE identity.client_identity SET {field} = ?1, hlc = ?2, device_id = ?3 WHERE code = ?4"),
                params![format!("{field}-{v}-{i}"), h, d.id, code],
            ).unwrap();
        }
        Op::Body(i, v) => {
            let d = &mut devs[i];
            if note_is(d, "status = 'draft'") {
                let h = d.stamp(now);
                d.conn.execute(
                    "UPDATE session_notes SET body = json_object('text', ?1), updated_at = ?2, hlc = ?2, device_id = ?3 WHERE id = 'note-a'",
                    params![format!("typed {v} on {i}"), h, d.id],
                ).unwrap();
            }
        }
        Op::Finalise(i) => {
            let d = &mut devs[i];
            if note_is(d, "status = 'draft' AND deleted = 0") {
                let h = d.stamp(now);
                d.conn.execute(
                    "UPDATE session_notes SET status = 'final', finalised_at = ?1, hlc = ?1, device_id = ?2 WHERE id = 'note-a'",
                    params![h, d.id],
                ).unwrap();
            }
        }
        Op::Discard(i) => {
            let d = &mut devs[i];
            if note_is(d, "status = 'draft' AND deleted = 0") {
                let h = d.stamp(now);
                d.conn.execute(
                    "UPDATE session_notes SET deleted = 1, body = '{}', hlc = ?1, device_id = ?2 WHERE id = 'note-a'",
                    params![h, d.id],
                ).unwrap();
            }
        }
        Op::Addendum(i) => {
            let d = &mut devs[i];
            if note_is(d, "status = 'final'") {
                d.n += 1;
                let h = d.stamp(now);
                d.conn.execute(
                    "INSERT INTO addenda (id, note_id, client_code, text, created_at, hlc, device_id) VALUES (?1, 'note-a', ?2, 'later', 't', ?3, ?4)",
                    params![format!("add-{i}-{}", d.n), A, h, d.id],
                ).unwrap();
            }
        }
        Op::ProcessNote(i) => {
            let d = &mut devs[i];
            let code = if d.exists("SELECT 1 FROM clients WHERE code = 'C-BBBB'") {
                B
            } else {
                A
            };
            d.n += 1;
            let h = d.stamp(now);
            d.conn.execute(
                "INSERT INTO process_notes (id, client_code, text, created_at, hlc, device_id) VALUES (?1, ?2, 'reflection', 't', ?3, ?4)",
                params![format!("pn-{i}-{}", d.n), code, h, d.id],
            ).unwrap();
        }
        Op::EraseB(i) => {
            let d = &mut devs[i];
            if d.exists("SELECT 1 FROM clients WHERE code = 'C-BBBB'") {
                d.n += 1;
                let h = d.stamp(now);
                let tx = d.conn.transaction().unwrap();
                crate::records::erasure::erase_rows(&tx, B).unwrap();
                tx.execute(
                    "INSERT INTO erasure_records (id, client_code, erased_at, reason, kind, hlc, device_id) VALUES (?1, ?2, 't', 'asked', 'erasure', ?3, ?4)",
                    params![format!("er-{i}-{}", d.n), B, h, d.id],
                ).unwrap();
                tx.commit().unwrap();
            }
        }
        Op::Seal(i) => {
            let view = delivered[i].clone();
            devs[i].seal(&view)
        }
        Op::Deliver(from, to) => {
            let upto = devs[from].log.len();
            deliver(devs, delivered, from, to, upto, now);
        }
    }
}

/// Two devices that edited offline sync: each seals what it has, then each receives the
/// other's.
fn sync_both(devs: &mut [Dev], delivered: &mut [Vec<usize>], now: i64) {
    for op in [
        Op::Seal(0),
        Op::Seal(1),
        Op::Deliver(0, 1),
        Op::Deliver(1, 0),
    ] {
        run(devs, delivered, &op, now);
    }
}

/// Delivers `from`'s log to `to` up to `upto`, batch by batch in causal order, as the engine
/// does: whatever `from` had applied when it sealed a batch is delivered to `to` first.
fn deliver(
    devs: &mut [Dev],
    delivered: &mut [Vec<usize>],
    from: usize,
    to: usize,
    upto: usize,
    now: i64,
) {
    if from == to {
        return;
    }
    while delivered[to][from] < upto {
        let start = delivered[to][from];
        let Some((end, view)) = devs[from]
            .batches
            .iter()
            .find(|(end, _)| *end > start)
            .cloned()
        else {
            return;
        };
        for (other, &seen) in view.iter().enumerate() {
            if other != from && other != to && delivered[to][other] < seen {
                deliver(devs, delivered, other, to, seen, now);
            }
        }
        let batch: Vec<RowChange> = devs[from].log[start..end].to_vec();
        devs[to].receive(&batch, now).unwrap();
        delivered[to][from] = end;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn devices_that_saw_the_same_changes_hold_the_same_records(
        n in 2usize..4,
        ops in proptest::collection::vec(op(3), 1..40),
    ) {
        let (mut devs, mut delivered) = practice(n);
        let mut now = 10;
        for o in ops.iter().filter(|o| match o {
            Op::Deliver(a, b) => *a < n && *b < n,
            Op::Email(d, _) | Op::Phone(d, _) | Op::Body(d, _) | Op::EmailB(d, _) => *d < n,
            Op::Finalise(d) | Op::Discard(d) | Op::Addendum(d) | Op::ProcessNote(d) | Op::EraseB(d) | Op::Seal(d) => *d < n,
        }) {
            now += 1;
            run(&mut devs, &mut delivered, o, now);
        }
        // Everyone seals and receives everything.
        for i in 0..n {
            run(&mut devs, &mut delivered, &Op::Seal(i), now);
        }
        for from in 0..n {
            for to in 0..n {
                run(&mut devs, &mut delivered, &Op::Deliver(from, to), now);
            }
        }
        let first = devs[0].dump();
        for d in &devs[1..] {
            prop_assert_eq!(&d.dump(), &first, "{} differs from dev-0", d.id);
        }
        // Applying everything again changes nothing.
        let logs: Vec<Vec<RowChange>> = devs.iter().map(|d| d.log.clone()).collect();
        for d in devs.iter_mut() {
            let before = d.dump();
            for log in &logs {
                d.receive(log, now).unwrap();
            }
            prop_assert_eq!(d.dump(), before);
        }
        // An erased client never comes back, on any device.
        if devs.iter().any(|d| d.exists("SELECT 1 FROM erasure_records")) {
            for d in &devs {
                prop_assert!(!d.exists("SELECT 1 FROM clients WHERE code = 'C-BBBB'"));
                prop_assert!(!d.exists("SELECT 1 FROM identity.client_identity WHERE code = 'C-BBBB'"));
                prop_assert!(!d.exists("SELECT 1 FROM process_notes WHERE client_code = 'C-BBBB'"));
            }
        }
    }
}

#[test]
fn a_different_version_of_an_addendum_is_refused_and_nothing_of_the_batch_is_applied() {
    let (mut devs, _) = practice(2);
    let h = devs[0].stamp(5);
    devs[0].conn.execute("UPDATE session_notes SET status = 'final', hlc = ?1, device_id = 'dev-0' WHERE id = 'note-a'", [&h]).unwrap();
    let h = devs[0].stamp(6);
    devs[0].conn.execute(
        "INSERT INTO addenda (id, note_id, client_code, text, created_at, hlc, device_id) VALUES ('ad1', 'note-a', 'C-AAAA', 'true text', 't', ?1, 'dev-0')",
        [&h],
    ).unwrap();
    devs[0].seal(&[0, 0]);
    let log = devs[0].log.clone();
    devs[1].receive(&log, 7).unwrap();
    let mut forged = log.last().unwrap().clone();
    forged.f.insert("text".into(), Value::from("rewritten"));
    let email = RowChange {
        t: "client_identity".into(),
        k: A.into(),
        op: ChangeOp::Upsert,
        hlc: Hlc {
            wall_ms: 8,
            counter: 0,
        }
        .to_string(),
        d: "dev-0".into(),
        f: BTreeMap::from([("email".to_string(), Value::from("x@y"))]),
        b: BTreeMap::new(),
        s: BTreeMap::new(),
    };
    let before = devs[1].dump();
    let e = devs[1].receive(&[email, forged], 9).unwrap_err();
    assert!(matches!(e, CoreError::SyncIntegrity(_)), "{e}");
    assert_eq!(devs[1].dump(), before);
}

#[test]
fn a_concurrent_edit_keeps_the_losing_value_and_an_overwrite_of_what_was_seen_does_not() {
    let (mut devs, mut delivered) = practice(2);
    // Concurrent: both edit the email offline.
    run(&mut devs, &mut delivered, &Op::Email(0, 1), 10);
    run(&mut devs, &mut delivered, &Op::Email(1, 2), 11);
    sync_both(&mut devs, &mut delivered, 12);
    for d in &devs {
        assert!(d.exists("SELECT 1 FROM identity.client_identity WHERE email = 'email-2-1'"));
        assert!(d.exists("SELECT 1 FROM sync_conflicts WHERE field = 'email' AND (kept LIKE '%email-2-1%') AND lost LIKE '%email-1-0%'"), "{}", d.id);
    }
    // Sequential: device 0 overwrites the value it has seen: no new conflict anywhere.
    let count = |d: &Dev| -> i64 {
        d.conn
            .query_row("SELECT count(*) FROM sync_conflicts", [], |r| r.get(0))
            .unwrap()
    };
    let before: Vec<i64> = devs.iter().map(count).collect();
    run(&mut devs, &mut delivered, &Op::Email(0, 0), 20);
    for op in [Op::Seal(0), Op::Deliver(0, 1)] {
        run(&mut devs, &mut delivered, &op, 21);
    }
    assert!(devs[1].exists("SELECT 1 FROM identity.client_identity WHERE email = 'email-0-0'"));
    assert_eq!(devs.iter().map(count).collect::<Vec<_>>(), before);
}

#[test]
fn a_change_made_elsewhere_after_an_erasure_is_dropped_and_listed_without_its_content() {
    let (mut devs, mut delivered) = practice(2);
    run(&mut devs, &mut delivered, &Op::EraseB(0), 10_000);
    // The eraser writes something else before it syncs (its erasure's deletes go out later).
    run(&mut devs, &mut delivered, &Op::Email(0, 2), 60_000);
    // The laptop has not heard of the erasure: it edits the client a minute later.
    run(&mut devs, &mut delivered, &Op::EmailB(1, 1), 70_000);
    for op in [
        Op::Seal(0),
        Op::Seal(1),
        Op::Deliver(1, 0),
        Op::Deliver(0, 1),
        Op::Deliver(1, 0),
    ] {
        run(&mut devs, &mut delivered, &op, 80_000);
    }
    for d in &devs {
        assert!(
            !d.exists("SELECT 1 FROM identity.client_identity WHERE code = 'C-BBBB'"),
            "{}",
            d.id
        );
    }
    let listed = |d: &Dev| -> i64 {
        d.conn
            .query_row(
                "SELECT count(*) FROM sync_conflicts WHERE kind = 'erased'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    // Where it was erased: listed once, with when, where and whose — nothing it held. The
    // laptop, receiving the erasure itself, lists nothing.
    assert_eq!(listed(&devs[0]), 1);
    assert_eq!(listed(&devs[1]), 0);
    assert!(devs[0].exists(
        "SELECT 1 FROM sync_conflicts WHERE kind = 'erased' AND client_code = 'C-BBBB' AND tbl = 'client_identity'
         AND lost_device = 'dev-1' AND kept IS NULL AND lost IS NULL"
    ));
    assert!(!devs[0].exists(
        "SELECT 1 FROM sync_conflicts WHERE lost LIKE '%email-1-1%' OR kept LIKE '%email-1-1%'"
    ));
    // The same change arriving again (a checkpoint, a computer catching up) is listed once.
    let history = devs[1].log.clone();
    devs[0].receive(&history, 90).unwrap();
    assert_eq!(listed(&devs[0]), 1);
}

#[test]
fn what_was_kept_aside_for_a_client_goes_with_their_erasure() {
    let (mut devs, mut delivered) = practice(2);
    run(&mut devs, &mut delivered, &Op::EmailB(0, 1), 10);
    run(&mut devs, &mut delivered, &Op::EmailB(1, 2), 11);
    sync_both(&mut devs, &mut delivered, 12);
    let kept = "SELECT 1 FROM sync_conflicts WHERE kept LIKE '%email-%' OR lost LIKE '%email-%'";
    assert!(devs[0].exists(kept), "the two emails are kept aside");
    assert!(devs[0].exists("SELECT 1 FROM sync_conflicts WHERE client_code = 'C-BBBB'"));
    run(&mut devs, &mut delivered, &Op::EraseB(0), 20);
    assert!(
        !devs[0].exists(kept),
        "an erased client's email stayed in sync_conflicts"
    );
    // And where the erasure arrives by sync.
    for op in [Op::Seal(0), Op::Deliver(0, 1)] {
        run(&mut devs, &mut delivered, &op, 30);
    }
    assert!(!devs[1].exists(kept), "{}", devs[1].id);
}

#[test]
fn a_draft_edited_on_both_keeps_one_choice_for_its_text_and_none_for_when_it_changed() {
    let (mut devs, mut delivered) = practice(2);
    run(&mut devs, &mut delivered, &Op::Body(0, 1), 10);
    run(&mut devs, &mut delivered, &Op::Body(1, 2), 11);
    sync_both(&mut devs, &mut delivered, 12);
    for d in &devs {
        let fields: Vec<String> = d
            .conn
            .prepare("SELECT field FROM sync_conflicts WHERE row_key = 'note-a' ORDER BY field")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(fields, ["body"], "{}", d.id);
    }
}

#[test]
fn a_draft_edit_that_lost_the_race_to_finalisation_is_kept() {
    let (mut devs, mut delivered) = practice(2);
    run(&mut devs, &mut delivered, &Op::Finalise(0), 10);
    run(&mut devs, &mut delivered, &Op::Body(1, 1), 11);
    sync_both(&mut devs, &mut delivered, 12);
    for d in &devs {
        assert!(d.exists("SELECT 1 FROM session_notes WHERE id = 'note-a' AND status = 'final' AND body LIKE '%start%'"), "{}", d.id);
        assert!(d.exists("SELECT 1 FROM sync_conflicts WHERE kind = 'edit_after_final' AND (kept LIKE '%typed 1 on 1%' OR lost LIKE '%typed 1 on 1%')"), "{}", d.id);
    }
}

/// A client's name travels apart from the client (the identity store's own blob). When an
/// erasure reaches a device between the two — its writer had seen only the clinical row — the
/// name arriving afterwards must be dropped, not make an erased client's name live again
/// there. (Found by the sync simulation, seed 161, once heartbeats changed its timings.)
#[test]
fn a_name_arriving_after_its_clients_erasure_is_dropped() {
    let mut devs: Vec<Dev> = (0..3).map(Dev::new).collect();
    let code = "C-ZZZZ";
    {
        let d0 = &mut devs[0];
        let h = d0.stamp(1);
        d0.conn.execute(
            "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('id-z', ?1, 'active', '2026-01-01', ?2, 'dev-0')",
            params![code, h],
        ).unwrap();
        let h = d0.stamp(1);
        d0.conn.execute(
            "INSERT INTO identity.client_identity (code, full_name, hlc, device_id) VALUES (?1, 'Zed Name', ?2, 'dev-0')",
            params![code, h],
        ).unwrap();
        d0.seal(&[0, 0, 0]);
    }
    let (clinical, identity): (Vec<RowChange>, Vec<RowChange>) = devs[0]
        .log
        .iter()
        .cloned()
        .partition(|c| c.t != "client_identity");
    assert!(!identity.is_empty() && !clinical.is_empty());

    // Device 1 sees only the client, and erases them.
    devs[1].receive(&clinical, 2).unwrap();
    {
        let d1 = &mut devs[1];
        let h = d1.stamp(3);
        let tx = d1.conn.transaction().unwrap();
        crate::records::erasure::erase_rows(&tx, code).unwrap();
        tx.execute(
            "INSERT INTO erasure_records (id, client_code, erased_at, reason, kind, hlc, device_id) VALUES ('er-z', ?1, 't', 'asked', 'erasure', ?2, 'dev-1')",
            params![code, h],
        ).unwrap();
        tx.commit().unwrap();
        d1.seal(&[clinical.len(), 0, 0]);
    }
    let erasure = devs[1].log.clone();

    // Device 2: the client, the erasure, then the name.
    devs[2].receive(&clinical, 4).unwrap();
    devs[2].receive(&erasure, 5).unwrap();
    let late = devs[2].receive(&identity, 6).unwrap();
    assert!(late.dropped > 0, "{late:?}");
    // And device 1 (which never had the name) gets it now too.
    devs[1].receive(&identity, 7).unwrap();
    for d in &devs[1..] {
        assert!(
            !d.exists("SELECT 1 FROM identity.client_identity WHERE code = 'C-ZZZZ'"),
            "{}: an erased client's name came back",
            d.id
        );
    }
    assert_eq!(devs[1].dump(), devs[2].dump());
}
