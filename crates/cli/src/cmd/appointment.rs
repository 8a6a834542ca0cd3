//! `casebook appointment …`: booking sessions (one, or a weekly series), and what became of
//! them — attended, did not attend, cancelled, moved, or deleted when booked by mistake.

use std::process::ExitCode;

use casebook_core::{
    Appointment, AppointmentStatus, CancelledBy, ClientCode, CoreError, Repeat, SeriesEnd,
    ToFinish, parse_date,
};
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum AppointmentCmd {
    /// Book a session (or, with --repeat, a series); prints its id (one per session).
    Add {
        code: String,
        /// Start in local time, YYYY-MM-DD HH:MM.
        #[arg(long)]
        start: String,
        /// Length in minutes (default 50).
        #[arg(long, default_value_t = 50, conflicts_with = "end")]
        minutes: u32,
        /// End in local time, instead of --minutes.
        #[arg(long)]
        end: Option<String>,
        /// Book a series: weekly, fortnightly or every-N-weeks (e.g. every-3-weeks); each
        /// session at the same local time, across clock changes.
        #[arg(long, requires = "series_end")]
        repeat: Option<String>,
        /// With --repeat: how many sessions.
        #[arg(long, group = "series_end", requires = "repeat")]
        count: Option<u32>,
        /// With --repeat: the last date a session may fall on (YYYY-MM-DD).
        #[arg(long, group = "series_end", requires = "repeat")]
        until: Option<String>,
    },
    /// List a client's sessions.
    List { code: String },
    /// Record what happened: attended, dna (did not attend), cancelled, cancelled-late,
    /// cancelled-by-therapist, or booked again.
    Mark { id: String, status: String },
    /// The client came.
    Attended { id: String },
    /// The client did not come and did not cancel.
    Dna { id: String },
    /// Cancel a booked session (by the client in good time, unless --late or --by-therapist).
    Cancel {
        id: String,
        /// The client cancelled too late.
        #[arg(long, conflicts_with = "by_therapist")]
        late: bool,
        /// The therapist cancelled.
        #[arg(long)]
        by_therapist: bool,
        /// Why, in a few words (never clinical detail).
        #[arg(long)]
        reason: Option<String>,
        /// Also cancel the later booked sessions of its series.
        #[arg(long)]
        following: bool,
    },
    /// Move a booked session to another time (its length kept; the move is kept as history).
    Move {
        id: String,
        /// The new start in local time, YYYY-MM-DD HH:MM.
        #[arg(long)]
        start: String,
        /// Also move the later booked sessions of its series by as much.
        #[arg(long)]
        following: bool,
    },
    /// Delete a session booked by mistake (refused once it has a note).
    Delete { id: String },
    /// Sessions that have ended and are still marked booked (nobody recorded whether the
    /// client came), and notes to finish: drafts, and attended sessions with no note.
    Todo,
}

fn print_sessions(g: &Globals, verb: &str, list: &[Appointment]) -> anyhow::Result<()> {
    if g.json {
        output::json(&list)?;
    } else {
        for a in list {
            match verb {
                "moved" => println!(
                    "Session {} moved to {}.",
                    a.id,
                    output::datetime(a.starts_at)
                ),
                _ => println!(
                    "Session {} ({}) {}.",
                    a.id,
                    output::datetime(a.starts_at),
                    a.status.label()
                ),
            }
        }
    }
    Ok(())
}

