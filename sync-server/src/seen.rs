//! When each device was last seen — the time of a request the server answered for it — kept
//! on its row for the device list (`GET /v1/devices`, `last_seen_at`, to the minute). Written
//! at most once a minute per device and per server instance, so that the hot paths (heads,
//! blobs) stay reads. The clients treat it as the server's word, informative only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a device's row is written at most.
const EVERY: Duration = Duration::from_secs(60);
/// Devices remembered before the old ones are forgotten (a bound on memory).
const MOST: usize = 100_000;

/// The devices whose last-seen time was written lately, by this instance.
#[derive(Default)]
pub struct LastSeen {
    written: Mutex<HashMap<String, Instant>>,
}

impl LastSeen {
    /// Whether `device`'s row should be written now (and notes that it is).
    pub fn due(&self, device: &str) -> bool {
        let now = Instant::now();
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if written
            .get(device)
            .is_some_and(|t| now.duration_since(*t) < EVERY)
        {
            return false;
        }
        if written.len() >= MOST {
            written.retain(|_, t| now.duration_since(*t) < EVERY);
        }
        written.insert(device.to_string(), now);
        true
    }
}

/// Now, to the minute, as stored.
pub fn minute() -> String {
    use chrono::{SubsecRound, Timelike};
    let now = chrono::Utc::now().trunc_subsecs(0);
    now.with_second(0)
        .unwrap_or(now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_written_once_a_minute_at_most() {
        let seen = LastSeen::default();
        assert!(seen.due("laptop"));
        assert!(!seen.due("laptop"), "written twice within the minute");
        assert!(seen.due("desktop"), "another device waits for nobody");
        assert!(minute().ends_with(":00Z"), "{}", minute());
    }
}
