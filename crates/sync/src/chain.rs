//! Each device's hash chain as this device has verified it, and the alarms that catch a
//! server which loses, rolls back, forks, replays, reorders or withholds (`docs/sync.md`,
//! "Alarms").
//!
//! [`Chains`] remembers, per device, the hash of every blob it accepted (this device's own
//! included) and the highest head any writer's view claimed. Everything the server says —
//! its list of heads, each blob it serves — is checked against that memory before use; a
//! failed check is an [`Alarm`] and changes nothing. The memory is persisted with the vault
//! (serde), so a rollback is caught across restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::blob::{HeadRef, Opened};

/// Something the server did that an honest server never does. Named, never repaired silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "alarm", rename_all = "kebab-case")]
pub enum Alarm {
    /// A device's log is shorter than this device already verified it to be.
    Rollback {
        device: String,
        had: u64,
        served: u64,
    },
    /// Two different blobs for one place in a device's log.
    Fork { device: String, seq: u64 },
    /// A blob that does not chain to the one before it.
    Reordered { device: String, seq: u64 },
    /// Blobs between what was verified and what was served are not there, or a writer's
    /// view names blobs the server does not serve (withheld).
    Missing { device: String, from: u64, to: u64 },
    /// This device's own log on the server has blobs this device never wrote: another copy
    /// of this vault (a copied folder) is writing as this device. `proven`: such a blob,
    /// signed with this device's own key, was seen (here, or by another device whose signed
    /// view names it) — which no server can forge; else only the server's head claims it.
    CopiedVault {
        device: String,
        seq: u64,
        proven: bool,
    },
    /// This device's acknowledged blobs are gone from the server: they are re-sent from the
    /// local copies (a warning; the command does not fail).
    OwnBlobsGone { had: u64, served: u64 },
    /// A blob whose signature, encryption or headers do not check out (altered, swapped, or
    /// not from the device whose log it is in).
    Altered { device: String, seq: u64 },
    /// A blob signed by a key the signed device list does not hold for that device.
    DeviceKey { device: String },
    /// A change to a record that never changes once written (a finalised note, an addendum,
    /// a measure, an erasure record).
    Immutable { device: String, seq: u64 },
    /// Audit entries that do not extend the device's audit trail as held here (an entry
    /// altered, missing or out of order).
    AuditTrail { device: String, seq: u64 },
}

