//! Checkpoints: one computer's whole synced state, applied on another by the merge rules.
//! A fresh copy that takes the checkpoint holds the same records; taking it twice, or an
//! older one after a newer, changes nothing and makes no conflict; an erased client never
//! comes back from a checkpoint written before the erasure.

use casebook_core::merge::RowChange;
use casebook_core::registry::Store;
use casebook_core::{ClientCode, ClientIdentity, NoteTemplate, Vault};

const PASSPHRASE: &str = "checkpoint test passphrase";

fn vault(home: &tempfile::TempDir, name: &str) -> Vault {
    Vault::init(&home.path().join(name), Some(PASSPHRASE))
        .unwrap()
        .vault
}

fn client(v: &mut Vault, name: &str) -> ClientCode {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        ..Default::default()
    })
    .unwrap()
    .code
}

fn note(v: &mut Vault, code: &ClientCode, text: &str, finalise: bool) -> String {
    let n = v
        .add_note(
            code,
            NoteTemplate::Free,
            &[("text".into(), text.into())],
            None,
        )
        .unwrap();
    if finalise {
        v.finalise_note(&n.id).unwrap();
    }
    n.id
}

fn checkpoint(v: &mut Vault) -> [Vec<RowChange>; 2] {
    [
        v.checkpoint_rows(Store::Clinical).unwrap(),
        v.checkpoint_rows(Store::Identity).unwrap(),
    ]
}

fn take(v: &mut Vault, cp: &[Vec<RowChange>; 2]) -> usize {
    cp.iter()
        .map(|rows| v.apply_checkpoint(rows).unwrap().conflicts)
        .sum()
}

/// The log of `from` after the capture marks `after`, applied on `to` (as the engine would);
/// the marks it reached.
fn log(from: &mut Vault, to: &mut Vault, after: [i64; 2]) -> [i64; 2] {
    let mut upto = after;
    for (i, store) in [Store::Clinical, Store::Identity].into_iter().enumerate() {
        let out = from.outgoing_changes(store, after[i], 1_000_000).unwrap();
        to.apply_remote(&out.changes).unwrap();
        upto[i] = out.upto;
    }
    upto
}

/// Where each store's change capture is now (what a checkpoint written now covers).
fn marks(v: &mut Vault) -> [i64; 2] {
    [Store::Clinical, Store::Identity].map(|s| v.outgoing_changes(s, 0, 1_000_000).unwrap().upto)
}

#[test]
fn a_fresh_copy_taking_a_checkpoint_holds_the_same_records() {
    let home = tempfile::tempdir().unwrap();
    let mut desk = vault(&home, "desk");
    let ann = client(&mut desk, "Ann Example");
    let bea = client(&mut desk, "Bea Example");
    note(&mut desk, &ann, "First session: sleep, work stress", true);
    let draft = note(&mut desk, &bea, "Draft, to finish", false);
    desk.edit_note(&draft, &[("text".into(), "Draft, finished later".into())])
        .unwrap();
    let covered = marks(&mut desk);
    let cp = checkpoint(&mut desk);
    assert!(cp[0].len() >= 4 && !cp[1].is_empty(), "{cp:?}");

    let mut laptop = vault(&home, "laptop");
    assert_eq!(take(&mut laptop, &cp), 0);
    assert_eq!(
        laptop.records_fingerprint().unwrap(),
        desk.records_fingerprint().unwrap()
    );
    // Twice: nothing changes, no conflict.
    assert_eq!(take(&mut laptop, &cp), 0);
    assert_eq!(
        laptop.records_fingerprint().unwrap(),
        desk.records_fingerprint().unwrap()
    );
    // The log after the checkpoint goes on from there, and the laptop's own log carries
    // the checkpoint's rows back without a conflict on either side.
    desk.edit_note(&draft, &[("text".into(), "Draft, third version".into())])
        .unwrap();
    log(&mut desk, &mut laptop, covered);
    log(&mut laptop, &mut desk, [0, 0]);
    assert_eq!(
        laptop.records_fingerprint().unwrap(),
        desk.records_fingerprint().unwrap()
    );
    assert!(laptop.sync_conflicts().unwrap().is_empty());
    assert!(desk.sync_conflicts().unwrap().is_empty());
}

#[test]
fn an_older_checkpoint_after_a_newer_state_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let mut desk = vault(&home, "desk");
    let ann = client(&mut desk, "Ann Example");
    let draft = note(&mut desk, &ann, "Version one", false);
    let old = checkpoint(&mut desk);
    desk.edit_note(&draft, &[("text".into(), "Version two".into())])
        .unwrap();
    desk.finalise_note(&draft).unwrap();
    let new = checkpoint(&mut desk);

    let mut laptop = vault(&home, "laptop");
    assert_eq!(take(&mut laptop, &new), 0);
    let fingerprint = laptop.records_fingerprint().unwrap();
    assert_eq!(take(&mut laptop, &old), 0, "an old state is not an edit");
    assert_eq!(laptop.records_fingerprint().unwrap(), fingerprint);
    assert_eq!(fingerprint, desk.records_fingerprint().unwrap());
    assert!(laptop.sync_conflicts().unwrap().is_empty());
}

#[test]
fn an_erased_client_never_comes_back_from_an_older_checkpoint() {
    let home = tempfile::tempdir().unwrap();
    let mut desk = vault(&home, "desk");
    let ann = client(&mut desk, "Ann Example");
    let bea = client(&mut desk, "Bea Example");
    note(&mut desk, &ann, "Ann's session", true);
    note(&mut desk, &bea, "Bea's session", true);
    let before = checkpoint(&mut desk);
    desk.erase_client(&ann, "the client asked to be erased", true)
        .unwrap();
    let after = checkpoint(&mut desk);
    let text = serde_json::to_string(&after).unwrap();
    assert!(
        !text.contains("Ann's session") && !text.contains("Ann Example"),
        "the checkpoint after the erasure holds nothing of the client"
    );

    // Either order: the client stays erased.
    for order in [[&before, &after], [&after, &before]] {
        let mut laptop = vault(&home, &format!("laptop-{}", order[0] == &before));
        for cp in order {
            take(&mut laptop, cp);
        }
        assert_eq!(
            laptop.records_fingerprint().unwrap(),
            desk.records_fingerprint().unwrap()
        );
        assert!(laptop.client(&ann).is_err(), "erased client came back");
    }
}
