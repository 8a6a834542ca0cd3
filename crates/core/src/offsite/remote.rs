//! The off-site copy's operations on a vault: connect, send, list, verify, prune, the
//! account's second factor and deletion, and a restore from the server onto a new machine.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use casebook_wire::{
    Deleted, Info, Reauthenticate, RecoveryCodes, SignIn, SignUp, TotpEnrolment, Usage,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::client::{ServerClient, ServerError, ServerUrl, check_locations};
use super::connection::{DeviceSecret, OffsiteState, SecretStore, ServerSettings, client_for};
use super::envelope::{self, KEYS_OBJECT, Piece, RemoteIndex};
use crate::audit::Action;
use crate::backup::ledger::Ledger;
use crate::backup::{
    self, Manifest, Progress, PrunePlan, Restored, Verified, VerifyReport, archive, policy,
};
use crate::error::{CoreError, Result};
use crate::keys::VaultKeys;
use crate::records::erasure::ErasureRecord;
use crate::recovery::RecoveryKey;
use crate::vault::Vault;

/// What `server connect` needs.
pub struct Connect<'a> {
    pub url: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub totp: Option<&'a str>,
    /// Open the account first.
    pub sign_up: bool,
    pub invite: Option<&'a str>,
    /// How this computer is named in the account's device list.
    pub device_name: &'a str,
}

/// A server's own description, with where it keeps data checked: `Err` for a server that
/// keeps anything outside the UK and EU/EEA (or does not say), before anything is sent.
pub fn server_info(url: &str) -> Result<(ServerUrl, Info, Vec<String>)> {
    let url = ServerUrl::parse(url)?;
    let info = ServerClient::new(url.clone(), None)?.info()?;
    let places = check_locations(&info)?;
    Ok((url, info, places))
}

/// The connection and how it is doing, for `server status` and the app's panel.
#[derive(Serialize, Clone, Debug)]
pub struct ServerStatus {
    pub settings: ServerSettings,
    /// `None` when the server could not be asked (see `problem`).
    pub usage: Option<Usage>,
    pub state: OffsiteState,
    pub problem: Option<String>,
}

/// An off-site backup just sent.
#[derive(Serialize, Clone, Debug)]
pub struct SentBackup {
    pub name: String,
    /// Bytes stored on the server (the encrypted pieces).
    pub size: u64,
    pub pieces: usize,
    pub manifest: Manifest,
    /// Older off-site backups deleted because they were made before an erasure (this one,
    /// made after it, no longer holds the client).
    pub purged: Vec<String>,
    /// The erasure list on the server was not written with the practice's current keys and
    /// held erasures this computer does not know: it was replaced by this computer's instead
    /// of merged. Said to the therapist: either a computer that had not taken new keys yet
    /// erased a client (that erasure reaches this computer by sync, and the server with its
    /// next backup), or the server or a removed computer changed the list.
    pub erasure_list_replaced: bool,
}

/// One off-site backup as listed.
#[derive(Serialize, Clone, Debug)]
pub struct RemoteListing {
    pub name: String,
    /// When it was made, from its authenticated index; `None` when the index is not sound.
    pub created_at: Option<DateTime<Utc>>,
    /// When the server says its index arrived (not believed for anything; shown only).
    pub stored_at: String,
    pub size: u64,
    pub manifest: Option<Manifest>,
    /// Every piece its index lists is on the server, at the size it says.
    pub complete: bool,
    pub verified: Option<Verified>,
    /// What is wrong with it, in words, when it cannot be used.
    pub problem: Option<String>,
    /// How many erasure records the server's list held when it was sent (from its
    /// authenticated index): a restore of any backup needs a list at least this long.
    #[serde(skip)]
    pub(crate) erasures: u64,
}

impl RemoteListing {
    /// Sound enough to offer: its index is authentic and all its pieces are there.
    pub fn usable(&self) -> bool {
        self.problem.is_none() && self.complete && self.created_at.is_some()
    }

    pub fn verified_ok(&self) -> bool {
        self.verified.as_ref().is_some_and(|v| v.ok)
    }
}

/// Everything about the off-site backups: the backups, newest first; uploads that never
/// finished (pieces without an index: never a backup); and backups this vault sent that the
/// server no longer lists (deleted or withheld by the server: said, never ignored).
#[derive(Serialize, Clone, Debug, Default)]
pub struct RemoteList {
    pub backups: Vec<RemoteListing>,
    pub unfinished: Vec<String>,
    pub missing: Vec<String>,
    /// Something needs the therapist's attention: a backup missing from the listing, or one
    /// damaged or incomplete.
    pub warning: bool,
}

fn not_connected() -> CoreError {
    CoreError::invalid(
        "this vault is not connected to a Casebook server: run `casebook server connect URL --username NAME` first",
    )
}

/// A server error met while streaming, carried through `io::Error` and recovered after.
fn io_to_core(e: io::Error, stash: &mut Option<CoreError>) -> CoreError {
    if let Some(real) = stash.take() {
        return real;
    }
    match e.kind() {
        io::ErrorKind::InvalidData => CoreError::BackupInvalid(e.to_string()),
        _ => CoreError::Crypto(e.to_string()),
    }
}

/// How many pieces are sent at once.
const SENDERS: usize = 2;

/// Stores one object and checks that the server kept exactly those bytes. A dropped
/// connection is tried twice more before giving up.
fn put_checked(client: &ServerClient, name: &str, bytes: Vec<u8>) -> Result<Piece> {
    let sha256 = envelope::sha256_hex(&bytes);
    put_known(client, name, bytes, sha256)
}

/// [`put_checked`] for bytes whose SHA-256 is already known.
fn put_known(client: &ServerClient, name: &str, bytes: Vec<u8>, sha256: String) -> Result<Piece> {
    let size = bytes.len() as u64;
    let mut tries = 0;
    let stored = loop {
        match client.put_snapshot(name, bytes.clone()) {
            Ok(s) => break s,
            Err(ServerError::Unreachable(_)) if tries < 2 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(500 * tries));
            }
            Err(e) => return Err(e.into()),
        }
    };
    if stored.hash != sha256 || stored.size != size {
        return Err(CoreError::BackupInvalid(format!(
            "the server did not store {name} as sent (its digest differs)"
        )));
    }
    Ok(Piece {
        name: name.to_string(),
        size,
        sha256,
    })
}

/// Reads a small object whole (an index, the keys, the erasure list), up to 8 MiB.
fn get_small(client: &ServerClient, name: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    client
        .get_snapshot(name)?
        .take(8 * 1024 * 1024)
        .read_to_end(&mut out)
        .map_err(|_| ServerError::Unreachable(client.url().as_str().to_string()))?;
    Ok(out)
}

/// The account must hold this vault's sealed keys (sent now if it holds none, or replacing
/// an older `recovery.age` of this vault that a re-keying replaced: `replaced`, their
/// SHA-256), and no other vault's: one account, one practice's records.
pub fn ensure_keys_object(
    client: &ServerClient,
    sealed_keys: &[u8],
    replaced: &[String],
) -> Result<()> {
    let listed = client.snapshots()?;
    if listed.iter().any(|s| s.name == KEYS_OBJECT) {
        let there = get_small(client, KEYS_OBJECT)?;
        if there != sealed_keys && replaced.contains(&crate::pins::digest(&there)) {
            put_checked(client, KEYS_OBJECT, sealed_keys.to_vec())?;
            return Ok(());
        }
        if there != sealed_keys {
            return Err(CoreError::Conflict(
                "this server account holds another vault's backups (its sealed keys differ from this vault's): use another account for this vault".into(),
            ));
        }
        return Ok(());
    }
    put_checked(client, KEYS_OBJECT, sealed_keys.to_vec())?;
    Ok(())
}

