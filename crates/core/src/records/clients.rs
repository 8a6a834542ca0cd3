//! Clients: who the therapist works with, known to the clinical store only by a code.
//!
//! A [`ClientCode`] such as `C-7KQ2` is random, drawn from an alphabet without look-alike
//! characters, and never derived from the name. The clinical store holds the code, status
//! and dates; the identity store holds the name, date of birth and contact details.

use chrono::{Local, NaiveDate};
use rand::Rng;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{check_text, require_client};
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::vault::{Ctx, Vault, new_id};

/// Characters a person can read aloud and copy without confusion (no 0/O, 1/I/L, U).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_LEN: usize = 4;

/// A client's pseudonymous code, e.g. `C-7KQ2`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ClientCode(String);

impl ClientCode {
    /// A new random code. With a device letter (`docs/sync.md`, "Client codes that cannot
    /// collide") the code starts with it, so two computers adding clients offline can never
    /// pick the same one.
    fn random(letter: Option<char>) -> Self {
        let mut rng = rand::rngs::OsRng;
        let mut pick = || CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char;
        let first = letter.unwrap_or_else(&mut pick);
        let rest: String = (1..CODE_LEN).map(|_| pick()).collect();
        ClientCode(format!("C-{first}{rest}"))
    }

    /// Whether `c` can be a device letter (one of the code's symbols).
    pub fn is_code_symbol(c: char) -> bool {
        c.is_ascii() && CODE_ALPHABET.contains(&(c as u8))
    }

    /// Reads a code typed by a person: case and the `C-` prefix are optional.
    pub fn parse(s: &str) -> Result<Self> {
        let up = s.trim().to_ascii_uppercase();
        let body = up.strip_prefix("C-").unwrap_or(&up);
        if body.len() == CODE_LEN && body.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
            Ok(ClientCode(format!("C-{body}")))
        } else {
            Err(CoreError::invalid(format!(
                "'{}' is not a client code: codes look like C-7KQ2 (see `casebook client list`)",
                s.trim().chars().take(20).collect::<String>()
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether the therapist is still seeing the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    Active,
    /// Therapy has ended; `ended_on` says when (the start of the retention period).
    Closed,
}

/// Who a client is, as held in the identity store only.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientIdentity {
    pub full_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub emergency_contact: Option<String>,
    /// The client's GP (practice or doctor), for risk procedures.
    pub gp: Option<String>,
    /// The client's NHS number (England and Wales), ten digits with a valid check digit,
    /// kept without spaces; shown as "943 476 5919".
    #[serde(default)]
    pub nhs_number: Option<String>,
    /// Other names the client is known by (replaced too in pseudonymised exports).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// An NHS number as typed ("943 476 5919", "943-476-5919") → its ten digits, or a clear
/// refusal: ten digits whose last is the modulus 11 check digit of the other nine.
pub fn nhs_number(typed: &str) -> Result<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() != 10 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(CoreError::invalid(
            "an NHS number is ten digits (spaces allowed), like 943 476 5919",
        ));
    }
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, v)| v * (10 - i as u32))
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        c => c,
    };
    if check == 10 || check != d[9] {
        return Err(CoreError::invalid(
            "this is not a valid NHS number: its last digit does not match the others (check it for a typing slip)",
        ));
    }
    Ok(digits)
}

/// An NHS number as written for a reader, in groups of 3, 3 and 4 ("943 476 5919").
pub fn show_nhs_number(digits: &str) -> String {
    if digits.len() == 10 && digits.is_ascii() {
        format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..])
    } else {
        digits.to_string()
    }
}

/// The aliases as stored (a JSON array, or NULL when there are none).
fn aliases_json(aliases: &[String]) -> Option<String> {
    (!aliases.is_empty()).then(|| serde_json::to_string(aliases).unwrap_or_else(|_| "[]".into()))
}

