//! Appointments (sessions): when the therapist sees a client, and what became of it —
//! attended, did not attend, cancelled (by the client in time, by the client late, or by the
//! therapist, with an optional short reason), moved (each move kept as history), deleted when
//! booked by mistake, or booked as a weekly series ([`super::series`]).

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::clients::ClientCode;
use super::require_client;
use super::series::{self, Repeat, SeriesEnd};
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::vault::{Vault, new_id};

/// What happened to a booked session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked, not yet happened.
    Scheduled,
    Attended,
    /// Cancelled by the client in good time (or by the booking calendar).
    Cancelled,
    /// Cancelled by the client too late (usually charged).
    CancelledLate,
    /// Cancelled by the therapist.
    CancelledByTherapist,
    /// The client did not come and did not cancel.
    DidNotAttend,
}

/// Who cancelled a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelledBy {
    Client,
    ClientLate,
    Therapist,
}

impl CancelledBy {
    fn as_str(self) -> &'static str {
        match self {
            CancelledBy::Client => "client",
            CancelledBy::ClientLate => "client_late",
            CancelledBy::Therapist => "therapist",
        }
    }
}

impl AppointmentStatus {
    /// The stored status and who cancelled.
    fn to_db(self) -> (&'static str, Option<CancelledBy>) {
        match self {
            AppointmentStatus::Scheduled => ("scheduled", None),
            AppointmentStatus::Attended => ("attended", None),
            AppointmentStatus::Cancelled => ("cancelled", Some(CancelledBy::Client)),
            AppointmentStatus::CancelledLate => ("cancelled", Some(CancelledBy::ClientLate)),
            AppointmentStatus::CancelledByTherapist => ("cancelled", Some(CancelledBy::Therapist)),
            AppointmentStatus::DidNotAttend => ("did_not_attend", None),
        }
    }

    /// The status word, as `--json` and the audit trail write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::Attended => "attended",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::CancelledLate => "cancelled_late",
            AppointmentStatus::CancelledByTherapist => "cancelled_by_therapist",
            AppointmentStatus::DidNotAttend => "did_not_attend",
        }
    }

    /// How the status reads to a person.
    pub fn label(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "booked",
            AppointmentStatus::Attended => "attended",
            AppointmentStatus::Cancelled => "cancelled by the client",
            AppointmentStatus::CancelledLate => "cancelled late by the client",
            AppointmentStatus::CancelledByTherapist => "cancelled by the therapist",
            AppointmentStatus::DidNotAttend => "did not attend",
        }
    }

    /// Whether the session was cancelled, by anyone.
    pub fn is_cancelled(self) -> bool {
        matches!(
            self,
            AppointmentStatus::Cancelled
                | AppointmentStatus::CancelledLate
                | AppointmentStatus::CancelledByTherapist
        )
    }

    /// Reads a status word (`attended`, `cancelled`, `cancelled-late`,
    /// `cancelled-by-therapist`, `dna` / `did-not-attend`, `scheduled` / `booked`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "scheduled" | "booked" => Ok(Self::Scheduled),
            "attended" => Ok(Self::Attended),
            "cancelled" | "canceled" => Ok(Self::Cancelled),
            "cancelled_late" | "late_cancellation" => Ok(Self::CancelledLate),
            "cancelled_by_therapist" => Ok(Self::CancelledByTherapist),
            "dna" | "did_not_attend" => Ok(Self::DidNotAttend),
            other => Err(CoreError::invalid(format!(
                "'{other}' is not a session status: use attended, dna, cancelled, cancelled-late or cancelled-by-therapist"
            ))),
        }
    }

    fn from_db(status: &str, by: Option<&str>) -> Self {
        match (status, by) {
            ("attended", _) => Self::Attended,
            ("did_not_attend", _) => Self::DidNotAttend,
            ("cancelled", Some("client_late")) => Self::CancelledLate,
            ("cancelled", Some("therapist")) => Self::CancelledByTherapist,
            ("cancelled", _) => Self::Cancelled,
            _ => Self::Scheduled,
        }
    }
}

/// One booked session with a client.
#[derive(Clone, Debug, Serialize)]
pub struct Appointment {
    pub id: String,
    pub client_code: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: AppointmentStatus,
    /// Why it was cancelled, when a reason was given (a few words, never clinical text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The series it belongs to, if booked as one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
}

