//! Other computers' audit trails, as the sync engine hands them over: kept only when each
//! entry extends the chain held (its number, its link, its hash), shown with this computer's
//! own in time order, and verified entry by entry by `audit verify`, which names the computer
//! and the entry that fails.

use casebook_core::audit::{AuditEntry, AuditFilter, SentEntry};
use casebook_core::{ClientIdentity, CoreError, Vault};

const PASSPHRASE: &str = "audit devices test passphrase";

fn vault(home: &tempfile::TempDir, name: &str) -> Vault {
    Vault::init(&home.path().join(name), Some(PASSPHRASE))
        .unwrap()
        .vault
}

/// A laptop's own trail after a few actions.
fn laptop_trail(home: &tempfile::TempDir) -> Vec<AuditEntry> {
    let mut laptop = vault(home, "laptop");
    for name in ["Ann Example", "Bea Example"] {
        laptop
            .add_client(ClientIdentity {
                full_name: name.into(),
                ..Default::default()
            })
            .unwrap();
    }
    laptop.audit_outgoing(0, 10_000).unwrap()
}

#[test]
fn another_computers_trail_is_kept_only_as_an_unbroken_chain() {
    let home = tempfile::tempdir().unwrap();
    let trail = laptop_trail(&home);
    assert!(trail.len() >= 3, "{trail:?}");
    let mut surgery = vault(&home, "surgery");

    // In two parts, and the first part again: each entry is kept once.
    let (first, rest) = trail.split_at(2);
    assert_eq!(surgery.audit_apply_remote("laptop", first).unwrap(), 2);
    assert_eq!(
        surgery.audit_apply_remote("laptop", &trail).unwrap(),
        rest.len()
    );
    assert_eq!(surgery.audit_apply_remote("laptop", first).unwrap(), 0);

    // Shown with the surgery's own, in time order, and verified.
    let listed = surgery.audit_entries(&AuditFilter::default()).unwrap();
    for e in &trail {
        assert!(listed.iter().any(|l| l.hash == e.hash), "{e:?} not listed");
    }
    assert!(
        listed.windows(2).all(|w| w[0].at <= w[1].at),
        "not in time order"
    );
    let v = surgery.verify_audit().unwrap();
    assert_eq!(v.devices.len(), 1);
    assert_eq!(v.devices[0].device, "laptop");
    assert_eq!(v.devices[0].entries, trail.len() as i64);
}

#[test]
fn an_altered_missing_or_reordered_entry_is_refused_and_nothing_kept() {
    let home = tempfile::tempdir().unwrap();
    let trail = laptop_trail(&home);
    let mut surgery = vault(&home, "surgery");

    let mut altered = trail.clone();
    altered[1].action = "client.erase".into();
    let mut gap = trail.clone();
    gap.remove(1);
    let mut swapped = trail.clone();
    swapped.swap(0, 1);
    let mut relinked = trail.clone();
    relinked[2].prev_hash = trail[0].hash.clone();
    for (what, bad) in [
        ("altered", altered),
        ("missing", gap),
        ("reordered", swapped),
        ("relinked", relinked),
    ] {
        let err = surgery.audit_apply_remote("laptop", &bad).unwrap_err();
        assert!(matches!(err, CoreError::SyncIntegrity(_)), "{what}: {err}");
        let v = surgery.verify_audit().unwrap();
        assert!(v.devices.is_empty(), "{what}: something was kept");
    }

    // A different entry at a number already held.
    surgery.audit_apply_remote("laptop", &trail[..2]).unwrap();
    let mut other = trail[1].clone();
    other.at = "2020-01-01T00:00:00Z".into();
    assert!(matches!(
        surgery.audit_apply_remote("laptop", &[other]),
        Err(CoreError::SyncIntegrity(_))
    ));
}

