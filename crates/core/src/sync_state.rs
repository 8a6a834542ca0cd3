//! What the sync engine keeps on this computer, inside the encrypted clinical store: its
//! state (marks of what was sealed, each device's verified chain, the device list) and the
//! blobs it sealed but the server has not acknowledged yet. A blob is sealed once and kept
//! here, in the same transaction as the marks that say its changes were sealed, so a crash
//! at any step of seal → store → send → mark re-sends the very same bytes (the server refuses
//! different bytes at a seq it holds) and loses nothing.
//!
//! Also here: re-identification (a copied vault folder becomes a computer of its own) and the
//! records' fingerprint, which two computers that have seen the same changes share.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::audit::Action;
use crate::error::Result;
use crate::registry::{Sharing, Store, TABLES};
use crate::vault::Vault;

/// Forgets the sync bookkeeping of the computer this copy came from (a restored backup, a
/// copied folder): its engine state, its sealed blobs and its captured changes are that
/// computer's, which sends them itself. Tables a store made before sync lacks are skipped.
pub(crate) fn forget_other_computers_sync(conn: &rusqlite::Connection) -> Result<()> {
    forget_sync(conn, true)
}

/// [`forget_other_computers_sync`]; `inherit`: keep what that computer had verified, as
/// `INHERITED`, and forget its captured changes (it sends them itself). Not for a copy found
/// by sync (`inherit` false): its state counts a blob the server refused, so it reads every
/// log again, and it keeps its captured changes — its own work since the copy, which no
/// other computer holds, is among them — to send them all again as the new computer's.
fn forget_sync(conn: &rusqlite::Connection, inherit: bool) -> Result<()> {
    // What that computer had verified of every log, kept apart: this copy holds exactly the
    // records it had applied up to there, so this computer's sync can start from those heads
    // instead of reading every log again (the engine reads it as `INHERITED`).
    let engine: Option<String> = match conn.query_row(
        "SELECT value FROM main.sync_state WHERE key = 'engine'",
        [],
        |r| r.get(0),
    ) {
        Ok(v) => Some(v),
        Err(rusqlite::Error::QueryReturnedNoRows | rusqlite::Error::SqliteFailure(..)) => None,
        Err(e) => return Err(e.into()),
    };
    let changes: &[(&str, &str)] = if inherit {
        &[("main", "sync_changes"), ("identity", "sync_changes")]
    } else {
        &[]
    };
    for &(schema, table) in [("main", "sync_state"), ("main", "sync_sealed")]
        .iter()
        .chain(changes)
    {
        let exists: bool = conn.query_row(
            &format!("SELECT EXISTS(SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?1)"),
            [table],
            |r| r.get(0),
        )?;
        if exists {
            conn.execute(&format!("DELETE FROM {schema}.{table}"), [])?;
        }
    }
    if let Some(engine) = engine.filter(|_| inherit) {
        conn.execute(
            "INSERT INTO main.sync_state (key, value) VALUES (?1, ?2)",
            rusqlite::params![INHERITED, engine],
        )?;
    }
    Ok(())
}

/// Sets values of the engine's state (`main.sync_state`) inside the caller's transaction.
pub(crate) fn put_state(conn: &rusqlite::Connection, values: &[(&str, &str)]) -> Result<()> {
    for (k, v) in values {
        conn.execute(
            "INSERT INTO main.sync_state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )?;
    }
    Ok(())
}

/// The sync state of the computer this copy was made from (a restored backup, a copied
/// folder), kept when this copy became a computer of its own.
pub const INHERITED: &str = "inherited-engine";

/// The practice's keys for sync, held by every computer of the practice (and reachable
/// with the recovery key, through `recovery.age`): never sent to the server.
pub struct SyncSecrets {
    /// Clinical changes are encrypted to the first of these (the clinical store's newest
    /// backup identity); every one opens (older ones, from before a re-keying).
    pub clinical: Vec<age::x25519::Identity>,
    /// Names and contact details to the first of these (the identity store's), so the
    /// two-code separation holds on the server too.
    pub identity: Vec<age::x25519::Identity>,
    /// The seed of the practice root signing key that signs for the practice now.
    pub root_seed: [u8; 32],
    /// The seed of the first practice root, from which the device list is verified.
    pub first_root_seed: [u8; 32],
}

/// The plaintext note of when this computer last synced (`sync.json` in the vault folder):
/// the Unlock screen says it before the keys are open. A time, nothing more.
const LAST_SYNCED_FILE: &str = "sync.json";

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct LastSynced {
    /// Seconds since the epoch of the last run that finished without an alarm.
    last_sync: Option<u64>,
}

/// When this computer last synced (read without unlocking); `None` if never or unreadable.
pub fn last_synced(vault_dir: &std::path::Path) -> Option<u64> {
    crate::jsonfile::read_json::<LastSynced>(&vault_dir.join(LAST_SYNCED_FILE))
        .ok()
        .and_then(|l| l.last_sync)
}

/// The vault's keys for a new computer of the practice ([`Vault::keys_for_new_computer`]).
pub struct KeysHandover {
    /// The keys document (as `keys show --json` prints it), wiped when dropped.
    pub keys_json: zeroize::Zeroizing<Vec<u8>>,
    /// The sealed keys (`recovery.age`): a backup's keys part must be these bytes.
    pub sealed_keys: Vec<u8>,
}

/// What the therapist did to this practice's sync, as the audit trail names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncEvent {
    Enable,
    Revoke,
    Disable,
    Rename,
    /// The practice's keys handed to a new computer (adding a computer by code).
    Pair,
}