/// What a re-keying keeps of the off-site backups already on the server: the vault's keys
/// (a copy, in this process only) to check each index with, so the check can run while the
/// vault is free ([`Vault::backups_to_keep`]).
pub struct BackupsToKeep {
    keys: VaultKeys,
    /// The vault's erasure records when the revocation began.
    known: Vec<ErasureRecord>,
}

impl BackupsToKeep {
    /// The authentication codes of every off-site backup index on the server that these keys
    /// accept, and of the erasure list if they accept it (a re-keying lists them: objects
    /// made under the older keys that are this vault's). Those that do not check out are
    /// left out.
    pub fn codes(&self, client: &ServerClient) -> Result<Vec<String>> {
        let mut codes = Vec::new();
        for s in client.snapshots()? {
            if !envelope::is_index(&s.name) {
                continue;
            }
            if let Ok(index) =
                get_small(client, &s.name).and_then(|b| RemoteIndex::open(&b, &s.name, &self.keys))
            {
                codes.push(index.mac);
            }
        }
        // The erasure list too, when it is believed now and holds only erasures this vault
        // knows: the computer being removed could have written one just before, under the
        // keys it keeps. One left out is replaced by the next off-site backup (with this
        // vault's records, so nothing is lost).
        if let Ok(Some(list)) = remote_erasures(client, &self.keys)
            && list.believed(&self.keys)
            && list.records.iter().all(|r| self.known.contains(r))
        {
            codes.push(list.code_now(&self.keys));
        }
        Ok(codes)
    }
}

impl Vault {
    /// See [`BackupsToKeep`].
    pub fn backups_to_keep(&self) -> Result<BackupsToKeep> {
        Ok(BackupsToKeep {
            keys: self.keys.clone(),
            known: crate::records::erasure::read_records(&self.conn)?,
        })
    }
}

/// Lists the account's backups of vault `vault_id`, checking each index with `keys`.
/// `verified` holds the verification results to show (already checked), `sent` the names
/// this vault sent and has not pruned.
fn list_with(
    client: &ServerClient,
    keys: &VaultKeys,
    vault_id: Option<&str>,
    verified: &BTreeMap<String, Verified>,
    sent: &[String],
) -> Result<RemoteList> {
    let objects = client.snapshots()?;
    let by_name: BTreeMap<&str, &casebook_wire::Snapshot> =
        objects.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut out = RemoteList::default();
    // A new computer does not know the vault id yet (`None`): the first index these keys
    // open names it, and backups of any other vault are left out as usual.
    let mut vault_id = vault_id.map(str::to_string);
    for s in &objects {
        if !envelope::is_index(&s.name) {
            continue;
        }
        let mut l = RemoteListing {
            name: s.name.clone(),
            created_at: None,
            stored_at: s.created_at.clone(),
            size: s.size,
            manifest: None,
            complete: false,
            verified: verified.get(&s.name).cloned(),
            problem: None,
            erasures: 0,
        };
        match get_small(client, &s.name).and_then(|b| RemoteIndex::open(&b, &s.name, keys)) {
            Ok(index)
                if *vault_id.get_or_insert_with(|| index.manifest.vault_id.clone())
                    == index.manifest.vault_id =>
            {
                l.complete = index.pieces.iter().all(|p| {
                    by_name
                        .get(p.name.as_str())
                        .is_some_and(|o| o.size == p.size && o.hash == p.sha256)
                });
                if !l.complete {
                    l.problem = Some("pieces are missing or altered on the server".into());
                }
                l.size = l.size.saturating_add(index.stored_size());
                l.created_at = DateTime::parse_from_rfc3339(&index.manifest.created_at)
                    .ok()
                    .map(|t| t.with_timezone(&Utc));
                l.erasures = index.erasures;
                l.manifest = Some(index.manifest);
            }
            Ok(_) => continue,
            Err(e @ CoreError::Server(_)) => return Err(e),
            Err(_) => {
                l.problem = Some("its index was not written by this vault or is damaged".into())
            }
        }
        out.backups.push(l);
    }
    let indexed: Vec<&str> = out.backups.iter().map(|b| b.name.as_str()).collect();
    let mut unfinished: Vec<String> = objects
        .iter()
        .filter_map(|s| envelope::piece_of(&s.name))
        .filter(|base| !indexed.contains(base))
        .map(str::to_string)
        .collect();
    unfinished.sort();
    unfinished.dedup();
    out.unfinished = unfinished;
    out.missing = sent
        .iter()
        .filter(|n| !indexed.contains(&n.as_str()))
        .cloned()
        .collect();
    out.backups
        .sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.name.cmp(&a.name)));
    out.warning = !out.missing.is_empty() || out.backups.iter().any(|b| !b.usable());
    Ok(out)
}

/// Fetches off-site backup `index` into the private file `to` (the backup tar), checking
/// every piece against the index on the way. A second thread fetches the next piece while
/// this one checks and decrypts the last (at most two pieces in memory).
fn download(
    client: &ServerClient,
    index: &RemoteIndex,
    keys: &VaultKeys,
    to: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let total = index.stored_size();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>>>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for p in &index.pieces {
                let got = client
                    .get_snapshot(&p.name)
                    .map_err(CoreError::from)
                    .and_then(|r| {
                        let mut buf = Vec::with_capacity(usize::try_from(p.size).unwrap_or(0));
                        r.take(p.size + 1).read_to_end(&mut buf).map_err(|_| {
                            CoreError::Server(ServerError::Unreachable(
                                client.url().as_str().into(),
                            ))
                        })?;
                        Ok(buf)
                    });
                let failed = got.is_err();
                // A closed channel: the reader stopped (it says why).
                if tx.send(got).is_err() || failed {
                    break;
                }
            }
        });
        let mut stash: Option<CoreError> = None;
        let result =
            (|| -> Result<()> {
                let stash_ref = &mut stash;
                let rx = &rx;
                let mut joined =
                    envelope::Joined::new(index.pieces.clone(), move |_: &Piece| match rx.recv() {
                        Ok(Ok(buf)) => Ok(Box::new(io::Cursor::new(buf)) as Box<dyn Read>),
                        Ok(Err(e)) => {
                            *stash_ref = Some(e);
                            Err(io::Error::other("fetching a piece failed"))
                        }
                        Err(_) => Err(io::Error::other("the download stopped")),
                    });
                joined.progress = Box::new(|done| progress(Progress::Download { done, total }));
                let mut plain = envelope::decrypting(joined, keys).map_err(|_| {
                    CoreError::BackupInvalid(
                        "the off-site backup does not decrypt with this vault's key".into(),
                    )
                })?;
                let mut file = archive::private_file(to)?;
                let copied = io::copy(&mut (&mut plain).take(index.file_size + 1), &mut file)
                    .map_err(|e| match e.kind() {
                        io::ErrorKind::InvalidData => CoreError::BackupInvalid(e.to_string()),
                        _ => CoreError::BackupInvalid(format!(
                            "the off-site backup is damaged ({e})"
                        )),
                    })?;
                if copied != index.file_size {
                    return Err(CoreError::BackupInvalid(
                        "the off-site backup is not the size its index says".into(),
                    ));
                }
                // A working copy in a private temporary folder, read back at once by the
                // checks: not synced (a crash simply means fetching it again).
                Ok(())
            })();
        // Stops the fetcher if this side ended early.
        drop(rx);
        result.map_err(|e| stash.take().unwrap_or(e))
    })
}

