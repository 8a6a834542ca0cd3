//! Group commit in the embedded backend, through the `Store` trait: many devices uploading at
//! once (so one commit carries uploads of several devices, and sometimes two of one device)
//! get every blob stored once, in order, with its exact bytes; a re-upload in the same batch
//! is idempotent and a gap is refused without disturbing the rest; and the blobs are there
//! after the store is opened again — blobs kept in their rows and blobs kept as files alike.

use std::sync::Arc;

use casebook_sync::store::embedded::Embedded;
use casebook_sync::store::{Appended, Bytes, Store, StoreError};

const QUOTA: u64 = 1 << 30;

/// Mostly small blobs (kept in their rows), every fifth one too large for that (a file),
/// so a batch mixes the two.
fn blob(device: usize, seq: u64) -> Vec<u8> {
    let times = if seq.is_multiple_of(5) { 4000 } else { 100 };
    format!("device {device} blob {seq} ")
        .repeat(times)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_are_all_stored_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(Embedded::open(dir.path()).unwrap());
    let account = store.create_account("group", "hash", None).await.unwrap();
    let mut devices = Vec::new();
    for i in 0..8 {
        let d = store
            .create_device(
                &account,
                &format!("device {i}"),
                // Each its own key: the same key signing in again is the same device.
                &format!("pk-{i}"),
                &format!("token-{i}"),
                None,
            )
            .await
            .unwrap();
        devices.push(d);
    }
    let per_device = 40u64;
    let mut tasks = Vec::new();
    for (i, d) in devices.iter().cloned().enumerate() {
        let (store, account) = (store.clone(), account.clone());
        tasks.push(tokio::spawn(async move {
            for seq in 1..=per_device {
                let bytes = blob(i, seq);
                let first = store
                    .append_blob(&account, &d, seq, bytes.clone().into(), QUOTA)
                    .await
                    .unwrap();
                assert_eq!(first, Appended::Stored);
                // The same blob again (a retry) is accepted as already there.
                let again = store
                    .append_blob(&account, &d, seq, bytes.clone().into(), QUOTA)
                    .await
                    .unwrap();
                assert_eq!(again, Appended::AlreadyThere);
            }
            // A gap is refused and stores nothing.
            let gap = store
                .append_blob(
                    &account,
                    &d,
                    per_device + 2,
                    Bytes::from_static(b"x"),
                    QUOTA,
                )
                .await;
            assert!(matches!(gap, Err(StoreError::Conflict(_))), "{gap:?}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(store);

    let store = Embedded::open(dir.path()).unwrap();
    let heads = store.heads(&account).await.unwrap();
    assert_eq!(heads.len(), devices.len());
    for (i, d) in devices.iter().enumerate() {
        let head = heads.iter().find(|h| &h.device_id == d).unwrap();
        assert_eq!(head.seq, per_device);
        let range = store
            .blob_range(&account, d, 1, 1000, u64::MAX)
            .await
            .unwrap();
        assert_eq!(range.len() as u64, per_device);
        for (k, (info, bytes)) in range.iter().enumerate() {
            assert_eq!(info.seq, k as u64 + 1);
            assert_eq!(bytes, &blob(i, info.seq));
        }
    }
    // No staged leftovers.
    let mut stray = 0;
    for e in walk(dir.path()) {
        if e.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".staged-")
        {
            stray += 1;
        }
    }
    assert_eq!(stray, 0);
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
