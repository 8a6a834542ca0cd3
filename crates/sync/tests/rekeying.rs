//! Re-keying after a revocation, through the real engine and the real sync server (in
//! process, on loopback), against a server that colludes with the revoked computer: it hands
//! over every blob written afterwards, and stores a device list the revoked computer signed.
//! The surgery desktop revokes the laptop with the recovery key and is killed before its last
//! step; the home computer is away meanwhile. Afterwards nothing the practice seals opens with
//! any key the laptop holds (what the surgery wrote while stopped included), the home computer
//! takes the new keys when it comes back, a list entry the laptop signs as the practice (it
//! can still derive the first root) is caught, and so is an off-site erasure list the laptop
//! wrote under the keys it keeps.

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

fn add(v: &mut Vault, name: &str) -> casebook_core::ClientCode {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        ..Default::default()
    })
    .unwrap()
    .code
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
    let ann = add(&mut laptop, "Ann From The Laptop");
    let bo = add(&mut desk, "Bo To Be Erased");
    desk.erase_client(&bo, "client asked for erasure", true)
        .unwrap();
    for v in [&mut laptop, &mut desk, &mut home_pc] {
        practice::sync_now(v).unwrap();
    }
    // An off-site backup with the erasure list beside it, before the re-keying: both made
    // under the keys the laptop keeps.
    let before = desk.offsite_backup_create(&mut |_| {}).unwrap();
    let desk_id = device_id(&desk);
    let (_, mut client) = desk.server_connection().unwrap();
    let head_of = |client: &mut casebook_core::offsite::ServerClient| {
        (client as &mut dyn Remote)
            .heads()
            .unwrap()
            .iter()
            .find(|h| h.device_id == desk_id)
            .unwrap()
            .seq
    };
    let sealed_before = head_of(&mut client);
    let laptop_id = device_id(&laptop);
    let laptop_secrets = laptop.sync_secrets().unwrap();
    let reauth = casebook_wire::Reauthenticate {
        password: PASSWORD.into(),
        totp: None,
    };

    // The surgery revokes the laptop with the recovery key — and is killed after the entry is
    // on the server, before taking the new keys itself. (The home computer is away.)
    let list_before = served_list(&desk);
    let begun = practice::revoke_begin(&mut desk, &laptop_id, Some(&recovery)).unwrap();
    let fetched = begun.exchange(&reauth).unwrap();
    let applied = practice::revoke_apply(&mut desk, fetched).unwrap();
    let published = applied.publish().unwrap();
    drop(published);
    assert_eq!(desk.key_generation(), 0);
    // Written while it was stopped: sealed only once the new keys are taken.
    add(&mut desk, "Written While Stopped");
    // A server colluding with the laptop keeps every blob the surgery sends, also those its
    // log is later cut below.
    let mut blobs = std::collections::BTreeMap::new();
    let mut keep = |client: &mut casebook_core::offsite::ServerClient| {
        let head = head_of(client);
        blobs.extend(
            (client as &mut dyn Remote)
                .range(&desk_id, sealed_before + 1, head)
                .unwrap(),
        );
    };
    // The colluding server keeps the revocation back, serving the list from before it: the
    // surgery says so, and sends nothing — no sync blob, no off-site backup.
    let list_with_it = served_list(&desk);
    assert!(list_with_it.len() > list_before.len());
    client
        .put_snapshot(DEVICES_OBJECT, serde_json::to_vec(&list_before).unwrap())
        .unwrap();
    match practice::sync_now(&mut desk) {
        Err(SyncError::Core(casebook_core::CoreError::Conflict(why))) => {
            assert!(why.contains("not on the server's device list"), "{why}")
        }
        other => panic!("the withheld revocation went unnoticed: {other:?}"),
    }
    assert_eq!(head_of(&mut client), sealed_before, "nothing was sent");
    assert!(matches!(
        desk.offsite_backup_create(&mut |_| {}),
        Err(casebook_core::CoreError::Conflict(_))
    ));
    assert_eq!(desk.key_generation(), 0);
    client
        .put_snapshot(DEVICES_OBJECT, serde_json::to_vec(&list_with_it).unwrap())
        .unwrap();
    // And as if it had been stopped again, inside `revoke_finish`: the longer list kept here
    // (the engine's state key `devices`), the keys not taken yet. Its next run takes them
    // before it seals anything.
    desk.sync_put(&[("devices", &serde_json::to_string(&list_with_it).unwrap())])
        .unwrap();
    // Its next run takes them from the list, as every computer does.
    practice::sync_now(&mut desk).unwrap();
    assert_eq!(desk.key_generation(), 1);
    keep(&mut client);
    add(&mut desk, "Jo After The Rekeying");
    practice::sync_now(&mut desk).unwrap();
    keep(&mut client);

    // The colluding server hands the laptop the surgery's new blobs: none opens with any key
    // the laptop holds; the surgery's own keys open them.
    let json = serde_json::to_vec(&served_list(&desk)).unwrap();
    let first_root = practice_root(laptop_secrets.first_root_seed).verifying_key();
    let list = DeviceList::verify(&json, &first_root).unwrap();
    let desk_key = *list.key_of(&desk_id).unwrap();
    let desk_secrets = desk.sync_secrets().unwrap();
    let mut open_to_the_laptop = Vec::new();
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
        if blob::open(bytes, &at, &desk_key, theirs) != Err(BlobError::Undecryptable) {
            open_to_the_laptop.push(*seq);
        }
    }
    // Every blob the surgery sealed after it revoked the laptop (the two new clients, in
    // one blob per store at least) is closed to the laptop.
    assert!(
        blobs.len() >= 2,
        "{} blobs sealed after the revocation",
        blobs.len()
    );
    assert_eq!(open_to_the_laptop, Vec::<u64>::new());
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

    // The off-site backup made before the re-keying still restores: the re-keying listed its
    // index and the erasure list beside it. Bo stays erased.
    let restore = |desk: &Vault, to: &str| {
        desk.offsite_restore(
            &before.name,
            &recovery,
            &home.path().join(to),
            Some(PASSPHRASE),
            &mut |_| {},
        )
    };
    // Ann is kept and Bo stays erased in what `restore` made.
    let kept_ann_not_bo = |restored: casebook_core::backup::Restored| {
        let restored_names = names(&mut { restored.vault });
        assert!(restored_names.contains(&"Ann From The Laptop".to_string()));
        assert!(!restored_names.contains(&"Bo To Be Erased".to_string()));
    };
    kept_ann_not_bo(restore(&desk, "restored").expect("the older backup restores"));

    // The laptop erases Ann on its own, and the colluding server serves the erasure list it
    // wrote (under the keys it keeps) as the practice's: a restore refuses it, writing nothing.
    laptop
        .erase_client(&ann, "client asked for erasure", true)
        .unwrap();
    let forged = std::fs::read_dir(home.path().join("laptop-backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("erasures-")
        })
        .expect("the laptop's erasure list");
    let list_objects: Vec<String> = client
        .snapshots()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.len() == 33 && n.starts_with('v'))
        .collect();
    assert_eq!(list_objects.len(), 1, "{list_objects:?}");
    client
        .put_snapshot(&list_objects[0], std::fs::read(forged).unwrap())
        .unwrap();
    match restore(&desk, "refused") {
        Err(casebook_core::CoreError::BackupInvalid(why)) => {
            assert!(why.contains("erasure list was not written"), "{why}")
        }
        other => panic!("a forged erasure list was used: {:?}", other.map(|_| ())),
    }
    assert!(!home.path().join("refused").exists());
    // The next off-site backup does not merge it: it replaces it, and says so.
    let sent = desk.offsite_backup_create(&mut |_| {}).unwrap();
    assert!(sent.erasure_list_replaced);
    kept_ann_not_bo(restore(&desk, "restored-again").expect("restores again"));

    // A list that was believed, served again after a later erasure (a rollback): the backup
    // sent after that erasure recorded a longer list, so a restore refuses it. (The backups
    // from before the erasure are gone from the server: deleted once this one was there.)
    let read_list = |client: &casebook_core::offsite::ServerClient| {
        let mut bytes = Vec::new();
        client
            .get_snapshot(&list_objects[0])
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    };
    let shorter = read_list(&client);
    let jo = desk
        .list_clients(true)
        .unwrap()
        .into_iter()
        .find(|c| c.full_name.as_deref() == Some("Jo After The Rekeying"))
        .unwrap()
        .code;
    desk.erase_client(&jo, "client asked for erasure", true)
        .unwrap();
    let newest = desk.offsite_backup_create(&mut |_| {}).unwrap();
    assert!(newest.purged.contains(&before.name));
    assert_ne!(read_list(&client), shorter);
    client.put_snapshot(&list_objects[0], shorter).unwrap();
    match desk.offsite_restore(
        &newest.name,
        &recovery,
        &home.path().join("rolled-back"),
        Some(PASSPHRASE),
        &mut |_| {},
    ) {
        Err(casebook_core::CoreError::BackupInvalid(why)) => {
            assert!(why.contains("rolled back"), "{why}")
        }
        other => panic!("an older erasure list was used: {:?}", other.map(|_| ())),
    }
}
