//! `casebook practice show|set`: the practice's name and the therapist's registration,
//! printed on exports and subject-access responses.

use std::process::ExitCode;

use casebook_core::records::practice::{PracticeProfile, RegistrationBody};
use clap::Subcommand;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum PracticeCmd {
    /// The practice's details as printed on exports.
    Show,
    /// Change the practice's details; a value given as "" clears it, one left out stays.
    Set {
        /// The practice's name.
        #[arg(long)]
        name: Option<String>,
        /// The therapist's name as registered.
        #[arg(long)]
        therapist: Option<String>,
        /// The registration or accreditation body: BACP, UKCP, NCPS, HCPC or BPS ("" for none).
        #[arg(long)]
        body: Option<String>,
        /// The membership or registration number.
        #[arg(long)]
        number: Option<String>,
    },
}

pub fn run(g: &Globals, cmd: PracticeCmd) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let profile = match cmd {
        PracticeCmd::Show => vault.practice_profile()?,
        PracticeCmd::Set {
            name,
            therapist,
            body,
            number,
        } => {
            let mut p = vault.practice_profile()?;
            if let Some(v) = name {
                p.practice_name = Some(v);
            }
            if let Some(v) = therapist {
                p.therapist_name = Some(v);
            }
            if let Some(v) = number {
                p.registration_number = Some(v);
            }
            if let Some(b) = body {
                p.registration_body = if b.trim().is_empty() {
                    None
                } else {
                    Some(RegistrationBody::parse(&b).ok_or_else(|| {
                        anyhow::anyhow!(
                            "'{b}' is not a body Casebook knows: use BACP, UKCP, NCPS, HCPC or BPS"
                        )
                    })?)
                };
            }
            vault.set_practice_profile(&p)?
        }
    };
    if g.json {
        output::json(&profile)?;
    } else {
        print(&profile);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(p: &PracticeProfile) {
    let line = |label: &str, v: Option<String>| {
        println!("{label:<14}{}", v.unwrap_or_else(|| "(not given)".into()));
    };
    line("Practice:", p.practice_name.clone());
    line("Therapist:", p.therapist_name.clone());
    line("Registration:", p.registration());
}
