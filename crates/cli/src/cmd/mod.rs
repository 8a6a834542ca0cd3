//! One module per command group.

pub mod appointment;
pub mod audit;
pub mod client;
pub mod init;
pub mod keys;
pub mod measure;
pub mod note;
pub mod process_note;
pub mod recover;
pub mod search;
pub mod status;

use std::process::ExitCode;

pub type Outcome = anyhow::Result<ExitCode>;

/// Parses `KEY=VALUE` from `--field`.
pub fn parse_field(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "'{s}' should be KEY=VALUE, e.g. subjective=\"slept badly\""
        )),
    }
}
