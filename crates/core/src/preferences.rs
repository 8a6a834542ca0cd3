//! The therapist's app preferences (`preferences.json` in the vault folder): auto-lock time
//! and how the session clock behaves. Plaintext on purpose — the clock and the auto-lock
//! must work while the vault is locked — so it holds only numbers.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::jsonfile::{read_json, write_json};

const FILE: &str = "preferences.json";

/// How the app behaves for this therapist.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct Preferences {
    /// Lock the vault after this many idle minutes.
    pub auto_lock_minutes: u32,
    /// Minutes before the end of a session at which the clock warns (each once).
    pub warning_minutes: Vec<u32>,
    /// The break the therapist wants between sessions; a shorter gap is flagged.
    pub buffer_minutes: u32,
    /// The length of an ad-hoc session unless another is chosen.
    pub default_session_minutes: u32,
    /// Minutes before the next booked session at which to remind.
    pub next_session_notice_minutes: u32,
    /// Whether a running session's warnings, time up and the next-session reminder also pop
    /// up as desktop notifications (false: the clock's colour only — nothing can appear over
    /// a screen shared on a video call).
    pub session_notifications: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            auto_lock_minutes: 10,
            warning_minutes: vec![10, 5],
            buffer_minutes: 10,
            default_session_minutes: 50,
            next_session_notice_minutes: 5,
            session_notifications: true,
        }
    }
}

impl Preferences {
    /// The preferences of the vault in `vault_dir` (defaults when none were saved).
    pub fn load(vault_dir: &Path) -> Result<Self> {
        read_json(&vault_dir.join(FILE))
    }

    /// Checks and saves; on a refusal nothing is written.
    pub fn save(&self, vault_dir: &Path) -> Result<Preferences> {
        let checked = self.checked()?;
        write_json(&vault_dir.join(FILE), &checked)?;
        Ok(checked)
    }

    /// The preferences with warnings sorted and de-duplicated, or a clear refusal.
    pub fn checked(&self) -> Result<Preferences> {
        let mut p = self.clone();
        if !(1..=240).contains(&p.auto_lock_minutes) {
            return Err(CoreError::invalid(
                "auto-lock must be between 1 and 240 minutes",
            ));
        }
        if !(5..=240).contains(&p.default_session_minutes) {
            return Err(CoreError::invalid(
                "a default session must be between 5 and 240 minutes",
            ));
        }
        if p.buffer_minutes > 120 {
            return Err(CoreError::invalid(
                "the buffer between sessions can be at most 120 minutes",
            ));
        }
        if p.next_session_notice_minutes > 120 {
            return Err(CoreError::invalid(
                "the reminder before the next session can be at most 120 minutes",
            ));
        }
        if p.warning_minutes.len() > 5 || p.warning_minutes.iter().any(|&w| !(1..=120).contains(&w))
        {
            return Err(CoreError::invalid(
                "give up to five warnings, each between 1 and 120 minutes before the end",
            ));
        }
        p.warning_minutes.sort_unstable_by(|a, b| b.cmp(a));
        p.warning_minutes.dedup();
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_saved_and_read_back_and_bad_values_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Preferences::load(dir.path()).unwrap(),
            Preferences::default()
        );
        let mut p = Preferences {
            warning_minutes: vec![5, 10, 5],
            auto_lock_minutes: 3,
            ..Preferences::default()
        };
        let saved = p.save(dir.path()).unwrap();
        assert_eq!(saved.warning_minutes, vec![10, 5]);
        assert_eq!(Preferences::load(dir.path()).unwrap(), saved);
        p.auto_lock_minutes = 0;
        assert!(p.save(dir.path()).is_err());
        assert_eq!(Preferences::load(dir.path()).unwrap().auto_lock_minutes, 3);
    }

    /// A preferences file from before the cue setting keeps notifications on; "colour only"
    /// is saved and read back.
    #[test]
    fn preferences_saved_before_the_cue_setting_keep_notifications_on() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), br#"{"auto_lock_minutes": 15}"#).unwrap();
        let p = Preferences::load(dir.path()).unwrap();
        assert!(p.session_notifications);
        assert_eq!(p.auto_lock_minutes, 15);
        let quiet = Preferences {
            session_notifications: false,
            ..p
        };
        quiet.save(dir.path()).unwrap();
        assert!(!Preferences::load(dir.path()).unwrap().session_notifications);
    }
}
