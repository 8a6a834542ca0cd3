//! Turning an [`Extraction`] into appointments: the preview of what would change, and
//! applying it.
//!
//! Both run the same plan inside one transaction, so what is applied is what the preview
//! computes against the vault as it is at that moment. Names are matched to clients
//! through the identity store (case and spacing ignored); an unknown name becomes a new
//! client when the import is confirmed. The clinical store only receives codes, times,
//! a status and a keyed hash of the event's identity (an HMAC under a per-vault calendar
//! secret), so the UID itself is never stored.
//!
//! Rules, for an event already imported (same identity):
//! - cancelled in the calendar → the appointment is marked cancelled (never deleted);
//! - at a different time → moved (the appointment's times are updated), if still booked;
//! - otherwise unchanged. Attended, missed and cancelled sessions are history and are never
//!   changed back by an import.
//!
//! For a refresh of the saved feed, a booked future appointment that came from the feed and
//! is no longer in it (services drop cancelled events) is marked cancelled — unless part of
//! the feed could not be read.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::Sha256;

use super::{Extraction, ImportWindow, SkippedEvent};
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::records::clients::{ClientIdentity, insert_client};
use crate::vault::{Ctx, Vault, new_id};

/// Where the calendar came from: the saved feed, or a file (or an address given once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportSource {
    Feed,
    File,
}

impl ImportSource {
    fn as_str(self) -> &'static str {
        match self {
            ImportSource::Feed => "feed",
            ImportSource::File => "file",
        }
    }
}

/// What an import would do to one appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    New,
    Moved,
    Cancelled,
    Unchanged,
}

/// The calendar's view of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Confirmed,
    Cancelled,
}

/// One line of the preview.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedEvent {
    pub summary: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: EventStatus,
    pub action: Change,
    /// The client it belongs to; `None` for a client created on confirmation.
    pub client_code: Option<String>,
    pub new_client: bool,
    /// For a moved appointment: when it was.
    pub previous_start: Option<DateTime<Utc>>,
    pub previous_end: Option<DateTime<Utc>>,
    #[serde(skip)]
    key: String,
    #[serde(skip)]
    appointment_id: Option<String>,
}

/// How many of each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PreviewCounts {
    pub new: usize,
    pub moved: usize,
    pub cancelled: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub new_clients: usize,
}

impl PreviewCounts {
    /// For the audit trail: counts only, never names.
    fn detail(&self, source: ImportSource) -> String {
        format!(
            "source={} new={} moved={} cancelled={} unchanged={} skipped={} new_clients={}",
            source.as_str(),
            self.new,
            self.moved,
            self.cancelled,
            self.unchanged,
            self.skipped,
            self.new_clients
        )
    }

    /// Whether confirming would change anything.
    pub fn has_changes(&self) -> bool {
        self.new + self.moved + self.cancelled > 0
    }
}

/// What an import would change (or, once applied, did).
#[derive(Clone, Debug, Serialize)]
pub struct CalendarPreview {
    pub source: ImportSource,
    pub window: ImportWindow,
    /// Changes first (by time), then the unchanged.
    pub events: Vec<PlannedEvent>,
    pub skipped: Vec<SkippedEvent>,
    /// Names that will become new clients on confirmation.
    pub new_clients: Vec<String>,
    pub counts: PreviewCounts,
    pub warnings: Vec<String>,
}

/// What an applied import did.
pub type ImportSummary = PreviewCounts;

impl Vault {
    /// What importing `calendar` would change, without changing it. Audited (it reads
    /// client names) with the counts.
    pub fn calendar_preview(
        &mut self,
        calendar: &Extraction,
        window: &ImportWindow,
        source: ImportSource,
    ) -> Result<CalendarPreview> {
        self.act(Action::CalendarPreview, |cx| {
            let keys = event_keys(cx, calendar)?;
            let preview = plan(cx, calendar, &keys, window, source)?;
            cx.detail(preview.counts.detail(source));
            Ok(preview)
        })
    }

