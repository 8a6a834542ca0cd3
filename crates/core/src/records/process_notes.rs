//! Process notes: the therapist's private reflections on the work, kept apart from the
//! clinical record (their own table, not part of a session note) and excluded from a
//! subject-access export by default.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::clients::ClientCode;
use super::{check_text, require_client};
use crate::audit::Action;
use crate::error::Result;
use crate::vault::{Vault, new_id};

/// A private process note about a client.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessNote {
    pub id: String,
    pub client_code: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl Vault {
    /// Adds a process note for a client.
    pub fn add_process_note(&mut self, code: &ClientCode, text: &str) -> Result<ProcessNote> {
        check_text("process note", text, 100_000)?;
        self.act(Action::ProcessNoteCreate, |cx| {
            require_client(cx.tx, code.as_str())?;
            let id = new_id();
            let hlc = cx.stamp();
            let now = cx.now;
            cx.tx.execute(
                "INSERT INTO process_notes (id, client_code, text, created_at, hlc, device_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, code.as_str(), text, now, hlc, cx.device_id],
            )?;
            cx.client(code.as_str());
            cx.object(&id);
            Ok(ProcessNote { id, client_code: code.to_string(), text: text.to_string(), created_at: now })
        })
    }

    /// A client's process notes, oldest first. Audited as a read.
    pub fn process_notes(&mut self, code: &ClientCode) -> Result<Vec<ProcessNote>> {
        self.act(Action::ProcessNoteList, |cx| {
            Self::process_notes_in(cx, code)
        })
    }

    /// [`Self::process_notes`] inside another action (its audit target left filled in).
    pub(crate) fn process_notes_in(
        cx: &mut crate::vault::Ctx<'_>,
        code: &ClientCode,
    ) -> Result<Vec<ProcessNote>> {
        require_client(cx.tx, code.as_str())?;
        cx.client(code.as_str());
        let mut stmt = cx.tx.prepare(
            "SELECT id, client_code, text, created_at FROM process_notes
                 WHERE client_code = ?1 AND deleted = 0 ORDER BY created_at, id",
        )?;
        let list = stmt
            .query_map([code.as_str()], |r| {
                Ok(ProcessNote {
                    id: r.get(0)?,
                    client_code: r.get(1)?,
                    text: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        cx.detail(format!("count={}", list.len()));
        Ok(list)
    }
}
