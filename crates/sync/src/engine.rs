//! One computer's sync against the server: seal this device's captured changes into its own
//! log, send what the server has not acknowledged, check every head the server reports, then
//! fetch, verify and apply the other devices' new blobs — each only after every blob its writer
//! had seen (its `view`), so changes are applied in an order that respects what caused what.
//!
//! The server is reached through [`Remote`] (HTTP in the CLI and the app, a fault-injecting
//! in-process server in the simulation). Anything the server does that an honest server never
//! does stops the run with an [`Alarm`]; what was verified and applied before it stays, nothing
//! suspect is applied, and local work carries on. State lives in the vault ([`Vault::sync_get`]),
//! so a crash at any step resumes where it stopped.

use casebook_core::registry::Store;
use casebook_core::{CoreError, SentEntry, Vault};
use casebook_wire::Head;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::batch::Batch;
use crate::blob::{self, Envelope, Expect, Inner, Kind};
use crate::chain::{Accepted, Alarm, Chains};
use crate::checkpoint::{self, AuditMark, Chunk, Written};
use crate::devices::DeviceList;

/// The schema version written in blobs (the clinical store's).
const SCHEMA: u32 = 8;
/// Changes per blob at most.
const BATCH: usize = 2_000;
const STATE_KEY: &str = "engine";
/// A device that has sealed nothing for this long seals a heartbeat at its next run, so the
/// others can tell a quiet computer from changes withheld by the server.
pub const HEARTBEAT_SECONDS: i64 = 3600;
/// Nothing new verified from a listed device for this long: shown as stale in `sync status`
/// (switched off for a while, or the server is withholding its changes).
pub const STALE_SECONDS: i64 = 3 * 24 * 3600;
/// Nothing new verified from a computer for this long (six missed heartbeats: it is switched
/// off) while an erasure is known: its log may hold the erased client, and it cannot cut its
/// own log until it comes back, so another computer empties it (see [`Engine::quiet_logs`]).
pub const QUIET_SECONDS: i64 = 6 * HEARTBEAT_SECONDS;

/// Why a request to the server did not go through. Nothing is lost: the run stops and the
/// next one carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    #[error("the account's storage on the server is full")]
    Full,
    #[error("the server refused the request: {0}")]
    Refused(String),
    #[error(
        "another sync of this vault is running (the app, or `casebook sync watch`): it will be picked up by the next run"
    )]
    Busy,
    #[error(
        "this computer was removed from the practice's computers (revoked): it can no longer sync; the records already here stay readable"
    )]
    Revoked,
}

/// The server, as the engine needs it.
pub trait Remote {
    /// The head of every device of the account that is not revoked.
    fn heads(&mut self) -> Result<Vec<Head>, RemoteError>;
    /// Stores this device's blob at `seq`. Succeeds too when the server already holds these
    /// very bytes there (a re-send after a lost acknowledgement).
    fn put(&mut self, seq: u64, bytes: &[u8]) -> Result<(), RemoteError>;
    /// The blobs of `device` from `from` to `to` (inclusive), in order.
    fn range(
        &mut self,
        device: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, RemoteError>;
    /// Removes this device's own blobs below `below` (a checkpoint covers them).
    fn cut(&mut self, below: u64) -> Result<(), RemoteError>;
    /// Removes the whole log of `device`, revoked from the practice (this device's
    /// checkpoint, its log cut below it, holds everything in it).
    fn remove_revoked(&mut self, device: &str) -> Result<(), RemoteError>;
    /// Removes another device's blobs up to `through` (its last kept as a bodiless head): a
    /// computer switched off since an erasure, whose log this device's checkpoint holds.
    fn empty(&mut self, device: &str, through: u64) -> Result<(), RemoteError>;
}

/// The practice's sync keys: every device holds them; the server never does. Each list is
/// newest first: blobs are sealed to the first, and every one opens (older generations,
/// from before a re-keying). Never empty.
pub struct PracticeKeys {
    pub clinical: Vec<age::x25519::Identity>,
    pub identity: Vec<age::x25519::Identity>,
}

impl PracticeKeys {
    fn for_kind(&self, kind: Kind) -> &[age::x25519::Identity] {
        match kind {
            Kind::Identity | Kind::IdentityCheckpoint => &self.identity,
            _ => &self.clinical,
        }
    }

    /// Where a new blob of `kind` is sealed to: the newest key.
    fn sealing(&self, kind: Kind) -> Result<age::x25519::Recipient, SyncError> {
        self.for_kind(kind)
            .first()
            .map(|i| i.to_public())
            .ok_or_else(|| crate::practice::corrupt("practice keys"))
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{}", .0.line())]
    Alarm(Alarm),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("a blob could not be made: {0}")]
    Seal(#[from] crate::error::BlobError),
    /// Adding a computer by code failed (named: expired, wrong, declined, key check).
    #[error(transparent)]
    Pair(#[from] crate::pairing::PairError),
}

/// The engine's state, kept in the vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    /// Capture marks (clinical, identity) of what is sealed.
    sent: [i64; 2],
    /// The seq the next sealed blob gets.
    next_seq: u64,
    /// The hash of this device's last sealed blob.
    last_hash: Option<String>,
    chains: Chains,
    /// When this device last sealed a blob (seconds since the epoch): heartbeats.
    #[serde(default)]
    sealed_at: Option<i64>,
    /// When a new blob of each other device was last verified here (seconds since the epoch).
    #[serde(default)]
    heard: BTreeMap<String, i64>,
    /// The last entry of this device's audit trail sealed.
    #[serde(default)]
    audit_sent: i64,
    /// This device's newest checkpoint, and the changes sealed since.
    #[serde(default)]
    checkpoint: Option<Written>,
    #[serde(default)]
    since_checkpoint: u64,
    /// When this device first sealed a blob (a day after it, a first checkpoint is due).
    #[serde(default)]
    started_at: Option<i64>,
    /// Erasures known while this device had sealed no change yet (a new computer restored
    /// from a backup learns of older ones as it catches up: its log holds nothing to cut).
    #[serde(default)]
    erasures_before_any_change: Option<i64>,
    /// Other devices whose chain started again at a checkpoint: its chunks up to this seq
    /// are applied in full.
    #[serde(default)]
    restarting: BTreeMap<String, u64>,
    /// How many changes each sealed blob not yet acknowledged carries, by seq ("12 changes
    /// waiting to be sent"); dropped once the server has it.
    #[serde(default)]
    carried: BTreeMap<u64, u64>,
    /// The id each other computer's vault stamps its writes with, and the computer (its id in
    /// the device list) whose signed blobs carried them: to name "where" in a conflict.
    #[serde(default)]
    writers: BTreeMap<String, String>,
    /// Devices whose log came in a checkpoint applied in full rather than blob by blob (a
    /// revoked device's, read by its writer to the revocation's cut; or a log emptied on the
    /// server): their blobs up to this seq are held already.
    #[serde(default)]
    covered: BTreeMap<String, u64>,
    /// Revoked devices whose log is gone from the server (removed by this device, or found
    /// gone once read to its cut): never asked to remove again.
    #[serde(default)]
    removed_logs: BTreeSet<String>,
    /// What checkpoints applied here in full hold of other computers' logs (device → seq →
    /// that blob's hash, and the last audit entry of theirs the writer held): a log found
    /// emptied on the server up to one of these is taken as read to it.
    #[serde(default)]
    offers: BTreeMap<String, BTreeMap<u64, Offer>>,
    /// Live computers' logs this device had emptied on the server: through which seq, and
    /// how many erasures were known then (a later erasure may empty it again).
    #[serde(default)]
    emptied: BTreeMap<String, Emptied>,
    /// Per writer, the place of a blob, signed and placed right, that no key this device
    /// holds opens: sealed after a re-keying this device has not taken yet (the revocation
    /// entry reached the list after this run read it). Left for the next run, which reads the
    /// list first; a blob at the same place still closed then is `altered` (the server keeps
    /// the re-keying from this device). One per writer, so closed blobs of two writers cannot
    /// take turns to wait for ever.
    #[serde(default)]
    waiting_for_keys: BTreeMap<String, u64>,
}

/// A checkpoint's word for another computer's log up to one blob (see `State::offers`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Offer {
    hash: String,
    #[serde(default)]
    audit: Option<AuditMark>,
    /// The checkpoint's writer: the offer holds once all its chunks are applied.
    from: String,
}

/// A live computer's log emptied by this device (see `State::emptied`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Emptied {
    through: u64,
    erasures: i64,
}

