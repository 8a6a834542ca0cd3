//! The recovery key: the one secret a therapist writes down at setup.
//!
//! It is 160 random bits written as eight groups of four Crockford base-32 characters,
//! followed by a ninth group that is a checksum (20 bits of SHA-256 over the first 32
//! characters), e.g. `7KQ2-M9XD-…-R4TN`. Crockford's alphabet leaves out I, L, O and U,
//! and reading accepts lower case, `O` for `0`, `I`/`L` for `1`, and any spaces or
//! dashes, so it survives being copied by hand. The checksum catches a typo before any
//! slow decryption is tried.
//!
//! The vault keeps both store keys in `recovery.age`, an age file encrypted with the
//! canonical form of this key as its passphrase, so even the standard `age` tool can
//! recover the keys (`age -d recovery.age`).

use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CoreError, Result};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_CHARS: usize = 32; // 160 bits
const CHECK_CHARS: usize = 4; // 20 bits

/// A recovery key in canonical form (upper case, dashes between groups of four).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryKey(String);

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(…)")
    }
}

fn checksum(body: &[u8]) -> [u8; CHECK_CHARS] {
    let digest = Sha256::digest(body);
    let bits =
        (u32::from(digest[0]) << 12) | (u32::from(digest[1]) << 4) | (u32::from(digest[2]) >> 4);
    let mut out = [0u8; CHECK_CHARS];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (CHECK_CHARS - 1 - i);
        *slot = ALPHABET[((bits >> shift) & 31) as usize];
    }
    out
}

fn decode_char(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|p| ALPHABET[p])
}

fn group(chars: &[u8]) -> String {
    chars
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

impl RecoveryKey {
    /// A fresh random recovery key.
    pub fn generate() -> Self {
        let mut raw = [0u8; BODY_CHARS];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let mut body: Vec<u8> = raw.iter().map(|b| ALPHABET[(b & 31) as usize]).collect();
        raw.zeroize();
        let check = checksum(&body);
        body.extend_from_slice(&check);
        let key = RecoveryKey(group(&body));
        body.zeroize();
        key
    }

    /// Reads a recovery key typed by a person. Distinguishes a malformed key from a
    /// well-formed one with a typo.
    pub fn parse(input: &str) -> Result<Self> {
        let mut chars = Vec::with_capacity(BODY_CHARS + CHECK_CHARS);
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            match decode_char(c) {
                Some(d) => chars.push(d),
                None => return Err(CoreError::RecoveryKeyMalformed),
            }
            if chars.len() > BODY_CHARS + CHECK_CHARS {
                return Err(CoreError::RecoveryKeyMalformed);
            }
        }
        if chars.len() != BODY_CHARS + CHECK_CHARS {
            chars.zeroize();
            return Err(CoreError::RecoveryKeyMalformed);
        }
        let ok = checksum(&chars[..BODY_CHARS]) == chars[BODY_CHARS..];
        let key = RecoveryKey(group(&chars));
        chars.zeroize();
        if ok {
            Ok(key)
        } else {
            Err(CoreError::RecoveryKeyTypo)
        }
    }

    /// The canonical text, e.g. `7KQ2-M9XD-…`: what is shown once and used as the age passphrase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_parse_back() {
        let k = RecoveryKey::generate();
        assert_eq!(k.as_str().len(), 9 * 4 + 8);
        assert_eq!(RecoveryKey::parse(k.as_str()).unwrap(), k);
        let sloppy = k.as_str().to_lowercase().replace('-', " ");
        assert_eq!(RecoveryKey::parse(&sloppy).unwrap(), k);
    }

    #[test]
    fn a_single_typo_is_caught() {
        let k = RecoveryKey::generate();
        let mut s: Vec<char> = k.as_str().chars().collect();
        s[5] = if s[5] == 'A' { 'B' } else { 'A' };
        let typo: String = s.into_iter().collect();
        assert!(matches!(
            RecoveryKey::parse(&typo),
            Err(CoreError::RecoveryKeyTypo)
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["", "hello", "!!!!-!!!!", &"A".repeat(200)] {
            assert!(matches!(
                RecoveryKey::parse(bad),
                Err(CoreError::RecoveryKeyMalformed)
            ));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = RecoveryKey::parse(&s);
        }

        #[test]
        fn every_single_substitution_in_the_body_is_caught(pos in 0usize..32, sub in 0usize..32) {
            let k = RecoveryKey::generate();
            let mut chars: Vec<u8> = k.as_str().bytes().filter(|b| *b != b'-').collect();
            prop_assume!(chars[pos] != ALPHABET[sub]);
            chars[pos] = ALPHABET[sub];
            let typed = String::from_utf8(chars).unwrap();
            // 20 checksum bits: a miss is possible at 1 in a million; count it as a typo or an accept of a different key.
            match RecoveryKey::parse(&typed) {
                Err(CoreError::RecoveryKeyTypo) => {}
                Ok(other) => prop_assert_ne!(other, k),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