    /// Imports `calendar`: creates the new clients and appointments, moves and cancels, in
    /// one transaction with one audit entry (and one per client created). Returns what it did.
    pub fn calendar_import(
        &mut self,
        calendar: &Extraction,
        window: &ImportWindow,
        source: ImportSource,
    ) -> Result<CalendarPreview> {
        self.act(Action::CalendarImport, |cx| {
            let keys = event_keys(cx, calendar)?;
            let preview = plan(cx, calendar, &keys, window, source)?;
            apply(cx, &preview, source)?;
            cx.detail(preview.counts.detail(source));
            Ok(preview)
        })
    }
}

/// The stored key of each extracted event: HMAC-SHA256 of its identity under the vault's
/// calendar secret (made on first use, kept in the clinical store's settings, so it moves
/// with an export and a re-import still recognises every event).
fn event_keys(cx: &mut Ctx<'_>, calendar: &Extraction) -> Result<Vec<String>> {
    let secret: Option<String> = cx
        .tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'calendar_secret'",
            [],
            |r| r.get(0),
        )
        .ok();
    let secret = match secret {
        Some(s) => s,
        None => {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let s = hex::encode(bytes);
            cx.tx.execute(
                "INSERT INTO meta (key, value) VALUES ('calendar_secret', ?1)",
                [&s],
            )?;
            s
        }
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    mac.update(b"casebook calendar event v1\0");
    Ok(calendar
        .events
        .iter()
        .map(|e| {
            let mut m = mac.clone();
            m.update(e.identity.as_bytes());
            hex::encode(m.finalize().into_bytes())
        })
        .collect())
}

/// Name as matched: case and spacing ignored.
fn match_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

struct Known {
    id: String,
    client_code: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    status: String,
    source: Option<String>,
}

