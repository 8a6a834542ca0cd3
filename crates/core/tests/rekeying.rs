//! Re-keying the vault (what a revocation with the recovery key does to each computer that
//! stays): a wrong recovery key changes nothing; once a generation is taken, backups are
//! sealed to keys the old ones cannot open, everything made before still opens, a restore
//! with the recovery key works from a backup made after it and from one made before, and
//! the generation survives closing and opening the vault (it lives in the stores).

use std::io::Read;

use casebook_core::error::CoreError;
use casebook_core::recovery::RecoveryKey;
use casebook_core::{AuditFilter, ClientCode, ClientIdentity, Vault};

const PASSPHRASE: &str = "re-keying test passphrase";

fn add(v: &mut Vault, name: &str) -> ClientCode {
    v.add_client(ClientIdentity {
        full_name: name.into(),
        ..Default::default()
    })
    .unwrap()
    .code
}

/// The bytes of one part of a backup file.
fn part(backup: &std::path::Path, name: &str) -> Vec<u8> {
    let mut archive = tar::Archive::new(std::fs::File::open(backup).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == name {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            return out;
        }
    }
    panic!("no {name} in {}", backup.display());
}

fn opens(sealed: &[u8], identity: &str) -> bool {
    let id: age::x25519::Identity = identity.parse().unwrap();
    let Ok(d) = age::Decryptor::new(sealed) else {
        return false;
    };
    d.decrypt(std::iter::once(&id as &dyn age::Identity))
        .and_then(|mut r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).map_err(age::DecryptError::from)
        })
        .is_ok()
}

fn backup(v: &mut Vault, to: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(to).unwrap();
    v.backup_create(to, &mut |_| {}).unwrap().path
}

#[test]
fn a_rekeyed_vault_seals_to_new_keys_and_still_opens_and_restores_the_old() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("vault");
    let created = Vault::init(&dir, Some(PASSPHRASE)).unwrap();
    let recovery = created.recovery_key;
    let mut v = created.vault;
    let ann = add(&mut v, "Ann Before");
    let before = backup(&mut v, &home.path().join("before"));
    let first = v.show_keys().unwrap();
    let old_clinical = first.age_identities[0].clone();
    let recovery_file = std::fs::read(dir.join("recovery.age")).unwrap();

    // A recovery key that is not this vault's changes nothing.
    let wrong = RecoveryKey::generate();
    assert!(matches!(
        v.prepare_rekey(&wrong, Vec::new()),
        Err(CoreError::WrongRecoveryKey)
    ));
    assert_eq!(v.key_generation(), 0);
    assert_eq!(
        std::fs::read(dir.join("recovery.age")).unwrap(),
        recovery_file
    );

    // Made, then taken (as a computer takes it from the signed list).
    let next = v.prepare_rekey(&recovery, Vec::new()).unwrap();
    assert_eq!(next.number, 1);
    assert_eq!(v.key_generation(), 0, "preparing stores nothing");
    let generation = next.generation.clone();
    v.adopt_generation(1, generation.clone(), &next.sealed_keys, &[])
        .unwrap();
    assert_eq!(v.key_generation(), 1);
    assert_eq!(
        std::fs::read(dir.join("recovery.age")).unwrap(),
        next.sealed_keys
    );
    // The same generation twice, or one out of order, is refused.
    assert!(matches!(
        v.adopt_generation(1, generation.clone(), &next.sealed_keys, &[]),
        Err(CoreError::Conflict(_))
    ));
    let trail = v.audit_entries(&AuditFilter::default()).unwrap();
    assert!(trail.iter().any(|e| e.action == "sync.rekey"));

    // A backup from now on is sealed to the new keys: the old identity cannot open it.
    let jo = add(&mut v, "Jo After");
    let after = backup(&mut v, &home.path().join("after"));
    let clinical = part(&after, "clinical.age");
    assert!(opens(&clinical, generation.clinical_backup.as_str()));
    assert!(
        !opens(&clinical, &old_clinical),
        "the keys from before the re-keying open a backup made after it"
    );
    assert!(opens(&part(&before, "clinical.age"), &old_clinical));
    // `keys show` prints every generation (for `age -d -i`).
    let shown = v.show_keys().unwrap();
    assert_eq!(shown.rekeyed.len(), 1);
    assert_eq!(
        shown.rekeyed[0].age_identities[0],
        generation.clinical_backup.as_str()
    );

    // The generation lives in the stores: kept across a lock.
    drop(v);
    let mut v = Vault::open(&dir, Some(PASSPHRASE)).unwrap();
    assert_eq!(v.key_generation(), 1);
    let again = backup(&mut v, &home.path().join("again"));
    assert!(opens(
        &part(&again, "clinical.age"),
        generation.clinical_backup.as_str()
    ));
    drop(v);

    // Restores with the recovery key: the backup made after (new keys), and the one before.
    let restore = |file: &std::path::Path, into: &str| {
        casebook_core::backup::restore(
            file,
            &recovery,
            &home.path().join(into),
            Some(PASSPHRASE),
            &mut |_| {},
        )
        .unwrap()
        .vault
    };
    let mut r = restore(&after, "restored-after");
    assert_eq!(r.key_generation(), 1, "the restored copy lost the new keys");
    assert!(r.client(&jo).is_ok());
    drop(r);
    let r = Vault::open(&home.path().join("restored-after"), Some(PASSPHRASE)).unwrap();
    assert_eq!(r.key_generation(), 1);
    drop(r);
    let mut r = restore(&before, "restored-before");
    assert!(r.client(&ann).is_ok());
}

/// Stopped after the new `recovery.age` was written and before the transaction that takes the
/// generation committed: the vault still holds and uses the old keys, a backup refuses the
/// changed file (rather than carrying a file its stores do not match), and taking the
/// generation again — what the sync engine's next run does — completes it.
#[test]
fn stopped_between_writing_the_new_recovery_file_and_the_commit_the_generation_is_taken_again() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("vault");
    let created = Vault::init(&dir, Some(PASSPHRASE)).unwrap();
    let recovery = created.recovery_key;
    let mut v = created.vault;
    add(&mut v, "Ann Before");
    let next = v.prepare_rekey(&recovery, Vec::new()).unwrap();
    // The file written, the transaction never committed; then the vault is opened again.
    std::fs::write(dir.join("recovery.age"), &next.sealed_keys).unwrap();
    drop(v);
    let mut v = Vault::open(&dir, Some(PASSPHRASE)).unwrap();
    assert_eq!(v.key_generation(), 0, "nothing committed, nothing taken");
    std::fs::create_dir_all(home.path().join("b")).unwrap();
    assert!(matches!(
        v.backup_create(&home.path().join("b"), &mut |_| {}),
        Err(CoreError::RecoveryFileChanged)
    ));
    v.adopt_generation(1, next.generation.clone(), &next.sealed_keys, &[])
        .unwrap();
    assert_eq!(v.key_generation(), 1);
    let made = backup(&mut v, &home.path().join("b"));
    assert!(opens(
        &part(&made, "clinical.age"),
        next.generation.clinical_backup.as_str()
    ));
}
