//! `casebook audit list|verify|export`: the tamper-evident audit trail.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use casebook_core::{AuditFilter, ClientCode, CoreError, parse_date};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Args, Clone)]
pub struct FilterArgs {
    /// Only entries about this client code.
    #[arg(long)]
    client: Option<String>,
    /// Only this action (e.g. note.finalise), or a group ending in "." (e.g. note.).
    #[arg(long)]
    action: Option<String>,
    /// From this date (YYYY-MM-DD), inclusive.
    #[arg(long)]
    since: Option<String>,
    /// Up to this date (YYYY-MM-DD), inclusive.
    #[arg(long)]
    until: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Show audit entries, oldest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Only the most recent N entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Check the whole hash chain; fails naming the first altered, removed or inserted entry.
    Verify,
    /// Export entries as CSV or JSON.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

/// The start of a local calendar day, as the UTC instant the trail stores times in.
fn local_midnight_utc(d: chrono::NaiveDate) -> String {
    use chrono::TimeZone;
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    let t = chrono::Local
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| midnight.and_utc());
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn to_filter(f: FilterArgs, limit: Option<usize>) -> anyhow::Result<AuditFilter> {
    let client_code = f
        .client
        .as_deref()
        .map(ClientCode::parse)
        .transpose()?
        .map(|c| c.to_string());
    // Dates are the therapist's local days; the trail is in UTC.
    let since = f
        .since
        .as_deref()
        .map(parse_date)
        .transpose()?
        .map(local_midnight_utc);
    let until = f
        .until
        .as_deref()
        .map(parse_date)
        .transpose()?
        .map(|d| local_midnight_utc(d + chrono::Days::new(1)));
    Ok(AuditFilter {
        client_code,
        action: f.action,
        since,
        until,
        limit,
    })
}

pub fn run(g: &Globals, cmd: AuditCmd) -> Outcome {
    match cmd {
        AuditCmd::List { filter, limit } => {
            let filter = to_filter(filter, Some(limit))?;
            let mut vault = secrets::open_vault(g)?;
            let entries = vault.audit_entries(&filter)?;
            let names = casebook_sync::practice::device_names(&vault);
            let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| short(id));
            if g.json {
                let with_names: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(e).unwrap_or_default();
                        v["device_name"] = json!(name_of(&e.device_id));
                        v
                    })
                    .collect();
                output::json(&with_names)?;
            } else {
                for e in entries {
                    let at = chrono::DateTime::parse_from_rfc3339(&e.at)
                        .map(|t| output::datetime(t.with_timezone(&chrono::Utc)))
                        .unwrap_or(e.at.clone());
                    println!(
                        "#{:<6} {}  {:<16} {:<20} {:<7} {}  {}",
                        e.seq,
                        at,
                        name_of(&e.device_id),
                        e.action,
                        e.client_code.as_deref().unwrap_or("-"),
                        e.object_id.as_deref().unwrap_or(""),
                        e.detail.as_deref().unwrap_or("")
                    );
                }
            }
        }
        AuditCmd::Verify => {
            let mut vault = secrets::open_vault(g)?;
            match vault.verify_audit() {
                Ok(v) => {
                    if g.json {
                        output::json(&json!({
                            "ok": true,
                            "entries": v.entries,
                            "head_hash": v.head_hash,
                            "devices": v.devices,
                        }))?;
                    } else {
                        println!(
                            "The audit trail verifies: {} entries, head {}.",
                            v.entries,
                            &v.head_hash[..16]
                        );
                        let names = casebook_sync::practice::device_names(&vault);
                        for d in &v.devices {
                            println!(
                                "  and that of {}: {} entries, head {}{}.",
                                names
                                    .get(&d.device)
                                    .cloned()
                                    .unwrap_or_else(|| short(&d.device)),
                                d.entries,
                                &d.head_hash[..16],
                                if d.missing_before > 1 {
                                    format!(
                                        " (held from entry {}: the ones before came with the backup this computer was set up from, or were compacted away on the server before it read them)",
                                        d.missing_before
                                    )
                                } else {
                                    String::new()
                                }
                            );
                        }
                    }
                }
                Err(e @ CoreError::AuditBroken(_)) => {
                    if g.json {
                        output::json(&json!({ "ok": false, "error": e.to_string() }))?;
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        AuditCmd::Export {
            format,
            out,
            filter,
        } => {
            let filter = to_filter(filter, None)?;
            let mut vault = secrets::open_vault(g)?;
            let word = match format {
                Format::Csv => "csv",
                Format::Json => "json",
            };
            let entries = vault.audit_export(&filter, word)?;
            let mut bytes = Vec::new();
            match format {
                Format::Csv => casebook_core::audit::write_csv(&entries, &mut bytes)?,
                Format::Json => {
                    serde_json::to_writer_pretty(&mut bytes, &entries)?;
                    writeln!(bytes)?;
                }
            }
            match &out {
                // Owner-only (0600) and atomic, as every export the therapist asks for.
                Some(path) => casebook_core::write_private_file(path, &bytes)?,
                None => std::io::stdout().lock().write_all(&bytes)?,
            }
            if let Some(path) = out {
                eprintln!(
                    "Exported {} audit entries to {}.",
                    entries.len(),
                    path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A device id shortened for a column ("computer 1b2c3d4e").
fn short(id: &str) -> String {
    format!("computer {}", id.chars().take(8).collect::<String>())
}
