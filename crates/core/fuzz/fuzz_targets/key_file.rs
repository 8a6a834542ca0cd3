//! The key files (`keys.age`, `recovery.age`) come from disk and may be damaged or hostile:
//! opening one must fail cleanly, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = casebook_core::keystore::probe_key_file(data, "fuzz passphrase");
});
