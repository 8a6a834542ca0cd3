//! Session notes and addenda.
//!
//! A note is written against a template (SOAP, DAP, BIRP or free text). While it is a
//! *draft* it can be edited or discarded; once *finalised* (signed) it is immutable — the
//! core refuses, and database triggers refuse even a direct UPDATE or DELETE. A correction
//! to a finalised note is an [`Addendum`]: dated, itself immutable, shown beneath the
//! original, which stays visible.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::clients::ClientCode;
use super::{check_text, require_client};
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::vault::{Vault, new_id};

const MAX_FIELD_CHARS: usize = 100_000;

/// The structure of a session note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteTemplate {
    /// Subjective, Objective, Assessment, Plan.
    Soap,
    /// Data, Assessment, Plan.
    Dap,
    /// Behaviour, Intervention, Response, Plan.
    Birp,
    /// One free-text field ("Narrative"; stored as `free`).
    Free,
    /// A brief session note as UK therapists write one: attendance, themes, interventions,
    /// risk and safeguarding, plan.
    Brief,
    /// A first assessment.
    Assessment,
    /// A contact between sessions (phone, email, message).
    Contact,
    /// The ending summary of a therapy.
    Ending,
}

impl NoteTemplate {
    /// The fields of this template, in the order they are written and shown.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            NoteTemplate::Soap => &["subjective", "objective", "assessment", "plan"],
            NoteTemplate::Dap => &["data", "assessment", "plan"],
            NoteTemplate::Birp => &["behaviour", "intervention", "response", "plan"],
            NoteTemplate::Free => &["text"],
            NoteTemplate::Brief => &["attendance", "themes", "interventions", "risk", "plan"],
            NoteTemplate::Assessment => &[
                "presenting",
                "history",
                "risk",
                "formulation",
                "goals",
                "plan",
            ],
            NoteTemplate::Contact => &["method", "summary", "action"],
            NoteTemplate::Ending => &["summary", "outcome", "risk", "recommendations"],
        }
    }

    /// Every template, in the order the editor offers them.
    pub const ALL: [NoteTemplate; 8] = [
        NoteTemplate::Brief,
        NoteTemplate::Soap,
        NoteTemplate::Dap,
        NoteTemplate::Birp,
        NoteTemplate::Free,
        NoteTemplate::Assessment,
        NoteTemplate::Contact,
        NoteTemplate::Ending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoteTemplate::Soap => "soap",
            NoteTemplate::Dap => "dap",
            NoteTemplate::Birp => "birp",
            NoteTemplate::Free => "free",
            NoteTemplate::Brief => "brief",
            NoteTemplate::Assessment => "assessment",
            NoteTemplate::Contact => "contact",
            NoteTemplate::Ending => "ending",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "soap" => Ok(Self::Soap),
            "dap" => Ok(Self::Dap),
            "birp" => Ok(Self::Birp),
            "free" | "text" | "narrative" => Ok(Self::Free),
            "brief" => Ok(Self::Brief),
            "assessment" => Ok(Self::Assessment),
            "contact" => Ok(Self::Contact),
            "ending" => Ok(Self::Ending),
            other => Err(CoreError::invalid(format!(
                "'{other}' is not a note template: use brief, soap, dap, birp, narrative (free), assessment, contact or ending"
            ))),
        }
    }

    /// Checks field names against the template (accepting `behavior` for `behaviour`).
    fn check(self, fields: &[(String, String)]) -> Result<Vec<(String, String)>> {
        let mut out = Vec::with_capacity(fields.len());
        for (k, v) in fields {
            let mut key = k.trim().to_ascii_lowercase();
            if key == "behavior" {
                key = "behaviour".into();
            }
            if !self.fields().contains(&key.as_str()) {
                return Err(CoreError::invalid(format!(
                    "'{k}' is not a field of a {} note: use {}",
                    self.as_str().to_uppercase(),
                    self.fields().join(", ")
                )));
            }
            if v.chars().count() > MAX_FIELD_CHARS || v.contains('\0') {
                return Err(CoreError::invalid(format!(
                    "the {key} field is too long or contains a NUL character"
                )));
            }
            out.push((key, v.clone()));
        }
        Ok(out)
    }
}

/// Draft or finalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteStatus {
    Draft,
    Final,
}