/// The erasure list kept on the server; `None` when there is none.
fn remote_erasures(client: &ServerClient, keys: &VaultKeys) -> Result<Option<Ledger>> {
    let name = envelope::private_name(keys, "erasures");
    if !client.snapshots()?.iter().any(|s| s.name == name) {
        return Ok(None);
    }
    let bytes = get_small(client, &name)?;
    backup::ledger::open(&bytes, keys, "on the server").map(Some)
}

/// What is said of an erasure list on the server that this vault does not believe.
const UNBELIEVED_ERASURES: &str = "the server's erasure list was not written by this practice's computers (or was written with keys changed since a computer was removed)";

/// The erasure list a restore of backup `index` must apply. Every off-site backup sends
/// the list first and records its length in the index: a list that is missing, or shorter
/// than it was then, was withheld or rolled back by the server, and one this vault does not
/// believe could erase clients or leave erased ones out — each refused, nothing written.
fn erasures_for(
    client: &ServerClient,
    keys: &VaultKeys,
    index: &RemoteIndex,
    listed: &RemoteList,
) -> Result<Vec<ErasureRecord>> {
    let list = remote_erasures(client, keys)?;
    if list.as_ref().is_some_and(|l| !l.believed(keys)) {
        return Err(CoreError::BackupInvalid(format!(
            "{UNBELIEVED_ERASURES}: restoring with it could erase clients who were not erased, or bring back erased ones"
        )));
    }
    let list = list.map(|l| l.records);
    let have = list.as_ref().map_or(0, Vec::len) as u64;
    // As long as it was when any backup on the server was sent: an older list served again
    // (one that was believed once) could leave out erasures made since this backup.
    let need = listed
        .backups
        .iter()
        .map(|l| l.erasures)
        .fold(index.erasures, u64::max);
    if list.is_none() || have < need {
        return Err(CoreError::BackupInvalid(format!(
            "the server's erasure list is {} (backups on the server were sent with {need} erasure record(s)): it was withheld or rolled back, and a restore without it could bring back erased clients",
            if list.is_none() {
                "missing".to_string()
            } else {
                format!("shorter, {have} record(s)")
            },
        )));
    }
    Ok(list.unwrap_or_default())
}

/// The verification results kept on the server, each checked with the vault's key.
fn remote_verified(client: &ServerClient, keys: &VaultKeys) -> BTreeMap<String, Verified> {
    let name = envelope::private_name(keys, "verified");
    let map: BTreeMap<String, Verified> = get_small(client, &name)
        .ok()
        .and_then(|b| envelope::open_small(&b, keys).ok())
        .and_then(|j| serde_json::from_slice(&j).ok())
        .unwrap_or_default();
    trusted_results(map, keys)
}

/// Only results this vault's key authenticates.
fn trusted_results(
    map: BTreeMap<String, Verified>,
    keys: &VaultKeys,
) -> BTreeMap<String, Verified> {
    map.into_iter()
        .filter(|(n, v)| {
            let expected = backup::verified_mac(keys, n, v);
            v.mac
                .as_deref()
                .is_some_and(|m| archive::constant_time_eq(m.as_bytes(), expected.as_bytes()))
        })
        .collect()
}

/// An off-site backup made and ready to go: sent without holding the vault
/// ([`Vault::offsite_prepare`]).
pub struct PreparedUpload {
    /// Holds the backup file; removed when this is dropped.
    work: tempfile::TempDir,
    file: std::path::PathBuf,
    file_size: u64,
    manifest: Manifest,
    client: ServerClient,
    keys: VaultKeys,
    erasures: Vec<ErasureRecord>,
    vault_dir: std::path::PathBuf,
    name: String,
    piece_bytes: u64,
    /// Held until the backup is sent (or has failed): no other run touches the off-site
    /// copy meanwhile.
    _lock: super::connection::OffsiteLock,
}

impl PreparedUpload {
    /// Sends the backup (pieces, then its index), then the erasure list.
    pub fn send(self, progress: &mut dyn FnMut(Progress)) -> Result<SentBackup> {
        let pieces = send_file(
            &self.keys,
            &self.client,
            &self.file,
            &self.name,
            self.piece_bytes,
            progress,
        )?;
        // The erasure list before the index, which records how long the list was: a restore
        // refuses a list the server has shortened or withheld since.
        let pushed = push_erasures(
            &self.client,
            &self.keys,
            self.erasures.clone(),
            &self.vault_dir,
            true,
        )?;
        let mut index = RemoteIndex::new(
            self.name.clone(),
            self.manifest.clone(),
            self.file_size,
            pieces,
        );
        index.erasures = pushed.count as u64;
        let index = index.sign(&self.keys);
        let json = serde_json::to_vec(&index).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        // The index goes last: only now is this a backup anyone will list.
        put_checked(
            &self.client,
            &self.name,
            envelope::seal_small(&json, &self.keys)?,
        )?;
        drop(self.work);
        let purged = purge_before_erasures(
            &self.client,
            &self.keys,
            &self.manifest.vault_id,
            &self.erasures,
            &self.name,
            &self.vault_dir,
        )?;
        Ok(SentBackup {
            size: index.stored_size(),
            pieces: index.pieces.len(),
            name: self.name,
            manifest: self.manifest,
            purged,
            erasure_list_replaced: pushed.replaced,
        })
    }
}

/// Deletes one off-site backup: its index first (from then on it is not listed, whatever
/// happens to the pieces, and no longer one this computer expects to see), then its pieces.
fn delete_backup(
    client: &ServerClient,
    objects: &[casebook_wire::Snapshot],
    name: &str,
    vault_dir: &Path,
) -> Result<()> {
    client.delete_snapshot(name)?;
    let mut state = OffsiteState::load(vault_dir)?;
    state.sent.retain(|n| n != name);
    state.runs.verified.remove(name);
    state.save(vault_dir)?;
    for o in objects
        .iter()
        .filter(|o| envelope::piece_of(&o.name) == Some(name))
    {
        client.delete_snapshot(&o.name)?;
    }
    Ok(())
}

/// After an erasure, the off-site backups made before it still hold the client, readable with
/// the recovery key. Once a backup made after it (`newest`) is on the server, they go: no copy
/// the server keeps can then be read into the client's data. Local backups are the
/// therapist's own and keep their keep-policy. Returns the backups deleted.
fn purge_before_erasures(
    client: &ServerClient,
    keys: &VaultKeys,
    vault_id: &str,
    erasures: &[ErasureRecord],
    newest: &str,
    vault_dir: &Path,
) -> Result<Vec<String>> {
    let Some(last_erasure) = erasures.iter().map(|e| e.erased_at).max() else {
        return Ok(Vec::new());
    };
    let listed = list_with(client, keys, Some(vault_id), &BTreeMap::new(), &[])?;
    let objects = client.snapshots()?;
    let mut purged = Vec::new();
    for l in &listed.backups {
        let before = l.created_at.is_some_and(|t| t < last_erasure);
        if l.name != newest && before {
            delete_backup(client, &objects, &l.name, vault_dir)?;
            purged.push(l.name.clone());
        }
    }
    Ok(purged)
}

