//! Printing results: JSON for scripts, plain text with UK dates for people.

use chrono::{DateTime, Local, NaiveDate, Utc};
use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A date as a UK reader expects it: 14/03/2026.
pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// A moment in local time, UK style: 14/03/2026 09:30.
pub fn datetime(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%d/%m/%Y %H:%M").to_string()
}

/// Parses a local date and time (`YYYY-MM-DD HH:MM`, `YYYY-MM-DDTHH:MM`) or RFC 3339.
/// A local date and time as typed (`YYYY-MM-DD HH:MM`, or the UK's `DD/MM/YYYY HH:MM`).
pub fn parse_naive_datetime(s: &str) -> anyhow::Result<chrono::NaiveDateTime> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(naive);
        }
    }
    Err(casebook_core::CoreError::InvalidInput(format!(
        "'{s}' is not a date and time: write it as YYYY-MM-DD HH:MM, e.g. 2026-03-14 09:30"
    ))
    .into())
}

pub fn parse_local_datetime(s: &str) -> anyhow::Result<DateTime<Utc>> {
    use chrono::TimeZone;
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return match Local.from_local_datetime(&naive).earliest() {
                Some(t) => Ok(t.with_timezone(&Utc)),
                None => Err(casebook_core::CoreError::InvalidInput(format!(
                    "{s} does not exist in local time (a clock change): pick another time"
                ))
                .into()),
            };
        }
    }
    Err(casebook_core::CoreError::InvalidInput(format!(
        "'{s}' is not a date and time: write it as YYYY-MM-DD HH:MM, e.g. 2026-03-14 09:30"
    ))
    .into())
}

/// A file size for people: 12.3 MB.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