/// A correction or later addition to a finalised note; the original stays as it was.
#[derive(Clone, Debug, Serialize)]
pub struct Addendum {
    pub id: String,
    pub note_id: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// A clinical session note.
#[derive(Clone, Debug, Serialize)]
pub struct SessionNote {
    pub id: String,
    pub client_code: String,
    pub appointment_id: Option<String>,
    pub template: NoteTemplate,
    /// Field name → text, for the template's fields.
    pub fields: BTreeMap<String, String>,
    pub status: NoteStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finalised_at: Option<DateTime<Utc>>,
    /// What the note says about risk and safeguarding, if anything ([`super::risk`]).
    pub risk: Option<super::risk::NoteRisk>,
    pub addenda: Vec<Addendum>,
}

impl SessionNote {
    /// The fields in template order, with empty ones left out.
    pub fn ordered_fields(&self) -> Vec<(&'static str, &str)> {
        self.template
            .fields()
            .iter()
            .filter_map(|f| {
                self.fields
                    .get(*f)
                    .filter(|v| !v.is_empty())
                    .map(|v| (*f, v.as_str()))
            })
            .collect()
    }
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound {
        what: "note",
        id: id.to_string(),
        hint: "note list CODE",
    }
}

fn read_note(tx: &rusqlite::Connection, id: &str) -> Result<SessionNote> {
    let note = tx
        .query_row(
            "SELECT id, client_code, appointment_id, template, body, status, created_at, updated_at, finalised_at, risk
             FROM session_notes WHERE id = ?1 AND deleted = 0",
            [id],
            |r| {
                let template: String = r.get(3)?;
                let body: String = r.get(4)?;
                let status: String = r.get(5)?;
                Ok(SessionNote {
                    id: r.get(0)?,
                    client_code: r.get(1)?,
                    appointment_id: r.get(2)?,
                    template: NoteTemplate::parse(&template).unwrap_or(NoteTemplate::Free),
                    fields: serde_json::from_str(&body).unwrap_or_default(),
                    status: if status == "final" { NoteStatus::Final } else { NoteStatus::Draft },
                    created_at: r.get(6)?,
                    updated_at: r.get(7)?,
                    finalised_at: r.get(8)?,
                    risk: r
                        .get::<_, Option<String>>(9)?
                        .and_then(|x| super::risk::NoteRisk::parse(&x).ok().flatten()),
                    addenda: Vec::new(),
                })
            },
        )
        .optional()?
        .ok_or_else(|| not_found(id))?;
    let mut stmt = tx.prepare(
        "SELECT id, note_id, text, created_at FROM addenda WHERE note_id = ?1 AND deleted = 0 ORDER BY created_at, id",
    )?;
    let addenda = stmt
        .query_map([id], |r| {
            Ok(Addendum {
                id: r.get(0)?,
                note_id: r.get(1)?,
                text: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(SessionNote { addenda, ..note })
}

fn body_json(fields: &BTreeMap<String, String>) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".into())
}

impl Vault {
    /// Starts a draft note for a client.
    pub fn add_note(
        &mut self,
        code: &ClientCode,
        template: NoteTemplate,
        fields: &[(String, String)],
        appointment_id: Option<&str>,
    ) -> Result<SessionNote> {
        let fields = template.check(fields)?;
        if fields.iter().all(|(_, v)| v.trim().is_empty()) {
            return Err(CoreError::invalid(
                "the note is empty: give --text or at least one --field",
            ));
        }
        let body: BTreeMap<String, String> = fields.into_iter().collect();
        self.act(Action::NoteCreate, |cx| {
            require_client(cx.tx, code.as_str())?;
            if let Some(a) = appointment_id {
                let ok: bool = cx.tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM appointments WHERE id = ?1 AND client_code = ?2 AND deleted = 0)",
                    params![a, code.as_str()],
                    |r| r.get(0),
                )?;
                if !ok {
                    return Err(CoreError::NotFound {
                        what: "session for this client",
                        id: a.to_string(),
                        hint: "appointment list CODE",
                    });
                }
            }
            let id = new_id();
            let now = cx.now;
            let hlc = cx.stamp();
            cx.tx.execute(
                "INSERT INTO session_notes (id, client_code, appointment_id, template, body, status, created_at, updated_at, hlc, device_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'draft', ?6, ?6, ?7, ?8)",
                params![id, code.as_str(), appointment_id, template.as_str(), body_json(&body), now, hlc, cx.device_id],
            )?;
            cx.client(code.as_str());
            cx.object(&id);
            cx.detail(format!("template={}", template.as_str()));
            read_note(cx.tx, &id)
        })
    }

    /// Changes fields of a draft note (fields not given keep their text).
    pub fn edit_note(&mut self, id: &str, fields: &[(String, String)]) -> Result<SessionNote> {
        self.act(Action::NoteUpdate, |cx| {
            let note = read_note(cx.tx, id)?;
            if note.status == NoteStatus::Final {
                return Err(CoreError::NoteFinalised(id.to_string()));
            }
            let mut body = note.fields.clone();
            for (k, v) in note.template.check(fields)? {
                body.insert(k, v);
            }
            let hlc = cx.stamp();
            let now = cx.now;
            cx.tx.execute(
                "UPDATE session_notes SET body = ?2, updated_at = ?3, hlc = ?4, device_id = ?5 WHERE id = ?1",
                params![id, body_json(&body), now, hlc, cx.device_id],
            )?;
            cx.client(&note.client_code);
            cx.object(id);
            read_note(cx.tx, id)
        })
    }

    /// Signs a draft: from now on it cannot change.
    pub fn finalise_note(&mut self, id: &str) -> Result<SessionNote> {
        self.act(Action::NoteFinalise, |cx| {
            let note = read_note(cx.tx, id)?;
            if note.status == NoteStatus::Final {
                return Err(CoreError::Conflict(format!("note {id} is already finalised")));
            }
            if note.fields.values().all(|v| v.trim().is_empty()) {
                return Err(CoreError::invalid("an empty note cannot be finalised"));
            }
            // Edited on two computers before they synced: the therapist chooses first, so a
            // signed note never silently leaves out what was typed on the other one.
            let open_conflict: bool = cx.tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM main.sync_conflicts
                  WHERE tbl = 'session_notes' AND row_key = ?1 AND kind = 'draft' AND resolved_at IS NULL)",
                [id],
                |r| r.get(0),
            )?;
            if open_conflict {
                return Err(CoreError::Conflict(
                    "this note was also edited on another computer before they synced: choose which version to keep first (Settings → Computers, or `casebook sync conflicts`), then finalise".into(),
                ));
            }
            let hlc = cx.stamp();
            let now = cx.now;
            cx.tx.execute(
                "UPDATE session_notes SET status = 'final', finalised_at = ?2, updated_at = ?2, hlc = ?3, device_id = ?4 WHERE id = ?1",
                params![id, now, hlc, cx.device_id],
            )?;
            cx.client(&note.client_code);
            cx.object(id);
            read_note(cx.tx, id)
        })
    }

