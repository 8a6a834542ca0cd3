//! The device list comes from the untrusted server: verifying it must refuse cleanly or
//! succeed, never panic.
#![no_main]

use casebook_sync::devices::DeviceList;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = casebook_sync::keys::practice_root("fuzz recovery key");
    if let Ok(list) = DeviceList::verify(data, &root.verifying_key()) {
        let _ = list.free_letter("23456789ABCDEFGHJKMNPQRSTVWXYZ");
    }
});