/// What one run did. Blobs are counted whatever they carry (change batches, heartbeats).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub sealed: usize,
    pub sent: usize,
    pub received: usize,
    pub applied_changes: usize,
    pub conflicts: usize,
    /// Warnings that did not stop the run (this device's lost blobs re-sent).
    pub warnings: Vec<Alarm>,
    /// Blobs of other devices the server holds that this run did not fetch (it fetches at most
    /// [`Outbound::cap`] per device): another run carries on.
    pub remaining: u64,
    /// This run cut this device's log on the server below its newest checkpoint.
    pub compacted: bool,
    /// Revoked computers' logs this run removed from the server (this device's checkpoint
    /// holds them).
    pub removed_logs: usize,
    /// Logs of computers switched off since an erasure that this run emptied on the server
    /// (this device's checkpoint holds them).
    pub emptied_logs: usize,
}

/// One device's engine over its vault.
pub struct Engine<'a> {
    vault: &'a mut Vault,
    account: String,
    me: String,
    signer: &'a SigningKey,
    keys: &'a PracticeKeys,
    devices: &'a DeviceList,
    state: State,
    /// The time this run goes by (seconds since the epoch).
    now: i64,
    /// How long a computer stays unheard before its log may be emptied ([`QUIET_SECONDS`]).
    quiet: i64,
    /// In this run: checkpoints' first chunks read in order that wait for other logs, with
    /// what they wait for (see [`Engine::stuck_checkpoint`]).
    stalled: BTreeMap<(String, u64), Vec<(String, crate::blob::HeadRef)>>,
    /// The one of them to take in full next.
    forced: Option<(String, u64)>,
    /// Seal nothing in this run ([`Engine::sealing_nothing`]).
    hold: bool,
    /// Blobs found closed to every key in this run (`State::waiting_for_keys`): met again in
    /// the same run, they wait on, without an alarm.
    closed_now: BTreeSet<(String, u64)>,
}

impl<'a> Engine<'a> {
    /// The engine for `vault`, with its state as last saved.
    pub fn load(
        vault: &'a mut Vault,
        account: &str,
        me: &str,
        signer: &'a SigningKey,
        keys: &'a PracticeKeys,
        devices: &'a DeviceList,
    ) -> Result<Self, SyncError> {
        let me = me.to_string();
        let state = match saved(vault)? {
            Some(state) => state,
            None => State {
                sent: [0, 0],
                next_seq: 1,
                last_hash: None,
                chains: inherited_chains(vault, &me)?,
                sealed_at: None,
                heard: BTreeMap::new(),
                audit_sent: 0,
                checkpoint: None,
                since_checkpoint: 0,
                started_at: None,
                erasures_before_any_change: None,
                restarting: BTreeMap::new(),
                carried: BTreeMap::new(),
                writers: BTreeMap::new(),
                covered: BTreeMap::new(),
                removed_logs: BTreeSet::new(),
                offers: BTreeMap::new(),
                emptied: BTreeMap::new(),
                waiting_for_keys: BTreeMap::new(),
            },
        };
        Ok(Engine {
            vault,
            account: account.to_string(),
            me,
            signer,
            keys,
            devices,
            state,
            now: chrono::Utc::now().timestamp(),
            quiet: QUIET_SECONDS,
            stalled: BTreeMap::new(),
            forced: None,
            hold: false,
            closed_now: BTreeSet::new(),
        })
    }

    /// The same engine going by another time (for tests of heartbeats and staleness).
    pub fn at(mut self, now: i64) -> Self {
        self.now = now;
        self
    }

    /// The same engine taking a computer unheard for `seconds` as switched off (instead of
    /// [`QUIET_SECONDS`]; end-to-end tests that cannot wait hours).
    pub fn quiet_after(mut self, seconds: i64) -> Self {
        self.quiet = seconds;
        self
    }

    /// The same engine sealing nothing new in this run (blobs sealed before are still sent):
    /// while this computer waits to take keys it handed out itself, whatever it sealed would
    /// use the keys a removed computer holds.
    pub fn sealing_nothing(mut self) -> Self {
        self.hold = true;
        self
    }

    fn state_json(state: &State) -> Result<String, SyncError> {
        serde_json::to_string(state).map_err(|e| SyncError::Core(CoreError::Corrupt(e.to_string())))
    }

    fn save(&mut self) -> Result<(), SyncError> {
        let json = Self::state_json(&self.state)?;
        self.vault.sync_put(&[(STATE_KEY, &json)])?;
        Ok(())
    }

    /// The verified chains (for status, and for the simulation's checks).
    pub fn chains(&self) -> &Chains {
        &self.state.chains
    }

    /// Seals this device's captured changes into blobs, kept in the vault until acknowledged;
    /// with nothing to seal for [`HEARTBEAT_SECONDS`] (or ever), a heartbeat. This device's
    /// audit entries not sent yet ride in the clinical blobs and heartbeats sealed (never in
    /// identity blobs, never alone): an entry left waiting by identity edits alone goes with
    /// a heartbeat once it is [`HEARTBEAT_SECONDS`] old.
    pub fn seal(&mut self) -> Result<usize, SyncError> {
        let mut sealed = 0;
        // Blobs that carried audit entries (clinical blobs and heartbeats).
        let mut carriers = 0;
        let unacked: std::collections::BTreeSet<u64> = self
            .vault
            .sealed_unacked()?
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        self.state.carried.retain(|seq, _| unacked.contains(seq));
        for (i, (store, kind)) in [
            (Store::Clinical, Kind::Clinical),
            (Store::Identity, Kind::Identity),
        ]
        .into_iter()
        .enumerate()
        {
            loop {
                let out = self
                    .vault
                    .outgoing_changes(store, self.state.sent[i], BATCH)?;
                if out.upto == self.state.sent[i] {
                    break;
                }
                let mut next = self.state.clone();
                next.sent[i] = out.upto;
                next.since_checkpoint += out.changes.len() as u64;
                if out.changes.is_empty() {
                    self.state = next;
                    self.save()?;
                    continue;
                }
                next.carried
                    .insert(self.state.next_seq, out.changes.len() as u64);
                let mut batch = Batch {
                    changes: out.changes,
                    audit: Vec::new(),
                };
                if kind == Kind::Clinical {
                    self.take_audit(&mut batch, &mut next)?;
                    carriers += 1;
                }
                self.seal_one(kind, &encode(&batch)?, next)?;
                sealed += 1;
            }
        }
        let due = self.checkpoint_due()?;
        let quiet = self
            .state
            .sealed_at
            .is_none_or(|t| self.now - t >= HEARTBEAT_SECONDS);
        // Blobs still waiting to be sent move the head once they are: no heartbeat beside
        // them (a computer offline for a week does not pile up 168 of them).
        let idle = sealed == 0 && quiet;
        if !due
            && carriers == 0
            && (idle || self.audit_waiting_long()?)
            // Nothing waiting to be sent, from before this run or sealed in it.
            && unacked.is_empty()
            && sealed == 0
        {
            let mut next = self.state.clone();
            let mut batch = Batch::default();
            self.take_audit(&mut batch, &mut next)?;
            self.seal_one(Kind::Heartbeat, &encode(&batch)?, next)?;
            sealed += 1;
            carriers += 1;
        }
        // Entries beyond what one blob carries follow in blobs of their own, but only beside
        // a blob that carried some: applying changes writes an audit entry, and a blob of that
        // alone would wake the others, whose applying would write one, and so on.
        if due {
            sealed += self.seal_checkpoint()?;
        } else if carriers > 0 {
            sealed += self.seal_audit()?;
        }
        Ok(sealed)
    }