/// Records the outcome of an off-site backup in `server-state.json` (the status line) —
/// all [`Vault::offsite_record`] does besides the audit entry, for when the vault was locked
/// while the bytes travelled.
pub fn record_run(vault_dir: &Path, result: &Result<SentBackup>) -> Result<()> {
    let mut state = OffsiteState::load(vault_dir)?;
    let now = Utc::now();
    match result {
        Ok(sent) => {
            state.runs.last_success = Some(now);
            state.runs.last_file = Some(sent.name.clone());
            state.unfinished.retain(|n| n != &sent.name);
            if !state.sent.contains(&sent.name) {
                state.sent.push(sent.name.clone());
            }
            state.save(vault_dir)
        }
        Err(e) => {
            state.runs.last_failure = Some(now);
            state.runs.last_error = Some(e.to_string());
            state.save(vault_dir)
        }
    }
}

/// The erasure list as sent.
struct PushedErasures {
    /// How many records it holds.
    count: usize,
    /// The list on the server was not believed ([`UNBELIEVED_ERASURES`]) and held erasures
    /// this computer does not know: it was replaced by this computer's, not merged.
    replaced: bool,
}

/// Sends the erasure list (`local` merged with the one on the server, so it never shrinks).
/// A list on the server this vault does not believe is not merged — its records could erase
/// clients at a restore — but replaced when `replace_unbelieved` (the caller says so), and
/// otherwise refused. Called with the [`OffsiteLock`] held.
///
/// [`OffsiteLock`]: super::connection::OffsiteLock
fn push_erasures(
    client: &ServerClient,
    keys: &VaultKeys,
    local: Vec<ErasureRecord>,
    vault_dir: &Path,
    replace_unbelieved: bool,
) -> Result<PushedErasures> {
    let (existing, replaced) = match remote_erasures(client, keys)? {
        Some(l) if l.believed(keys) => (l.records, false),
        // Replaced; said only when it held erasures this computer does not know (one holding
        // none loses nothing: a computer that had not taken new keys yet wrote it).
        Some(l) if replace_unbelieved => (Vec::new(), l.records.iter().any(|r| !local.contains(r))),
        Some(_) => return Err(CoreError::BackupInvalid(UNBELIEVED_ERASURES.into())),
        None => (Vec::new(), false),
    };
    let mut ids: Vec<&str> = local
        .iter()
        .chain(&existing)
        .map(|r| r.id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let count = ids.len();
    let bytes = backup::ledger::seal_merged(local, existing, keys)?;
    put_checked(client, &envelope::private_name(keys, "erasures"), bytes)?;
    let mut state = OffsiteState::load(vault_dir)?;
    if state.ledger_unsent {
        state.ledger_unsent = false;
        state.save(vault_dir)?;
    }
    Ok(PushedErasures { count, replaced })
}

/// Encrypts `file` whole and sends it in pieces; returns what was stored. This thread
/// reads, encrypts and hashes the next piece while two senders put the ones before (at
/// most four pieces in memory).
fn send_file(
    keys: &VaultKeys,
    client: &ServerClient,
    file: &Path,
    name: &str,
    piece_bytes: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Piece>> {
    let total = std::fs::metadata(file).map_err(CoreError::io(file))?.len();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>, String)>(1);
    let rx = std::sync::Mutex::new(rx);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let pieces_handed = std::sync::atomic::AtomicUsize::new(0);
    let (result, senders) = std::thread::scope(|scope| {
        // Two senders, so one piece's request (and the server's write of it) overlaps the
        // next. A sender that fails keeps draining the channel, so this side never blocks.
        let senders: Vec<_> = (0..SENDERS)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let mut error = None;
                    loop {
                        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((i, bytes, sha256)) = next else { break };
                        if error.is_some() || failed.load(std::sync::atomic::Ordering::SeqCst) {
                            continue;
                        }
                        if let Err(e) =
                            put_known(client, &envelope::piece_name(name, i), bytes, sha256)
                        {
                            failed.store(true, std::sync::atomic::Ordering::SeqCst);
                            error = Some(e);
                        }
                    }
                    error.map_or(Ok(()), Err)
                })
            })
            .collect();
        let mut handed = 0u64;
        let pieces = envelope::Pieces::new(name, piece_bytes as usize, |i, bytes, sha| {
            if failed.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(io::Error::other("sending a piece failed"));
            }
            handed += bytes.len() as u64;
            pieces_handed.store(i + 1, std::sync::atomic::Ordering::SeqCst);
            tx.send((i, bytes, sha))
                .map_err(|_| io::Error::other("sending a piece failed"))?;
            progress(Progress::Upload {
                done: handed.min(total),
                total,
            });
            Ok(())
        });
        let result = (|| -> io::Result<Vec<Piece>> {
            let mut enc = envelope::Encrypting::new(pieces, keys)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let mut src = std::fs::File::open(file)?;
            io::copy(&mut src, &mut enc)?;
            enc.finish()
                .map_err(|e| io::Error::other(e.to_string()))?
                .finish()
        })();
        // Every piece is handed over (or this side failed): let the senders finish.
        drop(tx);
        let joined: Vec<_> = senders.into_iter().map(|h| h.join()).collect();
        (result, joined)
    });
    let mut sender = Ok(Ok(()));
    for j in senders {
        match j {
            Ok(Ok(())) => {}
            other => {
                sender = other;
                break;
            }
        }
    }
    let sent = match sender {
        Ok(r) => r,
        Err(_) => Err(CoreError::Crypto(
            "the upload thread stopped unexpectedly".into(),
        )),
    };
    match (result, sent) {
        (Ok(p), Ok(())) => Ok(p),
        (r, s) => {
            // The sender's error says why (the server refused, or could not be reached);
            // otherwise this side's.
            let err = match (s, r) {
                (Err(e), _) => e,
                (Ok(()), Err(e)) => io_to_core(e, &mut None),
                (Ok(()), Ok(_)) => CoreError::Crypto("the upload ended unexpectedly".into()),
            };
            // Best effort now, only the pieces handed over; the next run removes whatever
            // is left.
            for i in 0..pieces_handed.load(std::sync::atomic::Ordering::SeqCst) {
                if client
                    .delete_snapshot(&envelope::piece_name(name, i))
                    .is_err()
                {
                    break;
                }
            }
            Err(err)
        }
    }
}

