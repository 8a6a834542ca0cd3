//! The session clock: the timer a therapist runs through back-to-back sessions.
//!
//! A pure state machine. Nothing here reads the system time: every method takes `now`, so
//! the tests drive it with a fake clock and the app drives it once a second. It knows
//! appointments only by id and times — never a client code or a name — because it keeps
//! running (and is saved to `session-clock.json`) while the vault is locked, and must
//! survive an app restart.
//!
//! * [`SessionClock::start`] a scheduled session or an ad-hoc one of a chosen length;
//! * [`SessionClock::extend`] (+5 minutes), [`SessionClock::end`];
//! * [`SessionClock::tick`] returns what to announce: each configured warning once, the
//!   end once, and a reminder before the next booked session;
//! * [`SessionClock::reading`] is what the tray, the clock window and the Today screen show:
//!   time left as `mm:ss` (counting into negative overrun), the next session and the gap.
//!
//! **The file is not believed blindly.** `session-clock.json` sits in the vault folder in
//! plain text, and what it says reaches the records: a start or end made while locked is
//! recorded at the next unlock (a start marks the session attended), and ending the running
//! session writes an audit entry. So the parts that reach the records — the running
//! session's appointment and start, and the starts and ends waiting to be recorded — carry
//! an HMAC under a [`ClockKey`] derived from the vault's key. At unlock the app calls
//! [`SessionClock::authenticate`]: a file nobody could have forged is recorded as before; in
//! one that fails the check, the waiting records are dropped (and counted in the audit
//! trail) and the running session is timed but its end is not recorded. The app keeps the
//! clock key while locked (it opens nothing), so the clock works through a lock; only
//! after an app restart, until the first unlock, are new starts and ends unauthenticated —
//! those are then reported and not recorded.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::jsonfile::{read_json, write_json};
use crate::keys::{ClockKey, hmac_sha256};
use crate::preferences::Preferences;

const FILE: &str = "session-clock.json";

/// A booked session as the clock sees it: an id and times, nothing about who.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub appointment_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// The session being timed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Running {
    /// The booked appointment, or `None` for an ad-hoc session.
    pub appointment_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Warnings (minutes left) already given for the current end time.
    warned: BTreeSet<u32>,
    time_up_given: bool,
    /// Read from a clock file that failed authentication: timed, but its end is not
    /// recorded in the vault.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

/// Something the app should tell the therapist (a desktop notification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClockEvent {
    /// `minutes_left` minutes until the planned end.
    Warning { minutes_left: u32 },
    /// The planned end has come; the clock now counts overrun.
    TimeUp,
    /// The next booked session starts in `minutes` minutes.
    NextSoon {
        appointment_id: String,
        minutes: i64,
    },
}

impl ClockEvent {
    /// The words of the notification (no names: the clock does not know them).
    pub fn message(&self) -> String {
        match self {
            ClockEvent::Warning { minutes_left } => {
                format!("{minutes_left} minutes left in this session")
            }
            ClockEvent::TimeUp => "Time is up for this session".into(),
            ClockEvent::NextSoon { minutes, .. } if *minutes <= 0 => {
                "Your next session starts now".into()
            }
            ClockEvent::NextSoon { minutes, .. } => {
                format!("Your next session starts in {minutes} minutes")
            }
        }
    }
}

/// What the clock shows at one moment.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ClockReading {
    pub running: bool,
    pub appointment_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Whole seconds to the planned end (rounded up while positive); negative in overrun.
    pub remaining_seconds: Option<i64>,
    /// `mm:ss`, `-mm:ss` in overrun, empty when idle.
    pub display: String,
    pub overrun: bool,
    pub next: Option<Slot>,
    /// Whole minutes from the end of this session (or from now, when idle) to the next.
    pub gap_minutes: Option<i64>,
    pub buffer_minutes: u32,
    /// The gap is shorter than the buffer the therapist wants.
    pub gap_short: bool,
}

