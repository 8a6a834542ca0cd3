//! `session-clock.json` sits in the vault folder in plain text and may be damaged or written
//! by someone else: reading it, checking its HMAC and running the clock on it must fail
//! cleanly or work, never panic (e.g. on absurd times near the ends of chrono's range).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = casebook_core::SessionClock::probe_file(data);
});
