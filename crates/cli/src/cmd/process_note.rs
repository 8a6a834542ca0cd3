//! `casebook process-note add|list`: private notes kept apart from the clinical record.

use std::process::ExitCode;

use casebook_core::ClientCode;
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum ProcessNoteCmd {
    /// Add a process note; prints its id.
    Add {
        code: String,
        /// The note ("-" reads it from standard input).
        #[arg(long, allow_hyphen_values = true)]
        text: String,
    },
    /// List a client's process notes.
    List { code: String },
}

pub fn run(g: &Globals, cmd: ProcessNoteCmd) -> Outcome {
    match cmd {
        ProcessNoteCmd::Add { code, text } => {
            let code = ClientCode::parse(&code)?;
            let mut vault = secrets::open_vault(g)?;
            let p = vault.add_process_note(&code, &super::text_arg(text)?)?;
            if g.json {
                output::json(&json!({ "id": p.id }))?;
            } else {
                println!("{}", p.id);
            }
        }
        ProcessNoteCmd::List { code } => {
            let code = ClientCode::parse(&code)?;
            let mut vault = secrets::open_vault(g)?;
            let list = vault.process_notes(&code)?;
            if g.json {
                output::json(&list)?;
            } else {
                for p in list {
                    println!("{}  {}\n{}\n", p.id, output::datetime(p.created_at), p.text);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
