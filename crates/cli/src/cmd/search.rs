//! `casebook search QUERY`: find notes, addenda and process notes.

use std::process::ExitCode;

use clap::Args;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Args)]
pub struct SearchArgs {
    /// Words to find (all must appear; the last may be the start of a word).
    query: String,
    /// At most this many results.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

pub fn run(g: &Globals, a: SearchArgs) -> Outcome {
    let mut vault = secrets::open_vault(g)?;
    let hits = vault.search(&a.query, a.limit)?;
    if g.json {
        output::json(&hits)?;
    } else if hits.is_empty() {
        println!("Nothing found.");
    } else {
        for h in hits {
            println!(
                "{}  {:<24} {:<12} {}\n    {}",
                h.client_code,
                h.client_name.as_deref().unwrap_or("?"),
                h.kind.replace('_', " "),
                h.note_id.as_deref().unwrap_or(&h.object_id),
                h.snippet
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
