//! The deterministic simulation (in the spirit of TigerBeetle's VOPR): 2–5 real vaults
//! (SQLCipher, the real core and the real engine) edit records offline and sync through an
//! in-process server that drops requests, loses acknowledgements, fails with 5xx, runs out of
//! quota — and, in some runs, lies: flips bits, swaps, replays or reorders blobs, rolls a log
//! back, loses a device's own blobs, withholds another's newest, substitutes a device's key
//! (a blob signed by a key of its own, or a device list naming it), or serves the device list
//! rolled back. Devices are "killed" (their vault closed and opened again) between runs and in
//! the middle of one: after seal and store, or after send and before mark.
//!
//! After every run: an honest server's runs converge to identical records and raise no alarm;
//! every lie the server told where a device could catch it was caught; erased clients never
//! return; every audit chain verifies; nothing panics.
//!
//! Seeds: `CASEBOOK_SIM_SEEDS` (default 1,000 with the keychain, 30 without — each vault
//! opened with a passphrase costs a key derivation); `CASEBOOK_SIM_SEED=n` replays one seed
//! exactly (its decisions; the encrypted bytes themselves are random every time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use casebook_core::{ClientCode, ClientIdentity, NoteTemplate, Vault};
use casebook_sync::blob;
use casebook_sync::blob::{Envelope, Inner, Kind};
use casebook_sync::chain::Alarm;
use casebook_sync::devices::{DeviceList, Entry, Op as ListOp, ROOT, Signed};
use casebook_sync::engine::{self, Engine, PracticeKeys, Remote, RemoteError, Report, SyncError};
use casebook_sync::keys::{new_device_key, practice_root};
use casebook_sync::practice::check_served_list;
use casebook_wire::Head;
use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ACCOUNT: &str = "sim-account";
const PASSPHRASE: &str = "simulation passphrase";
const LETTERS: &str = "23456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How the server misbehaves in a run (besides transient faults, which every run has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lie {
    Honest,
    FlipBit,
    Swap,
    Replay,
    Reorder,
    Rollback,
    LoseOwn,
    /// Another device's newest blob hidden from this one, in heads and ranges alike (caught
    /// once this device holds a writer's view naming it).
    Withhold,
    /// A device key substituted: a blob "from" another device signed by a key the server
    /// made, or a device list with another key put in for a listed device.
    SubstituteKey,
    /// The device list served shorter than a device already holds it.
    ListRollback,
}

/// The in-process server: per-device logs, and the faults it injects.
struct Server {
    logs: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    rng: ChaCha8Rng,
    lie: Lie,
    /// Transient failure rate (per request, out of 100).
    flaky: u32,
    quota: usize,
    /// Lies told: to which device, which, and whether that device had verified enough to
    /// be able to tell (then it must raise an alarm).
    told: Vec<(String, Lie, bool)>,
    /// Logs cut below a checkpoint.
    cuts: usize,
    /// Revoked computers' logs removed.
    removed_logs: usize,
    /// Blobs whose bytes another device had removed (a log emptied through them): still
    /// listed (the head and its hash), never served, never counted as held.
    emptied: std::collections::BTreeSet<(String, u64)>,
    /// Logs emptied by another device.
    emptied_logs: usize,
    /// The signed device list as the server keeps it (`sync-devices`).
    list: Vec<Signed>,
    /// A signing key of the server's own (what a substituted device key would be).
    forger: SigningKey,
    /// Devices the account revoked: the server takes nothing more from them.
    revoked: std::collections::BTreeSet<String>,
    /// The practice's clinical sync key, public (anyone can encrypt to it).
    recipient: age::x25519::Recipient,
}

impl Server {
    /// An honest, reliable server for practice `p` (a run then sets its faults).
    fn new(p: &Practice, seed: u64) -> Server {
        Server {
            logs: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            lie: Lie::Honest,
            flaky: 0,
            quota: usize::MAX,
            told: Vec::new(),
            cuts: 0,
            removed_logs: 0,
            emptied: Default::default(),
            emptied_logs: 0,
            list: p.entries.clone(),
            forger: SigningKey::from_bytes(&[7; 32]),
            revoked: Default::default(),
            recipient: p.keys.clinical[0].to_public(),
        }
    }

    fn used(&self) -> usize {
        self.held().map(|(_, _, b)| b.len()).sum()
    }

    /// Every blob the server holds with its bytes: (device, seq, bytes).
    fn held(&self) -> impl Iterator<Item = (&String, u64, &Vec<u8>)> {
        self.logs.iter().flat_map(move |(d, l)| {
            l.iter()
                .filter(move |(seq, _)| !self.emptied.contains(&(d.clone(), **seq)))
                .map(move |(seq, b)| (d, *seq, b))
        })
    }

    fn transient(&mut self) -> Result<(), RemoteError> {
        if self.rng.gen_range(0..100) < self.flaky {
            return Err(if self.rng.gen_bool(0.5) {
                RemoteError::Unreachable("dropped".into())
            } else {
                RemoteError::Refused("503".into())
            });
        }
        Ok(())
    }

    /// The device list as served to `viewer` (see [`Lie::SubstituteKey`], [`Lie::ListRollback`]).
    fn served_list(&mut self, viewer: &str) -> Result<Vec<u8>, RemoteError> {
        if self.revoked.contains(viewer) {
            return Err(RemoteError::Revoked);
        }
        self.transient()?;
        let mut list = self.list.clone();
        if list.len() >= 2 && self.lying(viewer, Lie::ListRollback) {
            list.pop();
            self.told.last_mut().expect("told").2 = true;
        } else if self.lying(viewer, Lie::SubstituteKey) {
            // Another device's entry, with the server's key put in for that device's.
            if let Some(e) = list.iter_mut().find(|e| e.entry.device != viewer) {
                e.entry.signing_key = hex::encode(self.forger.verifying_key().to_bytes());
                self.told.last_mut().expect("told").2 = true;
            }
        }
        Ok(serde_json::to_vec(&list).expect("a list"))
    }

    /// Whether to lie to `viewer` in this response.
    fn lying(&mut self, viewer: &str, lie: Lie) -> bool {
        if self.lie == lie && self.rng.gen_range(0..100) < 30 {
            self.told.push((viewer.to_string(), lie, false));
            true
        } else {
            false
        }
    }
}

/// One device's connection to the server.
struct Conn<'a> {
    server: &'a mut Server,
    me: String,
    /// What this device had verified of each log before the run (to know which lies it can tell).
    verified: BTreeMap<String, u64>,
    /// The highest seq of each log that a writer's view had named to this device.
    claimed: BTreeMap<String, u64>,
    /// A blob hidden in this run: (device, seq and above).
    withheld: Option<(String, u64)>,
}