fn mark(g: &Globals, id: &str, status: AppointmentStatus) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let a = vault.mark_appointment(id, status)?;
    if g.json {
        output::json(&a)?;
    } else {
        println!("Session {} marked {}.", a.id, a.status.label());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(g: &Globals, cmd: AppointmentCmd) -> Outcome {
    match cmd {
        AppointmentCmd::Add {
            code,
            start,
            minutes,
            end,
            repeat,
            count,
            until,
        } => {
            let code = ClientCode::parse(&code)?;
            if let Some(repeat) = repeat {
                if end.is_some() {
                    return Err(CoreError::InvalidInput(
                        "with --repeat, give the length with --minutes".into(),
                    )
                    .into());
                }
                let repeat = Repeat::parse(&repeat)?;
                let first = output::parse_naive_datetime(&start)?;
                let series_end = match (count, until) {
                    (Some(n), _) => SeriesEnd::Count(n),
                    (None, Some(d)) => SeriesEnd::Until(parse_date(&d)?),
                    (None, None) => {
                        return Err(CoreError::InvalidInput(
                            "--repeat needs --count N or --until DATE".into(),
                        )
                        .into());
                    }
                };
                let mut vault = secrets::open_vault(g)?;
                let list = vault.add_series(&code, first, minutes, repeat, series_end)?;
                if g.json {
                    let ids: Vec<&str> = list.iter().map(|a| a.id.as_str()).collect();
                    output::json(&json!({
                        "series_id": list.first().and_then(|a| a.series_id.clone()),
                        "ids": ids,
                        "sessions": list,
                    }))?;
                } else {
                    for a in &list {
                        println!("{}  {}", a.id, output::datetime(a.starts_at));
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let starts = output::parse_local_datetime(&start)?;
            let ends = match end {
                Some(e) => output::parse_local_datetime(&e)?,
                None => {
                    if minutes == 0 || minutes > 720 {
                        return Err(CoreError::InvalidInput(
                            "--minutes must be between 1 and 720".into(),
                        )
                        .into());
                    }
                    starts + chrono::Duration::minutes(i64::from(minutes))
                }
            };
            let mut vault = secrets::open_vault(g)?;
            let a = vault.add_appointment(&code, starts, ends)?;
            if g.json {
                output::json(&json!({ "id": a.id }))?;
            } else {
                println!("{}", a.id);
            }
        }
        AppointmentCmd::List { code } => {
            let code = ClientCode::parse(&code)?;
            let mut vault = secrets::open_vault(g)?;
            let list = vault.appointments(&code)?;
            if g.json {
                output::json(&list)?;
            } else {
                for a in list {
                    println!(
                        "{}  {}–{}  {}",
                        a.id,
                        output::datetime(a.starts_at),
                        a.ends_at.with_timezone(&chrono::Local).format("%H:%M"),
                        a.status.label()
                    );
                }
            }
        }
        AppointmentCmd::Mark { id, status } => {
            return mark(g, &id, AppointmentStatus::parse(&status)?);
        }
        AppointmentCmd::Attended { id } => return mark(g, &id, AppointmentStatus::Attended),
        AppointmentCmd::Dna { id } => return mark(g, &id, AppointmentStatus::DidNotAttend),
        AppointmentCmd::Cancel {
            id,
            late,
            by_therapist,
            reason,
            following,
        } => {
            let by = match (late, by_therapist) {
                (_, true) => CancelledBy::Therapist,
                (true, false) => CancelledBy::ClientLate,
                (false, false) => CancelledBy::Client,
            };
            let mut vault = secrets::open_vault(g)?;
            let list = vault.cancel_appointment(&id, by, reason.as_deref(), following)?;
            print_sessions(g, "cancelled", &list)?;
        }
        AppointmentCmd::Move {
            id,
            start,
            following,
        } => {
            let to = output::parse_local_datetime(&start)?;
            let mut vault = secrets::open_vault(g)?;
            let list = vault.move_appointment(&id, to, following)?;
            print_sessions(g, "moved", &list)?;
        }
        AppointmentCmd::Todo => {
            let mut vault = secrets::open_vault(g)?;
            let to_mark = vault.sessions_to_mark(chrono::Utc::now())?;
            let to_finish = vault.notes_to_finish()?;
            if g.json {
                let to_mark: Vec<&Appointment> = to_mark.iter().map(|d| &d.appointment).collect();
                output::json(&json!({ "to_mark": to_mark, "notes_to_finish": to_finish }))?;
            } else {
                if to_mark.is_empty() && to_finish.is_empty() {
                    println!(
                        "Nothing left to do: every session is marked and every note finished."
                    );
                }
                for d in &to_mark {
                    println!(
                        "To mark:   {}  {}  {}",
                        d.appointment.id,
                        output::datetime(d.appointment.starts_at),
                        d.appointment.client_code
                    );
                }
                for t in &to_finish {
                    match t {
                        ToFinish::Draft {
                            note_id,
                            client_code,
                            created_at,
                            ..
                        } => println!(
                            "To finish: draft note {note_id}  {}  {client_code}",
                            output::datetime(*created_at)
                        ),
                        ToFinish::NoNote {
                            appointment_id,
                            client_code,
                            starts_at,
                        } => println!(
                            "To write:  session {appointment_id}  {}  {client_code} (no note yet)",
                            output::datetime(*starts_at)
                        ),
                    }
                }
            }
        }
        AppointmentCmd::Delete { id } => {
            let mut vault = secrets::open_vault(g)?;
            vault.delete_appointment(&id)?;
            if g.json {
                output::json(&json!({ "id": id, "deleted": true }))?;
            } else {
                println!("Session {id} deleted.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
