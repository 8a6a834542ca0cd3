//! How long records are kept: the practice's [`RetentionPolicy`], each client's review date,
//! and the review list of clients whose date has come (or comes within 90 days).
//!
//! Defaults (PRODUCT.md): adults 7 years after the last session; under-18s until the later
//! of their 25th birthday (26th if 17 when therapy ended) and 7 years. Every figure is
//! adjustable; named presets cover common practice settings. The age at the end of therapy
//! comes from the identity store; the clinical store receives only the computed review date,
//! recomputed whenever a date it depends on or the policy changes (the sentence explaining
//! it is made when it is read, from both stores). A per-client override (with a reason) replaces the computed date.

use chrono::{Datelike, Months, NaiveDate};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::require_client;
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::records::clients::ClientCode;
use crate::vault::{Ctx, Vault};

/// How far ahead the review list looks.
pub const REVIEW_AHEAD_DAYS: i64 = 90;

/// The practice's retention rules. Years and ages are whole numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// A short name for the policy (a preset's name, or the practice's own).
    pub name: String,
    /// Adults: kept this many years after the last session.
    pub adult_years: u32,
    /// Under-18s at the end of therapy: kept until this birthday…
    pub minor_until_age: u32,
    /// …or this one if they were 17 when therapy ended…
    pub minor_until_age_if_17: u32,
    /// …and at least this many years after the last session, whichever is later.
    pub minor_min_years: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self::preset("bacp").unwrap_or_else(|| unreachable!("the default preset exists"))
    }
}

/// The named presets: (id, policy).
pub fn presets() -> Vec<(&'static str, RetentionPolicy)> {
    let p = |name: &str, adult, until, until17, min| RetentionPolicy {
        name: name.to_string(),
        adult_years: adult,
        minor_until_age: until,
        minor_until_age_if_17: until17,
        minor_min_years: min,
    };
    vec![
        ("bacp", p("BACP / NCPS common practice", 7, 25, 26, 7)),
        (
            "nhs-adult",
            p(
                "NHS Records Management Code 2021: adults 8 years",
                8,
                25,
                26,
                8,
            ),
        ),
        (
            "nhs-mental-health",
            p(
                "NHS Records Management Code 2021: mental health 20 years",
                20,
                25,
                26,
                20,
            ),
        ),
    ]
}

impl RetentionPolicy {
    /// A preset by its id (`bacp`, `nhs-adult`, `nhs-mental-health`).
    pub fn preset(id: &str) -> Option<Self> {
        presets()
            .into_iter()
            .find(|(k, _)| *k == id)
            .map(|(_, p)| p)
    }

    /// Refuses figures no policy could mean.
    pub fn checked(self) -> Result<Self> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(CoreError::invalid("name the policy (up to 120 characters)"));
        }
        for (what, v) in [
            ("years for adults", self.adult_years),
            ("minimum years for under-18s", self.minor_min_years),
        ] {
            if !(1..=100).contains(&v) {
                return Err(CoreError::invalid(format!(
                    "the {what} must be between 1 and 100"
                )));
            }
        }
        for (what, v) in [
            (
                "birthday to keep under-18s' records until",
                self.minor_until_age,
            ),
            (
                "birthday for those 17 at the end",
                self.minor_until_age_if_17,
            ),
        ] {
            if !(18..=100).contains(&v) {
                return Err(CoreError::invalid(format!(
                    "the {what} must be between 18 and 100"
                )));
            }
        }
        Ok(Self {
            name: name.to_string(),
            ..self
        })
    }

    /// The review date for records whose last session was `last`, for a client born on
    /// `born` (unknown: the adult rule), with the reason in words.
    pub fn review_date(&self, last: NaiveDate, born: Option<NaiveDate>) -> (NaiveDate, String) {
        let after = |years: u32| add_years(last, years);
        let Some(born) = born else {
            return (
                after(self.adult_years),
                format!(
                    "{} years after the last session (date of birth not recorded: adult rule)",
                    self.adult_years
                ),
            );
        };
        let age = age_on(born, last);
        if age >= 18 {
            return (
                after(self.adult_years),
                format!("adult: {} years after the last session", self.adult_years),
            );
        }
        let until_age = if age == 17 {
            self.minor_until_age_if_17
        } else {
            self.minor_until_age
        };
        let birthday = add_years(born, until_age);
        let min = after(self.minor_min_years);
        if birthday >= min {
            (
                birthday,
                format!(
                    "under 18 at the end ({age}): until the {} birthday",
                    ordinal(until_age)
                ),
            )
        } else {
            (
                min,
                format!(
                    "under 18 at the end ({age}): {} years after the last session (later than the {} birthday)",
                    self.minor_min_years,
                    ordinal(until_age)
                ),
            )
        }
    }
}

