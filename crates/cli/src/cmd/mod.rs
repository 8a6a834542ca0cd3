//! One module per command group.

pub mod appointment;
pub mod audit;
pub mod backup;
pub mod calendar;
pub mod client;
pub mod erase;
pub mod init;
pub mod keys;
pub mod measure;
pub mod note;
pub mod offsite;
pub mod portability;
pub mod practice;
pub mod process_note;
pub mod recover;
pub mod retention;
pub mod sar;
pub mod search;
pub mod server;
pub mod session;
pub mod status;
pub mod supervision;
pub mod sync;

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

/// Clinical text from the command line, or from standard input when given as `-`
/// (so it never appears in the process list or the shell history).
pub fn text_arg(t: String) -> anyhow::Result<String> {
    if t != "-" {
        return Ok(t);
    }
    use std::io::{IsTerminal, Read};
    if std::io::stdin().is_terminal() {
        eprintln!("Type the text, then press Ctrl-D on a new line:");
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}
