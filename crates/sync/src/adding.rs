//! Adding a computer by code, over the server. The computer that has the practice makes a
//! code and waits (`casebook sync pair`, Settings → Computers → "Add a computer"); the new one
//! signs in to the account and types it (`casebook sync join --code`, the first run's "Join my
//! Casebook"); once the first says yes, the new one restores the newest off-site backup with
//! the keys it was handed, turns sync on under the device-list entry the first one signed,
//! catches up, and refuses a state older than the one the first one signed.
//!
//! The exchange is [`crate::pairing`]; its messages travel as the account objects
//! `sync-pair-1..3` (no route of their own: the server stores them like any object and can
//! read none). The steps that talk to the server take no vault, so the app never holds the
//! vault across them.

use std::collections::BTreeMap;
use std::time::Duration;

use casebook_core::Vault;
use casebook_core::offsite::{ServerClient, ServerSignIn};
use casebook_core::sync_state::SyncEvent;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};

use crate::blob::HeadRef;
use crate::chain::Alarm;
use crate::devices::{DeviceList, Entry, Op, ROOT, Signed};
use crate::engine::SyncError;
use crate::keys::{new_device_key, practice_root};
use crate::pairing::{
    self, Answer, Code, Inviter, Joiner, Joining, Offer, PairError, Proposal, Reply,
};
use crate::practice;

/// The inviter's offer.
pub const OFFER_OBJECT: &str = "sync-pair-1";
/// The joiner's reply.
pub const REPLY_OBJECT: &str = "sync-pair-2";
/// The inviter's answer.
pub const ANSWER_OBJECT: &str = "sync-pair-3";
/// How often a waiting side looks for the other's message.
const POLL: Duration = Duration::from_millis(400);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn put(client: &ServerClient, name: &str, bytes: Vec<u8>) -> Result<(), SyncError> {
    client
        .put_snapshot(name, bytes)
        .map(|_| ())
        .map_err(|e| SyncError::Remote(crate::http::sorted(e)))
}

fn get(client: &ServerClient, name: &str) -> Result<Option<Vec<u8>>, SyncError> {
    Ok(crate::http::get_object(
        client,
        name,
        pairing::MAX_MESSAGE as u64 + 1,
    )?)
}

/// Removes pairing objects (a missing one is no error: cleaning up is best effort).
fn remove(client: &ServerClient, names: &[&str]) {
    for n in names {
        let _ = client.delete_snapshot(n);
    }
}

/// What the inviter hands over, sealed in its answer.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Handover {
    /// The vault's keys document.
    keys: String,
    /// The sealed keys (`recovery.age`), hex.
    sealed_keys: String,
    /// The inviter's signed view of every log, at the moment it said yes.
    state: SignedState,
}

/// A computer's view of every device's log, signed with its device key: the newest state the
/// new computer must reach (a server serving it anything older is caught).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedState {
    pub device: String,
    pub at: i64,
    pub heads: BTreeMap<String, HeadRef>,
    pub signature: String,
}

fn state_bytes(device: &str, at: i64, heads: &BTreeMap<String, HeadRef>) -> Vec<u8> {
    let heads: Vec<(&String, u64, &String)> =
        heads.iter().map(|(d, h)| (d, h.seq, &h.hash)).collect();
    serde_json::to_vec(&("casebook pair state v1", device, at, heads)).unwrap_or_default()
}

impl SignedState {
    fn sign(device: &str, heads: BTreeMap<String, HeadRef>, key: &SigningKey) -> SignedState {
        let at = now();
        let signature = key.sign(&state_bytes(device, at, &heads));
        SignedState {
            device: device.to_string(),
            at,
            heads,
            signature: hex::encode(signature.to_bytes()),
        }
    }

    fn verify(&self, list: &DeviceList) -> bool {
        let Some(key) = list.key_of(&self.device) else {
            return false;
        };
        let Ok(sig) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&sig) else {
            return false;
        };
        key.verify(&state_bytes(&self.device, self.at, &self.heads), &sig)
            .is_ok()
    }
}

// ---------------------------------------------------------------------------------------
// The computer that has the practice.
// ---------------------------------------------------------------------------------------

/// An offer made, from the code to the answer. Holds no borrow of the vault.
pub struct Invitation {
    client: ServerClient,
    code: Code,
    inviter: Inviter,
    /// The practice root that signs now; `first`: the one the list is verified from.
    root: SigningKey,
    first: ed25519_dalek::VerifyingKey,
    held: Vec<Signed>,
    me: String,
    key: SigningKey,
    keys_json: zeroize::Zeroizing<Vec<u8>>,
    sealed_keys: Vec<u8>,
    heads: BTreeMap<String, HeadRef>,
    proposal: Option<Proposal>,
}

