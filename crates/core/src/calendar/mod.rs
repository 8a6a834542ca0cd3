//! Calendar import: appointments from the therapist's booking calendar (an iCal feed or an
//! `.ics` file), done entirely on this machine.
//!
//! The path is: [`fetch`] (HTTPS only, limited in size and time, kept in memory) →
//! [`extract`] (parse with `calcard`, expand recurrences inside the import window, keep only
//! a name, start, end, cancelled flag and the event's identity) → [`import`] (match names to
//! clients through the identity store, preview what would change, then apply it in one
//! audited transaction; the clinical store gets codes, times and a keyed hash of the UID).
//! The feed address is a secret and lives in the identity store ([`feed`]). Nothing else
//! from a calendar — location, description, attendees, organiser, contact details, the
//! recurrence rule, the raw feed — is ever stored.

pub mod extract;
pub mod feed;
pub mod fetch;
pub mod import;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

pub use extract::{ExtractedEvent, Extraction, SkippedEvent, extract};
pub use feed::FeedSettings;
pub use fetch::{FetchLimits, feed_url, fetch_feed};
pub use import::{
    CalendarPreview, Change, EventStatus, ImportSource, ImportSummary, PlannedEvent, PreviewCounts,
};

/// How far ahead an import looks when no end date is given.
pub const DEFAULT_WINDOW_DAYS: i64 = 180;

/// The days an import covers, both inclusive, in the therapist's time zone (which is also
/// the zone given to times written without one, "floating" times).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ImportWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(skip)]
    pub zone: Tz,
}

impl ImportWindow {
    /// From `from` (default: today) to `to` (default: 180 days later), in `zone`.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>, zone: Tz) -> crate::Result<Self> {
        let from = from.unwrap_or_else(|| Utc::now().with_timezone(&zone).date_naive());
        let to = to.unwrap_or(from + chrono::Duration::days(DEFAULT_WINDOW_DAYS));
        if to < from {
            return Err(crate::CoreError::invalid(
                "the import window ends before it starts: --to must be on or after --from",
            ));
        }
        if (to - from).num_days() > 3 * 366 {
            return Err(crate::CoreError::invalid(
                "the import window is longer than three years: choose a shorter --from/--to",
            ));
        }
        Ok(Self { from, to, zone })
    }

    /// The first instant of the window (midnight at the start of `from`), in UTC.
    pub fn start(&self) -> DateTime<Utc> {
        midnight(self.zone, self.from)
    }

    /// The instant just after the window (midnight at the end of `to`), in UTC.
    pub fn end(&self) -> DateTime<Utc> {
        midnight(self.zone, self.to + chrono::Duration::days(1))
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start() && t < self.end()
    }
}

/// The therapist's time zone: `TZ` if it names one, else the system's, else London.
pub fn local_zone() -> Tz {
    let from_env = std::env::var("TZ")
        .ok()
        .and_then(|v| v.trim_start_matches(':').parse::<Tz>().ok());
    from_env
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .and_then(|name| name.parse::<Tz>().ok())
        })
        .unwrap_or(chrono_tz::Europe::London)
}

/// Midnight of a day in `zone`, in UTC; on a day where midnight does not exist there (a
/// clock change at midnight), the first moment that does.
fn midnight(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=2)
        .find_map(|h| {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}
