//! The practice's own details: its name, and the therapist's name and professional
//! registration (BACP, UKCP, NCPS, HCPC, BPS …), printed on exports and subject-access
//! responses so a reader knows who holds the records. The practice's, not the computer's:
//! kept in the clinical store's settings (`meta`, key `practice_profile`) and synced. It
//! names the therapist, never a client, so two-code separation holds.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::vault::Vault;

pub(crate) const PROFILE_KEY: &str = "practice_profile";

/// The professional bodies a UK or EU counsellor or psychotherapist registers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RegistrationBody {
    Bacp,
    Ukcp,
    Ncps,
    Hcpc,
    Bps,
}

impl RegistrationBody {
    /// The body as written on a document.
    pub fn label(self) -> &'static str {
        match self {
            RegistrationBody::Bacp => "BACP",
            RegistrationBody::Ukcp => "UKCP",
            RegistrationBody::Ncps => "NCPS",
            RegistrationBody::Hcpc => "HCPC",
            RegistrationBody::Bps => "BPS",
        }
    }

    /// Reads a body as typed (any case); `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "BACP" => Some(RegistrationBody::Bacp),
            "UKCP" => Some(RegistrationBody::Ukcp),
            "NCPS" => Some(RegistrationBody::Ncps),
            "HCPC" => Some(RegistrationBody::Hcpc),
            "BPS" => Some(RegistrationBody::Bps),
            _ => None,
        }
    }
}

/// Who holds these records, as printed on exports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PracticeProfile {
    /// The practice's name ("Willow Counselling").
    pub practice_name: Option<String>,
    /// The therapist's name as registered.
    pub therapist_name: Option<String>,
    pub registration_body: Option<RegistrationBody>,
    /// The membership or registration number ("MBACP 123456", "PC01234").
    pub registration_number: Option<String>,
}

impl PracticeProfile {
    /// The profile with blank fields cleared, or a clear refusal.
    pub fn checked(&self) -> Result<PracticeProfile> {
        let tidy = |what: &str, v: &Option<String>, max: usize| -> Result<Option<String>> {
            let Some(v) = v.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()) else {
                return Ok(None);
            };
            super::check_text(what, v, max)?;
            if v.chars().any(char::is_control) {
                return Err(CoreError::invalid(format!(
                    "the {what} has a line break or control character"
                )));
            }
            Ok(Some(v.to_string()))
        };
        let p = PracticeProfile {
            practice_name: tidy("practice name", &self.practice_name, 120)?,
            therapist_name: tidy("therapist's name", &self.therapist_name, 120)?,
            registration_body: self.registration_body,
            registration_number: tidy("registration number", &self.registration_number, 60)?,
        };
        Ok(p)
    }

    /// The registration as one line ("BACP 123456", "Registration 123456"), if any.
    pub fn registration(&self) -> Option<String> {
        let number = self.registration_number.as_deref();
        match (self.registration_body.map(RegistrationBody::label), number) {
            (None, None) => None,
            (None, Some(n)) => Some(format!("Registration {n}")),
            (Some(b), None) => Some(b.to_string()),
            (Some(b), Some(n)) => Some(format!("{b} {n}")),
        }
    }

    /// "Willow Counselling · Sam Jones · BACP 123456" — what a document's heading says.
    pub fn heading(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.practice_name.clone(),
            self.therapist_name.clone(),
            self.registration(),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

pub(crate) fn read_profile(conn: &rusqlite::Connection) -> Result<PracticeProfile> {
    let json: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [PROFILE_KEY],
            |r| r.get(0),
        )
        .optional()?;
    match json {
        None => Ok(PracticeProfile::default()),
        Some(j) => serde_json::from_str(&j)
            .map_err(|e| CoreError::Corrupt(format!("the stored practice details: {e}"))),
    }
}

impl Vault {
    /// The practice's details (empty until set).
    pub fn practice_profile(&mut self) -> Result<PracticeProfile> {
        read_profile(&self.conn)
    }

    /// Sets the practice's details. Audited (the entry names which details are set, never
    /// their text).
    pub fn set_practice_profile(&mut self, profile: &PracticeProfile) -> Result<PracticeProfile> {
        let profile = profile.checked()?;
        self.act(Action::PracticeSet, |cx| {
            let json = serde_json::to_string(&profile)
                .map_err(|e| CoreError::Corrupt(e.to_string()))?;
            cx.tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![PROFILE_KEY, json],
            )?;
            let set: Vec<&str> = [
                ("practice_name", profile.practice_name.is_some()),
                ("therapist_name", profile.therapist_name.is_some()),
                ("registration", profile.registration_number.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, on)| on.then_some(k))
            .collect();
            cx.detail(format!("set={}", set.join(",")));
            Ok(profile.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_details_are_cleared_and_the_heading_says_who_holds_the_records() {
        let p = PracticeProfile {
            practice_name: Some("  Willow Counselling ".into()),
            therapist_name: Some("   ".into()),
            registration_body: Some(RegistrationBody::Bacp),
            registration_number: Some("MBACP 123456".into()),
        }
        .checked()
        .unwrap();
        assert_eq!(p.practice_name.as_deref(), Some("Willow Counselling"));
        assert_eq!(p.therapist_name, None);
        assert_eq!(
            p.heading().as_deref(),
            Some("Willow Counselling · BACP MBACP 123456")
        );
        let no_body = PracticeProfile {
            registration_number: Some("123".into()),
            ..Default::default()
        };
        assert_eq!(
            no_body.checked().unwrap().heading().as_deref(),
            Some("Registration 123")
        );
        let broken = PracticeProfile {
            practice_name: Some("Willow\nCounselling".into()),
            ..Default::default()
        };
        assert!(broken.checked().is_err());
        assert_eq!(PracticeProfile::default().heading(), None);
    }

    #[test]
    fn bodies_read_as_typed_and_in_json() {
        assert_eq!(
            RegistrationBody::parse("ukcp"),
            Some(RegistrationBody::Ukcp)
        );
        assert_eq!(RegistrationBody::parse("XYZ"), None);
        let json = serde_json::to_string(&RegistrationBody::Hcpc).unwrap();
        assert_eq!(json, "\"HCPC\"");
        assert!(serde_json::from_str::<RegistrationBody>("\"bacp\"").is_err());
    }
}
