//! Recurring sessions: which dates a weekly, fortnightly or every-N-weeks series falls on.
//!
//! A series is kept in *local wall time* (the therapist's 10:00 stays 10:00 across the clock
//! changes in March and October), and each session is turned into UTC only when it is booked.
//! A local time that does not exist (inside the spring-forward gap) is moved an hour later; one
//! that exists twice (the autumn overlap) takes the first. Pure logic: the vault books the
//! sessions ([`crate::Vault::add_series`]).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::error::{CoreError, Result};

/// The most sessions one series books.
pub const MAX_SESSIONS: u32 = 200;
/// How far ahead a series may run (`--until`), from its first session.
pub const MAX_DAYS: i64 = 2 * 366;

/// How often a series repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    Weekly,
    Fortnightly,
    /// Every N weeks (1 to 12).
    EveryWeeks(u32),
}

impl Repeat {
    /// Weeks between two sessions.
    pub fn weeks(self) -> u32 {
        match self {
            Repeat::Weekly => 1,
            Repeat::Fortnightly => 2,
            Repeat::EveryWeeks(n) => n,
        }
    }

    /// Reads `weekly`, `fortnightly` or `every-N-weeks` (the CLI's `--repeat`).
    pub fn parse(s: &str) -> Result<Repeat> {
        let s = s.trim().to_ascii_lowercase();
        let r = match s.as_str() {
            "weekly" => Repeat::Weekly,
            "fortnightly" => Repeat::Fortnightly,
            other => {
                let n = other
                    .strip_prefix("every-")
                    .and_then(|r| r.strip_suffix("-weeks").or_else(|| r.strip_suffix("-week")))
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or_else(|| {
                        CoreError::invalid(format!(
                            "'{other}' is not a repeat: use weekly, fortnightly or every-N-weeks (e.g. every-3-weeks)"
                        ))
                    })?;
                Repeat::EveryWeeks(n)
            }
        };
        if !(1..=12).contains(&r.weeks()) {
            return Err(CoreError::invalid("a series repeats every 1 to 12 weeks"));
        }
        Ok(r)
    }
}

/// When a series stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesEnd {
    /// After this many sessions (1 to [`MAX_SESSIONS`]).
    Count(u32),
    /// On or before this date (local).
    Until(NaiveDate),
}

/// The local wall time `at` in `tz` as UTC: the first of two in the autumn overlap, an hour
/// later inside the spring gap.
pub fn local_to_utc<Z: TimeZone>(tz: &Z, at: NaiveDateTime) -> Result<DateTime<Utc>> {
    tz.from_local_datetime(&at)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(at + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| CoreError::invalid(format!("{at} does not exist in local time")))
}

/// The sessions of a series starting at local `first`, `minutes` long: (start, end) in UTC,
/// each at the same local time and weekday as the first.
pub fn sessions<Z: TimeZone>(
    tz: &Z,
    first: NaiveDateTime,
    minutes: u32,
    repeat: Repeat,
    end: SeriesEnd,
) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    if minutes == 0 || minutes > 720 {
        return Err(CoreError::invalid(
            "a session lasts between 1 and 720 minutes",
        ));
    }
    let weeks = repeat.weeks();
    if !(1..=12).contains(&weeks) {
        return Err(CoreError::invalid("a series repeats every 1 to 12 weeks"));
    }
    let count = match end {
        SeriesEnd::Count(n) if (1..=MAX_SESSIONS).contains(&n) => n,
        SeriesEnd::Count(_) => {
            return Err(CoreError::invalid(format!(
                "a series has between 1 and {MAX_SESSIONS} sessions"
            )));
        }
        SeriesEnd::Until(last) => {
            let days = (last - first.date()).num_days();
            if days < 0 {
                return Err(CoreError::invalid(
                    "the series ends before its first session",
                ));
            }
            if days > MAX_DAYS {
                return Err(CoreError::invalid(
                    "a series can run for at most two years: book the rest later",
                ));
            }
            (days / (7 * i64::from(weeks))) as u32 + 1
        }
    };
    if count > MAX_SESSIONS {
        return Err(CoreError::invalid(format!(
            "that series would book more than {MAX_SESSIONS} sessions"
        )));
    }
    let length = Duration::minutes(i64::from(minutes));
    (0..count)
        .map(|i| {
            let at = first + Duration::weeks(i64::from(i * weeks));
            let start = local_to_utc(tz, at)?;
            // As long as asked, even across a clock change in the small hours.
            Ok((start, start + length))
        })
        .collect()
}

