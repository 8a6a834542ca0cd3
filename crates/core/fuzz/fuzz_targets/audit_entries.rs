//! Other computers' audit entries come through the untrusted server (inside blobs whose
//! signature a compromised device could still make): decoding them and keeping them must
//! refuse cleanly or succeed, never panic, and never leave a chain that does not verify.
#![no_main]

use std::sync::{Mutex, OnceLock};

use casebook_core::Vault;
use casebook_core::audit::AuditEntry;
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
    let Ok(entries) = serde_json::from_slice::<Vec<AuditEntry>>(data) else {
        return;
    };
    let mut guard = vault().lock().unwrap_or_else(|e| e.into_inner());
    if guard.1.audit_apply_remote("fuzzed", &entries).is_ok() {
        assert!(guard.1.verify_audit().is_ok(), "a kept chain does not verify");
    }
});
