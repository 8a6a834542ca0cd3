//! Decrypts every page of a SQLCipher 4 store with its raw key — free pages and unused
//! space included — so a test can search the bytes SQL cannot reach. SQLCipher 4 defaults:
//! 4096-byte pages, AES-256-CBC, each page ending in a 16-byte IV and a 64-byte HMAC; the
//! first 16 bytes of the file are the salt. With a raw 256-bit key no KDF is involved.

#![allow(dead_code)]

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};

const PAGE: usize = 4096;
const RESERVE: usize = 80;

/// The decrypted contents of every page of the store at `path`, concatenated.
pub fn decrypted_pages(path: &std::path::Path, key_hex: &str) -> Vec<u8> {
    let key = hex::decode(key_hex).expect("hex key");
    let bytes = std::fs::read(path).expect("store file");
    assert_eq!(bytes.len() % PAGE, 0, "not a whole number of pages");
    let mut out = Vec::with_capacity(bytes.len());
    for (i, page) in bytes.chunks(PAGE).enumerate() {
        let start = if i == 0 { 16 } else { 0 };
        let iv = &page[PAGE - RESERVE..PAGE - RESERVE + 16];
        let mut data = page[start..PAGE - RESERVE].to_vec();
        cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, iv)
            .expect("key and iv sizes")
            .decrypt_padded_mut::<NoPadding>(&mut data)
            .expect("whole blocks");
        out.extend_from_slice(&data);
    }
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
