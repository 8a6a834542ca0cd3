//! Property tests for the calendar parser and extractor: any bytes are handled without a
//! panic; any calendar we write (names with escapes and multi-byte letters, UTC, zoned and
//! floating times, DTEND or DURATION, folded anywhere — even inside a character — with
//! CRLF or LF) extracts back to exactly its names and UTC times; damage to a good file
//! never invents an event.

use casebook_core::calendar::{self, ImportWindow};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use proptest::prelude::*;

fn window() -> ImportWindow {
    ImportWindow::new(
        NaiveDate::from_ymd_opt(2026, 3, 1),
        NaiveDate::from_ymd_opt(2026, 11, 30),
        London,
    )
    .unwrap()
}

#[derive(Clone, Debug)]
enum Zone {
    Utc,
    London,
    Floating,
}

#[derive(Clone, Debug)]
struct Ev {
    words: Vec<String>,
    local: NaiveDateTime,
    minutes: i64,
    zone: Zone,
    duration_form: bool,
    cancelled: bool,
}

fn word() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[A-Za-z]",
            Just("é".to_string()),
            Just("ł".to_string()),
            Just("Ø".to_string()),
            Just("中".to_string()),
            Just("ü".to_string()),
            Just(",".to_string()),
            Just(";".to_string()),
            Just("\\".to_string()),
            Just("'".to_string()),
            Just("-".to_string()),
        ],
        1..8,
    )
    .prop_map(|v| v.concat())
}

fn event() -> impl Strategy<Value = Ev> {
    (
        proptest::collection::vec(word(), 1..4),
        0i64..(270 * 24 * 4),
        10i64..180,
        prop_oneof![Just(Zone::Utc), Just(Zone::London), Just(Zone::Floating)],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(words, quarter, minutes, zone, duration_form, cancelled)| {
                let base = NaiveDate::from_ymd_opt(2026, 3, 2)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap();
                Ev {
                    words,
                    local: base + Duration::minutes(quarter * 15),
                    minutes,
                    zone,
                    duration_form,
                    cancelled,
                }
            },
        )
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(';', "\\;")
}

impl Ev {
    fn start_utc(&self) -> Option<DateTime<Utc>> {
        match self.zone {
            Zone::Utc => Some(Utc.from_utc_datetime(&self.local)),
            Zone::London | Zone::Floating => London
                .from_local_datetime(&self.local)
                .single()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    fn lines(&self, i: usize) -> Vec<String> {
        let stamp = self.local.format("%Y%m%dT%H%M%S").to_string();
        let dtstart = match self.zone {
            Zone::Utc => format!("DTSTART:{stamp}Z"),
            Zone::London => format!("DTSTART;TZID=Europe/London:{stamp}"),
            Zone::Floating => format!("DTSTART:{stamp}"),
        };
        let end_local = self.local + Duration::minutes(self.minutes);
        let end_stamp = end_local.format("%Y%m%dT%H%M%S").to_string();
        let dtend = if self.duration_form {
            format!("DURATION:PT{}M", self.minutes)
        } else {
            match self.zone {
                Zone::Utc => format!("DTEND:{end_stamp}Z"),
                Zone::London => format!("DTEND;TZID=Europe/London:{end_stamp}"),
                Zone::Floating => format!("DTEND:{end_stamp}"),
            }
        };
        let mut v = vec![
            "BEGIN:VEVENT".to_string(),
            format!("UID:event-{i}@example.test"),
            format!("SUMMARY:{}", escape(&self.words.join(" "))),
            dtstart,
            dtend,
            "LOCATION:1 Nowhere Lane\\, Town".to_string(),
        ];
        if self.cancelled {
            v.push("STATUS:CANCELLED".into());
        }
        v.push("END:VEVENT".into());
        v
    }
}

/// Writes lines, folding each at the given byte offsets (anywhere, even inside a character).
fn write(lines: &[String], folds: &[usize], crlf: bool) -> Vec<u8> {
    let nl: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let bytes = line.as_bytes();
        let cut = folds.get(i % folds.len().max(1)).copied().unwrap_or(0);
        if cut > 0 && cut < bytes.len() {
            out.extend_from_slice(&bytes[..cut]);
            out.extend_from_slice(nl);
            out.push(b' ');
            out.extend_from_slice(&bytes[cut..]);
        } else {
            out.extend_from_slice(bytes);
        }
        out.extend_from_slice(nl);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_handled_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = calendar::extract(&bytes, &window());
        let mut framed = b"BEGIN:VCALENDAR\r\n".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = calendar::extract(&framed, &window());
    }

    #[test]
    fn written_calendars_extract_to_their_names_and_utc_times(
        events in proptest::collection::vec(event(), 0..12),
        folds in proptest::collection::vec(0usize..40, 1..6),
        crlf in any::<bool>(),
    ) {
        prop_assume!(events.iter().all(|e| e.start_utc().is_some()));
        // A local end inside a clock change would have no single UTC time either.
        prop_assume!(events.iter().all(|e| !matches!(e.zone, Zone::London | Zone::Floating)
            || London.from_local_datetime(&(e.local + Duration::minutes(e.minutes))).single().is_some()));
        let mut lines = vec!["BEGIN:VCALENDAR".to_string(), "VERSION:2.0".into(), "PRODID:-//proptest//EN".into()];
        for (i, e) in events.iter().enumerate() {
            lines.extend(e.lines(i));
        }
        lines.push("END:VCALENDAR".into());
        let bytes = write(&lines, &folds, crlf);
        let x = calendar::extract(&bytes, &window()).unwrap();
        prop_assert!(!x.is_damaged());

        let mut want: Vec<(String, DateTime<Utc>, DateTime<Utc>, bool)> = events
            .iter()
            .map(|e| {
                let start = e.start_utc().unwrap();
                let end = if e.duration_form || matches!(e.zone, Zone::Utc) {
                    start + Duration::minutes(e.minutes)
                } else {
                    London.from_local_datetime(&(e.local + Duration::minutes(e.minutes)))
                        .single().unwrap().with_timezone(&Utc)
                };
                (e.words.join(" "), start, end, e.cancelled)
            })
            .filter(|(_, s, e, _)| *e > *s && window().contains(*s))
            .collect();
        want.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let got: Vec<_> = x.events.iter().map(|e| (e.summary.clone(), e.start, e.end, e.cancelled)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn damage_never_invents_an_event(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let good = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/calendar/jane.ics")).unwrap();
        // The file has no recurrence rules, so nothing a flipped byte does can add events.
        let count = calendar::extract(&good, &window()).unwrap().events.len();
        let mut bad = good.clone();
        for (i, b) in &flips {
            let at = i.index(bad.len());
            bad[at] = *b;
        }
        bad.truncate(cut.index(bad.len()) + 1);
        if let Ok(x) = calendar::extract(&bad, &window()) {
            prop_assert!(x.events.len() <= count, "{} events from a file of {count}", x.events.len());
            for e in x.events {
                prop_assert!(e.end > e.start);
                prop_assert!(window().contains(e.start));
                prop_assert!(!e.summary.is_empty() && e.summary.chars().count() <= 200);
            }
        }
    }
}