/// What the answer "yes" did, for [`invite_finish`].
pub struct Invited {
    entries: Vec<Signed>,
    joined: Joining,
}

/// A computer added by code.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    pub device_id: String,
    pub device_name: String,
    pub letter: char,
}

/// The first step on the computer that has the practice, with the vault and without the
/// network: a new code, valid `valid_seconds`, and what a "yes" will hand over.
pub fn invite_begin(vault: &mut Vault, valid_seconds: i64) -> Result<Invitation, SyncError> {
    let key = practice::signing_key(vault)?.ok_or_else(practice::not_on)?;
    let (settings, client) = vault.server_connection()?;
    let handover = vault.keys_for_new_computer()?;
    let mut heads = crate::engine::verified_chains(vault)?
        .map(|c| c.view())
        .unwrap_or_default();
    if let Some(mine) =
        crate::engine::verified_chains(vault)?.and_then(|c| c.head(&settings.device_id))
    {
        heads.insert(settings.device_id.clone(), mine);
    }
    let code = Code::generate();
    let (inviter, _) = Inviter::start(
        &settings.account_id,
        &code,
        now() + valid_seconds.clamp(1, pairing::VALID_SECONDS),
    );
    Ok(Invitation {
        client,
        code,
        inviter,
        root: practice_root(vault.sync_secrets()?.root_seed),
        first: practice_root(vault.sync_secrets()?.first_root_seed).verifying_key(),
        held: practice::signed_list(vault)?,
        me: settings.device_id,
        key,
        keys_json: handover.keys_json,
        sealed_keys: handover.sealed_keys,
        heads,
        proposal: None,
    })
}

impl Invitation {
    /// The code to show: `K7Q2-M9XD-4F`.
    pub fn code(&self) -> String {
        self.code.display()
    }

    /// Until when the code is valid (seconds since the epoch).
    pub fn expires_at(&self) -> i64 {
        self.inviter.offer().expires_at
    }

    /// Puts the offer on the server (any earlier exchange's messages are removed first: one
    /// offer per account at a time).
    pub fn publish(&self) -> Result<(), SyncError> {
        remove(&self.client, &[REPLY_OBJECT, ANSWER_OBJECT]);
        put(
            &self.client,
            OFFER_OBJECT,
            pairing::encode(self.inviter.offer()),
        )
    }

    /// Looks once for the new computer's reply: `None` while none has come. A reply is
    /// checked at once (one try): a wrong code burns the offer and tells the other computer.
    pub fn poll(&mut self) -> Result<Option<Proposal>, SyncError> {
        if let Some(p) = &self.proposal {
            return Ok(Some(p.clone()));
        }
        let expired = now() >= self.expires_at();
        let reply = match get(&self.client, REPLY_OBJECT)? {
            Some(bytes) => match pairing::decode::<Reply>(&bytes) {
                // Left from another offer: not this one's reply.
                Ok(r) if r.offer != self.inviter.offer().offer => None,
                Ok(r) => Some(Ok(r)),
                Err(e) => Some(Err(e)),
            },
            None => None,
        };
        let Some(reply) = reply else {
            if expired {
                self.cancel();
                return Err(PairError::Expired.into());
            }
            return Ok(None);
        };
        match reply.and_then(|r| self.inviter.check(&r, now())) {
            Ok(p) => {
                self.proposal = Some(p.clone());
                Ok(Some(p))
            }
            Err(e) => {
                let answer = self.inviter.wrong_code();
                let _ = put(&self.client, ANSWER_OBJECT, pairing::encode(&answer));
                remove(&self.client, &[OFFER_OBJECT, REPLY_OBJECT]);
                Err(match e {
                    PairError::Expired => PairError::Expired,
                    _ => PairError::WrongCode,
                }
                .into())
            }
        }
    }

    /// Waits for the reply until the code expires.
    pub fn wait(&mut self) -> Result<Proposal, SyncError> {
        loop {
            if let Some(p) = self.poll()? {
                return Ok(p);
            }
            std::thread::sleep(POLL);
        }
    }

    /// The answer "no": the new computer is told, and the offer is gone.
    pub fn decline(self) -> Result<(), SyncError> {
        let answer = self.inviter.decline()?;
        put(&self.client, ANSWER_OBJECT, pairing::encode(&answer))?;
        remove(&self.client, &[OFFER_OBJECT, REPLY_OBJECT]);
        Ok(())
    }