    /// Moves this device's audit entries not sent yet (a batch at most) into `batch`.
    fn take_audit(&mut self, batch: &mut Batch, next: &mut State) -> Result<(), SyncError> {
        let entries = self.vault.audit_outgoing(next.audit_sent, BATCH)?;
        batch.audit = entries.iter().map(SentEntry::from).collect();
        if let Some(last) = batch.audit.last() {
            next.audit_sent = last.seq;
        }
        Ok(())
    }

    /// Whether the oldest audit entry not sent yet has waited [`HEARTBEAT_SECONDS`].
    fn audit_waiting_long(&self) -> Result<bool, SyncError> {
        let oldest = self.vault.audit_outgoing(self.state.audit_sent, 1)?;
        Ok(oldest
            .first()
            .is_some_and(|e| match chrono::DateTime::parse_from_rfc3339(&e.at) {
                Ok(at) => self.now - at.timestamp() >= HEARTBEAT_SECONDS,
                Err(_) => true,
            }))
    }

    /// Whether a checkpoint is due: after [`checkpoint::AFTER_CHANGES`] changes, a day with
    /// changes, or an erasure (so the log holding the erased client's data is cut).
    fn checkpoint_due(&mut self) -> Result<bool, SyncError> {
        let erasures = self.vault.erasures_known()?;
        let since = self.state.since_checkpoint;
        if self.state.checkpoint.is_none() && since == 0 {
            // No change sealed and no checkpoint: nothing of this device's on the server
            // holds a client's data, so erasures known now need no checkpoint.
            self.state.erasures_before_any_change = Some(erasures);
        }
        let (last_at, last_erasures) = match &self.state.checkpoint {
            Some(w) => (Some(w.at), w.erasures),
            None => (
                self.state.started_at,
                self.state.erasures_before_any_change.unwrap_or(0),
            ),
        };
        Ok(since >= checkpoint::AFTER_CHANGES
            || erasures != last_erasures
            || (since > 0 && last_at.is_some_and(|t| self.now - t >= checkpoint::AFTER_SECONDS))
            || self.revoked_logs_uncovered()
            || self.quiet_logs()?.iter().any(|(_, held)| !held))
    }

    /// Live computers quiet here for [`QUIET_SECONDS`] (switched off; see
    /// [`Engine::quiet_after`]) while an erasure is
    /// known that this device has not emptied their log for: their blobs on the server may
    /// hold the erased client, and they cannot cut their own log until they come back. Each
    /// with whether this device's newest checkpoint holds its log as far as read here (then
    /// it can be emptied that far; if not, a checkpoint is due).
    fn quiet_logs(&self) -> Result<Vec<(String, bool)>, SyncError> {
        let erasures = self.vault.erasures_known()?;
        if erasures == 0 {
            return Ok(Vec::new());
        }
        let view = self.state.checkpoint.as_ref().map(|w| &w.view);
        Ok(self
            .devices
            .devices
            .iter()
            .filter(|(id, d)| **id != self.me && !d.revoked)
            .filter_map(|(id, _)| {
                let head = self.state.chains.head(id)?.seq;
                let heard = *self.state.heard.get(id)?;
                let done = self
                    .state
                    .emptied
                    .get(id)
                    .is_some_and(|e| e.erasures >= erasures);
                (self.now - heard >= self.quiet && !done).then(|| {
                    let held = view.and_then(|v| v.get(id)) == Some(&head);
                    (id.clone(), held)
                })
            })
            .collect())
    }

    /// Quiet computers' logs that can be emptied now, with the seq to empty through: those
    /// [`Engine::quiet_logs`] finds held by this device's newest checkpoint, which starts
    /// this device's log on the server (any computer that has not read that far then finds
    /// this log cut, applies the checkpoint in full, and takes their log as read from it).
    fn emptiable_logs(&self) -> Result<Vec<(String, u64)>, SyncError> {
        Ok(self
            .quiet_logs()?
            .into_iter()
            .filter(|(_, held)| *held)
            .filter_map(|(id, _)| {
                let head = self.state.chains.head(&id)?.seq;
                Some((id, head))
            })
            .collect())
    }

    /// Revoked computers whose log may still be on the server (as far as this device knows),
    /// each with its revocation's cut: the last blob that counts (`None`: none does).
    fn revoked_logs(&self) -> impl Iterator<Item = (&str, Option<&crate::blob::HeadRef>)> {
        self.devices
            .devices
            .iter()
            .filter(|(id, d)| {
                d.revoked && **id != self.me && !self.state.removed_logs.contains(*id)
            })
            .map(|(id, d)| (id.as_str(), d.until.as_ref().filter(|u| u.seq > 0)))
    }

    /// Whether a revoked computer's log, read here to its cut, is still on the server and not
    /// held by this device's newest checkpoint: a new checkpoint lets it be removed (it may
    /// hold a client erased since, readable with the practice's keys).
    fn revoked_logs_uncovered(&self) -> bool {
        self.revoked_logs().any(|(id, until)| {
            until.is_some_and(|until| {
                self.state
                    .chains
                    .head(id)
                    .is_some_and(|h| h.seq >= until.seq)
                    && self
                        .state
                        .checkpoint
                        .as_ref()
                        .is_none_or(|w| w.view.get(id).is_none_or(|s| *s < until.seq))
            })
        })
    }

    /// Revoked computers' logs that can go: those of which nothing counts, and those that this
    /// device's newest checkpoint holds to their cut — once that checkpoint starts this
    /// device's log on the server (any computer that has not read one then finds this log
    /// cut, applies the checkpoint in full, and so holds it). Each with its cut's seq (0:
    /// nothing counts).
    fn removable_logs(&self) -> Vec<(String, u64)> {
        let view = self.state.checkpoint.as_ref().map(|w| &w.view);
        self.revoked_logs()
            .filter(|(id, until)| match until {
                None => true,
                Some(until) => view
                    .and_then(|v| v.get(*id))
                    .is_some_and(|s| *s >= until.seq),
            })
            .map(|(id, until)| (id.to_string(), until.map_or(0, |u| u.seq)))
            .collect()
    }

    /// Seals a checkpoint now (what [`Engine::seal`] does when one is due): this device's
    /// whole synced state, as chunks in its log, after the audit entries not yet sealed (so
    /// the checkpoint's audit mark covers them). The next exchange that sends them all cuts
    /// the log below the first. Returns the blobs sealed.
    pub fn seal_checkpoint(&mut self) -> Result<usize, SyncError> {
        let audited = self.seal_audit()?;
        let erasures = self.vault.erasures_known()?;
        let clinical = self.vault.checkpoint_rows(Store::Clinical)?;
        let identity = self.vault.checkpoint_rows(Store::Identity)?;
        let audit = match self.state.audit_sent {
            0 => None,
            n => self
                .vault
                .audit_outgoing(n - 1, 1)?
                .into_iter()
                .next()
                .map(|e| AuditMark {
                    seq: e.seq,
                    hash: e.hash,
                }),
        };
        // Who wrote what, for a computer that starts this log here: the others as this
        // computer learnt them, and this computer itself.
        let mut writers = self.state.writers.clone();
        writers.insert(self.vault.meta().device_id.clone(), self.me.clone());
        // Each other computer's audit trail as far as held here, for a computer that takes
        // its log as read from this checkpoint.
        let mut audits = BTreeMap::new();
        for device in self.state.chains.view().keys() {
            if let Some((seq, hash)) = self.vault.audit_last_held(device)? {
                audits.insert(device.clone(), AuditMark { seq, hash });
            }
        }
        let parts = checkpoint::split(clinical, identity, audit, writers, audits);
        let first = self.state.next_seq;
        let view: BTreeMap<String, u64> = self
            .state
            .chains
            .view()
            .into_iter()
            .map(|(d, h)| (d, h.seq))
            .collect();
        let n = parts.len();
        for (i, (kind, chunk)) in parts.into_iter().enumerate() {
            let payload = serde_json::to_vec(&chunk)
                .map_err(|e| SyncError::Core(CoreError::Corrupt(e.to_string())))?;
            let mut next = self.state.clone();
            if i + 1 == n {
                // Only a whole checkpoint counts: one cut short by a crash is sealed again.
                next.checkpoint = Some(Written {
                    first,
                    last: first + n as u64 - 1,
                    at: self.now,
                    erasures,
                    cut: false,
                    view: view.clone(),
                });
                next.since_checkpoint = 0;
            }
            self.seal_one(kind, &payload, next)?;
        }
        Ok(audited + n)
    }

