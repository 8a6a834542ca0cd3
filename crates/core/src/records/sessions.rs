//! A therapist's day: the sessions booked between two times (with names, for the Today
//! screen), starting and ending a session on the clock (which records attendance; a walk-in
//! is booked as it starts), and what is left to do: sessions still marked booked after they
//! ended, and notes to finish (drafts, and attended sessions with no note).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::appointments::{Appointment, read};
use crate::audit::Action;
use crate::clock::{Running, Slot};
use crate::error::{CoreError, Result};
use crate::vault::{Vault, new_id};

/// A booked session on a day list, with the client's name from the identity store.
#[derive(Clone, Debug, Serialize)]
pub struct DayAppointment {
    #[serde(flatten)]
    pub appointment: Appointment,
    pub client_name: Option<String>,
    /// The client's risk or safeguarding flag, if one stands.
    pub risk: Option<super::risk::RiskFlag>,
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

/// A note still to finish, for "Notes to finish" on Today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToFinish {
    /// A draft note not yet finalised (the session it is about, if any).
    Draft {
        note_id: String,
        client_code: String,
        appointment_id: Option<String>,
        created_at: DateTime<Utc>,
    },
    /// An attended session with no note at all.
    NoNote {
        appointment_id: String,
        client_code: String,
        starts_at: DateTime<Utc>,
    },
}

/// The sessions `ids`, each with its client's name from the identity store.
fn with_names(tx: &rusqlite::Connection, ids: Vec<String>) -> Result<Vec<DayAppointment>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(appointment) = read(tx, &id)? {
            let client_name = Vault::names_for(tx, &appointment.client_code)?;
            let risk = super::risk::current(tx, &appointment.client_code)?;
            out.push(DayAppointment {
                appointment,
                client_name,
                risk,
            });
        }
    }
    Ok(out)
}

/// How long after its start a session still shows as running on another computer (one
/// started and never ended — a computer switched off mid-session — stops showing then).
pub const SHARED_HOURS: i64 = 12;

