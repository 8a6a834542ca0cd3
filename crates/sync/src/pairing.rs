//! Adding a computer by code: the exchange between the computer that has the practice (the
//! *inviter*, SPAKE2's A) and the new one (the *joiner*, B), with no network and no vault —
//! the messages, their checks and the keys they share. [`crate::adding`] carries the messages
//! through the server and does what they allow.
//!
//! The code is ten symbols (about 49 bits) typed by the therapist. SPAKE2 turns it into a key
//! both computers share and nobody else — the server relaying the messages included — can
//! learn from the messages or test more than one guess against: a wrong guess makes the
//! joiner's confirmation fail, and the inviter then burns the offer. Everything after the first
//! message is confirmed (HMAC-SHA-256 over the transcript) and sealed (ChaCha20-Poly1305) under
//! keys derived from that one, so a message swapped, replayed or altered by the relay fails
//! with [`PairError::KeyCheck`], and the joiner never takes keys the relay chose.
//!
//! Messages are JSON, one version (`v: 1`), decoded by [`decode`] with a size limit; every
//! decoder of outside input here has a fuzz target (`fuzz/fuzz_targets/pairing.rs`).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use zeroize::Zeroizing;

/// The code's symbols: the client codes' alphabet (no 0/O, 1/I/L, U), 30 symbols.
pub const ALPHABET: &str = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols in a code (30^10: about 49 bits).
pub const CODE_LEN: usize = 10;
/// How long a code is valid.
pub const VALID_SECONDS: i64 = 10 * 60;
/// The most bytes a pairing message may have.
pub const MAX_MESSAGE: usize = 64 * 1024;
const VERSION: u8 = 1;

/// Why pairing failed, named for the therapist. Each has a short stable [`PairError::name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    #[error(
        "the code has expired (or was already used): make a new one on the other computer and type it again"
    )]
    Expired,
    #[error(
        "the code was not right: the other computer has cancelled it — make a new one there and type it again"
    )]
    WrongCode,
    #[error("the other computer said no: this computer was not added")]
    Declined,
    #[error(
        "the key check failed: a message between the two computers was changed on the way, so nothing was joined — make a new code and try again; if it happens again, contact whoever runs your server"
    )]
    KeyCheck,
    #[error("the code is not in the right form: {0}")]
    BadCode(String),
    #[error("a pairing message is damaged: {0}")]
    Malformed(&'static str),
}

impl PairError {
    /// A short stable name (for `--json` and the app).
    pub fn name(&self) -> &'static str {
        match self {
            PairError::Expired => "code-expired",
            PairError::WrongCode => "code-wrong",
            PairError::Declined => "declined",
            PairError::KeyCheck => "key-check",
            PairError::BadCode(_) => "code-format",
            PairError::Malformed(_) => "malformed",
        }
    }
}

/// A pairing code: ten symbols of [`ALPHABET`], shown as `K7Q2-M9XD-4F`.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(Zeroizing<String>);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(…)")
    }
}

impl Code {
    /// A new random code.
    pub fn generate() -> Code {
        use rand::Rng;
        let symbols = ALPHABET.as_bytes();
        let mut rng = rand::rngs::OsRng;
        let s: String = (0..CODE_LEN)
            .map(|_| symbols[rng.gen_range(0..symbols.len())] as char)
            .collect();
        Code(Zeroizing::new(s))
    }

    /// A code as typed: case, spaces and dashes do not matter; a symbol the alphabet leaves
    /// out because it looks like another (O, I, L, 0, 1, U) is named.
    pub fn parse(typed: &str) -> Result<Code, PairError> {
        let mut s = String::with_capacity(CODE_LEN);
        for c in typed.chars() {
            if c == '-' || c == ' ' || c == '\u{2010}' || c == '\u{2013}' || c.is_whitespace() {
                continue;
            }
            let up = c.to_ascii_uppercase();
            if !ALPHABET.contains(up) || !up.is_ascii() {
                return Err(PairError::BadCode(format!(
                    "'{c}' is not one of its symbols (codes use 2–9 and the letters except I, L, O and U)"
                )));
            }
            s.push(up);
        }
        if s.len() != CODE_LEN {
            return Err(PairError::BadCode(format!(
                "it has {} symbols, and a code has {CODE_LEN}",
                s.len()
            )));
        }
        Ok(Code(Zeroizing::new(s)))
    }