/// One move of a session: where it was and where it went.
#[derive(Clone, Debug, Serialize)]
pub struct AppointmentMove {
    pub from_starts_at: DateTime<Utc>,
    pub to_starts_at: DateTime<Utc>,
    pub moved_at: DateTime<Utc>,
}

pub(super) fn read(tx: &rusqlite::Connection, id: &str) -> Result<Option<Appointment>> {
    Ok(tx
        .query_row(
            "SELECT id, client_code, starts_at, ends_at, status, cancelled_by, reason, series_id
             FROM appointments WHERE id = ?1 AND deleted = 0",
            [id],
            |r| {
                let status: String = r.get(4)?;
                let by: Option<String> = r.get(5)?;
                Ok(Appointment {
                    id: r.get(0)?,
                    client_code: r.get(1)?,
                    starts_at: r.get(2)?,
                    ends_at: r.get(3)?,
                    status: AppointmentStatus::from_db(&status, by.as_deref()),
                    reason: r.get(6)?,
                    series_id: r.get(7)?,
                })
            },
        )
        .optional()?)
}

fn found(tx: &rusqlite::Connection, id: &str) -> Result<Appointment> {
    read(tx, id)?.ok_or_else(|| CoreError::NotFound {
        what: "session",
        id: id.to_string(),
        hint: "appointment list CODE",
    })
}

/// The session `a` and, with `following`, the later sessions of its series still booked.
fn with_following(
    tx: &rusqlite::Connection,
    a: &Appointment,
    following: bool,
) -> Result<Vec<Appointment>> {
    let mut out = vec![a.clone()];
    if let (true, Some(series)) = (following, &a.series_id) {
        let mut stmt = tx.prepare(
            "SELECT id FROM appointments WHERE series_id = ?1 AND starts_at > ?2
               AND status = 'scheduled' AND deleted = 0 ORDER BY starts_at",
        )?;
        let ids = stmt
            .query_map(params![series, a.starts_at], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for id in ids {
            out.extend(read(tx, &id)?);
        }
    }
    Ok(out)
}

/// Keeps one move of a session as history (a row of `appointment_moves`), inside the
/// action's transaction: moves made here and those a calendar import brings.
pub(crate) fn record_move(
    cx: &mut crate::vault::Ctx<'_>,
    appointment_id: &str,
    client_code: &str,
    from: (DateTime<Utc>, DateTime<Utc>),
    to: (DateTime<Utc>, DateTime<Utc>),
) -> Result<()> {
    let hlc = cx.stamp();
    cx.tx.execute(
        "INSERT INTO appointment_moves
            (id, appointment_id, client_code, from_starts_at, from_ends_at, to_starts_at, to_ends_at, moved_at, hlc, device_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![new_id(), appointment_id, client_code, from.0, from.1, to.0, to.1, cx.now, hlc, cx.device_id],
    )?;
    Ok(())
}

/// A cancellation reason: a few words on one line.
fn checked_reason(reason: Option<&str>) -> Result<Option<String>> {
    let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if r.chars().count() > 200 || r.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "a reason is a few words on one line (at most 200 characters) — never clinical detail",
        ));
    }
    Ok(Some(r.to_string()))
}

