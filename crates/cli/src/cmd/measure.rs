//! `casebook measure add|list`: PHQ-9, GAD-7 and CORE-10 scores.

use std::process::ExitCode;

use casebook_core::records::measures::parse_items;
use casebook_core::{ClientCode, Instrument};
use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum MeasureCmd {
    /// Record a completed questionnaire.
    Add {
        code: String,
        /// phq9, gad7 or core10.
        instrument: String,
        /// Item scores in order, comma-separated, e.g. 0,1,2,3,… (CORE-10: one may be "-").
        #[arg(long, allow_hyphen_values = true)]
        items: String,
    },
    /// List a client's questionnaires with totals and bands.
    List { code: String },
}

fn total_text(t: f64) -> String {
    if t.fract() == 0.0 {
        format!("{t:.0}")
    } else {
        format!("{t:.1}")
    }
}

pub fn run(g: &Globals, cmd: MeasureCmd) -> Outcome {
    match cmd {
        MeasureCmd::Add {
            code,
            instrument,
            items,
        } => {
            let code = ClientCode::parse(&code)?;
            let instrument = Instrument::parse(&instrument)?;
            let items = parse_items(&items)?;
            let mut vault = secrets::open_vault(g)?;
            let m = vault.add_measure(&code, instrument, &items)?;
            if g.json {
                output::json(&json!({ "id": m.id, "score": m.score }))?;
            } else {
                println!(
                    "{} {}: {} / {} ({}){}",
                    m.instrument.label(),
                    m.id,
                    total_text(m.score.total),
                    m.instrument.max_total(),
                    m.score.band,
                    if m.score.risk {
                        " — RISK ITEM ANSWERED: review risk"
                    } else {
                        ""
                    }
                );
            }
        }
        MeasureCmd::List { code } => {
            let code = ClientCode::parse(&code)?;
            let mut vault = secrets::open_vault(g)?;
            let list = vault.measures(&code)?;
            if g.json {
                output::json(&list)?;
            } else {
                for m in list {
                    println!(
                        "{}  {:<8} {:>5}  {}{}",
                        output::datetime(m.taken_at),
                        m.instrument.label(),
                        total_text(m.score.total),
                        m.score.band,
                        if m.score.risk { "  RISK" } else { "" }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