    /// Seals this device's audit entries not yet sealed, in batches.
    fn seal_audit(&mut self) -> Result<usize, SyncError> {
        let mut sealed = 0;
        loop {
            let entries = self.vault.audit_outgoing(self.state.audit_sent, BATCH)?;
            let Some(last) = entries.last() else {
                return Ok(sealed);
            };
            let mut next = self.state.clone();
            next.audit_sent = last.seq;
            let sent: Vec<SentEntry> = entries.iter().map(SentEntry::from).collect();
            let payload = serde_json::to_vec(&sent)
                .map_err(|e| SyncError::Core(CoreError::Corrupt(e.to_string())))?;
            self.seal_one(Kind::Audit, &payload, next)?;
            sealed += 1;
        }
    }

    /// Seals one blob of `kind` at the next seq and keeps it with `next` (the state after it),
    /// in one transaction.
    fn seal_one(&mut self, kind: Kind, payload: &[u8], mut next: State) -> Result<(), SyncError> {
        let inner = Inner {
            account: self.account.clone(),
            device: self.me.clone(),
            seq: self.state.next_seq,
            kind,
            prev: self.state.last_hash.clone(),
            view: self.state.chains.view(),
            schema: SCHEMA,
            len: 0,
        };
        let bytes = blob::seal(inner, payload, &self.keys.sealing(kind)?, self.signer)?;
        next.next_seq += 1;
        next.last_hash = Some(blob::hash(&bytes));
        next.sealed_at = Some(self.now);
        next.started_at.get_or_insert(self.now);
        let json = Self::state_json(&next)?;
        self.vault
            .store_sealed(self.state.next_seq, &bytes, &[(STATE_KEY, &json)])?;
        self.state = next;
        Ok(())
    }

    /// What this run sends and asks for, prepared with the vault (nothing goes over the
    /// network here): new changes sealed, every blob not yet acknowledged, and how far each
    /// other device's log is verified.
    pub fn outbound(&mut self) -> Result<Outbound, SyncError> {
        let sealed = if self.hold { 0 } else { self.seal()? };
        let others = self
            .devices
            .devices
            .iter()
            .filter(|(id, d)| **id != self.me && !d.revoked)
            .map(|(id, _)| (id.clone(), self.state.chains.head(id).map_or(0, |h| h.seq)))
            .collect();
        // Revoked devices: their log up to the revocation's cut still counts.
        let cut = self
            .devices
            .cuts()
            .filter(|(id, _)| *id != self.me)
            .map(|(id, until)| {
                let have = self.state.chains.head(id).map_or(0, |h| h.seq);
                (id.to_string(), have, until.seq)
            })
            .filter(|(_, have, until)| have < until)
            .collect();
        let compact = self
            .state
            .checkpoint
            .as_ref()
            .filter(|w| !w.cut && w.first > 1)
            .map(|w| w.first);
        let remove = self.removable_logs();
        let empty = self.emptiable_logs()?;
        let erasures = if empty.is_empty() {
            0
        } else {
            self.vault.erasures_known()?
        };
        Ok(Outbound {
            me: self.me.clone(),
            mine: self.state.chains.head(&self.me).map_or(0, |h| h.seq),
            sealed,
            blobs: self.vault.sealed_unacked()?,
            others,
            cut,
            cap: None,
            compact,
            remove,
            empty,
            erasures,
        })
    }

    /// Takes in what the server answered (gathered by [`exchange`] without the vault): records
    /// what it acknowledged, checks its heads, then verifies and applies the other devices'
    /// blobs, each after every blob its writer had seen. This device's own blobs the server lost
    /// are marked to be sent again by the next run (a warning).
    pub fn absorb(&mut self, inbound: Inbound, sealed: usize) -> Result<Report, SyncError> {
        let mut report = Report {
            sealed,
            remaining: inbound.remaining,
            ..Report::default()
        };
        for (seq, hash) in &inbound.acked {
            self.vault.mark_acked(*seq)?;
            self.state.chains.record_own(*seq, hash);
            report.sent += 1;
        }
        if let (Some(below), Some(w)) = (inbound.compacted, self.state.checkpoint.as_mut())
            && w.first == below
        {
            w.cut = true;
            let me = self.me.clone();
            self.state.chains.compact(&me, below);
            report.compacted = true;
            self.vault.forget_compacted(below, self.state.sent)?;
        }
        for device in &inbound.removed {
            self.state.removed_logs.insert(device.clone());
            report.removed_logs += 1;
        }
        for (device, through) in &inbound.emptied {
            self.state.emptied.insert(
                device.clone(),
                Emptied {
                    through: *through,
                    erasures: inbound.erasures,
                },
            );
            report.emptied_logs += 1;
        }
        self.save()?;
        if let Some((seq, bytes)) = &inbound.own {
            self.own_served(*seq, bytes)?;
        }
        if let Some(e) = inbound.error {
            return Err(SyncError::Remote(e));
        }
        let complete = inbound.complete;
        let heads = inbound.heads.unwrap_or_default();
        // A revoked log read here to its cut and no longer listed: another computer removed it.
        let gone: Vec<String> = self
            .revoked_logs()
            .filter(|(id, until)| {
                until.is_none_or(|u| self.state.chains.head(id).is_some_and(|h| h.seq >= u.seq))
                    && !heads.iter().any(|h| h.device_id == *id)
            })
            .map(|(id, _)| id.to_string())
            .collect();
        if !gone.is_empty() {
            self.state.removed_logs.extend(gone);
            self.save()?;
        }
        let heads = self.with_cuts(heads);
        for alarm in self.state.chains.check_heads(&heads) {
            match alarm {
                Alarm::OwnBlobsGone { had, served } => {
                    for seq in served + 1..=had {
                        self.vault.mark_unacked(seq)?;
                    }
                    report.warnings.push(Alarm::OwnBlobsGone { had, served });
                }
                other => return Err(SyncError::Alarm(other)),
            }
        }
        let mut pending: Vec<(String, Queue)> = inbound
            .fetched
            .into_iter()
            .map(|(d, blobs)| (d, blobs.into()))
            .collect();
        loop {
            let mut progress = false;
            for (device, blobs) in pending.iter_mut() {
                while let Some((seq, bytes)) = blobs.front() {
                    match self.take(device, *seq, bytes, &mut report)? {
                        Taken::Applied => {
                            blobs.pop_front();
                            progress = true;
                        }
                        Taken::Waiting => break,
                    }
                }
            }
            if !progress && !self.take_emptied(&heads)? && !self.stuck_checkpoint(&heads, &pending)
            {
                break;
            }
        }
        // A log with a gap below its next blob that no checkpoint read here holds: blobs were
        // lost or withheld (nothing is left for a later step to bring).
        if report.remaining == 0 && complete {
            for (device, blobs) in &pending {
                let Some((seq, _)) = blobs.front() else {
                    continue;
                };
                if self.state.chains.past_gap(device, *seq) {
                    return Err(SyncError::Alarm(Alarm::Missing {
                        device: device.clone(),
                        from: self.state.chains.head(device).map_or(1, |h| h.seq + 1),
                        to: seq - 1,
                    }));
                }
            }
        }
        // Blobs named by a writer's view but never served: withheld.
        if let Some(alarm) = self
            .state
            .chains
            .check_heads(&heads)
            .into_iter()
            .find(|a| !a.is_warning())
        {
            return Err(SyncError::Alarm(alarm));
        }
        // A revoked computer's log not read to its cut, with nothing left for a later step:
        // its blobs were withheld, or it was removed and no checkpoint read here held it.
        if report.remaining == 0
            && complete
            && let Some((device, until)) = self.devices.cuts().find(|(id, until)| {
                *id != self.me && self.state.chains.head(id).map_or(0, |h| h.seq) < until.seq
            })
        {
            return Err(SyncError::Alarm(Alarm::Missing {
                device: device.to_string(),
                from: self.state.chains.head(device).map_or(0, |h| h.seq) + 1,
                to: until.seq,
            }));
        }
        Ok(report)
    }