/// `d` plus whole years; 29 February becomes 28 February in a common year.
pub fn add_years(d: NaiveDate, years: u32) -> NaiveDate {
    d.checked_add_months(Months::new(years.saturating_mul(12)))
        .unwrap_or(NaiveDate::MAX)
}

/// Age in whole years on a day.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> u32 {
    let mut age = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// One line of the retention review.
#[derive(Clone, Debug, Serialize)]
pub struct RetentionItem {
    pub code: String,
    pub full_name: Option<String>,
    pub status: String,
    pub last_session: Option<NaiveDate>,
    pub review_on: NaiveDate,
    pub basis: String,
    /// True when the review date has passed.
    pub due: bool,
    pub override_reason: Option<String>,
}

const POLICY_KEY: &str = "retention_policy";

pub(crate) fn read_policy(tx: &rusqlite::Connection) -> Result<RetentionPolicy> {
    let json: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [POLICY_KEY], |r| {
            r.get(0)
        })
        .optional()?;
    match json {
        None => Ok(RetentionPolicy::default()),
        Some(j) => serde_json::from_str(&j)
            .map_err(|e| CoreError::Corrupt(format!("the stored retention policy: {e}"))),
    }
}

/// The last session of a client: the end of therapy if recorded, else the latest attended
/// session or note; `None` when there is nothing yet.
fn last_session(tx: &rusqlite::Connection, code: &str) -> Result<Option<NaiveDate>> {
    let ended: Option<NaiveDate> = tx.query_row(
        "SELECT ended_on FROM clients WHERE code = ?1",
        [code],
        |r| r.get(0),
    )?;
    if ended.is_some() {
        return Ok(ended);
    }
    let latest: Option<String> = tx.query_row(
        "SELECT max(t) FROM (
            SELECT substr(starts_at, 1, 10) AS t FROM appointments WHERE client_code = ?1 AND deleted = 0 AND status = 'attended'
            UNION ALL SELECT substr(created_at, 1, 10) FROM session_notes WHERE client_code = ?1 AND deleted = 0)",
        [code],
        |r| r.get(0),
    )?;
    Ok(latest.and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok()))
}