impl Remote for Conn<'_> {
    fn heads(&mut self) -> Result<Vec<Head>, RemoteError> {
        if self.server.revoked.contains(&self.me) {
            return Err(RemoteError::Revoked);
        }
        self.server.transient()?;
        let mut heads: Vec<Head> = self
            .server
            .logs
            .iter()
            .filter_map(|(d, log)| {
                log.last_key_value().map(|(seq, bytes)| Head {
                    device_id: d.clone(),
                    seq: *seq,
                    hash: blob::hash(bytes),
                })
            })
            .collect();
        let me = self.me.clone();
        if self.server.lying(&me, Lie::Rollback) {
            // Another device's log shown shorter than it is.
            let logs = &self.server.logs;
            if let Some(h) = heads.iter_mut().find(|h| {
                h.device_id != me && logs[&h.device_id].contains_key(&(h.seq.saturating_sub(1)))
            }) {
                let log = &self.server.logs[&h.device_id];
                h.seq -= 1;
                h.hash = blob::hash(&log[&h.seq]);
                let had = self.verified.get(&h.device_id).copied().unwrap_or(0);
                if let Some(last) = self.server.told.last_mut() {
                    last.2 = h.seq < had;
                }
            }
        } else if self.server.lying(&me, Lie::Withhold) {
            // Another device's newest blob hidden, preferably one a view named to this device.
            let logs = &self.server.logs;
            let claimed = &self.claimed;
            let hideable = |h: &&mut Head| {
                h.device_id != me && logs[&h.device_id].contains_key(&(h.seq.saturating_sub(1)))
            };
            let named = heads.iter().position(|h| {
                h.device_id != me
                    && claimed.get(&h.device_id).is_some_and(|c| *c >= h.seq)
                    && logs[&h.device_id].contains_key(&(h.seq.saturating_sub(1)))
            });
            let pick = named.or_else(|| heads.iter_mut().position(|h| hideable(&h)));
            if let Some(i) = pick {
                let h = &mut heads[i];
                let log = &self.server.logs[&h.device_id];
                let hidden = h.seq;
                h.seq -= 1;
                h.hash = blob::hash(&log[&h.seq]);
                let seen = self
                    .verified
                    .get(&h.device_id)
                    .copied()
                    .unwrap_or(0)
                    .max(self.claimed.get(&h.device_id).copied().unwrap_or(0));
                self.withheld = Some((h.device_id.clone(), hidden));
                if let Some(last) = self.server.told.last_mut() {
                    last.2 = seen >= hidden;
                }
            }
        }
        Ok(heads)
    }

    fn put(&mut self, seq: u64, bytes: &[u8]) -> Result<(), RemoteError> {
        if self.server.revoked.contains(&self.me) {
            return Err(RemoteError::Revoked);
        }
        self.server.transient()?;
        if self.server.used() + bytes.len() > self.server.quota {
            return Err(RemoteError::Full);
        }
        let log = self.server.logs.entry(self.me.clone()).or_default();
        match log.get(&seq) {
            Some(have) if have.as_slice() == bytes => {}
            Some(_) => {
                return Err(RemoteError::Refused(
                    "409 different bytes at this seq".into(),
                ));
            }
            None => {
                if seq != log.last_key_value().map_or(1, |(s, _)| s + 1) {
                    return Err(RemoteError::Refused("409 not the next seq".into()));
                }
                log.insert(seq, bytes.to_vec());
            }
        }
        // A lost acknowledgement: stored, but the device hears an error.
        if self.server.rng.gen_range(0..100) < self.server.flaky {
            return Err(RemoteError::Unreachable("acknowledgement lost".into()));
        }
        let me = self.me.clone();
        if self.server.lying(&me, Lie::LoseOwn) {
            // The server loses this device's newest blob after acknowledging it.
            let log = self.server.logs.get_mut(&me).expect("just written");
            log.pop_last();
        }
        Ok(())
    }

    fn range(
        &mut self,
        device: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, RemoteError> {
        if self.server.revoked.contains(&self.me) {
            return Err(RemoteError::Revoked);
        }
        self.server.transient()?;
        let hidden = match &self.withheld {
            Some((d, seq)) if d == device => *seq,
            _ => u64::MAX,
        };
        let emptied = &self.server.emptied;
        let mut out: Vec<(u64, Vec<u8>)> = self
            .server
            .logs
            .get(device)
            .map(|log| {
                log.range(from..=to)
                    .filter(|(s, _)| **s < hidden)
                    .filter(|(s, _)| !emptied.contains(&(device.to_string(), **s)))
                    .map(|(s, b)| (*s, b.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let me = self.me.clone();
        if out.is_empty() {
            return Ok(out);
        }
        if self.server.lying(&me, Lie::FlipBit) {
            let i = self.server.rng.gen_range(0..out.len());
            let n = out[i].1.len();
            let pos = self.server.rng.gen_range(0..n);
            out[i].1[pos] ^= 1 << self.server.rng.gen_range(0..8);
        } else if out.len() >= 2 && self.server.lying(&me, Lie::Swap) {
            let b = out[1].1.clone();
            out[0].1 = b;
        } else if self.server.lying(&me, Lie::Replay) {
            let first = out[0].1.clone();
            let last = out.last().map_or(0, |(s, _)| *s);
            out.push((last + 1, first));
        } else if out.len() >= 2 && self.server.lying(&me, Lie::Reorder) {
            out.swap(0, 1);
        } else if self.server.lying(&me, Lie::SubstituteKey) {
            // A blob in that device's place, chained to its previous one, encrypted to the
            // practice — and signed by the server's own key: every device must refuse it.
            let seq = out[0].0;
            let prev = self
                .server
                .logs
                .get(device)
                .and_then(|l| l.get(&(seq.wrapping_sub(1))))
                .map(|b| blob::hash(b));
            let inner = Inner {
                account: ACCOUNT.into(),
                device: device.into(),
                seq,
                kind: Kind::Clinical,
                prev,
                view: BTreeMap::new(),
                schema: 8,
                len: 0,
            };
            out[0].1 = blob::seal(inner, b"{}", &self.server.recipient, &self.server.forger)
                .expect("a forged blob");
            self.server.told.last_mut().expect("told").2 = true;
        }
        Ok(out)
    }

    fn cut(&mut self, below: u64) -> Result<(), RemoteError> {
        self.server.transient()?;
        let log = self.server.logs.entry(self.me.clone()).or_default();
        if log.last_key_value().is_none_or(|(head, _)| below > *head) {
            return Err(RemoteError::Refused("409 the head stays".into()));
        }
        log.retain(|seq, _| *seq >= below);
        self.server.cuts += 1;
        Ok(())
    }

    fn remove_revoked(&mut self, device: &str) -> Result<(), RemoteError> {
        if self.server.revoked.contains(&self.me) {
            return Err(RemoteError::Revoked);
        }
        self.server.transient()?;
        if !self.server.revoked.contains(device) {
            return Err(RemoteError::Refused(
                "409 only a revoked computer's log".into(),
            ));
        }
        if self.server.logs.remove(device).is_some() {
            self.server.removed_logs += 1;
        }
        Ok(())
    }

    fn empty(&mut self, device: &str, through: u64) -> Result<(), RemoteError> {
        if self.server.revoked.contains(&self.me) {
            return Err(RemoteError::Revoked);
        }
        self.server.transient()?;
        let Some(log) = self.server.logs.get_mut(device) else {
            return Err(RemoteError::Refused("404 no such device".into()));
        };
        if log.last_key_value().is_none_or(|(head, _)| through > *head) {
            return Err(RemoteError::Refused("409 past the head".into()));
        }
        log.retain(|seq, _| *seq >= through);
        if self.server.emptied.insert((device.to_string(), through)) {
            self.server.emptied_logs += 1;
        }
        Ok(())
    }
}

/// A device of the simulated practice.
struct Device {
    dir: PathBuf,
    id: String,
    signer: SigningKey,
    vault: Option<Vault>,
    clients: Vec<String>,
    notes: Vec<String>,
    alarms: Vec<Alarm>,
    /// The device list as this device holds it (a served one must extend it).
    held: Vec<Signed>,
}

fn keychain_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        match Vault::init(&dir.path().join("v"), None) {
            Ok(_) => true,
            Err(e) => {
                assert!(
                    std::env::var_os("CASEBOOK_FULL_TESTS").is_none(),
                    "the keychain is required here: {e}"
                );
                false
            }
        }
    })
}

/// A vault made once per test process; each device starts as a copy of it.
fn template() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch();
        let passphrase = (!keychain_available()).then_some(PASSPHRASE);
        Vault::init(&dir.path().join("vault"), passphrase).expect("template vault");
        dir
    })
    .path()
}

/// Scratch space in memory where there is some (fsync on tmpfs is free).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("temp dir")
}

