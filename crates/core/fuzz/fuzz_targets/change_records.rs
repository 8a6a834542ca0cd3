//! Row changes come from other computers through the untrusted server (inside blobs whose
//! signature a compromised device could still make): decoding them and applying them to a
//! real vault must refuse cleanly or succeed, never panic, and never break the audit chain.
#![no_main]

use std::sync::{Mutex, OnceLock};

use casebook_core::Vault;
use casebook_core::merge::RowChange;
use libfuzzer_sys::fuzz_target;

fn vault() -> &'static Mutex<(tempfile::TempDir, Vault)> {
    static V: OnceLock<Mutex<(tempfile::TempDir, Vault)>> = OnceLock::new();
    V.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut v = Vault::init(&dir.path().join("v"), Some("fuzz passphrase"))
            .expect("a vault")
            .vault;
        v.add_client(casebook_core::ClientIdentity {
            full_name: "Fuzz Client".into(),
            ..Default::default()
        })
        .expect("a client");
        Mutex::new((dir, v))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(changes) = serde_json::from_slice::<Vec<RowChange>>(data) else {
        return;
    };
    let mut guard = vault().lock().unwrap_or_else(|e| e.into_inner());
    let _ = guard.1.apply_remote(&changes);
});