/// A session running on another computer of the practice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedSession {
    /// The run's id (to end it from here).
    pub run: String,
    pub appointment_id: Option<String>,
    /// The id the computer that started it writes its records under.
    pub started_on: String,
    /// Started on this computer.
    pub this_computer: bool,
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Shares a session starting on this computer's clock with the practice's other computers
/// (in the start's transaction): a run of this computer left open (the app stopped
/// mid-session) is closed first.
fn share_start(
    cx: &mut crate::vault::Ctx<'_>,
    appointment_id: Option<&str>,
    started_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<()> {
    let hlc = cx.stamp();
    cx.tx.execute(
        "UPDATE session_runs SET ended_at = ?1, hlc = ?2, device_id = ?3
         WHERE started_on = ?3 AND ended_at IS NULL AND deleted = 0",
        params![started_at, hlc, cx.device_id],
    )?;
    let hlc = cx.stamp();
    cx.tx.execute(
        "INSERT INTO session_runs (id, appointment_id, started_on, started_at, ends_at, hlc, device_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3)",
        params![new_id(), appointment_id, cx.device_id, started_at, ends_at, hlc],
    )?;
    Ok(())
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
            let out = with_names(cx.tx, ids)?;
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
        self.start_session_at(appointment_id, minutes, None)
    }

    /// [`Vault::start_session`] for a start made at `started_at` and recorded only now (the
    /// session clock kept it while the records were locked, busy or catching up): the shared
    /// run starts, and an ad-hoc one ends, when the therapist pressed Start, not when it was
    /// written. `None`, or a time after now: now.
    pub fn start_session_at(
        &mut self,
        appointment_id: Option<&str>,
        minutes: u32,
        started_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Appointment>> {
        self.act(Action::SessionStart, |cx| {
            let started = started_at.map_or(cx.now, |t| t.min(cx.now));
            let Some(id) = appointment_id else {
                cx.detail(format!("ad_hoc minutes={minutes}"));
                let ends_at = started + chrono::Duration::minutes(i64::from(minutes));
                share_start(cx, None, started, ends_at)?;
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
            share_start(cx, Some(id), started, appt.ends_at)?;
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
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE session_runs SET ended_at = ?1, hlc = ?2, device_id = ?3
                 WHERE started_on = ?3 AND ended_at IS NULL AND deleted = 0",
                params![ended_at, hlc, cx.device_id],
            )?;
            Ok(())
        })
    }

    /// The session running on this computer's clock was given more time (+5 min from the
    /// tray or the strip): its shared run's planned end moves to `ends_at`, so the
    /// practice's other computers show the new end. Audited (the new end, never who); a
    /// session not shared (none running here) changes nothing and says so.
    pub fn extend_session(&mut self, ends_at: DateTime<Utc>) -> Result<()> {
        self.act(Action::SessionExtend, |cx| {
            let running: Option<(String, DateTime<Utc>, DateTime<Utc>)> = cx
                .tx
                .query_row(
                    "SELECT id, started_at, ends_at FROM session_runs
                     WHERE started_on = ?1 AND ended_at IS NULL AND deleted = 0
                     ORDER BY started_at DESC LIMIT 1",
                    [&cx.device_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((id, started_at, was)) = running else {
                return Err(CoreError::Conflict(
                    "no session is running on this computer".into(),
                ));
            };
            if ends_at <= started_at {
                return Err(CoreError::invalid("a session cannot end before it starts"));
            }
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE session_runs SET ends_at = ?2, hlc = ?3, device_id = ?4 WHERE id = ?1",
                params![id, ends_at, hlc, cx.device_id],
            )?;
            // How much more time (never who): the audit log reads "5 min".
            cx.detail(format!("minutes={}", (ends_at - was).num_minutes()));
            Ok(())
        })
    }

    /// The sessions running on the practice's computers (started on a clock, not yet ended
    /// anywhere) that started in the last [`SHARED_HOURS`] hours, newest first. Times and an
    /// appointment id only; not audited (the clock's own display).
    pub fn sessions_running(&self) -> Result<Vec<SharedSession>> {
        let since = Utc::now() - chrono::Duration::hours(SHARED_HOURS);
        let me = self.meta.device_id.clone();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, appointment_id, started_on, started_at, ends_at FROM session_runs
             WHERE ended_at IS NULL AND deleted = 0 AND started_at >= ?1
             ORDER BY started_at DESC",
        )?;
        let rows = stmt
            .query_map(params![since], |r| {
                let started_on: String = r.get(2)?;
                Ok(SharedSession {
                    run: r.get(0)?,
                    appointment_id: r.get(1)?,
                    this_computer: started_on == me,
                    started_on,
                    started_at: r.get(3)?,
                    ends_at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The newest session running on another computer of the practice, if any.
    pub fn session_elsewhere(&self) -> Result<Option<SharedSession>> {
        Ok(self
            .sessions_running()?
            .into_iter()
            .find(|s| !s.this_computer))
    }

    /// Ends the running session `run` from this computer — usually one running on another
    /// computer (audited as a session end; that computer's clock stops when the change
    /// reaches it).
    pub fn end_shared_session(&mut self, run: &str, ended_at: DateTime<Utc>) -> Result<()> {
        let run = run.to_string();
        self.act(Action::SessionEnd, |cx| {
            let found: Option<(Option<String>, DateTime<Utc>, DateTime<Utc>)> = cx
                .tx
                .query_row(
                    "SELECT appointment_id, started_at, ends_at FROM session_runs
                     WHERE id = ?1 AND ended_at IS NULL AND deleted = 0",
                    params![run],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((appointment_id, started_at, ends_at)) = found else {
                return Err(CoreError::Conflict("that session has already ended".into()));
            };
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE session_runs SET ended_at = ?2, hlc = ?3, device_id = ?4 WHERE id = ?1",
                params![run, ended_at, hlc, cx.device_id],
            )?;
            if let Some(id) = &appointment_id
                && let Some(appt) = read(cx.tx, id)?
            {
                cx.client(&appt.client_code);
                cx.object(id);
            }
            let minutes = (ended_at - started_at).num_minutes().max(0);
            let overrun = (ended_at - ends_at).num_minutes().max(0);
            cx.detail(format!("minutes={minutes} overrun={overrun} elsewhere"));
            Ok(())
        })
    }

    /// When the session this computer started at `started_at` (give or take a minute) was
    /// ended on another computer: the time it ended, and the computer that ended it. `None`
    /// while it runs, or when this computer ended it.
    pub fn own_session_ended_elsewhere(
        &self,
        started_at: DateTime<Utc>,
    ) -> Result<Option<(DateTime<Utc>, String)>> {
        let from = started_at - chrono::Duration::minutes(1);
        let to = started_at + chrono::Duration::minutes(1);
        Ok(self
            .conn
            .query_row(
                "SELECT ended_at, device_id FROM session_runs
                 WHERE started_on = ?1 AND started_at BETWEEN ?2 AND ?3 AND deleted = 0
                   AND ended_at IS NOT NULL AND device_id <> ?1
                 ORDER BY started_at DESC LIMIT 1",
                params![self.meta.device_id, from, to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Sessions that ended before `ended_before` and are still marked booked (nobody said
    /// whether the client came), oldest first, with names: "Mark 3 sessions from yesterday".
    pub fn sessions_to_mark(&mut self, ended_before: DateTime<Utc>) -> Result<Vec<DayAppointment>> {
        self.act(Action::AppointmentList, |cx| {
            let mut stmt = cx.tx.prepare(
                "SELECT a.id FROM appointments a JOIN clients c ON c.code = a.client_code AND c.deleted = 0
                 WHERE a.deleted = 0 AND a.status = 'scheduled' AND a.ends_at < ?1 ORDER BY a.starts_at",
            )?;
            let ids = stmt
                .query_map(params![ended_before], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let out = with_names(cx.tx, ids)?;
            cx.detail(format!("count={} to_mark", out.len()));
            Ok(out)
        })
    }

    /// Notes to finish: every draft, and every attended session with no note, oldest first.
    /// Identifiers and times only (no note text).
    pub fn notes_to_finish(&mut self) -> Result<Vec<ToFinish>> {
        self.act(Action::NoteList, |cx| {
            let mut out = Vec::new();
            let mut drafts = cx.tx.prepare(
                "SELECT n.id, n.client_code, n.appointment_id, n.created_at FROM session_notes n
                 JOIN clients c ON c.code = n.client_code AND c.deleted = 0
                 WHERE n.deleted = 0 AND n.status = 'draft' ORDER BY n.created_at",
            )?;
            for row in drafts.query_map([], |r| {
                Ok(ToFinish::Draft {
                    note_id: r.get(0)?,
                    client_code: r.get(1)?,
                    appointment_id: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })? {
                out.push(row?);
            }
            let mut unwritten = cx.tx.prepare(
                "SELECT a.id, a.client_code, a.starts_at FROM appointments a
                 JOIN clients c ON c.code = a.client_code AND c.deleted = 0
                 WHERE a.deleted = 0 AND a.status = 'attended'
                   AND NOT EXISTS (SELECT 1 FROM session_notes n WHERE n.appointment_id = a.id AND n.deleted = 0)
                 ORDER BY a.starts_at",
            )?;
            for row in unwritten.query_map([], |r| {
                Ok(ToFinish::NoNote {
                    appointment_id: r.get(0)?,
                    client_code: r.get(1)?,
                    starts_at: r.get(2)?,
                })
            })? {
                out.push(row?);
            }
            cx.detail(format!("count={} to_finish", out.len()));
            Ok(out)
        })
    }

    /// A walk-in: a session for `code` starting now, `minutes` long, booked and marked
    /// attended in one audited step (no booking first). Returns the session for the clock.
    pub fn start_walk_in(
        &mut self,
        code: &super::clients::ClientCode,
        minutes: u32,
    ) -> Result<Appointment> {
        if minutes == 0 || minutes > 720 {
            return Err(CoreError::invalid(
                "a session lasts between 1 and 720 minutes",
            ));
        }
        self.act(Action::SessionStart, |cx| {
            super::require_client(cx.tx, code.as_str())?;
            let id = crate::vault::new_id();
            let now = Utc::now();
            let hlc = cx.stamp();
            cx.tx.execute(
                "INSERT INTO appointments (id, client_code, starts_at, ends_at, status, hlc, device_id)
                 VALUES (?1, ?2, ?3, ?4, 'attended', ?5, ?6)",
                params![
                    id,
                    code.as_str(),
                    now,
                    now + chrono::Duration::minutes(i64::from(minutes)),
                    hlc,
                    cx.device_id
                ],
            )?;
            cx.client(code.as_str());
            cx.object(&id);
            cx.detail(format!("walk_in minutes={minutes}"));
            read(cx.tx, &id)?.ok_or_else(|| CoreError::Corrupt("appointment vanished".into()))
        })
    }
}