    /// The code as shown: `K7Q2-M9XD-4F`.
    pub fn display(&self) -> String {
        let s = self.0.as_str();
        format!("{}-{}-{}", &s[..4], &s[4..8], &s[8..])
    }
}

/// The first message (the inviter's), kept on the server as `sync-pair-1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub v: u8,
    /// A random id naming this offer (16 hex digits).
    pub offer: String,
    /// Until when the code is valid (seconds since the epoch).
    pub expires_at: i64,
    /// The inviter's SPAKE2 message, hex.
    pub spake: String,
}

/// The second message (the joiner's), `sync-pair-2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub v: u8,
    pub offer: String,
    /// The joiner's SPAKE2 message, hex.
    pub spake: String,
    /// HMAC over the transcript and `sealed`, hex: proof the joiner holds the same key.
    pub confirm: String,
    /// The joiner's [`Joining`], sealed under the shared key, hex.
    pub sealed: String,
}

/// The inviter's answer, `sync-pair-3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub v: u8,
    pub offer: String,
    pub verdict: Verdict,
    /// HMAC over the transcript, the verdict and `sealed`, hex (empty for `wrong-code`, which
    /// the inviter cannot confirm: it shares no key with a joiner that had the wrong code).
    pub confirm: String,
    /// For `accepted`: what the inviter hands over, sealed, hex.
    pub sealed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Accepted,
    Declined,
    WrongCode,
}

impl Verdict {
    fn tag(self) -> &'static [u8] {
        match self {
            Verdict::Accepted => b"accepted",
            Verdict::Declined => b"declined",
            Verdict::WrongCode => b"wrong-code",
        }
    }
}

/// What the joiner says of itself (sealed in its reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Joining {
    /// Its device id at the server (it signed in to the account before typing the code).
    pub device_id: String,
    /// Its name, as the therapist will see it in the device list.
    pub name: String,
    /// Its sync signing key (Ed25519 public key, hex).
    pub signing_key: String,
}

/// Decodes a pairing message from the server: at most [`MAX_MESSAGE`] bytes, this version.
pub fn decode<T: serde::de::DeserializeOwned + Versioned>(bytes: &[u8]) -> Result<T, PairError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(PairError::Malformed("too long"));
    }
    let m: T = serde_json::from_slice(bytes).map_err(|_| PairError::Malformed("not valid"))?;
    if m.version() != VERSION {
        return Err(PairError::Malformed("made by another version of Casebook"));
    }
    Ok(m)
}

/// Encodes a pairing message.
pub fn encode<T: Serialize>(m: &T) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    serde_json::to_vec(m).unwrap_or_default()
}

/// The messages' version field.
pub trait Versioned {
    fn version(&self) -> u8;
}
impl Versioned for Offer {
    fn version(&self) -> u8 {
        self.v
    }
}
impl Versioned for Reply {
    fn version(&self) -> u8 {
        self.v
    }
}
impl Versioned for Answer {
    fn version(&self) -> u8 {
        self.v
    }
}

/// The keys both sides derive from SPAKE2's shared key and the transcript.
struct Derived {
    transcript: [u8; 32],
    confirm_joiner: Zeroizing<[u8; 32]>,
    confirm_inviter: Zeroizing<[u8; 32]>,
    seal_joiner: Zeroizing<[u8; 32]>,
    seal_inviter: Zeroizing<[u8; 32]>,
}

fn identities(account: &str) -> (Identity, Identity) {
    (
        Identity::new(format!("casebook pair v1 inviter {account}").as_bytes()),
        Identity::new(format!("casebook pair v1 joiner {account}").as_bytes()),
    )
}

fn transcript(account: &str, offer: &Offer, joiner_spake: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        b"casebook pair v1".as_slice(),
        account.as_bytes(),
        offer.offer.as_bytes(),
        &offer.expires_at.to_be_bytes(),
        offer.spake.as_bytes(),
        joiner_spake,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

fn derive(shared: &[u8], transcript: [u8; 32]) -> Derived {
    let hk = Hkdf::<Sha256>::new(Some(&transcript), shared);
    let key = |info: &[u8]| {
        let mut k = Zeroizing::new([0u8; 32]);
        // 32 bytes is within HKDF-SHA-256's limit.
        if hk.expand(info, k.as_mut()).is_err() {
            unreachable!("32 bytes is within HKDF-SHA-256's output limit");
        }
        k
    };
    Derived {
        transcript,
        confirm_joiner: key(b"confirm joiner"),
        confirm_inviter: key(b"confirm inviter"),
        seal_joiner: key(b"seal joiner"),
        seal_inviter: key(b"seal inviter"),
    }
}

/// HMAC-SHA-256 under `key` over `parts`, each length-prefixed.
fn hmac_over(key: &[u8; 32], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m
}

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    hmac_over(key, parts).finalize().into_bytes().into()
}

