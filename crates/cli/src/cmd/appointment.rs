//! `casebook appointment add|list|mark`: sessions and attendance.

use std::process::ExitCode;

use casebook_core::{AppointmentStatus, ClientCode, CoreError};
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum AppointmentCmd {
    /// Book a session; prints its id.
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
    },
    /// List a client's sessions.
    List { code: String },
    /// Record what happened: attended, cancelled or dna (did not attend).
    Mark { id: String, status: String },
}

pub fn run(g: &Globals, cmd: AppointmentCmd) -> Outcome {
    match cmd {
        AppointmentCmd::Add {
            code,
            start,
            minutes,
            end,
        } => {
            let code = ClientCode::parse(&code)?;
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
            let status = AppointmentStatus::parse(&status)?;
            let mut vault = secrets::open_vault(g)?;
            let a = vault.mark_appointment(&id, status)?;
            if g.json {
                output::json(&a)?;
            } else {
                println!("Session {} marked {}.", a.id, a.status.label());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