fn plan(
    cx: &mut Ctx<'_>,
    calendar: &Extraction,
    keys: &[String],
    window: &ImportWindow,
    source: ImportSource,
) -> Result<CalendarPreview> {
    // Clients by name; active ones first, so a closed namesake does not make it ambiguous.
    let mut by_name: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    {
        let mut stmt = cx.tx.prepare(
            "SELECT c.code, i.full_name, c.status = 'active' FROM clients c
             JOIN identity.client_identity i ON i.code = c.code AND i.deleted = 0
             WHERE c.deleted = 0",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?;
        for row in rows {
            let (code, name, active) = row?;
            by_name
                .entry(match_key(&name))
                .or_default()
                .push((code.clone(), active));
            names.insert(code, name);
        }
    }
    let erased: HashSet<String> = cx
        .tx
        .prepare("SELECT calendar_key FROM erased_calendar_keys")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut known: HashMap<String, Known> = HashMap::new();
    {
        let mut stmt = cx.tx.prepare(
            "SELECT id, calendar_key, client_code, starts_at, ends_at, status, calendar_source
             FROM appointments WHERE calendar_key IS NOT NULL AND deleted = 0",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                Known {
                    id: r.get(0)?,
                    client_code: r.get(2)?,
                    starts_at: r.get(3)?,
                    ends_at: r.get(4)?,
                    status: r.get(5)?,
                    source: r.get(6)?,
                },
            ))
        })?;
        for row in rows {
            let (key, k) = row?;
            known.insert(key, k);
        }
    }

    let mut events = Vec::with_capacity(calendar.events.len());
    let mut skipped = calendar.skipped.clone();
    let mut new_clients: Vec<String> = Vec::new();
    let mut new_client_keys: HashSet<String> = HashSet::new();
    let mut in_calendar: HashSet<&str> = HashSet::with_capacity(keys.len());

    for (ev, key) in calendar.events.iter().zip(keys) {
        in_calendar.insert(key);
        if erased.contains(key) {
            skipped.push(SkippedEvent {
                summary: ev.summary.clone(),
                start: Some(ev.start),
                reason: "it belongs to a client whose records were erased".into(),
            });
            continue;
        }
        let status = if ev.cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        };
        let mut line = PlannedEvent {
            summary: ev.summary.clone(),
            start: ev.start,
            end: ev.end,
            status,
            action: Change::Unchanged,
            client_code: None,
            new_client: false,
            previous_start: None,
            previous_end: None,
            key: key.clone(),
            appointment_id: None,
        };
        if let Some(k) = known.get(key.as_str()) {
            line.client_code = Some(k.client_code.clone());
            line.appointment_id = Some(k.id.clone());
            let booked = k.status == "scheduled";
            let times_differ = k.starts_at != ev.start || k.ends_at != ev.end;
            line.action = match (ev.cancelled, k.status.as_str()) {
                (true, "scheduled") => Change::Cancelled,
                (true, _) => Change::Unchanged,
                // Cancelled here (by the therapist or an earlier import): it stays cancelled;
                // a booking made again in the calendar normally comes as a new event.
                (false, _) if booked && times_differ => Change::Moved,
                (false, _) => Change::Unchanged,
            };
            if line.action == Change::Moved {
                line.previous_start = Some(k.starts_at);
                line.previous_end = Some(k.ends_at);
            }
            events.push(line);
            continue;
        }
        let name_key = match_key(&ev.summary);
        let matches: Vec<&(String, bool)> = match by_name.get(&name_key) {
            Some(all) => {
                let active: Vec<_> = all.iter().filter(|(_, a)| *a).collect();
                if active.is_empty() {
                    all.iter().collect()
                } else {
                    active
                }
            }
            None => Vec::new(),
        };
        match (matches.as_slice(), ev.cancelled) {
            ([(code, _)], cancelled) => {
                line.client_code = Some(code.clone());
                line.action = if cancelled {
                    Change::Cancelled
                } else {
                    Change::New
                };
                events.push(line);
            }
            // Cancelled before it was ever imported, for no known client: listed, and left
            // alone (no client is created for a booking that never happened).
            ([], true) => events.push(line),
            ([], false) => {
                if new_client_keys.insert(name_key) {
                    new_clients.push(ev.summary.clone());
                }
                line.new_client = true;
                line.action = Change::New;
                events.push(line);
            }
            (several, _) => skipped.push(SkippedEvent {
                summary: ev.summary.clone(),
                start: Some(ev.start),
                reason: format!(
                    "{} clients have this name, so it cannot be matched: book it by hand",
                    several.len()
                ),
            }),
        }
    }

    let mut warnings = calendar.warnings.clone();
    if source == ImportSource::Feed {
        let (lo, hi) = (window.start(), window.end());
        let mut gone: Vec<(&String, &Known)> = known
            .iter()
            .filter(|(key, k)| {
                k.source.as_deref() == Some("feed")
                    && k.status == "scheduled"
                    && k.starts_at >= lo
                    && k.starts_at < hi
                    && k.starts_at >= cx.now
                    && !in_calendar.contains(key.as_str())
            })
            .collect();
        gone.sort_by_key(|(_, k)| k.starts_at);
        // A feed that could not be read whole — or came back empty, as services do for a
        // reset address — is no evidence that bookings were cancelled.
        if calendar.is_damaged() || calendar.events.is_empty() {
            if !gone.is_empty() {
                warnings.push(format!(
                    "{} booked {} no longer in the calendar, but the calendar was incomplete or empty, so nothing was cancelled.",
                    gone.len(),
                    if gone.len() == 1 { "session is" } else { "sessions are" }
                ));
            }
        } else {
            for (key, k) in gone {
                events.push(PlannedEvent {
                    summary: names.get(&k.client_code).cloned().unwrap_or_default(),
                    start: k.starts_at,
                    end: k.ends_at,
                    status: EventStatus::Cancelled,
                    action: Change::Cancelled,
                    client_code: Some(k.client_code.clone()),
                    new_client: false,
                    previous_start: None,
                    previous_end: None,
                    key: key.clone(),
                    appointment_id: Some(k.id.clone()),
                });
            }
        }
    }

    events.sort_by(|a, b| {
        (a.action == Change::Unchanged, a.start, &a.summary).cmp(&(
            b.action == Change::Unchanged,
            b.start,
            &b.summary,
        ))
    });
    let mut counts = PreviewCounts {
        skipped: skipped.len(),
        new_clients: new_clients.len(),
        ..PreviewCounts::default()
    };
    for e in &events {
        match e.action {
            Change::New => counts.new += 1,
            Change::Moved => counts.moved += 1,
            Change::Cancelled => counts.cancelled += 1,
            Change::Unchanged => counts.unchanged += 1,
        }
    }
    Ok(CalendarPreview {
        source,
        window: *window,
        events,
        skipped,
        new_clients,
        counts,
        warnings,
    })
}

