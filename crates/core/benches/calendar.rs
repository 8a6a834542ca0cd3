//! Parse + extract of a large calendar feed, side by side with the `ical` crate (the parser
//! the design card first named) on the same bytes: time and peak heap.
//!
//! `cargo bench -p casebook-core --bench calendar`
//! (`BENCH_EVENTS`, default 10,000 events; `BENCH_RUNS`, default 7, the median is reported).
//!
//! The feed is written here in the shape Google produces: a VTIMEZONE for Europe/London,
//! events with TZID, folded long lines, multi-byte names, a description and attendees per
//! event, some weekly series with an EXDATE, some cancelled, a few all-day. `ical` is given
//! the easy part only (parse, then read SUMMARY/DTSTART/DTEND/STATUS text): it cannot
//! resolve zones or expand rules, so its figure is a floor for what it would cost to do
//! the whole job with it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::env_usize;

use casebook_core::calendar::{self, ImportWindow};
use chrono::NaiveDate;

/// Counts live heap bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const NAMES: &[&str] = &[
    "Siobhán Ó Súilleabháin",
    "Zoë Brontë-Łukasiewicz",
    "Aoife O'Brien-Ní Bhriain",
    "Tomasz Wiśniewski",
    "Eilidh MacAskill",
    "Bartholomew Achterberg",
    "Jo Bloggs",
    "Priya Raghunathan",
];

/// Folds a content line at 75 octets (CRLF + space), as RFC 5545 writers do.
fn fold(line: &str, out: &mut String) {
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut limit = 75;
    while bytes.len() - start > limit {
        let mut cut = start + limit;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&line[start..cut]);
        out.push_str("\r\n ");
        start = cut;
        limit = 74;
    }
    out.push_str(&line[start..]);
    out.push_str("\r\n");
}

/// A Google-shaped feed of `n` events in 2026 (every 25th a weekly series of 4, with one
/// EXDATE; every 40th cancelled; every 100th all-day).
fn feed(n: usize) -> String {
    let mut s = String::with_capacity(n * 700);
    s.push_str("BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Practice\r\nX-WR-TIMEZONE:Europe/London\r\n");
    s.push_str("BEGIN:VTIMEZONE\r\nTZID:Europe/London\r\nX-LIC-LOCATION:Europe/London\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\nTZNAME:BST\r\nDTSTART:19700329T010000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nTZNAME:GMT\r\nDTSTART:19701025T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n");
    let base = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    for i in 0..n {
        let day = base + chrono::Duration::days((i / 8) as i64 % 355);
        let hour = 8 + (i % 8) as u32;
        let stamp = day.and_hms_opt(hour, 0, 0).unwrap();
        let name = NAMES[i % NAMES.len()];
        s.push_str("BEGIN:VEVENT\r\n");
        if i % 100 == 99 {
            s.push_str(&format!("DTSTART;VALUE=DATE:{}\r\n", day.format("%Y%m%d")));
        } else {
            s.push_str(&format!(
                "DTSTART;TZID=Europe/London:{}\r\nDTEND;TZID=Europe/London:{}\r\n",
                stamp.format("%Y%m%dT%H%M%S"),
                (stamp + chrono::Duration::minutes(50)).format("%Y%m%dT%H%M%S")
            ));
        }
        if i % 25 == 0 {
            s.push_str("RRULE:FREQ=WEEKLY;COUNT=4\r\n");
            s.push_str(&format!(
                "EXDATE;TZID=Europe/London:{}\r\n",
                (stamp + chrono::Duration::days(14)).format("%Y%m%dT%H%M%S")
            ));
        }
        s.push_str("DTSTAMP:20260101T000000Z\r\n");
        s.push_str(&format!(
            "UID:{i:08x}-7hq2c9v0m4k1s8d3f6g5j2l0pe@google.com\r\n"
        ));
        fold(
            &format!(
                "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN={name};X-NUM-GUESTS=0:mailto:client{i}@example.org"
            ),
            &mut s,
        );
        s.push_str("CREATED:20251201T090000Z\r\n");
        fold(
            &format!(
                "DESCRIPTION:Booked online. Phone 07700 900{:03}. Intake form received\\, consent signed\\; reminder sent by email.",
                i % 1000
            ),
            &mut s,
        );
        s.push_str(
            "LAST-MODIFIED:20251201T090000Z\r\nLOCATION:Room 2\\, 14 High Street\r\nSEQUENCE:0\r\n",
        );
        s.push_str(if i % 40 == 39 {
            "STATUS:CANCELLED\r\n"
        } else {
            "STATUS:CONFIRMED\r\n"
        });
        fold(&format!("SUMMARY:{name}"), &mut s);
        s.push_str("TRANSP:OPAQUE\r\nEND:VEVENT\r\n");
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

fn measure<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, usize, T) {
    let mut times = Vec::with_capacity(runs);
    let mut peak = 0;
    let mut last = None;
    for _ in 0..runs {
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let t = Instant::now();
        let out = f();
        times.push(t.elapsed());
        peak = peak.max(PEAK.load(Ordering::Relaxed) - before);
        last = Some(out);
    }
    times.sort();
    (
        times[times.len() / 2],
        peak,
        last.expect("at least one run"),
    )
}

/// `ical` 0.11: parse, then pick the text of the four properties from each event.
fn with_ical(bytes: &[u8]) -> usize {
    let mut n = 0;
    for cal in ical::IcalParser::new(std::io::BufReader::new(bytes)) {
        let Ok(cal) = cal else { break };
        for ev in cal.events {
            let mut found = 0;
            for p in &ev.properties {
                if matches!(p.name.as_str(), "SUMMARY" | "DTSTART" | "DTEND" | "STATUS") {
                    found += usize::from(p.value.is_some());
                }
            }
            n += usize::from(found >= 2);
        }
    }
    n
}

fn main() {
    let events = env_usize("BENCH_EVENTS", 10_000);
    let runs = env_usize("BENCH_RUNS", 7).max(1);
    let text = feed(events);
    let bytes = text.as_bytes();
    let window = ImportWindow::new(
        NaiveDate::from_ymd_opt(2026, 1, 1),
        NaiveDate::from_ymd_opt(2026, 12, 31),
        chrono_tz::Europe::London,
    )
    .expect("window");
    println!(
        "feed: {events} VEVENTs, {:.1} MB, {runs} runs (median)",
        bytes.len() as f64 / 1e6
    );
    let (t, peak, x) = measure(runs, || {
        calendar::extract(bytes, &window).expect("feed parses")
    });
    println!(
        "calcard parse + extract (zones, rules, overrides): {:>7.1} ms  peak heap {:>6.1} MB  → {} appointments, {} skipped",
        t.as_secs_f64() * 1e3,
        peak as f64 / 1e6,
        x.events.len(),
        x.skipped.len()
    );
    let (t, peak, n) = measure(runs, || with_ical(bytes));
    println!(
        "ical 0.11 parse + read 4 properties (no zones, no rules): {:>7.1} ms  peak heap {:>6.1} MB  → {n} events",
        t.as_secs_f64() * 1e3,
        peak as f64 / 1e6
    );
}
