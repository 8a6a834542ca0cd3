//! Sync for a vault connected to a server: turning it on for this computer (`sync enable`),
//! one run (`sync now`), and what `sync status` shows. The CLI and the app call these.
//!
//! This computer's signing key and the practice's device list are kept in the vault's sync
//! state (inside the encrypted clinical store). The device list also lives on the server, as
//! the object `sync-devices`, so other computers find each other's keys — but a list fetched
//! from there is believed only if it verifies from the practice root and extends the list
//! already held here (a shorter or different one is a `rollback` or `fork` alarm).

use casebook_core::Vault;
use casebook_core::offsite::{BackupsToKeep, ServerClient};
use casebook_core::recovery::RecoveryKey;
use casebook_core::rekeying::Rekeying;
use casebook_core::sync_state::SyncEvent;
use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::chain::Alarm;
use crate::devices::{DeviceList, Entry, Listed, Op, ROOT, Rekey, Signed};
use crate::engine::{
    Engine, Inbound, Outbound, PracticeKeys, Remote, RemoteError, Report, SyncError, exchange,
};
use crate::keys::{new_device_key, practice_root};

/// The code symbols a device letter is picked from (as the core's client codes use).
pub(crate) const LETTERS: &str = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// The server object holding the signed device list.
pub const DEVICES_OBJECT: &str = "sync-devices";
const KEY: &str = "signing_key";
/// A new computer's signing key between `enable_begin` and `enable_finish`.
const PENDING_KEY: &str = "pending_signing_key";
pub(crate) const LIST: &str = "devices";
const LAST_RUN: &str = "last_run";
const LAST_ALARM: &str = "last_alarm";

pub(crate) fn corrupt(what: &str) -> SyncError {
    SyncError::Core(casebook_core::CoreError::Corrupt(format!(
        "the sync state is not valid: {what}"
    )))
}

pub(crate) fn signed_list(vault: &Vault) -> Result<Vec<Signed>, SyncError> {
    match vault.sync_get(LIST)? {
        Some(json) => serde_json::from_str(&json).map_err(|_| corrupt("device list")),
        None => Ok(Vec::new()),
    }
}

pub(crate) fn signing_key(vault: &Vault) -> Result<Option<SigningKey>, SyncError> {
    // Empty after `sync disable`.
    let Some(hex_seed) = vault.sync_get(KEY)?.filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    let mut seed = [0u8; 32];
    hex::decode_to_slice(hex_seed.trim(), &mut seed).map_err(|_| corrupt("signing key"))?;
    Ok(Some(SigningKey::from_bytes(&seed)))
}

/// The server's copy of the device list, checked by [`check_served_list`].
pub(crate) fn fetch_list(
    client: &ServerClient,
    root: &ed25519_dalek::VerifyingKey,
    held: &[Signed],
) -> Result<Vec<Signed>, SyncError> {
    let served = crate::http::get_object(client, DEVICES_OBJECT, 4 * 1024 * 1024)?;
    check_served_list(served.as_deref(), root, held)
}

/// A device list as a server served it (`None`: it has none), checked: it must verify from
/// the practice root — every entry signed by the root or a listed device, so a key the server
/// put in is a `device-key` alarm — and begin with every entry held here (a shorter list is a
/// `rollback`, a different one a `fork`).
pub fn check_served_list(
    served: Option<&[u8]>,
    root: &ed25519_dalek::VerifyingKey,
    held: &[Signed],
) -> Result<Vec<Signed>, SyncError> {
    let entries: Vec<Signed> = match served {
        Some(buf) => {
            DeviceList::verify(buf, root).map_err(|_| {
                SyncError::Alarm(Alarm::DeviceKey {
                    device: "the device list".into(),
                })
            })?;
            serde_json::from_slice(buf).map_err(|_| corrupt("device list"))?
        }
        None => Vec::new(),
    };
    if entries.len() < held.len() {
        return Err(SyncError::Alarm(Alarm::Rollback {
            device: "the device list".into(),
            had: held.len() as u64,
            served: entries.len() as u64,
        }));
    }
    if entries[..held.len()] != *held {
        return Err(SyncError::Alarm(Alarm::Fork {
            device: "the device list".into(),
            seq: held.len() as u64,
        }));
    }
    Ok(entries)
}

/// Keeps `key` as this computer's signing key-to-be (a computer added by code: the other
/// computer listed it under this key), for [`enable`] to find.
pub(crate) fn keep_pending_key(vault: &mut Vault, key: &SigningKey) -> Result<(), SyncError> {
    vault.sync_put(&[(PENDING_KEY, &hex::encode(key.to_bytes()))])?;
    Ok(())
}

/// Whether sync is on for this computer (`sync enable` ran here); no network.
pub fn is_on(vault: &Vault) -> Result<bool, SyncError> {
    Ok(signing_key(vault)?.is_some())
}

/// What `sync enable` did.
#[derive(Debug, Clone, Serialize)]
pub struct Enabled {
    pub device_id: String,
    pub device_name: String,
    pub letter: char,
    pub devices: usize,
}

/// Turns sync on for this computer: it joins the practice's signed device list (making the
/// list if this is the first computer), with a signing key of its own and a device letter.
/// Holds the vault throughout (the CLI's way); the app runs [`enable_begin`],
/// [`EnableBegun::exchange`] and [`enable_finish`] apart, the vault free while the server is
/// talked to.
pub fn enable(vault: &mut Vault) -> Result<Enabled, SyncError> {
    let begun = enable_begin(vault)?;
    let exchanged = begun.exchange()?;
    enable_finish(vault, exchanged)
}

/// `sync enable` after its first step (what the vault holds), without a borrow of the vault.
pub struct EnableBegun {
    settings: casebook_core::offsite::ServerSettings,
    client: ServerClient,
    /// The practice root that signs now (the newest generation's).
    root: SigningKey,
    /// The first practice root, from which the list is verified.
    first: ed25519_dalek::VerifyingKey,
    held: Vec<Signed>,
    key: SigningKey,
}

/// `sync enable` after its network step: the device list with this computer in it.
pub struct EnableExchanged {
    settings: casebook_core::offsite::ServerSettings,
    entries: Vec<Signed>,
    list: DeviceList,
    key: SigningKey,
}