/// A start or an end the vault could not record at the time (it was locked): kept with
/// the clock, so it survives a restart, and recorded at the next unlock.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Unrecorded {
    Start {
        appointment_id: Option<String>,
        minutes: u32,
        /// When Start was pressed (missing in files written before it was kept: then the
        /// time it is recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started_at: Option<DateTime<Utc>>,
    },
    End {
        ran: Running,
        ended_at: DateTime<Utc>,
    },
}

/// The clock's whole state; serialisable so it survives a restart.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct SessionClock {
    running: Option<Running>,
    /// The next session already announced, so a reminder is given once.
    announced_next: Option<String>,
    unrecorded: Vec<Unrecorded>,
    /// HMAC of what reaches the records ([`SessionClock::authenticated_part`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    /// This state is Casebook's own: made in this process, or read from a file that passed
    /// [`SessionClock::authenticate`]. Never saved.
    #[serde(skip)]
    trusted: bool,
}

/// What [`SessionClock::authenticate`] found in a clock file that failed its check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unverified {
    /// Starts and ends waiting to be recorded that were dropped.
    pub dropped: usize,
    /// The running session came from the file: it is timed, its end not recorded.
    pub running: bool,
}

impl Unverified {
    pub fn any(&self) -> bool {
        self.dropped > 0 || self.running
    }
}

/// Seconds as `mm:ss` (minutes may exceed 59), with a leading `-` below zero.
pub fn mmss(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", s / 60, s % 60)
}

/// Seconds left, rounded so a fresh 50-minute session reads 50:00 and one second past
/// the end reads -00:01.
fn remaining_seconds(ends_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let ms = (ends_at - now).num_milliseconds();
    if ms > 0 {
        (ms + 999) / 1000
    } else {
        -((-ms) / 1000)
    }
}

impl SessionClock {
    /// A clock made in this process: nothing to check.
    pub fn new() -> Self {
        SessionClock {
            trusted: true,
            ..SessionClock::default()
        }
    }

    /// The clock saved for the vault in `vault_dir` (idle when none was saved). Not to be
    /// recorded from until [`SessionClock::authenticate`] has checked it.
    pub fn load(vault_dir: &Path) -> Result<Self> {
        let mut clock: SessionClock = read_json(&vault_dir.join(FILE))?;
        // An idle clock with nothing waiting holds nothing that could reach the records.
        clock.trusted = clock.running.is_none() && clock.unrecorded.is_empty();
        Ok(clock)
    }

    /// Saves the clock. With the key, what reaches the records is authenticated afresh;
    /// without it (after a restart, before the first unlock) the earlier code is kept,
    /// which still holds as long as that part has not changed.
    pub fn save(&mut self, vault_dir: &Path, key: Option<&ClockKey>) -> Result<()> {
        if let Some(key) = key {
            self.mac = Some(self.mac_with(key));
        }
        write_json(&vault_dir.join(FILE), self)
    }

    /// The part of the state that reaches the records: who and when the running session
    /// started, and the starts and ends waiting to be recorded. (Warnings given, the
    /// planned end and the next-session reminder only change what is shown.)
    fn authenticated_part(&self) -> Vec<u8> {
        let running = self
            .running
            .as_ref()
            .map(|r| (&r.appointment_id, r.started_at, r.unverified));
        serde_json::to_vec(&(running, &self.unrecorded)).unwrap_or_default()
    }

    fn mac_with(&self, key: &ClockKey) -> String {
        hex::encode(hmac_sha256(key.as_bytes(), &self.authenticated_part()))
    }

    /// At unlock, with the vault's clock key: believes a file Casebook wrote, and takes
    /// everything out of one it did not that could reach the records. Afterwards the state
    /// is trusted (what remains is harmless or was made here).
    pub fn authenticate(&mut self, key: &ClockKey) -> Unverified {
        if self.trusted {
            return Unverified::default();
        }
        self.trusted = true;
        let expected = self.mac_with(key);
        let genuine = self.mac.as_deref().is_some_and(|m| {
            crate::backup::archive::constant_time_eq(m.as_bytes(), expected.as_bytes())
        });
        if genuine || (self.running.is_none() && self.unrecorded.is_empty()) {
            return Unverified::default();
        }
        let found = Unverified {
            dropped: std::mem::take(&mut self.unrecorded).len(),
            running: self.running.as_ref().is_some_and(|r| !r.unverified),
        };
        if let Some(r) = self.running.as_mut() {
            r.unverified = true;
        }
        found
    }

