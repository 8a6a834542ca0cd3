//! From the bytes of a calendar to the few facts Casebook keeps about each appointment.
//!
//! `calcard` does the parsing (folded lines, escapes, VTIMEZONE and Windows zone names,
//! RRULE/EXDATE/RECURRENCE-ID expansion). Around it this module:
//! - unfolds lines at the byte level first, so a fold that splits a multi-byte UTF-8
//!   character (RFC 5545 allows it) joins back into the character, and decodes what is not
//!   UTF-8 as U+FFFD instead of refusing the file;
//! - reads the input one calendar object at a time, so a damaged line or a truncated file
//!   loses only what is damaged; what was lost is counted and reported;
//! - bounds every open-ended recurrence to the import window before expanding it, so one
//!   "every week forever" series cannot use up the expansion for the others;
//! - keeps, per occurrence, only the SUMMARY (the client's name), start and end in UTC,
//!   whether it is cancelled, and its identity (UID + original start for occurrences of a
//!   series). Every other property is dropped here, before anything is stored.

use std::collections::HashSet;

use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz as CalTz;
use calcard::icalendar::dates::TimeOrDelta;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty, ICalendarStatus,
    ICalendarValue,
};
use calcard::{Entry, Parser};
use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use super::ImportWindow;

/// Occurrences expanded from recurrence rules, at most, per import (a safety bound: a
/// three-year window of daily sessions is about 1,100).
const EXPANSION_LIMIT: usize = 500_000;
/// The longest appointment accepted (as for appointments booked by hand).
const LONGEST: chrono::TimeDelta = chrono::TimeDelta::hours(12);

/// One appointment as the calendar has it, with nothing but what Casebook keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExtractedEvent {
    /// The event's title: by convention the client's name.
    pub summary: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub cancelled: bool,
    /// The event's identity in the calendar: its UID, and for one occurrence of a series the
    /// original start of that occurrence (so a moved occurrence is recognised). Only ever
    /// stored as a keyed hash.
    #[serde(skip)]
    pub identity: String,
}

/// An event not imported, and why (in words for the therapist).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedEvent {
    pub summary: String,
    pub start: Option<DateTime<Utc>>,
    pub reason: String,
}

/// What a calendar held for the import window.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Extraction {
    /// Timed events that start inside the window, sorted by start.
    pub events: Vec<ExtractedEvent>,
    pub skipped: Vec<SkippedEvent>,
    /// Lines or components that could not be read (a damaged or truncated file).
    pub damaged: usize,
    /// Readable sentences about the file as a whole.
    pub warnings: Vec<String>,
}

impl Extraction {
    /// True when part of the file could not be read: then an event missing from it may
    /// simply be in the damaged part, and is not taken as cancelled.
    pub fn is_damaged(&self) -> bool {
        self.damaged > 0
    }
}

/// Reads a calendar (the bytes of an `.ics` file or feed) and extracts the timed events
/// starting inside `window`. Never panics; damage is reported in the result. Fails only
/// when the input holds no calendar at all.
pub fn extract(input: &[u8], window: &ImportWindow) -> crate::Result<Extraction> {
    // The parser is outside code: should it ever panic on some input, that input is refused
    // like any other unreadable file. (Not under the fuzzer, which must see the panic.)
    #[cfg(not(fuzzing))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            extract_inner(input, window)
        }))
        .unwrap_or_else(|_| {
            Err(crate::CoreError::invalid(
                "this calendar could not be read (its contents confused the parser)",
            ))
        })
    }
    #[cfg(fuzzing)]
    extract_inner(input, window)
}

fn extract_inner(input: &[u8], window: &ImportWindow) -> crate::Result<Extraction> {
    let mut text = unfold(input);
    let mut out = Extraction::default();
    if !text.trim().is_empty() && find_ignore_case(&text, "BEGIN:VCALENDAR").is_none() {
        return Err(not_a_calendar());
    }
    if ends_inside_a_component(&text) {
        // Cut off (a truncated download or file): keep what is complete, drop the rest.
        out.damaged += 1;
        text = complete_part(&text).unwrap_or_default();
    }
    let mut calendars = Vec::new();
    let mut parser = Parser::new(&text);
    loop {
        match parser.entry() {
            Entry::ICalendar(cal) => calendars.push(cal),
            Entry::Eof => break,
            Entry::UnterminatedComponent(_) | Entry::TooManyComponents => {
                out.damaged += 1;
                break;
            }
            // Invalid lines, stray component ends, vCards: skipped, counted.
            _ => out.damaged += 1,
        }
    }
    if calendars.is_empty() && out.damaged > 0 && !text.is_empty() {
        return Err(not_a_calendar());
    }
    let mut seen = HashSet::new();
    for cal in calendars.iter_mut() {
        extract_calendar(cal, window, &mut out, &mut seen);
    }
    if out.damaged > 0 {
        out.warnings.push(format!(
            "Part of this calendar could not be read ({} damaged {}); the events that could be read are shown. Events missing from it are not taken as cancelled.",
            out.damaged,
            if out.damaged == 1 { "part" } else { "parts" }
        ));
    }
    out.events
        .sort_by(|a, b| (a.start, &a.summary).cmp(&(b.start, &b.summary)));
    Ok(out)
}

