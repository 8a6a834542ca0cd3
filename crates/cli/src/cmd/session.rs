//! `casebook session`: the session clock shared by the practice's computers. The desktop app
//! times sessions; here a session can be recorded as starting (a booked one is marked
//! attended), the sessions running on any of the practice's computers listed, and one ended
//! — a session running on the surgery desktop can be ended from the laptop, and the desktop's
//! clock stops at its next sync.

use std::process::ExitCode;

use casebook_sync::practice;
use chrono::Utc;
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum SessionCmd {
    /// Record that a session starts now: a booked one (--appointment) is marked attended; the
    /// practice's other computers show it running.
    Start {
        /// The booked session (its id, as `appointment list` shows).
        #[arg(long)]
        appointment: Option<String>,
        /// Its length in minutes, for a session that was not booked.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=240))]
        minutes: u32,
    },
    /// Give the session running on this computer more time: the other computers show the
    /// new planned end at their next sync. In overrun, the minutes count from now.
    Extend {
        /// How many minutes more.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=120))]
        minutes: u32,
    },
    /// The sessions running on the practice's computers (as this computer last synced).
    Status,
    /// End a running session (one started on another computer included): recorded here, and
    /// that computer's clock stops at its next sync.
    End {
        /// The session (its id, as `session status` shows); the newest running one if left out.
        run: Option<String>,
    },
}

pub fn run(g: &Globals, cmd: SessionCmd) -> Outcome {
    match cmd {
        SessionCmd::Start {
            appointment,
            minutes,
        } => {
            let mut vault = secrets::open_vault(g)?;
            vault.start_session(appointment.as_deref(), minutes)?;
            let started = vault
                .sessions_running()?
                .into_iter()
                .find(|s| s.this_computer);
            if g.json {
                output::json(&started)?;
            } else if let Some(s) = started {
                println!(
                    "Session started at {}, planned to end at {}.",
                    output::datetime(s.started_at),
                    output::datetime(s.ends_at)
                );
            }
        }
        SessionCmd::Extend { minutes } => {
            let mut vault = secrets::open_vault(g)?;
            let running = vault
                .sessions_running()?
                .into_iter()
                .find(|s| s.this_computer)
                .ok_or_else(|| {
                    casebook_core::CoreError::Conflict(
                        "no session is running on this computer".into(),
                    )
                })?;
            let ends_at =
                running.ends_at.max(Utc::now()) + chrono::Duration::minutes(i64::from(minutes));
            vault.extend_session(ends_at)?;
            if g.json {
                output::json(&json!({ "run": running.run, "ends_at": ends_at }))?;
            } else {
                println!(
                    "Session extended: planned to end at {}.",
                    output::datetime(ends_at)
                );
            }
        }
        SessionCmd::Status => {
            let vault = secrets::open_vault(g)?;
            let names = practice::device_names(&vault);
            let running = vault.sessions_running()?;
            if g.json {
                let list: Vec<_> = running
                    .iter()
                    .map(|s| {
                        json!({
                            "run": s.run,
                            "appointment_id": s.appointment_id,
                            "started_at": s.started_at,
                            "ends_at": s.ends_at,
                            "this_computer": s.this_computer,
                            "computer": names.get(&s.started_on),
                        })
                    })
                    .collect();
                output::json(&json!({ "running": list }))?;
            } else if running.is_empty() {
                println!("No session is running on the practice's computers.");
            } else {
                for s in &running {
                    println!(
                        "{}  running on {} since {} (planned end {})",
                        s.run,
                        if s.this_computer {
                            "this computer"
                        } else {
                            names
                                .get(&s.started_on)
                                .map_or("another computer", String::as_str)
                        },
                        output::datetime(s.started_at),
                        output::datetime(s.ends_at)
                    );
                }
            }
        }
        SessionCmd::End { run } => {
            let mut vault = secrets::open_vault(g)?;
            let run = match run {
                Some(r) => r,
                None => vault
                    .sessions_running()?
                    .into_iter()
                    .next()
                    .map(|s| s.run)
                    .ok_or_else(|| {
                        casebook_core::CoreError::Conflict(
                            "no session is running on the practice's computers".into(),
                        )
                    })?,
            };
            vault.end_shared_session(&run, Utc::now())?;
            if g.json {
                output::json(&json!({ "ended": run }))?;
            } else {
                println!(
                    "Session ended. The computer it runs on stops its clock at its next sync."
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