    /// Stops offering: the offer and any reply are removed.
    pub fn cancel(&self) {
        remove(&self.client, &[OFFER_OBJECT, REPLY_OBJECT]);
    }

    /// The answer "yes", the network step: the new computer goes into the practice's signed
    /// device list (with the key it sent), and gets the keys and this computer's signed state.
    pub fn accept(self) -> Result<Invited, SyncError> {
        let proposal = self
            .proposal
            .clone()
            .ok_or(SyncError::Pair(PairError::KeyCheck))?;
        let joined = proposal.joining;
        let mut signing = [0u8; 32];
        hex::decode_to_slice(&joined.signing_key, &mut signing)
            .map_err(|_| PairError::Malformed("joiner's key"))?;
        let joiner_key = ed25519_dalek::VerifyingKey::from_bytes(&signing)
            .map_err(|_| PairError::Malformed("joiner's key"))?;
        let mut entries = practice::fetch_list(&self.client, &self.first, &self.held)?;
        let json = serde_json::to_vec(&entries).map_err(|_| practice::corrupt("device list"))?;
        let mut list = DeviceList::verify(&json, &self.first).map_err(|_| {
            SyncError::Alarm(Alarm::DeviceKey {
                device: "the device list".into(),
            })
        })?;
        match list.devices.get(&joined.device_id) {
            Some(d) if d.signing_key == joiner_key && !d.revoked => {}
            Some(_) => {
                return Err(SyncError::Core(casebook_core::CoreError::Conflict(
                    "that computer is already in the practice's list under another key".into(),
                )));
            }
            None => {
                // The practice's keys changed (a computer was removed) since this computer
                // last synced: it signs with a root the list no longer takes.
                if list.root_now(&self.first) != self.root.verifying_key() {
                    return Err(SyncError::Core(casebook_core::CoreError::Conflict(
                        "the practice's keys were changed since this computer last synced: run `casebook sync now` here, then make a new code".into(),
                    )));
                }
                let letter = list.free_letter(practice::LETTERS).ok_or_else(|| {
                    SyncError::Core(casebook_core::CoreError::Conflict(
                        "the practice has as many computers as it can have".into(),
                    ))
                })?;
                let entry = Entry {
                    op: Op::Add,
                    device: joined.device_id.clone(),
                    name: joined.name.clone(),
                    signing_key: joined.signing_key.clone(),
                    box_key: String::new(),
                    letter,
                    at: practice::chrono_now(),
                    prev: list.head.clone(),
                    signer: ROOT.into(),
                    until: None,
                    rekey: None,
                };
                let signed = Signed::sign(entry, &self.root)
                    .map_err(|_| practice::corrupt("device entry"))?;
                list.append(&signed, &self.first)
                    .map_err(|_| practice::corrupt("device entry"))?;
                entries.push(signed);
                let bytes =
                    serde_json::to_vec(&entries).map_err(|_| practice::corrupt("device list"))?;
                put(&self.client, practice::DEVICES_OBJECT, bytes)?;
            }
        }
        let handover = Handover {
            keys: String::from_utf8_lossy(&self.keys_json).into_owned(),
            sealed_keys: hex::encode(&self.sealed_keys),
            state: SignedState::sign(&self.me, self.heads.clone(), &self.key),
        };
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&handover).unwrap_or_default());
        let answer = self.inviter.accept(&plain, now())?;
        put(&self.client, ANSWER_OBJECT, pairing::encode(&answer))?;
        remove(&self.client, &[OFFER_OBJECT, REPLY_OBJECT]);
        Ok(Invited { entries, joined })
    }
}

/// The last step on the computer that has the practice, with the vault again: keeps the
/// longer device list; the handing over is audited (`sync.pair`, the new computer's id).
pub fn invite_finish(vault: &mut Vault, invited: Invited) -> Result<Added, SyncError> {
    let json =
        serde_json::to_string(&invited.entries).map_err(|_| practice::corrupt("device list"))?;
    vault.sync_put_audited(
        SyncEvent::Pair,
        &invited.joined.device_id,
        &[(practice::LIST, &json)],
    )?;
    let letter = invited
        .entries
        .iter()
        .rev()
        .find(|s| s.entry.device == invited.joined.device_id)
        .map(|s| s.entry.letter)
        .unwrap_or('2');
    Ok(Added {
        device_id: invited.joined.device_id,
        device_name: invited.joined.name,
        letter,
    })
}

