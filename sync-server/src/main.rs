//! `casebook-sync`: run the server. Thin: settings in, [`casebook_sync::serve`] out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use casebook_sync::AppState;
use casebook_sync::config::Config;
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
        /// A reverse proxy whose X-Forwarded-For is believed (repeat, or comma-separated).
        #[arg(
            long = "trusted-proxy",
            env = "CASEBOOK_SYNC_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// The clients run on this machine (trials, tests): allows a loopback address over
        /// plain HTTP without --trusted-proxy.
        #[arg(
            long,
            env = "CASEBOOK_SYNC_LOCAL_ONLY",
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        local_only: bool,
        /// A TOML file with every other setting.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create a one-time sign-up invite (for servers with `sign_up = "invite"`); prints its token.
    Invite {
        /// The server's data folder (embedded backend).
        #[arg(long, env = "CASEBOOK_SYNC_DATA", required_unless_present = "config")]
        data: Option<PathBuf>,
        /// The server's TOML settings (any backend).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Days until the invite expires.
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
}

fn invite(data: Option<PathBuf>, config: Option<PathBuf>, days: u32) -> ExitCode {
    if days == 0 || days > 365 {
        eprintln!("error: --days must be 1–365");
        return ExitCode::from(2);
    }
    let mut cfg = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if data.is_some() {
        cfg.data = data;
    }
    // The residency guard first, as for `serve`, before touching a database or bucket (a
    // data folder given with --data is the server's own, on this machine).
    if cfg.data.is_none()
        && let Err(e) = cfg.locations()
    {
        eprintln!("error: {e}");
        return ExitCode::from(3);
    }
    let token = casebook_sync::auth::new_token();
    let expires = (chrono::Utc::now() + chrono::Duration::days(i64::from(days)))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let created = rt.block_on(async {
        let store = casebook_sync::store::open(&cfg)
            .await
            .map_err(|e| format!("cannot open storage: {e:#}"))?;
        store
            .create_invite(&casebook_sync::auth::token_hash(&token), &expires)
            .await
            .map_err(|e| e.to_string())
    });
    match created {
        Ok(()) => {
            println!("{token}");
            eprintln!("One-time invite, valid until {expires}. Only its hash is stored.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The TOML file if given, with secrets and the database address from the environment.
fn load_config(path: Option<PathBuf>) -> Result<Config, ExitCode> {
    let mut cfg = match path {
        Some(path) => Config::from_file(&path).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        })?,
        None => Config::default(),
    };
    cfg.apply_env();
    Ok(cfg)
}

/// Each Argon2id hash takes a 19 MiB block. glibc would otherwise raise its mmap threshold
/// after the first one and keep every later block on the heap of whichever thread ran it,
/// so the server's memory grew by ~20 MB per worker thread. Large blocks go straight back
/// to the OS with this setting.
fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called once, before any threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> ExitCode {
    return_large_allocations_to_the_os();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let (data, country, listen, trusted_proxies, local_only, config) = match Cli::parse().command {
        Command::Serve {
            data,
            country,
            listen,
            trusted_proxies,
            local_only,
            config,
        } => (data, country, listen, trusted_proxies, local_only, config),
        Command::Invite { data, config, days } => return invite(data, config, days),
    };
    let mut cfg = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if data.is_some() {
        cfg.data = data;
    }
    if !trusted_proxies.is_empty() {
        cfg.trusted_proxies = trusted_proxies;
    }
    if country.is_some() {
        cfg.country = country;
    }
    if let Some(l) = listen {
        cfg.listen = l;
    }
    if local_only {
        cfg.local_only = true;
    }
    // Residency first: refuse before touching any storage.
    if let Err(e) = cfg.locations() {
        eprintln!("error: {e}");
        return ExitCode::from(3);
    }
    if let Err(e) = cfg.check_proxy_setup() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let store = match rt.block_on(casebook_sync::store::open(&cfg)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot open storage: {e:#}");
            return ExitCode::from(1);
        }
    };
    let state = match AppState::new(cfg, store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
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
