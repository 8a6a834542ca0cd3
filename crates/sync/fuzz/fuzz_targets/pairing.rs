//! Pairing messages come from the untrusted server: decoding them, and an inviter checking a
//! reply or a joiner checking an answer made of them, must refuse cleanly or succeed, never
//! panic.
#![no_main]

use casebook_sync::pairing::{Answer, Code, Inviter, Joiner, Joining, Offer, Reply, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let code = Code::parse("K7Q2-M9XD-4F").expect("a valid code");
    let _ = decode::<Offer>(data);
    if let Ok(reply) = decode::<Reply>(data) {
        let (mut inviter, _) = Inviter::start("acct", &code, i64::MAX);
        let _ = inviter.check(&reply, 0);
    }
    if let Ok(answer) = decode::<Answer>(data) {
        let (_, offer) = Inviter::start("acct", &code, i64::MAX);
        let me = Joining {
            device_id: "d".into(),
            name: "n".into(),
            signing_key: String::new(),
        };
        if let Ok((joiner, _)) = Joiner::respond("acct", &code, &offer, &me, 0) {
            let _ = joiner.receive(&answer);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Code::parse(text);
    }
});