impl Alarm {
    /// The alarm's name, as `sync status` and the exit-9 line print it.
    pub fn name(&self) -> &'static str {
        match self {
            Alarm::Rollback { .. } => "rollback",
            Alarm::Fork { .. } => "fork",
            Alarm::Reordered { .. } => "reordered",
            Alarm::Missing { .. } => "missing",
            Alarm::CopiedVault { .. } => "copied-vault",
            Alarm::OwnBlobsGone { .. } => "own-blobs-gone",
            Alarm::Altered { .. } => "altered",
            Alarm::DeviceKey { .. } => "device-key",
            Alarm::Immutable { .. } => "immutable",
            Alarm::AuditTrail { .. } => "audit-trail",
        }
    }

    /// What the therapist is told, in plain words (the app's strip and notification).
    pub fn plain(&self) -> &'static str {
        plain_words(&self.line())
    }

    /// Whether local work may carry on as normal (only this device's own blobs re-sent).
    pub fn is_warning(&self) -> bool {
        matches!(self, Alarm::OwnBlobsGone { .. })
    }

    /// One line for the therapist.
    pub fn line(&self) -> String {
        match self {
            Alarm::Rollback {
                device,
                had,
                served,
            } => format!(
                "rollback: the server returned older data for device {device} than it had before (change {served}, this computer had already seen {had}); nothing was applied"
            ),
            Alarm::Fork { device, seq } => format!(
                "fork: the server gave two different versions of change {seq} from device {device}; nothing was applied"
            ),
            Alarm::Reordered { device, seq } => format!(
                "reordered: change {seq} from device {device} does not follow the one before it; nothing was applied"
            ),
            Alarm::Missing { device, from, to } => format!(
                "missing: changes {from}–{to} from device {device} were not served; nothing after them was applied"
            ),
            Alarm::CopiedVault {
                device,
                seq,
                proven: false,
            } => format!(
                "copied-vault: the server holds change {seq} written as this computer ({device}) that it never wrote — a copy of this vault folder is syncing too"
            ),
            Alarm::CopiedVault {
                device,
                seq,
                proven: true,
            } => format!(
                "copied-vault: change {seq} in this computer's log ({device}) is signed with its key but was never written here — a copy of this vault folder syncs from another computer; this copy has become a computer of its own: connect it to the server again, then turn sync on"
            ),
            Alarm::OwnBlobsGone { had, served } => format!(
                "own-blobs-gone: the server lost this computer's changes {}–{had}; they are being sent again from the copies kept here",
                served + 1
            ),
            Alarm::Altered { device, seq } => format!(
                "altered: change {seq} from device {device} does not check out (altered, swapped or not signed by that device); nothing was applied"
            ),
            Alarm::DeviceKey { device } => format!(
                "device-key: blobs in the log of device {device} are signed by a key the practice's own device list does not hold; nothing was applied"
            ),
            Alarm::Immutable { device, seq } => format!(
                "immutable: change {seq} from device {device} would change a finalised record; nothing was applied"
            ),
            Alarm::AuditTrail { device, seq } => format!(
                "audit-trail: the audit entries in change {seq} from device {device} do not extend its audit trail as held here; nothing was applied"
            ),
        }
    }
}

/// An alarm in plain words, by its name or by its [`Alarm::line`] (which starts with the
/// name): what happened, that nothing suspect was applied, and whom to ask. An unknown name
/// gets a general sentence.
pub fn plain_words(name_or_line: &str) -> &'static str {
    match name_or_line.split(':').next().unwrap_or("").trim() {
        "rollback" => {
            "The server returned older data than it had before — nothing was changed; contact whoever runs your server."
        }
        "fork" => {
            "The server showed this computer and another one different histories — nothing was changed; contact whoever runs your server."
        }
        "missing" => {
            "The server is holding back changes from another computer — nothing after them was applied; contact whoever runs your server."
        }
        "reordered" | "replayed" | "altered" => {
            "Changes from the server did not check out (altered, swapped or out of order) — nothing was changed; contact whoever runs your server."
        }
        "device-key" => {
            "The server offered changes signed by a computer that is not one of this practice's — nothing was changed; contact whoever runs your server."
        }
        "immutable" => {
            "Another computer's change would have altered a finalised record — it was not applied."
        }
        "audit-trail" => {
            "Another computer's audit trail did not check out — nothing was changed; contact whoever runs your server."
        }
        "copied-vault" if name_or_line.contains("has become a computer of its own") => {
            "This Casebook folder is a copy of one that syncs from another computer. To keep the two apart, this copy has become a computer of its own, and nothing was lost: connect it to your server again (Settings → Off-site copy), then turn sync on (Settings → Computers)."
        }
        "copied-vault" => {
            "A copy of this Casebook folder is syncing from another computer as this one — keep using only one of the two copies."
        }
        "own-blobs-gone" => {
            "The server lost changes sent from this computer; they are being sent again from the copies kept here."
        }
        _ => {
            "Sync stopped on something the server did — nothing was changed; contact whoever runs your server."
        }
    }
}

/// What this device has verified of every device's log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chains {
    /// This device's id.
    pub me: String,
    /// Per device: seq → SHA-256 of the blob accepted there.
    seen: BTreeMap<String, BTreeMap<u64, String>>,
    /// Per device: the highest head any accepted blob's view claimed for it.
    claimed: BTreeMap<String, HeadRef>,
}

