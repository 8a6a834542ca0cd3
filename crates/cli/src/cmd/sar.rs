//! `casebook sar create|open|list|close`: subject-access requests and their bundles.

use std::path::PathBuf;
use std::process::ExitCode;

use casebook_core::records::access::{AccessOptions, Redaction};
use casebook_core::{ClientCode, CoreError, parse_date};
use clap::Subcommand;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum SarCmd {
    /// Write the subject-access bundle (JSON + printable HTML) for a client.
    Create {
        code: String,
        /// Include process notes (a deliberate choice, recorded in the audit trail).
        #[arg(long)]
        include_process_notes: bool,
        /// Where to write the bundle's folder (default: the current folder).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// When the request was received (YYYY-MM-DD; default today or the open request's).
        #[arg(long)]
        received: Option<String>,
        /// A JSON file of passages to withhold: [{"item_id", "passage", "reason"}].
        #[arg(long)]
        redact: Option<PathBuf>,
    },
    /// Record a request received (before the bundle is made), so its due date is tracked.
    Open {
        code: String,
        #[arg(long)]
        received: String,
    },
    /// Open requests with their due dates (--all for answered ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Mark a request answered.
    Close { id: String },
}

pub fn run(g: &Globals, cmd: SarCmd) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    match cmd {
        SarCmd::Create {
            code,
            include_process_notes,
            out,
            received,
            redact,
        } => {
            let code = ClientCode::parse(&code)?;
            let redactions: Vec<Redaction> = match redact {
                None => Vec::new(),
                Some(p) => {
                    let bytes = std::fs::read(&p).map_err(|e| {
                        CoreError::invalid(format!("cannot read {}: {e}", p.display()))
                    })?;
                    serde_json::from_slice(&bytes).map_err(|e| {
                        CoreError::invalid(format!(
                            "{} is not a list of {{\"item_id\", \"passage\", \"reason\"}}: {e}",
                            p.display()
                        ))
                    })?
                }
            };
            let options = AccessOptions {
                include_process_notes,
                redactions,
                received_on: received.as_deref().map(parse_date).transpose()?,
            };
            let export = vault.subject_access_export(&code, &options, &out)?;
            if g.json {
                output::json(&export)?;
            } else {
                println!(
                    "Subject-access bundle written to {}",
                    export.folder.display()
                );
                println!(
                    "  request received {}, due {}",
                    output::date(export.request.received_on),
                    output::date(export.request.due_on)
                );
                println!("  {} (readable, prints well)", export.html.display());
                println!("  {} (machine-readable)", export.json.display());
            }
        }
        SarCmd::Open { code, received } => {
            let code = ClientCode::parse(&code)?;
            let r = vault.open_access_request(&code, parse_date(&received)?)?;
            if g.json {
                output::json(&r)?;
            } else {
                println!("Request {} recorded: due {}.", r.id, output::date(r.due_on));
            }
        }
        SarCmd::List { all } => {
            let list = vault.access_requests(all)?;
            if g.json {
                output::json(&list)?;
            } else if list.is_empty() {
                println!("No open subject-access requests.");
            } else {
                let today = chrono::Local::now().date_naive();
                for r in list {
                    let late = if r.status == "open" && r.due_on < today {
                        " — OVERDUE"
                    } else {
                        ""
                    };
                    println!(
                        "{}  {}  {:<28} received {}  due {}{late}  {}",
                        r.id,
                        r.client_code,
                        r.full_name.as_deref().unwrap_or(""),
                        output::date(r.received_on),
                        output::date(r.due_on),
                        r.status
                    );
                }
            }
        }
        SarCmd::Close { id } => {
            let r = vault.answer_access_request(&id)?;
            if g.json {
                output::json(&r)?;
            } else {
                println!("Request {} marked answered.", r.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