// ---------------------------------------------------------------------------------------
// The new computer.
// ---------------------------------------------------------------------------------------

/// The new computer after typing the code and sending its reply, waiting for the answer.
pub struct Responded {
    signed_in: ServerSignIn,
    joiner: Joiner,
    key: SigningKey,
    expires_at: i64,
}

/// The keys are in hand: restore with [`Received::restore`].
pub struct Received {
    pub restore: casebook_core::offsite::ServerRestore,
    key: SigningKey,
    state: SignedState,
}

/// Answers the offer waiting in the account with `code`: this computer (signed in as
/// `signed_in`) sends its name and a new signing key, sealed under the code's key.
pub fn respond(signed_in: ServerSignIn, code: &Code) -> Result<Responded, SyncError> {
    let client = signed_in.client();
    let offer = match get(client, OFFER_OBJECT)? {
        Some(bytes) => pairing::decode::<Offer>(&bytes)?,
        // No offer: expired and removed, never made, or already used.
        None => return Err(PairError::Expired.into()),
    };
    if let Some(bytes) = get(client, REPLY_OBJECT)?
        && pairing::decode::<Reply>(&bytes).is_ok_and(|r| r.offer == offer.offer)
    {
        // Someone already tried this offer: it has had its one try.
        return Err(PairError::Expired.into());
    }
    let key = new_device_key();
    let joining = Joining {
        device_id: signed_in.device_id().to_string(),
        name: signed_in.device_name().to_string(),
        signing_key: hex::encode(key.verifying_key().to_bytes()),
    };
    let (joiner, reply) = Joiner::respond(signed_in.account_id(), code, &offer, &joining, now())?;
    put(client, REPLY_OBJECT, pairing::encode(&reply))?;
    Ok(Responded {
        signed_in,
        joiner,
        key,
        expires_at: offer.expires_at,
    })
}

impl Responded {
    /// The four words to compare with the other computer's screen.
    pub fn words(&self) -> String {
        self.joiner.words()
    }

    /// This computer's name, as the other computer is asked about it.
    pub fn name(&self) -> &str {
        self.signed_in.device_name()
    }

    /// Looks once for the answer: `None` while there is none and the code is still valid.
    pub fn poll(&self) -> Result<Option<Answer>, SyncError> {
        let client = self.signed_in.client();
        if let Some(bytes) = get(client, ANSWER_OBJECT)? {
            let answer = pairing::decode::<Answer>(&bytes)?;
            if answer.offer == self.joiner_offer() {
                return Ok(Some(answer));
            }
        }
        if now() >= self.expires_at {
            return Err(PairError::Expired.into());
        }
        Ok(None)
    }

    fn joiner_offer(&self) -> String {
        self.joiner.offer().to_string()
    }

    /// Waits for the other computer's answer (until the code expires), then opens it: the
    /// keys, checked against the server's backups.
    pub fn wait(self) -> Result<Received, SyncError> {
        let answer = loop {
            if let Some(a) = self.poll()? {
                break a;
            }
            std::thread::sleep(POLL);
        };
        self.receive(&answer)
    }

    /// Opens the answer: what was handed over, or why not.
    pub fn receive(self, answer: &Answer) -> Result<Received, SyncError> {
        let plain = self.joiner.receive(answer)?;
        remove(self.signed_in.client(), &[ANSWER_OBJECT]);
        let handover: Handover =
            serde_json::from_slice(&plain).map_err(|_| PairError::Malformed("handover"))?;
        let sealed =
            hex::decode(&handover.sealed_keys).map_err(|_| PairError::Malformed("handover"))?;
        let restore = self
            .signed_in
            .with_keys(handover.keys.as_bytes(), sealed)
            .map_err(SyncError::Core)?;
        Ok(Received {
            restore,
            key: self.key,
            state: handover.state,
        })
    }
}

impl Received {
    /// After the restore: keeps this computer's signing key in the new vault (the key the
    /// other computer listed it under), so turning sync on finds itself in the list, and the
    /// state the other computer signed, for [`check_reached`] once caught up (a join killed
    /// part way and run again still checks it).
    pub fn keep(&self, vault: &mut Vault) -> Result<(), SyncError> {
        practice::keep_pending_key(vault, &self.key)?;
        let state = serde_json::to_string(&self.state).map_err(|_| practice::corrupt("state"))?;
        vault.sync_put(&[(PAIR_STATE, &state)])?;
        Ok(())
    }
}

