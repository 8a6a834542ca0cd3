//! A newly joined computer catching up: its records are read-only — every write by the
//! therapist is refused with a clear error and changes nothing (no record, no change to
//! send) — while the other computers' changes go in and reading goes on as usual. The hold
//! ends when it is lifted, and with the connection (a vault opened again is not held).

use casebook_core::error::CoreError;
use casebook_core::merge::RowChange;
use casebook_core::records::clients::IdentityChanges;
use casebook_core::registry::Store;
use casebook_core::{AuditFilter, ClientCode, ClientIdentity, NoteTemplate, Vault};

const PASSPHRASE: &str = "catching up test passphrase";

fn vault(home: &tempfile::TempDir, name: &str) -> Vault {
    Vault::init(&home.path().join(name), Some(PASSPHRASE))
        .unwrap()
        .vault
}

fn client(v: &mut Vault, name: &str) -> Result<ClientCode, CoreError> {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        ..Default::default()
    })
    .map(|c| c.code)
}

/// Everything `from` holds, as a joining computer receives it from a backup.
fn checkpoint(v: &mut Vault) -> [Vec<RowChange>; 2] {
    [
        v.checkpoint_rows(Store::Clinical).unwrap(),
        v.checkpoint_rows(Store::Identity).unwrap(),
    ]
}

/// Where each store's change capture is now.
fn marks(v: &mut Vault) -> [i64; 2] {
    [Store::Clinical, Store::Identity].map(|s| v.outgoing_changes(s, 0, 1_000_000).unwrap().upto)
}

#[test]
fn a_catching_up_computer_reads_and_takes_changes_but_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let mut desk = vault(&home, "desk");
    let ann = client(&mut desk, "Ann Example").unwrap();
    let note = desk
        .add_note(
            &ann,
            NoteTemplate::Free,
            &[("text".into(), "First session".into())],
            None,
        )
        .unwrap();

    let mut laptop = vault(&home, "laptop");
    for rows in checkpoint(&mut desk) {
        laptop.apply_checkpoint(&rows).unwrap();
    }
    let before = marks(&mut laptop);
    assert!(!laptop.catching_up().unwrap());
    laptop.set_catching_up(true).unwrap();
    laptop.set_catching_up(true).unwrap(); // twice is once
    assert!(laptop.catching_up().unwrap());

    // Every kind of write is refused with the named error, in both stores and the
    // practice's synced settings.
    let refused = |r: Result<(), CoreError>, what: &str| match r {
        Err(CoreError::CatchingUp) => {}
        other => panic!("{what}: expected CatchingUp, got {other:?}"),
    };
    refused(
        client(&mut laptop, "Bea Example").map(|_| ()),
        "a new client",
    );
    refused(
        laptop
            .edit_client(
                &ann,
                &IdentityChanges {
                    phone: Some(Some("07700 900123".into())),
                    ..Default::default()
                },
                None,
            )
            .map(|_| ()),
        "a corrected phone number",
    );
    refused(
        laptop
            .edit_note(&note.id, &[("text".into(), "Changed here".into())])
            .map(|_| ()),
        "a draft edited",
    );
    refused(
        {
            let policy = laptop.retention_policy().unwrap();
            laptop.set_retention_policy(policy).map(|_| ())
        },
        "the practice's retention policy",
    );
    let e = client(&mut laptop, "Cy Example").unwrap_err();
    assert!(
        e.to_string()
            .contains("read-only until this computer has caught up"),
        "{e}"
    );

    // Nothing was written: the same clients, the same draft, nothing to send.
    let names: Vec<_> = laptop
        .list_clients(true)
        .unwrap()
        .into_iter()
        .map(|c| c.code)
        .collect();
    assert_eq!(names, std::slice::from_ref(&ann));
    assert_eq!(
        laptop.note(&note.id).unwrap().fields["text"],
        "First session"
    );
    assert_eq!(marks(&mut laptop), before, "no change captured to send");

    // Reading goes on (and is audited as ever).
    assert_eq!(laptop.client(&ann).unwrap().code, ann);
    assert!(
        !laptop
            .audit_entries(&AuditFilter::default())
            .unwrap()
            .is_empty()
    );

    // The other computer's changes since the backup go in while held.
    let after = marks(&mut desk);
    desk.edit_client(
        &ann,
        &IdentityChanges {
            phone: Some(Some("07700 900456".into())),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let bea = client(&mut desk, "Bea Example").unwrap();
    for (i, store) in [Store::Clinical, Store::Identity].into_iter().enumerate() {
        let out = desk.outgoing_changes(store, after[i], 1_000_000).unwrap();
        laptop.apply_remote(&out.changes).unwrap();
    }
    assert_eq!(
        laptop
            .client(&ann)
            .unwrap()
            .identity
            .unwrap()
            .phone
            .as_deref(),
        Some("07700 900456")
    );
    assert_eq!(laptop.list_clients(true).unwrap().len(), 2);
    assert_eq!(
        marks(&mut laptop),
        before,
        "applied changes are not sent back"
    );

    // Caught up: writable again.
    laptop.set_catching_up(false).unwrap();
    assert!(!laptop.catching_up().unwrap());
    laptop
        .edit_note(&note.id, &[("text".into(), "Changed here".into())])
        .unwrap();
    client(&mut laptop, "Cy Example").unwrap();
    assert_ne!(marks(&mut laptop), before);

    // The hold lives with the connection: opened again, the vault is not held.
    laptop.set_catching_up(true).unwrap();
    let dir = laptop.dir().to_path_buf();
    drop(laptop);
    let mut again = Vault::open(&dir, Some(PASSPHRASE)).unwrap();
    assert!(!again.catching_up().unwrap());
    again
        .edit_client(
            &bea,
            &IdentityChanges {
                email: Some(Some("bea@example.org".into())),
                ..Default::default()
            },
            None,
        )
        .unwrap();
}