fn checked_length(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<()> {
    if ends_at <= starts_at {
        return Err(CoreError::invalid("the session ends before it starts"));
    }
    if ends_at - starts_at > chrono::Duration::hours(12) {
        return Err(CoreError::invalid(
            "a session cannot be longer than 12 hours",
        ));
    }
    Ok(())
}

impl Vault {
    /// Books a session for a client.
    pub fn add_appointment(
        &mut self,
        code: &ClientCode,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<Appointment> {
        checked_length(starts_at, ends_at)?;
        self.act(Action::AppointmentCreate, |cx| {
            require_client(cx.tx, code.as_str())?;
            let id = new_id();
            let hlc = cx.stamp();
            cx.tx.execute(
                "INSERT INTO appointments (id, client_code, starts_at, ends_at, status, hlc, device_id)
                 VALUES (?1, ?2, ?3, ?4, 'scheduled', ?5, ?6)",
                params![id, code.as_str(), starts_at, ends_at, hlc, cx.device_id],
            )?;
            cx.client(code.as_str());
            cx.object(&id);
            found(cx.tx, &id)
        })
    }

    /// Books a series of sessions for a client: from the local date and time `first`, every
    /// `repeat`, until `end`, each `minutes` long at the same local time (in the computer's
    /// time zone). One audited action; returns the sessions, first first.
    pub fn add_series(
        &mut self,
        code: &ClientCode,
        first: NaiveDateTime,
        minutes: u32,
        repeat: Repeat,
        end: SeriesEnd,
    ) -> Result<Vec<Appointment>> {
        let times = series::sessions(&chrono::Local, first, minutes, repeat, end)?;
        self.act(Action::AppointmentSeriesCreate, |cx| {
            require_client(cx.tx, code.as_str())?;
            let series_id = new_id();
            let (count, until) = match end {
                SeriesEnd::Count(n) => (Some(n), None),
                SeriesEnd::Until(d) => (None, Some(d.to_string())),
            };
            let hlc = cx.stamp();
            cx.tx.execute(
                "INSERT INTO appointment_series
                    (id, client_code, every_weeks, first_local, minutes, count, until_local, created_at, hlc, device_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    series_id,
                    code.as_str(),
                    repeat.weeks(),
                    first.format("%Y-%m-%dT%H:%M").to_string(),
                    minutes,
                    count,
                    until,
                    Utc::now(),
                    hlc,
                    cx.device_id
                ],
            )?;
            let mut out = Vec::with_capacity(times.len());
            for (starts_at, ends_at) in &times {
                let id = new_id();
                let hlc = cx.stamp();
                cx.tx.execute(
                    "INSERT INTO appointments (id, client_code, starts_at, ends_at, status, series_id, hlc, device_id)
                     VALUES (?1, ?2, ?3, ?4, 'scheduled', ?5, ?6, ?7)",
                    params![id, code.as_str(), starts_at, ends_at, series_id, hlc, cx.device_id],
                )?;
                out.push(found(cx.tx, &id)?);
            }
            cx.client(code.as_str());
            cx.object(&series_id);
            cx.detail(format!("sessions={} every_weeks={}", out.len(), repeat.weeks()));
            Ok(out)
        })
    }

    /// A client's sessions, oldest first.
    pub fn appointments(&mut self, code: &ClientCode) -> Result<Vec<Appointment>> {
        self.act(Action::AppointmentList, |cx| {
            Self::appointments_in(cx, code)
        })
    }

    /// [`Self::appointments`] inside another action (its audit target left filled in).
    pub(crate) fn appointments_in(
        cx: &mut crate::vault::Ctx<'_>,
        code: &ClientCode,
    ) -> Result<Vec<Appointment>> {
        require_client(cx.tx, code.as_str())?;
        cx.client(code.as_str());
        let mut stmt = cx.tx.prepare(
            "SELECT id FROM appointments WHERE client_code = ?1 AND deleted = 0 ORDER BY starts_at",
        )?;
        let ids = stmt
            .query_map([code.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(read(cx.tx, &id)?);
        }
        cx.detail(format!("count={}", out.len()));
        Ok(out)
    }

    /// Records what became of a session: attended, did not attend, cancelled (any kind,
    /// without a reason: see [`Vault::cancel_appointment`]) or booked again.
    pub fn mark_appointment(&mut self, id: &str, status: AppointmentStatus) -> Result<Appointment> {
        self.act(Action::AppointmentMark, |cx| {
            let appt = found(cx.tx, id)?;
            let (word, by) = status.to_db();
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE appointments SET status = ?2, cancelled_by = ?3, reason = NULL, hlc = ?4, device_id = ?5
                 WHERE id = ?1",
                params![id, word, by.map(CancelledBy::as_str), hlc, cx.device_id],
            )?;
            cx.client(&appt.client_code);
            cx.object(id);
            cx.detail(format!("status={}", status.as_str()));
            found(cx.tx, id)
        })
    }

    /// Cancels a session — with `following`, also the later sessions of its series still
    /// booked — saying who cancelled and, if given, why (a few words). Only a booked session
    /// can be cancelled. One audited action; returns the sessions cancelled.
    pub fn cancel_appointment(
        &mut self,
        id: &str,
        by: CancelledBy,
        reason: Option<&str>,
        following: bool,
    ) -> Result<Vec<Appointment>> {
        let reason = checked_reason(reason)?;
        self.act(Action::AppointmentCancel, |cx| {
            let appt = found(cx.tx, id)?;
            if appt.status != AppointmentStatus::Scheduled {
                return Err(CoreError::Conflict(format!(
                    "this session is already {}: only a booked session can be cancelled",
                    appt.status.label()
                )));
            }
            let mut out = Vec::new();
            for a in with_following(cx.tx, &appt, following)? {
                let hlc = cx.stamp();
                cx.tx.execute(
                    "UPDATE appointments SET status = 'cancelled', cancelled_by = ?2, reason = ?3, hlc = ?4, device_id = ?5
                     WHERE id = ?1",
                    params![a.id, by.as_str(), reason, hlc, cx.device_id],
                )?;
                out.push(found(cx.tx, &a.id)?);
            }
            cx.client(&appt.client_code);
            cx.object(id);
            cx.detail(format!("by={} sessions={}", by.as_str(), out.len()));
            Ok(out)
        })
    }

    /// Moves a booked session to start at `starts_at` (its length kept) — with `following`,
    /// the later booked sessions of its series by as much, each keeping its local time of day
    /// across clock changes. Each move is kept as history. One audited action.
    pub fn move_appointment(
        &mut self,
        id: &str,
        starts_at: DateTime<Utc>,
        following: bool,
    ) -> Result<Vec<Appointment>> {
        self.act(Action::AppointmentMove, |cx| {
            let appt = found(cx.tx, id)?;
            if appt.status != AppointmentStatus::Scheduled {
                return Err(CoreError::Conflict(format!(
                    "this session is {}: only a booked session can be moved",
                    appt.status.label()
                )));
            }
            if starts_at == appt.starts_at {
                return Err(CoreError::invalid("the session already starts then"));
            }
            let mut out = Vec::new();
            for a in with_following(cx.tx, &appt, following)? {
                let to = if a.id == appt.id {
                    starts_at
                } else {
                    series::shifted(&chrono::Local, a.starts_at, appt.starts_at, starts_at)?
                };
                let to_end = to + (a.ends_at - a.starts_at);
                checked_length(to, to_end)?;
                let hlc = cx.stamp();
                cx.tx.execute(
                    "UPDATE appointments SET starts_at = ?2, ends_at = ?3, hlc = ?4, device_id = ?5 WHERE id = ?1",
                    params![a.id, to, to_end, hlc, cx.device_id],
                )?;
                record_move(cx, &a.id, &a.client_code, (a.starts_at, a.ends_at), (to, to_end))?;
                out.push(found(cx.tx, &a.id)?);
            }
            cx.client(&appt.client_code);
            cx.object(id);
            cx.detail(format!("sessions={}", out.len()));
            Ok(out)
        })
    }

    /// Where a session was before each move, oldest move first.
    pub fn appointment_moves(&mut self, id: &str) -> Result<Vec<AppointmentMove>> {
        self.act(Action::AppointmentList, |cx| {
            let appt = found(cx.tx, id)?;
            let mut stmt = cx.tx.prepare(
                "SELECT from_starts_at, to_starts_at, moved_at FROM appointment_moves
                 WHERE appointment_id = ?1 AND deleted = 0 ORDER BY moved_at, hlc",
            )?;
            let moves = stmt
                .query_map([id], |r| {
                    Ok(AppointmentMove {
                        from_starts_at: r.get(0)?,
                        to_starts_at: r.get(1)?,
                        moved_at: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            cx.client(&appt.client_code);
            cx.object(id);
            cx.detail(format!("moves={}", moves.len()));
            Ok(moves)
        })
    }

    /// Deletes a session booked by mistake. Refused once a note is linked to it (a session
    /// with a note happened: mark it instead). The deletion is a tombstone (it reaches the
    /// practice's other computers) and is audited.
    pub fn delete_appointment(&mut self, id: &str) -> Result<()> {
        self.act(Action::AppointmentDelete, |cx| {
            let appt = found(cx.tx, id)?;
            let notes: i64 = cx.tx.query_row(
                "SELECT COUNT(*) FROM session_notes WHERE appointment_id = ?1 AND deleted = 0",
                [id],
                |r| r.get(0),
            )?;
            if notes > 0 {
                return Err(CoreError::Conflict(
                    "this session has a note: it cannot be deleted (mark it attended, cancelled or did not attend instead)".into(),
                ));
            }
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE appointments SET deleted = 1, hlc = ?2, device_id = ?3 WHERE id = ?1",
                params![id, hlc, cx.device_id],
            )?;
            cx.client(&appt.client_code);
            cx.object(id);
            cx.detail(format!("status={}", appt.status.as_str()));
            Ok(())
        })
    }
}