fn mac_ok(key: &[u8; 32], parts: &[&[u8]], claimed_hex: &str) -> bool {
    hex::decode(claimed_hex)
        .is_ok_and(|claimed| hmac_over(key, parts).verify_slice(&claimed).is_ok())
}

/// Seals `plain` under `key` (a fresh random nonce in front).
fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    use rand::RngCore;
    let cipher = ChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let payload = chacha20poly1305::aead::Payload { msg: plain, aad };
    // Encryption fails only for inputs far beyond MAX_MESSAGE.
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), payload)
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend(sealed);
    out
}

fn open(key: &[u8; 32], aad: &[u8], sealed_hex: &str) -> Result<Zeroizing<Vec<u8>>, PairError> {
    let bytes = hex::decode(sealed_hex).map_err(|_| PairError::KeyCheck)?;
    if bytes.len() < 12 + 16 {
        return Err(PairError::KeyCheck);
    }
    let cipher = ChaCha20Poly1305::new(key.into());
    let (nonce, body) = bytes.split_at(12);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            chacha20poly1305::aead::Payload { msg: body, aad },
        )
        .map(Zeroizing::new)
        .map_err(|_| PairError::KeyCheck)
}

/// Four words from the exchange, shown on both screens: equal words mean both computers
/// share one exchange (and so one key) — nobody in between.
fn words_of(d: &Derived) -> String {
    crate::practice::compare_words(&format!("pair {}", hex::encode(d.transcript)))
}

/// The computer that has the practice, from making the code to its answer.
pub struct Inviter {
    account: String,
    offer: Offer,
    /// SPAKE2's state until the one reply is checked (one try per offer).
    spake: Option<Spake2<Ed25519Group>>,
    derived: Option<Derived>,
    joining: Option<Joining>,
}

/// A joiner whose confirmation held: who it says it is, and the words to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub joining: Joining,
    pub words: String,
}

impl Inviter {
    /// Starts an offer for `code` in `account`, valid until `expires_at`.
    pub fn start(account: &str, code: &Code, expires_at: i64) -> (Inviter, Offer) {
        let (a, b) = identities(account);
        let (state, msg) =
            Spake2::<Ed25519Group>::start_a(&Password::new(code.0.as_bytes()), &a, &b);
        let offer = Offer {
            v: VERSION,
            offer: offer_id(),
            expires_at,
            spake: hex::encode(msg),
        };
        (
            Inviter {
                account: account.to_string(),
                offer: offer.clone(),
                spake: Some(state),
                derived: None,
                joining: None,
            },
            offer,
        )
    }

    /// The offer this inviter made.
    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    /// Checks the joiner's reply (the one try this offer has): its confirmation proves it
    /// typed the code. A failed check burns the offer ([`PairError::WrongCode`]).
    pub fn check(&mut self, reply: &Reply, now: i64) -> Result<Proposal, PairError> {
        if now >= self.offer.expires_at {
            return Err(PairError::Expired);
        }
        if reply.offer != self.offer.offer {
            return Err(PairError::KeyCheck);
        }
        let state = self.spake.take().ok_or(PairError::Expired)?;
        let theirs = hex::decode(&reply.spake).map_err(|_| PairError::WrongCode)?;
        let shared = Zeroizing::new(state.finish(&theirs).map_err(|_| PairError::WrongCode)?);
        let t = transcript(&self.account, &self.offer, &theirs);
        let d = derive(&shared, t);
        let sealed = hex::decode(&reply.sealed).map_err(|_| PairError::WrongCode)?;
        if !mac_ok(&d.confirm_joiner, &[&t, &sealed], &reply.confirm) {
            return Err(PairError::WrongCode);
        }
        // The confirmation held, so the seal is the joiner's: failing now is tampering.
        let plain = open(&d.seal_joiner, &t, &reply.sealed)?;
        let joining: Joining =
            serde_json::from_slice(&plain).map_err(|_| PairError::Malformed("joiner"))?;
        let words = words_of(&d);
        self.derived = Some(d);
        self.joining = Some(joining.clone());
        Ok(Proposal { joining, words })
    }