    /// A blob the server holds in this device's own log that this device did not know of.
    /// One it sealed itself is fine (an acknowledgement lost on the way). One it never
    /// sealed that is signed with its own key proves that another copy of this vault writes
    /// as this device (`copied-vault`, proven: the server cannot sign as this device); one
    /// that does not check out is the server's doing (`altered`).
    fn own_served(&mut self, seq: u64, bytes: &[u8]) -> Result<(), SyncError> {
        let hash = blob::hash(bytes);
        let sealed_here = self
            .vault
            .sealed_unacked()?
            .iter()
            .any(|(s, b)| *s == seq && blob::hash(b) == hash);
        if sealed_here || self.state.chains.holds(&self.me, seq, &hash) {
            return Ok(());
        }
        let altered = || {
            SyncError::Alarm(Alarm::Altered {
                device: self.me.clone(),
                seq,
            })
        };
        let key = self
            .devices
            .key_for_blob(&self.me, seq)
            .ok_or_else(altered)?;
        let kind = Envelope::parse(bytes).map_err(|_| altered())?.outer.kind;
        let at = Expect {
            account: &self.account,
            device: &self.me,
            seq,
        };
        match blob::open(bytes, &at, key, self.keys.for_kind(kind)) {
            Ok(_) => Err(SyncError::Alarm(Alarm::CopiedVault {
                device: self.me.clone(),
                seq,
                proven: true,
            })),
            Err(_) => Err(altered()),
        }
    }

    /// The server's heads as the checks read them: a revoked device's head is where its
    /// revocation cut its log, whatever the server says (it leaves revoked devices out).
    fn with_cuts(&self, mut heads: Vec<Head>) -> Vec<Head> {
        heads.retain(|h| {
            self.devices
                .devices
                .get(&h.device_id)
                .is_none_or(|d| !d.revoked)
        });
        for (id, until) in self.devices.cuts() {
            heads.push(Head {
                device_id: id.to_string(),
                seq: until.seq,
                hash: until.hash.clone(),
            });
        }
        heads
    }

    /// Verifies one blob of `device` and applies it, unless it depends on blobs of other
    /// devices not applied yet.
    fn take(
        &mut self,
        device: &str,
        seq: u64,
        bytes: &[u8],
        report: &mut Report,
    ) -> Result<Taken, SyncError> {
        let altered = || {
            SyncError::Alarm(Alarm::Altered {
                device: device.to_string(),
                seq,
            })
        };
        // A blob that a checkpoint applied in full already held.
        if self.state.covered.get(device).is_some_and(|c| seq <= *c) {
            return Ok(Taken::Applied);
        }
        // A revoked device's blobs count only up to its revocation's cut.
        let key = self.devices.key_for_blob(device, seq).ok_or_else(|| {
            SyncError::Alarm(Alarm::DeviceKey {
                device: device.to_string(),
            })
        })?;
        let kind = Envelope::parse(bytes).map_err(|_| altered())?.outer.kind;
        let at = Expect {
            account: &self.account,
            device,
            seq,
        };
        let opened = match blob::open(bytes, &at, key, self.keys.for_kind(kind)) {
            Ok(o) => {
                // The writer's closed blob, if any, is past: its keys are here now.
                self.state.waiting_for_keys.remove(device);
                o
            }
            Err(crate::error::BlobError::BadSignature) => {
                return Err(SyncError::Alarm(Alarm::DeviceKey {
                    device: device.to_string(),
                }));
            }
            // Signed by its writer, at its place, yet closed to every key held here: sealed
            // to a newer key generation than this device has taken (see
            // `State::waiting_for_keys`).
            Err(crate::error::BlobError::Undecryptable) => {
                let this = (device.to_string(), seq);
                if self.closed_now.contains(&this) {
                    return Ok(Taken::Waiting);
                }
                if self.state.waiting_for_keys.get(device) == Some(&seq) {
                    return Err(altered());
                }
                self.state.waiting_for_keys.insert(device.to_string(), seq);
                self.closed_now.insert(this);
                self.save()?;
                report.remaining += 1;
                return Ok(Taken::Waiting);
            }
            Err(_) => return Err(altered()),
        };
        // A checkpoint chunk: applied in full where the writer's chain starts again at it (a
        // log cut below it, found past a gap), or after such a start; otherwise everything in
        // it is here already.
        let chunk = if checkpoint::is_chunk(kind) {
            Some(Chunk::decode(&opened.payload).ok_or_else(altered)?)
        } else {
            None
        };
        let first_chunk = chunk.as_ref().is_some_and(|c| c.part == 1);
        let restarts = first_chunk && self.state.chains.past_gap(device, seq);
        // A first chunk read in order that waits for a log emptied on the server up to what
        // its view names (see `Engine::stuck_checkpoint`): taken in full, as if past a gap.
        let forced = first_chunk && self.forced.as_ref() == Some(&(device.to_string(), seq));
        let in_full = restarts
            || forced
            || (chunk.is_some()
                && self
                    .state
                    .restarting
                    .get(device)
                    .is_some_and(|end| seq <= *end));
        // A live computer's log found emptied below this blob (it was switched off since an
        // erasure, and another computer emptied it): taken as read as far as a checkpoint
        // applied here in full holds it. With no such checkpoint (yet), the blob waits; one
        // still waiting at the end of the run is `missing`.
        let revoked = self.devices.devices.get(device).is_some_and(|d| d.revoked);
        if !restarts && !revoked && self.state.chains.past_gap(device, seq) {
            match self.offered(device, seq - 1) {
                Some(held) => {
                    self.take_offer(device, held)?;
                    if seq <= held {
                        self.save()?;
                        return Ok(Taken::Applied);
                    }
                }
                None => return Ok(Taken::Waiting),
            }
        }
        let audits = chunk
            .as_ref()
            .filter(|_| restarts || forced)
            .map(|c| c.audits.clone())
            .unwrap_or_default();
        // Causal order: every blob its writer had seen is applied here first. (Not for a
        // checkpoint taken in full: it holds what its writer had seen, and the blobs named
        // may themselves be cut.)
        let mut unmet = Vec::new();
        for (other, claim) in opened.inner.view.iter().filter(|_| !in_full) {
            // A writer that saw a revoked device's blob past its cut: that blob never counts.
            // (A device not in the list held here is waited for: the writer may have seen a
            // newer list than the one this run fetched.)
            let revoked = self.devices.devices.get(other).is_some_and(|d| d.revoked);
            if revoked && *other != self.me && self.devices.key_for_blob(other, claim.seq).is_none()
            {
                return Err(SyncError::Alarm(Alarm::DeviceKey {
                    device: other.clone(),
                }));
            }
            if *other != self.me && self.state.chains.head(other).map_or(0, |h| h.seq) < claim.seq {
                unmet.push((other.clone(), claim.clone()));
            }
        }
        if !unmet.is_empty() {
            if first_chunk {
                self.stalled.insert((device.to_string(), seq), unmet);
            }
            return Ok(Taken::Waiting);
        }
        let before = self.state.chains.clone();
        let accepted = if restarts {
            self.state.chains.restart(&opened)
        } else {
            self.state.chains.accept(&opened)
        };
        match accepted.map_err(SyncError::Alarm)? {
            Accepted::AlreadyHad => return Ok(Taken::Applied),
            Accepted::New => {}
        }
        // Applying: on any failure the chain goes back to before this blob, nothing of it
        // counts, and the run stops.
        let immutable = || Alarm::Immutable {
            device: device.to_string(),
            seq,
        };
        let audit_trail = || Alarm::AuditTrail {
            device: device.to_string(),
            seq,
        };
        let applied = (|| -> Result<(), SyncError> {
            if Batch::carried_by(kind) {
                let batch = Batch::decode(kind, &opened.payload).ok_or_else(altered)?;
                // The audit entries first: refused, nothing of the blob is applied; kept, the
                // changes after them may still be refused (and the blob read again later,
                // when the entries already held are skipped).
                if !batch.audit.is_empty() {
                    integrity(
                        self.vault.audit_apply_sent(device, &batch.audit),
                        audit_trail,
                    )?;
                }
                if !batch.changes.is_empty() {
                    for c in &batch.changes {
                        if !self.state.writers.contains_key(&c.d) {
                            self.state.writers.insert(c.d.clone(), device.to_string());
                        }
                    }
                    let r = integrity(self.vault.apply_remote(&batch.changes), immutable)?;
                    report.applied_changes += r.applied;
                    report.conflicts += r.conflicts;
                }
            }
            if let Some(chunk) = chunk.filter(|_| in_full) {
                if let Some(mark) = chunk.audit.as_ref().filter(|_| restarts) {
                    self.vault.audit_restart(device, mark.seq, &mark.hash)?;
                }
                // Who wrote what, as the writer knew it (what its cut blobs would have told).
                for (record_id, writer) in &chunk.writers {
                    if !self.state.writers.contains_key(record_id) {
                        self.state.writers.insert(record_id.clone(), writer.clone());
                    }
                }
                let r = integrity(self.vault.apply_checkpoint(&chunk.rows), immutable)?;
                report.applied_changes += r.applied;
                let end = seq + u64::from(chunk.of - chunk.part);
                if seq < end {
                    self.state.restarting.insert(device.to_string(), end);
                } else {
                    self.state.restarting.remove(device);
                }
            }
            if kind == Kind::Audit {
                let entries: Vec<SentEntry> =
                    serde_json::from_slice(&opened.payload).map_err(|_| altered())?;
                integrity(self.vault.audit_apply_sent(device, &entries), audit_trail)?;
            }
            Ok(())
        })();
        if let Err(e) = applied {
            self.state.chains = before;
            return Err(e);
        }
        if restarts || forced {
            self.record_offers(device, &opened.inner.view, audits);
            self.forced = None;
        }
        self.state.heard.insert(device.to_string(), self.now);
        self.save()?;
        report.received += 1;
        Ok(Taken::Applied)
    }

