//! `casebook note add|edit|risk|finalise|amend|discard|show|list`: session notes.

use std::process::ExitCode;

use casebook_core::{ClientCode, CoreError, NoteRisk, NoteStatus, NoteTemplate, SessionNote};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{Outcome, parse_field};
use crate::{Globals, output, secrets};

/// The note's text: one free-text body, or template fields.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Body {
    /// The text of a free-text note ("-" reads it from standard input).
    #[arg(long, allow_hyphen_values = true)]
    text: Option<String>,
    /// A template field, KEY=VALUE (repeat for each field), e.g. --field plan="review in 2 weeks".
    #[arg(long = "field", value_parser = parse_field)]
    fields: Vec<(String, String)>,
}

impl Body {
    fn into_fields(self, template: NoteTemplate) -> anyhow::Result<Vec<(String, String)>> {
        match self.text {
            Some(t) if template == NoteTemplate::Free => {
                Ok(vec![("text".into(), super::text_arg(t)?)])
            }
            Some(_) => Err(CoreError::InvalidInput(format!(
                "a {} note has fields ({}): give them with --field KEY=VALUE",
                template.as_str().to_uppercase(),
                template.fields().join(", ")
            ))
            .into()),
            None => Ok(self.fields),
        }
    }
}

#[derive(Subcommand)]
pub enum NoteCmd {
    /// Start a draft note for a client; prints its id.
    Add {
        code: String,
        /// brief (attendance, themes, interventions, risk, plan), soap, dap, birp, free
        /// (narrative: one text), assessment, contact or ending.
        #[arg(long, default_value = "free")]
        template: String,
        /// The session this note is about.
        #[arg(long)]
        session: Option<String>,
        #[command(flatten)]
        body: Body,
    },
    /// Change a draft note.
    Edit {
        id: String,
        #[command(flatten)]
        body: Body,
    },
    /// Say what a draft note says about risk and safeguarding: `flagged` (a concern: the
    /// client is flagged from this note on), `cleared` (reviewed, no current concern: ends
    /// an earlier flag) or `none`. Fixed when the note is finalised.
    Risk {
        id: String,
        /// flagged, cleared or none.
        risk: String,
    },
    /// Finalise (sign) a draft: it can no longer change.
    Finalise { id: String },
    /// Add an addendum to a finalised note.
    Amend {
        id: String,
        /// The addendum ("-" reads it from standard input).
        #[arg(long, allow_hyphen_values = true)]
        text: String,
    },
    /// Discard a draft note.
    Discard { id: String },
    /// Show a note with its addenda.
    Show { id: String },
    /// List a client's notes.
    List { code: String },
}

fn print_note(n: &SessionNote) {
    let state = match n.status {
        NoteStatus::Draft => "draft".to_string(),
        NoteStatus::Final => format!(
            "finalised {}",
            n.finalised_at.map(output::datetime).unwrap_or_default()
        ),
    };
    println!(
        "Note {}  {}  {}  ({})",
        n.id,
        n.client_code,
        n.template.as_str().to_uppercase(),
        state
    );
    println!("Written {}", output::datetime(n.created_at));
    match n.risk {
        Some(NoteRisk::Flagged) => println!("Risk or safeguarding concern: flagged"),
        Some(NoteRisk::Cleared) => println!("Risk reviewed: no current concern"),
        None => {}
    }
    for (field, text) in n.ordered_fields() {
        if n.template == NoteTemplate::Free {
            println!("{text}");
        } else {
            println!("{}: {text}", capitalise(field));
        }
    }
    for a in &n.addenda {
        println!(
            "  Addendum {} ({}): {}",
            a.id,
            output::datetime(a.created_at),
            a.text
        );
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub fn run(g: &Globals, cmd: NoteCmd) -> Outcome {
    match cmd {
        NoteCmd::Add {
            code,
            template,
            session,
            body,
        } => {
            let code = ClientCode::parse(&code)?;
            let template = NoteTemplate::parse(&template)?;
            let fields = body.into_fields(template)?;
            let mut vault = secrets::open_vault(g)?;
            let n = vault.add_note(&code, template, &fields, session.as_deref())?;
            if g.json {
                output::json(&json!({ "id": n.id }))?;
            } else {
                println!("{}", n.id);
            }
        }
        NoteCmd::Edit { id, body } => {
            let mut vault = secrets::open_vault(g)?;
            // The template decides how --text is read.
            let fields = match body.text {
                Some(t) => vec![("text".to_string(), super::text_arg(t)?)],
                None => body.fields,
            };
            let n = vault.edit_note(&id, &fields)?;
            if g.json {
                output::json(&n)?;
            } else {
                println!("Saved draft {}.", n.id);
            }
        }
        NoteCmd::Risk { id, risk } => {
            let risk = NoteRisk::parse(&risk)?;
            let mut vault = secrets::open_vault(g)?;
            vault.set_note_risk(&id, risk)?;
            let word = risk.map_or("none", NoteRisk::as_str);
            if g.json {
                output::json(&json!({ "id": id, "risk": risk }))?;
            } else {
                println!("Note {id}: risk {word}.");
            }
        }
        NoteCmd::Finalise { id } => {
            let mut vault = secrets::open_vault(g)?;
            let n = vault.finalise_note(&id)?;
            if g.json {
                output::json(&n)?;
            } else {
                println!(
                    "Finalised note {}. Corrections from now on are addenda.",
                    n.id
                );
            }
        }
        NoteCmd::Amend { id, text } => {
            let mut vault = secrets::open_vault(g)?;
            let a = vault.add_addendum(&id, &super::text_arg(text)?)?;
            if g.json {
                output::json(&json!({ "id": a.id, "note_id": a.note_id }))?;
            } else {
                println!("{}", a.id);
            }
        }
        NoteCmd::Discard { id } => {
            let mut vault = secrets::open_vault(g)?;
            vault.discard_note(&id)?;
            if g.json {
                output::json(&json!({ "id": id, "discarded": true }))?;
            } else {
                println!("Discarded draft {id}.");
            }
        }
        NoteCmd::Show { id } => {
            let mut vault = secrets::open_vault(g)?;
            let n = vault.note(&id)?;
            if g.json {
                output::json(&n)?;
            } else {
                print_note(&n);
            }
        }
        NoteCmd::List { code } => {
            let code = ClientCode::parse(&code)?;
            let mut vault = secrets::open_vault(g)?;
            let notes = vault.notes(&code)?;
            if g.json {
                output::json(&notes)?;
            } else if notes.is_empty() {
                println!("No notes for {code} yet.");
            } else {
                for n in &notes {
                    print_note(n);
                    println!();
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
