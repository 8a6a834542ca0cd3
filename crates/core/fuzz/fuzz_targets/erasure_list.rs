//! The off-site erasure list comes back from the server, which is untrusted, and a computer
//! removed from the practice holds older keys it could write one with: opening one — sealed
//! as it arrives, or as plaintext once decrypted — and checking its authentication code must
//! fail cleanly on anything but a list this vault wrote, never panic or hang.
#![no_main]

use std::sync::LazyLock;

use casebook_core::backup::ledger;
use casebook_core::keys::VaultKeys;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<VaultKeys> = LazyLock::new(VaultKeys::generate);

fuzz_target!(|data: &[u8]| {
    let _ = ledger::probe(data, &KEYS);
});