/// The first step of `sync enable`, with the vault and without the network. A computer new
/// to the list gets its signing key here, kept aside (`pending_signing_key`) before the
/// network step puts its public half in the list: if the app locks or the process dies
/// before [`enable_finish`], the next attempt finds itself in the list with that same key.
pub fn enable_begin(vault: &mut Vault) -> Result<EnableBegun, SyncError> {
    let (settings, client) = vault.server_connection()?;
    let key = match signing_key(vault)? {
        Some(k) => k,
        None => match vault.sync_get(PENDING_KEY)?.filter(|k| !k.is_empty()) {
            Some(hex_seed) => {
                let mut seed = [0u8; 32];
                hex::decode_to_slice(hex_seed.trim(), &mut seed)
                    .map_err(|_| corrupt("signing key"))?;
                SigningKey::from_bytes(&seed)
            }
            None => {
                let k = new_device_key();
                vault.sync_put(&[(PENDING_KEY, &hex::encode(k.to_bytes()))])?;
                k
            }
        },
    };
    let secrets = vault.sync_secrets()?;
    Ok(EnableBegun {
        settings,
        client,
        root: practice_root(secrets.root_seed),
        first: practice_root(secrets.first_root_seed).verifying_key(),
        held: signed_list(vault)?,
        key,
    })
}

impl EnableBegun {
    /// The network step, without the vault: the server's device list (checked against the
    /// one held here), and this computer added to it when it is not in it with its key.
    pub fn exchange(self) -> Result<EnableExchanged, SyncError> {
        let EnableBegun {
            settings,
            client,
            root,
            first,
            held,
            key,
        } = self;
        let mut entries = fetch_list(&client, &first, &held)?;
        let json = serde_json::to_vec(&entries).map_err(|_| corrupt("device list"))?;
        let mut list = DeviceList::verify(&json, &first).map_err(|_| {
            SyncError::Alarm(Alarm::DeviceKey {
                device: "the device list".into(),
            })
        })?;
        let key = match list.key_of(&settings.device_id) {
            Some(listed) if *listed == key.verifying_key() => key,
            Some(_) => {
                // Listed under a key this vault does not hold: never taken over.
                return Err(SyncError::Core(casebook_core::CoreError::Conflict(
                    "this computer is already in the practice's list under another key: connect it to the server again (a new connection is a new computer), then turn sync on".into(),
                )));
            }
            None => {
                if list.root_now(&first) != root.verifying_key() {
                    return Err(SyncError::Core(casebook_core::CoreError::Conflict(
                        "the practice's keys were changed (a computer was removed) after the keys this computer holds were written: add it by code from another computer of the practice instead".into(),
                    )));
                }
                let letter = list.free_letter(LETTERS).ok_or_else(|| {
                    SyncError::Core(casebook_core::CoreError::Conflict(
                        "the practice has as many computers as it can have".into(),
                    ))
                })?;
                let entry = Entry {
                    op: Op::Add,
                    device: settings.device_id.clone(),
                    name: settings.device_name.clone(),
                    signing_key: hex::encode(key.verifying_key().to_bytes()),
                    box_key: String::new(),
                    letter,
                    at: chrono_now(),
                    prev: list.head.clone(),
                    signer: ROOT.into(),
                    until: None,
                    rekey: None,
                };
                let signed = Signed::sign(entry, &root).map_err(|_| corrupt("device entry"))?;
                list.append(&signed, &first)
                    .map_err(|_| corrupt("device entry"))?;
                entries.push(signed);
                let bytes = serde_json::to_vec(&entries).map_err(|_| corrupt("device list"))?;
                client
                    .put_snapshot(DEVICES_OBJECT, bytes)
                    .map_err(|e| SyncError::Remote(RemoteError::Refused(e.to_string())))?;
                key
            }
        };
        Ok(EnableExchanged {
            settings,
            entries,
            list,
            key,
        })
    }
}

/// The last step of `sync enable`, with the vault again: keeps the key and the list, audited.
pub fn enable_finish(vault: &mut Vault, done: EnableExchanged) -> Result<Enabled, SyncError> {
    let EnableExchanged {
        settings,
        entries,
        list,
        key,
    } = done;
    let letter = list
        .devices
        .get(&settings.device_id)
        .map(|d| d.letter)
        .unwrap_or('2');
    vault.set_device_letter(letter)?;
    let list_json = serde_json::to_string(&entries).map_err(|_| corrupt("device list"))?;
    let key_hex = hex::encode(key.to_bytes());
    vault.sync_put_audited(
        SyncEvent::Enable,
        &settings.device_id,
        &[(KEY, &key_hex), (LIST, &list_json), (PENDING_KEY, "")],
    )?;
    Ok(Enabled {
        device_id: settings.device_id,
        device_name: settings.device_name,
        letter,
        devices: list.devices.values().filter(|d| !d.revoked).count(),
    })
}

/// What `sync revoke` did.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    pub device_id: String,
    pub device_name: String,
    /// The last of its changes that counts: every computer applies its log up to here, and
    /// nothing after.
    pub until_seq: u64,
    /// Changes of it verified and applied by this revocation (what it sent after the last sync).
    pub applied_changes: usize,
    /// The practice's key generation after it: changed (one more) when the recovery key was
    /// given, so the revoked computer can read nothing sealed from now on.
    pub key_generation: usize,
    /// Whether the practice's keys were changed.
    pub rekeyed: bool,
    /// Whether the server's copy of the sealed keys (`recovery.age`) was replaced with the
    /// new one now (otherwise the next off-site backup from any computer replaces it).
    pub sealed_keys_sent: bool,
}

/// The listed device `who` names (its id, or its name, case-insensitively), not revoked.
fn find_device<'l>(list: &'l DeviceList, who: &str) -> Result<(&'l str, &'l Listed), SyncError> {
    let mut found = list
        .devices
        .iter()
        .filter(|(id, d)| !d.revoked && (*id == who || d.name.eq_ignore_ascii_case(who.trim())));
    match (found.next(), found.next()) {
        (Some((id, d)), None) => Ok((id.as_str(), d)),
        (Some(_), Some(_)) => Err(SyncError::Core(casebook_core::CoreError::invalid(format!(
            "more than one computer is called {who:?}: name it by its id (`casebook sync devices` lists them)"
        )))),
        (None, _) => Err(SyncError::Core(casebook_core::CoreError::NotFound {
            what: "computer of the practice",
            id: who.to_string(),
            hint: "sync devices",
        })),
    }
}