/// The local wall time `at` shifted by what moved `from` to `to` in local time (moving "this
/// and the following" sessions keeps each one's local time across clock changes).
pub fn shifted<Z: TimeZone>(
    tz: &Z,
    at: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let local = |t: DateTime<Utc>| t.with_timezone(tz).naive_local();
    local_to_utc(tz, local(at) + (local(to) - local(from)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveTime, Timelike};
    use chrono_tz::Europe::London;
    use proptest::prelude::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// A weekly series across the March and October clock changes stays at 10:00 London time
    /// (its UTC hour moves instead).
    #[test]
    fn a_weekly_series_keeps_its_local_time_across_the_clock_changes() {
        let s = sessions(
            &London,
            at("2027-03-15 10:00"),
            50,
            Repeat::Weekly,
            SeriesEnd::Until(NaiveDate::from_ymd_opt(2027, 11, 8).unwrap()),
        )
        .unwrap();
        assert_eq!(s.len(), 35);
        let utc_hours: Vec<u32> = s.iter().map(|(a, _)| a.hour()).collect();
        assert_eq!(utc_hours[0], 10, "GMT in mid-March");
        assert_eq!(utc_hours[2], 9, "BST after 28 March");
        assert_eq!(*utc_hours.last().unwrap(), 10, "GMT again in November");
        for (start, end) in &s {
            let local = start.with_timezone(&London);
            assert_eq!(local.time(), NaiveTime::from_hms_opt(10, 0, 0).unwrap());
            assert_eq!(local.weekday(), chrono::Weekday::Mon);
            assert_eq!(*end - *start, Duration::minutes(50));
        }
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_an_hour_later_and_bad_series_are_refused() {
        let t = local_to_utc(&London, at("2027-03-28 01:30")).unwrap();
        assert_eq!(
            t.with_timezone(&London).naive_local(),
            at("2027-03-28 02:30")
        );
        let first = at("2027-01-04 09:00");
        for (repeat, end) in [
            (Repeat::Weekly, SeriesEnd::Count(0)),
            (Repeat::Weekly, SeriesEnd::Count(MAX_SESSIONS + 1)),
            (Repeat::EveryWeeks(13), SeriesEnd::Count(3)),
            (Repeat::EveryWeeks(0), SeriesEnd::Count(3)),
            (
                Repeat::Weekly,
                SeriesEnd::Until(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
            ),
            (
                Repeat::Weekly,
                SeriesEnd::Until(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()),
            ),
        ] {
            assert!(
                sessions(&London, first, 50, repeat, end).is_err(),
                "{repeat:?} {end:?}"
            );
        }
        assert!(Repeat::parse("every-3-weeks").is_ok());
        assert_eq!(Repeat::parse("Fortnightly").unwrap().weeks(), 2);
        for bad in ["monthly", "every-0-weeks", "every-x-weeks", ""] {
            assert!(Repeat::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Any series: the count asked for (or every date up to `until`, none after), each
        /// session on the same local weekday and time as the first, `weeks` apart, as long as
        /// asked, in order.
        #[test]
        fn a_series_expands_to_what_was_asked(
            day in 0i64..800,
            minute in 0u32..(24 * 60),
            minutes in 1u32..=720,
            weeks in 1u32..=12,
            count in 1u32..=60,
            by_until in any::<bool>(),
            span in 0i64..400,
        ) {
            let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
                + Duration::days(day)
                + Duration::minutes(i64::from(minute));
            let end = if by_until {
                SeriesEnd::Until(first.date() + Duration::days(span))
            } else {
                SeriesEnd::Count(count)
            };
            let s = sessions(&London, first, minutes, Repeat::EveryWeeks(weeks), end).unwrap();
            match end {
                SeriesEnd::Count(n) => prop_assert_eq!(s.len() as u32, n),
                SeriesEnd::Until(last) => {
                    prop_assert!(!s.is_empty());
                    for (a, _) in &s {
                        prop_assert!(a.with_timezone(&London).date_naive() <= last + Duration::days(1));
                    }
                    let next = first + Duration::weeks(i64::from(weeks) * s.len() as i64);
                    prop_assert!(next.date() > last);
                }
            }
            for (i, (a, b)) in s.iter().enumerate() {
                let local = a.with_timezone(&London).naive_local();
                let expected = first + Duration::weeks(i64::from(weeks) * i as i64);
                // The same local time, but inside a spring gap (an hour later).
                prop_assert!(local == expected || local == expected + Duration::hours(1));
                prop_assert_eq!(local.weekday(), first.weekday());
                prop_assert_eq!(*b - *a, Duration::minutes(i64::from(minutes)));
                if i > 0 {
                    prop_assert!(*a > s[i - 1].0);
                }
            }
        }
    }
}