fn open(dir: &Path) -> Vault {
    let passphrase = (!keychain_available()).then_some(PASSPHRASE);
    Vault::open(dir, passphrase).expect("open a device's vault")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read template") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

struct Practice {
    _home: tempfile::TempDir,
    devices: Vec<Device>,
    list: DeviceList,
    /// The list's signed entries, as every device holds them from the start.
    entries: Vec<Signed>,
    root: ed25519_dalek::VerifyingKey,
    keys: PracticeKeys,
}

fn practice(n: usize) -> Practice {
    let home = scratch();
    let root = practice_root("simulation recovery key");
    let keys = PracticeKeys {
        clinical: vec![age::x25519::Identity::generate()],
        identity: vec![age::x25519::Identity::generate()],
    };
    let mut list = DeviceList::default();
    let mut entries = Vec::new();
    let mut devices = Vec::new();
    for i in 0..n {
        let dir = home.path().join(format!("device-{i}"));
        copy_dir(&template().join("vault"), &dir);
        let mut vault = open(&dir);
        let id = vault.reidentify().expect("re-identify a copied vault");
        let letter = LETTERS.chars().nth(i).expect("a letter");
        vault.set_device_letter(letter).expect("letter");
        let signer = new_device_key();
        let entry = Entry {
            op: ListOp::Add,
            device: id.clone(),
            name: format!("computer {i}"),
            signing_key: hex::encode(signer.verifying_key().to_bytes()),
            box_key: "age1sim".into(),
            letter,
            at: "2026-12-02T12:00:00Z".into(),
            prev: list.head.clone(),
            signer: ROOT.into(),
            until: None,
            rekey: None,
        };
        let signed = Signed::sign(entry, &root).expect("sign");
        list.append(&signed, &root.verifying_key())
            .expect("a valid entry");
        entries.push(signed);
        devices.push(Device {
            dir,
            id,
            signer,
            vault: Some(vault),
            clients: Vec::new(),
            notes: Vec::new(),
            alarms: Vec::new(),
            held: Vec::new(),
        });
    }
    for d in &mut devices {
        d.held = entries.clone();
    }
    Practice {
        _home: home,
        devices,
        list,
        entries,
        root: root.verifying_key(),
        keys,
    }
}

/// One random local action on device `d`.
fn act(d: &mut Device, rng: &mut ChaCha8Rng, step: usize) {
    let v = d.vault.as_mut().expect("open");
    let code = |s: &str| ClientCode::parse(s).expect("a code");
    match rng.gen_range(0..10) {
        0 | 1 => {
            let c = v
                .add_client(ClientIdentity {
                    full_name: format!("Client {step}"),
                    ..Default::default()
                })
                .expect("add a client");
            d.clients.push(c.code.as_str().to_string());
        }
        2 | 3 if !d.clients.is_empty() => {
            let c = d.clients[rng.gen_range(0..d.clients.len())].clone();
            if let Ok(n) = v.add_note(
                &code(&c),
                NoteTemplate::Free,
                &[("text".into(), format!("typed at {step}"))],
                None,
            ) {
                d.notes.push(n.id);
            }
        }
        4 | 5 if !d.notes.is_empty() => {
            let n = d.notes[rng.gen_range(0..d.notes.len())].clone();
            let _ = v.edit_note(&n, &[("text".into(), format!("edited at {step}"))]);
        }
        6 if !d.notes.is_empty() => {
            let n = d.notes[rng.gen_range(0..d.notes.len())].clone();
            let _ = v.finalise_note(&n);
        }
        7 if !d.notes.is_empty() => {
            let n = d.notes[rng.gen_range(0..d.notes.len())].clone();
            let _ = v.add_addendum(&n, "added later");
        }
        8 if !d.clients.is_empty() => {
            let c = d.clients[rng.gen_range(0..d.clients.len())].clone();
            let changes: casebook_core::records::clients::IdentityChanges = serde_json::from_value(
                serde_json::json!({ "email": format!("e{step}@example.org") }),
            )
            .expect("json");
            let _ = v.edit_client(&code(&c), &changes, None);
        }
        9 if !d.clients.is_empty() && rng.gen_range(0..4) == 0 => {
            let c = d.clients[rng.gen_range(0..d.clients.len())].clone();
            let _ = v.erase_client(&code(&c), "asked to be forgotten", true);
        }
        _ => {}
    }
}

/// Learns the clients and notes other devices made (so later actions touch them too).
fn learn(d: &mut Device) {
    let v = d.vault.as_mut().expect("open");
    if let Ok(list) = v.list_clients(true) {
        for c in list {
            if !d.clients.contains(&c.code.as_str().to_string()) {
                d.clients.push(c.code.as_str().to_string());
            }
            if let Ok(notes) = v.notes(&c.code) {
                for n in notes {
                    if !d.notes.contains(&n.id) {
                        d.notes.push(n.id);
                    }
                }
            }
        }
    }
}

/// Device `i` seals a checkpoint now (as it does after many changes, a day, or an erasure):
/// its next run sends it and cuts its log below it.
fn checkpoint(p: &mut Practice, i: usize) {
    let d = &mut p.devices[i];
    let vault = d.vault.as_mut().expect("open");
    let mut engine =
        Engine::load(vault, ACCOUNT, &d.id, &d.signer, &p.keys, &p.list).expect("engine");
    engine.seal_checkpoint().expect("a checkpoint");
}

/// Every row change the server still holds, in any log (change batches and checkpoints),
/// opened with the practice's keys.
fn rows_on_server(
    p: &Practice,
    server: &Server,
) -> Vec<(String, u64, Kind, casebook_core::merge::RowChange)> {
    let mut out = Vec::new();
    for (device, seq, bytes) in server.held() {
        let seq = &seq;
        {
            let kind = Envelope::parse(bytes).expect("a blob").outer.kind;
            let key = p.list.key_for_blob(device, *seq).expect("a listed key");
            let at = blob::Expect {
                account: ACCOUNT,
                device,
                seq: *seq,
            };
            let secret = match kind {
                Kind::Identity | Kind::IdentityCheckpoint => &p.keys.identity,
                _ => &p.keys.clinical,
            };
            let opened = blob::open(bytes, &at, key, secret).expect("opens");
            let rows: Vec<casebook_core::merge::RowChange> = match kind {
                Kind::Clinical | Kind::Identity => {
                    casebook_sync::batch::Batch::decode(kind, &opened.payload)
                        .expect("a batch")
                        .changes
                }
                Kind::Checkpoint | Kind::IdentityCheckpoint => {
                    casebook_sync::checkpoint::Chunk::decode(&opened.payload)
                        .expect("a chunk")
                        .rows
                }
                _ => Vec::new(),
            };
            out.extend(rows.into_iter().map(|r| (device.clone(), *seq, kind, r)));
        }
    }
    out
}

/// Device `i` killed in the middle of a run: after sealing and storing its blobs (nothing
/// sent), or after sending them (the server holds them; the device never marked them
/// acknowledged, nor verified what came back). Its next run must carry on from there.
fn killed_mid_run(p: &mut Practice, i: usize, server: &mut Server, sent: bool) {
    let d = &mut p.devices[i];
    {
        let vault = d.vault.as_mut().expect("open");
        let mut engine =
            Engine::load(vault, ACCOUNT, &d.id, &d.signer, &p.keys, &p.list).expect("engine");
        if let Ok(out) = engine.outbound()
            && sent
        {
            let mut conn = Conn {
                server,
                me: d.id.clone(),
                verified: BTreeMap::new(),
                claimed: BTreeMap::new(),
                withheld: None,
            };
            let _ = engine::exchange(&mut conn, &out);
        }
    }
    d.vault = None;
    d.vault = Some(open(&d.dir));
}

/// Revoked computers' logs removed from the server over the seeds run.
static REMOVED_LOGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Logs of computers switched off since an erasure emptied over the seeds run.
static EMPTIED_LOGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Computers revoked over the seeds run (reported by the many-seed test).
static REVOCATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Device `i` revokes device `j` as `casebook sync revoke` does: the server stops taking
/// `j`'s blobs, `i` fetches and applies the rest of `j`'s log, and signs a revocation whose
/// cut is the last blob it verified; every device reads the new list at its next run. Done
/// over a reliable moment of an honest server (the command fails, and is run again, if not).
fn revoke(p: &mut Practice, i: usize, j: usize, server: &mut Server) {
    REVOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let victim = p.devices[j].id.clone();
    server.revoked.insert(victim.clone());
    let flaky = std::mem::replace(&mut server.flaky, 0);
    let quota = std::mem::replace(&mut server.quota, usize::MAX);
    let fetched = sync(p, i, server);
    server.flaky = flaky;
    server.quota = quota;
    fetched.expect("the revoking computer's run, on a reliable moment of an honest server");
    let signed = sign_revocation(p, i, &victim);
    p.entries.push(signed.clone());
    server.list.push(signed);
}

/// Device `by` signs `victim`'s revocation, cut at the last of `victim`'s blobs it has
/// verified, and the practice's list takes it; the signed entry.
fn sign_revocation(p: &mut Practice, by: usize, victim: &str) -> Signed {
    let d = &mut p.devices[by];
    let me = d.id.clone();
    let cut = Engine::load(
        d.vault.as_mut().expect("open"),
        ACCOUNT,
        &me,
        &d.signer,
        &p.keys,
        &p.list,
    )
    .expect("engine")
    .chains()
    .head(victim);
    let listed = p.list.devices[victim].clone();
    let entry = Entry {
        op: ListOp::Revoke,
        device: victim.to_string(),
        name: listed.name,
        signing_key: hex::encode(listed.signing_key.to_bytes()),
        box_key: listed.box_key,
        letter: listed.letter,
        at: "2026-12-04T09:00:00Z".into(),
        prev: p.list.head.clone(),
        signer: ROOT.into(),
        until: cut,
        rekey: None,
    };
    let root = practice_root("simulation recovery key");
    let signed = Signed::sign(entry, &root).expect("sign");
    p.list
        .append(&signed, &root.verifying_key())
        .expect("a valid revocation");
    signed
}

fn sync(p: &mut Practice, i: usize, server: &mut Server) -> Result<(), SyncError> {
    sync_at(p, i, server, None).map(|_| ())
}

/// One run of device `i`, going by the time `now` when given; its report.
fn sync_at(
    p: &mut Practice,
    i: usize,
    server: &mut Server,
    now: Option<i64>,
) -> Result<Report, SyncError> {
    let d = &mut p.devices[i];
    // First the device list, as the server serves it: it must extend the one held here.
    let served = server.served_list(&d.id).map_err(SyncError::Remote)?;
    match check_served_list(Some(&served), &p.root, &d.held) {
        Ok(entries) => assert_eq!(
            entries, p.entries,
            "a device list the practice never signed was believed"
        ),
        Err(SyncError::Alarm(a)) => {
            d.alarms.push(a.clone());
            return Err(SyncError::Alarm(a));
        }
        Err(e) => return Err(e),
    }
    let vault = d.vault.as_mut().expect("open");
    let me = d.id.clone();
    let mut engine = Engine::load(vault, ACCOUNT, &me, &d.signer, &p.keys, &p.list)?;
    if let Some(t) = now {
        engine = engine.at(t);
    }
    let mut verified = BTreeMap::new();
    for (x, seq, _) in engine.chains().verified() {
        let e = verified.entry(x.to_string()).or_insert(0);
        *e = (*e).max(seq);
    }
    let claimed = engine
        .chains()
        .claimed()
        .map(|(x, seq)| (x.to_string(), seq))
        .collect();
    let mut conn = Conn {
        server,
        me: d.id.clone(),
        verified,
        claimed,
        withheld: None,
    };
    let result = engine.run(&mut conn);
    // Whatever the server did, this device verified only blobs the devices really wrote.
    for (x, seq, hash) in engine.chains().verified() {
        if let Some(bytes) = server.logs.get(x).and_then(|l| l.get(&seq)) {
            assert_eq!(
                blob::hash(bytes),
                hash,
                "device {i} accepted a blob {x}/{seq} its writer never wrote"
            );
        }
    }
    match result {
        Ok(report) => {
            d.alarms.extend(report.warnings.iter().cloned());
            Ok(report)
        }
        Err(SyncError::Alarm(a)) => {
            d.alarms.push(a.clone());
            Err(SyncError::Alarm(a))
        }
        Err(e) => Err(e),
    }
}

fn run_seed(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rng.gen_range(2..=5usize);
    let lie = match rng.gen_range(0..18) {
        0 => Lie::FlipBit,
        1 => Lie::Swap,
        2 => Lie::Replay,
        3 => Lie::Reorder,
        4 => Lie::Rollback,
        5 => Lie::LoseOwn,
        6 => Lie::Withhold,
        7 => Lie::SubstituteKey,
        8 => Lie::ListRollback,
        _ => Lie::Honest,
    };
    let mut p = practice(n);
    let mut server = Server::new(&p, seed ^ 0x5eed);
    server.lie = lie;
    server.flaky = rng.gen_range(0..25);
    if rng.gen_range(0..10) == 0 {
        server.quota = rng.gen_range(4_000..40_000);
    }
    let steps = rng.gen_range(5..30);
    // Revocations draw from a generator of their own, so that every other decision of a
    // seed is the one it made before revocations were simulated.
    let mut revoking = ChaCha8Rng::seed_from_u64(seed ^ 0x7e70_c0de);
    let mut revoked: Vec<usize> = Vec::new();
    for step in 0..steps {
        let i = rng.gen_range(0..n);
        if lie == Lie::Honest && n - revoked.len() >= 3 && revoking.gen_range(0..12) == 0 {
            let active: Vec<usize> = (0..n).filter(|k| !revoked.contains(k)).collect();
            let by = active[revoking.gen_range(0..active.len())];
            let others: Vec<usize> = active.iter().copied().filter(|k| *k != by).collect();
            let j = others[revoking.gen_range(0..others.len())];
            revoke(&mut p, by, j, &mut server);
            revoked.push(j);
        }
        let gone = revoked.contains(&i);
        match rng.gen_range(0..11) {
            0..=4 => act(&mut p.devices[i], &mut rng, step),
            // A revoked computer keeps its records and its work, and can send nothing.
            5..=10 if gone => {
                let refused = sync(&mut p, i, &mut server);
                assert!(
                    matches!(refused, Err(SyncError::Remote(RemoteError::Revoked))),
                    "seed {seed}: a revoked computer's run was not refused: {refused:?}"
                );
            }
            10 => checkpoint(&mut p, i),
            5..=8 => {
                let told_before = server.told.len();
                let result = sync(&mut p, i, &mut server);
                check_lies_caught(&p.devices[i], &server.told[told_before..], &result, seed);
                learn(&mut p.devices[i]);
            }
            _ => match rng.gen_range(0..3) {
                0 => killed_mid_run(&mut p, i, &mut server, false),
                1 => killed_mid_run(&mut p, i, &mut server, true),
                _ => {
                    // Killed between runs: the vault closed and opened again.
                    let d = &mut p.devices[i];
                    d.vault = None;
                    d.vault = Some(open(&d.dir));
                }
            },
        }
    }
    if lie == Lie::Honest {
        // An honest server, however flaky, lets everyone converge once it stops failing.
        server.flaky = 0;
        server.quota = usize::MAX;
        // In half the seeds one computer is switched off first, for longer than
        // QUIET_SECONDS: the others alone must leave nothing of a client they know erased on
        // the server (they empty its log). (A generator of its own, as for revocations.)
        let mut ending = ChaCha8Rng::seed_from_u64(seed ^ 0x00ff_114e);
        let staying: Vec<usize> = (0..n).filter(|i| !revoked.contains(i)).collect();
        let away = (staying.len() >= 2 && ending.gen_range(0..2) == 0)
            .then(|| staying[ending.gen_range(0..staying.len())]);
        let later = chrono::Utc::now().timestamp() + engine::QUIET_SECONDS + 3600;
        if let Some(k) = away {
            // Often a computer still on erases a client just then (one the away computer may
            // have written about).
            if ending.gen_range(0..2) == 0 {
                let others: Vec<usize> = staying.iter().copied().filter(|i| *i != k).collect();
                let i = others[ending.gen_range(0..others.len())];
                let v = p.devices[i].vault.as_mut().expect("open");
                let clients = v.list_clients(true).expect("clients");
                if !clients.is_empty() {
                    let c = &clients[ending.gen_range(0..clients.len())];
                    v.erase_client(&c.code, "right to erasure", true)
                        .expect("erase");
                }
            }
            // One round now (they read what it sent before it went), then hours later.
            for now in [None, Some(later), Some(later), Some(later)] {
                for &i in staying.iter().filter(|i| **i != k) {
                    if let Err(e) = sync_at(&mut p, i, &mut server, now) {
                        panic!("seed {seed}: device {i} failed while {k} was away: {e}");
                    }
                }
            }
            let mut erased: Vec<String> = Vec::new();
            for &i in staying.iter().filter(|i| **i != k) {
                let v = p.devices[i].vault.as_mut().expect("open");
                erased.extend(
                    v.erasure_records()
                        .expect("records")
                        .into_iter()
                        .map(|r| r.client_code),
                );
            }
            for code in &erased {
                let left = rows_of(&p, &server, code);
                assert!(
                    left.is_empty(),
                    "seed {seed}: with device {k} away, an erased client is still on the server: {left:?}"
                );
            }
            EMPTIED_LOGS.fetch_add(server.emptied_logs, std::sync::atomic::Ordering::Relaxed);
        }
        let back = away.map(|_| later + 3600);
        for _round in 0..3 {
            for &i in &staying {
                if let Err(e) = sync_at(&mut p, i, &mut server, back) {
                    panic!("seed {seed}: device {i} failed against an honest server: {e}");
                }
            }
        }
        // The computers still in the practice end with the same records (a revoked one keeps
        // what it had, and its work after the cut counts nowhere else).
        let active: Vec<usize> = (0..n).filter(|i| !revoked.contains(i)).collect();
        let prints: Vec<String> = active
            .iter()
            .map(|&i| &p.devices[i])
            .map(|d| {
                d.vault
                    .as_ref()
                    .expect("open")
                    .records_fingerprint()
                    .expect("fingerprint")
            })
            .collect();
        if prints.windows(2).any(|w| w[0] != w[1]) {
            // What differs, for the report: rows one copy has and the first does not.
            let lines: Vec<Vec<String>> = active
                .iter()
                .map(|&i| &p.devices[i])
                .map(|d| {
                    d.vault
                        .as_ref()
                        .expect("open")
                        .records_lines()
                        .expect("rows")
                })
                .collect();
            for (i, l) in lines.iter().enumerate().skip(1) {
                for x in l.iter().filter(|x| !lines[0].contains(x)) {
                    eprintln!("seed {seed}: only on device {i}: {x}");
                }
                for x in lines[0].iter().filter(|x| !l.contains(x)) {
                    eprintln!("seed {seed}: on device 0, not on device {i}: {x}");
                }
            }
        }
        assert!(
            prints.windows(2).all(|w| w[0] == w[1]),
            "seed {seed}: records differ: {prints:?}"
        );
        // Every erasure reached every computer, which then wrote a checkpoint and cut its log:
        // no row of an erased client is left on the server, in any log or checkpoint.
        let mut erased: Vec<String> = Vec::new();
        for &i in &active {
            for r in p.devices[i]
                .vault
                .as_mut()
                .expect("open")
                .erasure_records()
                .expect("records")
            {
                erased.push(r.client_code);
            }
        }
        if !erased.is_empty() {
            assert!(
                server.cuts > 0,
                "seed {seed}: no log was cut after an erasure"
            );
        }
        // A revoked computer's log is gone once a computer's checkpoint holds it: every
        // computer still in the practice has run since the revocation.
        for &k in &revoked {
            let id = &p.devices[k].id;
            assert!(
                !server.logs.contains_key(id),
                "seed {seed}: the revoked computer {id}'s log is still on the server"
            );
        }
        REMOVED_LOGS.fetch_add(server.removed_logs, std::sync::atomic::Ordering::Relaxed);
        // A computer whose log was cut keeps no copy of the blobs below the cut either.
        for d in &p.devices {
            let v = d.vault.as_ref().expect("open");
            if let Some(w) = engine::last_checkpoint(v).expect("state").filter(|w| w.cut) {
                for seq in 1..w.first {
                    assert!(
                        v.sealed(seq).expect("read").is_none(),
                        "seed {seed}: {} still keeps its blob {seq} below its cut at {}",
                        d.id,
                        w.first
                    );
                }
            }
        }
        if std::env::var("SIM_DEBUG").is_ok() {
            for d in &p.devices {
                let v = d.vault.as_ref().expect("open");
                let st = v.sync_get("engine").unwrap().unwrap_or_default();
                let j: serde_json::Value = serde_json::from_str(&st).unwrap_or_default();
                let unacked: Vec<u64> = v
                    .sealed_unacked()
                    .unwrap()
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
                eprintln!(
                    "DEBUG {} unacked={unacked:?} erasures={} cp={} since={} next={} log={:?}",
                    d.id,
                    v.erasures_known().unwrap(),
                    j["checkpoint"],
                    j["since_checkpoint"],
                    j["next_seq"],
                    server.logs.get(&d.id).map(|l| l.keys().collect::<Vec<_>>())
                );
            }
        }
        for (device, seq, kind, row) in rows_on_server(&p, &server) {
            let code = row.f.get("client_code").and_then(|v| v.as_str());
            let of_erased = erased
                .iter()
                .any(|e| Some(e.as_str()) == code || *e == row.k);
            // (A delete carries no data, only the code the erasure record holds anyway.)
            let carries_data = row.op == casebook_core::merge::ChangeOp::Upsert;
            assert!(
                row.t == "erasure_records" || !carries_data || !of_erased,
                "seed {seed}: a row of an erased client is still on the server: {} {} in {kind:?} blob {device}/{seq} (log from {:?})",
                row.t,
                row.k,
                server.logs[&device].keys().next()
            );
        }
        // Every computer still in the practice has heard from, and holds the trail of, every
        // other one still in it.
        let ids: Vec<String> = active.iter().map(|&i| p.devices[i].id.clone()).collect();
        for (k, d) in p.devices.iter_mut().enumerate() {
            if revoked.contains(&k) {
                continue;
            }
            assert!(
                d.alarms.iter().all(Alarm::is_warning),
                "seed {seed}: alarm from an honest server: {:?}",
                d.alarms
            );
            // Every computer has sealed something (changes, or at least a heartbeat), so each
            // has heard from every other.
            // And holds every other's audit trail (it travels with their heartbeats).
            let chains = d
                .vault
                .as_mut()
                .expect("open")
                .verify_audit()
                .expect("every audit trail verifies")
                .devices;
            for other in ids.iter().filter(|o| **o != d.id) {
                assert!(
                    chains.iter().any(|c| c.device == *other),
                    "seed {seed}: {} lacks the audit trail of {other}",
                    d.id,
                );
            }
            let (heard, _) = engine::heard(d.vault.as_ref().expect("open")).expect("heard");
            for other in ids.iter().filter(|o| **o != d.id) {
                assert!(
                    heard.contains_key(other),
                    "seed {seed}: {} never heard from {other}",
                    d.id,
                );
            }
        }
    }
    for d in &mut p.devices {
        let v = d.vault.as_mut().expect("open");
        assert!(
            v.verify_audit().is_ok(),
            "seed {seed}: an audit chain does not verify"
        );
        let erased: Vec<String> = v
            .erasure_records()
            .expect("records")
            .into_iter()
            .map(|r| r.client_code)
            .collect();
        for c in v.list_clients(true).expect("list") {
            assert!(
                !erased.contains(&c.code.as_str().to_string()),
                "seed {seed}: erased client {} came back",
                c.code
            );
        }
    }
}

/// Every lie told to a device that it could tell from what it had verified was caught.
fn check_lies_caught(
    d: &Device,
    told: &[(String, Lie, bool)],
    result: &Result<(), SyncError>,
    seed: u64,
) {
    for (viewer, lie, must_catch) in told {
        if *viewer == d.id && *must_catch {
            assert!(
                matches!(result, Err(SyncError::Alarm(_)) | Err(SyncError::Remote(_))),
                "seed {seed}: {lie:?} told to {} was not caught: {result:?}",
                d.id
            );
        }
    }
}

#[test]
fn the_simulation_holds_for_every_seed() {
    if let Some(seed) = std::env::var("CASEBOOK_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_seed(seed);
        return;
    }
    let default = if keychain_available() { 1_000 } else { 30 };
    let seeds: u64 = std::env::var("CASEBOOK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    for seed in 0..seeds {
        let outcome = std::panic::catch_unwind(|| run_seed(seed));
        if let Err(e) = outcome {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("seed {seed} failed (replay with CASEBOOK_SIM_SEED={seed}): {msg}");
        }
    }
    let revocations = REVOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
    let removed = REMOVED_LOGS.load(std::sync::atomic::Ordering::Relaxed);
    let emptied = EMPTIED_LOGS.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "{seeds} seeds; {revocations} computers revoked in them, {removed} of their logs removed; {emptied} logs of computers switched off since an erasure emptied"
    );
}