    /// Reads clock-file bytes as [`SessionClock::load`] does, checks them with a key and
    /// runs the clock on them, for the fuzz target: a damaged or hostile file must be
    /// refused or handled, never panic.
    #[doc(hidden)]
    pub fn probe_file(bytes: &[u8]) -> Result<ClockReading> {
        let mut clock: SessionClock = serde_json::from_slice(bytes)
            .map_err(|e| CoreError::Corrupt(format!("session-clock.json is not valid: {e}")))?;
        clock.authenticate(&ClockKey::from_bytes([7; 32]));
        let prefs = Preferences::default();
        let now = Utc::now();
        clock.tick(now, &prefs, &[]);
        let _ = clock.extend(now, 5, &prefs);
        let reading = clock.reading(now, &prefs, &[]);
        let _ = clock.take_unrecorded();
        Ok(reading)
    }

    /// Whether this state may be recorded from (see [`SessionClock::authenticate`]).
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    pub fn running(&self) -> Option<&Running> {
        self.running.as_ref()
    }

    /// Starts timing. A scheduled session started within its booked slot ends when the
    /// slot ends (so a back-to-back day stays on time); started outside it, it runs for
    /// the booked length. An ad-hoc session runs for `minutes`.
    pub fn start(
        &mut self,
        now: DateTime<Utc>,
        appointment: Option<&Slot>,
        minutes: u32,
        prefs: &Preferences,
    ) -> Result<&Running> {
        if self.running.is_some() {
            return Err(CoreError::Conflict(
                "a session is already running: end it before starting another".into(),
            ));
        }
        let ends_at = match appointment {
            Some(slot) if slot.starts_at <= now && now < slot.ends_at => slot.ends_at,
            Some(slot) => now + (slot.ends_at - slot.starts_at),
            None => {
                if !(1..=240).contains(&minutes) {
                    return Err(CoreError::invalid(
                        "a session must be between 1 and 240 minutes long",
                    ));
                }
                now + Duration::minutes(i64::from(minutes))
            }
        };
        let mut running = Running {
            appointment_id: appointment.map(|s| s.appointment_id.clone()),
            started_at: now,
            ends_at,
            warned: BTreeSet::new(),
            time_up_given: false,
            unverified: false,
        };
        // A warning already past at the start (a 5-minute session and a 10-minute
        // warning) is not given at all.
        rearm(&mut running, now, prefs);
        if let Some(slot) = appointment {
            self.announced_next = Some(slot.appointment_id.clone());
        }
        Ok(self.running.insert(running))
    }

    /// Adds `minutes` to the session; warnings that lie ahead again will be given again.
    pub fn extend(
        &mut self,
        now: DateTime<Utc>,
        minutes: u32,
        prefs: &Preferences,
    ) -> Result<&Running> {
        let running = self
            .running
            .as_mut()
            .ok_or_else(|| CoreError::Conflict("no session is running".into()))?;
        // In overrun, +5 means five more minutes from now, not from the planned end. (A
        // planned end read from a damaged file may lie at the end of time: refused, no panic.)
        running.ends_at = running
            .ends_at
            .max(now)
            .checked_add_signed(Duration::minutes(i64::from(minutes)))
            .ok_or_else(|| CoreError::invalid("the session cannot be extended that far"))?;
        rearm(running, now, prefs);
        Ok(running)
    }

    /// After the warnings were changed mid-session: those already behind are not given.
    pub fn rearm(&mut self, now: DateTime<Utc>, prefs: &Preferences) {
        if let Some(r) = self.running.as_mut() {
            rearm(r, now, prefs);
        }
    }