    /// After the first chunk of a checkpoint applied in full: what it holds of each other
    /// computer's log not read that far here (its writer's signed view), kept in case that
    /// log turns out emptied or removed on the server (see [`Engine::take_emptied`]). Usable
    /// once every chunk of that checkpoint is applied.
    fn record_offers(
        &mut self,
        writer: &str,
        view: &BTreeMap<String, crate::blob::HeadRef>,
        mut audits: BTreeMap<String, AuditMark>,
    ) {
        for (other, claim) in view {
            if *other == self.me
                || !self.devices.devices.contains_key(other)
                || self.state.chains.head(other).map_or(0, |h| h.seq) >= claim.seq
            {
                continue;
            }
            self.state.offers.entry(other.clone()).or_default().insert(
                claim.seq,
                Offer {
                    hash: claim.hash.clone(),
                    audit: audits.remove(other),
                    from: writer.to_string(),
                },
            );
        }
    }

    /// The first seq at or past `at` of `device`'s log that a checkpoint applied here in full
    /// (every chunk of it) holds.
    fn offered(&self, device: &str, at: u64) -> Option<u64> {
        self.state
            .offers
            .get(device)?
            .range(at..)
            .find(|(_, o)| !self.state.restarting.contains_key(&o.from))
            .map(|(seq, _)| *seq)
    }

    /// Takes `device`'s log as read up to `seq` from the checkpoint that offered it: its
    /// blobs up to there are skipped if served, and its audit trail goes on from the entry
    /// that checkpoint named.
    fn take_offer(&mut self, device: &str, seq: u64) -> Result<(), SyncError> {
        let Some(offers) = self.state.offers.get_mut(device) else {
            return Ok(());
        };
        let Some(offer) = offers.remove(&seq) else {
            return Ok(());
        };
        offers.retain(|s, _| *s > seq);
        if offers.is_empty() {
            self.state.offers.remove(device);
        }
        if let Some(mark) = &offer.audit {
            self.vault.audit_restart(device, mark.seq, &mark.hash)?;
        }
        self.state.chains.cover(
            device,
            &crate::blob::HeadRef {
                seq,
                hash: offer.hash,
            },
        );
        self.state.covered.insert(device.to_string(), seq);
        Ok(())
    }

    /// Logs emptied whole on the server up to their listed head — or a revoked computer's log
    /// removed, whose head is its revocation's cut — which a checkpoint applied here in full
    /// holds exactly there (the head's seq and hash): taken as read to it, though not read.
    /// Whether any was. (A revoked log not read to its cut is held from a checkpoint only
    /// when its writer's signed view names the cut's very blob.)
    fn take_emptied(&mut self, heads: &[Head]) -> Result<bool, SyncError> {
        let mut took = false;
        for h in heads {
            let held = self.state.chains.head(&h.device_id).map_or(0, |x| x.seq);
            let offered = self.offered(&h.device_id, h.seq) == Some(h.seq)
                && self.state.offers[&h.device_id][&h.seq].hash == h.hash;
            if h.device_id != self.me && held < h.seq && offered {
                self.take_offer(&h.device_id, h.seq)?;
                took = true;
            }
        }
        if took {
            self.save()?;
        }
        Ok(took)
    }

    /// A checkpoint's first chunk read in order (no gap below it) can wait for ever: its view
    /// names blobs of a computer switched off since an erasure that were read by its writer
    /// but not here, and that log has since been emptied on the server up to exactly there.
    /// The chunk is then taken in full (as past a gap: it holds what its writer had seen), so
    /// its view covers that log. Only when nothing else moves, the log it waits for is listed
    /// at the very blob its view names (seq and hash), and none of that log's blobs came in
    /// this run. Whether one was found.
    fn stuck_checkpoint(&mut self, heads: &[Head], pending: &[(String, Queue)]) -> bool {
        let fetched = |d: &str| pending.iter().any(|(x, q)| x == d && !q.is_empty());
        let stuck = pending.iter().find_map(|(device, q)| {
            let (seq, _) = q.front()?;
            let unmet = self.stalled.get(&(device.clone(), *seq))?;
            unmet
                .iter()
                .all(|(other, claim)| {
                    !fetched(other)
                        && heads.iter().any(|h| {
                            h.device_id == *other && h.seq == claim.seq && h.hash == claim.hash
                        })
                })
                .then(|| (device.clone(), *seq))
        });
        let found = stuck.is_some() && self.forced != stuck;
        if found {
            self.forced = stuck;
        }
        found
    }

    /// One full run: [`Engine::outbound`], [`exchange`], [`Engine::absorb`]. (The desktop app
    /// runs the three apart, so the vault is not held while the network is used.)
    pub fn run(&mut self, remote: &mut dyn Remote) -> Result<Report, SyncError> {
        let out = self.outbound()?;
        let inbound = exchange(remote, &out);
        self.absorb(inbound, out.sealed)
    }
}

