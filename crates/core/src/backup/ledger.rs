//! The erasure ledger: every erasure record of the vault, written beside the backups as
//! `erasures-<vault id>.age` (JSON, encrypted with age to the vault's clinical backup key) after each
//! erasure and each backup. A restore reads the ledger next to the backup it restores and
//! erases again every client erased after that backup was made, before the restored vault
//! is put in place — so an erased client never comes back from an older backup.
//!
//! The ledger holds codes, times, reasons and destruction certificates: never a name. It
//! carries an authentication code keyed like an off-site index's, checked when it comes from
//! the server ([`Ledger::believed`]); one in the therapist's own backup folder is believed
//! as any backup there is. Ledgers written before codes were added are a bare list.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{CoreError, Result};
use crate::keys::VaultKeys;
use crate::records::erasure::{ErasureRecord, read_records};
use crate::sealed;
use crate::vault::Vault;

use super::settings::{BackupSettings, BackupState};

/// The ledger's file name in a backup folder, per vault (several vaults may share a folder).
pub fn ledger_file(vault_id: &str) -> String {
    format!("erasures-{vault_id}.age")
}

/// What the ledger's role is called in its authentication code.
const ROLE: &str = "erasures";

/// A ledger as read: its records and the authentication code it carries (`None` for one
/// written before codes were added).
pub(crate) struct Ledger {
    pub records: Vec<ErasureRecord>,
    pub code: Option<String>,
    /// The bytes the code is made over ([`canonical`]).
    signed: Vec<u8>,
}

impl Ledger {
    /// Whether the ledger is believed to be this vault's (see
    /// [`crate::offsite::envelope::object_believed`]): for one read from the server.
    pub(crate) fn believed(&self, keys: &VaultKeys) -> bool {
        crate::offsite::envelope::object_believed(keys, ROLE, &self.signed, self.code.as_deref())
    }

    /// The code it has under the vault's newest keys (what a re-keying lists to keep
    /// believing it once those keys are older).
    pub(crate) fn code_now(&self, keys: &VaultKeys) -> String {
        crate::offsite::envelope::object_code(keys, ROLE, &self.signed)
    }
}

/// The bytes the authentication code is made over: the records as a JSON value, written
/// out again (keys in order). Made from the value as read, so a field a later version adds
/// to a record is covered too, and every version computes the same bytes.
fn canonical(records: &serde_json::Value) -> Vec<u8> {
    // Writing a JSON value out cannot fail.
    serde_json::to_vec(records).unwrap_or_default()
}

/// Writes the ledger into the vault's backup folder and every folder a backup was ever
/// written to. Tries them all; returns the first failure.
pub(crate) fn write(vault: &mut Vault) -> Result<()> {
    let mut dests = BackupState::load(&vault.dir)
        .map(|s| s.destinations)
        .unwrap_or_default();
    let configured = BackupSettings::load(&vault.dir)?.destination_for(&vault.dir);
    if !dests.contains(&configured) {
        dests.push(configured);
    }
    let mut first_error = None;
    for dest in dests {
        if let Err(e) = write_to(vault, &dest) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Writes the ledger into `dest`.
pub(crate) fn write_to(vault: &mut Vault, dest: &Path) -> Result<()> {
    // Merged with what is there: a vault restored from an older copy must not shorten it.
    let existing = read(dest, &vault.meta.vault_id, &vault.keys).unwrap_or_default();
    let sealed_bytes = seal(vault, existing)?;
    std::fs::create_dir_all(dest).map_err(CoreError::io(dest))?;
    sealed::write_atomically(&dest.join(ledger_file(&vault.meta.vault_id)), &sealed_bytes)
}

/// The vault's erasure records merged with `existing` (a ledger found at a destination),
/// encrypted to the vault's clinical backup key.
pub(crate) fn seal(vault: &Vault, existing: Vec<ErasureRecord>) -> Result<Vec<u8>> {
    seal_merged(read_records(&vault.conn)?, existing, &vault.keys)
}

/// Adds to `records` those of `more` it does not hold (by id).
pub(crate) fn merge(records: &mut Vec<ErasureRecord>, more: Vec<ErasureRecord>) {
    for r in more {
        if !records.iter().any(|k| k.id == r.id) {
            records.push(r);
        }
    }
}

/// `records` merged with `existing` (never shorter than either), with its authentication
/// code, encrypted to the clinical backup key of `keys`.
pub(crate) fn seal_merged(
    mut records: Vec<ErasureRecord>,
    existing: Vec<ErasureRecord>,
    keys: &VaultKeys,
) -> Result<Vec<u8>> {
    merge(&mut records, existing);
    records.sort_by(|a, b| (a.erased_at, &a.id).cmp(&(b.erased_at, &b.id)));
    let value = serde_json::to_value(&records).map_err(|e| CoreError::Corrupt(e.to_string()))?;
    let code = crate::offsite::envelope::object_code(keys, ROLE, &canonical(&value));
    let json = serde_json::to_vec(&serde_json::json!({ "records": value, "code": code }))
        .map_err(|e| CoreError::Corrupt(e.to_string()))?;
    let recipient = keys.clinical_sealing().recipient()?;
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| CoreError::Crypto(e.to_string()))?;
    let mut sealed_bytes = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut sealed_bytes)
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    w.write_all(&json)
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    Ok(sealed_bytes)
}