    /// Discards a draft note (a tombstone, so the deletion can sync). Finalised notes are kept.
    pub fn discard_note(&mut self, id: &str) -> Result<()> {
        self.act(Action::NoteDiscard, |cx| {
            let note = read_note(cx.tx, id)?;
            if note.status == NoteStatus::Final {
                return Err(CoreError::NoteFinalised(id.to_string()));
            }
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE session_notes SET deleted = 1, body = '{}', hlc = ?2, device_id = ?3 WHERE id = ?1",
                params![id, hlc, cx.device_id],
            )?;
            cx.client(&note.client_code);
            cx.object(id);
            Ok(())
        })
    }

    /// Adds an addendum to a finalised note.
    pub fn add_addendum(&mut self, note_id: &str, text: &str) -> Result<Addendum> {
        check_text("addendum", text, MAX_FIELD_CHARS)?;
        self.act(Action::NoteAddendum, |cx| {
            let note = read_note(cx.tx, note_id)?;
            if note.status == NoteStatus::Draft {
                return Err(CoreError::Conflict(format!(
                    "note {note_id} is still a draft: change it with `casebook note edit`, addenda are for finalised notes"
                )));
            }
            let id = new_id();
            let hlc = cx.stamp();
            let now = cx.now;
            cx.tx.execute(
                "INSERT INTO addenda (id, note_id, client_code, text, created_at, hlc, device_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, note_id, note.client_code, text, now, hlc, cx.device_id],
            )?;
            cx.client(&note.client_code);
            cx.object(&id);
            cx.detail(format!("note={note_id}"));
            Ok(Addendum { id, note_id: note_id.to_string(), text: text.to_string(), created_at: now })
        })
    }

    /// One note with its addenda. Audited as a read.
    pub fn note(&mut self, id: &str) -> Result<SessionNote> {
        self.act(Action::NoteRead, |cx| {
            let note = read_note(cx.tx, id)?;
            cx.client(&note.client_code);
            cx.object(id);
            Ok(note)
        })
    }

    /// A client's notes with their addenda, oldest first. Audited as a read of the client's notes.
    pub fn notes(&mut self, code: &ClientCode) -> Result<Vec<SessionNote>> {
        self.act(Action::NoteList, |cx| Self::notes_in(cx, code))
    }

    /// [`Self::notes`] inside another action (its audit target left filled in).
    pub(crate) fn notes_in(
        cx: &mut crate::vault::Ctx<'_>,
        code: &ClientCode,
    ) -> Result<Vec<SessionNote>> {
        require_client(cx.tx, code.as_str())?;
        cx.client(code.as_str());
        let mut stmt = cx.tx.prepare(
                "SELECT id FROM session_notes WHERE client_code = ?1 AND deleted = 0 ORDER BY created_at, id",
            )?;
        let ids = stmt
            .query_map([code.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let notes = ids
            .iter()
            .map(|id| read_note(cx.tx, id))
            .collect::<Result<Vec<_>>>()?;
        cx.detail(format!("count={}", notes.len()));
        Ok(notes)
    }
}