/// The entry revoking `device` (as listed) with its cut; [`append_entry`] links and signs it.
fn revocation(device: &str, listed: &Listed, until: Option<crate::blob::HeadRef>) -> Entry {
    Entry {
        op: Op::Revoke,
        device: device.to_string(),
        name: listed.name.clone(),
        signing_key: hex::encode(listed.signing_key.to_bytes()),
        box_key: listed.box_key.clone(),
        letter: listed.letter,
        at: chrono_now(),
        prev: None,
        signer: String::new(),
        until,
        rekey: None,
    }
}

/// Appends `entry`, signed by this computer, to the device list on the server, and returns
/// the longer list (JSON) to keep here. The server's list is fetched first so the entry
/// extends the newest one.
fn append_entry(
    vault: &mut Vault,
    client: &ServerClient,
    me: &str,
    key: &SigningKey,
    entry: Entry,
) -> Result<String, SyncError> {
    let root = practice_root(vault.sync_secrets()?.first_root_seed).verifying_key();
    publish_entry(
        client,
        &root,
        &signed_list(vault)?,
        me,
        key,
        entry,
        |_, _| Ok(()),
    )
}

/// [`append_entry`] without the vault: what it needs from there is given.
fn publish_entry(
    client: &ServerClient,
    root: &ed25519_dalek::VerifyingKey,
    held: &[Signed],
    me: &str,
    key: &SigningKey,
    mut entry: Entry,
    complete: impl FnOnce(&DeviceList, &mut Entry) -> Result<(), SyncError>,
) -> Result<String, SyncError> {
    let mut entries = fetch_list(client, root, held)?;
    let list = verified_list(root, me, key, &entries)?;
    complete(&list, &mut entry)?;
    entry.prev = list.head.clone();
    entry.signer = me.to_string();
    let signed = Signed::sign(entry, key).map_err(|_| corrupt("device entry"))?;
    let mut grown = list;
    grown
        .append(&signed, root)
        .map_err(|e| SyncError::Core(casebook_core::CoreError::Conflict(e.to_string())))?;
    entries.push(signed);
    let bytes = serde_json::to_vec(&entries).map_err(|_| corrupt("device list"))?;
    client
        .put_snapshot(DEVICES_OBJECT, bytes)
        .map_err(|e| SyncError::Remote(crate::http::sorted(e)))?;
    serde_json::to_string(&entries).map_err(|_| corrupt("device list"))
}

/// Revokes another computer of the practice (`sync revoke`): the server stops taking anything
/// from it (the account's password again, `reauth`), the rest of its log is verified and
/// applied here, and a revocation signed by this computer is added to the device list, with
/// the last of its changes that counts. Every computer then applies its log up to there and
/// refuses anything after; the revoked computer can sync nothing more. Holds the vault
/// throughout (the CLI's way); the app runs the steps apart ([`revoke_begin`] and on), the
/// vault free whenever the server is talked to.
pub fn revoke(
    vault: &mut Vault,
    who: &str,
    reauth: &casebook_wire::Reauthenticate,
    recovery_key: Option<&RecoveryKey>,
) -> Result<Revoked, SyncError> {
    // Catch up first, so the revocation's cut is made from the newest state.
    sync_now(vault)?;
    let begun = revoke_begin(vault, who, recovery_key)?;
    let fetched = begun.exchange(reauth)?;
    let applied = revoke_apply(vault, fetched)?;
    let published = applied.publish()?;
    revoke_finish(vault, published)
}

/// A revocation after its first step (with the vault): who, and how far its log is verified.
/// Holds the sync run lock to the end, so no run starts in between.
pub struct RevokeBegun {
    client: ServerClient,
    account: String,
    me: String,
    key: SigningKey,
    id: String,
    listed: Listed,
    have: u64,
    /// The recovery key (checked), when the practice's keys are to change, and what checks
    /// the off-site backups the re-keying keeps.
    rekey: Option<(RecoveryKey, BackupsToKeep)>,
    _running: RunLock,
}

/// A revocation after the server stopped taking the device's blobs: the rest of its log.
pub struct RevokeFetched {
    begun: RevokeBegun,
    rest: crate::engine::Blobs,
    heads: Vec<casebook_wire::Head>,
    last: Option<casebook_wire::Head>,
    /// The off-site backups on the server that stay this vault's after a re-keying.
    backups: Vec<String>,
}

/// A revocation after the rest of the log was applied here: the entry to sign.
pub struct RevokeApplied {
    begun: RevokeBegun,
    until: Option<crate::blob::HeadRef>,
    applied_changes: usize,
    root: ed25519_dalek::VerifyingKey,
    held: Vec<Signed>,
    /// The practice's next keys (when the recovery key was given).
    rekeying: Option<Rekeying>,
}

/// A revocation whose signed entry is on the server.
pub struct RevokePublished {
    applied: RevokeApplied,
    list_json: String,
    sealed_keys_sent: bool,
}

/// The first step of a revocation, with the vault and without the network: finds the
/// computer (by id or name) in the signed list, not this one. With the recovery key, also
/// makes the practice's next keys (a wrong key changes nothing: `WrongRecoveryKey`).
pub fn revoke_begin(
    vault: &mut Vault,
    who: &str,
    recovery_key: Option<&RecoveryKey>,
) -> Result<RevokeBegun, SyncError> {
    let running = RunLock::take(vault)?;
    let (settings, client) = vault.server_connection()?;
    let me = settings.device_id;
    let key = signing_key(vault)?.ok_or_else(not_on)?;
    let held = signed_list(vault)?;
    let (list, keys) = checked_list(vault, &me, &key, &held)?;
    let (id, listed) = find_device(&list, who)?;
    if id == me {
        return Err(SyncError::Core(casebook_core::CoreError::invalid(
            "that is this computer: to stop syncing here, run `casebook sync disable`",
        )));
    }
    let (id, listed) = (id.to_string(), listed.clone());
    let have = Engine::load(vault, &settings.account_id, &me, &key, &keys, &list)?
        .chains()
        .head(&id)
        .map_or(0, |h| h.seq);
    // A wrong recovery key stops here, before the server is asked anything.
    let rekey = match recovery_key {
        Some(rk) => {
            vault.check_recovery_key(rk)?;
            Some((rk.clone(), vault.backups_to_keep()?))
        }
        None => None,
    };
    Ok(RevokeBegun {
        client,
        account: settings.account_id,
        me,
        key,
        id,
        listed,
        have,
        rekey,
        _running: running,
    })
}