/// A change to a client's identity details: each field given replaces the current value
/// (`Some(None)` clears an optional one). The old value is kept in the history.
/// In JSON, a field left out is unchanged and `null` clears it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IdentityChanges {
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub date_of_birth: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub emergency_contact: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub gp: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub nhs_number: Option<Option<String>>,
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// One entry of a client's identity history: what a detail said before a change.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct IdentityChange {
    pub changed_at: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
}

/// A client as the therapist sees them: code, status and, through the identity store, their name.
#[derive(Clone, Debug, Serialize)]
pub struct Client {
    pub code: ClientCode,
    pub status: ClientStatus,
    pub opened_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    /// `None` only if the identity row is missing.
    pub identity: Option<ClientIdentity>,
}

impl ClientIdentity {
    pub(crate) fn validate(&self) -> Result<()> {
        check_text("name", &self.full_name, 200)?;
        if let Some(dob) = self.date_of_birth
            && dob > Local::now().date_naive()
        {
            return Err(CoreError::invalid("the date of birth is in the future"));
        }
        if let Some(email) = &self.email {
            let ok = email.len() <= 254
                && email
                    .split_once('@')
                    .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
            if !ok {
                return Err(CoreError::invalid(
                    "the email is not an email address (it should look like name@example.org)",
                ));
            }
        }
        if let Some(phone) = &self.phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            if !(6..=20).contains(&digits)
                || !phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-()".contains(c))
            {
                return Err(CoreError::invalid(
                    "the phone number is not a phone number (digits, spaces, +, - and brackets only)",
                ));
            }
        }
        if let Some(n) = &self.nhs_number {
            nhs_number(n)?;
        }
        for (what, v) in [
            ("emergency contact", &self.emergency_contact),
            ("GP", &self.gp),
        ] {
            if let Some(v) = v {
                check_text(what, v, 500)?;
            }
        }
        if self.aliases.len() > 20 {
            return Err(CoreError::invalid("at most 20 aliases"));
        }
        for a in &self.aliases {
            check_text("alias", a, 200)?;
        }
        Ok(())
    }
}

/// A client's identity details, inside an action that has audited the read.
pub(crate) fn identity_of(tx: &rusqlite::Connection, code: &str) -> Result<Option<ClientIdentity>> {
    read_identity(tx, code)
}

fn read_identity(tx: &rusqlite::Connection, code: &str) -> Result<Option<ClientIdentity>> {
    Ok(tx
        .query_row(
            "SELECT full_name, date_of_birth, email, phone, emergency_contact, gp, aliases, nhs_number
             FROM identity.client_identity WHERE code = ?1 AND deleted = 0",
            [code],
            |r| {
                let aliases: Option<String> = r.get(6)?;
                Ok(ClientIdentity {
                    full_name: r.get(0)?,
                    date_of_birth: r.get(1)?,
                    email: r.get(2)?,
                    phone: r.get(3)?,
                    emergency_contact: r.get(4)?,
                    gp: r.get(5)?,
                    nhs_number: r.get(7)?,
                    aliases: aliases
                        .and_then(|a| serde_json::from_str(&a).ok())
                        .unwrap_or_default(),
                })
            },
        )
        .optional()?)
}

fn read_client(tx: &rusqlite::Connection, code: &ClientCode) -> Result<Client> {
    require_client(tx, code.as_str())?;
    let (status, opened_on, ended_on): (String, NaiveDate, Option<NaiveDate>) = tx.query_row(
        "SELECT status, opened_on, ended_on FROM clients WHERE code = ?1",
        [code.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Client {
        code: code.clone(),
        status: if status == "closed" {
            ClientStatus::Closed
        } else {
            ClientStatus::Active
        },
        opened_on,
        ended_on,
        identity: read_identity(tx, code.as_str())?,
    })
}

/// A client in a list: code, status, name.
#[derive(Clone, Debug, Serialize)]
pub struct ClientSummary {
    pub code: ClientCode,
    pub status: ClientStatus,
    pub full_name: Option<String>,
    pub ended_on: Option<NaiveDate>,
}

/// A [`ClientSummary`] from a row whose first four columns are code, status, full name and
/// the date therapy ended (the client lists' queries).
pub(crate) fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientSummary> {
    let status: String = r.get(1)?;
    Ok(ClientSummary {
        code: ClientCode(r.get(0)?),
        status: if status == "closed" {
            ClientStatus::Closed
        } else {
            ClientStatus::Active
        },
        full_name: r.get(2)?,
        ended_on: r.get(3)?,
    })
}

/// Where this computer's device letter is kept (device-local settings).
const DEVICE_LETTER: &str = "device.code_letter";

/// This computer's device letter, once sync has given it one.
pub(crate) fn device_letter(conn: &rusqlite::Connection) -> Result<Option<char>> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM main.meta WHERE key = ?1",
            [DEVICE_LETTER],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.chars().next())
        .filter(|c| ClientCode::is_code_symbol(*c)))
}

