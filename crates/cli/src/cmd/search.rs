//! `casebook search QUERY`: find notes, addenda and process notes — each with its date (a
//! note's session, else when it was written), kind and client; narrowed with `--client`,
//! `--from` and `--to`.

use std::process::ExitCode;

use casebook_core::{ClientCode, SearchFilter, parse_date};
use chrono::{Local, NaiveDate, TimeZone, Utc};
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
    /// Only this client's notes (their code, e.g. C-7KQ2).
    #[arg(long, value_name = "CODE")]
    client: Option<String>,
    /// Only entries dated on or after this day (YYYY-MM-DD or DD/MM/YYYY).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Only entries dated on or before this day (YYYY-MM-DD or DD/MM/YYYY).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
}

/// Local midnight at the start of `day`, in UTC (the first hour that exists, on a clock change).
fn day_start(day: NaiveDate) -> anyhow::Result<chrono::DateTime<Utc>> {
    (0..=2)
        .find_map(|h| {
            Local
                .from_local_datetime(&day.and_hms_opt(h, 0, 0)?)
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| anyhow::anyhow!("{} cannot be placed in this time zone", output::date(day)))
}

pub fn run(g: &Globals, a: SearchArgs) -> Outcome {
    let filter = SearchFilter {
        client_code: a
            .client
            .as_deref()
            .map(ClientCode::parse)
            .transpose()?
            .map(|c| c.to_string()),
        from: a
            .from
            .as_deref()
            .map(parse_date)
            .transpose()?
            .map(day_start)
            .transpose()?,
        to: a
            .to
            .as_deref()
            .map(parse_date)
            .transpose()?
            .map(|d| day_start(d + chrono::Duration::days(1)))
            .transpose()?,
    };
    let mut vault = secrets::open_vault(g)?;
    let hits = vault.search_with(&a.query, &filter, a.limit)?;
    if g.json {
        output::json(&hits)?;
    } else if hits.is_empty() {
        println!("Nothing found.");
    } else {
        for h in hits {
            println!(
                "{}  {}  {:<24} {:<12} {}\n    {}",
                h.at.map(output::datetime).unwrap_or_else(|| "?".into()),
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