/// Joins folded lines (CRLF or LF followed by one space or tab) on the bytes, then decodes
/// as UTF-8, replacing what is not.
fn unfold(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'\r'
            && input.get(i + 1) == Some(&b'\n')
            && matches!(input.get(i + 2), Some(b' ' | b'\t'))
        {
            i += 3;
        } else if b == b'\n' && matches!(input.get(i + 1), Some(b' ' | b'\t')) {
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn not_a_calendar() -> crate::CoreError {
    crate::CoreError::invalid(
        "this is not an iCalendar file (no BEGIN:VCALENDAR … END:VCALENDAR could be read)",
    )
}

/// Whether the text ends with a component still open (BEGIN without its END).
fn ends_inside_a_component(text: &str) -> bool {
    let mut depth: usize = 0;
    for line in text.lines() {
        let line = line.trim_start_matches('\u{feff}').as_bytes();
        if line.len() >= 6 && line[..6].eq_ignore_ascii_case(b"BEGIN:") {
            depth += 1;
        } else if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"END:") {
            depth = depth.saturating_sub(1);
        }
    }
    depth > 0
}

/// A cut-off calendar up to its last complete event or time zone, closed again.
fn complete_part(text: &str) -> Option<String> {
    let start = find_ignore_case(text, "BEGIN:VCALENDAR")?;
    let body = &text[start..];
    let last_end = ["END:VEVENT", "END:VTIMEZONE"]
        .iter()
        .filter_map(|m| rfind_ignore_case(body, m).map(|i| i + m.len()))
        .max()?;
    let mut fixed = String::with_capacity(last_end + 20);
    fixed.push_str(&body[..last_end]);
    fixed.push_str("\r\nEND:VCALENDAR\r\n");
    Some(fixed)
}

fn find_ignore_case(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn rfind_ignore_case(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .rposition(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The facts of one VEVENT component that every occurrence shares.
struct EventFacts<'a> {
    summary: Option<&'a str>,
    uid: Option<&'a str>,
    cancelled: bool,
    all_day: bool,
    recurring: bool,
    /// For an override of one occurrence: the original start, in UTC.
    recurrence_id: Option<DateTime<Utc>>,
}

fn facts<'a>(
    comp: &'a ICalendarComponent,
    resolve: &impl Fn(Option<&str>) -> CalTz,
) -> EventFacts<'a> {
    let text = |p: &ICalendarProperty| {
        comp.property(p)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_text())
    };
    let all_day = comp
        .property(&ICalendarProperty::Dtstart)
        .and_then(|e| e.values.first())
        .is_some_and(|v| matches!(v, ICalendarValue::PartialDateTime(dt) if dt.hour.is_none()));
    let recurrence_id = comp
        .property(&ICalendarProperty::RecurrenceId)
        .and_then(|e| {
            let dt = e.values.first()?.as_partial_date_time()?;
            let tz = resolve(e.tz_id());
            dt.to_date_time_with_tz(tz).map(|t| t.with_timezone(&Utc))
        });
    EventFacts {
        summary: text(&ICalendarProperty::Summary),
        uid: text(&ICalendarProperty::Uid),
        cancelled: matches!(comp.status(), Some(ICalendarStatus::Cancelled)),
        all_day,
        recurring: comp.is_recurrent(),
        recurrence_id,
    }
}