impl RevokeBegun {
    /// The network step: the server revokes the device (the account's password again), then
    /// the rest of its log and the heads are fetched.
    pub fn exchange(
        mut self,
        reauth: &casebook_wire::Reauthenticate,
    ) -> Result<RevokeFetched, SyncError> {
        self.client
            .revoke_device(&self.id, reauth)
            .map_err(|e| match e {
                casebook_core::offsite::ServerError::WrongCredentials => {
                    SyncError::Core(casebook_core::CoreError::invalid(
                        "the server account's password (or code) is not right; nothing was revoked",
                    ))
                }
                other => SyncError::Remote(crate::http::sorted(other)),
            })?;
        // The server takes nothing more from it: what its log holds now is all there will be.
        let rest =
            (&mut self.client as &mut dyn Remote).range(&self.id, self.have + 1, u64::MAX)?;
        let mut heads = (&mut self.client as &mut dyn Remote).heads()?;
        heads.retain(|h| h.device_id != self.id);
        let last = rest.last().map(|(seq, bytes)| casebook_wire::Head {
            device_id: self.id.clone(),
            seq: *seq,
            hash: crate::blob::hash(bytes),
        });
        // The backups already on the server stay this vault's after the re-keying (listed
        // in it); any index made later under the old keys is refused.
        let backups = match &self.rekey {
            Some((_, keep)) => keep.codes(&self.client)?,
            None => Vec::new(),
        };
        Ok(RevokeFetched {
            begun: self,
            rest,
            heads,
            last,
            backups,
        })
    }
}

/// The third step, with the vault: the rest of the revoked device's log verified and applied;
/// the cut is the last of it.
pub fn revoke_apply(vault: &mut Vault, fetched: RevokeFetched) -> Result<RevokeApplied, SyncError> {
    let RevokeFetched {
        begun,
        rest,
        mut heads,
        last,
        backups,
    } = fetched;
    let held = signed_list(vault)?;
    let (list, keys) = checked_list(vault, &begun.me, &begun.key, &held)?;
    let mut engine = Engine::load(vault, &begun.account, &begun.me, &begun.key, &keys, &list)?;
    if let Some(h) = engine.chains().head(&begun.id).filter(|_| last.is_none()) {
        heads.push(casebook_wire::Head {
            device_id: begun.id.clone(),
            seq: h.seq,
            hash: h.hash,
        });
    }
    heads.extend(last.clone());
    let report = engine.absorb(
        Inbound {
            heads: Some(heads),
            fetched: vec![(begun.id.clone(), rest)],
            ..Inbound::default()
        },
        0,
    )?;
    let until = engine.chains().head(&begun.id);
    if let Some(last) = &last
        && until.as_ref().map(|u| u.seq) != Some(last.seq)
    {
        return Err(SyncError::Core(casebook_core::CoreError::Conflict(
            "the revoked computer's last changes depend on changes not here yet: run `casebook sync now`, then revoke it again".into(),
        )));
    }
    drop(engine);
    let secrets = vault.sync_secrets()?;
    let rekeying = begun
        .rekey
        .as_ref()
        .map(|(rk, _)| vault.prepare_rekey(rk, backups))
        .transpose()?;
    // Recorded before the revocation is published: stopped after publishing and before
    // taking the new keys, this computer must not seal anything with the old ones.
    if let Some(r) = &rekeying {
        vault.mark_rekeying_published(r.number)?;
    }
    Ok(RevokeApplied {
        begun,
        until,
        applied_changes: report.applied_changes,
        root: practice_root(secrets.first_root_seed).verifying_key(),
        held,
        rekeying,
    })
}

impl RevokeApplied {
    /// The network step: the revocation, signed by this computer with its cut, appended to
    /// the device list on the server.
    pub fn publish(self) -> Result<RevokePublished, SyncError> {
        let b = &self.begun;
        let entry = revocation(&b.id, &b.listed, self.until.clone());
        let list_json = publish_entry(
            &b.client,
            &self.root,
            &self.held,
            &b.me,
            &b.key,
            entry,
            |list, entry| match &self.rekeying {
                Some(r) => {
                    entry.rekey = Some(rekey_entry(list, &b.id, r)?);
                    Ok(())
                }
                None => Ok(()),
            },
        )?;
        // The account's copy of the sealed keys becomes the new one, so a computer joining
        // with the recovery key opens the newest keys. Not fatal: the next off-site backup
        // from any computer of the practice replaces it too.
        let sealed_keys_sent = self.rekeying.as_ref().is_some_and(|r| {
            casebook_core::offsite::ensure_keys_object(
                &b.client,
                &r.sealed_keys,
                std::slice::from_ref(&r.generation.replaces),
            )
            .is_ok()
        });
        Ok(RevokePublished {
            applied: self,
            list_json,
            sealed_keys_sent,
        })
    }
}

/// The last step, with the vault: the longer list kept here, audited.
pub fn revoke_finish(vault: &mut Vault, published: RevokePublished) -> Result<Revoked, SyncError> {
    let RevokePublished {
        applied,
        list_json,
        sealed_keys_sent,
    } = published;
    let b = &applied.begun;
    vault.sync_put_audited(SyncEvent::Revoke, &b.id, &[(LIST, &list_json)])?;
    // The new keys are taken from the list as every other computer takes them (a crash here
    // leaves them for the next run, which takes them the same way).
    let entries = signed_list(vault)?;
    let (list, _) = checked_list(vault, &b.me, &b.key, &entries)?;
    crate::rekey::adopt(vault, &list, &b.me, &b.key, &[])?;
    Ok(Revoked {
        device_id: b.id.clone(),
        device_name: b.listed.name.clone(),
        until_seq: applied.until.as_ref().map_or(0, |u| u.seq),
        applied_changes: applied.applied_changes,
        key_generation: vault.key_generation(),
        rekeyed: applied.rekeying.is_some(),
        sealed_keys_sent,
    })
}

