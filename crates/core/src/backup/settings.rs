//! Backup settings (`backup.json`) and the record of past runs (`backup-state.json`), two
//! small plaintext files in the vault folder. Neither holds a name, a key or clinical text:
//! a folder path, figures, times, file names and error messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::policy::KeepPolicy;
use super::schedule::{self, Health, LastRuns};
use crate::error::{CoreError, Result};
use crate::jsonfile::{read_json, write_json};

const SETTINGS_FILE: &str = "backup.json";
const STATE_FILE: &str = "backup-state.json";

/// Where backups go, how often, and how long they are kept.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BackupSettings {
    /// The folder backups are written to (an external drive, say). Default: a folder
    /// beside the vault, `<vault folder>-backups`.
    pub destination: Option<PathBuf>,
    /// Hours between automatic backups (8: three a day).
    pub every_hours: u32,
    pub keep: KeepPolicy,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            destination: None,
            every_hours: 8,
            keep: KeepPolicy::default(),
        }
    }
}

impl BackupSettings {
    /// The settings of the vault in `vault_dir` (defaults when none were saved).
    pub fn load(vault_dir: &Path) -> Result<Self> {
        read_json(&vault_dir.join(SETTINGS_FILE))
    }

    pub(crate) fn save(&self, vault_dir: &Path) -> Result<()> {
        if self.every_hours == 0 || self.every_hours > 24 * 7 {
            return Err(CoreError::invalid("backups can run every 1 to 168 hours"));
        }
        write_json(&vault_dir.join(SETTINGS_FILE), self)
    }

    /// The destination folder, with the default filled in.
    pub fn destination_for(&self, vault_dir: &Path) -> PathBuf {
        self.destination.clone().unwrap_or_else(|| {
            let name = vault_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "casebook".into());
            vault_dir
                .parent()
                .unwrap_or(Path::new("."))
                .join(format!("{name}-backups"))
        })
    }
}

/// The outcome of one verification of one backup file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// Why it failed, in one line (no clinical text: hashes, part names, check names).
    pub problem: Option<String>,
    /// HMAC of the file name, time and outcome under a key of this vault: `backup.json`'s
    /// neighbour is plain text, and a result nobody could have forged is the only kind the
    /// keep-policy counts (see `Vault::backup_list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// What has happened so far, for the status line and for the keep-policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupState {
    pub last_success: Option<DateTime<Utc>>,
    pub last_file: Option<String>,
    pub last_failure: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// By backup file name.
    pub verified: BTreeMap<String, Verified>,
    /// Every folder a backup has been written to: each gets the erasure list again after
    /// every erasure, so no older backup anywhere can bring an erased client back.
    #[serde(default)]
    pub destinations: Vec<std::path::PathBuf>,
}

impl BackupState {
    pub fn load(vault_dir: &Path) -> Result<Self> {
        read_json(&vault_dir.join(STATE_FILE))
    }

    pub(crate) fn save(&self, vault_dir: &Path) -> Result<()> {
        write_json(&vault_dir.join(STATE_FILE), self)
    }

    pub fn last_runs(&self) -> LastRuns {
        LastRuns {
            success: self.last_success,
            failure: self.last_failure,
        }
    }

    /// The "last backup" status at `now`.
    pub fn health(&self, settings: &BackupSettings, now: DateTime<Utc>) -> Health {
        schedule::health(
            settings.every_hours,
            self.last_runs(),
            self.last_error.as_deref(),
            now,
        )
    }
}
