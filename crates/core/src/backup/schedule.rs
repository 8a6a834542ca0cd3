//! When the next automatic backup is due, and whether the "last backup" status is healthy.
//!
//! Pure functions of the time now and the last outcomes, so the app's timer and the
//! `casebook backup create --if-due` cron entry share one rule, tested with a fake clock:
//! every `every_hours` (8 by default: three a day), at once when one is overdue at start,
//! and 30 minutes after a failure rather than in a tight loop.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// How soon a failed backup is tried again.
pub const RETRY_AFTER_MINUTES: i64 = 30;
/// How late a backup may be before the status turns to a warning.
pub const GRACE_MINUTES: i64 = 60;

/// The last outcomes the schedule needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LastRuns {
    pub success: Option<DateTime<Utc>>,
    pub failure: Option<DateTime<Utc>>,
}

/// When the next backup should run (`now` or earlier means: run it now).
pub fn next_due(every_hours: u32, last: LastRuns) -> Option<DateTime<Utc>> {
    let every = Duration::hours(i64::from(every_hours.max(1)));
    let after_success = last.success.map(|t| t + every);
    // A failure newer than the last success: try again soon, whatever the interval.
    let after_failure = match (last.failure, last.success) {
        (Some(f), Some(s)) if f > s => Some(f + Duration::minutes(RETRY_AFTER_MINUTES)),
        (Some(f), None) => Some(f + Duration::minutes(RETRY_AFTER_MINUTES)),
        _ => None,
    };
    match (after_success, after_failure) {
        (_, Some(f)) => Some(f),
        (Some(s), None) => Some(s),
        // Never backed up: due at once.
        (None, None) => None,
    }
}

/// Whether a backup should run now.
pub fn is_due(every_hours: u32, last: LastRuns, now: DateTime<Utc>) -> bool {
    next_due(every_hours, last).is_none_or(|t| t <= now)
}

/// What the "last backup" status shows.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// A backup succeeded within the interval.
    Ok { last_success: DateTime<Utc> },
    /// The last attempt failed; the warning stays until one succeeds.
    Failed {
        last_success: Option<DateTime<Utc>>,
        failed_at: DateTime<Utc>,
        error: String,
    },
    /// The last success is older than the interval plus a grace period.
    Overdue { last_success: DateTime<Utc> },
    /// No backup has been made yet.
    Never,
}

impl Health {
    /// Whether the UI should show this as a warning.
    pub fn is_warning(&self) -> bool {
        !matches!(self, Health::Ok { .. })
    }
}

/// The status at `now`.
pub fn health(
    every_hours: u32,
    last: LastRuns,
    last_error: Option<&str>,
    now: DateTime<Utc>,
) -> Health {
    if let Some(f) = last.failure
        && last.success.is_none_or(|s| f > s)
    {
        return Health::Failed {
            last_success: last.success,
            failed_at: f,
            error: last_error.unwrap_or("unknown error").to_string(),
        };
    }
    match last.success {
        None => Health::Never,
        Some(s) => {
            let limit =
                Duration::hours(i64::from(every_hours.max(1))) + Duration::minutes(GRACE_MINUTES);
            if now - s > limit {
                Health::Overdue { last_success: s }
            } else {
                Health::Ok { last_success: s }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Runs the app's timer over a span with a fake clock ticking every minute; each due
    /// backup "runs" (succeeding unless `fail` says otherwise) at the minute it is due.
    fn simulate(
        start: DateTime<Utc>,
        minutes: i64,
        mut last: LastRuns,
        fail: impl Fn(DateTime<Utc>) -> bool,
    ) -> (Vec<DateTime<Utc>>, LastRuns) {
        let mut runs = Vec::new();
        for m in 0..minutes {
            let now = start + Duration::minutes(m);
            if is_due(8, last, now) {
                if fail(now) {
                    last.failure = Some(now);
                } else {
                    last.success = Some(now);
                    runs.push(now);
                }
            }
        }
        (runs, last)
    }

    #[test]
    fn three_backups_a_day() {
        let start = t("2026-11-22T00:00:00Z");
        let last = LastRuns {
            success: Some(t("2026-11-21T23:59:00Z")),
            failure: None,
        };
        let (runs, _) = simulate(start, 24 * 60, last, |_| false);
        assert_eq!(runs.len(), 3, "{runs:?}");
        for pair in runs.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::hours(8));
        }
        // Over a week, exactly 21.
        let (runs, _) = simulate(start, 7 * 24 * 60, last, |_| false);
        assert_eq!(runs.len(), 21);
    }

    #[test]
    fn an_overdue_backup_runs_at_start() {
        let start = t("2026-11-22T09:00:00Z");
        let last = LastRuns {
            success: Some(t("2026-11-20T09:00:00Z")),
            failure: None,
        };
        assert_eq!(
            health(8, last, None, start),
            Health::Overdue {
                last_success: last.success.unwrap()
            }
        );
        let (runs, _) = simulate(start, 1, last, |_| false);
        assert_eq!(runs, vec![start]);
        // A first start ever is due at once too.
        assert!(is_due(8, LastRuns::default(), start));
        assert_eq!(health(8, LastRuns::default(), None, start), Health::Never);
    }

    #[test]
    fn a_failure_warns_and_is_retried_after_half_an_hour() {
        let start = t("2026-11-22T09:00:00Z");
        let fail_until = start + Duration::minutes(45);
        let (runs, last) = simulate(start, 120, LastRuns::default(), |now| now < fail_until);
        // Failed at 09:00 and 09:30, succeeded at 10:00.
        assert_eq!(runs, vec![start + Duration::minutes(60)]);
        assert!(matches!(
            health(8, last, None, start + Duration::minutes(61)),
            Health::Ok { .. }
        ));
        let failed = LastRuns {
            success: None,
            failure: Some(start),
        };
        let h = health(8, failed, Some("disk full"), start);
        assert!(h.is_warning());
        assert!(matches!(h, Health::Failed { ref error, .. } if error == "disk full"));
        assert!(!is_due(8, failed, start + Duration::minutes(29)));
        assert!(is_due(8, failed, start + Duration::minutes(30)));
    }
}
