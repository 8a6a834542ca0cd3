//! Re-keying after a revocation, through the real engine and the real sync server (in
//! process, on loopback), against a server that colludes with the revoked computer: it hands
//! over every blob written afterwards, and stores a device list the revoked computer signed.
//! The surgery desktop revokes the laptop with the recovery key and is killed before its last
//! step; the home computer is away meanwhile. Afterwards nothing the practice seals opens with
//! any key the laptop holds, the home computer takes the new keys when it comes back, and a
//! list entry the laptop signs as the practice (it can still derive the first root) is caught.

use std::io::Read;

use casebook_core::offsite::Connect;
use casebook_core::recovery::RecoveryKey;
use casebook_core::{ClientIdentity, Vault};
use casebook_sync::blob;
use casebook_sync::devices::{DeviceList, Entry, Op, ROOT, Signed};
use casebook_sync::engine::{Remote, RemoteError, SyncError};
use casebook_sync::keys::practice_root;
use casebook_sync::practice::{self, DEVICES_OBJECT};
use casebook_sync::{Alarm, BlobError};

const PASSPHRASE: &str = "re-keying passphrase";
const PASSWORD: &str = "a long enough account password";

fn start_server(data: &std::path::Path) -> String {
    let cfg = casebook_sync_server::config::Config::local(data);
    let addr = casebook_sync_server::start_on_loopback(cfg).expect("the server started");
    format!("http://{addr}")
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn computer(dir: &std::path::Path, url: &str, user: &str, name: &str, first: bool) -> Vault {
    let mut v = Vault::open(dir, Some(PASSPHRASE)).unwrap();
    if !first {
        v.reidentify().unwrap();
    }
    v.server_connect(&Connect {
        url,
        username: user,
        password: PASSWORD,
        totp: None,
        sign_up: first,
        invite: None,
        device_name: name,
    })
    .expect("connect to the server");
    practice::enable(&mut v).expect("sync on");
    v
}

fn add(v: &mut Vault, name: &str) {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        ..Default::default()
    })
    .unwrap();
}

fn names(v: &mut Vault) -> Vec<String> {
    v.list_clients(true)
        .unwrap()
        .into_iter()
        .filter_map(|c| c.full_name)
        .collect()
}

fn device_id(v: &Vault) -> String {
    v.server_connection().unwrap().0.device_id
}

