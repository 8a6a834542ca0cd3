//! `casebook retention policy show|set`, `casebook retention review [--json]`,
//! `casebook retention extend CODE --until DATE --reason R`, `casebook retention destroy CODE`.

use std::process::ExitCode;

use casebook_core::records::retention::{RetentionPolicy, presets};
use casebook_core::{ClientCode, CoreError, parse_date};
use clap::Subcommand;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum RetentionCmd {
    /// Show or set the practice's retention policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Clients whose review date has passed or falls within 90 days.
    Review {
        /// Review as of this day (YYYY-MM-DD; default today).
        #[arg(long)]
        on: Option<String>,
    },
    /// Keep a client's records longer, with a reason (or --clear the override).
    Extend {
        code: String,
        /// The new review date, YYYY-MM-DD.
        #[arg(long, required_unless_present = "clear")]
        until: Option<String>,
        #[arg(long, required_unless_present = "clear")]
        reason: Option<String>,
        #[arg(long)]
        clear: bool,
    },
    /// Destroy a client's records whose retention has ended; prints the destruction certificate.
    Destroy {
        code: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// The policy in force.
    Show,
    /// Set a preset (bacp, nhs-adult, nhs-mental-health) and/or adjust any figure.
    Set {
        #[arg(long)]
        preset: Option<String>,
        /// The policy's name (e.g. "Agency policy").
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        adult_years: Option<u32>,
        #[arg(long)]
        minor_until_age: Option<u32>,
        #[arg(long)]
        minor_until_age_if_17: Option<u32>,
        #[arg(long)]
        minor_min_years: Option<u32>,
    },
}

fn print_policy(p: &RetentionPolicy) {
    println!("{}", p.name);
    println!("  adults: {} years after the last session", p.adult_years);
    println!(
        "  under 18 at the end: until the later of their {}th birthday ({}th if 17) and {} years after the last session",
        p.minor_until_age, p.minor_until_age_if_17, p.minor_min_years
    );
}

pub fn run(g: &Globals, cmd: RetentionCmd) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    match cmd {
        RetentionCmd::Policy(PolicyCmd::Show) => {
            let p = vault.retention_policy()?;
            if g.json {
                output::json(&p)?;
            } else {
                print_policy(&p);
            }
        }
        RetentionCmd::Policy(PolicyCmd::Set {
            preset,
            name,
            adult_years,
            minor_until_age,
            minor_until_age_if_17,
            minor_min_years,
        }) => {
            let mut p = match preset {
                Some(id) => RetentionPolicy::preset(&id).ok_or_else(|| {
                    let ids: Vec<&str> = presets().iter().map(|(k, _)| *k).collect();
                    CoreError::invalid(format!(
                        "no preset {id:?}: choose one of {}",
                        ids.join(", ")
                    ))
                })?,
                None => vault.retention_policy()?,
            };
            let adjusted = adult_years.is_some()
                || minor_until_age.is_some()
                || minor_until_age_if_17.is_some()
                || minor_min_years.is_some();
            p.adult_years = adult_years.unwrap_or(p.adult_years);
            p.minor_until_age = minor_until_age.unwrap_or(p.minor_until_age);
            p.minor_until_age_if_17 = minor_until_age_if_17.unwrap_or(p.minor_until_age_if_17);
            p.minor_min_years = minor_min_years.unwrap_or(p.minor_min_years);
            if let Some(n) = name {
                p.name = n;
            } else if adjusted {
                p.name = "Practice policy".into();
            }
            let p = vault.set_retention_policy(p)?;
            if g.json {
                output::json(&p)?;
            } else {
                print_policy(&p);
                println!("Every client's review date was recomputed.");
            }
        }
        RetentionCmd::Review { on } => {
            let today = match on {
                Some(d) => parse_date(&d)?,
                None => chrono::Local::now().date_naive(),
            };
            let list = vault.retention_review(today)?;
            if g.json {
                output::json(&list)?;
            } else if list.is_empty() {
                println!("No client's records are due for review in the next 90 days.");
            } else {
                for i in list {
                    println!(
                        "{}  {:<28} review {}{}  ({})",
                        i.code,
                        i.full_name.as_deref().unwrap_or(""),
                        output::date(i.review_on),
                        if i.due { " — DUE" } else { "" },
                        i.basis
                    );
                }
            }
        }
        RetentionCmd::Extend {
            code,
            until,
            reason,
            clear,
        } => {
            let code = ClientCode::parse(&code)?;
            let until = if clear {
                None
            } else {
                until.as_deref().map(parse_date).transpose()?
            };
            let reason = reason.unwrap_or_else(|| "override removed".into());
            vault.extend_retention(&code, until, &reason)?;
            let now = vault.retention_of(&code)?;
            if g.json {
                output::json(&now)?;
            } else if let Some((d, basis)) = now {
                println!("{code}: review {} ({basis}).", output::date(d));
            }
        }
        RetentionCmd::Destroy { code, yes } => {
            let code = ClientCode::parse(&code)?;
            if !yes {
                return Err(CoreError::invalid(
                    "destruction cannot be undone: run again with --yes to confirm",
                )
                .into());
            }
            let record = vault.destroy_for_retention(&code)?;
            if g.json {
                output::json(&record)?;
            } else {
                println!("Destruction certificate");
                if let Some(c) = &record.certificate {
                    println!("  client code: {}", c.client_code);
                    println!(
                        "  opened: {}",
                        c.opened_on.map(output::date).unwrap_or_default()
                    );
                    println!(
                        "  ended: {}",
                        c.ended_on.map(output::date).unwrap_or_default()
                    );
                    println!(
                        "  review date: {}",
                        c.review_on.map(output::date).unwrap_or_default()
                    );
                    println!(
                        "  policy: {} — {}",
                        c.policy,
                        c.basis.clone().unwrap_or_default()
                    );
                    println!("  destroyed: {}", output::datetime(c.destroyed_at));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
