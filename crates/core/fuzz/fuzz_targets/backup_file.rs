//! Backup files come from external drives and other machines and may be damaged or hostile:
//! listing one (its manifest) and reading it through (layout, parts, digests) must fail
//! cleanly, never panic, hang or write outside its private working folder.
#![no_main]

use std::sync::OnceLock;

use casebook_core::keys::VaultKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static KEYS: OnceLock<VaultKeys> = OnceLock::new();
    let keys = KEYS.get_or_init(VaultKeys::generate);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("fuzz.tar");
    std::fs::write(&path, data).expect("writable temp dir");
    let _ = casebook_core::backup::probe_file(&path, keys);
});
