//! A therapist's day: the sessions booked between two times (with names, for the Today
//! screen), and starting and ending a session on the clock, which records attendance.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::appointments::{Appointment, read};
use crate::audit::Action;
use crate::clock::{Running, Slot};
use crate::error::{CoreError, Result};
use crate::vault::Vault;

/// A booked session on a day list, with the client's name from the identity store.
#[derive(Clone, Debug, Serialize)]
pub struct DayAppointment {
    #[serde(flatten)]
    pub appointment: Appointment,
    pub client_name: Option<String>,
}

impl DayAppointment {
    /// The times the session clock may know (no code, no name).
    pub fn slot(&self) -> Slot {
        Slot {
            appointment_id: self.appointment.id.clone(),
            starts_at: self.appointment.starts_at,
            ends_at: self.appointment.ends_at,
        }
    }
}

impl Vault {
    /// Every session starting in `[from, to)`, earliest first, cancelled ones included.
    pub fn schedule(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DayAppointment>> {
        if to <= from {
            return Err(CoreError::invalid(
                "the end of the period is before its start",
            ));
        }
        self.act(Action::AppointmentList, |cx| {
            let mut stmt = cx.tx.prepare(
                "SELECT a.id FROM appointments a JOIN clients c ON c.code = a.client_code AND c.deleted = 0
                 WHERE a.deleted = 0 AND a.starts_at >= ?1 AND a.starts_at < ?2 ORDER BY a.starts_at",
            )?;
            let ids = stmt
                .query_map(params![from, to], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(appointment) = read(cx.tx, &id)? {
                    let client_name = Vault::names_for(cx.tx, &appointment.client_code)?;
                    out.push(DayAppointment { appointment, client_name });
                }
            }
            cx.detail(format!("count={}", out.len()));
            Ok(out)
        })
    }

    /// Records that a session is starting on the clock: a booked one is marked attended;
    /// an ad-hoc one (no appointment) is only audited.
    pub fn start_session(
        &mut self,
        appointment_id: Option<&str>,
        minutes: u32,
    ) -> Result<Option<Appointment>> {
        self.act(Action::SessionStart, |cx| {
            let Some(id) = appointment_id else {
                cx.detail(format!("ad_hoc minutes={minutes}"));
                return Ok(None);
            };
            let appt = read(cx.tx, id)?.ok_or_else(|| CoreError::NotFound {
                what: "session",
                id: id.to_string(),
                hint: "appointment list CODE",
            })?;
            if appt.status.is_cancelled() {
                return Err(CoreError::Conflict("this session was cancelled: it cannot be started".into()));
            }
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE appointments SET status = 'attended', hlc = ?2, device_id = ?3 WHERE id = ?1",
                params![id, hlc, cx.device_id],
            )?;
            cx.client(&appt.client_code);
            cx.object(id);
            cx.detail("status=attended");
            read(cx.tx, id)
        })
    }

    /// Records that a timed session ended: how long it ran and by how much it overran.
    pub fn end_session(&mut self, ran: &Running, ended_at: DateTime<Utc>) -> Result<()> {
        let minutes = (ended_at - ran.started_at).num_minutes().max(0);
        let overrun = (ended_at - ran.ends_at).num_minutes().max(0);
        self.act(Action::SessionEnd, |cx| {
            if let Some(id) = &ran.appointment_id
                && let Some(appt) = read(cx.tx, id)?
            {
                cx.client(&appt.client_code);
                cx.object(id);
            }
            cx.detail(format!("minutes={minutes} overrun={overrun}"));
            Ok(())
        })
    }
}