    /// Stops timing and returns the session that ran, if any.
    pub fn end(&mut self) -> Option<Running> {
        self.running.take()
    }

    /// Keeps a start or end to record once the vault is unlocked.
    pub fn defer(&mut self, record: Unrecorded) {
        self.unrecorded.push(record);
    }

    /// Whether starts or ends are waiting to be recorded.
    pub fn has_unrecorded(&self) -> bool {
        !self.unrecorded.is_empty()
    }

    /// The starts and ends still to record, oldest first; the clock forgets them.
    pub fn take_unrecorded(&mut self) -> Vec<Unrecorded> {
        std::mem::take(&mut self.unrecorded)
    }

    /// Advances to `now` and returns what to announce. Each warning is given once; when
    /// several became due at once (the app was closed), only the latest is given.
    pub fn tick(
        &mut self,
        now: DateTime<Utc>,
        prefs: &Preferences,
        upcoming: &[Slot],
    ) -> Vec<ClockEvent> {
        let mut events = Vec::new();
        if let Some(r) = self.running.as_mut() {
            let left = remaining_seconds(r.ends_at, now);
            if left <= 0 {
                if !r.time_up_given {
                    r.time_up_given = true;
                    events.push(ClockEvent::TimeUp);
                }
                r.warned.extend(prefs.warning_minutes.iter().copied());
            } else {
                let due: Vec<u32> = prefs
                    .warning_minutes
                    .iter()
                    .copied()
                    .filter(|&w| left <= i64::from(w) * 60 && !r.warned.contains(&w))
                    .collect();
                if let Some(&latest) = due.iter().min() {
                    events.push(ClockEvent::Warning {
                        minutes_left: latest,
                    });
                }
                r.warned.extend(due);
            }
        }
        if let Some(next) = self.next_slot(now, upcoming) {
            let minutes = ((next.starts_at - now).num_seconds() + 59).div_euclid(60);
            let due = next.starts_at - now
                <= Duration::minutes(i64::from(prefs.next_session_notice_minutes));
            if due && self.announced_next.as_deref() != Some(next.appointment_id.as_str()) {
                self.announced_next = Some(next.appointment_id.clone());
                events.push(ClockEvent::NextSoon {
                    appointment_id: next.appointment_id.clone(),
                    minutes,
                });
            }
        }
        events
    }

    /// What to show at `now`.
    pub fn reading(
        &self,
        now: DateTime<Utc>,
        prefs: &Preferences,
        upcoming: &[Slot],
    ) -> ClockReading {
        let next = self.next_slot(now, upcoming).cloned();
        let from = self.running.as_ref().map_or(now, |r| r.ends_at.max(now));
        let gap_minutes = next.as_ref().map(|n| (n.starts_at - from).num_minutes());
        let gap_short = gap_minutes.is_some_and(|g| g < i64::from(prefs.buffer_minutes));
        let base = ClockReading {
            running: false,
            appointment_id: None,
            started_at: None,
            ends_at: None,
            remaining_seconds: None,
            display: String::new(),
            overrun: false,
            next,
            gap_minutes,
            buffer_minutes: prefs.buffer_minutes,
            gap_short,
        };
        match &self.running {
            None => base,
            Some(r) => {
                let left = remaining_seconds(r.ends_at, now);
                ClockReading {
                    running: true,
                    appointment_id: r.appointment_id.clone(),
                    started_at: Some(r.started_at),
                    ends_at: Some(r.ends_at),
                    remaining_seconds: Some(left),
                    display: mmss(left),
                    overrun: left < 0,
                    ..base
                }
            }
        }
    }

    /// The first booked session still to start, other than the one being timed.
    fn next_slot<'a>(&self, now: DateTime<Utc>, upcoming: &'a [Slot]) -> Option<&'a Slot> {
        let current = self
            .running
            .as_ref()
            .and_then(|r| r.appointment_id.as_deref());
        upcoming
            .iter()
            .filter(|s| s.starts_at > now && Some(s.appointment_id.as_str()) != current)
            .min_by_key(|s| s.starts_at)
    }
}