/// A computer with nothing to send seals a heartbeat at its first run and then once an hour,
/// so the others can tell it is there (and a server withholding its changes shows as silence);
/// a run with changes to send needs none.
#[test]
fn a_quiet_computer_sends_a_heartbeat_every_hour() {
    let mut p = practice(2);
    let mut server = Server::new(&p, 7);
    // The blobs a computer sent, but its audit trail (which travels with them).
    let kinds = |server: &Server, id: &str| -> Vec<Kind> {
        server.logs.get(id).map_or(Vec::new(), |log| {
            log.values()
                .map(|b| Envelope::parse(b).expect("a blob").outer.kind)
                .filter(|k| *k != Kind::Audit)
                .collect()
        })
    };
    let audit_blobs = |server: &Server, id: &str| {
        server.logs.get(id).map_or(0, |log| {
            log.values()
                .filter(|b| Envelope::parse(b).expect("a blob").outer.kind == Kind::Audit)
                .count()
        })
    };
    let me = p.devices[0].id.clone();
    let t0 = 1_800_000_000;
    let quiet = sync_at(&mut p, 0, &mut server, Some(t0)).expect("first run");
    assert_eq!(
        (quiet.sealed, quiet.sent),
        (1, 1),
        "a heartbeat at the first run, the audit trail inside it"
    );
    assert_eq!(kinds(&server, &me), [Kind::Heartbeat]);
    assert_eq!(audit_blobs(&server, &me), 0);
    let again = sync_at(&mut p, 0, &mut server, Some(t0 + 600)).expect("ten minutes on");
    assert_eq!(again.sealed, 0, "no heartbeat within the hour");
    let hour = sync_at(&mut p, 0, &mut server, Some(t0 + 3_600)).expect("an hour on");
    assert!(hour.sealed >= 1, "a heartbeat an hour after the last");
    assert_eq!(kinds(&server, &me), [Kind::Heartbeat, Kind::Heartbeat]);

    // The other computer hears both, and nothing changes in its records.
    let before = p.devices[1]
        .vault
        .as_ref()
        .expect("open")
        .records_fingerprint()
        .expect("print");
    let other = sync_at(&mut p, 1, &mut server, Some(t0 + 4_000)).expect("the other's run");
    assert_eq!(
        (other.received, other.applied_changes),
        (2 + audit_blobs(&server, &me), 0)
    );
    let after = p.devices[1]
        .vault
        .as_ref()
        .expect("open")
        .records_fingerprint()
        .expect("print");
    assert_eq!(before, after);
    let (heard, _) = engine::heard(p.devices[1].vault.as_ref().expect("open")).expect("heard");
    assert_eq!(heard.get(&p.devices[0].id), Some(&(t0 + 4_000)));

    // With a change to send, no heartbeat besides it.
    p.devices[0]
        .vault
        .as_mut()
        .expect("open")
        .add_client(ClientIdentity {
            full_name: "Busy Day".into(),
            ..Default::default()
        })
        .expect("add a client");
    let blobs = |server: &Server| server.logs.get(&me).map_or(0, |l| l.len());
    let before = blobs(&server);
    let audit_before = audit_blobs(&server, &me);
    let busy = sync_at(&mut p, 0, &mut server, Some(t0 + 9_000)).expect("a busy run");
    assert_eq!(
        busy.sealed, 2,
        "the client's clinical and identity rows, the audit entries riding in the first"
    );
    assert_eq!(blobs(&server), before + busy.sealed);
    assert_eq!(audit_blobs(&server, &me), audit_before);
    let sent = kinds(&server, &me);
    assert!(
        sent[2..].iter().all(|k| *k != Kind::Heartbeat),
        "the changes, and no heartbeat beside them: {sent:?}"
    );
    let entries = |p: &mut Practice, i: usize, of: &str| -> usize {
        p.devices[i]
            .vault
            .as_mut()
            .expect("open")
            .verify_audit()
            .expect("verifies")
            .devices
            .iter()
            .find(|c| c.device == of)
            .map_or(0, |c| c.entries as usize)
    };
    sync_at(&mut p, 1, &mut server, Some(t0 + 9_010)).expect("the other's run");
    let held = entries(&mut p, 1, &me);

    // An edit of a name or contact detail alone is one identity blob: its audit entry (under
    // the clinical key) waits for the next clinical blob or heartbeat... (Real time from
    // here: the entries are stamped by the vault's own clock.)
    let now = chrono::Utc::now().timestamp();
    let edit_email = |p: &mut Practice, email: &str| {
        let v = p.devices[0].vault.as_mut().expect("open");
        let code = v.list_clients(false).expect("clients")[0].code.clone();
        let changes: casebook_core::records::clients::IdentityChanges =
            serde_json::from_value(serde_json::json!({ "email": email })).expect("json");
        v.edit_client(&code, &changes, None).expect("an edit");
    };
    edit_email(&mut p, "busy@example.org");
    let edit = sync_at(&mut p, 0, &mut server, Some(now)).expect("the edit's run");
    assert_eq!(
        edit.sealed,
        1,
        "{:?}",
        server.logs[&me]
            .values()
            .map(|b| Envelope::parse(b).expect("a blob").outer.kind)
            .collect::<Vec<_>>()
    );
    assert_eq!(kinds(&server, &me).last(), Some(&Kind::Identity));
    let quiet = sync_at(&mut p, 0, &mut server, Some(now + 60)).expect("a minute on");
    assert_eq!(quiet.sealed, 0, "no blob for the entry alone");
    sync_at(&mut p, 1, &mut server, Some(now + 70)).expect("the other's run");
    assert_eq!(entries(&mut p, 1, &me), held, "the entry waits");
    // ...and a computer whose only edits are names, every 50 minutes, still sends its trail
    // within the hour: the oldest entry waiting an hour brings a heartbeat.
    edit_email(&mut p, "busier@example.org");
    sync_at(&mut p, 0, &mut server, Some(now + 3_000)).expect("the second edit's run");
    assert_eq!(kinds(&server, &me).last(), Some(&Kind::Identity));
    let later = sync_at(&mut p, 0, &mut server, Some(now + 3_700)).expect("past the hour");
    assert_eq!(later.sealed, 1);
    assert_eq!(kinds(&server, &me).last(), Some(&Kind::Heartbeat));
    sync_at(&mut p, 1, &mut server, Some(now + 3_710)).expect("the other's run");
    assert!(
        entries(&mut p, 1, &me) >= held + 2,
        "the heartbeat brought both edits' entries"
    );
}