/// The date of birth, from the identity store (never copied into the clinical store).
fn born(tx: &rusqlite::Connection, code: &str) -> Result<Option<NaiveDate>> {
    Ok(tx
        .query_row(
            "SELECT date_of_birth FROM identity.client_identity WHERE code = ?1 AND deleted = 0",
            [code],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Recomputes and stores one client's review date (called inside any action that changes
/// a date it depends on). Only the date reaches the clinical store: the age it was computed
/// from stays in the identity store, and the sentence explaining it is made when read.
pub(crate) fn recompute(cx: &mut Ctx<'_>, code: &str) -> Result<()> {
    let policy = read_policy(cx.tx)?;
    let review_on = match last_session(cx.tx, code)? {
        Some(last) => Some(policy.review_date(last, born(cx.tx, code)?).0),
        None => None,
    };
    // Called on reads too (the review list, a client's date), and on every identity edit:
    // write only what changed (no row and no date are the same: nothing to review yet), so
    // an edit of an email sends nothing of the clinical store to the other computers.
    let stored: Option<Option<NaiveDate>> = cx
        .tx
        .query_row(
            "SELECT review_on FROM client_retention WHERE client_code = ?1",
            [code],
            |r| r.get(0),
        )
        .optional()?;
    if stored.flatten() == review_on {
        return Ok(());
    }
    let hlc = cx.stamp();
    cx.tx.execute(
        "INSERT INTO client_retention (client_code, review_on, basis, hlc, device_id) VALUES (?1, ?2, NULL, ?3, ?4)
         ON CONFLICT(client_code) DO UPDATE SET review_on = excluded.review_on, basis = NULL,
             hlc = excluded.hlc, device_id = excluded.device_id",
        params![code, review_on, hlc, cx.device_id],
    )?;
    Ok(())
}

fn recompute_all(cx: &mut Ctx<'_>) -> Result<usize> {
    let codes: Vec<String> = cx
        .tx
        .prepare("SELECT code FROM clients WHERE deleted = 0")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for c in &codes {
        recompute(cx, c)?;
    }
    Ok(codes.len())
}

/// A client's effective review date and its basis in words (the override wins), with the
/// override's reason if there is one.
pub(crate) fn review_of(
    tx: &rusqlite::Connection,
    code: &str,
) -> Result<Option<(NaiveDate, String, Option<String>)>> {
    let row: Option<(Option<NaiveDate>, Option<NaiveDate>, Option<String>)> = tx
        .query_row(
            "SELECT review_on, override_review_on, override_reason FROM client_retention WHERE client_code = ?1",
            [code],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(match row {
        Some((_, Some(o), reason)) => Some((
            o,
            format!("extended: {}", reason.clone().unwrap_or_default()),
            reason,
        )),
        Some((Some(d), None, _)) => {
            let basis = match last_session(tx, code)? {
                Some(last) => read_policy(tx)?.review_date(last, born(tx, code)?).1,
                None => String::new(),
            };
            Some((d, basis, None))
        }
        _ => None,
    })
}

impl Vault {
    /// The practice's retention policy (the default until one is set).
    pub fn retention_policy(&mut self) -> Result<RetentionPolicy> {
        read_policy(&self.conn)
    }

    /// Sets the retention policy and recomputes every client's review date. Audited.
    pub fn set_retention_policy(&mut self, policy: RetentionPolicy) -> Result<RetentionPolicy> {
        let policy = policy.checked()?;
        self.act(Action::RetentionPolicySet, |cx| {
            let json = serde_json::to_string(&policy)
                .map_err(|e| CoreError::Corrupt(e.to_string()))?;
            cx.tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![POLICY_KEY, json],
            )?;
            let n = recompute_all(cx)?;
            cx.detail(format!(
                "adult_years={} minor_until_age={} minor_until_age_if_17={} minor_min_years={} clients={n}",
                policy.adult_years, policy.minor_until_age, policy.minor_until_age_if_17, policy.minor_min_years
            ));
            Ok(policy.clone())
        })
    }

    /// Clients whose review date has passed or falls within 90 days of `today`, earliest
    /// first. Audited (it lists names).
    pub fn retention_review(&mut self, today: NaiveDate) -> Result<Vec<RetentionItem>> {
        self.act(Action::RetentionReview, |cx| {
            // Dates may be stale for clients changed before this build; bring them up to date.
            recompute_all(cx)?;
            let horizon = today + chrono::Duration::days(REVIEW_AHEAD_DAYS);
            let codes: Vec<(String, String)> = cx
                .tx
                .prepare("SELECT code, status FROM clients WHERE deleted = 0")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for (code, status) in codes {
                let Some((review_on, basis, override_reason)) = review_of(cx.tx, &code)? else {
                    continue;
                };
                if review_on > horizon {
                    continue;
                }
                out.push(RetentionItem {
                    full_name: Vault::names_for(cx.tx, &code)?,
                    last_session: last_session(cx.tx, &code)?,
                    code,
                    status,
                    review_on,
                    basis,
                    due: review_on <= today,
                    override_reason,
                });
            }
            out.sort_by(|a, b| (a.review_on, &a.code).cmp(&(b.review_on, &b.code)));
            cx.detail(format!("count={}", out.len()));
            Ok(out)
        })
    }

    /// Keeps a client's records until `until` (a later review), for a stated reason.
    /// Passing `None` removes the override. Audited.
    pub fn extend_retention(
        &mut self,
        code: &ClientCode,
        until: Option<NaiveDate>,
        reason: &str,
    ) -> Result<()> {
        super::check_text("reason", reason, 500)?;
        self.act(Action::RetentionExtend, |cx| {
            require_client(cx.tx, code.as_str())?;
            super::erasure::check_reason_has_no_name(cx, code.as_str(), reason)?;
            recompute(cx, code.as_str())?;
            if let Some(until) = until {
                let computed: Option<NaiveDate> = cx.tx.query_row(
                    "SELECT review_on FROM client_retention WHERE client_code = ?1",
                    [code.as_str()],
                    |r| r.get(0),
                )?;
                // An extension keeps records longer; it can never bring destruction forward.
                if computed.is_some_and(|c| until <= c) {
                    return Err(CoreError::invalid(format!(
                        "an extension must be later than the review date the policy gives ({}); nothing was changed",
                        computed.map(|c| c.format("%d/%m/%Y").to_string()).unwrap_or_default()
                    )));
                }
            }
            let hlc = cx.stamp();
            cx.tx.execute(
                "UPDATE client_retention SET override_review_on = ?2, override_reason = ?3, hlc = ?4, device_id = ?5
                 WHERE client_code = ?1",
                params![code.as_str(), until, until.map(|_| reason.trim()), hlc, cx.device_id],
            )?;
            cx.client(code.as_str());
            cx.detail(match until {
                Some(d) => format!("until={d}"),
                None => "override_removed".into(),
            });
            Ok(())
        })
    }

    /// One client's effective review date and basis, if there is one yet.
    pub fn retention_of(&mut self, code: &ClientCode) -> Result<Option<(NaiveDate, String)>> {
        self.act(Action::ClientRead, |cx| {
            require_client(cx.tx, code.as_str())?;
            recompute(cx, code.as_str())?;
            cx.client(code.as_str());
            cx.detail("retention");
            Ok(review_of(cx.tx, code.as_str())?.map(|(d, b, _)| (d, b)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn adults_are_kept_seven_years_after_the_last_session() {
        let p = RetentionPolicy::default();
        let (date, basis) = p.review_date(d("2026-05-20"), Some(d("1980-01-01")));
        assert_eq!(date, d("2033-05-20"));
        assert!(basis.starts_with("adult"));
        // Unknown birth date: the adult rule, said so.
        let (date, basis) = p.review_date(d("2026-05-20"), None);
        assert_eq!(date, d("2033-05-20"));
        assert!(basis.contains("not recorded"));
    }

    #[test]
    fn a_client_17_at_the_end_is_kept_until_their_26th_birthday() {
        let p = RetentionPolicy::default();
        // Born 2009-03-10, therapy ended 2026-06-01 aged 17: 26th birthday 2035-03-10,
        // later than 7 years (2033-06-01).
        let (date, basis) = p.review_date(d("2026-06-01"), Some(d("2009-03-10")));
        assert_eq!(date, d("2035-03-10"));
        assert!(basis.contains("26th"), "{basis}");
    }

    #[test]
    fn a_client_12_at_the_end_is_kept_until_their_25th_birthday() {
        let p = RetentionPolicy::default();
        // Born 2014-02-01, ended 2026-04-15 aged 12: 25th birthday 2039-02-01.
        let (date, basis) = p.review_date(d("2026-04-15"), Some(d("2014-02-01")));
        assert_eq!(date, d("2039-02-01"));
        assert!(basis.contains("25th"), "{basis}");
    }

    #[test]
    fn the_seven_year_minimum_wins_when_it_is_later() {
        // Ended aged 17 with the 26th birthday sooner than the minimum years.
        let p = RetentionPolicy {
            minor_min_years: 10,
            ..RetentionPolicy::default()
        };
        let (date, basis) = p.review_date(d("2026-06-01"), Some(d("2009-01-01")));
        // 26th birthday 2035-01-01 < 10 years 2036-06-01.
        assert_eq!(date, d("2036-06-01"));
        assert!(basis.contains("10 years"), "{basis}");
    }

    #[test]
    fn presets_and_checks() {
        let nhs = RetentionPolicy::preset("nhs-adult").unwrap();
        assert_eq!(nhs.review_date(d("2026-01-31"), None).0, d("2034-01-31"));
        let mh = RetentionPolicy::preset("nhs-mental-health").unwrap();
        assert_eq!(mh.review_date(d("2026-01-31"), None).0, d("2046-01-31"));
        assert!(
            RetentionPolicy {
                adult_years: 0,
                ..Default::default()
            }
            .checked()
            .is_err()
        );
        assert!(
            RetentionPolicy {
                minor_until_age: 12,
                ..Default::default()
            }
            .checked()
            .is_err()
        );
        // Leap day plus whole years lands on 28 February.
        assert_eq!(add_years(d("2024-02-29"), 7), d("2031-02-28"));
        assert_eq!(age_on(d("2009-03-10"), d("2026-03-09")), 16);
        assert_eq!(age_on(d("2009-03-10"), d("2026-03-10")), 17);
    }
}
