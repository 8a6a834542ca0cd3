//! The calendar parse-and-extract path on any bytes (a feed or `.ics` file is outside
//! input): it may refuse, never panic, and what it extracts is always a sane appointment
//! inside the window.
#![no_main]

use casebook_core::calendar::{ImportWindow, extract};
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let window = ImportWindow::new(
        NaiveDate::from_ymd_opt(2026, 1, 1),
        NaiveDate::from_ymd_opt(2026, 12, 31),
        chrono_tz::Europe::London,
    )
    .expect("a valid window");
    if let Ok(x) = extract(data, &window) {
        for e in &x.events {
            assert!(e.end > e.start);
            assert!(e.end - e.start <= chrono::Duration::hours(12));
            assert!(window.contains(e.start));
            assert!(!e.summary.is_empty());
        }
    }
});
