//! Sync on real vaults through an in-memory honest server (no network, so the figures are the
//! engine's own): 500 offline changes on each of two computers, then both sync until their
//! records match — against the time the same changes took to make locally (goal: converging
//! ≤ 5 s); and the bytes one one-field edit costs on the wire (goal ≤ 1 KiB).
//!
//! ```sh
//! cargo bench -p casebook-sync-engine --bench converge
//! ```
//! (`BENCH_CHANGES`, default 500 per computer; `BENCH_RUNS`, default 3, medians.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use casebook_core::{ClientCode, ClientIdentity, NoteTemplate, Vault};
use casebook_sync::blob;
use casebook_sync::devices::{DeviceList, Entry, Op, ROOT, Signed};
use casebook_sync::engine::{Engine, PracticeKeys, Remote, RemoteError};
use casebook_sync::keys::{new_device_key, practice_root};
use casebook_wire::Head;
use ed25519_dalek::SigningKey;

const PASSPHRASE: &str = "bench passphrase";

#[derive(Default)]
struct Memory {
    logs: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    bytes_in: usize,
    /// Each blob received: its kind and size.
    received: Vec<(blob::Kind, usize)>,
}

impl Memory {
    /// The blobs received since `from` (an index into `received`), as "kind size, …".
    fn since(&self, from: usize) -> String {
        self.received[from..]
            .iter()
            .map(|(k, n)| format!("{k:?} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct Conn<'a> {
    server: &'a mut Memory,
    me: String,
}

impl Remote for Conn<'_> {
    fn heads(&mut self) -> Result<Vec<Head>, RemoteError> {
        Ok(self
            .server
            .logs
            .iter()
            .filter_map(|(d, l)| {
                l.last_key_value().map(|(s, b)| Head {
                    device_id: d.clone(),
                    seq: *s,
                    hash: blob::hash(b),
                })
            })
            .collect())
    }
    fn put(&mut self, seq: u64, bytes: &[u8]) -> Result<(), RemoteError> {
        self.server.bytes_in += bytes.len();
        let kind = blob::Envelope::parse(bytes).expect("a blob").outer.kind;
        self.server.received.push((kind, bytes.len()));
        self.server
            .logs
            .entry(self.me.clone())
            .or_default()
            .insert(seq, bytes.to_vec());
        Ok(())
    }
    fn range(
        &mut self,
        device: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, RemoteError> {
        Ok(self
            .server
            .logs
            .get(device)
            .map(|l| l.range(from..=to).map(|(s, b)| (*s, b.clone())).collect())
            .unwrap_or_default())
    }
    fn cut(&mut self, below: u64) -> Result<(), RemoteError> {
        if let Some(l) = self.server.logs.get_mut(&self.me) {
            l.retain(|s, _| *s >= below);
        }
        Ok(())
    }

    fn remove_revoked(&mut self, device: &str) -> Result<(), RemoteError> {
        self.server.logs.remove(device);
        Ok(())
    }

    fn empty(&mut self, device: &str, through: u64) -> Result<(), RemoteError> {
        if let Some(l) = self.server.logs.get_mut(device) {
            l.retain(|s, _| *s >= through);
        }
        Ok(())
    }
}

/// An account id as the server makes them (a UUID), so blob sizes are as on the wire.
const ACCOUNT: &str = "0193a4f2-7c1e-7d3a-9f2b-5e8c1d2a3b4c";

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Device {
    vault: Vault,
    id: String,
    key: SigningKey,
}

fn practice(home: &std::path::Path) -> (Vec<Device>, DeviceList, PracticeKeys) {
    let first = Vault::init(&home.join("a"), Some(PASSPHRASE))
        .expect("vault")
        .vault;
    drop(first);
    let secrets;
    let mut devices = Vec::new();
    // The second computer is a copy of the first, re-identified (as a restore would make it).
    copy(&home.join("a"), &home.join("b"));
    let mut list = DeviceList::default();
    {
        let v = Vault::open(&home.join("a"), Some(PASSPHRASE)).expect("open");
        secrets = v.sync_secrets().expect("secrets");
    }
    let root = practice_root(secrets.root_seed);
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let mut vault = Vault::open(&home.join(name), Some(PASSPHRASE)).expect("open");
        if i == 1 {
            vault.reidentify().expect("reidentify");
        }
        let letter = ['2', '3'][i];
        vault.set_device_letter(letter).expect("letter");
        let key = new_device_key();
        let id = vault.meta().device_id.clone();
        let entry = Entry {
            op: Op::Add,
            device: id.clone(),
            name: name.into(),
            signing_key: hex::encode(key.verifying_key().to_bytes()),
            box_key: String::new(),
            letter,
            at: String::new(),
            prev: list.head.clone(),
            signer: ROOT.into(),
            until: None,
            rekey: None,
        };
        list.append(
            &Signed::sign(entry, &root).expect("sign"),
            &root.verifying_key(),
        )
        .expect("entry");
        devices.push(Device { vault, id, key });
    }
    let keys = PracticeKeys {
        clinical: secrets.clinical,
        identity: secrets.identity,
    };
    (devices, list, keys)
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// `n` changes: a client, then notes and note edits for it, in turn.
fn offline_changes(v: &mut Vault, n: usize, tag: &str) {
    let mut code: Option<ClientCode> = None;
    let mut note: Option<String> = None;
    for i in 0..n {
        match (i % 10, &code, &note) {
            (0, _, _) | (_, None, _) => {
                code = Some(
                    v.add_client(ClientIdentity {
                        full_name: format!("Client {tag} {i}"),
                        ..Default::default()
                    })
                    .expect("client")
                    .code,
                );
                note = None;
            }
            (_, Some(c), None) => {
                note = Some(
                    v.add_note(
                        c,
                        NoteTemplate::Free,
                        &[("text".into(), format!("note {i}"))],
                        None,
                    )
                    .expect("note")
                    .id,
                );
            }
            (_, Some(_), Some(id)) => {
                v.edit_note(id, &[("text".into(), format!("edited {i}"))])
                    .expect("edit");
            }
        }
    }
}

fn sync(d: &mut Device, list: &DeviceList, keys: &PracticeKeys, server: &mut Memory) {
    let me = d.id.clone();
    let mut engine = Engine::load(&mut d.vault, ACCOUNT, &me, &d.key, keys, list).expect("engine");
    engine
        .run(&mut Conn {
            server,
            me: me.clone(),
        })
        .expect("sync");
}

fn main() {
    let n = env_usize("BENCH_CHANGES", 500);
    let runs = env_usize("BENCH_RUNS", 3);
    let (mut make, mut converge) = (Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..runs {
        let home = tempfile::tempdir().expect("temp");
        let (mut devices, list, keys) = practice(home.path());
        let mut server = Memory::default();
        let t = Instant::now();
        offline_changes(&mut devices[0].vault, n, "a");
        offline_changes(&mut devices[1].vault, n, "b");
        make.push(t.elapsed());
        let t = Instant::now();
        let (a, b) = devices.split_at_mut(1);
        sync(&mut a[0], &list, &keys, &mut server);
        sync(&mut b[0], &list, &keys, &mut server);
        sync(&mut a[0], &list, &keys, &mut server);
        converge.push(t.elapsed());
        assert_eq!(
            a[0].vault.records_fingerprint().expect("fp"),
            b[0].vault.records_fingerprint().expect("fp"),
            "the two computers did not converge"
        );
        bytes = server.bytes_in;
        // One one-field edit, on the wire. The first edit of a client since notes were added
        // also stores the client's retention review date (worked out when read or when the
        // identity changes), a clinical change: shown apart.
        let code = a[0].vault.list_clients(true).expect("list")[0].code.clone();
        let mut edit = |field: &str, value: &str| {
            let (before, blobs) = (server.bytes_in, server.received.len());
            let changes: casebook_core::records::clients::IdentityChanges =
                serde_json::from_value(serde_json::json!({ field: value })).expect("json");
            a[0].vault.edit_client(&code, &changes, None).expect("edit");
            sync(&mut a[0], &list, &keys, &mut server);
            (server.bytes_in - before, server.since(blobs))
        };
        let (first, blobs) = edit("email", "one@field.example");
        println!("the client's first edit since notes were added: {first} bytes ({blobs})");
        let (again, blobs) = edit("phone", "01632 960 001");
        println!("one-field edit (a client's phone): {again} bytes on the wire ({blobs})");
        // A one-field clinical edit: a draft note's text. Its blob also carries the audit
        // entries waiting (its own; the identity edits' rode with the new draft).
        let before = server.bytes_in;
        let draft = a[0]
            .vault
            .add_note(
                &code,
                NoteTemplate::Free,
                &[("text".into(), "draft".into())],
                None,
            )
            .expect("a draft")
            .id;
        sync(&mut a[0], &list, &keys, &mut server);
        println!(
            "  (a new draft note, for the next edit: {} bytes)",
            server.bytes_in - before
        );
        let (before, blobs) = (server.bytes_in, server.received.len());
        a[0].vault
            .edit_note(&draft, &[("text".into(), "draft, edited".into())])
            .expect("edit");
        sync(&mut a[0], &list, &keys, &mut server);
        println!(
            "one-field edit (a draft note's text, its audit entry inside): {} bytes on the wire ({})",
            server.bytes_in - before,
            server.since(blobs)
        );
    }
    let (make, converge) = (median(make), median(converge));
    println!("{n} offline changes on each of two computers (median of {runs}):");
    println!(
        "  making them locally:        {:>8.0} ms",
        make.as_secs_f64() * 1000.0
    );
    println!(
        "  syncing until they converge: {:>8.0} ms ({:.2}× the making; goal ≤ 5 s)",
        converge.as_secs_f64() * 1000.0,
        converge.as_secs_f64() / make.as_secs_f64()
    );
    println!("  bytes sent to the server:    {bytes}");
}