/// Gives this computer its device letter (from its entry in the signed device list).
pub(crate) fn set_device_letter(conn: &rusqlite::Connection, letter: char) -> Result<()> {
    if !ClientCode::is_code_symbol(letter) {
        return Err(CoreError::invalid(format!(
            "'{letter}' is not a code symbol"
        )));
    }
    conn.execute(
        "INSERT INTO main.meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        rusqlite::params![DEVICE_LETTER, letter.to_string()],
    )?;
    Ok(())
}

/// The first of `candidates` that is neither in use nor an erased client's: erasure records
/// are replayed at restore and arrive by sync, and would erase a new client given the code.
fn free_code(
    conn: &rusqlite::Connection,
    mut candidates: impl FnMut() -> ClientCode,
) -> Result<ClientCode> {
    loop {
        let c = candidates();
        let taken: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM main.clients WHERE code = ?1)
                 OR EXISTS(SELECT 1 FROM main.erasure_records WHERE client_code = ?1)",
            [c.as_str()],
            |r| r.get(0),
        )?;
        if !taken {
            return Ok(c);
        }
    }
}

/// Adds a client inside an action: a new random code in the clinical store, their identity
/// in the identity store. Sets the action's client and object. `identity` must be valid.
pub(crate) fn insert_client(cx: &mut Ctx<'_>, identity: &ClientIdentity) -> Result<ClientCode> {
    let letter = device_letter(cx.tx)?;
    let code = free_code(cx.tx, || ClientCode::random(letter))?;
    let id = new_id();
    let opened_on = cx.now.with_timezone(&Local).date_naive();
    let hlc = cx.stamp();
    cx.tx.execute(
        "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES (?1, ?2, 'active', ?3, ?4, ?5)",
        params![id, code.as_str(), opened_on, hlc, cx.device_id],
    )?;
    let ihlc = cx.stamp();
    cx.tx.execute(
        "INSERT INTO identity.client_identity
         (code, full_name, date_of_birth, email, phone, emergency_contact, gp, hlc, device_id, aliases, nhs_number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            code.as_str(),
            identity.full_name.trim(),
            identity.date_of_birth,
            identity.email,
            identity.phone,
            identity.emergency_contact,
            identity.gp,
            ihlc,
            cx.device_id,
            aliases_json(&identity.aliases),
            identity.nhs_number.as_deref().map(nhs_number).transpose()?,
        ],
    )?;
    cx.client(code.as_str());
    cx.object(&id);
    Ok(code)
}

/// A client's whole file ([`Vault::client_file`]).
#[derive(Clone, Debug, Serialize)]
pub struct ClientFileParts {
    pub client: Client,
    pub appointments: Vec<super::appointments::Appointment>,
    pub notes: Vec<super::notes::SessionNote>,
    pub process_notes: Vec<super::process_notes::ProcessNote>,
    pub measures: Vec<super::measures::OutcomeMeasure>,
    pub risk: Option<super::risk::RiskFlag>,
}

impl Vault {
    /// Adds a client: a new random code in the clinical store, their identity in the identity store.
    pub fn add_client(&mut self, identity: ClientIdentity) -> Result<Client> {
        identity.validate()?;
        self.act(Action::ClientCreate, |cx| {
            let code = insert_client(cx, &identity)?;
            read_client(cx.tx, &code)
        })
    }