/// Device `i`'s records fingerprint.
/// The full names of device `i`'s clients.
fn names(p: &mut Practice, i: usize) -> Vec<String> {
    p.devices[i]
        .vault
        .as_mut()
        .expect("open")
        .list_clients(true)
        .expect("list")
        .into_iter()
        .filter_map(|c| c.full_name)
        .collect()
}

fn print(p: &Practice, i: usize) -> String {
    p.devices[i]
        .vault
        .as_ref()
        .expect("open")
        .records_fingerprint()
        .expect("print")
}

/// A revoked computer's log counts up to the cut its revocation names, and nothing after it
/// counts — even from a server that keeps taking its blobs. A computer that learns of the
/// revocation before it fetched the revoked computer's last blobs reads them by range up to
/// the cut (the server's head for that computer is ignored).
#[test]
fn a_revoked_computers_log_counts_up_to_its_cut_and_no_further() {
    let mut p = practice(3);
    let mut server = Server::new(&p, 11);
    let add = |p: &mut Practice, i: usize, name: &str| {
        p.devices[i]
            .vault
            .as_mut()
            .expect("open")
            .add_client(ClientIdentity {
                full_name: name.into(),
                ..Default::default()
            })
            .expect("add a client");
    };
    let clients = |p: &mut Practice, i: usize| {
        p.devices[i]
            .vault
            .as_mut()
            .expect("open")
            .list_clients(true)
            .expect("list")
            .len()
    };
    for i in 0..3 {
        sync(&mut p, i, &mut server).expect("everyone on");
    }
    add(&mut p, 2, "Before The Cut");
    sync(&mut p, 2, &mut server).expect("the laptop's last run");
    sync(&mut p, 0, &mut server).expect("the surgery catches up");

    // The surgery revokes the laptop, with the laptop's log as it verified it.
    let laptop = p.devices[2].id.clone();
    let cut = sign_revocation(&mut p, 0, &laptop)
        .entry
        .until
        .expect("the laptop's blobs verified");

    // A server that keeps taking the laptop's blobs.
    add(&mut p, 2, "After The Cut");
    sync(&mut p, 2, &mut server).expect("the colluding server takes it");
    assert!(server.logs[&laptop].len() as u64 > cut.seq);

    // The home computer had none of the laptop's blobs: it reads them up to the cut.
    let home = sync_at(&mut p, 1, &mut server, None).expect("no alarm");
    assert!(home.received >= 1, "{home:?}");
    sync(&mut p, 0, &mut server).expect("the surgery again");
    let (surgery, home, laptop_now) = (clients(&mut p, 0), clients(&mut p, 1), clients(&mut p, 2));
    assert_eq!(home, surgery);
    assert_eq!(laptop_now, surgery + 1, "the laptop's later client counted");
    assert_eq!(print(&p, 0), print(&p, 1));
}

