//! Server settings: a TOML file (`--config`), environment overrides, command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use casebook_wire::Location;
use serde::Deserialize;

use crate::residency;

/// Who may open an account.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SignUpPolicy {
    Open,
    Invite,
}

/// Everything the server is told.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Folder for the embedded backend (SQLite metadata + blob files).
    pub data: Option<PathBuf>,
    /// ISO country of the data folder: must be in the UK or the EU/EEA.
    pub country: Option<String>,
    /// Town or data centre, for the description shown to users (e.g. "London").
    pub place: Option<String>,
    #[serde(default = "default_sign_up")]
    pub sign_up: SignUpPolicy,
    /// Every account must turn on TOTP before it can store data.
    #[serde(default)]
    pub totp_required: bool,
    #[serde(default = "default_quota")]
    pub quota_bytes: u64,
    #[serde(default = "default_max_blob")]
    pub max_blob_bytes: u64,
    /// PEM certificate chain for built-in TLS (with `tls_key`); omit behind a TLS proxy.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in TLS.
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (e.g. `["127.0.0.1"]` behind
    /// nginx on the same host). From any other peer the header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
fn default_sign_up() -> SignUpPolicy {
    SignUpPolicy::Open
}
fn default_quota() -> u64 {
    2 * 1024 * 1024 * 1024
}
fn default_max_blob() -> u64 {
    32 * 1024 * 1024
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            data: None,
            country: None,
            place: None,
            sign_up: default_sign_up(),
            totp_required: false,
            quota_bytes: default_quota(),
            max_blob_bytes: default_max_blob(),
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a valid configuration: {e}", path.display()))
    }

    /// Checks every storage location is declared and in the UK or EU/EEA, and describes them.
    /// The error is one line naming the offending setting.
    pub fn locations(&self) -> Result<Vec<Location>, String> {
        if self.data.is_none() {
            return Err("data is not set: give the data folder with --data DIR".into());
        }
        let country = residency::check("country", self.country.as_deref())?;
        let code = self
            .country
            .clone()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let description = match &self.place {
            Some(p) => format!("{p}, {country}"),
            None => country.to_string(),
        };
        Ok(["metadata", "blobs"]
            .into_iter()
            .map(|role| Location {
                role: role.into(),
                country: code.clone(),
                region: None,
                description: description.clone(),
            })
            .collect())
    }
}