    /// Every client, names resolved through the identity store, ordered by name.
    pub fn list_clients(&mut self, include_closed: bool) -> Result<Vec<ClientSummary>> {
        self.act(Action::ClientList, |cx| {
            let mut stmt = cx.tx.prepare(
                "SELECT c.code, c.status, i.full_name, c.ended_on FROM clients c
                 LEFT JOIN identity.client_identity i ON i.code = c.code AND i.deleted = 0
                 WHERE c.deleted = 0 AND (?1 OR c.status = 'active')
                 ORDER BY i.full_name COLLATE NOCASE, c.code",
            )?;
            let rows = stmt.query_map([include_closed], summary_row)?;
            let list = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            cx.detail(format!("count={}", list.len()));
            Ok(list)
        })
    }

    /// One client's record (identity included). Audited as a read of that client.
    pub fn client(&mut self, code: &ClientCode) -> Result<Client> {
        self.act(Action::ClientRead, |cx| {
            cx.client(code.as_str());
            read_client(cx.tx, code)
        })
    }

    /// A client's whole file as the app's client screen shows it — the record, sessions,
    /// notes, process notes, measures and the risk flag — read in one transaction: each part
    /// still has its own audit entry (as if read one by one), but the trail is written and
    /// synced to disk once, not six times.
    pub fn client_file(&mut self, code: &ClientCode) -> Result<ClientFileParts> {
        self.act(Action::ClientRead, |cx| {
            let appointments = Self::appointments_in(cx, code)?;
            cx.also(Action::AppointmentList);
            let notes = Self::notes_in(cx, code)?;
            cx.also(Action::NoteList);
            let process_notes = Self::process_notes_in(cx, code)?;
            cx.also(Action::ProcessNoteList);
            let measures = Self::measures_in(cx, code)?;
            cx.also(Action::MeasureList);
            let risk = Self::risk_flag_in(cx, code)?;
            cx.also(Action::NoteList);
            cx.client(code.as_str());
            let client = read_client(cx.tx, code)?;
            Ok(ClientFileParts {
                client,
                appointments,
                notes,
                process_notes,
                measures,
                risk,
            })
        })
    }

    /// Closes a client's file: therapy ended on `ended_on`.
    pub fn close_client(&mut self, code: &ClientCode, ended_on: NaiveDate) -> Result<Client> {
        self.act(Action::ClientClose, |cx| {
            let client = read_client(cx.tx, code)?;
            if client.status == ClientStatus::Closed {
                return Err(CoreError::Conflict(format!(
                    "client {code} is already closed (therapy ended {})",
                    client.ended_on.map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_default()
                )));
            }
            if ended_on > cx.now.with_timezone(&Local).date_naive() {
                return Err(CoreError::invalid("the end of therapy is in the future"));
            }
            let hlc = cx.stamp();
            let id: String = cx.tx.query_row(
                "UPDATE clients SET status = 'closed', ended_on = ?2, hlc = ?3, device_id = ?4 WHERE code = ?1 RETURNING id",
                params![code.as_str(), ended_on, hlc, cx.device_id],
                |r| r.get(0),
            )?;
            super::retention::recompute(cx, code.as_str())?;
            cx.client(code.as_str());
            cx.object(&id);
            read_client(cx.tx, code)
        })
    }