/// `seen` holds the identities already taken, across every calendar object in the input.
fn extract_calendar(
    cal: &mut ICalendar,
    window: &ImportWindow,
    out: &mut Extraction,
    seen: &mut HashSet<String>,
) {
    bound_recurrences(cal, window);
    let default_tz = CalTz::from(window.zone);
    let resolver = cal.build_tz_resolver().with_default(default_tz);
    let resolve = |name: Option<&str>| resolver.resolve_or_default(name);
    let expanded = cal.expand_dates(default_tz, EXPANSION_LIMIT);
    if expanded.events.len() >= EXPANSION_LIMIT {
        // Incomplete: what was not read must not look cancelled.
        out.damaged += 1;
        out.warnings.push(format!(
            "This calendar repeats more than {EXPANSION_LIMIT} times in the window; only the first were read."
        ));
    }
    let (lo, hi) = (window.start(), window.end());

    // Components that could not be given a time (no or bad DTSTART, broken rule).
    for err in &expanded.errors {
        let Some(comp) = cal.component_by_id(err.comp_id) else {
            continue;
        };
        if comp.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        let f = facts(comp, &resolve);
        out.damaged += 1;
        out.skipped.push(SkippedEvent {
            summary: clean_summary(f.summary).unwrap_or_default(),
            start: None,
            reason: "its date or repeat rule could not be read".into(),
        });
    }

    // Occurrences moved or changed by an override: the series' own copy is dropped, whether
    // or not the parser paired them (it pairs by SEQUENCE, which services do not keep equal).
    let overridden: HashSet<String> = cal
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
        .filter_map(|c| {
            let f = facts(c, &resolve);
            Some(identity(f.uid?, f.recurrence_id?.timestamp(), ""))
        })
        .collect();

    let mut all_day_seen: HashSet<u32> = HashSet::new();
    for ev in &expanded.events {
        let Some(comp) = cal.component_by_id(ev.comp_id) else {
            continue;
        };
        if comp.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        let start = ev.start.with_timezone(&Utc);
        if start < lo || start >= hi {
            continue;
        }
        // A DURATION can be absurd (millions of weeks): no end, not a panic.
        let end = match ev.end {
            TimeOrDelta::Time(t) => Some(t.with_timezone(&Utc)),
            TimeOrDelta::Delta(d) => start.checked_add_signed(d),
        };
        let end = end.unwrap_or(start);
        let f = facts(comp, &resolve);
        let summary = clean_summary(f.summary);
        let id = match (f.uid, f.recurrence_id.or(f.recurring.then_some(start))) {
            (Some(uid), Some(at)) => identity(uid, at.timestamp(), ""),
            (Some(uid), None) => format!("uid:{uid}"),
            // No UID (not valid iCalendar, but seen): the title and start stand in for it.
            (None, _) => identity(
                "",
                start.timestamp(),
                summary.as_deref().unwrap_or_default(),
            ),
        };
        if f.recurrence_id.is_none() && overridden.contains(&id) {
            continue;
        }
        if f.all_day {
            // One line per all-day series is enough in the preview.
            if all_day_seen.insert(ev.comp_id) {
                out.skipped.push(SkippedEvent {
                    summary: summary.unwrap_or_default(),
                    start: Some(start),
                    reason: "an all-day event, not a session".into(),
                });
            }
            continue;
        }
        let Some(summary) = summary else {
            out.skipped.push(SkippedEvent {
                summary: String::new(),
                start: Some(start),
                reason: "it has no title to match to a client".into(),
            });
            continue;
        };
        let skip = |reason: &str| SkippedEvent {
            summary: summary.clone(),
            start: Some(start),
            reason: reason.into(),
        };
        if end <= start {
            out.skipped
                .push(skip("it has no end time or ends before it starts"));
        } else if end - start > LONGEST {
            out.skipped
                .push(skip("it is longer than 12 hours, so not a session"));
        } else if !seen.insert(id.clone()) {
            out.skipped
                .push(skip("it appears twice in the calendar; the first is used"));
        } else {
            out.events.push(ExtractedEvent {
                summary,
                start,
                end,
                cancelled: f.cancelled,
                identity: id,
            });
        }
    }
}

/// The identity of one occurrence: its UID and original start (or, without a UID, its
/// title and start).
fn identity(uid: &str, at: i64, title: &str) -> String {
    if uid.is_empty() {
        format!("nouid:{title}\u{1f}{at}")
    } else {
        format!("uid:{uid}\u{1f}{at}")
    }
}

