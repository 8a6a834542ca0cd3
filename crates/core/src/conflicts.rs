//! Resolving what a merge kept aside (`sync_conflicts`): the therapist keeps the value the
//! record holds, or takes the other computer's instead. Taking the other one is an ordinary
//! local edit — stamped, captured and sent to the practice's other computers like any other —
//! and for a client's identity details the replaced value goes into the history of
//! corrections, as `client edit` does. Either way the conflict is marked resolved, audited
//! (which conflict and which way; never the values).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::registry;
use crate::vault::Vault;

/// Which version of a conflicting value the therapist keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The value the record holds now (the merge's winner).
    Current,
    /// The other computer's value, which lost the merge.
    Other,
}

/// What resolving did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub id: String,
    pub kept: Resolution,
    pub table: String,
    pub row: String,
    pub field: String,
}

/// A conflict as stored: table, row, field, kind, the lost value, when resolved.
type ConflictRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

impl Vault {
    /// Resolves the conflict `id` (as `sync conflicts` lists it). Taking the other value works
    /// for a field edited on two computers and for a draft note edited on both (while it is
    /// still a draft); the other kinds are already kept where nothing is lost (an edit after
    /// finalisation is in the conflict itself, to copy into an addendum) and can only be
    /// acknowledged. Audited.
    pub fn resolve_conflict(&mut self, id: &str, keep: Resolution) -> Result<Resolved> {
        self.act(Action::SyncResolve, |cx| {
            let row: Option<ConflictRow> = cx
                .tx
                .query_row(
                    "SELECT tbl, row_key, field, kind, lost, resolved_at FROM main.sync_conflicts WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()?;
            let Some((table, key, field, kind, lost, resolved_at)) = row else {
                return Err(CoreError::NotFound {
                    what: "conflict",
                    id: id.to_string(),
                    hint: "sync conflicts",
                });
            };
            if resolved_at.is_some() {
                return Err(CoreError::Conflict(format!("conflict {id} is already resolved")));
            }
            if keep == Resolution::Other {
                if !matches!(kind.as_str(), "field" | "draft") {
                    return Err(CoreError::invalid(format!(
                        "a conflict of kind {kind} can only be acknowledged (--keep current): the other computer's text is kept in it"
                    )));
                }
                let t = registry::TABLES
                    .iter()
                    .find(|t| t.name == table && t.captured())
                    .ok_or_else(|| CoreError::Corrupt(format!("a conflict names table {table}, which does not sync")))?;
                let columns = crate::changes::columns(cx.tx, t)?;
                if !columns.contains(&field) || field == t.key || field == "hlc" || field == "device_id" {
                    return Err(CoreError::Corrupt(format!("a conflict names a field {table} does not have")));
                }
                let value: Value = match &lost {
                    Some(text) => serde_json::from_str(text)
                        .map_err(|_| CoreError::Corrupt("a conflict's kept value is not valid".into()))?,
                    None => Value::Null,
                };
                let sql_value = crate::merge::to_sql(&value)?;
                if t.name == "session_notes" {
                    let status: Option<String> = cx
                        .tx
                        .query_row("SELECT status FROM main.session_notes WHERE id = ?1", [&key], |r| r.get(0))
                        .optional()?;
                    if status.as_deref() != Some("draft") {
                        return Err(CoreError::Conflict(
                            "the note is no longer a draft: copy the other version into an addendum instead".into(),
                        ));
                    }
                }
                if t.name == "client_identity" {
                    // A correction like any other: what the detail said goes into its history.
                    let before: Option<String> = cx.tx.query_row(
                        &format!("SELECT CAST(\"{field}\" AS TEXT) FROM identity.client_identity WHERE code = ?1"),
                        [&key],
                        |r| r.get(0),
                    ).optional()?.flatten();
                    let after = match &value {
                        Value::String(s) => Some(s.clone()),
                        Value::Null => None,
                        other => Some(other.to_string()),
                    };
                    let hlc = cx.stamp();
                    cx.tx.execute(
                        "INSERT INTO identity.identity_history (id, n, code, changed_at, field, old_value, new_value, reason, hlc, device_id)
                         VALUES (?1, (SELECT coalesce(max(n), 0) + 1 FROM identity.identity_history), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![crate::vault::new_id(), key, crate::vault::timestamp(cx.now), field, before, after,
                                "chosen between two computers' versions", hlc, cx.device_id],
                    )?;
                }
                let hlc = cx.stamp();
                let changed = cx.tx.execute(
                    &format!(
                        "UPDATE {} SET \"{field}\" = ?1, hlc = ?2, device_id = ?3 WHERE \"{}\" = ?4",
                        t.qualified(),
                        t.key
                    ),
                    params![sql_value, hlc, cx.device_id, key],
                )?;
                if changed == 0 {
                    return Err(CoreError::Conflict(format!("the {table} row this conflict is about is gone")));
                }
            }
            cx.tx.execute(
                "UPDATE main.sync_conflicts SET resolved_at = ?2 WHERE id = ?1",
                params![id, crate::vault::timestamp(cx.now)],
            )?;
            cx.detail(format!(
                "conflict={id} table={table} field={field} kept={}",
                if keep == Resolution::Current { "current" } else { "other" }
            ));
            Ok(Resolved { id: id.to_string(), kept: keep, table, row: key, field })
        })
    }
}
