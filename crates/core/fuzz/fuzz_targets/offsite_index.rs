//! An off-site backup's index comes back from the server, which is untrusted: opening one —
//! sealed as it arrives, or as plaintext once decrypted — must fail cleanly on anything but
//! an index this vault wrote, never panic or hang.
#![no_main]

use std::sync::LazyLock;

use casebook_core::keys::VaultKeys;
use casebook_core::offsite::envelope::RemoteIndex;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<VaultKeys> = LazyLock::new(VaultKeys::generate);
const NAME: &str = "b0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let _ = RemoteIndex::open(data, NAME, &KEYS);
    let _ = RemoteIndex::from_plaintext(data, NAME, &KEYS);
});