/// The re-keying a revocation of `revoked` carries: the new root, the new keys wrapped to
/// every computer of `list` that stays (this one included), and the new `recovery.age`.
fn rekey_entry(list: &DeviceList, revoked: &str, r: &Rekeying) -> Result<Rekey, SyncError> {
    if list.rekeys.len() + 1 != r.number {
        return Err(SyncError::Core(casebook_core::CoreError::Conflict(
            "another computer changed the practice's keys just now: run `casebook sync now`, then revoke again".into(),
        )));
    }
    let mut keys = std::collections::BTreeMap::new();
    for (id, d) in list
        .devices
        .iter()
        .filter(|(id, d)| !d.revoked && *id != revoked)
    {
        keys.insert(
            id.clone(),
            crate::rekey::wrap(&r.generation, &d.signing_key)?,
        );
    }
    Ok(Rekey {
        root: hex::encode(
            practice_root(r.generation.root_seed.as_bytes())
                .verifying_key()
                .to_bytes(),
        ),
        keys,
        recovery: hex::encode(&r.sealed_keys),
    })
}

/// What `sync rename` did.
#[derive(Debug, Clone, Serialize)]
pub struct Renamed {
    pub device_id: String,
    pub device_name: String,
}

/// A rename after its first step (with the vault): the entry to sign, and what signing needs.
pub struct RenameBegun {
    client: ServerClient,
    me: String,
    key: SigningKey,
    root: ed25519_dalek::VerifyingKey,
    held: Vec<Signed>,
    entry: Entry,
}

/// A rename whose signed entry is on the server.
pub struct RenamePublished {
    id: String,
    name: String,
    list_json: String,
}

/// Gives a computer of the practice (this one or another, by id or name) a new name in the
/// signed device list (`sync rename`). Holds the vault throughout (the CLI's way); the app
/// runs [`rename_begin`], [`RenameBegun::publish`] and [`rename_finish`] apart.
pub fn rename(vault: &mut Vault, who: &str, name: &str) -> Result<Renamed, SyncError> {
    let begun = rename_begin(vault, who, name)?;
    let published = begun.publish()?;
    rename_finish(vault, published)
}

/// The first step of a rename, with the vault: the device found, the new name checked.
pub fn rename_begin(vault: &Vault, who: &str, name: &str) -> Result<RenameBegun, SyncError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > crate::devices::MAX_NAME {
        return Err(SyncError::Core(casebook_core::CoreError::invalid(
            "a computer's name must be 1–100 characters, e.g. \"Surgery desktop\"",
        )));
    }
    let (settings, client) = vault.server_connection()?;
    let me = settings.device_id;
    let key = signing_key(vault)?.ok_or_else(not_on)?;
    let held = signed_list(vault)?;
    let (list, _) = checked_list(vault, &me, &key, &held)?;
    let (id, listed) = find_device(&list, who)?;
    let mut entry = revocation(id, listed, None);
    entry.op = Op::Rename;
    entry.name = name.to_string();
    Ok(RenameBegun {
        client,
        me,
        key,
        root: practice_root(vault.sync_secrets()?.first_root_seed).verifying_key(),
        held,
        entry,
    })
}

impl RenameBegun {
    /// The network step: the rename, signed by this computer, appended to the list there.
    pub fn publish(self) -> Result<RenamePublished, SyncError> {
        let (id, name) = (self.entry.device.clone(), self.entry.name.clone());
        let list_json = publish_entry(
            &self.client,
            &self.root,
            &self.held,
            &self.me,
            &self.key,
            self.entry,
            |_, _| Ok(()),
        )?;
        Ok(RenamePublished {
            id,
            name,
            list_json,
        })
    }
}

/// The last step of a rename, with the vault: the longer list kept here, audited.
pub fn rename_finish(vault: &mut Vault, done: RenamePublished) -> Result<Renamed, SyncError> {
    vault.sync_put_audited(SyncEvent::Rename, &done.id, &[(LIST, &done.list_json)])?;
    Ok(Renamed {
        device_id: done.id,
        device_name: done.name,
    })
}

/// What `sync disable` did.
#[derive(Debug, Clone, Serialize)]
pub struct Disabled {
    pub device_id: String,
    /// The last of this computer's changes that counts (all of them were sent).
    pub until_seq: u64,
    /// Whether the server closed this computer's log, so that the others may remove it once
    /// their checkpoints hold it (not: it stays there, readable with the practice's keys).
    pub log_closed: bool,
}

/// Turns sync off for this computer (`sync disable`): every change made here is sent first,
/// then this computer takes itself off the practice's device list (signed by itself, so the
/// others stop expecting it and do not show it as stale) and forgets its sync key. The records
/// stay; off-site backups carry on. Joining again needs a new connection (`server connect`).
pub fn disable(vault: &mut Vault) -> Result<Disabled, SyncError> {
    sync_now(vault)?;
    let _running = RunLock::take(vault)?;
    let unsent = vault.sealed_unacked()?.len();
    if unsent > 0 {
        return Err(SyncError::Core(casebook_core::CoreError::Conflict(
            format!(
                "{unsent} batch(es) of changes made here are not on the server yet: sync once more when it can be reached, then disable"
            ),
        )));
    }
    let (settings, client) = vault.server_connection()?;
    let me = settings.device_id;
    let key = signing_key(vault)?.ok_or_else(not_on)?;
    let held = signed_list(vault)?;
    let (list, keys) = checked_list(vault, &me, &key, &held)?;
    let listed = list.devices.get(&me).cloned().ok_or_else(not_on)?;
    let until = Engine::load(vault, &settings.account_id, &me, &key, &keys, &list)?
        .chains()
        .head(&me);
    let entry = revocation(&me, &listed, until.clone());
    let list_json = append_entry(vault, &client, &me, &key, entry)?;
    vault.sync_put_audited(SyncEvent::Disable, &me, &[(LIST, &list_json), (KEY, "")])?;
    // This computer keeps its server connection for off-site backups; its log is closed so
    // that the others can remove it. Left open (the server unreachable just now), it stays.
    let log_closed = client.close_log().is_ok();
    Ok(Disabled {
        device_id: me,
        until_seq: until.map_or(0, |u| u.seq),
        log_closed,
    })
}

pub(crate) fn not_on() -> SyncError {
    SyncError::Core(casebook_core::CoreError::invalid(
        "sync is not on for this computer: run `casebook sync enable` first",
    ))
}

pub(crate) fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One sync run against the vault's server: refresh the device list, seal, send, fetch,
/// verify, apply. An alarm is remembered for `sync status`. Holds the vault throughout (the
/// CLI's way); the app runs [`begin`], [`Begun::exchange`] and [`finish`] apart instead.
pub fn sync_now(vault: &mut Vault) -> Result<Report, SyncError> {
    // Another process's run (the app, `sync watch`) is waited for, up to two minutes.
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        match begin(vault) {
            Ok(begun) => return finish(vault, begun.exchange()),
            Err(SyncError::Remote(RemoteError::Busy)) if std::time::Instant::now() < patience => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(note_failure(vault, e)),
        }
    }
}