/// A revoked computer's log is removed from the server by the first computer whose log then
/// starts at a checkpoint holding it (a revocation makes a checkpoint due). A computer that
/// was away and never read that log finds the checkpoint past a gap, applies it in full and
/// so holds the revoked computer's work; a revoked log gone with no checkpoint holding it is
/// `missing`, never silently skipped.
#[test]
fn a_revoked_computers_log_is_removed_once_a_checkpoint_holds_it() {
    let mut p = practice(3);
    let mut server = Server::new(&p, 12);
    for i in 0..3 {
        sync(&mut p, i, &mut server).expect("everyone on");
    }
    p.devices[2]
        .vault
        .as_mut()
        .expect("open")
        .add_client(ClientIdentity {
            full_name: "Only On The Laptop".into(),
            ..Default::default()
        })
        .expect("add a client");
    sync(&mut p, 2, &mut server).expect("the laptop's last run");
    let laptop = p.devices[2].id.clone();
    // The home computer is away: it never reads the laptop's log.
    revoke(&mut p, 0, 2, &mut server);
    assert!(server.logs.contains_key(&laptop));

    // A server that lost the laptop's log before any checkpoint held it: the home computer
    // is told `missing` (the surgery's blobs that name the laptop's wait).
    let mut lost = Server::new(&p, 13);
    lost.logs = server.logs.clone();
    lost.logs.remove(&laptop);
    lost.revoked = server.revoked.clone();
    let told = sync(&mut p, 1, &mut lost);
    assert!(
        matches!(&told, Err(SyncError::Alarm(Alarm::Missing { device, .. })) if *device == laptop),
        "{told:?}"
    );

    // The surgery's next run writes a checkpoint (it holds the laptop's log to its cut), cuts
    // its own log below it, and removes the laptop's.
    let report = sync_at(&mut p, 0, &mut server, None).expect("the surgery");
    assert_eq!(report.removed_logs, 1, "{report:?}");
    assert!(!server.logs.contains_key(&laptop));
    assert_eq!(server.removed_logs, 1);

    // The home computer comes back: the laptop's client arrives in the surgery's checkpoint.
    sync(&mut p, 1, &mut server).expect("the home computer, no alarm");
    sync(&mut p, 1, &mut server).expect("and again");
    assert_eq!(print(&p, 0), print(&p, 1));
    let names = names(&mut p, 1);
    assert!(names.iter().any(|n| n == "Only On The Laptop"), "{names:?}");
    // And who wrote what came with it: the surgery's and the laptop's stamps are named.
    let writers = engine::writers(p.devices[1].vault.as_ref().expect("open")).expect("writers");
    for k in [0, 2] {
        let stamp = p.devices[k]
            .vault
            .as_ref()
            .expect("open")
            .meta()
            .device_id
            .clone();
        assert_eq!(writers.get(&stamp), Some(&p.devices[k].id), "{writers:?}");
    }
    // Nobody asks again.
    let again = sync_at(&mut p, 1, &mut server, None).expect("home again");
    assert_eq!(again.removed_logs, 0);
    assert_eq!(server.removed_logs, 1);
}