/// The title as a name: trimmed, inner whitespace collapsed; `None` when empty.
fn clean_summary(s: Option<&str>) -> Option<String> {
    let joined = s?.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed: String = joined
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Ends every recurrence rule a little after the window (open-ended rules included), so
/// expanding them costs only what the window needs.
fn bound_recurrences(cal: &mut ICalendar, window: &ImportWindow) {
    let stop = window.to + chrono::Duration::days(2);
    let bound = PartialDateTime {
        year: Some(stop.year().clamp(0, 9999) as u16),
        month: Some(stop.month() as u8),
        day: Some(stop.day() as u8),
        hour: Some(0),
        minute: Some(0),
        second: Some(0),
        tz_hour: None,
        tz_minute: None,
        tz_minus: false,
    };
    for comp in cal.components.iter_mut() {
        if comp.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        for entry in comp.entries.iter_mut() {
            if entry.name != ICalendarProperty::Rrule {
                continue;
            }
            for value in entry.values.iter_mut() {
                if let ICalendarValue::RecurrenceRule(rule) = value {
                    let later = match &rule.until {
                        None => true,
                        Some(until) => until_after(until, &bound),
                    };
                    if later {
                        // A date-only UNTIL must stay date-only (it bounds all-day series).
                        let date_only = rule.until.as_ref().is_some_and(|u| u.hour.is_none());
                        let mut b = bound.clone();
                        if date_only {
                            b.hour = None;
                            b.minute = None;
                            b.second = None;
                        }
                        rule.until = Some(b);
                    }
                }
            }
        }
    }
}

fn until_after(until: &PartialDateTime, bound: &PartialDateTime) -> bool {
    let key = |p: &PartialDateTime| (p.year, p.month, p.day);
    key(until) > key(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn window() -> ImportWindow {
        ImportWindow::new(
            NaiveDate::from_ymd_opt(2026, 3, 1),
            NaiveDate::from_ymd_opt(2026, 11, 30),
            chrono_tz::Europe::London,
        )
        .unwrap()
    }

    #[test]
    fn a_fold_inside_a_multibyte_character_joins_back() {
        // "Zoë": ë is C3 AB; the fold falls between the two bytes.
        let mut ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Zo\xC3\r\n \xABe Smith\r\n".to_vec();
        ics.extend_from_slice(b"DTSTART:20260310T100000Z\r\nDTEND:20260310T105000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        let x = extract(&ics, &window()).unwrap();
        assert_eq!(x.events.len(), 1);
        assert_eq!(x.events[0].summary, "Zo\u{eb}e Smith");
    }

    #[test]
    fn an_open_ended_weekly_series_stops_at_the_window() {
        let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:s\nSUMMARY:Ann\nDTSTART:20200106T090000Z\nDURATION:PT50M\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nBEGIN:VEVENT\nUID:t\nSUMMARY:Bob\nDTSTART:20260302T110000Z\nDURATION:PT50M\nRRULE:FREQ=DAILY\nEND:VEVENT\nEND:VCALENDAR\n";
        let x = extract(ics.as_bytes(), &window()).unwrap();
        let ann = x.events.iter().filter(|e| e.summary == "Ann").count();
        let bob = x.events.iter().filter(|e| e.summary == "Bob").count();
        // Mondays from 2 March to 30 November 2026; every day from 2 March.
        assert_eq!(ann, 40);
        assert_eq!(bob, 274);
        assert!(x.events.iter().all(|e| window().contains(e.start)));
    }

    #[test]
    fn an_absurd_duration_is_skipped_not_a_panic() {
        let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nSUMMARY:Ann\nDTSTART:20260310T100000Z\nDURATION:P20000000W\nEND:VEVENT\nEND:VCALENDAR\n";
        let x = extract(ics.as_bytes(), &window()).unwrap();
        assert!(x.events.is_empty());
        assert_eq!(x.skipped.len(), 1);
    }

    #[test]
    fn the_same_event_in_two_calendar_objects_is_taken_once() {
        let one = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nSUMMARY:Ann\nDTSTART:20260310T100000Z\nDURATION:PT50M\nEND:VEVENT\nEND:VCALENDAR\n";
        let x = extract(format!("{one}{one}").as_bytes(), &window()).unwrap();
        assert_eq!(x.events.len(), 1);
    }

    #[test]
    fn text_that_is_not_a_calendar_is_refused() {
        assert!(extract(b"hello", &window()).is_err());
        assert!(extract(b"\xff\xfe\x00garbage", &window()).is_err());
        let empty = extract(b"", &window()).unwrap();
        assert!(empty.events.is_empty());
    }
}
