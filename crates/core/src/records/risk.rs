//! The risk and safeguarding flag: a note may say "risk or safeguarding concern" (flagged) or
//! "reviewed: no current concern" (cleared), and a client carries the flag from the note
//! that raised it until a later note clears it. The client header, Today, the week and the
//! client list show the flag from [`current`]; the flag itself holds no text (what the
//! concern is belongs in the note).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::vault::Vault;

/// What a note says about risk (nothing, when it says nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteRisk {
    /// A risk or safeguarding concern: the client is flagged from this note on.
    Flagged,
    /// Reviewed, no current concern: ends an earlier flag.
    Cleared,
}

impl NoteRisk {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flagged => "flagged",
            Self::Cleared => "cleared",
        }
    }

    /// `flagged`, `cleared`; `none` (or an empty word) is no risk statement.
    pub fn parse(s: &str) -> Result<Option<Self>> {
        match s.trim().to_ascii_lowercase().as_str() {
            "flagged" | "flag" => Ok(Some(Self::Flagged)),
            "cleared" | "clear" => Ok(Some(Self::Cleared)),
            "none" | "" => Ok(None),
            other => Err(CoreError::invalid(format!(
                "'{other}' is not a risk statement: use flagged, cleared or none"
            ))),
        }
    }
}

/// A client's current flag: the note that raised it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskFlag {
    pub note_id: String,
    /// When that note was written.
    pub since: DateTime<Utc>,
    /// The session that note is about, if any.
    pub session_at: Option<DateTime<Utc>>,
}

/// The client's flag as it stands: the latest note (by when it was written) that says
/// anything about risk, if it raised a concern; a draft counts (a concern is live before
/// the note is signed).
pub(crate) fn current(tx: &rusqlite::Connection, code: &str) -> Result<Option<RiskFlag>> {
    let latest = tx
        .query_row(
            "SELECT n.id, n.risk, n.created_at, a.starts_at FROM session_notes n
               LEFT JOIN appointments a ON a.id = n.appointment_id
             WHERE n.client_code = ?1 AND n.risk IS NOT NULL AND n.deleted = 0
             ORDER BY n.created_at DESC, n.id DESC LIMIT 1",
            [code],
            |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    RiskFlag {
                        note_id: r.get(0)?,
                        since: r.get(2)?,
                        session_at: r.get(3)?,
                    },
                ))
            },
        )
        .optional()?;
    Ok(latest.and_then(|(risk, flag)| (risk == "flagged").then_some(flag)))
}

impl Vault {
    /// Sets what a draft note says about risk (`None`: nothing). A finalised note keeps what
    /// it said; a later note flags or clears.
    pub fn set_note_risk(&mut self, id: &str, risk: Option<NoteRisk>) -> Result<()> {
        self.act(Action::NoteUpdate, |cx| {
            let found: Option<(String, String)> = cx
                .tx
                .query_row(
                    "SELECT client_code, status FROM session_notes WHERE id = ?1 AND deleted = 0",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((code, status)) = found else {
                return Err(CoreError::NotFound {
                    what: "note",
                    id: id.to_string(),
                    hint: "note list CODE",
                });
            };
            if status == "final" {
                return Err(CoreError::NoteFinalised(id.to_string()));
            }
            let hlc = cx.stamp();
            let now = cx.now;
            cx.tx.execute(
                "UPDATE session_notes SET risk = ?2, updated_at = ?3, hlc = ?4, device_id = ?5 WHERE id = ?1",
                params![id, risk.map(NoteRisk::as_str), now, hlc, cx.device_id],
            )?;
            cx.client(&code);
            cx.object(id);
            cx.detail(format!("risk={}", risk.map_or("none", NoteRisk::as_str)));
            Ok(())
        })
    }

    /// The client's current risk or safeguarding flag, if any (see [`current`]).
    pub fn risk_flag(&mut self, code: &super::clients::ClientCode) -> Result<Option<RiskFlag>> {
        self.act(Action::NoteList, |cx| Self::risk_flag_in(cx, code))
    }

    /// [`Self::risk_flag`] inside another action (its audit target left filled in).
    pub(crate) fn risk_flag_in(
        cx: &mut crate::vault::Ctx<'_>,
        code: &super::clients::ClientCode,
    ) -> Result<Option<RiskFlag>> {
        cx.client(code.as_str());
        let flag = current(cx.tx, code.as_str())?;
        cx.detail(format!(
            "risk={}",
            if flag.is_some() { "flagged" } else { "none" }
        ));
        Ok(flag)
    }
}