/// Sync sends entries without their hashes: linked here, they are the laptop's own chain,
/// hash for hash, and a gap, a reordering or a different entry at a number held is refused.
#[test]
fn entries_sent_without_hashes_are_linked_into_the_same_chain() {
    let home = tempfile::tempdir().unwrap();
    let trail = laptop_trail(&home);
    let sent: Vec<SentEntry> = trail.iter().map(SentEntry::from).collect();
    let mut surgery = vault(&home, "surgery");

    for (what, bad) in [
        ("missing the first", sent[1..].to_vec()),
        ("missing one", [&sent[..1], &sent[2..]].concat()),
        ("reordered", {
            let mut s = sent.clone();
            s.swap(0, 1);
            s
        }),
    ] {
        let err = surgery.audit_apply_sent("laptop", &bad).unwrap_err();
        assert!(matches!(err, CoreError::SyncIntegrity(_)), "{what}: {err}");
        assert!(
            surgery.verify_audit().unwrap().devices.is_empty(),
            "{what}: kept"
        );
    }

    // In two parts, and the first part again: each kept once, with the laptop's own hashes.
    assert_eq!(surgery.audit_apply_sent("laptop", &sent[..2]).unwrap(), 2);
    assert_eq!(
        surgery.audit_apply_sent("laptop", &sent).unwrap(),
        sent.len() - 2
    );
    assert_eq!(surgery.audit_apply_sent("laptop", &sent[..2]).unwrap(), 0);
    let listed = surgery.audit_entries(&AuditFilter::default()).unwrap();
    for e in &trail {
        assert!(
            listed.iter().any(|l| l.hash == e.hash),
            "{e:?} not linked the same"
        );
    }
    let v = surgery.verify_audit().unwrap();
    assert_eq!(v.devices[0].entries, trail.len() as i64);
    assert_eq!(v.devices[0].head_hash, trail.last().unwrap().hash);

    // A different entry at a number already held.
    let mut other = sent[1].clone();
    other.action = "client.erase".into();
    assert!(matches!(
        surgery.audit_apply_sent("laptop", &[other]),
        Err(CoreError::SyncIntegrity(_))
    ));
}

#[test]
fn a_trail_started_again_at_checkpoint_marks_verifies_from_each_mark() {
    let home = tempfile::tempdir().unwrap();
    let mut laptop = vault(&home, "laptop");
    for i in 0..10 {
        laptop
            .add_client(ClientIdentity {
                full_name: format!("Client {i}"),
                ..Default::default()
            })
            .unwrap();
    }
    let trail = laptop.audit_outgoing(0, 10_000).unwrap();
    assert!(trail.len() >= 10, "{}", trail.len());
    let mut surgery = vault(&home, "surgery");

    // Entries 1–2 held; the log was cut twice while the surgery was away: marks at 4 and 7.
    surgery.audit_apply_remote("laptop", &trail[..2]).unwrap();
    surgery
        .audit_restart("laptop", trail[3].seq, &trail[3].hash)
        .unwrap();
    surgery.audit_apply_remote("laptop", &trail[4..5]).unwrap();
    surgery
        .audit_restart("laptop", trail[6].seq, &trail[6].hash)
        .unwrap();
    // Nothing after the last mark yet: verified up to it.
    let v = surgery.verify_audit().unwrap();
    assert_eq!(v.devices[0].entries, trail[6].seq);
    assert_eq!(v.devices[0].missing_before, trail[6].seq + 1);
    // Entries after the mark extend it; one that skips past it is refused.
    assert!(surgery.audit_apply_remote("laptop", &trail[8..]).is_err());
    surgery.audit_apply_remote("laptop", &trail[7..]).unwrap();
    let v = surgery.verify_audit().unwrap();
    assert_eq!(v.devices[0].entries, trail.last().unwrap().seq);
    assert_eq!(v.devices[0].missing_before, trail[7].seq);
    // A mark behind what is held changes nothing.
    surgery
        .audit_restart("laptop", trail[1].seq, &trail[1].hash)
        .unwrap();
    assert_eq!(surgery.verify_audit().unwrap().devices, v.devices);
}