impl Vault {
    /// The practice's sync keys (for the sync engine, in this process only).
    pub fn sync_secrets(&self) -> Result<SyncSecrets> {
        let all = |ids: Vec<&crate::keys::BackupIdentity>| {
            ids.into_iter()
                .map(|i| i.identity())
                .collect::<Result<Vec<_>>>()
        };
        Ok(SyncSecrets {
            clinical: all(self.keys.clinical_all())?,
            identity: all(self.keys.identity_all())?,
            root_seed: self.keys.root_seed(),
            first_root_seed: self.keys.first_root_seed(),
        })
    }

    /// What this computer hands a new computer of the practice over the pairing channel
    /// (adding a computer by code, `casebook_sync::adding`): the vault's keys document and
    /// its sealed copy (`recovery.age`) — what the recovery key would open. The caller audits
    /// the handing over (`SyncEvent::Pair`).
    pub fn keys_for_new_computer(&self) -> Result<KeysHandover> {
        let sealed_keys = std::fs::read(self.dir().join(crate::vault::RECOVERY_FILE)).map_err(
            crate::CoreError::io(self.dir().join(crate::vault::RECOVERY_FILE)),
        )?;
        Ok(KeysHandover {
            keys_json: zeroize::Zeroizing::new(self.keys.to_json()),
            sealed_keys,
        })
    }

    /// Notes, in the vault folder's plaintext `sync.json`, that this computer synced at `at`
    /// (seconds since the epoch), for the Unlock screen.
    pub fn note_synced(&self, at: u64) -> Result<()> {
        crate::jsonfile::write_json(
            &self.dir().join(LAST_SYNCED_FILE),
            &LastSynced {
                last_sync: Some(at),
            },
        )
    }