fn apply(cx: &mut Ctx<'_>, preview: &CalendarPreview, source: ImportSource) -> Result<()> {
    // New clients first, one audited creation each.
    let mut created: HashMap<String, String> = HashMap::new();
    for name in &preview.new_clients {
        let identity = ClientIdentity {
            full_name: name.clone(),
            ..ClientIdentity::default()
        };
        identity.validate()?;
        let code = insert_client(cx, &identity)?;
        cx.detail("source=calendar");
        cx.also(Action::ClientCreate);
        created.insert(match_key(name), code.as_str().to_string());
    }
    for e in &preview.events {
        let hlc = cx.stamp();
        let id = match (e.action, &e.appointment_id) {
            (Change::Unchanged, _) => continue,
            (Change::New | Change::Cancelled, None) => {
                let code = match &e.client_code {
                    Some(code) => code.clone(),
                    None => created
                        .get(&match_key(&e.summary))
                        .cloned()
                        .ok_or_else(|| CoreError::Corrupt("new client missing".into()))?,
                };
                let id = new_id();
                let status = if e.action == Change::Cancelled {
                    "cancelled"
                } else {
                    "scheduled"
                };
                cx.tx.execute(
                    "INSERT INTO appointments (id, client_code, starts_at, ends_at, status, calendar_key, calendar_source, hlc, device_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![id, code, e.start, e.end, status, e.key, source.as_str(), hlc, cx.device_id],
                )?;
                id
            }
            (Change::New | Change::Moved, Some(id)) => {
                let was: Option<(DateTime<Utc>, DateTime<Utc>, String)> = cx
                    .tx
                    .query_row(
                        "SELECT starts_at, ends_at, client_code FROM appointments WHERE id = ?1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                cx.tx.execute(
                    "UPDATE appointments SET starts_at = ?2, ends_at = ?3, status = 'scheduled', hlc = ?4, device_id = ?5
                     WHERE id = ?1",
                    params![id, e.start, e.end, hlc, cx.device_id],
                )?;
                // A move is kept as history, as one made in Casebook is.
                if let Some((from, from_end, code)) = was
                    && (from, from_end) != (e.start, e.end)
                {
                    crate::records::appointments::record_move(
                        cx,
                        id,
                        &code,
                        (from, from_end),
                        (e.start, e.end),
                    )?;
                }
                id.clone()
            }
            (Change::Cancelled, Some(id)) => {
                cx.tx.execute(
                    "UPDATE appointments SET status = 'cancelled', hlc = ?2, device_id = ?3 WHERE id = ?1",
                    params![id, hlc, cx.device_id],
                )?;
                id.clone()
            }
            (Change::Moved, None) => continue,
        };
        // Each change is in the trail under its client too (with the import's own entry).
        let code = match &e.client_code {
            Some(c) => c.clone(),
            None => created
                .get(&match_key(&e.summary))
                .cloned()
                .unwrap_or_default(),
        };
        cx.client(&code);
        cx.object(&id);
        let action = match (e.action, &e.appointment_id) {
            (Change::Moved, _) | (Change::New, Some(_)) => Action::AppointmentMove,
            (Change::Cancelled, Some(_)) => Action::AppointmentMark,
            _ => Action::AppointmentCreate,
        };
        cx.detail(match e.action {
            Change::Cancelled => "status=cancelled source=calendar",
            _ => "source=calendar",
        });
        cx.also(action);
    }
    Ok(())
}
