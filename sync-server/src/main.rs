//! `casebook-sync`: run the server. Thin: settings in, [`casebook_sync::serve`] out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use casebook_sync::AppState;
use casebook_sync::config::Config;
use casebook_sync::store::embedded::Embedded;
use clap::{Parser, Subcommand};

/// casebook-sync: stores only encrypted blobs, in UK/EU storage.
#[derive(Parser)]
#[command(name = "casebook-sync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Folder for metadata and blobs (embedded backend).
        #[arg(long, env = "CASEBOOK_SYNC_DATA")]
        data: Option<PathBuf>,
        /// ISO country where that folder is (UK or EU/EEA only), e.g. GB.
        #[arg(long, env = "CASEBOOK_SYNC_COUNTRY")]
        country: Option<String>,
        /// Address to listen on (default 127.0.0.1:8787).
        #[arg(long, env = "CASEBOOK_SYNC_LISTEN")]
        listen: Option<SocketAddr>,
        /// A TOML file with every other setting.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let Command::Serve {
        data,
        country,
        listen,
        config,
    } = Cli::parse().command;
    let mut cfg = match config {
        Some(path) => match Config::from_file(&path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if data.is_some() {
        cfg.data = data;
    }
    if country.is_some() {
        cfg.country = country;
    }
    if let Some(l) = listen {
        cfg.listen = l;
    }
    // Residency first: refuse before touching any storage.
    if let Err(e) = cfg.locations() {
        eprintln!("error: {e}");
        return ExitCode::from(3);
    }
    let Some(dir) = cfg.data.clone() else {
        return ExitCode::from(3);
    };
    let store = match Embedded::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot open the data folder {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    let state = match AppState::new(cfg, Arc::new(store)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(casebook_sync::serve(state)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