/// Reads the ledger in `dir`, if there is one. A ledger that is not this vault's (or is
/// damaged) is an error: a restore must not silently skip erasures.
pub(crate) fn read(dir: &Path, vault_id: &str, keys: &VaultKeys) -> Result<Vec<ErasureRecord>> {
    let path = dir.join(ledger_file(vault_id));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CoreError::io(&path)(e)),
    };
    open(&bytes, keys, &path.display().to_string()).map(|l| l.records)
}

/// The error for a ledger (named `label`) that cannot be used, and why (`what`).
fn damaged(label: &str, what: &str) -> CoreError {
    CoreError::BackupInvalid(format!(
        "the erasure list {label} {what}; without it, clients erased after this backup could come back"
    ))
}

/// Decrypts ledger bytes (from a folder or the server, named `label` in errors).
pub(crate) fn open(bytes: &[u8], keys: &VaultKeys, label: &str) -> Result<Ledger> {
    let damaged = |what: String| damaged(label, &what);
    let decryptor =
        age::Decryptor::new(bytes).map_err(|e| damaged(format!("is not readable ({e})")))?;
    let ids = keys
        .clinical_all()
        .into_iter()
        .map(|i| i.identity())
        .collect::<Result<Vec<_>>>()?;
    let mut reader = decryptor
        .decrypt(ids.iter().map(|id| id as &dyn age::Identity))
        .map_err(|e| damaged(format!("cannot be decrypted with this vault's keys ({e})")))?;
    let mut json = Vec::new();
    reader
        .read_to_end(&mut json)
        .map_err(|e| damaged(format!("is damaged ({e})")))?;
    parse(&json, label)
}

/// Reads a decrypted ledger (named `label` in errors).
fn parse(json: &[u8], label: &str) -> Result<Ledger> {
    let damaged = |what: String| damaged(label, &what);
    let doc: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| damaged(format!("is not valid ({e})")))?;
    // `{"records": [...], "code": "..."}`; before codes, the bare list.
    let (value, code) = match doc {
        serde_json::Value::Object(mut m) => {
            let code = match m.remove("code") {
                Some(serde_json::Value::String(c)) => c,
                _ => return Err(damaged("has no valid authentication code".into())),
            };
            let value = m
                .remove("records")
                .ok_or_else(|| damaged("holds no records".into()))?;
            (value, Some(code))
        }
        list @ serde_json::Value::Array(_) => (list, None),
        _ => return Err(damaged("is not an erasure list".into())),
    };
    let signed = canonical(&value);
    let records =
        serde_json::from_value(value).map_err(|e| damaged(format!("is not valid ({e})")))?;
    Ok(Ledger {
        records,
        code,
        signed,
    })
}

/// Whether `data` — a sealed ledger as it comes from the server, or its plaintext — opens and
/// is believed with `keys`. For the fuzz target: the server is untrusted, and anyone holding
/// an older generation of the keys could have written the plaintext.
#[doc(hidden)]
pub fn probe(data: &[u8], keys: &VaultKeys) -> bool {
    let sealed = open(data, keys, "fuzzed").is_ok_and(|l| l.believed(keys));
    let plain = parse(data, "fuzzed").is_ok_and(|l| l.believed(keys));
    sealed || plain
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that are no ledger are refused, never a panic; a sealed ledger opens and is
    /// believed; its plaintext with a code changed is not; an older bare list is read.
    #[test]
    fn a_ledger_opens_only_as_written() {
        let keys = VaultKeys::generate();
        for bad in [
            &b""[..],
            b"[",
            b"{}",
            b"null",
            b"{\"records\":[],\"code\":1}",
        ] {
            assert!(!probe(bad, &keys));
        }
        let sealed = seal_merged(Vec::new(), Vec::new(), &keys).unwrap();
        assert!(probe(&sealed, &keys));
        let ledger = open(&sealed, &keys, "test").unwrap();
        assert!(ledger.believed(&keys) && ledger.records.is_empty());
        let forged = br#"{"records":[],"code":"00"}"#;
        assert!(!probe(forged, &keys));
        let bare = parse(b"[]", "test").unwrap();
        assert!(bare.code.is_none() && bare.believed(&keys));
    }
}