impl Vault {
    fn secret_store(&self) -> SecretStore<'_> {
        SecretStore {
            dir: &self.dir,
            vault_id: &self.meta.vault_id,
            device_id: &self.meta.device_id,
            kind: self.meta.key_store,
            keys: &self.keys,
        }
    }

    /// The connection, its secret and a client for it.
    /// The vault's server connection and a client signed in as this computer (for sync).
    pub fn server_connection(&self) -> Result<(ServerSettings, ServerClient)> {
        self.connection()
    }

    fn connection(&self) -> Result<(ServerSettings, ServerClient)> {
        let settings = ServerSettings::load(&self.dir)?.ok_or_else(not_connected)?;
        let secret = self
            .secret_store()
            .load()?
            .ok_or(ServerError::DeviceRevoked)?;
        let client = client_for(&settings, &secret)?;
        Ok((settings, client))
    }

    /// Connects the vault to a server account (opening it first with `sign_up`). The server
    /// must keep its data in the UK or EU/EEA; this computer signing in again keeps its
    /// device. Audited.
    pub fn server_connect(&mut self, req: &Connect<'_>) -> Result<ServerSettings> {
        let (url, _info, places) = server_info(req.url)?;
        if let Some(existing) = ServerSettings::load(&self.dir)?
            && (existing.url != url.as_str() || existing.username != req.username)
        {
            return Err(CoreError::Conflict(format!(
                "this vault is already connected to {} as {}: disconnect first (`casebook server disconnect`)",
                existing.url, existing.username
            )));
        }
        let sealed_keys = self.recovery_file_checked()?;
        let mut client = ServerClient::new(url.clone(), None)?;
        if req.sign_up {
            client.sign_up(&SignUp {
                username: req.username.to_string(),
                password: req.password.to_string(),
                invite: req.invite.map(str::to_string),
            })?;
        }
        let store = self.secret_store();
        let mut secret = store.load()?.unwrap_or_else(DeviceSecret::generate);
        let enrolled = client.sign_in(&SignIn {
            username: req.username.to_string(),
            password: req.password.to_string(),
            totp: req.totp.map(str::to_string),
            device_name: req.device_name.to_string(),
            device_public_key: secret.public_key()?,
            // Proof that this is the device signing in again (its live token), if it is.
            previous_token: secret.token.clone(),
        })?;
        for id in [&enrolled.device_id, &enrolled.account_id] {
            if id.is_empty()
                || id.len() > 64
                || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(ServerError::Protocol("it named this device oddly".into()).into());
            }
        }
        client.set_token(enrolled.token.clone());
        let previous = ServerSettings::load(&self.dir)?;
        let same_device = previous
            .as_ref()
            .is_some_and(|p| p.device_id == enrolled.device_id);
        if same_device {
            // Signing in again replaced this device's token on the server: keep the new one
            // whatever happens next.
            secret.token = Some(enrolled.token.clone());
            store.save(&secret)?;
        }
        if let Err(e) = ensure_keys_object(&client, &sealed_keys, &self.keys.replaced_recoveries())
        {
            if !same_device {
                // A device enrolled just now and not kept is signed out again.
                let _ = client.sign_out(&enrolled.device_id);
            }
            return Err(e);
        }
        secret.token = Some(enrolled.token.clone());
        store.save(&secret)?;
        let settings = ServerSettings {
            url: url.as_str().to_string(),
            username: req.username.to_string(),
            account_id: enrolled.account_id,
            device_id: enrolled.device_id,
            device_name: req.device_name.to_string(),
            locations: places,
            connected_at: Utc::now(),
            scheduled: previous.as_ref().is_none_or(|p| p.scheduled),
            totp_enabled: req.totp.is_some() || previous.as_ref().is_some_and(|p| p.totp_enabled),
            keep: previous.map(|p| p.keep).unwrap_or_default(),
        };
        settings.save(&self.dir)?;
        let device = settings.device_id.clone();
        self.act(Action::ServerConnect, |cx| {
            cx.detail(format!("device={device}"));
            Ok(())
        })?;
        Ok(settings)
    }

    /// The connection and how it is doing (asks the server for the storage used).
    pub fn server_status(&self) -> Result<ServerStatus> {
        let settings = ServerSettings::load(&self.dir)?.ok_or_else(not_connected)?;
        let state = OffsiteState::load(&self.dir)?;
        let (usage, problem) = match self.connection().and_then(|(_, c)| Ok(c.usage()?)) {
            Ok(u) => (Some(u), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(ServerStatus {
            settings,
            usage,
            state,
            problem,
        })
    }

    /// Signs this computer out of the server and forgets the connection. Returns whether the
    /// server confirmed the sign-out (if it could not be reached, the device stays in the
    /// account's list until revoked from another device). Audited.
    pub fn server_disconnect(&mut self) -> Result<bool> {
        let settings = ServerSettings::load(&self.dir)?.ok_or_else(not_connected)?;
        let confirmed = match self.connection() {
            Ok((_, c)) => match c.sign_out(&settings.device_id) {
                Ok(()) | Err(ServerError::DeviceRevoked) => true,
                Err(_) => false,
            },
            Err(_) => false,
        };
        self.forget_connection()?;
        self.act(Action::ServerDisconnect, |cx| {
            cx.detail(format!("signed_out={confirmed}"));
            Ok(())
        })?;
        Ok(confirmed)
    }

    fn forget_connection(&mut self) -> Result<()> {
        let store = self.secret_store();
        if let Some(mut secret) = store.load().ok().flatten() {
            // The device key is kept: connecting again later is still this computer.
            secret.token = None;
            store.save(&secret)?;
        }
        ServerSettings::remove(&self.dir)
    }

    /// Starts turning on the account's second factor: the secret for the authenticator app.
    pub fn server_totp_start(&mut self, password: &str) -> Result<TotpEnrolment> {
        let (_, c) = self.connection()?;
        Ok(c.totp_start(&Reauthenticate {
            password: password.to_string(),
            totp: None,
        })?)
    }

    /// Turns the second factor on with a code from the authenticator app: returns the ten
    /// one-time recovery codes (shown once). Audited.
    pub fn server_totp_confirm(&mut self, code: &str) -> Result<RecoveryCodes> {
        let (_, c) = self.connection()?;
        let codes = c.totp_confirm(code.trim())?;
        self.remember_totp(true)?;
        self.act(Action::ServerTotp, |cx| {
            cx.detail("enabled");
            Ok(())
        })?;
        Ok(codes)
    }

    /// Turns the account's second factor off, after the password and a current (or
    /// recovery) code. Audited.
    pub fn server_totp_disable(&mut self, password: &str, code: &str) -> Result<()> {
        let (_, c) = self.connection()?;
        c.totp_disable(&Reauthenticate {
            password: password.to_string(),
            totp: Some(code.trim().to_string()),
        })?;
        self.remember_totp(false)?;
        self.act(Action::ServerTotp, |cx| {
            cx.detail("disabled");
            Ok(())
        })
    }

    fn remember_totp(&self, on: bool) -> Result<()> {
        if let Some(mut s) = ServerSettings::load(&self.dir)? {
            s.totp_enabled = on;
            s.save(&self.dir)?;
        }
        Ok(())
    }

    /// Deletes the server account and everything in it (every off-site backup), after the
    /// password (and code) again; then forgets the connection. Audited.
    pub fn server_delete_account(&mut self, password: &str, totp: Option<&str>) -> Result<Deleted> {
        let (_, c) = self.connection()?;
        let deleted = c.delete_account(&Reauthenticate {
            password: password.to_string(),
            totp: totp.map(str::to_string),
        })?;
        self.forget_connection()?;
        let (n, bytes) = (deleted.blobs_removed, deleted.bytes_removed);
        self.act(Action::ServerAccountDelete, |cx| {
            cx.detail(format!("objects_removed={n} bytes_removed={bytes}"));
            Ok(())
        })?;
        Ok(deleted)
    }

    /// Turns the scheduled off-site copy on or off.
    pub fn server_schedule_set(&mut self, on: bool) -> Result<ServerSettings> {
        let mut s = ServerSettings::load(&self.dir)?.ok_or_else(not_connected)?;
        s.scheduled = on;
        s.save(&self.dir)?;
        self.act(Action::BackupSettings, |cx| {
            cx.detail(format!("server_scheduled={on}"));
            Ok(())
        })?;
        Ok(s)
    }

    /// Makes a backup and sends it, wholly encrypted, to the server. Audited; the outcome
    /// is recorded for the off-site status line. A failure leaves no listed backup: the
    /// pieces of an unfinished upload are removed at the next run. (The app does the three
    /// steps apart — [`Vault::offsite_prepare`], [`PreparedUpload::send`],
    /// [`Vault::offsite_record`] — so the vault is free while the bytes travel.)
    pub fn offsite_backup_create(
        &mut self,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SentBackup> {
        let result = self
            .offsite_prepare(progress)
            .and_then(|prepared| prepared.send(progress));
        self.offsite_record(&result)?;
        result
    }

    /// Records the outcome of an off-site backup for the status line, and audits it.
    pub fn offsite_record(&mut self, result: &Result<SentBackup>) -> Result<()> {
        record_run(&self.dir, result)?;
        match result {
            Ok(sent) => {
                let (name, size, purged) = (sent.name.clone(), sent.size, sent.purged.len());
                let replaced = sent.erasure_list_replaced;
                self.act(Action::BackupCreate, |cx| {
                    cx.detail(format!(
                        "to=server name={name} bytes={size} older_deleted_after_erasure={purged}{}",
                        if replaced {
                            " erasure_list_replaced=true"
                        } else {
                            ""
                        }
                    ));
                    Ok(())
                })
            }
            Err(e) => {
                let word = e.kind().word();
                let _ = self.act(Action::BackupCreate, |cx| {
                    cx.detail(format!("to=server failed: {word}"));
                    Ok(())
                });
                Ok(())
            }
        }
    }

    /// The part of an off-site backup that needs the vault: the connection checked, the
    /// backup file made (as a local one, in a private temporary folder) and the erasure
    /// records read. What it returns sends without the vault.
    pub fn offsite_prepare(
        &mut self,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PreparedUpload> {
        let (_, client) = self.connection()?;
        self.refuse_while_rekeying()?;
        let lock = super::connection::OffsiteLock::take(&self.dir)?;
        let sealed_keys = self.recovery_file_checked()?;
        ensure_keys_object(&client, &sealed_keys, &self.keys.replaced_recoveries())?;
        self.remove_unfinished(&client);
        let usage = client.usage()?;
        let piece_bytes = envelope::PIECE_BYTES
            .min(usage.max_blob_bytes)
            .max(64 * 1024);
        let work = backup::work_dir()?;
        let made = self.write_backup_with(work.path(), &sealed_keys, progress)?;
        let name = envelope::new_backup_name();
        let mut state = OffsiteState::load(&self.dir)?;
        state.unfinished.push(name.clone());
        state.save(&self.dir)?;
        Ok(PreparedUpload {
            work,
            file: made.path,
            file_size: made.size,
            manifest: made.manifest,
            client,
            keys: self.keys.clone(),
            erasures: crate::records::erasure::read_records(&self.conn)?,
            vault_dir: self.dir.clone(),
            name,
            piece_bytes,
            _lock: lock,
        })
    }

    /// Removes the pieces of this vault's uploads that never finished (a run killed or cut
    /// off part-way). Best effort: whatever stays is removed next time.
    fn remove_unfinished(&self, client: &ServerClient) {
        let Ok(mut state) = OffsiteState::load(&self.dir) else {
            return;
        };
        if state.unfinished.is_empty() {
            return;
        }
        let Ok(objects) = client.snapshots() else {
            return;
        };
        let mut finished = Vec::new();
        state.unfinished.retain(|base| {
            if objects.iter().any(|o| o.name == *base) {
                // Its index got there after all (the run ended just before recording it): a
                // backup, listed and watched for as any other.
                finished.push(base.clone());
                return false;
            }
            // Every piece is tried; the upload is remembered while any of them is left.
            objects
                .iter()
                .filter(|o| envelope::piece_of(&o.name) == Some(base.as_str()))
                .map(|o| client.delete_snapshot(&o.name).is_err())
                .fold(false, |left, failed| left | failed)
        });
        for base in finished {
            if !state.sent.contains(&base) {
                state.sent.push(base);
            }
        }
        let _ = state.save(&self.dir);
    }

    /// After an erasure: the server's erasure list is brought up to date at once, so a
    /// restore from there cannot bring the client back. When the server cannot be reached
    /// it is marked to be sent with the next off-site backup. Never fails the erasure.
    pub(crate) fn offsite_erasure_made(&mut self) {
        if !matches!(ServerSettings::load(&self.dir), Ok(Some(_))) {
            return;
        }
        // With the off-site lock: an upload under way sends the list itself at its end, but
        // only the records it read before this erasure — so this one is marked to go too.
        // Not while this computer waits to take keys it handed out: the next backup sends it.
        let sent = super::connection::OffsiteLock::take(&self.dir).and_then(|_lock| {
            self.refuse_while_rekeying()?;
            let (_, c) = self.connection()?;
            let local = crate::records::erasure::read_records(&self.conn)?;
            // Not replacing one the vault does not believe: the next off-site backup does,
            // and says so.
            push_erasures(&c, &self.keys, local, &self.dir, false)
        });
        if sent.is_err()
            && let Ok(mut state) = OffsiteState::load(&self.dir)
        {
            state.ledger_unsent = true;
            let _ = state.save(&self.dir);
        }
    }

    /// The off-site backups, newest first, each index checked with the vault's key.
    pub fn offsite_list(&self) -> Result<RemoteList> {
        let (_, client) = self.connection()?;
        let state = OffsiteState::load(&self.dir)?;
        // Results kept on the server too (this computer may be a restored one that verified
        // nothing yet); each checked with the vault's key. This computer's own win.
        let mut verified = remote_verified(&client, &self.keys);
        verified.extend(trusted_results(state.runs.verified.clone(), &self.keys));
        list_with(
            &client,
            &self.keys,
            Some(&self.meta.vault_id),
            &verified,
            &state.sent,
        )
    }

    /// Downloads off-site backup `name` and checks it completely, as `backup verify` does a
    /// file. Audited; the result is remembered (and kept on the server, encrypted, so a new
    /// machine sees which backups were verified).
    pub fn offsite_verify(
        &mut self,
        name: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<VerifyReport> {
        let (_, client) = self.connection()?;
        let work = backup::work_dir()?;
        let file = work.path().join("backup.tar");
        let result = (|| -> Result<VerifyReport> {
            if !envelope::is_index(name) {
                return Err(CoreError::NotFound {
                    what: "off-site backup",
                    id: name.to_string(),
                    hint: "backup list --server",
                });
            }
            let bytes = get_small(&client, name).map_err(|e| match e {
                CoreError::Server(ServerError::Refused(_)) => CoreError::NotFound {
                    what: "off-site backup",
                    id: name.to_string(),
                    hint: "backup list --server",
                },
                other => other,
            })?;
            let index = RemoteIndex::open(&bytes, name, &self.keys)?;
            download(&client, &index, &self.keys, &file, progress)?;
            let check_dir = work.path().join("check");
            std::fs::create_dir_all(&check_dir).map_err(CoreError::io(&check_dir))?;
            let (u, entries) = backup::check(
                &file,
                archive::KeySource::Vault(&self.keys),
                &check_dir,
                progress,
            )?;
            if u.manifest.vault_id != self.meta.vault_id || u.manifest != index.manifest {
                return Err(CoreError::BackupInvalid(
                    "the backup inside does not match its index".into(),
                ));
            }
            Ok(VerifyReport {
                path: name.into(),
                size: index.stored_size(),
                manifest: u.manifest,
                audit_entries: entries,
            })
        })();
        if matches!(
            &result,
            Err(CoreError::Server(_)) | Err(CoreError::NotFound { .. })
        ) {
            // Not a verdict on the backup: the server could not be asked.
            return result;
        }
        if let Err(e) = &result
            && e.kind() != crate::ErrorKind::Integrity
        {
            // A local problem (disk full, say) is not a verdict on the backup either.
            return result;
        }
        let mut state = OffsiteState::load(&self.dir)?;
        let mut outcome = Verified {
            at: Utc::now(),
            ok: result.is_ok(),
            problem: result.as_ref().err().map(|e| e.to_string()),
            mac: None,
        };
        outcome.mac = Some(backup::verified_mac(&self.keys, name, &outcome));
        state.runs.verified.insert(name.to_string(), outcome);
        state.save(&self.dir)?;
        let json = serde_json::to_vec(&state.runs.verified).unwrap_or_default();
        if let Ok(sealed) = envelope::seal_small(&json, &self.keys) {
            let _ = put_checked(
                &client,
                &envelope::private_name(&self.keys, "verified"),
                sealed,
            );
        }
        let word = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("failed: {}", e.kind().word()),
        };
        let n = name.to_string();
        self.act(Action::BackupVerify, |cx| {
            cx.detail(format!("server name={n} {word}"));
            Ok(())
        })?;
        result
    }

    /// Stops expecting the backups this computer sent that the server no longer lists (once
    /// the therapist knows why: the server's operator restored an older copy, say), so prune
    /// can run again. Returns their names. Audited.
    pub fn offsite_forget_missing(&mut self) -> Result<Vec<String>> {
        let _lock = super::connection::OffsiteLock::take(&self.dir)?;
        let missing = self.offsite_list()?.missing;
        let mut state = OffsiteState::load(&self.dir)?;
        state.sent.retain(|n| !missing.contains(n));
        state.save(&self.dir)?;
        let n = missing.len();
        self.act(Action::BackupPrune, |cx| {
            cx.detail(format!("server forgot_missing={n}"));
            Ok(())
        })?;
        Ok(missing)
    }

    /// Deletes the off-site backups the off-site keep-policy no longer wants (never the
    /// newest, never the newest verified), and unfinished uploads over a day old. Audited.
    pub fn offsite_prune(&mut self, dry_run: bool, now: DateTime<Utc>) -> Result<PrunePlan> {
        let (settings, client) = self.connection()?;
        let _lock = super::connection::OffsiteLock::take(&self.dir)?;
        let listed = self.offsite_list()?;
        // A listing the server has shortened must not decide what is deleted.
        if !listed.missing.is_empty() && !dry_run {
            return Err(CoreError::BackupInvalid(format!(
                "the server no longer lists {} off-site backup(s) this computer sent (deleted or withheld by the server): nothing was pruned (once you know why, `backup prune --server --forget-missing` stops expecting them)",
                listed.missing.len()
            )));
        }
        let candidates: Vec<policy::Candidate> = listed
            .backups
            .iter()
            .filter(|l| l.usable())
            .filter_map(|l| {
                Some(policy::Candidate {
                    name: l.name.clone(),
                    created_at: l.created_at?,
                    verified: l.verified_ok(),
                })
            })
            .collect();
        let mut plan = policy::plan(&settings.keep, &candidates, now);
        for l in listed.backups.iter().filter(|l| !l.usable()) {
            plan.keep.push((
                l.name.clone(),
                "damaged or incomplete: kept, check it with backup verify --server",
            ));
        }
        if !dry_run {
            let objects = client.snapshots()?;
            for name in &plan.delete {
                delete_backup(&client, &objects, name, &self.dir)?;
            }
            let state = OffsiteState::load(&self.dir)?;
            let day_ago = now - chrono::Duration::days(1);
            for o in &objects {
                let stale = DateTime::parse_from_rfc3339(&o.created_at)
                    .is_ok_and(|t| t.with_timezone(&Utc) < day_ago);
                // Never the pieces of a backup this computer sent (its index may only be
                // missing from one listing).
                if stale
                    && envelope::piece_of(&o.name).is_some_and(|b| {
                        listed.unfinished.iter().any(|u| u == b)
                            && !state.sent.iter().any(|n| n == b)
                    })
                {
                    let _ = client.delete_snapshot(&o.name);
                }
            }
        }
        let (kept, deleted) = (plan.keep.len(), plan.delete.len());
        self.act(Action::BackupPrune, |cx| {
            cx.detail(format!(
                "server {} kept={kept} deleted={deleted}",
                if dry_run { "dry-run" } else { "applied" }
            ));
            Ok(())
        })?;
        Ok(plan)
    }

    /// Restores off-site backup `name` into the new folder `into` (a second copy from the
    /// vault in use, as `backup restore` does a file): fetched and checked piece by piece,
    /// then every check of a local restore, with the server's erasure list applied.
    pub fn offsite_restore(
        &self,
        name: &str,
        recovery_key: &RecoveryKey,
        into: &Path,
        passphrase: Option<&str>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Restored> {
        let (_, client) = self.connection()?;
        if !envelope::is_index(name) {
            return Err(CoreError::NotFound {
                what: "off-site backup",
                id: name.to_string(),
                hint: "backup list --server",
            });
        }
        let bytes = get_small(&client, name)?;
        let index = RemoteIndex::open(&bytes, name, &self.keys)?;
        let work = backup::work_dir()?;
        let file = work.path().join("backup.tar");
        download(&client, &index, &self.keys, &file, progress)?;
        let listed = list_with(
            &client,
            &self.keys,
            Some(&self.meta.vault_id),
            &BTreeMap::new(),
            &[],
        )?;
        let mut erasures = erasures_for(&client, &self.keys, &index, &listed)?;
        // And every erasure this vault knows: whatever the server serves, a restore from
        // the vault in use never brings back a client erased here.
        backup::ledger::merge(
            &mut erasures,
            crate::records::erasure::read_records(&self.conn)?,
        );
        backup::restore_with(
            &file,
            Some(recovery_key),
            into,
            passphrase,
            Some(backup::FromServer {
                opened: None,
                erasures,
                manifest: &index.manifest,
            }),
            progress,
        )
    }

    /// Sets the off-site keep-policy.
    pub fn offsite_keep_set(&mut self, keep: crate::backup::KeepPolicy) -> Result<()> {
        let mut s = ServerSettings::load(&self.dir)?.ok_or_else(not_connected)?;
        s.keep = keep;
        s.save(&self.dir)?;
        self.act(Action::BackupSettings, |cx| {
            cx.detail("server keep-policy");
            Ok(())
        })
    }
}

/// A new computer signed in to the account, before it holds the vault's keys: they come
/// from the recovery key ([`ServerSignIn::with_recovery_key`]) or from another computer of
/// the practice ([`ServerSignIn::with_keys`], adding a computer by code). Dropped before a
/// restore finished, the sign-in is undone.
pub struct ServerSignIn {
    client: ServerClient,
    url: ServerUrl,
    username: String,
    device_name: String,
    locations: Vec<String>,
    enrolled: casebook_wire::Enrolled,
    secret: DeviceSecret,
    totp_used: bool,
    finished: bool,
}

impl ServerSignIn {
    /// Signs in to the account as a new device named `device_name`.
    pub fn new(
        url: &str,
        username: &str,
        password: &str,
        totp: Option<&str>,
        device_name: &str,
    ) -> Result<Self> {
        let (url, _info, locations) = server_info(url)?;
        let mut client = ServerClient::new(url.clone(), None)?;
        let secret = DeviceSecret::generate();
        let enrolled = client.sign_in(&SignIn {
            username: username.to_string(),
            password: password.to_string(),
            totp: totp.map(str::to_string),
            device_name: device_name.to_string(),
            device_public_key: secret.public_key()?,
            previous_token: None,
        })?;
        client.set_token(enrolled.token.clone());
        Ok(ServerSignIn {
            client,
            url,
            username: username.to_string(),
            device_name: device_name.to_string(),
            locations,
            enrolled,
            secret,
            totp_used: totp.is_some(),
            finished: false,
        })
    }

    /// The signed-in connection (for the pairing messages, account objects).
    pub fn client(&self) -> &ServerClient {
        &self.client
    }

    /// The account's id at the server.
    pub fn account_id(&self) -> &str {
        &self.enrolled.account_id
    }

    /// This computer's device id at the server.
    pub fn device_id(&self) -> &str {
        &self.enrolled.device_id
    }

    /// This computer's name, as it signed in.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The vault's sealed keys from the server, opened with the recovery key; lists the backups.
    pub fn with_recovery_key(self, recovery_key: &RecoveryKey) -> Result<ServerRestore> {
        let sealed_keys = self.sealed_keys_from_server()?;
        let keys = archive::open_sealed_keys(recovery_key, &sealed_keys)?;
        ServerRestore::listed(self, keys, sealed_keys)
    }

    /// The vault's keys as another computer of the practice handed them over (its keys
    /// document and its sealed copy, `recovery.age`); lists the backups. A backup whose keys
    /// part is not that sealed copy is refused at restore.
    pub fn with_keys(self, keys_json: &[u8], sealed_keys: Vec<u8>) -> Result<ServerRestore> {
        let keys = VaultKeys::from_json(keys_json)?;
        ServerRestore::listed(self, keys, sealed_keys)
    }

    fn sealed_keys_from_server(&self) -> Result<Vec<u8>> {
        let listed = self.client.snapshots()?;
        if !listed.iter().any(|s| s.name == KEYS_OBJECT) {
            return Err(CoreError::NotFound {
                what: "off-site backup",
                id: format!("in account {}", self.username),
                hint: "server status (on the computer that made them)",
            });
        }
        get_small(&self.client, KEYS_OBJECT)
    }
}

impl Drop for ServerSignIn {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.client.sign_out(&self.enrolled.device_id);
        }
    }
}

/// A restore from the server onto a new machine, in two steps: [`ServerRestore::sign_in`]
/// (the account and the recovery key; lists the backups) then [`ServerRestore::restore`].
/// The restored vault is connected to the account as this computer. Dropped without a
/// restore, the sign-in is undone.
pub struct ServerRestore {
    signed_in: ServerSignIn,
    keys: VaultKeys,
    sealed_keys: Vec<u8>,
    list: RemoteList,
}

impl ServerRestore {
    /// Signs in (as a new device named `device_name`), fetches the vault's sealed keys and
    /// opens them with the recovery key, and lists the backups.
    pub fn sign_in(
        url: &str,
        username: &str,
        password: &str,
        totp: Option<&str>,
        recovery_key: &RecoveryKey,
        device_name: &str,
    ) -> Result<Self> {
        ServerSignIn::new(url, username, password, totp, device_name)?
            .with_recovery_key(recovery_key)
    }

    fn listed(signed_in: ServerSignIn, keys: VaultKeys, sealed_keys: Vec<u8>) -> Result<Self> {
        let verified = remote_verified(&signed_in.client, &keys);
        let list = list_with(&signed_in.client, &keys, None, &verified, &[])?;
        Ok(ServerRestore {
            signed_in,
            keys,
            sealed_keys,
            list,
        })
    }

    /// Where the server keeps data, as it said.
    pub fn locations(&self) -> &[String] {
        &self.signed_in.locations
    }

    /// The backups, newest first.
    pub fn backups(&self) -> &RemoteList {
        &self.list
    }

    /// The backup a restore takes by default: the newest verified one, or failing that the
    /// newest sound one.
    pub fn default_choice(&self) -> Option<&RemoteListing> {
        let usable = || self.list.backups.iter().filter(|l| l.usable());
        usable()
            .find(|l| l.verified_ok())
            .or_else(|| usable().next())
    }

    /// Restores backup `name` (or [`Self::default_choice`]) into `into`, with every check of a
    /// local restore before anything is written, and every erasure on the server's list made
    /// again. The new vault is connected to the account.
    pub fn restore(
        &mut self,
        name: Option<&str>,
        into: &Path,
        passphrase: Option<&str>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Restored> {
        let chosen = match name {
            Some(n) => self
                .list
                .backups
                .iter()
                .find(|l| l.name == n)
                .ok_or_else(|| CoreError::NotFound {
                    what: "off-site backup",
                    id: n.to_string(),
                    hint: "backup list --server",
                })?,
            None => self.default_choice().ok_or_else(|| CoreError::NotFound {
                what: "sound off-site backup",
                id: format!("in account {}", self.signed_in.username),
                hint: "backup list --server",
            })?,
        };
        if let Some(problem) = &chosen.problem {
            return Err(CoreError::BackupInvalid(format!(
                "off-site backup {}: {problem}",
                chosen.name
            )));
        }
        let chosen = chosen.name.clone();
        let client = &self.signed_in.client;
        let bytes = get_small(client, &chosen)?;
        let index = RemoteIndex::open(&bytes, &chosen, &self.keys)?;
        let work = backup::work_dir()?;
        let file = work.path().join("backup.tar");
        download(client, &index, &self.keys, &file, progress)?;
        let erasures = erasures_for(client, &self.keys, &index, &self.list)?;
        let restored = backup::restore_with(
            &file,
            None,
            into,
            passphrase,
            Some(backup::FromServer {
                opened: Some((&self.keys, &self.sealed_keys)),
                erasures,
                manifest: &index.manifest,
            }),
            progress,
        )?;
        let mut vault = restored.vault;
        // The restored vault keeps this sign-in: it is this computer's connection now.
        let s = &mut self.signed_in;
        let mut secret = s.secret.clone();
        secret.token = Some(s.enrolled.token.clone());
        vault.secret_store().save(&secret)?;
        ServerSettings {
            url: s.url.as_str().to_string(),
            username: s.username.clone(),
            account_id: s.enrolled.account_id.clone(),
            device_id: s.enrolled.device_id.clone(),
            device_name: s.device_name.clone(),
            locations: s.locations.clone(),
            connected_at: Utc::now(),
            scheduled: true,
            keep: Default::default(),
            totp_enabled: s.totp_used,
        }
        .save(&vault.dir)?;
        let device = s.enrolled.device_id.clone();
        vault.act(Action::ServerConnect, |cx| {
            cx.detail(format!("device={device} after restore"));
            Ok(())
        })?;
        s.finished = true;
        Ok(Restored {
            vault,
            manifest: restored.manifest,
        })
    }
}