impl Chains {
    pub fn new(me: &str) -> Self {
        Chains {
            me: me.to_string(),
            ..Default::default()
        }
    }

    /// The last verified blob of `device`.
    pub fn head(&self, device: &str) -> Option<HeadRef> {
        self.seen.get(device).and_then(|m| {
            m.last_key_value().map(|(seq, hash)| HeadRef {
                seq: *seq,
                hash: hash.clone(),
            })
        })
    }

    /// Every blob verified: (device, seq, hash).
    pub fn verified(&self) -> impl Iterator<Item = (&str, u64, &str)> {
        self.seen
            .iter()
            .flat_map(|(d, m)| m.iter().map(move |(s, h)| (d.as_str(), *s, h.as_str())))
    }

    /// The highest seq of each device that an accepted blob's view named.
    pub fn claimed(&self) -> impl Iterator<Item = (&str, u64)> {
        self.claimed.iter().map(|(d, h)| (d.as_str(), h.seq))
    }

    /// This device's view of every other device's head, for the next blob it seals.
    pub fn view(&self) -> BTreeMap<String, HeadRef> {
        self.seen
            .keys()
            .filter(|d| **d != self.me)
            .filter_map(|d| self.head(d).map(|h| (d.clone(), h)))
            .collect()
    }

    /// Whether `device`'s blob `seq` with `hash` is one verified (or, for this device, sent)
    /// here.
    pub fn holds(&self, device: &str, seq: u64, hash: &str) -> bool {
        self.seen
            .get(device)
            .and_then(|m| m.get(&seq))
            .is_some_and(|h| h == hash)
    }

    /// Records a blob this device sealed and the server acknowledged.
    pub fn record_own(&mut self, seq: u64, hash: &str) {
        self.seen
            .entry(self.me.clone())
            .or_default()
            .insert(seq, hash.to_string());
    }

    /// Checks the server's list of heads (`GET /v1/heads`) against what was verified and
    /// what writers' views claimed. `served` holds every non-revoked device's head.
    pub fn check_heads(&self, served: &[casebook_wire::Head]) -> Vec<Alarm> {
        let served_of = |d: &str| served.iter().find(|h| h.device_id == d);
        let mut alarms = Vec::new();
        for device in self.seen.keys() {
            let Some(known) = self.head(device) else {
                continue;
            };
            let (seq, hash) = match served_of(device) {
                Some(h) => (h.seq, Some(h.hash.as_str())),
                None => (0, None),
            };
            let mine = *device == self.me;
            if seq < known.seq {
                alarms.push(if mine {
                    Alarm::OwnBlobsGone {
                        had: known.seq,
                        served: seq,
                    }
                } else {
                    Alarm::Rollback {
                        device: device.clone(),
                        had: known.seq,
                        served: seq,
                    }
                });
            } else if seq == known.seq && hash != Some(known.hash.as_str()) {
                alarms.push(Alarm::Fork {
                    device: device.clone(),
                    seq,
                });
            } else if seq > known.seq && mine {
                alarms.push(Alarm::CopiedVault {
                    device: device.clone(),
                    seq,
                    proven: false,
                });
            }
        }
        for (device, claim) in &self.claimed {
            let served_seq = served_of(device).map_or(0, |h| h.seq);
            let verified = self.head(device).map_or(0, |h| h.seq);
            if served_seq < claim.seq && verified < claim.seq {
                alarms.push(Alarm::Missing {
                    device: device.clone(),
                    from: served_seq.max(verified) + 1,
                    to: claim.seq,
                });
            }
        }
        alarms
    }

    /// Accepts a verified, opened blob of another device (its signature and place were
    /// checked by [`crate::blob::open`]). A blob accepted before is a no-op; anything that
    /// does not extend the chain is an alarm and changes nothing.
    pub fn accept(&mut self, blob: &Opened) -> Result<Accepted, Alarm> {
        self.accept_at(blob, false)
    }

