//! Checkpoint chunks come from other computers through the untrusted server: decoding one
//! and applying its rows to a real vault as a checkpoint must refuse cleanly or succeed,
//! never panic, and never break the audit chain.
#![no_main]

use std::sync::{Mutex, OnceLock};

use casebook_core::Vault;
use casebook_sync::checkpoint::Chunk;
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
    let Some(chunk) = Chunk::decode(data) else {
        return;
    };
    assert!(chunk.part >= 1 && chunk.part <= chunk.of);
    let mut guard = vault().lock().unwrap_or_else(|e| e.into_inner());
    let _ = guard.1.apply_checkpoint(&chunk.rows);
    if let Some(mark) = &chunk.audit {
        let _ = guard.1.audit_restart("fuzz-device", mark.seq, &mark.hash);
        let _ = guard.1.verify_audit();
    }
});
