//! The exchange's rules, and property tests of it through a relay that lies.

use super::*;
use proptest::prelude::*;

const ACCOUNT: &str = "acct-1";
const NOW: i64 = 1_000_000;

fn joining() -> Joining {
    Joining {
        device_id: "dev-b".into(),
        name: "Laptop".into(),
        signing_key: "ab".repeat(32),
    }
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

#[test]
fn the_right_code_hands_over_the_payload_and_both_see_the_same_words() {
    let c = Code::generate();
    let (mut a, offer) = Inviter::start(ACCOUNT, &c, NOW + VALID_SECONDS);
    let (b, reply) = Joiner::respond(ACCOUNT, &c, &offer, &joining(), NOW).unwrap();
    let p = a.check(&reply, NOW + 1).unwrap();
    assert_eq!(p.joining, joining());
    assert_eq!(p.words, b.words());
    assert_eq!(p.words.split(' ').count(), 4);
    let answer = a.accept(b"the keys", NOW + 2).unwrap();
    assert_eq!(b.receive(&answer).unwrap().as_slice(), b"the keys");
    // The handed-over bytes never travel in the clear.
    assert!(!String::from_utf8_lossy(&encode(&answer)).contains(&hex::encode(b"the keys")));
}

#[test]
fn a_wrong_code_fails_at_the_first_try_and_burns_the_offer() {
    let (mut a, offer) = Inviter::start(ACCOUNT, &code("K7Q2M9XD4F"), NOW + 600);
    let (b, reply) =
        Joiner::respond(ACCOUNT, &code("K7Q2M9XD4G"), &offer, &joining(), NOW).unwrap();
    assert_eq!(a.check(&reply, NOW), Err(PairError::WrongCode));
    assert_eq!(b.receive(&a.wrong_code()), Err(PairError::WrongCode));
    // No second guess: even the right code is refused now.
    let (_, right) =
        Joiner::respond(ACCOUNT, &code("K7Q2M9XD4F"), &offer, &joining(), NOW).unwrap();
    assert_eq!(a.check(&right, NOW), Err(PairError::Expired));
    // And there is nothing to accept.
    assert_eq!(a.accept(b"keys", NOW).unwrap_err(), PairError::KeyCheck);
}

#[test]
fn an_expired_code_is_refused_on_both_sides() {
    let c = code("23456789AB");
    let (mut a, offer) = Inviter::start(ACCOUNT, &c, NOW);
    assert_eq!(
        Joiner::respond(ACCOUNT, &c, &offer, &joining(), NOW).err(),
        Some(PairError::Expired)
    );
    let (_, reply) = Joiner::respond(ACCOUNT, &c, &offer, &joining(), NOW - 1).unwrap();
    assert_eq!(a.check(&reply, NOW), Err(PairError::Expired));
}

#[test]
fn no_is_confirmed_and_named() {
    let c = Code::generate();
    let (mut a, offer) = Inviter::start(ACCOUNT, &c, NOW + 600);
    let (b, reply) = Joiner::respond(ACCOUNT, &c, &offer, &joining(), NOW).unwrap();
    a.check(&reply, NOW).unwrap();
    assert_eq!(b.receive(&a.decline().unwrap()), Err(PairError::Declined));
}

#[test]
fn another_account_cannot_use_the_offer() {
    let c = Code::generate();
    let (mut a, offer) = Inviter::start(ACCOUNT, &c, NOW + 600);
    let (_, reply) = Joiner::respond("acct-2", &c, &offer, &joining(), NOW).unwrap();
    assert_eq!(a.check(&reply, NOW), Err(PairError::WrongCode));
}

#[test]
fn codes_read_back_however_they_are_typed() {
    let c = code("k7q2 m9xd-4f");
    assert_eq!(c.display(), "K7Q2-M9XD-4F");
    assert_eq!(Code::parse(&c.display()).unwrap(), c);
    for bad in [
        "K7Q2-M9XD-4",
        "K7Q2-M9XD-4FF",
        "K7Q2-M9XD-40",
        "O7Q2-M9XD-4F",
        "K7Q2-M9XD-4é",
    ] {
        assert!(
            matches!(Code::parse(bad), Err(PairError::BadCode(_))),
            "{bad}"
        );
    }
    assert!(format!("{c:?}").contains('…'), "a code never shows in logs");
}

#[test]
fn messages_of_another_version_or_too_long_are_refused() {
    let (_, mut offer) = Inviter::start(ACCOUNT, &Code::generate(), NOW);
    offer.v = 2;
    assert!(matches!(
        decode::<Offer>(&encode(&offer)),
        Err(PairError::Malformed(_))
    ));
    assert!(matches!(
        decode::<Offer>(&vec![b' '; MAX_MESSAGE + 1]),
        Err(PairError::Malformed("too long"))
    ));
}

/// What a relay (the server) does to the messages it carries.
#[derive(Debug, Clone)]
enum Lie {
    Honest,
    /// Runs its own exchange with a guessed code against the inviter (as a joiner).
    GuessAsJoiner(String),
    /// Runs its own exchange with a guessed code against the joiner (as an inviter).
    GuessAsInviter(String),
    /// Flips one byte of one message (0 offer, 1 reply, 2 answer) at a position.
    Flip(u8, usize),
    /// Serves the answer of an earlier, honest exchange of the same account.
    ReplayAnswer,
    /// Serves the reply of an earlier exchange.
    ReplayReply,
    /// Never delivers the answer.
    DropAnswer,
}

fn lie() -> impl Strategy<Value = Lie> {
    let guess = proptest::collection::vec(proptest::sample::select(ALPHABET.as_bytes()), CODE_LEN)
        .prop_map(|v| String::from_utf8(v).unwrap());
    prop_oneof![
        Just(Lie::Honest),
        guess.clone().prop_map(Lie::GuessAsJoiner),
        guess.prop_map(Lie::GuessAsInviter),
        (0u8..3, any::<usize>()).prop_map(|(m, at)| Lie::Flip(m, at)),
        Just(Lie::ReplayAnswer),
        Just(Lie::ReplayReply),
        Just(Lie::DropAnswer),
    ]
}

fn flip<T: Serialize + serde::de::DeserializeOwned + Versioned>(m: &T, at: usize) -> Option<T> {
    let mut bytes = encode(m);
    let i = at % bytes.len();
    bytes[i] ^= 0x01;
    decode(&bytes).ok()
}

/// How a run through the relay ended for the joiner.
#[derive(Debug)]
enum End {
    Joined(Vec<u8>),
    Failed(PairError),
    /// Nothing came (the app times out with "expired").
    Nothing,
}

fn run(c: &Code, lie: &Lie) -> (End, Option<Proposal>) {
    let payload = b"keys of the practice".to_vec();
    // An earlier exchange of the same account, for replays.
    let (mut old_a, old_offer) = Inviter::start(ACCOUNT, c, NOW + 600);
    let (_, old_reply) = Joiner::respond(ACCOUNT, c, &old_offer, &joining(), NOW).unwrap();
    old_a.check(&old_reply, NOW).unwrap();
    let old_answer = old_a.accept(b"old keys", NOW).unwrap();

    let (mut a, offer) = Inviter::start(ACCOUNT, c, NOW + 600);
    let offer_seen = match lie {
        Lie::Flip(0, at) => match flip(&offer, *at) {
            Some(o) => o,
            None => return (End::Failed(PairError::Malformed("flipped")), None),
        },
        Lie::GuessAsInviter(g) => Inviter::start(ACCOUNT, &code(g), NOW + 600).1,
        _ => offer.clone(),
    };
    let (b, reply) = match Joiner::respond(ACCOUNT, c, &offer_seen, &joining(), NOW) {
        Ok(x) => x,
        Err(e) => return (End::Failed(e), None),
    };
    let reply_seen = match lie {
        Lie::Flip(1, at) => flip(&reply, *at),
        Lie::GuessAsJoiner(g) => {
            let evil = Joining {
                device_id: "dev-evil".into(),
                name: "Laptop".into(),
                signing_key: "cd".repeat(32),
            };
            Joiner::respond(ACCOUNT, &code(g), &offer, &evil, NOW)
                .ok()
                .map(|(_, r)| r)
        }
        Lie::ReplayReply => Some(old_reply.clone()),
        _ => Some(reply.clone()),
    };
    let (answer, proposal) = match reply_seen.map(|r| a.check(&r, NOW + 1)) {
        Some(Ok(p)) => (a.accept(&payload, NOW + 2).unwrap(), Some(p)),
        Some(Err(_)) => (a.wrong_code(), None),
        None => (a.wrong_code(), None),
    };
    let answer_seen = match lie {
        // A flip that breaks the JSON is refused by the decoder, as the real flow does.
        Lie::Flip(2, at) => Some(flip(&answer, *at).ok_or(PairError::Malformed("flipped"))),
        Lie::ReplayAnswer => Some(Ok(old_answer)),
        Lie::DropAnswer => None,
        _ => Some(Ok(answer)),
    };
    let end = match answer_seen {
        None => End::Nothing,
        Some(Err(e)) => End::Failed(e),
        Some(Ok(ans)) => match b.receive(&ans) {
            Ok(p) => End::Joined(p.to_vec()),
            Err(e) => End::Failed(e),
        },
    };
    (end, proposal)
}

proptest! {
    /// Whatever the relay does, the joiner either gets exactly what the inviter handed over
    /// (and the inviter saw exactly the joiner's own details) or fails with a named error:
    /// it never joins with bytes the relay chose, and the inviter never proposes a computer
    /// the relay made up.
    #[test]
    fn a_lying_relay_never_gets_a_computer_joined_to_its_keys(
        symbols in proptest::collection::vec(proptest::sample::select(ALPHABET.as_bytes()), CODE_LEN),
        lie in lie(),
    ) {
        let c = code(&String::from_utf8(symbols).unwrap());
        let (end, proposal) = run(&c, &lie);
        if let Some(p) = &proposal {
            prop_assert_eq!(&p.joining, &joining());
        }
        match (&lie, end) {
            (_, End::Joined(p)) => {
                prop_assert_eq!(p, b"keys of the practice".to_vec());
                // Only a relay that did nothing (or changed nothing that matters) gets here.
                prop_assert!(matches!(lie, Lie::Honest | Lie::Flip(..) | Lie::GuessAsJoiner(_)), "{:?}", lie);
            }
            (Lie::Honest, other) => prop_assert!(false, "an honest relay failed: {other:?}"),
            (Lie::DropAnswer, End::Nothing) => {}
            (_, End::Failed(e)) => prop_assert!(!e.name().is_empty()),
            (_, End::Nothing) => prop_assert!(false, "only a dropped answer leaves nothing"),
        }
    }

    /// Any bytes: the decoders return a message or an error, never panic.
    #[test]
    fn decoders_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<Offer>(&bytes);
        let _ = decode::<Reply>(&bytes);
        let _ = decode::<Answer>(&bytes);
    }

    /// A message reads back as it was written.
    #[test]
    fn messages_round_trip(offer in "[0-9a-f]{16}", at in any::<i64>(), spake in "[0-9a-f]{0,130}") {
        let o = Offer { v: 1, offer, expires_at: at, spake };
        prop_assert_eq!(decode::<Offer>(&encode(&o)).unwrap(), o);
    }

    /// Typed codes: any text parses to a code or a named error; a shown code reads back.
    #[test]
    fn any_typed_text_is_a_code_or_a_named_error(typed in "\\PC{0,20}") {
        match Code::parse(&typed) {
            Ok(c) => prop_assert_eq!(Code::parse(&c.display()).unwrap(), c),
            Err(e) => prop_assert_eq!(e.name(), "code-format"),
        }
    }
}
