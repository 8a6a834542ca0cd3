//! The TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps), through `totp-rs`.
//! A code is accepted for the current step or one either side, and each step only once,
//! so a code seen over someone's shoulder cannot be replayed.

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP: u64 = 30;

/// 160 random bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8]) -> Option<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret.to_vec(),
        Some("Casebook".into()),
        "sync account".into(),
    )
    .ok()
}

/// The otpauth URI and base32 secret to put in an authenticator app.
pub fn enrolment(secret: &[u8]) -> Option<(String, String)> {
    let t = totp(secret)?;
    let b32 = match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => return None,
    };
    Some((t.get_url(), b32))
}

/// The time step `code` is valid for at `now` (unix seconds), if any.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret)?;
    let current = now / STEP;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| t.generate(step * STEP) == code)
}

/// Ten one-time recovery codes like `7KQ2-M9XD`.
pub fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rngs::OsRng;
    (0..10)
        .map(|_| {
            let mut b = [0u8; 8];
            rng.fill_bytes(&mut b);
            let chars: String = b
                .iter()
                .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..4], &chars[4..])
        })
        .collect()
}

/// Recovery codes are compared in one canonical form.
pub fn normalise_recovery_code(code: &str) -> String {
    code.trim().to_ascii_uppercase().replace([' ', '-'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_neighbours_only() {
        let secret = new_secret();
        let t = totp(&secret).unwrap();
        let now = 1_800_000_000u64;
        let code = t.generate(now);
        assert_eq!(matching_step(&secret, &code, now), Some(now / STEP));
        assert_eq!(matching_step(&secret, &code, now + STEP), Some(now / STEP));
        assert_eq!(matching_step(&secret, &code, now + 3 * STEP), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
        let (uri, b32) = enrolment(&secret).unwrap();
        assert!(uri.starts_with("otpauth://totp/Casebook"));
        assert!(uri.contains(&b32));
    }

    #[test]
    fn recovery_codes_are_distinct() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 10);
        assert_eq!(normalise_recovery_code(" abcd-efgh "), "ABCDEFGH");
    }
}
