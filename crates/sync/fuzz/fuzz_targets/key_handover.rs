//! A re-keying's keys arrive inside the device list from the untrusted server, wrapped to
//! this computer: opening them, and reading the keys document inside, must refuse cleanly or
//! succeed, never panic.
#![no_main]

use casebook_core::keys::Generation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let me = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let _ = Generation::from_json(data);
    let _ = casebook_sync::rekey::unwrap(&String::from_utf8_lossy(data), &me);
    let _ = casebook_sync::rekey::unwrap(&hex::encode(data), &me);
});