    /// Accepts the first chunk of a checkpoint found past a gap in a device's log (its writer
    /// cut the log below it): the chain starts again there, from a blob the writer signed. A
    /// blob at or below what was verified is refused as by [`Chains::accept`].
    pub fn restart(&mut self, blob: &Opened) -> Result<Accepted, Alarm> {
        self.accept_at(blob, true)
    }

    /// Whether `seq` of `device` lies past a gap after what was verified.
    pub fn past_gap(&self, device: &str, seq: u64) -> bool {
        seq > self.head(device).map_or(1, |h| h.seq + 1)
    }

    fn accept_at(&mut self, blob: &Opened, restart: bool) -> Result<Accepted, Alarm> {
        let device = &blob.inner.device;
        let seq = blob.inner.seq;
        if let Some(hash) = self.seen.get(device).and_then(|m| m.get(&seq)) {
            return if *hash == blob.hash {
                Ok(Accepted::AlreadyHad)
            } else {
                Err(Alarm::Fork {
                    device: device.clone(),
                    seq,
                })
            };
        }
        if *device == self.me {
            // Our own log holds a blob we never recorded, signed with our key: another copy
            // writes as us.
            return Err(Alarm::CopiedVault {
                device: device.clone(),
                seq,
                proven: true,
            });
        }
        let last = self.head(device);
        let next = last.as_ref().map_or(1, |h| h.seq + 1);
        if seq < next {
            // Below the head but not a seq we hold: a checkpoint cut the log there; an old
            // blob served again is a replay of something no longer in the chain.
            return Err(Alarm::Reordered {
                device: device.clone(),
                seq,
            });
        }
        let restarts = restart && seq > next;
        if seq > next && !restarts {
            return Err(Alarm::Missing {
                device: device.clone(),
                from: next,
                to: seq - 1,
            });
        }
        if !restarts && blob.inner.prev.as_deref() != last.as_ref().map(|h| h.hash.as_str()) {
            return Err(Alarm::Reordered {
                device: device.clone(),
                seq,
            });
        }
        for (other, claim) in &blob.inner.view {
            if let Some(hash) = self.seen.get(other).and_then(|m| m.get(&claim.seq))
                && *hash != claim.hash
            {
                return Err(Alarm::Fork {
                    device: other.clone(),
                    seq: claim.seq,
                });
            }
            if *other == self.me && self.head(&self.me).is_none_or(|h| claim.seq > h.seq) {
                return Err(Alarm::CopiedVault {
                    device: other.clone(),
                    seq: claim.seq,
                    proven: true,
                });
            }
        }
        for (other, claim) in &blob.inner.view {
            let entry = self
                .claimed
                .entry(other.clone())
                .or_insert_with(|| claim.clone());
            if claim.seq > entry.seq {
                *entry = claim.clone();
            }
        }
        self.seen
            .entry(device.clone())
            .or_default()
            .insert(seq, blob.hash.clone());
        Ok(Accepted::New)
    }

    /// A new computer's chains, starting at the heads another computer had verified — its
    /// own log's included — when the copy this computer was made from was taken (that copy
    /// holds exactly what those blobs carried).
    pub fn inherit(me: &str, from: &Chains) -> Chains {
        let mut c = Chains::new(me);
        for device in from.seen.keys().filter(|d| *d != me) {
            if let Some(h) = from.head(device) {
                c.seen
                    .entry(device.clone())
                    .or_default()
                    .insert(h.seq, h.hash);
            }
        }
        c
    }

    /// Takes a revoked device's log as verified up to its revocation's cut without reading
    /// it: a checkpoint applied in full held everything in it (its writer's signed view named
    /// that cut), and the server has removed the log.
    pub fn cover(&mut self, device: &str, until: &HeadRef) {
        self.seen
            .entry(device.to_string())
            .or_default()
            .insert(until.seq, until.hash.clone());
    }