/// The state the inviter signed, kept until the new computer has reached it.
const PAIR_STATE: &str = "pair_state";

/// Whether this computer joined by code and has not yet reached the state the computer
/// that added it signed ([`check_reached`] has not passed): it is still catching up.
pub fn joining(vault: &Vault) -> Result<bool, SyncError> {
    Ok(vault.sync_get(PAIR_STATE)?.is_some_and(|j| !j.is_empty()))
}

/// After catching up: the state the other computer signed when it said yes (kept by
/// [`Received::keep`]; nothing to check for a computer joined by recovery key) must be
/// reached — every log at least as far as it had seen, with the same blobs. A server that
/// offered an older backup and withheld the logs since is caught here (`rollback`), or one
/// that showed the two computers different histories (`fork`). Once reached, it is forgotten.
pub fn check_reached(vault: &mut Vault) -> Result<(), SyncError> {
    let Some(json) = vault.sync_get(PAIR_STATE)?.filter(|j| !j.is_empty()) else {
        return Ok(());
    };
    let state: SignedState =
        serde_json::from_str(&json).map_err(|_| practice::corrupt("pair state"))?;
    reached(vault, &state)?;
    vault.sync_put(&[(PAIR_STATE, "")])?;
    Ok(())
}

fn reached(vault: &Vault, state: &SignedState) -> Result<(), SyncError> {
    let entries = practice::signed_list(vault)?;
    let root = practice_root(vault.sync_secrets()?.first_root_seed);
    let json = serde_json::to_vec(&entries).map_err(|_| practice::corrupt("device list"))?;
    let list = DeviceList::verify(&json, &root.verifying_key()).map_err(|_| {
        SyncError::Alarm(Alarm::DeviceKey {
            device: "the device list".into(),
        })
    })?;
    if !state.verify(&list) {
        return Err(SyncError::Pair(PairError::KeyCheck));
    }
    let chains = crate::engine::verified_chains(vault)?.unwrap_or_default();
    state_reached(&chains, &state.heads).map_err(SyncError::Alarm)
}

/// Whether `chains` reach every head of `heads` with the same blob there.
fn state_reached(
    chains: &crate::chain::Chains,
    heads: &BTreeMap<String, HeadRef>,
) -> Result<(), Alarm> {
    for (device, head) in heads {
        let have = chains.head(device).map_or(0, |h| h.seq);
        if have < head.seq {
            return Err(Alarm::Rollback {
                device: device.clone(),
                had: head.seq,
                served: have,
            });
        }
        if let Some((_, _, hash)) = chains
            .verified()
            .find(|(d, s, _)| d == device && *s == head.seq)
            && hash != head.hash
        {
            return Err(Alarm::Fork {
                device: device.clone(),
                seq: head.seq,
            });
        }
    }
    Ok(())
}

/// Signs in to the account as a new computer named `device_name` (the first step of joining
/// by code: the pairing messages are account objects).
pub fn sign_in(
    url: &str,
    username: &str,
    password: &str,
    totp: Option<&str>,
    device_name: &str,
) -> Result<ServerSignIn, SyncError> {
    ServerSignIn::new(url, username, password, totp, device_name).map_err(SyncError::Core)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Chains;

    fn head(seq: u64, hash: &str) -> HeadRef {
        HeadRef {
            seq,
            hash: hash.into(),
        }
    }

    /// The new computer must have reached what the computer that added it had seen: a log
    /// served shorter is a rollback, a different blob at the same place a fork.
    #[test]
    fn the_signed_state_must_be_reached_with_the_same_blobs() {
        let mut chains = Chains::new("dev-a");
        chains.record_own(1, "h1");
        chains.record_own(2, "h2");
        let signed = |seq, hash: &str| BTreeMap::from([("dev-a".to_string(), head(seq, hash))]);
        assert_eq!(state_reached(&chains, &signed(2, "h2")), Ok(()));
        assert_eq!(state_reached(&chains, &signed(1, "h1")), Ok(()));
        assert!(matches!(
            state_reached(&chains, &signed(3, "h3")),
            Err(Alarm::Rollback {
                had: 3,
                served: 2,
                ..
            })
        ));
        assert!(matches!(
            state_reached(&chains, &signed(2, "other")),
            Err(Alarm::Fork { seq: 2, .. })
        ));
        let unseen = BTreeMap::from([("dev-b".to_string(), head(1, "x"))]);
        assert!(matches!(
            state_reached(&chains, &unseen),
            Err(Alarm::Rollback { served: 0, .. })
        ));
    }
}
