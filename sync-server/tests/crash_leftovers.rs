//! What a crash can leave in the embedded backend's data folder, and what the next start
//! does with it: a new snapshot version never replaces the committed one before its row
//! does, and staged uploads, orphan blob and snapshot files and a deleted account's folders
//! are swept at start, while every committed blob and snapshot stays readable.

use casebook_sync::store::embedded::Embedded;
use casebook_sync::store::{Bytes, Store};

const QUOTA: u64 = 1 << 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_are_swept_and_committed_data_stays() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = Embedded::open(root).unwrap();
    let account = store.create_account("keeper", "hash", None).await.unwrap();
    let device = store
        .create_device(&account, "laptop", "pk", "t1", None)
        .await
        .unwrap();
    // Two small blobs (kept in their rows) and a large one (a file).
    let big = vec![3u8; casebook_sync::store::embedded::INLINE_MAX + 1];
    for seq in 1..=3 {
        let bytes = if seq == 3 {
            big.clone()
        } else {
            format!("blob {seq}").into_bytes()
        };
        store
            .append_blob(&account, &device, seq, bytes.into(), QUOTA)
            .await
            .unwrap();
    }
    store
        .put_snapshot(
            &account,
            "backup",
            Bytes::from_static(b"version one"),
            QUOTA,
        )
        .await
        .unwrap();
    store
        .put_snapshot(
            &account,
            "backup",
            Bytes::from_static(b"version two"),
            QUOTA,
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_snapshot(&account, "backup").await.unwrap(),
        b"version two"
    );
    let snapshot_files = std::fs::read_dir(root.join("snapshots").join(&account))
        .unwrap()
        .count();
    assert_eq!(
        snapshot_files, 1,
        "the old version is removed once the new row is committed"
    );

    let gone = store.create_account("leaver", "hash", None).await.unwrap();
    let gone_device = store
        .create_device(&gone, "old", "pk", "t2", None)
        .await
        .unwrap();
    store
        .append_blob(&gone, &gone_device, 1, big.clone().into(), QUOTA)
        .await
        .unwrap();
    drop(store);

    // What a crash could leave: a staged upload, a blob file never committed, a file beside
    // a blob kept in its row (an upload retried after a crash, say), a snapshot
    // version written but never committed, and the folders of an account whose rows were
    // deleted before its bytes.
    let device_dir = root.join("blobs").join(&account).join(&device);
    std::fs::write(device_dir.join(".staged-0000"), b"half").unwrap();
    std::fs::write(device_dir.join(format!("{:020}.blob", 4)), b"uncommitted").unwrap();
    std::fs::write(device_dir.join(format!("{:020}.blob", 1)), b"stray").unwrap();
    std::fs::write(
        root.join("snapshots")
            .join(&account)
            .join("orphan-version.blob"),
        b"x",
    )
    .unwrap();
    {
        let conn = rusqlite::Connection::open(root.join("meta.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        conn.execute("DELETE FROM accounts WHERE id = ?1", [&gone])
            .unwrap();
    }
    assert!(root.join("blobs").join(&gone).exists());

    let store = Embedded::open(root).unwrap();
    assert!(!device_dir.join(".staged-0000").exists());
    assert!(!device_dir.join(format!("{:020}.blob", 4)).exists());
    assert!(!device_dir.join(format!("{:020}.blob", 1)).exists());
    assert!(device_dir.join(format!("{:020}.blob", 3)).exists());
    assert!(
        !root
            .join("snapshots")
            .join(&account)
            .join("orphan-version.blob")
            .exists()
    );
    assert!(!root.join("blobs").join(&gone).exists());
    // Everything committed is still there; the log goes on from 3.
    let range = store
        .blob_range(&account, &device, 1, 10, u64::MAX)
        .await
        .unwrap();
    assert_eq!(range.len(), 3);
    assert_eq!(range[0].1, b"blob 1");
    assert_eq!(range[2].1, big);
    assert_eq!(
        store.get_snapshot(&account, "backup").await.unwrap(),
        b"version two"
    );
    store
        .append_blob(&account, &device, 4, Bytes::from_static(b"blob 4"), QUOTA)
        .await
        .unwrap();
}

#[test]
fn the_metadata_schema_is_versioned_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Embedded::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("meta.db")).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    // v6 last-seen, v7 signing in again after a password change, v8 closed logs, v9 emptied
    // blobs.
    assert_eq!(v, 9, "every schema version applied");
    // Opening again changes nothing.
    drop(conn);
    drop(Embedded::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("meta.db")).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let e = match Embedded::open(dir.path()) {
        Ok(_) => panic!("a newer schema was opened"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("newer casebook-sync"), "{e}");
}