    /// Corrects a client's identity details (rectification). Each changed field's old and
    /// new value go to the identity history, in the same audited transaction; the audit
    /// entry names the fields, never their values.
    pub fn edit_client(
        &mut self,
        code: &ClientCode,
        changes: &IdentityChanges,
        reason: Option<&str>,
    ) -> Result<Client> {
        if let Some(r) = reason {
            check_text("reason", r, 500)?;
        }
        self.act(Action::ClientEdit, |cx| {
            require_client(cx.tx, code.as_str())?;
            let old = read_identity(cx.tx, code.as_str())?.ok_or_else(|| {
                CoreError::Corrupt(format!("client {code} has no identity row"))
            })?;
            let mut new = old.clone();
            if let Some(v) = &changes.full_name {
                new.full_name = v.trim().to_string();
            }
            if let Some(v) = changes.date_of_birth {
                new.date_of_birth = v;
            }
            let tidy = |o: &Option<String>| o.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            if let Some(v) = &changes.email {
                new.email = tidy(v);
            }
            if let Some(v) = &changes.phone {
                new.phone = tidy(v);
            }
            if let Some(v) = &changes.emergency_contact {
                new.emergency_contact = tidy(v);
            }
            if let Some(v) = &changes.gp {
                new.gp = tidy(v);
            }
            if let Some(v) = &changes.nhs_number {
                new.nhs_number = tidy(v).map(|n| nhs_number(&n)).transpose()?;
            }
            if let Some(v) = &changes.aliases {
                new.aliases = v.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
            }
            new.validate()?;
            let show = |d: Option<NaiveDate>| d.map(|d| d.to_string());
            let diffs: Vec<(&str, Option<String>, Option<String>)> = [
                ("full_name", Some(old.full_name.clone()), Some(new.full_name.clone())),
                ("date_of_birth", show(old.date_of_birth), show(new.date_of_birth)),
                ("email", old.email.clone(), new.email.clone()),
                ("phone", old.phone.clone(), new.phone.clone()),
                ("emergency_contact", old.emergency_contact.clone(), new.emergency_contact.clone()),
                ("gp", old.gp.clone(), new.gp.clone()),
                ("nhs_number", old.nhs_number.clone(), new.nhs_number.clone()),
                ("aliases", aliases_json(&old.aliases), aliases_json(&new.aliases)),
            ]
            .into_iter()
            .filter(|(_, a, b)| a != b)
            .collect();
            if diffs.is_empty() {
                return Err(CoreError::invalid("nothing to change: every detail given is as it was"));
            }
            for (field, before, after) in &diffs {
                let hlc = cx.stamp();
                cx.tx.execute(
                    "INSERT INTO identity.identity_history (id, n, code, changed_at, field, old_value, new_value, reason, hlc, device_id)
                     VALUES (?1, (SELECT coalesce(max(n), 0) + 1 FROM identity.identity_history), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![new_id(), code.as_str(), crate::vault::timestamp(cx.now), field, before, after, reason.map(str::trim), hlc, cx.device_id],
                )?;
            }
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE identity.client_identity SET full_name = ?2, date_of_birth = ?3, email = ?4, phone = ?5,
                 emergency_contact = ?6, gp = ?7, aliases = ?8, hlc = ?9, device_id = ?10, nhs_number = ?11 WHERE code = ?1",
                params![
                    code.as_str(), new.full_name, new.date_of_birth, new.email, new.phone,
                    new.emergency_contact, new.gp, aliases_json(&new.aliases), hlc, cx.device_id,
                    new.nhs_number
                ],
            )?;
            super::retention::recompute(cx, code.as_str())?;
            cx.client(code.as_str());
            cx.detail(format!(
                "fields={}",
                diffs.iter().map(|(f, _, _)| *f).collect::<Vec<_>>().join(",")
            ));
            read_client(cx.tx, code)
        })
    }

