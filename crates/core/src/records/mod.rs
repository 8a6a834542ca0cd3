//! The therapist's records, each as methods on [`crate::Vault`] that run as one audited
//! transaction: clients, appointments, session notes with addenda, process notes,
//! outcome measures, and the sessions of a day as the clock runs them.

pub mod access;
mod access_html;
pub mod appointments;
pub mod caseload;
pub mod clients;
pub mod erasure;
pub mod measures;
pub mod notes;
pub mod practice;
pub mod process_notes;
pub mod retention;
pub mod risk;
pub(crate) mod rows;
pub mod series;
pub mod sessions;
pub mod supervision;

use chrono::NaiveDate;

use crate::error::{CoreError, Result};

/// Fails with a "not found" error unless `code` is a client of this vault.
pub(crate) fn require_client(tx: &rusqlite::Connection, code: &str) -> Result<()> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM clients WHERE code = ?1 AND deleted = 0)",
        [code],
        |r| r.get(0),
    )?;
    if exists {
        Ok(())
    } else {
        Err(CoreError::NotFound {
            what: "client",
            id: code.to_string(),
            hint: "client list",
        })
    }
}

/// Parses a calendar date written YYYY-MM-DD (as the CLI takes it) or DD/MM/YYYY (UK).
pub fn parse_date(s: &str) -> Result<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| {
            CoreError::invalid(format!(
                "'{s}' is not a date: write it as YYYY-MM-DD, e.g. 2026-03-14"
            ))
        })
}

/// Rejects text that is empty or absurdly long.
pub(crate) fn check_text(what: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(CoreError::invalid(format!("the {what} is empty")));
    }
    if text.chars().count() > max {
        return Err(CoreError::invalid(format!(
            "the {what} is longer than {max} characters"
        )));
    }
    if text.contains('\0') {
        return Err(CoreError::invalid(format!(
            "the {what} contains a NUL character"
        )));
    }
    Ok(())
}
