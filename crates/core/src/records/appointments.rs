//! Appointments (sessions): when the therapist sees a client, and whether they came.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::clients::ClientCode;
use super::require_client;
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
    Cancelled,
    /// The client did not come and did not cancel.
    DidNotAttend,
}

impl AppointmentStatus {
    fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::Attended => "attended",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::DidNotAttend => "did_not_attend",
        }
    }

    /// How the status reads to a person.
    pub fn label(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::Attended => "attended",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::DidNotAttend => "did not attend",
        }
    }

    /// Reads a status word (`attended`, `cancelled`, `dna` / `did-not-attend`, `scheduled`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "scheduled" => Ok(Self::Scheduled),
            "attended" => Ok(Self::Attended),
            "cancelled" | "canceled" => Ok(Self::Cancelled),
            "dna" | "did_not_attend" => Ok(Self::DidNotAttend),
            other => Err(CoreError::invalid(format!(
                "'{other}' is not a session status: use attended, cancelled or dna"
            ))),
        }
    }

    fn from_db(s: &str) -> Self {
        Self::parse(s).unwrap_or(Self::Scheduled)
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
}

pub(super) fn read(tx: &rusqlite::Connection, id: &str) -> Result<Option<Appointment>> {
    Ok(tx
        .query_row(
            "SELECT id, client_code, starts_at, ends_at, status FROM appointments WHERE id = ?1 AND deleted = 0",
            [id],
            |r| {
                let status: String = r.get(4)?;
                Ok(Appointment {
                    id: r.get(0)?,
                    client_code: r.get(1)?,
                    starts_at: r.get(2)?,
                    ends_at: r.get(3)?,
                    status: AppointmentStatus::from_db(&status),
                })
            },
        )
        .optional()?)
}

impl Vault {
    /// Books a session for a client.
    pub fn add_appointment(
        &mut self,
        code: &ClientCode,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<Appointment> {
        if ends_at <= starts_at {
            return Err(CoreError::invalid("the session ends before it starts"));
        }
        if ends_at - starts_at > chrono::Duration::hours(12) {
            return Err(CoreError::invalid(
                "a session cannot be longer than 12 hours",
            ));
        }
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
            read(cx.tx, &id)?.ok_or_else(|| CoreError::Corrupt("appointment vanished".into()))
        })
    }

    /// A client's sessions, oldest first.
    pub fn appointments(&mut self, code: &ClientCode) -> Result<Vec<Appointment>> {
        self.act(Action::AppointmentList, |cx| {
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
        })
    }

    /// Records whether a session was attended, cancelled or missed.
    pub fn mark_appointment(&mut self, id: &str, status: AppointmentStatus) -> Result<Appointment> {
        self.act(Action::AppointmentMark, |cx| {
            let appt = read(cx.tx, id)?.ok_or_else(|| CoreError::NotFound {
                what: "session",
                id: id.to_string(),
                hint: "appointment list CODE",
            })?;
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE appointments SET status = ?2, hlc = ?3, device_id = ?4 WHERE id = ?1",
                params![id, status.as_str(), hlc, cx.device_id],
            )?;
            cx.client(&appt.client_code);
            cx.object(id);
            cx.detail(format!("status={}", status.as_str()));
            read(cx.tx, id)?.ok_or_else(|| CoreError::Corrupt("appointment vanished".into()))
        })
    }
}