    /// What a client's identity details said before each change, oldest first. Audited.
    pub fn client_history(&mut self, code: &ClientCode) -> Result<Vec<IdentityChange>> {
        self.act(Action::ClientHistory, |cx| {
            require_client(cx.tx, code.as_str())?;
            let mut stmt = cx.tx.prepare(
                "SELECT changed_at, field, old_value, new_value, reason FROM identity.identity_history
                 WHERE code = ?1 ORDER BY changed_at, n",
            )?;
            let list = stmt
                .query_map([code.as_str()], |r| {
                    Ok(IdentityChange {
                        changed_at: r.get(0)?,
                        field: r.get(1)?,
                        old_value: r.get(2)?,
                        new_value: r.get(3)?,
                        reason: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            cx.client(code.as_str());
            cx.detail(format!("count={}", list.len()));
            Ok(list)
        })
    }

    /// The display name for a code (for search results and lists); not audited on its own,
    /// it is always part of an audited action.
    pub(crate) fn names_for(tx: &rusqlite::Connection, code: &str) -> Result<Option<String>> {
        Ok(read_identity(tx, code)?.map(|i| i.full_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identity_changes_tell_absent_from_null() {
        let c: IdentityChanges =
            serde_json::from_str(r#"{"email": null, "phone": "0123 456789"}"#).unwrap();
        assert_eq!(c.email, Some(None));
        assert_eq!(c.phone, Some(Some("0123 456789".into())));
        assert_eq!(c.gp, None);
        assert_eq!(c.date_of_birth, None);
    }

    #[test]
    fn nhs_numbers_are_ten_digits_with_their_check_digit() {
        assert_eq!(nhs_number("943 476 5919").unwrap(), "9434765919");
        assert_eq!(nhs_number("943-476-5919").unwrap(), "9434765919");
        assert_eq!(nhs_number("943\u{a0}476\t5919").unwrap(), "9434765919");
        // One digit mistyped, two swapped, too short, letters: all refused.
        for bad in [
            "943 476 5918",
            "934 476 5919",
            "943 476 591",
            "94347659l9",
            "",
        ] {
            assert!(nhs_number(bad).is_err(), "{bad} was taken");
        }
    }

    proptest! {
        /// Any single mistyped digit of a valid number is caught (the point of modulus 11).
        #[test]
        fn a_single_mistyped_digit_is_caught(pos in 0usize..10, digit in 0u32..10) {
            let good = "9434765919";
            let mut d: Vec<char> = good.chars().collect();
            prop_assume!(d[pos].to_digit(10) != Some(digit));
            d[pos] = char::from_digit(digit, 10).unwrap();
            let typed: String = d.into_iter().collect();
            prop_assert!(nhs_number(&typed).is_err());
        }
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        for _ in 0..200 {
            let c = ClientCode::random(None);
            assert!(c.as_str().starts_with("C-"));
            assert!(!c.as_str()[2..].contains(['0', 'O', '1', 'I', 'L', 'U']));
            assert_eq!(ClientCode::parse(&c.as_str().to_lowercase()).unwrap(), c);
        }
    }

    #[test]
    fn a_device_letter_starts_every_code_it_makes() {
        for letter in CODE_ALPHABET.iter().map(|b| *b as char) {
            let c = ClientCode::random(Some(letter));
            assert_eq!(c.as_str().chars().nth(2), Some(letter));
            assert_eq!(ClientCode::parse(c.as_str()).unwrap(), c);
        }
        assert!(!ClientCode::is_code_symbol('0') && !ClientCode::is_code_symbol('é'));
    }

    /// The bug of issue 17: a new client could be given an erased client's code, and the
    /// erasure replay at restore (and every sync) would then erase the new client.
    #[test]
    fn a_new_code_is_never_one_in_use_or_an_erased_clients() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("ATTACH DATABASE ':memory:' AS identity")
            .unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h', 'd');
             INSERT INTO erasure_records (id, client_code, erased_at, reason, kind, hlc, device_id)
             VALUES ('e1', 'C-BBBB', 't', 'request', 'erasure', 'h', 'd');",
        )
        .unwrap();
        set_device_letter(&conn, 'K').unwrap();
        assert_eq!(device_letter(&conn).unwrap(), Some('K'));
        assert!(set_device_letter(&conn, 'O').is_err());
        let mut offered = ["C-BBBB", "C-AAAA", "C-CCCC"].into_iter();
        let got = free_code(&conn, || ClientCode(offered.next().unwrap().into())).unwrap();
        assert_eq!(got.as_str(), "C-CCCC");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_only_accepts_codes(s in "\\PC{0,20}") {
            if let Ok(c) = ClientCode::parse(&s) {
                prop_assert_eq!(c.as_str().len(), 6);
            }
        }
    }
}