/// Marks as given every warning whose moment has passed for the current end time, and
/// clears the rest, so each lies ahead exactly once.
fn rearm(r: &mut Running, now: DateTime<Utc>, prefs: &Preferences) {
    let left = remaining_seconds(r.ends_at, now);
    r.warned = prefs
        .warning_minutes
        .iter()
        .copied()
        .filter(|&w| left <= i64::from(w) * 60)
        .collect();
    r.time_up_given = left <= 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A fake clock: minutes and seconds after 09:00 on a fixed day.
    fn at(min: i64, sec: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap() + Duration::seconds(min * 60 + sec)
    }

    fn slot(id: &str, start_min: i64, len: i64) -> Slot {
        Slot {
            appointment_id: id.into(),
            starts_at: at(start_min, 0),
            ends_at: at(start_min + len, 0),
        }
    }

    /// Ticks once a second from `from` to `to` (inclusive), collecting every event.
    fn run(
        clock: &mut SessionClock,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        p: &Preferences,
        up: &[Slot],
    ) -> Vec<(DateTime<Utc>, ClockEvent)> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= to {
            out.extend(clock.tick(t, p, up).into_iter().map(|e| (t, e)));
            t += Duration::seconds(1);
        }
        out
    }

    fn key(byte: u8) -> ClockKey {
        ClockKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_clock_file_casebook_wrote_is_believed_and_a_forged_one_reaches_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let p = Preferences::default();
        let mut c = SessionClock::new();
        c.start(at(0, 0), Some(&slot("appt-1", 0, 50)), 50, &p)
            .unwrap();
        c.defer(Unrecorded::Start {
            appointment_id: Some("appt-1".into()),
            minutes: 50,
            started_at: Some(at(0, 0)),
        });
        c.save(dir.path(), Some(&key(1))).unwrap();

        // Written by Casebook with the vault's key: believed, nothing dropped.
        let mut genuine = SessionClock::load(dir.path()).unwrap();
        assert!(!genuine.trusted(), "not believed before it is checked");
        assert_eq!(genuine.authenticate(&key(1)), Unverified::default());
        assert_eq!(genuine.take_unrecorded().len(), 1);
        assert!(!genuine.running().unwrap().unverified);

        // Saved again without the key (after a restart, before unlocking), with only the
        // shown state changed: still believed.
        let mut ticked = SessionClock::load(dir.path()).unwrap();
        ticked.tick(at(45, 0), &p, &[]);
        ticked.extend(at(45, 0), 5, &p).unwrap();
        ticked.save(dir.path(), None).unwrap();
        let mut again = SessionClock::load(dir.path()).unwrap();
        assert_eq!(again.authenticate(&key(1)), Unverified::default());

        // Someone edits the file: a start for another session is slipped in.
        let path = dir.path().join(FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("appt-1", "appt-2");
        std::fs::write(&path, text).unwrap();
        let mut forged = SessionClock::load(dir.path()).unwrap();
        let found = forged.authenticate(&key(1));
        assert_eq!(
            found,
            Unverified {
                dropped: 1,
                running: true
            }
        );
        assert!(
            forged.take_unrecorded().is_empty(),
            "nothing forged is recorded"
        );
        assert!(
            forged.running().unwrap().unverified,
            "its end is not recorded"
        );
        // The wrong key is as good as none.
        let mut other = SessionClock::load(dir.path()).unwrap();
        assert!(other.authenticate(&key(2)).any());
    }

    #[test]
    fn a_planned_end_at_the_end_of_time_is_refused_not_a_panic() {
        let json = r#"{"running":{"appointment_id":null,"started_at":"2026-11-23T09:00:00Z",
            "ends_at":"+262142-12-31T23:59:59Z","warned":[],"time_up_given":false}}"#;
        let reading = SessionClock::probe_file(json.as_bytes());
        assert!(reading.is_ok_and(|r| r.running));
    }

    #[test]
    fn each_warning_fires_once_at_its_moment_then_time_up_once() {
        let p = Preferences::default();
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 50, &p).unwrap();
        assert_eq!(c.reading(at(0, 0), &p, &[]).display, "50:00");
        let events = run(&mut c, at(0, 0), at(70, 0), &p, &[]);
        assert_eq!(
            events,
            vec![
                (at(40, 0), ClockEvent::Warning { minutes_left: 10 }),
                (at(45, 0), ClockEvent::Warning { minutes_left: 5 }),
                (at(50, 0), ClockEvent::TimeUp),
            ]
        );
    }

    #[test]
    fn overrun_counts_into_negative_time() {
        let p = Preferences::default();
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 50, &p).unwrap();
        let r = c.reading(at(49, 30), &p, &[]);
        assert_eq!((r.display.as_str(), r.overrun), ("00:30", false));
        let r = c.reading(at(50, 0), &p, &[]);
        assert_eq!(
            (r.display.as_str(), r.overrun, r.remaining_seconds),
            ("00:00", false, Some(0))
        );
        let r = c.reading(at(52, 15), &p, &[]);
        assert_eq!(
            (r.display.as_str(), r.overrun, r.remaining_seconds),
            ("-02:15", true, Some(-135))
        );
        assert_eq!(mmss(-3725), "-62:05");
    }

    #[test]
    fn plus_five_moves_the_end_and_rearms_what_lies_ahead() {
        let p = Preferences::default();
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 50, &p).unwrap();
        let first = run(&mut c, at(0, 0), at(51, 0), &p, &[]);
        assert_eq!(first.last().unwrap().1, ClockEvent::TimeUp);
        // One minute into overrun, +5: five minutes from now, so the 5-minute warning is
        // already at hand (not given again); only the end comes again.
        c.extend(at(51, 0), 5, &p).unwrap();
        assert_eq!(c.reading(at(51, 0), &p, &[]).display, "05:00");
        let again = run(&mut c, at(51, 1), at(60, 0), &p, &[]);
        assert_eq!(again, vec![(at(56, 0), ClockEvent::TimeUp)]);
        // Ten minutes over, +5 still gives five minutes, not -05:00.
        let mut late = SessionClock::default();
        late.start(at(0, 0), None, 50, &p).unwrap();
        late.extend(at(60, 0), 5, &p).unwrap();
        assert_eq!(late.reading(at(60, 0), &p, &[]).display, "05:00");
        // Extending early re-arms the 5-minute warning for its new moment.
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 50, &p).unwrap();
        run(&mut c, at(0, 0), at(46, 0), &p, &[]);
        c.extend(at(46, 0), 5, &p).unwrap();
        let later = run(&mut c, at(46, 1), at(56, 0), &p, &[]);
        assert_eq!(
            later,
            vec![
                (at(50, 0), ClockEvent::Warning { minutes_left: 5 }),
                (at(55, 0), ClockEvent::TimeUp)
            ]
        );
        assert!(SessionClock::default().extend(at(0, 0), 5, &p).is_err());
    }

    #[test]
    fn a_short_session_skips_warnings_already_past_and_starting_twice_is_refused() {
        let p = Preferences::default();
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 7, &p).unwrap();
        assert!(c.start(at(0, 1), None, 50, &p).is_err());
        let events = run(&mut c, at(0, 0), at(8, 0), &p, &[]);
        assert_eq!(
            events,
            vec![
                (at(2, 0), ClockEvent::Warning { minutes_left: 5 }),
                (at(7, 0), ClockEvent::TimeUp)
            ]
        );
        assert!(
            SessionClock::default()
                .start(at(0, 0), None, 0, &p)
                .is_err()
        );
    }

    #[test]
    fn a_warning_added_mid_session_is_not_given_late() {
        let p = Preferences::default();
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 50, &p).unwrap();
        run(&mut c, at(0, 0), at(42, 0), &p, &[]);
        let more = Preferences {
            warning_minutes: vec![15, 10, 2],
            ..Preferences::default()
        };
        c.rearm(at(42, 0), &more);
        let events = run(&mut c, at(42, 1), at(50, 0), &more, &[]);
        assert_eq!(
            events,
            vec![
                (at(48, 0), ClockEvent::Warning { minutes_left: 2 }),
                (at(50, 0), ClockEvent::TimeUp)
            ]
        );
    }

    #[test]
    fn restart_recovers_the_running_session_without_repeating_or_flooding_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let p = Preferences::default();
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 50, &p).unwrap();
        run(&mut c, at(0, 0), at(41, 0), &p, &[]); // 10-minute warning given
        c.save(dir.path(), None).unwrap();
        // The app is closed at 41:00 and opened again at 46:30.
        let mut back = SessionClock::load(dir.path()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.reading(at(46, 30), &p, &[]).display, "03:30");
        assert_eq!(
            back.tick(at(46, 30), &p, &[]),
            vec![ClockEvent::Warning { minutes_left: 5 }]
        );
        assert!(back.tick(at(46, 31), &p, &[]).is_empty());
        // Closed across both warnings and the end: only the end is announced.
        let mut c = SessionClock::default();
        c.start(at(0, 0), None, 50, &p).unwrap();
        c.save(dir.path(), None).unwrap();
        let mut back = SessionClock::load(dir.path()).unwrap();
        assert_eq!(back.tick(at(55, 0), &p, &[]), vec![ClockEvent::TimeUp]);
        assert!(run(&mut back, at(55, 1), at(60, 0), &p, &[]).is_empty());
        assert_eq!(
            SessionClock::load(tempfile::tempdir().unwrap().path()).unwrap(),
            SessionClock::new(),
            "no file: an idle clock, with nothing to check"
        );
    }

    #[test]
    fn back_to_back_sessions_show_the_gap_flag_a_short_buffer_and_remind_once() {
        let p = Preferences {
            buffer_minutes: 10,
            next_session_notice_minutes: 5,
            ..Preferences::default()
        };
        let day = [slot("a", 0, 50), slot("b", 55, 50), slot("c", 120, 50)];
        let mut c = SessionClock::default();
        // Started two minutes late inside its slot: still ends at the booked 09:50.
        c.start(at(2, 0), Some(&day[0]), 0, &p).unwrap();
        let r = c.reading(at(2, 0), &p, &day);
        assert_eq!(r.display, "48:00");
        assert_eq!(r.next.as_ref().unwrap().appointment_id, "b");
        assert_eq!((r.gap_minutes, r.gap_short), (Some(5), true));
        let events = run(&mut c, at(2, 0), at(54, 0), &p, &day);
        assert_eq!(
            events,
            vec![
                (at(40, 0), ClockEvent::Warning { minutes_left: 10 }),
                (at(45, 0), ClockEvent::Warning { minutes_left: 5 }),
                (at(50, 0), ClockEvent::TimeUp),
                (
                    at(50, 0),
                    ClockEvent::NextSoon {
                        appointment_id: "b".into(),
                        minutes: 5
                    }
                ),
            ]
        );
        c.end();
        // The next is started from its own slot; the one after has a long enough gap.
        c.start(at(55, 0), Some(&day[1]), 0, &p).unwrap();
        let r = c.reading(at(56, 0), &p, &day);
        assert_eq!(r.next.as_ref().unwrap().appointment_id, "c");
        assert_eq!((r.gap_minutes, r.gap_short), (Some(15), false));
        // A booked session started before its slot runs for its booked length.
        let mut early = SessionClock::default();
        early.start(at(-3, 0), Some(&day[0]), 0, &p).unwrap();
        assert_eq!(early.reading(at(-3, 0), &p, &day).display, "50:00");
        // Idle: the gap runs from now.
        let idle = SessionClock::default();
        let r = idle.reading(at(100, 0), &p, &day);
        assert_eq!(
            (r.running, r.gap_minutes, r.display.as_str()),
            (false, Some(20), "")
        );
    }
}
