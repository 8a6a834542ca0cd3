//! `casebook calendar import|feed`: appointments from an iCal feed or `.ics` file.
//!
//! Every import shows its preview first; it changes the vault only after `y` at the
//! prompt or with `--yes`. `--dry-run` only previews. Feeds are fetched over HTTPS only
//! and never written to disk; only names (to match clients) and times are kept.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use casebook_core::calendar::{
    self, CalendarPreview, Change, Extraction, FetchLimits, ImportSource, ImportWindow,
};
use casebook_core::{CoreError, Vault, parse_date};
use clap::{Args, Subcommand};

use super::Outcome;
use crate::{Globals, output, secrets};

#[derive(Subcommand)]
pub enum CalendarCmd {
    /// Import appointments from an .ics file or an https:// / webcal:// address.
    Import {
        /// A path to an .ics file, or a feed address.
        file_or_url: String,
        #[command(flatten)]
        opts: ImportOpts,
    },
    /// The saved feed: set its address, remove it, or import from it now.
    #[command(subcommand)]
    Feed(FeedCmd),
}

#[derive(Subcommand)]
pub enum FeedCmd {
    /// Save the feed address (it is a secret: kept encrypted in the vault).
    Set {
        /// The calendar's iCal address (https:// or webcal://).
        url: String,
    },
    /// Disconnect: delete the saved address at once.
    Remove,
    /// Fetch the saved feed and import what changed.
    Refresh {
        #[command(flatten)]
        opts: ImportOpts,
    },
}

#[derive(Args)]
pub struct ImportOpts {
    /// First day to import (YYYY-MM-DD; default today).
    #[arg(long)]
    from: Option<String>,
    /// Last day to import (YYYY-MM-DD; default 180 days after --from).
    #[arg(long)]
    to: Option<String>,
    /// Show what would change and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import without asking.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(g: &Globals, cmd: CalendarCmd) -> Outcome {
    match cmd {
        CalendarCmd::Import { file_or_url, opts } => {
            let window = window(&opts)?;
            let bytes = if file_or_url.contains("://") {
                fetch(&file_or_url)?
            } else {
                read_file(&file_or_url)?
            };
            let extraction = calendar::extract(&bytes, &window)?;
            drop(bytes);
            let mut vault = secrets::open_vault(g)?;
            import(
                g,
                &mut vault,
                &extraction,
                &window,
                ImportSource::File,
                &opts,
            )
        }
        CalendarCmd::Feed(FeedCmd::Set { url }) => {
            let mut vault = secrets::open_vault(g)?;
            let settings = vault.set_calendar_feed(&url)?;
            let host = settings.host.clone().unwrap_or_default();
            if g.json {
                output::json(&settings)?;
            } else {
                println!(
                    "Calendar feed from {host} saved (encrypted in the vault). Import from it with `casebook calendar feed refresh`."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CalendarCmd::Feed(FeedCmd::Remove) => {
            let mut vault = secrets::open_vault(g)?;
            vault.remove_calendar_feed()?;
            if g.json {
                output::json(&serde_json::json!({ "removed": true }))?;
            } else {
                println!("Calendar feed disconnected: its address was deleted from the vault.");
            }
            Ok(ExitCode::SUCCESS)
        }
        CalendarCmd::Feed(FeedCmd::Refresh { opts }) => {
            let window = window(&opts)?;
            let mut vault = secrets::open_vault(g)?;
            let address = vault.calendar_feed_address()?;
            let bytes = fetch(&address)?;
            let extraction = calendar::extract(&bytes, &window)?;
            drop(bytes);
            import(
                g,
                &mut vault,
                &extraction,
                &window,
                ImportSource::Feed,
                &opts,
            )
        }
    }
}

fn window(opts: &ImportOpts) -> anyhow::Result<ImportWindow> {
    let from = opts.from.as_deref().map(parse_date).transpose()?;
    let to = opts.to.as_deref().map(parse_date).transpose()?;
    Ok(ImportWindow::new(from, to, calendar::local_zone())?)
}

fn fetch(address: &str) -> anyhow::Result<Vec<u8>> {
    let bar = indicatif::ProgressBar::new_spinner();
    if std::io::stderr().is_terminal() {
        bar.set_message("Fetching the calendar…");
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    let result = calendar::fetch_feed(address, &FetchLimits::default());
    bar.finish_and_clear();
    Ok(result?)
}

fn read_file(path: &str) -> anyhow::Result<Vec<u8>> {
    let limit = FetchLimits::default().max_bytes;
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {path}"))?;
    if meta.len() > limit {
        return Err(CoreError::invalid(format!(
            "{path} is larger than {} MB, more than any appointment calendar needs",
            limit / (1024 * 1024)
        ))
        .into());
    }
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

fn import(
    g: &Globals,
    vault: &mut Vault,
    extraction: &Extraction,
    window: &ImportWindow,
    source: ImportSource,
    opts: &ImportOpts,
) -> Outcome {
    let preview = vault.calendar_preview(extraction, window, source)?;
    let changes = preview.counts.has_changes();
    if opts.dry_run || !changes {
        if g.json {
            output::json(&preview)?;
        } else {
            print_preview(&preview);
            if !changes {
                println!("Nothing to change: the vault already matches this calendar.");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !opts.yes {
        if !std::io::stdin().is_terminal() || g.json {
            if !g.json {
                print_preview(&preview);
            }
            return Err(CoreError::invalid(
                "nothing was imported: run again with --yes to import these changes (or --dry-run to only look)",
            )
            .into());
        }
        print_preview(&preview);
        print!("Import these changes? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            println!("Nothing was imported.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let done = vault.calendar_import(extraction, window, source)?;
    if g.json {
        output::json(&done)?;
    } else {
        let c = done.counts;
        println!(
            "Imported: {} new, {} moved, {} cancelled; {} new {}.",
            c.new,
            c.moved,
            c.cancelled,
            c.new_clients,
            if c.new_clients == 1 {
                "client"
            } else {
                "clients"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_preview(p: &CalendarPreview) {
    let c = p.counts;
    println!(
        "{} to {}: {} new, {} moved, {} cancelled, {} unchanged, {} skipped.",
        output::date(p.window.from),
        output::date(p.window.to),
        c.new,
        c.moved,
        c.cancelled,
        c.unchanged,
        c.skipped
    );
    for w in &p.warnings {
        println!("Note: {w}");
    }
    for e in p.events.iter().filter(|e| e.action != Change::Unchanged) {
        let action = serde_json::to_value(e.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let who = match (&e.client_code, e.new_client) {
            (Some(code), _) => code.clone(),
            (None, true) => "new client".into(),
            (None, false) => String::new(),
        };
        let was = e
            .previous_start
            .map(|t| format!(" (was {})", output::datetime(t)))
            .unwrap_or_default();
        println!(
            "  {action:<9} {}–{}  {}  [{who}]{was}",
            output::datetime(e.start),
            e.end.with_timezone(&chrono::Local).format("%H:%M"),
            e.summary
        );
    }
    for s in &p.skipped {
        let when = s.start.map(output::datetime).unwrap_or_default();
        println!("  skipped   {when}  {}: {}", s.summary, s.reason);
    }
    if !p.new_clients.is_empty() {
        println!("New clients to create: {}", p.new_clients.join(", "));
    }
}