    /// A value of the engine's state.
    pub fn sync_get(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM main.sync_state WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets values of the engine's state, in one transaction.
    pub fn sync_put(&mut self, values: &[(&str, &str)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        put_state(&tx, values)?;
        tx.commit()?;
        Ok(())
    }

    /// Sets values of the engine's state for something the therapist did to this practice's
    /// sync from this computer (`sync enable`, `revoke`, `disable`), with its audit entry
    /// (the device concerned; never a key), in one transaction.
    pub fn sync_put_audited(
        &mut self,
        event: SyncEvent,
        device: &str,
        values: &[(&str, &str)],
    ) -> Result<()> {
        let action = match event {
            SyncEvent::Enable => Action::SyncEnable,
            SyncEvent::Revoke => Action::SyncRevoke,
            SyncEvent::Disable => Action::SyncDisable,
            SyncEvent::Rename => Action::SyncRename,
            SyncEvent::Pair => Action::SyncPair,
        };
        self.act(action, |cx| {
            put_state(cx.tx, values)?;
            cx.detail(format!("device={device}"));
            Ok(())
        })
    }

    /// Keeps a sealed blob at `seq` and the state that says its changes are sealed, together.
    pub fn store_sealed(&mut self, seq: u64, bytes: &[u8], values: &[(&str, &str)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO main.sync_sealed (seq, bytes) VALUES (?1, ?2)",
            params![seq as i64, bytes],
        )?;
        put_state(&tx, values)?;
        tx.commit()?;
        Ok(())
    }

    /// Sealed blobs the server has not acknowledged, oldest first.
    pub fn sealed_unacked(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, bytes FROM main.sync_sealed WHERE acked = 0 ORDER BY seq")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The sealed blob at `seq`, acknowledged or not (to send again what the server lost).
    pub fn sealed(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT bytes FROM main.sync_sealed WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// After this computer's log was cut below `below` on the server: its own copies of the
    /// blobs below go (they may hold an erased client's data, readable with the sync keys),
    /// and so does the capture of the changes they carried (`upto`: the capture marks of the
    /// clinical and identity stores that are sealed; the newest capture row stays, so the mark
    /// `sync watch` reads never goes back). Both are deleted with `secure_delete` on.
    pub fn forget_compacted(&mut self, below: u64, upto: [i64; 2]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM main.sync_sealed WHERE seq < ?1 AND acked = 1",
            [below as i64],
        )?;
        for (schema, upto) in [("main", upto[0]), ("identity", upto[1])] {
            tx.execute(
                &format!(
                    "DELETE FROM {schema}.sync_changes WHERE seq <= ?1
                     AND seq < (SELECT MAX(seq) FROM {schema}.sync_changes)"
                ),
                [upto],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that the server holds the blob at `seq`.
    pub fn mark_acked(&mut self, seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE main.sync_sealed SET acked = 1 WHERE seq = ?1",
            [seq as i64],
        )?;
        Ok(())
    }

    /// Gives this computer its device letter (from its entry in the signed device list):
    /// every client code it makes from now on starts with it.
    pub fn set_device_letter(&mut self, letter: char) -> Result<()> {
        crate::records::clients::set_device_letter(&self.conn, letter)
    }

    /// Marks the blob at `seq` to be sent again (the server lost it after acknowledging it).
    pub fn mark_unacked(&mut self, seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE main.sync_sealed SET acked = 0 WHERE seq = ?1",
            [seq as i64],
        )?;
        Ok(())
    }

    /// Makes this copy a computer of its own: a new device id, pinned in the store and
    /// written to `vault.json`. For a vault folder copied from another computer (two copies
    /// with one id would write one log). Audited; returns the new id.
    pub fn reidentify(&mut self) -> Result<String> {
        self.reidentify_because(None)
    }

    fn reidentify_because(&mut self, reason: Option<&str>) -> Result<String> {
        self.reidentify_inheriting(reason, true)
    }

    fn reidentify_inheriting(&mut self, reason: Option<&str>, inherit: bool) -> Result<String> {
        let new_id = uuid::Uuid::new_v4().to_string();
        let old = self.meta.device_id.clone();
        let id = new_id.clone();
        let dir = self.dir.clone();
        self.act(Action::DeviceReidentify, |cx| {
            crate::pins::repin_device(cx.tx, &id)?;
            crate::pins::repin_home(cx.tx, &dir)?;
            // The engine's state was the other copy's: it starts again for this one.
            forget_sync(cx.tx, inherit)?;
            cx.detail(match reason {
                Some(r) => format!("previous={old} reason={r}"),
                None => format!("previous={old}"),
            });
            Ok(())
        })?;
        self.meta.device_id = new_id.clone();
        crate::vault::write_meta(&self.dir, &self.meta)?;
        Ok(new_id)
    }

    /// Makes a copied vault folder (found at unlock: see [`crate::pins`]) a computer of its
    /// own: it forgets the server connection it copied — the original computer's device —
    /// then takes a new device id. Sync and off-site backups stay off here until this copy
    /// is connected as itself (`casebook server connect`, `casebook sync enable`).
    pub(crate) fn become_copy(&mut self, original: &std::path::Path) -> Result<String> {
        // First, so a crash between the two steps finds a copy again at the next unlock.
        crate::offsite::connection::forget_copied(&self.dir)?;
        let id = self.reidentify_because(Some("copied_folder"))?;
        self.copied_from = Some(original.to_path_buf());
        Ok(id)
    }

    /// Makes this vault a computer of its own when sync has proven that another copy of it
    /// (a folder copied to another computer, the original still in use there) writes as
    /// this device: as [`Vault::become_copy`] for a copy found at unlock — the server
    /// connection forgotten, a new device id (audited `device.reidentify`,
    /// `reason=copied_elsewhere`), the engine's state started again — so the two copies
    /// never write one log. Nothing of the records changes; sync stays off here until this
    /// copy is connected as itself, when everything it holds is sent as its own.
    pub fn become_copy_elsewhere(&mut self) -> Result<String> {
        crate::offsite::connection::forget_copied(&self.dir)?;
        // Its sync state counts what it sealed, the change the server refused among it: it
        // reads every log again, as a new computer.
        self.reidentify_inheriting(Some("copied_elsewhere"), false)
    }

    /// The folder this copy was copied from, when this unlock found it to be a copy and made
    /// it a computer of its own (the CLI and the app say so once).
    pub fn copied_from(&self) -> Option<&std::path::Path> {
        self.copied_from.as_deref()
    }

    /// What to tell the therapist once after [`Vault::copied_from`] is set.
    pub fn copied_notice(&self) -> Option<String> {
        self.copied_from.as_ref().map(|from| {
            format!(
                "This vault folder is a copy of the one at {}, which is still there. So that the \
                 two never write as one computer, this copy is now a computer of its own and \
                 is not connected to the server: connect it to sync it or send backups off-site.",
                from.display()
            )
        })
    }

    /// The newest write this vault holds from each computer (its own and the others'), as
    /// milliseconds since the epoch, newest first: how recent the state a new computer found
    /// is, for the therapist to judge (a server withholding the newest changes cannot be told
    /// apart by a fresh computer alone).
    pub fn newest_write_by_device(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT device_id, max(hlc) FROM (SELECT device_id, hlc FROM main.sync_stamps
                 UNION ALL SELECT device_id, hlc FROM identity.sync_stamps)
             GROUP BY device_id",
        )?;
        let mut out: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter_map(|(d, h)| crate::hlc::Hlc::parse(&h).map(|h| (d, h.wall_ms)))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// How many rows were changed in `store` after the capture mark `after` (changes not
    /// sealed for sync yet): one per row however often it was written (a note autosaved forty
    /// times is one change, as it is sent).
    pub fn changes_after(&self, store: Store, after: i64) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) FROM (SELECT DISTINCT tbl, row_key FROM {}.sync_changes WHERE seq > ?1)",
                store.schema()
            ),
            [after],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    /// Where the change capture of both stores stands: it differs after any captured write,
    /// made by this process or another one (the app, the CLI). `sync watch` reads it a few
    /// times a second to sync soon after a local edit; one indexed read per store.
    pub fn change_mark(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT IFNULL(MAX(seq), 0) FROM main.sync_changes),
                    (SELECT IFNULL(MAX(seq), 0) FROM identity.sync_changes)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// A fingerprint of the practice's records (every synced table, without the stamps that
    /// say which copy wrote last): two computers that have seen the same changes show the same.
    pub fn records_fingerprint(&self) -> Result<String> {
        let mut h = Sha256::new();
        self.canonical_rows(|table, line| {
            if let Some(t) = table {
                h.update(t.as_bytes());
            }
            if let Some(l) = line {
                h.update(l.as_bytes());
                h.update(b"\n");
            }
        })?;
        Ok(hex::encode(&h.finalize()[..8]))
    }

    /// The rows the fingerprint is made of, one line each, after their table's name: for
    /// finding what differs when two copies' fingerprints do (the simulation's reports).
    #[doc(hidden)]
    pub fn records_lines(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut current = String::new();
        self.canonical_rows(|table, line| {
            if let Some(t) = table {
                current = t.to_string();
            }
            if let Some(l) = line {
                out.push(format!("{current}: {l}"));
            }
        })?;
        Ok(out)
    }

    /// Every synced table's rows as canonical lines (without the stamps that say which copy
    /// wrote last), in key order: `f(Some(table), None)` as each table starts, then
    /// `f(None, Some(line))` per row.
    fn canonical_rows(&self, mut f: impl FnMut(Option<&str>, Option<&str>)) -> Result<()> {
        for t in TABLES.iter().filter(|t| t.captured()) {
            let cols: Vec<String> = crate::changes::columns(&self.conn, t)?
                .into_iter()
                .filter(|c| c != "hlc" && c != "device_id")
                .collect();
            let mut sql = format!(
                "SELECT {} FROM {}",
                cols.iter()
                    .map(|c| format!("quote(\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || '|' || "),
                t.qualified()
            );
            if let Sharing::SyncedKeys(keys, _) = t.sharing {
                sql.push_str(&format!(
                    " WHERE key IN ({})",
                    keys.iter()
                        .map(|k| format!("'{k}'"))
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            sql.push_str(&format!(" ORDER BY \"{}\"", t.key));
            f(Some(&t.qualified()), None);
            let mut stmt = self.conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let line: String = r.get(0)?;
                f(None, Some(&line));
            }
        }
        Ok(())
    }
}