/// The engine's state as last saved; `None` before this computer's first run. No network.
fn saved(vault: &Vault) -> Result<Option<State>, SyncError> {
    match vault.sync_get(STATE_KEY)? {
        Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| {
            SyncError::Core(CoreError::Corrupt(format!(
                "the sync state is not valid: {e}"
            )))
        }),
        None => Ok(None),
    }
}

/// What this computer has verified of every device's log (its own included); `None` before
/// its first run. No network.
pub fn verified_chains(vault: &Vault) -> Result<Option<Chains>, SyncError> {
    Ok(saved(vault)?.map(|s| s.chains))
}

/// When a new blob of each other device was last verified on this computer (seconds since the
/// epoch; a heartbeat counts), and when this computer last sealed one. No network.
pub fn heard(vault: &Vault) -> Result<(BTreeMap<String, i64>, Option<i64>), SyncError> {
    Ok(saved(vault)?.map_or((BTreeMap::new(), None), |s| (s.heard, s.sealed_at)))
}

/// Revoked computers whose log is gone from the server, as far as this computer knows. No
/// network.
pub fn removed_logs(vault: &Vault) -> Result<BTreeSet<String>, SyncError> {
    Ok(saved(vault)?.map(|s| s.removed_logs).unwrap_or_default())
}

/// Which computer of the device list writes under each record id seen in its blobs
/// (record id → device id). No network.
pub fn writers(vault: &Vault) -> Result<BTreeMap<String, String>, SyncError> {
    Ok(saved(vault)?.map(|s| s.writers).unwrap_or_default())
}

/// Changes made on this computer that the server does not hold yet: those sealed into blobs
/// not acknowledged, and those captured since the last seal. No network.
pub fn pending_changes(vault: &Vault) -> Result<u64, SyncError> {
    // Before the first run nothing is sealed: every captured change waits (as `seal` starts).
    let (sent, carried) = saved(vault)?.map_or(([0, 0], BTreeMap::new()), |s| (s.sent, s.carried));
    let sealed: u64 = vault
        .sealed_unacked()?
        .iter()
        .map(|(seq, _)| carried.get(seq).copied().unwrap_or(0))
        .sum();
    let captured = vault.changes_after(Store::Clinical, sent[0])?
        + vault.changes_after(Store::Identity, sent[1])?;
    Ok(sealed + captured)
}

/// A new computer's first chains: the heads verified by the computer whose copy this vault
/// was made from (a restored backup), so it reads only what came after; none for a new vault.
fn inherited_chains(vault: &mut Vault, me: &str) -> Result<Chains, SyncError> {
    let Some(json) = vault.sync_get(casebook_core::sync_state::INHERITED)? else {
        return Ok(Chains::new(me));
    };
    let old: State = serde_json::from_str(&json)
        .map_err(|e| CoreError::Corrupt(format!("the inherited sync state is not valid: {e}")))?;
    // That computer's audit trail up to what it had sealed is this copy's own history (the
    // same entries, the same hashes): its later entries, arriving in its log, extend it.
    if old.audit_sent > 0
        && let Some(e) = vault
            .audit_outgoing(old.audit_sent - 1, 1)?
            .into_iter()
            .next()
    {
        vault.audit_restart(&old.chains.me, e.seq, &e.hash)?;
    }
    Ok(Chains::inherit(me, &old.chains))
}

/// This computer's newest checkpoint in its log (and whether the log is cut below it).
pub fn last_checkpoint(vault: &Vault) -> Result<Option<Written>, SyncError> {
    Ok(saved(vault)?.and_then(|s| s.checkpoint))
}

/// Blobs of one log fetched and not applied yet, in order.
type Queue = std::collections::VecDeque<(u64, Vec<u8>)>;

/// Blobs of one log as served: (seq, bytes), in order.
pub type Blobs = Vec<(u64, Vec<u8>)>;

/// What a run sends and asks for ([`Engine::outbound`]).
pub struct Outbound {
    /// This device, and the last of its own blobs the server acknowledged.
    pub me: String,
    pub mine: u64,
    /// Blobs sealed by this run.
    pub sealed: usize,
    /// Every blob not yet acknowledged, oldest first.
    pub blobs: Blobs,
    /// The other devices, and the seq of the last blob of theirs verified here.
    pub others: Vec<(String, u64)>,
    /// Revoked devices whose log is verified here below its revocation's cut: (device, seq
    /// verified, cut seq). Fetched up to the cut; the server lists no head for them.
    pub cut: Vec<(String, u64, u64)>,
    /// Blobs fetched per device at most in this run (`None`: all), so a long download (a new
    /// computer catching up) is applied and kept in steps and resumes after a kill.
    pub cap: Option<u64>,
    /// This device's log is to be cut below this seq (its newest checkpoint's first chunk),
    /// once every blob is acknowledged.
    pub compact: Option<u64>,
    /// Revoked computers whose whole log is to be removed from the server, once this
    /// device's log starts at its newest checkpoint (which holds them): (device, the seq of
    /// its revocation's cut, 0 if nothing counts).
    pub remove: Vec<(String, u64)>,
    /// Computers switched off since an erasure whose log is to be emptied up to this seq, at
    /// the same moment (this device's newest checkpoint holds them that far).
    pub empty: Vec<(String, u64)>,
    /// The erasures known when `empty` was chosen.
    pub erasures: i64,
}

/// What the server answered ([`exchange`]).
#[derive(Default)]
pub struct Inbound {
    /// Blobs the server acknowledged: (seq, hash).
    pub acked: Vec<(u64, String)>,
    pub heads: Option<Vec<Head>>,
    /// Each other device's new blobs, in order.
    pub fetched: Vec<(String, Blobs)>,
    /// Why the exchange stopped early, if it did (what came before is kept).
    pub error: Option<RemoteError>,
    /// Blobs the server holds past what was fetched (left for another run by the cap).
    pub remaining: u64,
    /// The server cut this device's log below this seq.
    pub compacted: Option<u64>,
    /// Revoked computers whose log the server removed.
    pub removed: Vec<String>,
    /// Computers' logs the server emptied: (device, through); and the erasures known when
    /// they were chosen.
    pub emptied: Vec<(String, u64)>,
    pub erasures: i64,
    /// Whether every log was asked for (a whole run's exchange), so that what is still
    /// missing at the end can be told; not when one log alone was fetched (a revocation).
    pub complete: bool,
    /// A blob in this device's own log that it did not know the server held (it refused
    /// this device's blob there, or lists the log further on): read back, to tell a copy of
    /// this vault writing as this device (signed with its key) from a server that lies.
    pub own: Option<(u64, Vec<u8>)>,
}

