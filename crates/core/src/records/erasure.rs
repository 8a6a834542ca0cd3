//! Erasure that sticks: a client's identity row, every clinical row, their search entries
//! and appointments are deleted in one audited transaction, leaving only an *erasure
//! record* (code, time, reason — never a name), kept for good.
//!
//! The stores run with `secure_delete`, so freed pages and cells are overwritten, and the
//! full-text index with FTS5's `secure-delete` option, so a deleted row's terms leave the
//! index at once (by default FTS5 keeps them in older segments until a later merge). Finalised notes and addenda,
//! which triggers otherwise keep, may be deleted only while their client is listed in the
//! `erasing` table, inside this transaction.
//!
//! After every erasure (and every backup) the list of erasures is written beside the
//! backups as `erasures-<vault id>.age`, encrypted to the vault's backup key, so a restore of an older
//! backup can erase again whoever was erased after it ([`crate::backup::restore`]).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::require_client;
use super::retention::{read_policy, review_of};
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::records::clients::ClientCode;
use crate::vault::{Ctx, Vault, new_id};

/// Why a client's records were destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureKind {
    /// On request (the right to erasure) or another reason given by the therapist.
    Erasure,
    /// The retention period ended.
    Retention,
}

impl ErasureKind {
    fn as_str(self) -> &'static str {
        match self {
            ErasureKind::Erasure => "erasure",
            ErasureKind::Retention => "retention",
        }
    }
}

/// The proof that a client's records were destroyed at the end of retention: code, dates
/// and the policy applied. No name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestructionCertificate {
    pub client_code: String,
    pub opened_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub review_on: Option<NaiveDate>,
    pub basis: Option<String>,
    pub policy: String,
    pub destroyed_at: DateTime<Utc>,
}

/// What is left of an erased client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    pub id: String,
    pub client_code: String,
    pub erased_at: DateTime<Utc>,
    pub reason: String,
    pub kind: ErasureKind,
    pub certificate: Option<DestructionCertificate>,
}

/// Deletes everything about `code` in both stores (the caller has checked it may).
pub(crate) fn erase_rows(tx: &rusqlite::Transaction<'_>, code: &str) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO erasing (client_code) VALUES (?1)",
        [code],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO erased_calendar_keys (calendar_key)
         SELECT calendar_key FROM appointments WHERE client_code = ?1 AND calendar_key IS NOT NULL",
        [code],
    )?;
    // The session clock's runs of the client's booked sessions (times and an appointment id,
    // no code): they go too, while the appointments still say whose they were.
    tx.execute(
        "DELETE FROM session_runs WHERE appointment_id IN
           (SELECT id FROM appointments WHERE client_code = ?1)",
        [code],
    )?;
    // Every table the registry says goes with the client, children before parents (the
    // search index included: it runs with FTS5's secure-delete, schema v4, so the terms go
    // with the rows). Deletes are captured for sync by the tables' triggers.
    for table in crate::registry::erased_with_client() {
        let column = table.erased_by.unwrap_or("client_code");
        tx.execute(
            &format!("DELETE FROM {} WHERE {column} = ?1", table.qualified()),
            [code],
        )?;
    }
    tx.execute("DELETE FROM erasing WHERE client_code = ?1", [code])?;
    Ok(())
}

fn insert_record(cx: &mut Ctx<'_>, record: &ErasureRecord) -> Result<()> {
    let hlc = cx.stamp();
    let certificate = record
        .certificate
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| CoreError::Corrupt(e.to_string()))?;
    cx.tx.execute(
        "INSERT INTO erasure_records (id, client_code, erased_at, reason, kind, certificate, hlc, device_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            record.id,
            record.client_code,
            record.erased_at,
            record.reason,
            record.kind.as_str(),
            certificate,
            hlc,
            cx.device_id
        ],
    )?;
    Ok(())
}

