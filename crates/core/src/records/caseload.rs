//! The caseload: every client with where they are in therapy — the next session booked, the
//! last one attended, how many sessions they have attended, and how many of their notes are
//! still to finish (drafts, and attended sessions with no note). The client list shows it.
//! One query, counts and times only (no note text).

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::clients::{ClientSummary, summary_row};
use crate::audit::Action;
use crate::error::Result;
use crate::vault::Vault;

/// A client in the caseload list.
#[derive(Clone, Debug, Serialize)]
pub struct CaseloadEntry {
    #[serde(flatten)]
    pub client: ClientSummary,
    /// The start of the next booked session that has not ended yet.
    pub next_session: Option<DateTime<Utc>>,
    /// The start of the latest attended session.
    pub last_seen: Option<DateTime<Utc>>,
    /// Sessions attended.
    pub attended: u32,
    /// Drafts, and attended sessions with no note.
    pub notes_to_finish: u32,
    /// The client's risk or safeguarding flag, if one stands.
    pub risk: Option<super::risk::RiskFlag>,
}

impl Vault {
    /// The caseload as of `now`, ordered by name (closed clients too with `include_closed`).
    pub fn caseload(
        &mut self,
        include_closed: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseloadEntry>> {
        self.act(Action::ClientList, |cx| {
            let mut stmt = cx.tx.prepare(
                "SELECT c.code, c.status, i.full_name, c.ended_on,
                    (SELECT MIN(a.starts_at) FROM appointments a
                      WHERE a.client_code = c.code AND a.deleted = 0 AND a.status = 'scheduled' AND a.ends_at > ?2),
                    (SELECT MAX(a.starts_at) FROM appointments a
                      WHERE a.client_code = c.code AND a.deleted = 0 AND a.status = 'attended'),
                    (SELECT COUNT(*) FROM appointments a
                      WHERE a.client_code = c.code AND a.deleted = 0 AND a.status = 'attended'),
                    (SELECT COUNT(*) FROM session_notes n
                      WHERE n.client_code = c.code AND n.deleted = 0 AND n.status = 'draft')
                    + (SELECT COUNT(*) FROM appointments a
                      WHERE a.client_code = c.code AND a.deleted = 0 AND a.status = 'attended'
                        AND NOT EXISTS (SELECT 1 FROM session_notes n
                                        WHERE n.appointment_id = a.id AND n.deleted = 0))
                 FROM clients c
                 LEFT JOIN identity.client_identity i ON i.code = c.code AND i.deleted = 0
                 WHERE c.deleted = 0 AND (?1 OR c.status = 'active')
                 ORDER BY i.full_name COLLATE NOCASE, c.code",
            )?;
            let rows = stmt.query_map(params![include_closed, now], |r| {
                Ok(CaseloadEntry {
                    client: summary_row(r)?,
                    next_session: r.get(4)?,
                    last_seen: r.get(5)?,
                    attended: r.get(6)?,
                    notes_to_finish: r.get(7)?,
                    risk: None,
                })
            })?;
            let mut list = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            for entry in &mut list {
                entry.risk = super::risk::current(cx.tx, entry.client.code.as_str())?;
            }
            cx.detail(format!("count={} caseload", list.len()));
            Ok(list)
        })
    }
}