/// Rows on the server that carry data of client `code` (not the erasure record itself).
fn rows_of(p: &Practice, server: &Server, code: &str) -> Vec<String> {
    rows_on_server(p, server)
        .into_iter()
        .filter(|(_, _, _, row)| {
            row.t != "erasure_records"
                && row.op == casebook_core::merge::ChangeOp::Upsert
                && (row.f.get("client_code").and_then(|v| v.as_str()) == Some(code)
                    || row.k == code)
        })
        .map(|(device, seq, _, row)| format!("{} {} in {device}/{seq}", row.t, row.k))
        .collect()
}

/// A computer switched off since an erasure cannot cut its own log, which holds the erased
/// client: once it has been quiet for [`engine::QUIET_SECONDS`], a computer whose checkpoint
/// holds that log empties it on the server, and nothing of the client is left there. A
/// computer that was away takes the emptied log as read from that checkpoint (its audit trail
/// included); the switched-off computer comes back and carries on after its emptied head —
/// its last blob sent again, its acknowledgement having been lost, taken as held.
#[test]
fn a_computer_switched_off_since_an_erasure_has_its_log_emptied() {
    let mut p = practice(3);
    let mut server = Server::new(&p, 14);
    let t0 = 1_900_000_000;
    let hour = 3600;
    for i in 0..3 {
        sync_at(&mut p, i, &mut server, Some(t0)).expect("everyone on");
    }
    // The laptop (2) adds a client with a note, sends it, and is switched off. The home
    // computer (1) is away too and has not read it.
    let laptop = p.devices[2].id.clone();
    let code = {
        let v = p.devices[2].vault.as_mut().expect("open");
        let c = v
            .add_client(ClientIdentity {
                full_name: "Wren Halloway".into(),
                ..Default::default()
            })
            .expect("add a client");
        v.add_note(
            &c.code,
            NoteTemplate::Free,
            &[("text".into(), "what was said".into())],
            None,
        )
        .expect("a note");
        c.code.as_str().to_string()
    };
    sync_at(&mut p, 2, &mut server, Some(t0 + 60)).expect("the laptop's last run");
    // Its last two blobs are sent again later, as if their acknowledgements had been lost:
    // the server then holds the last without its bytes, and not the one before at all.
    let last_sent = {
        let v = p.devices[2].vault.as_mut().expect("open");
        let head = server.logs[&laptop]
            .keys()
            .next_back()
            .copied()
            .expect("a head");
        assert!(head >= 2);
        v.mark_unacked(head - 1).expect("unacked");
        v.mark_unacked(head).expect("unacked");
        head
    };
    sync_at(&mut p, 0, &mut server, Some(t0 + 120)).expect("the surgery reads it");

    // The surgery erases the client: its checkpoint cuts its own log, but the laptop's log
    // still holds the client.
    p.devices[0]
        .vault
        .as_mut()
        .expect("open")
        .erase_client(
            &ClientCode::parse(&code).expect("code"),
            "right to erasure",
            true,
        )
        .expect("erase");
    let r = sync_at(&mut p, 0, &mut server, Some(t0 + 180)).expect("the surgery");
    assert!(r.compacted, "{r:?}");
    assert_eq!(r.emptied_logs, 0, "the laptop is not quiet yet");
    assert!(!rows_of(&p, &server, &code).is_empty());

    // Six quiet hours later the surgery empties the laptop's log (and the home computer's,
    // quiet as long): nothing of the client is left on the server, and both heads are still
    // listed.
    let r = sync_at(&mut p, 0, &mut server, Some(t0 + 7 * hour)).expect("the surgery");
    assert_eq!(r.emptied_logs, 2, "{r:?}");
    assert_eq!(rows_of(&p, &server, &code), Vec::<String>::new());
    assert_eq!(server.emptied_logs, 2);
    assert!(server.held().all(|(d, _, _)| *d == p.devices[0].id));
    let again = sync_at(&mut p, 0, &mut server, Some(t0 + 8 * hour)).expect("again");
    assert_eq!(again.emptied_logs, 0, "asked once per erasure");

    // The home computer comes back: it never read the laptop's blobs, and takes them from
    // the surgery's checkpoint, with no alarm.
    for _ in 0..2 {
        sync_at(&mut p, 1, &mut server, Some(t0 + 9 * hour)).expect("home, no alarm");
    }
    assert_eq!(print(&p, 0), print(&p, 1));

    // The laptop comes back: its last blobs, sent again, are taken as held; the erasure
    // reaches it; what it writes next reaches the others.
    sync_at(&mut p, 2, &mut server, Some(t0 + 10 * hour)).expect("the laptop, no alarm");
    let unacked = p.devices[2]
        .vault
        .as_ref()
        .expect("open")
        .sealed_unacked()
        .expect("unacked");
    assert!(
        unacked.iter().all(|(s, _)| *s > last_sent),
        "blob {last_sent} taken as held: {:?}",
        unacked.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    p.devices[2]
        .vault
        .as_mut()
        .expect("open")
        .add_client(ClientIdentity {
            full_name: "After Coming Back".into(),
            ..Default::default()
        })
        .expect("add a client");
    for t in [11, 12, 13] {
        for i in 0..3 {
            sync_at(&mut p, i, &mut server, Some(t0 + t * hour))
                .unwrap_or_else(|e| panic!("device {i} at +{t} h: {e}"));
        }
    }
    assert_eq!(print(&p, 0), print(&p, 1));
    assert_eq!(print(&p, 0), print(&p, 2));
    assert_eq!(rows_of(&p, &server, &code), Vec::<String>::new());
    for i in 0..3 {
        let v = p.devices[i].vault.as_mut().expect("open");
        assert_eq!(
            v.sealed_unacked().expect("unacked"),
            Vec::new(),
            "device {i}"
        );
        let trails = v
            .verify_audit()
            .expect("every audit trail verifies")
            .devices;
        for k in (0..3).filter(|k| *k != i) {
            assert!(
                trails.iter().any(|c| c.device == p.devices[k].id),
                "device {i} lacks the trail of {k}"
            );
        }
        assert!(p.devices[i].alarms.is_empty(), "{:?}", p.devices[i].alarms);
    }
}

/// A computer that left the practice's sync while the server could not be reached signed its
/// revocation but never closed its log there, so the server refuses to remove that log whole:
/// the first computer whose checkpoint holds it empties it up to the cut instead, once, and a
/// computer that never read it takes it from that checkpoint.
#[test]
fn a_log_left_open_by_a_computer_that_left_is_emptied_to_its_cut() {
    let mut p = practice(3);
    let mut server = Server::new(&p, 15);
    for i in 0..3 {
        sync(&mut p, i, &mut server).expect("everyone on");
    }
    p.devices[2]
        .vault
        .as_mut()
        .expect("open")
        .add_client(ClientIdentity {
            full_name: "Written Before Leaving".into(),
            ..Default::default()
        })
        .expect("add a client");
    sync(&mut p, 2, &mut server).expect("the laptop's last run");
    sync(&mut p, 0, &mut server).expect("the surgery reads it");
    let laptop = p.devices[2].id.clone();
    // It leaves: its revocation (cut at its last blob) reaches the list, its log stays open.
    let signed = sign_revocation(&mut p, 2, &laptop);
    p.entries.push(signed.clone());
    server.list.push(signed);

    let report = sync_at(&mut p, 0, &mut server, None).expect("the surgery");
    assert_eq!(report.removed_logs, 1, "{report:?}");
    assert_eq!(server.removed_logs, 0, "refused whole");
    assert!(
        server.held().all(|(d, _, _)| *d != laptop),
        "nothing of the laptop's log is served"
    );
    let again = sync_at(&mut p, 0, &mut server, None).expect("again");
    assert_eq!(again.removed_logs, 0, "asked once");

    // The home computer never read the laptop's log: it takes it from the checkpoint.
    sync(&mut p, 1, &mut server).expect("home, no alarm");
    sync(&mut p, 1, &mut server).expect("and again");
    assert_eq!(print(&p, 0), print(&p, 1));
    let names = names(&mut p, 1);
    assert!(
        names.iter().any(|n| n == "Written Before Leaving"),
        "{names:?}"
    );
    assert!(p.devices[1].alarms.is_empty(), "{:?}", p.devices[1].alarms);
}

/// The edge of "A computer switched off since an erasure": a computer that had read the
/// emptier's log right up to its checkpoint (no gap below it), but not the switched-off
/// computer's last blob that checkpoint's view names (a heartbeat: it brought no change, so
/// nothing of the emptier's came between), would wait for it for ever once it is emptied. It
/// takes the checkpoint in full instead, and so holds it.
#[test]
fn a_checkpoint_read_in_order_that_waits_for_an_emptied_log_is_taken_in_full() {
    let mut p = practice(3);
    let mut server = Server::new(&p, 16);
    let t0 = 1_900_000_000;
    let hour = 3600;
    let (a, r, x) = (0, 1, 2);
    // An erasure, known everywhere (any known erasure makes a quiet log emptied).
    let gone = p.devices[a]
        .vault
        .as_mut()
        .expect("open")
        .add_client(ClientIdentity {
            full_name: "Long Gone".into(),
            ..Default::default()
        })
        .expect("add")
        .code;
    for i in 0..3 {
        sync_at(&mut p, i, &mut server, Some(t0)).expect("everyone on");
    }
    p.devices[a]
        .vault
        .as_mut()
        .expect("open")
        .erase_client(&gone, "right to erasure", true)
        .expect("erase");
    for t in [1, 2] {
        for i in 0..3 {
            sync_at(&mut p, i, &mut server, Some(t0 + t * 60)).expect("the erasure reaches all");
        }
    }
    let x_id = p.devices[x].id.clone();
    let a_id = p.devices[a].id.clone();
    let x_before = server.logs[&x_id]
        .keys()
        .next_back()
        .copied()
        .expect("a head");
    // Two hours on, the laptop (x) sends a heartbeat and is switched off; the surgery (a)
    // sends one too and reads the laptop's.
    let t1 = t0 + 2 * hour;
    // (The home computer's heartbeat half an hour before, so it seals none below and the
    // surgery's checkpoint holds its log as it stays.)
    sync_at(&mut p, r, &mut server, Some(t1 - hour / 2)).expect("home's heartbeat");
    sync_at(&mut p, x, &mut server, Some(t1)).expect("the laptop's last run");
    let x_last = server.logs[&x_id]
        .keys()
        .next_back()
        .copied()
        .expect("a head");
    assert!(x_last > x_before);
    sync_at(&mut p, a, &mut server, Some(t1 + 10)).expect("the surgery reads it");
    // The surgery seals a checkpoint (not sent yet) that holds the laptop's heartbeat.
    checkpoint(&mut p, a);
    let first = engine::last_checkpoint(p.devices[a].vault.as_ref().expect("open"))
        .expect("state")
        .expect("a checkpoint")
        .first;
    // The home computer (r) reads all the surgery sent — but, a moment earlier, not the
    // laptop's heartbeat.
    let later: BTreeMap<u64, Vec<u8>> = server
        .logs
        .get_mut(&x_id)
        .expect("the laptop's log")
        .split_off(&(x_before + 1));
    sync_at(&mut p, r, &mut server, Some(t1 + 20)).expect("home, a moment earlier");
    server.logs.get_mut(&x_id).expect("log").extend(later);
    let home = engine::verified_chains(p.devices[r].vault.as_ref().expect("open"))
        .expect("state")
        .expect("chains");
    assert_eq!(
        home.head(&a_id).map(|h| h.seq + 1),
        Some(first),
        "right up to it"
    );
    assert_eq!(home.head(&x_id).map(|h| h.seq), Some(x_before));
    // The surgery sends its checkpoint (cutting its log below it), and hours later empties the
    // laptop's log.
    sync_at(&mut p, a, &mut server, Some(t1 + 30)).expect("the surgery sends it");
    let report = sync_at(&mut p, a, &mut server, Some(t1 + 7 * hour)).expect("the surgery");
    assert!(report.emptied_logs >= 1, "{report:?}");
    assert!(server.held().all(|(d, _, _)| *d != x_id));
    assert_eq!(
        engine::last_checkpoint(p.devices[a].vault.as_ref().expect("open"))
            .expect("state")
            .map(|w| w.first),
        Some(first),
        "no newer checkpoint: home reads this one in order"
    );

    // Home reads the surgery's checkpoint in order, and would wait for the laptop's emptied
    // heartbeat: it takes the checkpoint in full.
    sync_at(&mut p, r, &mut server, Some(t1 + 8 * hour)).expect("home, no alarm");
    sync_at(&mut p, r, &mut server, Some(t1 + 8 * hour + 60)).expect("home again");
    let home = engine::verified_chains(p.devices[r].vault.as_ref().expect("open"))
        .expect("state")
        .expect("chains");
    assert_eq!(home.head(&x_id).map(|h| h.seq), Some(x_last));
    assert!(
        home.head(&a_id).is_some_and(|h| h.seq >= first),
        "the surgery's checkpoint applied"
    );
    assert_eq!(print(&p, a), print(&p, r));
    p.devices[r]
        .vault
        .as_mut()
        .expect("open")
        .verify_audit()
        .expect("every audit trail verifies");
    assert!(p.devices[r].alarms.is_empty(), "{:?}", p.devices[r].alarms);
}

/// Right after a re-keying, a computer that read the device list just before the revocation
/// reached it can be served a blob sealed to the new keys: signed and placed right, closed to
/// every key it holds. It is left for the next run (which reads the list first and takes the
/// keys) — no alarm — and the same blob still closed at the next run is `altered` (a server
/// keeping the re-keying from it). With the new keys, it is taken and the two converge.
#[test]
fn a_blob_sealed_to_newer_keys_waits_one_run_then_is_altered() {
    let mut p = practice(2);
    let mut server = Server::new(&p, 12);
    for i in 0..2 {
        sync(&mut p, i, &mut server).expect("both on");
    }
    let old = |p: &Practice| PracticeKeys {
        clinical: p.keys.clinical.clone(),
        identity: p.keys.identity.clone(),
    };
    let first = old(&p);
    let newer = PracticeKeys {
        clinical: vec![age::x25519::Identity::generate(), first.clinical[0].clone()],
        identity: vec![age::x25519::Identity::generate(), first.identity[0].clone()],
    };
    // The surgery has taken the new keys and seals to them.
    p.keys = newer;
    let surgery = p.devices[0].vault.as_mut().expect("open");
    surgery
        .add_client(ClientIdentity {
            full_name: "Sealed To New Keys".into(),
            ..Default::default()
        })
        .expect("add");
    sync(&mut p, 0, &mut server).expect("the surgery sends");
    let newer = std::mem::replace(&mut p.keys, first);

    // The laptop, without them: left for later, no alarm.
    let left = sync_at(&mut p, 1, &mut server, None).expect("no alarm at the first meeting");
    assert!(left.remaining >= 1, "{left:?}");
    assert_ne!(print(&p, 0), print(&p, 1));
    // Still without them at the next run: the server kept the re-keying from it.
    assert!(matches!(
        sync(&mut p, 1, &mut server),
        Err(SyncError::Alarm(Alarm::Altered { .. }))
    ));
    // With them (taken from the list), it catches up.
    p.keys = newer;
    sync(&mut p, 1, &mut server).expect("with the new keys");
    sync(&mut p, 0, &mut server).expect("the surgery again");
    assert_eq!(print(&p, 0), print(&p, 1));
}

/// Two writers sealed to keys a third has not taken, one of them behind a blob it can read:
/// the closed blobs wait through the whole first run (met again after the readable one is
/// applied, without an alarm), and at the next run still closed they are `altered` — the two
/// writers' blobs cannot take turns to wait for ever.
#[test]
fn closed_blobs_of_two_writers_wait_one_run_together_then_are_altered() {
    let mut p = practice(3);
    let mut server = Server::new(&p, 13);
    for i in 0..3 {
        sync(&mut p, i, &mut server).expect("all on");
    }
    let add = |p: &mut Practice, i: usize, name: &str| {
        p.devices[i]
            .vault
            .as_mut()
            .expect("open")
            .add_client(ClientIdentity {
                full_name: name.into(),
                ..Default::default()
            })
            .expect("add");
    };
    // The laptop sends one change under the keys everyone holds…
    add(&mut p, 1, "Under The Old Keys");
    sync(&mut p, 1, &mut server).expect("the laptop sends");
    let first = PracticeKeys {
        clinical: p.keys.clinical.clone(),
        identity: p.keys.identity.clone(),
    };
    let newer = PracticeKeys {
        clinical: vec![age::x25519::Identity::generate(), first.clinical[0].clone()],
        identity: vec![age::x25519::Identity::generate(), first.identity[0].clone()],
    };
    // …then it and the surgery seal to new keys, neither having seen the other's.
    p.keys = newer;
    add(&mut p, 0, "Sealed By The Surgery");
    sync(&mut p, 0, &mut server).expect("the surgery sends");
    add(&mut p, 1, "Sealed By The Laptop");
    sync(&mut p, 1, &mut server).expect("the laptop sends");
    let newer = std::mem::replace(&mut p.keys, first);

    let left = sync_at(&mut p, 2, &mut server, None).expect("no alarm in the first run");
    assert!(left.remaining >= 2, "{left:?}");
    let names = names(&mut p, 2);
    assert!(
        names.contains(&"Under The Old Keys".to_string()),
        "the readable blob is taken: {names:?}"
    );
    assert!(matches!(
        sync(&mut p, 2, &mut server),
        Err(SyncError::Alarm(Alarm::Altered { .. }))
    ));
    p.keys = newer;
    sync(&mut p, 2, &mut server).expect("with the new keys");
    for i in 0..2 {
        sync(&mut p, i, &mut server).expect("the others again");
    }
    assert_eq!(print(&p, 0), print(&p, 2));
    assert_eq!(print(&p, 1), print(&p, 2));
}
