//! A blob comes from the untrusted server: splitting it, checking its signature and opening
//! it must refuse cleanly or succeed, never panic. Fixed keys: the fuzzer reaches the parser
//! and the checks after it (a forged signature is the expected refusal).
#![no_main]

use casebook_sync::blob::{Envelope, Expect, open};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let signer = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let identity: age::x25519::Identity =
        "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33"
            .parse()
            .expect("a valid test identity");
    if let Ok(env) = Envelope::parse(data) {
        let _ = env.verify(&signer.verifying_key());
    }
    let at = Expect { account: "a", device: "d", seq: 1 };
    let _ = open(data, &at, &signer.verifying_key(), &identity);
});