/// Blobs per device fetched by one step of [`catch_up`].
const CATCH_UP_STEP: u64 = 200;

/// Runs until nothing is left to fetch, in steps of at most [`CATCH_UP_STEP`] blobs per
/// device, each verified, applied and kept before the next is fetched: a new computer's
/// first download, shown with `progress(done, total)` (blobs), and resumed by running again
/// after a kill. The reports are summed.
pub fn catch_up(
    vault: &mut Vault,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report, SyncError> {
    let mut total = Report::default();
    loop {
        let begun = match begin(vault) {
            Ok(b) => b.in_steps(),
            Err(e) => return Err(note_failure(vault, e)),
        };
        let report = finish(vault, begun.exchange())?;
        total.sealed += report.sealed;
        total.sent += report.sent;
        total.received += report.received;
        total.applied_changes += report.applied_changes;
        total.conflicts += report.conflicts;
        total.warnings.extend(report.warnings);
        total.remaining = report.remaining;
        progress(
            total.received as u64,
            total.received as u64 + report.remaining,
        );
        if report.remaining == 0 || report.received == 0 {
            return Ok(total);
        }
    }
}

/// The newest state this computer holds: the computer that wrote the newest change it has,
/// and when (seconds since the epoch). No network.
pub fn latest_state(vault: &Vault) -> Result<Option<(String, String, i64)>, SyncError> {
    // By the names the list has now, under either id a computer goes by.
    let names = device_names(vault);
    Ok(vault
        .newest_write_by_device()?
        .into_iter()
        .next()
        .map(|(device, ms)| {
            let name = names
                .get(&device)
                .cloned()
                .unwrap_or_else(|| "a computer no longer listed".into());
            (device, name, ms / 1000)
        }))
}

/// Held from the start of a run to its end, so two processes on one vault (the app and
/// `sync watch`, say) never run at once: each run loads the engine's state at its start and
/// saves it at its end, and two interleaved runs would each see the other's blobs as replays.
/// An OS file lock, so it goes with the process if that dies.
struct RunLock(#[allow(dead_code)] std::fs::File);

impl RunLock {
    fn take(vault: &Vault) -> Result<RunLock, SyncError> {
        let path = vault.dir().join("sync.lock");
        let io = |source| {
            SyncError::Core(casebook_core::CoreError::Io {
                path: path.clone(),
                source,
            })
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(SyncError::Remote(RemoteError::Busy)),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

/// A run after its first step: what to send and fetch, and how to reach the server. Holds
/// no borrow of the vault, so the network step can run with the vault free.
pub struct Begun {
    client: ServerClient,
    account: String,
    me: String,
    key: SigningKey,
    root: ed25519_dalek::VerifyingKey,
    held: Vec<Signed>,
    sealed: usize,
    out: Outbound,
    _running: RunLock,
}

/// A run after its network step.
pub struct Exchanged {
    begun: Begun,
    /// The device list as the server has it, checked against the one held here.
    list: Result<Vec<Signed>, SyncError>,
    inbound: Inbound,
}

/// The device list `entries` verified from the practice `root`, with this computer (`me`)
/// in it, not revoked, under its own `key`.
fn verified_list(
    root: &ed25519_dalek::VerifyingKey,
    me: &str,
    key: &SigningKey,
    entries: &[Signed],
) -> Result<DeviceList, SyncError> {
    let json = serde_json::to_vec(entries).map_err(|_| corrupt("device list"))?;
    let list = DeviceList::verify(&json, root).map_err(|_| {
        SyncError::Alarm(Alarm::DeviceKey {
            device: "the device list".into(),
        })
    })?;
    if list.devices.get(me).is_some_and(|d| d.revoked) {
        return Err(SyncError::Remote(RemoteError::Revoked));
    }
    if list.key_of(me) != Some(&key.verifying_key()) {
        return Err(SyncError::Alarm(Alarm::DeviceKey {
            device: me.to_string(),
        }));
    }
    Ok(list)
}

/// The device list `entries` checked from the practice root, with this computer's own key in
/// it, and the practice's sync keys.
fn checked_list(
    vault: &Vault,
    me: &str,
    key: &SigningKey,
    entries: &[Signed],
) -> Result<(DeviceList, PracticeKeys), SyncError> {
    let secrets = vault.sync_secrets()?;
    let list = verified_list(
        &practice_root(secrets.first_root_seed).verifying_key(),
        me,
        key,
        entries,
    )?;
    // Keys newer than any re-keying the list holds: the list served leaves one out.
    if vault.key_generation() > list.rekeys.len() {
        return Err(SyncError::Alarm(Alarm::DeviceKey {
            device: "the device list".into(),
        }));
    }
    let keys = PracticeKeys {
        clinical: secrets.clinical,
        identity: secrets.identity,
    };
    Ok((list, keys))
}

impl Begun {
    /// Fetches at most [`CATCH_UP_STEP`] blobs in this run (a catch-up that reports its
    /// progress between steps, and lets the vault go between them).
    pub fn in_steps(mut self) -> Begun {
        self.out.cap = Some(CATCH_UP_STEP);
        self
    }
}

/// The first step of a run, with the vault and without the network: seals this computer's
/// new changes and lists what to send and what to fetch. (An alarm here is remembered by
/// [`sync_now`]; the app reports it the same way through [`note_failure`].)
pub fn begin(vault: &mut Vault) -> Result<Begun, SyncError> {
    let running = RunLock::take(vault)?;
    let (settings, client) = vault.server_connection()?;
    let key = signing_key(vault)?.ok_or_else(not_on)?;
    let root = practice_root(vault.sync_secrets()?.first_root_seed).verifying_key();
    let held = signed_list(vault)?;
    let (account, me) = (settings.account_id, settings.device_id);
    let (list, mut keys) = checked_list(vault, &me, &key, &held)?;
    // A re-keying in the list held here but not taken yet (stopped between keeping the list
    // and taking the keys): taken before anything is sealed.
    if list.rekeys.len() > vault.key_generation() {
        crate::rekey::adopt(vault, &list, &me, &key, &[])?;
        keys = checked_list(vault, &me, &key, &held)?.1;
    }
    let waiting = vault.rekeying_published()?.is_some();
    let mut engine =
        Engine::load(vault, &account, &me, &key, &keys, &list)?.quiet_after(quiet_seconds());
    if waiting {
        engine = engine.sealing_nothing();
    }
    let out = engine.outbound()?;
    Ok(Begun {
        client,
        account,
        me,
        key,
        root,
        held,
        sealed: out.sealed,
        out,
        _running: running,
    })
}

impl Begun {
    /// The network step, without the vault: the server's device list (checked against the one
    /// held here), then the engine's exchange — send, read heads, fetch.
    pub fn exchange(mut self) -> Exchanged {
        let list = fetch_list(&self.client, &self.root, &self.held);
        let inbound = match &list {
            Ok(entries) => {
                // Computers added to the list since it was last held here: nothing of theirs
                // is verified yet, so their logs are fetched from the start in this same run.
                for added in &entries[self.held.len()..] {
                    let id = &added.entry.device;
                    if added.entry.op == Op::Add
                        && *id != self.me
                        && !self.out.others.iter().any(|(d, _)| d == id)
                    {
                        self.out.others.push((id.clone(), 0));
                    }
                }
                exchange(&mut self.client as &mut dyn Remote, &self.out)
            }
            Err(_) => Inbound::default(),
        };
        Exchanged {
            begun: self,
            list,
            inbound,
        }
    }
}

/// The last step, with the vault again: keeps a longer device list, records what the server
/// acknowledged, checks its heads, verifies and applies the other computers' blobs. An alarm
/// is remembered for `sync status`.
pub fn finish(vault: &mut Vault, exchanged: Exchanged) -> Result<Report, SyncError> {
    let Exchanged {
        begun,
        list,
        inbound,
    } = exchanged;
    let result = (|| {
        let entries = list?;
        let (list, mut keys) = checked_list(vault, &begun.me, &begun.key, &entries)?;
        let longer = entries.len() > begun.held.len();
        if longer || list.rekeys.len() > vault.key_generation() {
            // Verified from the root, extending the held list (fetch_list), with our key in
            // it. A re-keying in it is taken with the longer list, in one transaction: every
            // blob sealed from now on uses the new keys. (Those this run's `begin` sealed,
            // before the list was heard, used the older ones — unless this computer made the
            // re-keying itself, when it sealed nothing.)
            let json = serde_json::to_string(&entries).map_err(|_| corrupt("device list"))?;
            let values = [(LIST, json.as_str())];
            if crate::rekey::adopt(vault, &list, &begun.me, &begun.key, &values)? > 0 {
                keys = checked_list(vault, &begun.me, &begun.key, &entries)?.1;
            } else {
                vault.sync_put(&values)?;
            }
        }
        let report = Engine::load(vault, &begun.account, &begun.me, &begun.key, &keys, &list)?
            .absorb(inbound, begun.sealed)?;
        // A re-keying this computer published that the list served does not hold: it never
        // reached the server, or the server withholds it. Either way this computer goes on
        // sealing nothing (what the others wrote was still taken): said, never cleared here.
        if vault.rekeying_published()?.is_some() {
            return Err(SyncError::Core(casebook_core::CoreError::Conflict(
                "the removal of a computer made here, with new keys for the practice, is not on the server's device list (it never got there, or the server is keeping it back): nothing new from this computer is sent until it is; remove that computer again (`casebook sync revoke`)".into(),
            )));
        }
        // A computer joined by code must reach the state the computer that added it signed:
        // checked once nothing is left to fetch (a no-op for every other computer).
        if report.remaining == 0 {
            crate::adding::check_reached(vault)?;
        }
        Ok(report)
    })();
    remember(vault, result)
}

/// Keeps an alarm for `sync status` (a failure that is not an alarm leaves no trace). A
/// proven `copied-vault` also makes this copy a computer of its own
/// ([`Vault::become_copy_elsewhere`]).
pub fn note_failure(vault: &mut Vault, e: SyncError) -> SyncError {
    // Proven that a copy of this vault on another computer writes as this one: this copy
    // (the second to write) becomes a computer of its own, so the two never share a log.
    if let SyncError::Alarm(Alarm::CopiedVault { proven: true, .. }) = &e
        && let Err(w) = vault.become_copy_elsewhere()
    {
        return w.into();
    }
    if let SyncError::Alarm(a) = &e
        && let Err(w) = vault.sync_put(&[(LAST_ALARM, &a.line())])
    {
        return w.into();
    }
    e
}

/// Keeps a run's outcome for `sync status`: when it last finished, or the alarm it stopped on.
fn remember(vault: &mut Vault, result: Result<Report, SyncError>) -> Result<Report, SyncError> {
    match result {
        Ok(report) => {
            let now = unix_now();
            vault.sync_put(&[(LAST_RUN, &now), (LAST_ALARM, "")])?;
            // For the Unlock screen; a failure to note it loses nothing.
            let _ = vault.note_synced(now.parse().unwrap_or(0));
            Ok(report)
        }
        Err(e) => Err(note_failure(vault, e)),
    }
}

fn unix_now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().to_string())
        .unwrap_or_default()
}

/// What `sync status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub enabled: bool,
    pub devices: Vec<DeviceStatus>,
    /// Seconds since the epoch of the last run that finished without an alarm.
    pub last_sync: Option<u64>,
    /// The alarm of the last run, if it stopped on one.
    pub alarm: Option<String>,
    /// Changes made on this computer that the server does not hold yet.
    pub pending_changes: u64,
    /// A short fingerprint of the records: computers that have seen the same changes show the same.
    pub fingerprint: String,
    /// The fingerprint as four words ([`compare_words`]).
    pub compare_words: String,
    /// How many times the practice's keys were changed (a revocation with the recovery key),
    /// as this computer holds them.
    pub key_generation: usize,
    /// This computer's newest checkpoint: its log on the server is cut below it once sent.
    pub checkpoint: Option<crate::checkpoint::Written>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceStatus {
    pub id: String,
    pub name: String,
    pub letter: char,
    pub revoked: bool,
    /// When it was added to the practice's device list (RFC 3339, as signed).
    pub added: String,
    /// When it was revoked (or took itself off with `sync disable`), as signed.
    pub revoked_at: Option<String>,
    /// For a revoked device: the last of its changes that counts.
    pub until_seq: Option<u64>,
    /// For a revoked device: what it sent is gone from the server (removed by this computer,
    /// or found gone after reading it), held here and in a checkpoint.
    pub log_removed: bool,
    pub this_computer: bool,
    /// When something new from this computer (changes or a heartbeat) was last verified here,
    /// seconds since the epoch; for this computer, when it last sealed something.
    pub last_heard: Option<i64>,
    /// Nothing new from it for [`crate::engine::STALE_SECONDS`] (counted from when it joined if
    /// nothing ever came), judged only when this computer itself has synced within that time:
    /// it is switched off, or the server is withholding its changes.
    pub stale: bool,
}

/// Each listed computer's name as the list now has it (its addition's, or its last rename's).
fn current_names(entries: &[Signed]) -> std::collections::BTreeMap<String, String> {
    let mut names = std::collections::BTreeMap::new();
    for s in entries {
        if matches!(s.entry.op, Op::Add | Op::Rename) {
            names.insert(s.entry.device.clone(), s.entry.name.clone());
        }
    }
    names
}

/// The practice's computers by id, from the signed device list held here, and "this
/// computer" for this one (whatever id its older audit entries carry is named by the list).
/// The ids other computers stamp their records with (as a conflict's `lost_device` names
/// them) are named too. Empty but for this computer before sync is on. No network.
pub fn device_names(vault: &Vault) -> std::collections::BTreeMap<String, String> {
    let mut names = current_names(&signed_list(vault).unwrap_or_default());
    for (record_id, device) in crate::engine::writers(vault).unwrap_or_default() {
        if let Some(name) = names.get(&device).cloned() {
            names.entry(record_id).or_insert(name);
        }
    }
    names.insert(vault.meta().device_id.clone(), "this computer".into());
    names
}

/// Four words from the records' fingerprint, to read off two computers' screens ("Compare
/// with another computer"): equal words mean both hold the same records, so the server has
/// shown both the same history. 44 bits: a server cannot make two different states show the
/// same words by trying.
pub fn compare_words(fingerprint: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("casebook compare v1\n{fingerprint}").as_bytes());
    let bits = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    let words = bip39::Language::English.word_list();
    (0..4)
        .map(|i| words[((bits >> (53 - 11 * i)) & 0x7ff) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sync's state on this computer (no network).
pub fn status(vault: &Vault, me: Option<&str>) -> Result<Status, SyncError> {
    status_with(vault, me, true)
}

/// [`status`], with the records' fingerprint and compare words only if `fingerprint` (they
/// read every record: the app's strip, refreshed after every run, goes without).
pub fn status_with(
    vault: &Vault,
    me: Option<&str>,
    fingerprint: bool,
) -> Result<Status, SyncError> {
    let entries = signed_list(vault)?;
    let (heard, sealed_at) = crate::engine::heard(vault)?;
    let removed = crate::engine::removed_logs(vault)?;
    let last_run: Option<i64> = vault.sync_get(LAST_RUN)?.and_then(|s| s.parse().ok());
    let now = chrono::Utc::now().timestamp();
    let names = current_names(&entries);
    let records = if fingerprint {
        vault.records_fingerprint()?
    } else {
        String::new()
    };
    let devices = entries
        .iter()
        .filter(|s| s.entry.op == Op::Add)
        .map(|s| {
            let this_computer = Some(s.entry.device.as_str()) == me;
            let revocation = entries
                .iter()
                .find(|r| r.entry.op == Op::Revoke && r.entry.device == s.entry.device);
            let revoked = revocation.is_some();
            let last_heard = if this_computer {
                sealed_at
            } else {
                heard.get(&s.entry.device).copied()
            };
            // Judged only from a run that finished: a computer that has not synced for days
            // has heard nothing new, and that is its own silence, not the others'.
            // Never heard from: counted from when it joined the list.
            let joined = chrono::DateTime::parse_from_rfc3339(&s.entry.at)
                .map(|t| t.timestamp())
                .ok();
            let since = last_heard.or(joined);
            let stale = !this_computer
                && !revoked
                && last_run.is_some_and(|run| {
                    now - run < crate::engine::STALE_SECONDS
                        && since.is_none_or(|t| now - t >= crate::engine::STALE_SECONDS)
                });
            DeviceStatus {
                id: s.entry.device.clone(),
                name: names
                    .get(&s.entry.device)
                    .cloned()
                    .unwrap_or_else(|| s.entry.name.clone()),
                letter: s.entry.letter,
                revoked,
                added: s.entry.at.clone(),
                revoked_at: revocation.map(|r| r.entry.at.clone()),
                until_seq: revocation.map(|r| r.entry.until.as_ref().map_or(0, |u| u.seq)),
                log_removed: revoked && removed.contains(&s.entry.device),
                this_computer,
                last_heard,
                stale,
            }
        })
        .collect();
    Ok(Status {
        enabled: signing_key(vault)?.is_some(),
        devices,
        last_sync: vault.sync_get(LAST_RUN)?.and_then(|s| s.parse().ok()),
        alarm: vault.sync_get(LAST_ALARM)?.filter(|s| !s.is_empty()),
        pending_changes: crate::engine::pending_changes(vault)?,
        compare_words: if fingerprint {
            compare_words(&records)
        } else {
            String::new()
        },
        fingerprint: records,
        key_generation: vault.key_generation(),
        checkpoint: crate::engine::last_checkpoint(vault)?,
    })
}

/// How long a computer stays unheard before its log may be emptied after an erasure:
/// [`crate::engine::QUIET_SECONDS`], or `CASEBOOK_SYNC_QUIET_SECONDS` (for end-to-end tests,
/// which cannot wait six hours).
fn quiet_seconds() -> i64 {
    std::env::var("CASEBOOK_SYNC_QUIET_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &i64| *s >= 0)
        .unwrap_or(crate::engine::QUIET_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::compare_words;

    #[test]
    fn compare_words_are_four_list_words_that_follow_the_fingerprint() {
        let a = compare_words("3f2a9c01d4e5b6a7");
        assert_eq!(
            a,
            compare_words("3f2a9c01d4e5b6a7"),
            "the same state, the same words"
        );
        let words: Vec<&str> = a.split(' ').collect();
        assert_eq!(words.len(), 4);
        let list = bip39::Language::English.word_list();
        assert!(words.iter().all(|w| list.contains(w)), "{a}");
        // Any other state shows other words (over a few hundred, no two alike).
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..500 {
            assert!(seen.insert(compare_words(&format!("{i:016x}"))));
        }
    }
}
