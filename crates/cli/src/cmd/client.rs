//! `casebook client add|edit|history|list|show|close`.

use std::process::ExitCode;

use casebook_core::records::clients::{IdentityChanges, show_nhs_number};
use casebook_core::{ClientCode, ClientIdentity, ClientStatus, parse_date};
use chrono::Local;
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum ClientCmd {
    /// Add a client; prints their new code.
    Add {
        /// Full name (kept only in the identity store).
        #[arg(long)]
        name: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long)]
        dob: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Emergency contact (name and number).
        #[arg(long)]
        emergency_contact: Option<String>,
        /// The client's GP (practice or doctor).
        #[arg(long)]
        gp: Option<String>,
        /// The client's NHS number (ten digits; spaces allowed; the check digit is checked).
        #[arg(long)]
        nhs_number: Option<String>,
        /// Another name the client is known by (repeat for several).
        #[arg(long = "alias")]
        aliases: Vec<String>,
    },
    /// Correct a client's identity details (rectification); the old values are kept in
    /// the history. An empty value ("") clears an optional detail.
    Edit {
        code: String,
        #[arg(long)]
        name: Option<String>,
        /// Date of birth, YYYY-MM-DD ("" to clear).
        #[arg(long)]
        dob: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        emergency_contact: Option<String>,
        #[arg(long)]
        gp: Option<String>,
        /// NHS number ("" to clear).
        #[arg(long)]
        nhs_number: Option<String>,
        /// Replace the aliases (repeat for several; --clear-aliases to remove all).
        #[arg(long = "alias")]
        aliases: Vec<String>,
        #[arg(long, conflicts_with = "aliases")]
        clear_aliases: bool,
        /// Why (kept with the history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// What a client's identity details said before each correction.
    History { code: String },
    /// List clients (active only unless --all).
    List {
        /// Include closed clients.
        #[arg(long)]
        all: bool,
    },
    /// Show a client's details.
    Show { code: String },
    /// Close a client's file at the end of therapy.
    Close {
        code: String,
        /// The end of therapy, YYYY-MM-DD (default: today).
        #[arg(long)]
        ended: Option<String>,
    },
}

fn status_word(s: ClientStatus) -> &'static str {
    match s {
        ClientStatus::Active => "active",
        ClientStatus::Closed => "closed",
    }
}

pub fn run(g: &Globals, cmd: ClientCmd) -> Outcome {
    match cmd {
        ClientCmd::Add {
            name,
            dob,
            email,
            phone,
            emergency_contact,
            gp,
            nhs_number,
            aliases,
        } => {
            let identity = ClientIdentity {
                full_name: name,
                date_of_birth: dob.as_deref().map(parse_date).transpose()?,
                email,
                phone,
                emergency_contact,
                gp,
                nhs_number,
                aliases,
            };
            let mut vault = secrets::open_vault(g)?;
            let client = vault.add_client(identity)?;
            if g.json {
                output::json(&json!({ "code": client.code }))?;
            } else {
                println!("{}", client.code);
            }
        }
        ClientCmd::Edit {
            code,
            name,
            dob,
            email,
            phone,
            emergency_contact,
            gp,
            nhs_number,
            aliases,
            clear_aliases,
            reason,
        } => {
            let code = ClientCode::parse(&code)?;
            let opt = |v: Option<String>| v.map(|s| Some(s).filter(|s| !s.trim().is_empty()));
            let changes = IdentityChanges {
                full_name: name,
                date_of_birth: match dob.as_deref().map(str::trim) {
                    None => None,
                    Some("") => Some(None),
                    Some(d) => Some(Some(parse_date(d)?)),
                },
                email: opt(email),
                phone: opt(phone),
                emergency_contact: opt(emergency_contact),
                gp: opt(gp),
                nhs_number: opt(nhs_number),
                aliases: if clear_aliases {
                    Some(Vec::new())
                } else if aliases.is_empty() {
                    None
                } else {
                    Some(aliases)
                },
            };
            let mut vault = secrets::open_vault(g)?;
            let c = vault.edit_client(&code, &changes, reason.as_deref())?;
            if g.json {
                output::json(&c)?;
            } else {
                println!(
                    "Client {} corrected; the previous details are kept in its history.",
                    c.code
                );
            }
        }
        ClientCmd::History { code } => {
            let code = ClientCode::parse(&code)?;
            let mut vault = secrets::open_vault(g)?;
            let h = vault.client_history(&code)?;
            if g.json {
                output::json(&h)?;
            } else if h.is_empty() {
                println!("No corrections recorded for {code}.");
            } else {
                for c in h {
                    println!(
                        "{}  {:<18} {} → {}{}",
                        c.changed_at,
                        c.field,
                        c.old_value.as_deref().unwrap_or("(none)"),
                        c.new_value.as_deref().unwrap_or("(none)"),
                        c.reason.map(|r| format!("  ({r})")).unwrap_or_default()
                    );
                }
            }
        }
        ClientCmd::List { all } => {
            let mut vault = secrets::open_vault(g)?;
            let list = vault.list_clients(all)?;
            if g.json {
                output::json(&list)?;
            } else if list.is_empty() {
                println!("No clients yet. Add one with: casebook client add --name \"…\"");
            } else {
                for c in list {
                    let ended = c
                        .ended_on
                        .map(|d| format!(" (ended {})", output::date(d)))
                        .unwrap_or_default();
                    println!(
                        "{}  {:<30}  {}{}",
                        c.code,
                        c.full_name.as_deref().unwrap_or("(no identity record)"),
                        status_word(c.status),
                        ended
                    );
                }
            }
        }
        ClientCmd::Show { code } => {
            let code = ClientCode::parse(&code)?;
            let mut vault = secrets::open_vault(g)?;
            let c = vault.client(&code)?;
            if g.json {
                output::json(&c)?;
            } else {
                println!("Code:        {}", c.code);
                println!("Status:      {}", status_word(c.status));
                println!("Added:       {}", output::date(c.opened_on));
                if let Some(e) = c.ended_on {
                    println!("Therapy ended: {}", output::date(e));
                }
                if let Some(i) = &c.identity {
                    println!("Name:        {}", i.full_name);
                    let opt = |label: &str, v: Option<String>| {
                        if let Some(v) = v {
                            println!("{label:<13}{v}");
                        }
                    };
                    opt("Born:", i.date_of_birth.map(output::date));
                    opt("Email:", i.email.clone());
                    opt("Phone:", i.phone.clone());
                    opt("Emergency:", i.emergency_contact.clone());
                    opt("GP:", i.gp.clone());
                    opt("NHS number:", i.nhs_number.as_deref().map(show_nhs_number));
                }
            }
        }
        ClientCmd::Close { code, ended } => {
            let code = ClientCode::parse(&code)?;
            let ended = match ended {
                Some(d) => parse_date(&d)?,
                None => Local::now().date_naive(),
            };
            let mut vault = secrets::open_vault(g)?;
            let c = vault.close_client(&code, ended)?;
            if g.json {
                output::json(&c)?;
            } else {
                println!("Closed {} (therapy ended {}).", c.code, output::date(ended));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