pub(crate) fn read_records(tx: &rusqlite::Connection) -> Result<Vec<ErasureRecord>> {
    let mut stmt = tx.prepare(
        "SELECT id, client_code, erased_at, reason, kind, certificate FROM erasure_records ORDER BY erased_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        let kind: String = r.get(4)?;
        let cert: Option<String> = r.get(5)?;
        Ok(ErasureRecord {
            id: r.get(0)?,
            client_code: r.get(1)?,
            erased_at: r.get(2)?,
            reason: r.get(3)?,
            kind: if kind == "retention" {
                ErasureKind::Retention
            } else {
                ErasureKind::Erasure
            },
            certificate: cert.and_then(|c| serde_json::from_str(&c).ok()),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Vault {
    /// Erases a client (the right to erasure, or another reason the therapist gives).
    ///
    /// Refused while the client's records are inside their retention period unless
    /// `override_retention` is set — the reason then says why erasure comes first. The
    /// reason may not contain the client's name (it is kept for good).
    pub fn erase_client(
        &mut self,
        code: &ClientCode,
        reason: &str,
        override_retention: bool,
    ) -> Result<ErasureRecord> {
        super::check_text("reason", reason, 500)?;
        let record = self.act(Action::ClientErase, |cx| {
            require_client(cx.tx, code.as_str())?;
            check_reason_has_no_name(cx, code.as_str(), reason)?;
            super::retention::recompute(cx, code.as_str())?;
            let today = cx.now.with_timezone(&chrono::Local).date_naive();
            if let Some((review_on, _, _)) = review_of(cx.tx, code.as_str())?
                && review_on > today
                && !override_retention
            {
                return Err(CoreError::Conflict(format!(
                    "client {code}'s records are inside their retention period (review due {}): erasing them now needs an explicit decision — confirm with --override-retention and say why in --reason",
                    review_on.format("%d/%m/%Y")
                )));
            }
            let record = ErasureRecord {
                id: new_id(),
                client_code: code.as_str().to_string(),
                erased_at: cx.now,
                reason: reason.trim().to_string(),
                kind: ErasureKind::Erasure,
                certificate: None,
            };
            erase_rows(cx.tx, code.as_str())?;
            insert_record(cx, &record)?;
            cx.client(code.as_str());
            cx.object(&record.id);
            cx.detail(format!("kind=erasure override_retention={override_retention}"));
            Ok(record)
        })?;
        self.write_erasure_ledger();
        Ok(record)
    }

    /// Destroys a client's records at the end of their retention period, producing a
    /// destruction certificate. Refused before the review date.
    pub fn destroy_for_retention(&mut self, code: &ClientCode) -> Result<ErasureRecord> {
        let record = self.act(Action::ClientErase, |cx| {
            require_client(cx.tx, code.as_str())?;
            super::retention::recompute(cx, code.as_str())?;
            let today = cx.now.with_timezone(&chrono::Local).date_naive();
            let review = review_of(cx.tx, code.as_str())?;
            match &review {
                Some((d, _, _)) if *d <= today => {}
                Some((d, _, _)) => {
                    return Err(CoreError::Conflict(format!(
                        "client {code}'s retention period runs until {}: nothing was destroyed",
                        d.format("%d/%m/%Y")
                    )));
                }
                None => {
                    return Err(CoreError::Conflict(format!(
                        "client {code} has no retention review date yet (no sessions recorded): nothing was destroyed"
                    )));
                }
            }
            let (opened_on, ended_on): (Option<NaiveDate>, Option<NaiveDate>) = cx.tx.query_row(
                "SELECT opened_on, ended_on FROM clients WHERE code = ?1",
                [code.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let policy = read_policy(cx.tx)?;
            let certificate = DestructionCertificate {
                client_code: code.as_str().to_string(),
                opened_on,
                ended_on,
                review_on: review.as_ref().map(|r| r.0),
                basis: review.map(|r| r.1),
                policy: policy.name,
                destroyed_at: cx.now,
            };
            let record = ErasureRecord {
                id: new_id(),
                client_code: code.as_str().to_string(),
                erased_at: cx.now,
                reason: "retention period ended".into(),
                kind: ErasureKind::Retention,
                certificate: Some(certificate),
            };
            erase_rows(cx.tx, code.as_str())?;
            insert_record(cx, &record)?;
            cx.client(code.as_str());
            cx.object(&record.id);
            cx.detail("kind=retention");
            Ok(record)
        })?;
        self.write_erasure_ledger();
        Ok(record)
    }

    /// Every erasure record, oldest first.
    pub fn erasure_records(&mut self) -> Result<Vec<ErasureRecord>> {
        self.act(Action::ErasureList, |cx| {
            let list = read_records(cx.tx)?;
            cx.detail(format!("count={}", list.len()));
            Ok(list)
        })
    }

    /// Applies an erasure made elsewhere (a newer vault, before a restore): erases the
    /// client if still present and keeps the record. Returns whether anything was erased.
    pub fn apply_erasure(&mut self, record: &ErasureRecord) -> Result<bool> {
        self.act(Action::ClientErase, |cx| {
            let known: bool = cx.tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM erasure_records WHERE id = ?1)",
                [&record.id],
                |r| r.get(0),
            )?;
            let present: bool = cx.tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM clients WHERE code = ?1)",
                [&record.client_code],
                |r| r.get(0),
            )?;
            if present {
                erase_rows(cx.tx, &record.client_code)?;
            }
            if !known {
                insert_record(cx, record)?;
            }
            cx.client(&record.client_code);
            cx.object(&record.id);
            cx.detail(format!("kind={} reapplied=true", record.kind.as_str()));
            Ok(present)
        })
    }

    /// Writes the erasure list beside the backups (best effort: a backup drive may be
    /// unplugged; the next backup writes it again).
    pub(crate) fn write_erasure_ledger(&mut self) {
        let _ = crate::backup::ledger::write(self);
        self.offsite_erasure_made();
    }
}

/// Refuses a reason that names the client (erasure records are kept for good).
pub(crate) fn check_reason_has_no_name(cx: &Ctx<'_>, code: &str, reason: &str) -> Result<()> {
    // Every name the identity store knows for the client: the name, aliases, earlier names.
    let mut names: Vec<String> = Vec::new();
    if let Some(who) = crate::records::clients::identity_of(cx.tx, code)? {
        names.push(who.full_name);
        names.extend(who.aliases);
    }
    let earlier: Vec<String> = cx
        .tx
        .prepare(
            "SELECT old_value FROM identity.identity_history
             WHERE code = ?1 AND field = 'full_name' AND old_value IS NOT NULL",
        )?
        .query_map([code], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    names.extend(earlier);
    let reason_lc = reason.to_lowercase();
    let named = names
        .iter()
        .flat_map(|n| {
            n.split([' ', '-'])
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .filter(|p| p.chars().count() >= 3)
        .any(|part| reason_lc.contains(&part));
    if named {
        return Err(CoreError::invalid(
            "the reason is kept for good after the erasure, so it must not name the client: describe the reason without the name",
        ));
    }
    Ok(())
}