/// The device list as the server holds it.
fn served_list(v: &Vault) -> Vec<Signed> {
    let (_, client) = v.server_connection().unwrap();
    let mut bytes = Vec::new();
    client
        .get_snapshot(DEVICES_OBJECT)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn a_revoked_computer_opens_nothing_sealed_after_the_rekeying_even_from_a_colluding_server() {
    let home = tempfile::tempdir().unwrap();
    let url = start_server(&home.path().join("server"));
    let user = format!("rekeying-{}", std::process::id());
    let (desk_dir, laptop_dir, home_dir) = (
        home.path().join("desk"),
        home.path().join("laptop"),
        home.path().join("home"),
    );
    let created = Vault::init(&desk_dir, Some(PASSPHRASE)).unwrap();
    let recovery: RecoveryKey = created.recovery_key;
    drop(created.vault);
    copy_dir(&desk_dir, &laptop_dir);
    copy_dir(&desk_dir, &home_dir);
    let mut desk = computer(&desk_dir, &url, &user, "Surgery desktop", true);
    let mut laptop = computer(&laptop_dir, &url, &user, "Laptop", false);
    let mut home_pc = computer(&home_dir, &url, &user, "Home", false);
    add(&mut laptop, "Ann From The Laptop");
    for v in [&mut laptop, &mut desk, &mut home_pc] {
        practice::sync_now(v).unwrap();
    }
    let laptop_id = device_id(&laptop);
    let laptop_secrets = laptop.sync_secrets().unwrap();
    let reauth = casebook_wire::Reauthenticate {
        password: PASSWORD.into(),
        totp: None,
    };

    // The surgery revokes the laptop with the recovery key — and is killed after the entry is
    // on the server, before taking the new keys itself. (The home computer is away.)
    let begun = practice::revoke_begin(&mut desk, &laptop_id, Some(&recovery)).unwrap();
    let fetched = begun.exchange(&reauth).unwrap();
    let applied = practice::revoke_apply(&mut desk, fetched).unwrap();
    let published = applied.publish().unwrap();
    drop(published);
    assert_eq!(desk.key_generation(), 0);
    // Its next run takes them from the list, as every computer does.
    practice::sync_now(&mut desk).unwrap();
    assert_eq!(desk.key_generation(), 1);
    add(&mut desk, "Jo After The Rekeying");
    practice::sync_now(&mut desk).unwrap();

    // A server colluding with the laptop hands it the surgery's new blobs: none opens with any
    // key the laptop holds; the surgery's own keys open them.
    let desk_id = device_id(&desk);
    let (_, mut client) = desk.server_connection().unwrap();
    let heads = (&mut client as &mut dyn Remote).heads().unwrap();
    let head = heads.iter().find(|h| h.device_id == desk_id).unwrap().seq;
    let blobs = (&mut client as &mut dyn Remote)
        .range(&desk_id, 1, head)
        .unwrap();
    let json = serde_json::to_vec(&served_list(&desk)).unwrap();
    let first_root = practice_root(laptop_secrets.first_root_seed).verifying_key();
    let list = DeviceList::verify(&json, &first_root).unwrap();
    let desk_key = *list.key_of(&desk_id).unwrap();
    let desk_secrets = desk.sync_secrets().unwrap();
    let mut closed = 0;
    for (seq, bytes) in &blobs {
        let kind = blob::Envelope::parse(bytes).unwrap().outer.kind;
        let at = blob::Expect {
            account: &desk.server_connection().unwrap().0.account_id,
            device: &desk_id,
            seq: *seq,
        };
        let (mine, theirs) = match kind {
            blob::Kind::Identity | blob::Kind::IdentityCheckpoint => {
                (&desk_secrets.identity, &laptop_secrets.identity)
            }
            _ => (&desk_secrets.clinical, &laptop_secrets.clinical),
        };
        blob::open(bytes, &at, &desk_key, mine).expect("the surgery opens its own blob");
        if blob::open(bytes, &at, &desk_key, theirs) == Err(BlobError::Undecryptable) {
            closed += 1;
        }
    }
    // The blobs sealed after the re-keying (at least the new client, in both stores) are
    // closed to the laptop.
    assert!(closed >= 2, "only {closed} of {} blobs closed", blobs.len());
    // The laptop holds exactly the surgery's retired keys; the newest are new.
    let public = |ids: &[age::x25519::Identity]| -> Vec<String> {
        ids.iter().map(|i| i.to_public().to_string()).collect()
    };
    assert_eq!(
        public(&desk_secrets.clinical)[1..],
        public(&laptop_secrets.clinical)[..]
    );
    assert_eq!(
        public(&desk_secrets.identity)[1..],
        public(&laptop_secrets.identity)[..]
    );
    assert_ne!(desk_secrets.root_seed, laptop_secrets.root_seed);

    // The laptop itself is refused by the (honest part of the) server.
    assert!(matches!(
        practice::sync_now(&mut laptop),
        Err(SyncError::Remote(RemoteError::Revoked))
    ));

    // The home computer comes back: it takes the new keys and converges.
    practice::sync_now(&mut home_pc).unwrap();
    assert_eq!(home_pc.key_generation(), 1);
    assert!(names(&mut home_pc).contains(&"Jo After The Rekeying".to_string()));
    add(&mut home_pc, "Kit From Home");
    practice::sync_now(&mut home_pc).unwrap();
    practice::sync_now(&mut desk).unwrap();
    assert_eq!(
        desk.records_fingerprint().unwrap(),
        home_pc.records_fingerprint().unwrap()
    );
    assert_eq!(
        std::fs::read(desk_dir.join("recovery.age")).unwrap(),
        std::fs::read(home_dir.join("recovery.age")).unwrap(),
        "both computers keep the new sealed keys"
    );

    // The laptop can still derive the first practice root: an entry it signs as the practice
    // (adding a computer of its own), put in by the colluding server, is caught.
    let honest = served_list(&desk);
    let rogue_key = casebook_sync::keys::new_device_key();
    let rogue = Entry {
        op: Op::Add,
        device: "rogue".into(),
        name: "Not ours".into(),
        signing_key: hex::encode(rogue_key.verifying_key().to_bytes()),
        box_key: String::new(),
        letter: 'Z',
        at: "2026-12-05T10:00:00Z".into(),
        prev: Some(honest.last().unwrap().hash().unwrap()),
        signer: ROOT.into(),
        until: None,
        rekey: None,
    };
    let old_root = practice_root(laptop_secrets.first_root_seed);
    let mut rival = honest.clone();
    rival.push(Signed::sign(rogue, &old_root).unwrap());
    client
        .put_snapshot(DEVICES_OBJECT, serde_json::to_vec(&rival).unwrap())
        .unwrap();
    assert!(matches!(
        practice::sync_now(&mut home_pc),
        Err(SyncError::Alarm(Alarm::DeviceKey { .. }))
    ));
    assert_eq!(home_pc.key_generation(), 1);
}