    /// Forgets blob hashes of `device` below `seq` (after a checkpoint covers them), keeping
    /// the head so rollbacks are still caught.
    pub fn compact(&mut self, device: &str, below: u64) {
        if let Some(m) = self.seen.get_mut(device) {
            let keep = m.split_off(&below);
            if !keep.is_empty() {
                *m = keep;
            }
        }
    }
}

/// What [`Chains::accept`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The blob extends the device's chain: apply its changes.
    New,
    /// The same blob was accepted before (a duplicate delivery): nothing to apply.
    AlreadyHad,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{Inner, Kind};
    use proptest::prelude::*;

    #[test]
    fn every_alarm_has_plain_words_found_by_name_or_by_line() {
        let all = [
            Alarm::Rollback {
                device: "d".into(),
                had: 3,
                served: 2,
            },
            Alarm::Fork {
                device: "d".into(),
                seq: 1,
            },
            Alarm::Reordered {
                device: "d".into(),
                seq: 1,
            },
            Alarm::Missing {
                device: "d".into(),
                from: 1,
                to: 2,
            },
            Alarm::CopiedVault {
                device: "d".into(),
                seq: 1,
                proven: false,
            },
            Alarm::CopiedVault {
                device: "d".into(),
                seq: 1,
                proven: true,
            },
            Alarm::OwnBlobsGone { had: 3, served: 1 },
            Alarm::Altered {
                device: "d".into(),
                seq: 1,
            },
            Alarm::DeviceKey { device: "d".into() },
            Alarm::Immutable {
                device: "d".into(),
                seq: 1,
            },
            Alarm::AuditTrail {
                device: "d".into(),
                seq: 1,
            },
        ];
        let general = plain_words("no such alarm");
        for a in &all {
            assert_ne!(a.plain(), general, "{} has no words of its own", a.name());
            assert_eq!(plain_words(&a.line()), a.plain(), "{}", a.name());
            assert!(!a.plain().starts_with(a.name()), "{}", a.name());
        }
        assert_eq!(
            plain_words("rollback"),
            "The server returned older data than it had before — nothing was changed; contact whoever runs your server."
        );
    }

    /// A device's honest log of `n` blobs (hashes made up; chaining is what matters here).
    fn log(device: &str, n: u64, view: &BTreeMap<String, HeadRef>) -> Vec<Opened> {
        let mut out: Vec<Opened> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(|b| b.hash.clone());
            out.push(Opened {
                inner: Inner {
                    account: "acct".into(),
                    device: device.into(),
                    seq,
                    kind: Kind::Clinical,
                    prev,
                    view: view.clone(),
                    schema: 6,
                    len: 0,
                },
                payload: vec![],
                hash: format!("{device}-{seq}"),
            });
        }
        out
    }

    fn head(device: &str, seq: u64, hash: &str) -> casebook_wire::Head {
        casebook_wire::Head {
            device_id: device.into(),
            seq,
            hash: hash.into(),
        }
    }

    #[test]
    fn an_honest_log_is_accepted_in_order_and_duplicates_are_no_ops() {
        let mut c = Chains::new("me");
        for b in log("b", 5, &BTreeMap::new()) {
            assert_eq!(c.accept(&b), Ok(Accepted::New));
            assert_eq!(c.accept(&b), Ok(Accepted::AlreadyHad));
        }
        assert!(c.check_heads(&[head("b", 5, "b-5")]).is_empty());
        assert_eq!(c.view()["b"].seq, 5);
    }

    #[test]
    fn rollback_fork_gap_and_reorder_are_each_named() {
        let mut c = Chains::new("me");
        let b = log("b", 4, &BTreeMap::new());
        for x in &b[..3] {
            c.accept(x).unwrap();
        }
        assert_eq!(c.check_heads(&[head("b", 2, "b-2")])[0].name(), "rollback");
        assert_eq!(c.check_heads(&[])[0].name(), "rollback");
        assert_eq!(c.check_heads(&[head("b", 3, "other")])[0].name(), "fork");
        let mut swapped = b[2].clone();
        swapped.hash = "evil".into();
        assert_eq!(c.accept(&swapped).unwrap_err().name(), "fork");
        let gap = log("b", 6, &BTreeMap::new()).pop().unwrap();
        assert_eq!(
            c.accept(&gap).unwrap_err(),
            Alarm::Missing {
                device: "b".into(),
                from: 4,
                to: 5
            }
        );
        let mut unchained = b[3].clone();
        unchained.inner.prev = Some("b-1".into());
        assert_eq!(c.accept(&unchained).unwrap_err().name(), "reordered");
        // None of the refused blobs changed what was verified.
        assert_eq!(c.head("b").unwrap().seq, 3);
        assert_eq!(c.accept(&b[3]), Ok(Accepted::New));
    }

    #[test]
    fn views_catch_a_fork_between_devices_and_withheld_changes() {
        let mut c = Chains::new("me");
        for x in log("b", 2, &BTreeMap::new()) {
            c.accept(&x).unwrap();
        }
        // Device c saw b at seq 2 with another hash: the server showed b's log two ways.
        let forked_view = BTreeMap::from([(
            "b".to_string(),
            HeadRef {
                seq: 2,
                hash: "b-2-other".into(),
            },
        )]);
        assert_eq!(
            c.accept(&log("c", 1, &forked_view)[0]).unwrap_err().name(),
            "fork"
        );
        // Device c saw b at seq 5, the server serves b only to 2: withheld.
        let ahead = BTreeMap::from([(
            "b".to_string(),
            HeadRef {
                seq: 5,
                hash: "b-5".into(),
            },
        )]);
        c.accept(&log("c", 1, &ahead)[0]).unwrap();
        let alarms = c.check_heads(&[head("b", 2, "b-2"), head("c", 1, "c-1")]);
        assert_eq!(
            alarms,
            vec![Alarm::Missing {
                device: "b".into(),
                from: 3,
                to: 5
            }]
        );
    }

    #[test]
    fn this_devices_own_log_lost_or_written_by_a_copy() {
        let mut c = Chains::new("me");
        c.record_own(1, "me-1");
        c.record_own(2, "me-2");
        let gone = c.check_heads(&[head("me", 1, "me-1")]);
        assert_eq!(gone, vec![Alarm::OwnBlobsGone { had: 2, served: 1 }]);
        assert!(gone[0].is_warning());
        assert_eq!(
            c.check_heads(&[head("me", 3, "x")])[0].name(),
            "copied-vault"
        );
        // Another device saw "me" further ahead than this copy ever wrote.
        let view = BTreeMap::from([(
            "me".to_string(),
            HeadRef {
                seq: 7,
                hash: "x".into(),
            },
        )]);
        assert_eq!(
            c.accept(&log("b", 1, &view)[0]).unwrap_err().name(),
            "copied-vault"
        );
    }

    proptest! {
        /// Whatever order the server delivers an honest log in (with duplicates), what is
        /// accepted is always a prefix of the log, refusals change nothing, and delivering
        /// the rest in order afterwards completes it.
        #[test]
        fn any_delivery_order_accepts_only_a_prefix(order in proptest::collection::vec(0usize..8, 0..40)) {
            let blobs = log("b", 8, &BTreeMap::new());
            let mut c = Chains::new("me");
            for i in order {
                let before = c.clone();
                match c.accept(&blobs[i]) {
                    Ok(_) => {}
                    Err(_) => prop_assert_eq!(&c, &before),
                }
                let h = c.head("b").map_or(0, |h| h.seq);
                for (k, b) in blobs.iter().enumerate().take(h as usize) {
                    prop_assert_eq!(c.seen["b"].get(&(k as u64 + 1)), Some(&b.hash));
                }
            }
            for b in &blobs {
                c.accept(b).unwrap();
            }
            prop_assert_eq!(c.head("b").unwrap().seq, 8);
        }
    }
}