/// The network part of a run, without the vault: sends the blobs, reads the heads, fetches
/// every other device's new blobs. Stops at the first failure, keeping what it had.
pub fn exchange(remote: &mut dyn Remote, out: &Outbound) -> Inbound {
    let mut inbound = Inbound::default();
    // Blobs below the cut this run asks for, refused: a run killed after its cut and before
    // it marked its blobs acknowledged sends them again, and the server holds none below it.
    let mut below_cut: Vec<(u64, String)> = Vec::new();
    let mut held_upto = 0;
    for (seq, bytes) in &out.blobs {
        if *seq <= held_upto {
            continue;
        }
        match remote.put(*seq, bytes) {
            Ok(()) => {
                // The server takes a log's blobs in order only: holding this one, it holds
                // (or held, before a cut) every one below.
                inbound.acked.append(&mut below_cut);
                inbound.acked.push((*seq, blob::hash(bytes)));
            }
            Err(RemoteError::Refused(_)) if out.compact.is_some_and(|c| *seq < c) => {
                below_cut.push((*seq, blob::hash(bytes)));
            }
            Err(e) => {
                // Refused because another computer emptied this log while this one was away
                // (its acknowledgement lost before): the server lists a head here that is
                // one of these very blobs, so it took every one up to it.
                if matches!(e, RemoteError::Refused(_))
                    && let Some(head) = listed_among(remote, out, *seq)
                {
                    inbound.acked.append(&mut below_cut);
                    for (s, b) in out.blobs.iter().filter(|(s, _)| *s >= *seq && *s <= head) {
                        inbound.acked.push((*s, blob::hash(b)));
                    }
                    held_upto = head;
                    continue;
                }
                if matches!(e, RemoteError::Refused(_)) {
                    inbound.own = own_blob(remote, &out.me, *seq);
                }
                inbound.error = Some(e);
                return inbound;
            }
        }
    }
    if !below_cut.is_empty() {
        inbound.error = Some(RemoteError::Refused(format!(
            "the server refused blobs {}–{} and took none after them",
            below_cut[0].0,
            below_cut[below_cut.len() - 1].0
        )));
        return inbound;
    }
    // Every blob is acknowledged, the checkpoint's chunks too: the log below it can go. A
    // failed cut is tried again by the next run.
    if let Some(below) = out.compact
        && remote.cut(below).is_ok()
    {
        inbound.compacted = Some(below);
    }
    // With this device's log starting at its checkpoint, revoked computers' logs it holds
    // can go. A failed removal is tried again by the next run.
    if out.compact.is_none() || inbound.compacted.is_some() {
        for (device, until) in &out.remove {
            // A computer that left while the server could not be reached never closed its
            // log there, so the server refuses to remove it whole: it is emptied up to the
            // revocation's cut instead (nothing past the cut counts).
            let gone = match remote.remove_revoked(device) {
                Ok(()) => true,
                Err(RemoteError::Refused(_)) if *until > 0 => remote.empty(device, *until).is_ok(),
                Err(_) => false,
            };
            if gone {
                inbound.removed.push(device.clone());
            }
        }
        for (device, through) in &out.empty {
            if remote.empty(device, *through).is_ok() {
                inbound.emptied.push((device.clone(), *through));
            }
        }
        inbound.erasures = out.erasures;
    }
    let heads = match remote.heads() {
        Ok(h) => h,
        Err(e) => {
            inbound.error = Some(e);
            return inbound;
        }
    };
    // This log listed further than this device ever sent: the first blob past what it knows.
    let sent = inbound
        .acked
        .last()
        .map_or(out.mine, |(seq, _)| out.mine.max(*seq));
    if heads.iter().any(|h| h.device_id == out.me && h.seq > sent) {
        inbound.own = own_blob(remote, &out.me, sent + 1);
    }
    let live = out.others.iter().filter_map(|(device, have)| {
        let head = heads.iter().find(|h| h.device_id == *device)?;
        (head.seq > *have).then_some((device, *have, head.seq))
    });
    let cut = out.cut.iter().map(|(d, have, until)| (d, *have, *until));
    for (device, have, head) in live.chain(cut).collect::<Vec<_>>() {
        let upto = out
            .cap
            .map_or(head, |cap| head.min(have.saturating_add(cap)));
        let mut got = remote.range(device, have + 1, upto);
        // A step that finds nothing below a log cut above it (a checkpoint far ahead of what
        // is held here) reads on to the head, as an uncapped run would: the log starts again
        // at the checkpoint.
        if upto < head && matches!(&got, Ok(b) if b.is_empty()) {
            got = remote.range(device, have + 1, head);
        }
        match got {
            Ok(blobs) => {
                let last = blobs.last().map_or(upto, |(seq, _)| (*seq).max(upto));
                inbound.remaining += head.saturating_sub(last);
                inbound.fetched.push((device.clone(), blobs));
            }
            Err(e) => {
                inbound.error = Some(e);
                break;
            }
        }
    }
    inbound.heads = Some(heads);
    inbound.complete = true;
    inbound
}

/// The head the server lists for this device's log, when it is at or past `seq` and is one
/// of the blobs this run sends (the same seq and hash): the server holds them up to it.
fn listed_among(remote: &mut dyn Remote, out: &Outbound, seq: u64) -> Option<u64> {
    let heads = remote.heads().ok()?;
    let mine = heads.iter().find(|h| h.device_id == out.me)?;
    let sent = out.blobs.iter().find(|(s, _)| *s == mine.seq)?;
    (mine.seq >= seq && blob::hash(&sent.1) == mine.hash).then_some(mine.seq)
}

/// This device's own blob at `seq`, as the server holds it (if it gives it).
fn own_blob(remote: &mut dyn Remote, me: &str, seq: u64) -> Option<(u64, Vec<u8>)> {
    remote
        .range(me, seq, seq)
        .ok()?
        .into_iter()
        .find(|(s, _)| *s == seq)
}

enum Taken {
    Applied,
    Waiting,
}

/// A core result, with the core's refusal of a change to what must never change (or of
/// audit entries that do not extend the chain) named as `alarm`.
fn integrity<T>(r: Result<T, CoreError>, alarm: impl FnOnce() -> Alarm) -> Result<T, SyncError> {
    r.map_err(|e| match e {
        CoreError::SyncIntegrity(_) => SyncError::Alarm(alarm()),
        e => e.into(),
    })
}

/// A batch's payload bytes.
fn encode(batch: &Batch) -> Result<Vec<u8>, SyncError> {
    batch
        .encode()
        .map_err(|e| SyncError::Core(CoreError::Corrupt(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server holding one other device's log from `first` to `head` (cut below `first`),
    /// answering ranges as the real one does: the blobs it holds at or after `from`, to `to`.
    struct CutLog {
        first: u64,
        head: u64,
        asked: Vec<(u64, u64)>,
    }

    impl Remote for CutLog {
        fn heads(&mut self) -> Result<Vec<Head>, RemoteError> {
            Ok(vec![Head {
                device_id: "b".into(),
                seq: self.head,
                hash: "h".into(),
            }])
        }
        fn put(&mut self, _: u64, _: &[u8]) -> Result<(), RemoteError> {
            Ok(())
        }
        fn range(&mut self, _: &str, from: u64, to: u64) -> Result<Blobs, RemoteError> {
            self.asked.push((from, to));
            Ok((from.max(self.first)..=to.min(self.head))
                .map(|s| (s, vec![]))
                .collect())
        }
        fn cut(&mut self, _: u64) -> Result<(), RemoteError> {
            Ok(())
        }

        fn empty(&mut self, _: &str, _: u64) -> Result<(), RemoteError> {
            unreachable!("not asked in these tests")
        }
        fn remove_revoked(&mut self, _: &str) -> Result<(), RemoteError> {
            Ok(())
        }
    }

    fn stepped(have: u64) -> Outbound {
        Outbound {
            me: "a".into(),
            mine: 0,
            sealed: 0,
            blobs: vec![],
            others: vec![("b".into(), have)],
            cut: vec![],
            cap: Some(200),
            compact: None,
            remove: Vec::new(),
            empty: Vec::new(),
            erasures: 0,
        }
    }

    #[test]
    fn a_step_of_a_catch_up_fetches_at_most_its_cap_and_counts_the_rest() {
        let mut server = CutLog {
            first: 1,
            head: 300,
            asked: vec![],
        };
        let inbound = exchange(&mut server, &stepped(0));
        assert_eq!(inbound.fetched[0].1.len(), 200);
        assert_eq!(inbound.remaining, 100);
    }

    /// A log cut far above what is held (a checkpoint past a whole step): the step reads on
    /// to the head, where the log starts again, instead of finding nothing for ever.
    #[test]
    fn a_step_below_a_cut_log_reads_on_to_where_the_log_starts_again() {
        let mut server = CutLog {
            first: 301,
            head: 305,
            asked: vec![],
        };
        let inbound = exchange(&mut server, &stepped(0));
        assert_eq!(server.asked, [(1, 200), (1, 305)]);
        let seqs: Vec<u64> = inbound.fetched[0].1.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [301, 302, 303, 304, 305]);
        assert_eq!(inbound.remaining, 0);
    }
}