    /// The answer "yes", handing over `payload` (sealed, confirmed).
    pub fn accept(&self, payload: &[u8], now: i64) -> Result<Answer, PairError> {
        if now >= self.offer.expires_at {
            return Err(PairError::Expired);
        }
        self.answer(Verdict::Accepted, payload)
    }

    /// The answer "no" (confirmed, so the joiner can tell it from the relay's say-so).
    pub fn decline(&self) -> Result<Answer, PairError> {
        self.answer(Verdict::Declined, b"")
    }

    /// The answer to a reply that failed its check: unconfirmed (no key is shared), so a
    /// joiner takes it only as a reason to stop.
    pub fn wrong_code(&self) -> Answer {
        Answer {
            v: VERSION,
            offer: self.offer.offer.clone(),
            verdict: Verdict::WrongCode,
            confirm: String::new(),
            sealed: String::new(),
        }
    }

    fn answer(&self, verdict: Verdict, payload: &[u8]) -> Result<Answer, PairError> {
        let d = self.derived.as_ref().ok_or(PairError::KeyCheck)?;
        let sealed = if verdict == Verdict::Accepted {
            seal(&d.seal_inviter, &d.transcript, payload)
        } else {
            Vec::new()
        };
        Ok(Answer {
            v: VERSION,
            offer: self.offer.offer.clone(),
            verdict,
            confirm: hex::encode(mac(
                &d.confirm_inviter,
                &[&d.transcript, verdict.tag(), &sealed],
            )),
            sealed: hex::encode(sealed),
        })
    }
}

fn offer_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The new computer, from the typed code to the inviter's answer.
pub struct Joiner {
    offer: String,
    derived: Derived,
}

impl Joiner {
    /// Answers `offer` with `code` typed and this computer's `joining`.
    pub fn respond(
        account: &str,
        code: &Code,
        offer: &Offer,
        joining: &Joining,
        now: i64,
    ) -> Result<(Joiner, Reply), PairError> {
        if now >= offer.expires_at {
            return Err(PairError::Expired);
        }
        let theirs = hex::decode(&offer.spake).map_err(|_| PairError::Malformed("offer"))?;
        let (a, b) = identities(account);
        let (state, msg) =
            Spake2::<Ed25519Group>::start_b(&Password::new(code.0.as_bytes()), &a, &b);
        let shared = Zeroizing::new(state.finish(&theirs).map_err(|_| PairError::KeyCheck)?);
        let t = transcript(account, offer, &msg);
        let d = derive(&shared, t);
        let plain = serde_json::to_vec(joining).unwrap_or_default();
        let sealed = seal(&d.seal_joiner, &t, &plain);
        let reply = Reply {
            v: VERSION,
            offer: offer.offer.clone(),
            spake: hex::encode(&msg),
            confirm: hex::encode(mac(&d.confirm_joiner, &[&t, &sealed])),
            sealed: hex::encode(sealed),
        };
        Ok((
            Joiner {
                offer: offer.offer.clone(),
                derived: d,
            },
            reply,
        ))
    }

    /// The offer this joiner answered.
    pub fn offer(&self) -> &str {
        &self.offer
    }

    /// The four words this side shows (equal to the inviter's when nobody is in between).
    pub fn words(&self) -> String {
        words_of(&self.derived)
    }

    /// The inviter's answer: what it handed over, or why not.
    pub fn receive(&self, answer: &Answer) -> Result<Zeroizing<Vec<u8>>, PairError> {
        if answer.offer != self.offer {
            return Err(PairError::KeyCheck);
        }
        if answer.verdict == Verdict::WrongCode {
            return Err(PairError::WrongCode);
        }
        let d = &self.derived;
        let sealed = hex::decode(&answer.sealed).map_err(|_| PairError::KeyCheck)?;
        if !mac_ok(
            &d.confirm_inviter,
            &[&d.transcript, answer.verdict.tag(), &sealed],
            &answer.confirm,
        ) {
            return Err(PairError::KeyCheck);
        }
        match answer.verdict {
            Verdict::Declined => Err(PairError::Declined),
            _ => open(&d.seal_inviter, &d.transcript, &answer.sealed),
        }
    }
}

#[cfg(test)]
mod tests;
