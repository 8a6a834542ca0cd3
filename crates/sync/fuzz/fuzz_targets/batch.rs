//! A batch (the changes and audit entries inside a clinical blob, an identity blob or a
//! heartbeat) comes from another computer through the untrusted server: decoding it for
//! each kind and applying it to a real vault must refuse cleanly or succeed, never panic,
//! and never leave an audit chain that does not verify.
#![no_main]

use std::sync::{Mutex, OnceLock};

use casebook_core::Vault;
use casebook_sync::batch::Batch;
use casebook_sync::blob::Kind;
use libfuzzer_sys::fuzz_target;

fn vault() -> &'static Mutex<(tempfile::TempDir, Vault)> {
    static V: OnceLock<Mutex<(tempfile::TempDir, Vault)>> = OnceLock::new();
    V.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let v = Vault::init(&dir.path().join("v"), Some("fuzz passphrase"))
            .expect("a vault")
            .vault;
        Mutex::new((dir, v))
    })
}

fuzz_target!(|data: &[u8]| {
    for kind in [Kind::Clinical, Kind::Identity, Kind::Heartbeat] {
        let Some(batch) = Batch::decode(kind, data) else {
            continue;
        };
        let mut guard = vault().lock().unwrap_or_else(|e| e.into_inner());
        if !batch.audit.is_empty() {
            let _ = guard.1.audit_apply_sent("fuzz-device", &batch.audit);
        }
        let _ = guard.1.apply_remote(&batch.changes);
        assert!(guard.1.verify_audit().is_ok());
    }
});
