//! The commands the UI calls (through `ui/src/lib/api.ts`). Each is a thin wrapper: it
//! checks the shape of what came from the window, calls `casebook-core`, and returns data
//! or a [`UiError`]. All of them are `async` so they run off the main (UI) thread.

use std::collections::BTreeMap;

use casebook_core::audit::{AuditEntry, AuditFilter, Verification};
use casebook_core::{
    Addendum, Appointment, AppointmentStatus, CancelledBy, CaseloadEntry, Client, ClientCode,
    ClientIdentity, ClientSummary, DayAppointment, Instrument, NoteRisk, NoteTemplate,
    OutcomeMeasure, Preferences, ProcessNote, RecoveryKey, Repeat, RiskFlag, SearchFilter,
    SearchHit, SeriesEnd, SessionNote, ToFinish, Unrecorded, Vault, parse_date,
};
use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{UiError, UiResult};
use crate::inputs::{chosen_path, downloads, new_passphrase};
use crate::notices;
use crate::session_clock::{self, ClockView};
use crate::state::{AppState, ClockState, guard};

#[derive(Serialize)]
pub struct AppStatus {
    vault_exists: bool,
    unlocked: bool,
    key_store: Option<casebook_core::KeyStoreKind>,
    vault_dir: String,
    /// When this computer last synced with the practice's others (seconds since the epoch).
    last_sync: Option<u64>,
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> UiResult<AppStatus> {
    let meta = Vault::peek(&state.vault_dir).ok();
    Ok(AppStatus {
        vault_exists: meta.is_some(),
        unlocked: state.is_unlocked(),
        key_store: meta.map(|m| m.key_store),
        vault_dir: state.vault_dir.display().to_string(),
        last_sync: casebook_core::sync_state::last_synced(&state.vault_dir),
    })
}

/// Shown once; wiped from this process's memory once it has been sent to the window.
#[derive(Serialize, Zeroize, ZeroizeOnDrop)]
pub struct CreatedVault {
    recovery_key: String,
}

/// Where the window chose to keep the keys: `None` for the OS keychain, or the passphrase
/// (at least 10 characters).
fn chosen_key_store(
    key_store: &str,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<Option<Zeroizing<String>>> {
    match key_store {
        "os-keychain" => Ok(None),
        "passphrase" => new_passphrase(passphrase.unwrap_or_default()).map(Some),
        _ => Err(UiError::invalid(
            "Choose where the keys are kept: OS keychain or passphrase.",
        )),
    }
}

#[tauri::command]
pub async fn vault_create(
    app: AppHandle,
    state: State<'_, AppState>,
    key_store: String,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<CreatedVault> {
    let passphrase = chosen_key_store(&key_store, passphrase)?;
    let epoch = state.lock_epoch();
    let mut slot = state.vault_slot();
    let created = Vault::init(&state.vault_dir, passphrase.as_ref().map(|p| p.as_str()))?;
    let recovery_key = created.recovery_key.as_str().to_string();
    let mut vault = created.vault;
    state.touch();
    for message in state.after_unlock(&mut vault) {
        notices::show(&app, message);
    }
    state.install(&mut slot, vault, epoch)?;
    Ok(CreatedVault { recovery_key })
}

/// Unlocks and returns today's view, so the window can paint Today without another call.
/// The vault slot is held throughout, so a lock or a tray action cannot interleave.
#[tauri::command]
pub async fn vault_unlock(
    app: AppHandle,
    state: State<'_, AppState>,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<Today> {
    // A vault locked while a task held it is dropped here: the passphrase is asked again.
    let epoch = state.lock_epoch();
    let slot = state.vault_slot();
    let opened = if slot.is_none() {
        let passphrase = passphrase.filter(|p| !p.is_empty());
        Some(Vault::open(
            &state.vault_dir,
            passphrase.as_ref().map(|p| p.as_str()),
        )?)
    } else {
        None
    };
    enter(&app, &state, slot, opened, epoch)
}

/// Restores access with the recovery key when the passphrase or the keychain's keys are
/// lost: the keys are stored again where the therapist now chooses (a new passphrase, or
/// the OS keychain), the recovery is audited, and the app opens on Today as after an unlock.
#[tauri::command]
pub async fn vault_recover(
    app: AppHandle,
    state: State<'_, AppState>,
    recovery_key: Zeroizing<String>,
    key_store: String,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<Today> {
    let key = RecoveryKey::parse(&recovery_key)?;
    let passphrase = chosen_key_store(&key_store, passphrase)?;
    let epoch = state.lock_epoch();
    let slot = state.vault_slot();
    if slot.is_some() {
        return Err(UiError::invalid(
            "Casebook is already unlocked: lock it first to restore access with the recovery key.",
        ));
    }
    let vault = Vault::recover(
        &state.vault_dir,
        &key,
        passphrase.as_ref().map(|p| p.as_str()),
    )?;
    enter(&app, &state, slot, Some(vault), epoch)
}

/// After an unlock or a recovery: puts the vault just opened (if any) in its slot, records
/// what was done while locked, and returns today's view.
fn enter(
    app: &AppHandle,
    state: &AppState,
    mut slot: std::sync::MutexGuard<'_, Option<Vault>>,
    opened: Option<Vault>,
    epoch: u64,
) -> UiResult<Today> {
    let day = Local::now().date_naive();
    if let Some(mut vault) = opened {
        for message in state.after_unlock(&mut vault) {
            notices::show(app, message);
        }
        state.install(&mut slot, vault, epoch)?;
        crate::memory::release_after_unlock(app);
    }
    state.touch();
    let vault = slot.as_mut().ok_or_else(UiError::locked)?;
    // An unreadable day must not keep the therapist out (the audit screen is where a
    // broken trail is looked into): show it as a notice and an empty day.
    let appointments = state.load_day(vault, day).unwrap_or_else(|e| {
        notices::show(app, e.message);
        Vec::new()
    });
    drop(slot);
    // A lock that came meanwhile wins: nothing of the day goes to the window.
    if !state.is_unlocked() {
        return Err(UiError::locked());
    }
    Ok(today_view(state, day, appointments))
}

#[tauri::command]
pub async fn vault_lock(state: State<'_, AppState>) -> UiResult<()> {
    state.lock();
    Ok(())
}

#[tauri::command]
pub async fn touch(state: State<'_, AppState>) -> UiResult<()> {
    state.touch();
    Ok(())
}

#[derive(Serialize)]
pub struct Today {
    date: String,
    appointments: Vec<DayAppointment>,
    next: Option<DayAppointment>,
    clock: ClockView,
}

fn today_view(
    state: &AppState,
    day: chrono::NaiveDate,
    appointments: Vec<DayAppointment>,
) -> Today {
    let now = Utc::now();
    let next = appointments
        .iter()
        .find(|d| {
            d.appointment.starts_at > now
                && d.appointment.status == casebook_core::AppointmentStatus::Scheduled
        })
        .cloned();
    let clock = session_clock::view(state, &guard(&state.clock));
    Today {
        date: day.format("%Y-%m-%d").to_string(),
        appointments,
        next,
        clock,
    }
}

#[tauri::command]
pub async fn today(state: State<'_, AppState>, date: Option<String>) -> UiResult<Today> {
    let day = match date {
        Some(d) => parse_date(&d)?,
        None => Local::now().date_naive(),
    };
    let appointments = state.with_vault(|v| state.load_day(v, day))?;
    Ok(today_view(&state, day, appointments))
}

#[tauri::command]
pub async fn clients_list(
    state: State<'_, AppState>,
    include_closed: bool,
) -> UiResult<Vec<ClientSummary>> {
    state.with_vault(|v| Ok(v.list_clients(include_closed)?))
}

/// The client list: every client with the next session, the last one attended, sessions
/// attended and notes to finish.
#[tauri::command]
pub async fn clients_caseload(
    state: State<'_, AppState>,
    include_closed: bool,
    quiet: Option<bool>,
) -> UiResult<Vec<CaseloadEntry>> {
    let read = |v: &mut Vault| Ok(v.caseload(include_closed, Utc::now())?);
    // `quiet`: the window refreshing after another computer's changes, not the therapist.
    if quiet == Some(true) {
        state.with_vault_quietly(read)
    } else {
        state.with_vault(read)
    }
}

/// Empty optional fields from a form mean "not given".
fn tidy(mut identity: ClientIdentity) -> ClientIdentity {
    let clean = |o: Option<String>| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    identity.full_name = identity.full_name.trim().to_string();
    identity.email = clean(identity.email);
    identity.phone = clean(identity.phone);
    identity.emergency_contact = clean(identity.emergency_contact);
    identity.gp = clean(identity.gp);
    identity.nhs_number = clean(identity.nhs_number);
    identity
}

#[tauri::command]
pub async fn client_add(state: State<'_, AppState>, identity: ClientIdentity) -> UiResult<Client> {
    state.with_vault(|v| Ok(v.add_client(tidy(identity))?))
}

#[tauri::command]
pub async fn client_close(
    state: State<'_, AppState>,
    code: String,
    ended_on: String,
) -> UiResult<Client> {
    let code = ClientCode::parse(&code)?;
    let ended_on = parse_date(&ended_on)?;
    state.with_vault(|v| Ok(v.close_client(&code, ended_on)?))
}

#[derive(Serialize)]
pub struct ClientFile {
    client: Client,
    appointments: Vec<Appointment>,
    notes: Vec<SessionNote>,
    process_notes: Vec<ProcessNote>,
    measures: Vec<OutcomeMeasure>,
    /// The client's risk or safeguarding flag, if one stands.
    risk: Option<RiskFlag>,
}

#[tauri::command]
pub async fn client_file(
    state: State<'_, AppState>,
    code: String,
    quiet: Option<bool>,
) -> UiResult<ClientFile> {
    let code = ClientCode::parse(&code)?;
    // One transaction: each part audited as before, the trail synced to disk once.
    let read = |v: &mut Vault| {
        let f = v.client_file(&code)?;
        Ok(ClientFile {
            client: f.client,
            appointments: f.appointments,
            notes: f.notes,
            process_notes: f.process_notes,
            measures: f.measures,
            risk: f.risk,
        })
    };
    // `quiet`: the open file refreshing after another computer's changes (no activity: the
    // records still auto-lock while the therapist is away).
    if quiet == Some(true) {
        state.with_vault_quietly(read)
    } else {
        state.with_vault(read)
    }
}

fn instant(s: &str) -> UiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| UiError::invalid(format!("'{s}' is not a date and time")))
}

#[tauri::command]
pub async fn appointment_add(
    state: State<'_, AppState>,
    code: String,
    starts_at: String,
    ends_at: String,
) -> UiResult<Appointment> {
    let code = ClientCode::parse(&code)?;
    let (starts_at, ends_at) = (instant(&starts_at)?, instant(&ends_at)?);
    state.with_vault(|v| {
        let a = v.add_appointment(&code, starts_at, ends_at)?;
        // Saved: refreshing the clock's list is best effort (the next unlock reloads it).
        let _ = state.load_day(v, Local::now().date_naive());
        Ok(a)
    })
}

/// Books a series: from the local date and time `first` ("YYYY-MM-DDTHH:MM"), every
/// `repeat` (weekly, fortnightly, every-N-weeks), `count` sessions or until the date `until`,
/// each `minutes` long at the same local time. Returns the sessions, first first.
#[tauri::command]
pub async fn appointment_series_add(
    state: State<'_, AppState>,
    code: String,
    first: String,
    minutes: u32,
    repeat: String,
    count: Option<u32>,
    until: Option<String>,
) -> UiResult<Vec<Appointment>> {
    let code = ClientCode::parse(&code)?;
    let first = chrono::NaiveDateTime::parse_from_str(&first, "%Y-%m-%dT%H:%M")
        .map_err(|_| UiError::invalid(format!("'{first}' is not a date and time")))?;
    let repeat = Repeat::parse(&repeat)?;
    let end = match (count, until) {
        (Some(n), _) => SeriesEnd::Count(n),
        (None, Some(d)) => SeriesEnd::Until(parse_date(&d)?),
        (None, None) => {
            return Err(UiError::invalid(
                "Say how many sessions, or the date the series ends.",
            ));
        }
    };
    state.with_vault(|v| {
        let booked = v.add_series(&code, first, minutes, repeat, end)?;
        let _ = state.load_day(v, Local::now().date_naive());
        Ok(booked)
    })
}

/// Every session starting in `[from, to)` (RFC 3339), cancelled ones included, with the
/// client's name: the week view. At most 62 days at a time.
#[tauri::command]
pub async fn appointments_between(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> UiResult<Vec<DayAppointment>> {
    let (from, to) = (instant(&from)?, instant(&to)?);
    if to - from > chrono::Duration::days(62) {
        return Err(UiError::invalid("Ask for at most 62 days at a time."));
    }
    state.with_vault(|v| Ok(v.schedule(from, to)?))
}

/// Moves a booked session to start at `starts_at` (its length kept); with `following`, the
/// later booked sessions of its series too, each at the same local time. Returns the moved.
#[tauri::command]
pub async fn appointment_move(
    state: State<'_, AppState>,
    id: String,
    starts_at: String,
    following: bool,
) -> UiResult<Vec<Appointment>> {
    let starts_at = instant(&starts_at)?;
    state.with_vault(|v| {
        let moved = v.move_appointment(&id, starts_at, following)?;
        let _ = state.load_day(v, Local::now().date_naive());
        Ok(moved)
    })
}

/// Deletes a session booked by mistake (refused once it has a note).
#[tauri::command]
pub async fn appointment_delete(state: State<'_, AppState>, id: String) -> UiResult<()> {
    state.with_vault(|v| {
        v.delete_appointment(&id)?;
        let _ = state.load_day(v, Local::now().date_naive());
        Ok(())
    })
}

/// Records what became of a session: attended, did not attend, or cancelled (by the client,
/// late, or by the therapist, with an optional reason of a few words) — with `following`, a
/// cancellation covers the later booked sessions of its series too.
#[tauri::command]
pub async fn appointment_mark(
    state: State<'_, AppState>,
    id: String,
    status: String,
    reason: Option<String>,
    following: Option<bool>,
) -> UiResult<Appointment> {
    let status = AppointmentStatus::parse(&status)?;
    state.with_vault(|v| {
        let by = match status {
            AppointmentStatus::Cancelled => Some(CancelledBy::Client),
            AppointmentStatus::CancelledLate => Some(CancelledBy::ClientLate),
            AppointmentStatus::CancelledByTherapist => Some(CancelledBy::Therapist),
            _ => None,
        };
        let a = match by {
            Some(by) => v
                .cancel_appointment(&id, by, reason.as_deref(), following.unwrap_or(false))?
                .into_iter()
                .next()
                .ok_or_else(|| casebook_core::CoreError::Corrupt("no session cancelled".into()))?,
            None => v.mark_appointment(&id, status)?,
        };
        let _ = state.load_day(v, Local::now().date_naive());
        Ok(a)
    })
}

/// What is left to do, for Today: sessions from before today still marked booked, and notes
/// to finish (drafts, and attended sessions with no note).
#[derive(Serialize)]
pub struct WorkTodo {
    to_mark: Vec<DayAppointment>,
    notes_to_finish: Vec<ToFinish>,
}

#[tauri::command]
pub async fn work_todo(state: State<'_, AppState>) -> UiResult<WorkTodo> {
    let midnight = Local::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(Local).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    state.with_vault(|v| {
        Ok(WorkTodo {
            to_mark: v.sessions_to_mark(midnight)?,
            notes_to_finish: v.notes_to_finish()?,
        })
    })
}

fn field_list(fields: BTreeMap<String, String>) -> Vec<(String, String)> {
    fields.into_iter().collect()
}

#[tauri::command]
pub async fn note_create(
    state: State<'_, AppState>,
    code: String,
    template: String,
    fields: BTreeMap<String, String>,
    appointment_id: Option<String>,
) -> UiResult<SessionNote> {
    let code = ClientCode::parse(&code)?;
    let template = NoteTemplate::parse(&template)?;
    state.with_vault(|v| {
        Ok(v.add_note(
            &code,
            template,
            &field_list(fields),
            appointment_id.as_deref(),
        )?)
    })
}

#[tauri::command]
pub async fn note_save(
    state: State<'_, AppState>,
    id: String,
    fields: BTreeMap<String, String>,
) -> UiResult<SessionNote> {
    state.with_vault(|v| Ok(v.edit_note(&id, &field_list(fields))?))
}

#[tauri::command]
pub async fn note_finalise(state: State<'_, AppState>, id: String) -> UiResult<SessionNote> {
    state.with_vault(|v| Ok(v.finalise_note(&id)?))
}

/// What a draft note says about risk and safeguarding: `flagged`, `cleared` or `none`.
#[tauri::command]
pub async fn note_set_risk(state: State<'_, AppState>, id: String, risk: String) -> UiResult<()> {
    let risk = NoteRisk::parse(&risk)?;
    state.with_vault(|v| Ok(v.set_note_risk(&id, risk)?))
}

#[tauri::command]
pub async fn note_discard(state: State<'_, AppState>, id: String) -> UiResult<()> {
    state.with_vault(|v| Ok(v.discard_note(&id)?))
}

#[tauri::command]
pub async fn note_addendum(
    state: State<'_, AppState>,
    note_id: String,
    text: String,
) -> UiResult<Addendum> {
    state.with_vault(|v| Ok(v.add_addendum(&note_id, &text)?))
}

#[tauri::command]
pub async fn note_templates() -> UiResult<BTreeMap<&'static str, &'static [&'static str]>> {
    Ok(NoteTemplate::ALL
        .into_iter()
        .map(|t| (t.as_str(), t.fields()))
        .collect())
}

#[tauri::command]
pub async fn process_note_add(
    state: State<'_, AppState>,
    code: String,
    text: String,
) -> UiResult<ProcessNote> {
    let code = ClientCode::parse(&code)?;
    state.with_vault(|v| Ok(v.add_process_note(&code, &text)?))
}

#[derive(Serialize)]
pub struct InstrumentInfo {
    instrument: Instrument,
    label: &'static str,
    items: usize,
    max_total: f64,
    bands: Vec<(f64, &'static str)>,
}

#[tauri::command]
pub async fn instruments() -> UiResult<Vec<InstrumentInfo>> {
    Ok([Instrument::Phq9, Instrument::Gad7, Instrument::Core10]
        .into_iter()
        .map(|i| InstrumentInfo {
            instrument: i,
            label: i.label(),
            items: i.item_count(),
            max_total: i.max_total(),
            bands: i.bands().to_vec(),
        })
        .collect())
}

#[tauri::command]
pub async fn measure_add(
    state: State<'_, AppState>,
    code: String,
    instrument: String,
    items: Vec<Option<u8>>,
) -> UiResult<OutcomeMeasure> {
    let code = ClientCode::parse(&code)?;
    let instrument = Instrument::parse(&instrument)?;
    state.with_vault(|v| Ok(v.add_measure(&code, instrument, &items)?))
}

/// Searches notes, addenda and process notes; narrowed, if given, to one client and to the
/// local days `from` to `to` (YYYY-MM-DD, both included).
#[tauri::command]
pub async fn search(
    state: State<'_, AppState>,
    query: String,
    client: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> UiResult<Vec<SearchHit>> {
    let client_code = match client.filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(ClientCode::parse(&c)?.to_string()),
        None => None,
    };
    let day = |d: Option<String>| {
        d.filter(|d| !d.trim().is_empty())
            .map(|d| parse_date(&d))
            .transpose()
    };
    let from = day(from)?.map(crate::state::local_start).transpose()?;
    let to = day(to)?
        .map(|d| crate::state::local_start(d + chrono::Duration::days(1)))
        .transpose()?;
    let filter = SearchFilter {
        client_code,
        from,
        to,
    };
    state.with_vault(|v| Ok(v.search_with(&query, &filter, 50)?))
}

/// The audit filter as the window sends it (dates as YYYY-MM-DD).
#[derive(Deserialize, Default)]
pub struct UiAuditFilter {
    client_code: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
}

impl UiAuditFilter {
    fn into_core(self) -> UiResult<AuditFilter> {
        let blank = |o: Option<String>| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let day = |o: Option<String>| -> UiResult<Option<String>> {
            Ok(match blank(o) {
                Some(d) => Some(parse_date(&d)?.format("%Y-%m-%d").to_string()),
                None => None,
            })
        };
        Ok(AuditFilter {
            client_code: blank(self.client_code),
            action: blank(self.action),
            since: day(self.since)?,
            until: day(self.until)?,
            limit: Some(self.limit.unwrap_or(500).min(5000)),
        })
    }
}

/// An audit entry with the name of the computer that wrote it (every computer's entries are
/// listed once sync is on).
#[derive(serde::Serialize)]
pub struct NamedAuditEntry {
    #[serde(flatten)]
    entry: AuditEntry,
    device_name: Option<String>,
}

#[tauri::command]
pub async fn audit_list(
    state: State<'_, AppState>,
    filter: UiAuditFilter,
) -> UiResult<Vec<NamedAuditEntry>> {
    let filter = filter.into_core()?;
    state.with_vault(|v| {
        let entries = v.audit_entries(&filter)?;
        let names = casebook_sync::practice::device_names(v);
        Ok(entries
            .into_iter()
            .map(|entry| NamedAuditEntry {
                device_name: names.get(&entry.device_id).cloned(),
                entry,
            })
            .collect())
    })
}

#[tauri::command]
pub async fn audit_verify(state: State<'_, AppState>) -> UiResult<Verification> {
    state.with_vault(|v| Ok(v.verify_audit()?))
}

/// Writes the filtered trail as CSV (owner-only) to the file the therapist chose, or into the
/// Downloads folder, and returns the file's path.
#[tauri::command]
pub async fn audit_export(
    state: State<'_, AppState>,
    filter: UiAuditFilter,
    path: Option<String>,
) -> UiResult<String> {
    let mut filter = filter.into_core()?;
    filter.limit = None;
    let path = match chosen_path(path)? {
        Some(p) => p,
        None => downloads()?.join(format!(
            "casebook-audit-{}.csv",
            Local::now().format("%Y-%m-%d-%H%M%S")
        )),
    };
    let folder = path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    state.with_vault(|v| {
        let entries = v.audit_export(&filter, "csv")?;
        std::fs::create_dir_all(&folder).map_err(|e| {
            UiError::internal(format!("Could not create {}: {e}", folder.display()))
        })?;
        // Owner-only (0600), as every other export: the trail names client codes.
        let mut csv = Vec::new();
        casebook_core::audit::write_csv(&entries, &mut csv)?;
        casebook_core::write_private_file(&path, &csv)?;
        Ok(path.display().to_string())
    })
}

#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> UiResult<Preferences> {
    Ok(state.prefs())
}

#[tauri::command]
pub async fn settings_set(
    state: State<'_, AppState>,
    settings: Preferences,
) -> UiResult<Preferences> {
    state.touch();
    let saved = settings.save(&state.vault_dir)?;
    *guard(&state.prefs) = saved.clone();
    guard(&state.clock).clock.rearm(Utc::now(), &saved);
    Ok(saved)
}

#[tauri::command]
pub async fn clock_view(state: State<'_, AppState>) -> UiResult<ClockView> {
    Ok(session_clock::view(&state, &guard(&state.clock)))
}

/// Starts a booked session (marking it attended) or an ad-hoc one. While locked (or while a
/// long task such as a backup holds the vault: the clock never waits for it), the start is
/// kept with the clock and recorded at the next unlock or once the vault is free.
pub fn start_session(
    app: &AppHandle,
    state: &AppState,
    appointment_id: Option<String>,
    minutes: Option<u32>,
) -> UiResult<ClockView> {
    state.touch();
    let prefs = state.prefs();
    let minutes = minutes.unwrap_or(prefs.default_session_minutes);
    let mut vault = state.try_vault_slot();
    let mut c = guard(&state.clock);
    if c.clock.running().is_some() {
        return Err(already_running());
    }
    let slot = match &appointment_id {
        Some(id) => Some(
            c.upcoming
                .iter()
                .find(|s| &s.appointment_id == id)
                .cloned()
                .ok_or_else(|| UiError {
                    kind: "not_found",
                    message: "That session is not on today's list.".into(),
                })?,
        ),
        None => None,
    };
    if slot.is_none() && !(1..=240).contains(&minutes) {
        return Err(UiError::invalid(
            "A session must be between 1 and 240 minutes long.",
        ));
    }
    let now = Utc::now();
    match writable(&mut vault) {
        Some(v) => {
            // What was kept while the vault was busy goes first, in the order it happened.
            notify_problems(app, state.record_deferred(v, &mut c));
            v.start_session(appointment_id.as_deref(), minutes)?;
        }
        None => c.clock.defer(Unrecorded::Start {
            appointment_id: appointment_id.clone(),
            minutes,
            started_at: Some(now),
        }),
    }
    c.clock.start(now, slot.as_ref(), minutes, &prefs)?;
    drop(vault);
    Ok(settle(app, state, c))
}

/// The vault, if it is free this moment and its records can be written (not while a join
/// catches up). Otherwise the clock keeps what it did, recorded once it can be.
fn writable<'a>(
    slot: &'a mut Option<std::sync::MutexGuard<'_, Option<Vault>>>,
) -> Option<&'a mut Vault> {
    slot.as_mut()
        .and_then(|v| v.as_mut())
        .filter(|v| !v.catching_up().unwrap_or(false))
}

/// Shows each message in the window.
fn notify_problems(app: &AppHandle, problems: Vec<String>) {
    for message in problems {
        notices::show(app, message);
    }
}

/// After the clock changed: saves it (it must survive a restart; a failure is shown, the
/// change stands), releases it and sends the new reading everywhere.
fn settle(
    app: &AppHandle,
    state: &AppState,
    mut c: std::sync::MutexGuard<'_, ClockState>,
) -> ClockView {
    if let Err(e) = state.save_clock(&mut c) {
        notices::show(app, e.message);
    }
    let v = session_clock::view(state, &c);
    drop(c);
    session_clock::publish(app, &v);
    v
}

/// The tray's "Start": the booked session in progress now, else one starting within the
/// reminder time, else an ad-hoc session of the default length.
pub fn start_next_or_adhoc(app: &AppHandle, state: &AppState) -> UiResult<ClockView> {
    let now = Utc::now();
    let soon =
        chrono::Duration::minutes(i64::from(state.prefs().next_session_notice_minutes.max(5)));
    let pick = {
        let c = guard(&state.clock);
        c.upcoming
            .iter()
            .filter(|s| s.starts_at <= now + soon && now < s.ends_at)
            .min_by_key(|s| s.starts_at)
            .map(|s| s.appointment_id.clone())
    };
    start_session(app, state, pick, None)
}

pub fn extend_session(app: &AppHandle, state: &AppState) -> UiResult<ClockView> {
    state.touch();
    let prefs = state.prefs();
    let mut vault = state.try_vault_slot();
    let mut c = guard(&state.clock);
    let running = c.clock.extend(Utc::now(), 5, &prefs)?;
    let (ends_at, unverified) = (running.ends_at, running.unverified);
    // The practice's other computers show the new end (when the records are free and
    // writable this moment: the clock here is what times the session either way).
    if let Some(v) = writable(&mut vault).filter(|_| !unverified)
        && let Err(e) = v.extend_session(ends_at)
    {
        notices::show(
            app,
            format!(
                "The new end was not shared with your other computers: {}",
                UiError::from(e).message
            ),
        );
    }
    drop(vault);
    Ok(settle(app, state, c))
}

pub fn end_session(
    app: &AppHandle,
    state: &AppState,
    ended_at: Option<DateTime<Utc>>,
) -> UiResult<ClockView> {
    state.touch();
    let mut vault = state.try_vault_slot();
    let mut c = guard(&state.clock);
    let Some(ran) = c.clock.end() else {
        return Err(UiError {
            kind: "conflict",
            message: "No session is running.".into(),
        });
    };
    let now = ended_at_or_now(ended_at, ran.started_at, Utc::now());
    match writable(&mut vault) {
        // A session read from a clock file that failed its check: its end is not recorded.
        _ if ran.unverified => {}
        Some(v) => {
            notify_problems(app, state.record_deferred(v, &mut c));
            if let Err(e) = v.end_session(&ran, now) {
                // Keep it for the next unlock rather than lose the record.
                c.clock.defer(Unrecorded::End { ran, ended_at: now });
                let _ = state.save_clock(&mut c);
                return Err(e.into());
            }
        }
        None => c.clock.defer(Unrecorded::End { ran, ended_at: now }),
    }
    drop(vault);
    Ok(settle(app, state, c))
}

#[tauri::command]
pub async fn clock_start(
    app: AppHandle,
    state: State<'_, AppState>,
    appointment_id: Option<String>,
    minutes: Option<u32>,
    code: Option<String>,
) -> UiResult<ClockView> {
    match code {
        Some(code) => start_walk_in(&app, &state, &code, minutes),
        None => start_session(&app, &state, appointment_id, minutes),
    }
}

fn already_running() -> UiError {
    UiError {
        kind: "conflict",
        message: "A session is already running: end it first.".into(),
    }
}

/// A walk-in: a session for the client `code` starting now, with no booking first. The
/// records must be open: the session is written (attended) before the clock starts, and it
/// joins today's list so the clock knows whom it is with.
pub fn start_walk_in(
    app: &AppHandle,
    state: &AppState,
    code: &str,
    minutes: Option<u32>,
) -> UiResult<ClockView> {
    let code = ClientCode::parse(code)?;
    let prefs = state.prefs();
    let minutes = minutes.unwrap_or(prefs.default_session_minutes);
    if !(1..=240).contains(&minutes) {
        return Err(UiError::invalid(
            "A session must be between 1 and 240 minutes long.",
        ));
    }
    if guard(&state.clock).clock.running().is_some() {
        return Err(already_running());
    }
    let c = state.with_vault(|v| {
        let walk_in = v.start_walk_in(&code, minutes)?;
        let today = state.load_day(v, Local::now().date_naive())?;
        let slot = today
            .iter()
            .find(|d| d.appointment.id == walk_in.id)
            .map(DayAppointment::slot)
            .ok_or_else(|| {
                casebook_core::CoreError::Corrupt("the walk-in is not on today's list".into())
            })?;
        let mut c = guard(&state.clock);
        // Started from the tray in the same instant: the walk-in stays recorded as attended.
        if c.clock.running().is_some() {
            return Err(already_running());
        }
        c.clock.start(Utc::now(), Some(&slot), minutes, &prefs)?;
        Ok(c)
    })?;
    // The records are let go of before the new reading goes to the window and the tray.
    Ok(settle(app, state, c))
}

#[tauri::command]
pub async fn clock_extend(app: AppHandle, state: State<'_, AppState>) -> UiResult<ClockView> {
    extend_session(&app, &state)
}

/// When a session ended: the moment End was pressed, if the window says so (it waits ten
/// seconds for an Undo before sending), else now. A time in the future, before the start, or
/// more than two minutes back is not believed.
pub fn ended_at_or_now(
    pressed: Option<DateTime<Utc>>,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    pressed
        .filter(|t| *t <= now && *t >= started_at && now - *t <= chrono::Duration::seconds(120))
        .unwrap_or(now)
}

/// "End" on a session running on another computer of the practice: recorded here (audited
/// as a session end); that computer's clock stops when the change reaches it.
#[tauri::command]
pub async fn clock_end_elsewhere(
    app: AppHandle,
    state: State<'_, AppState>,
    run: String,
) -> UiResult<ClockView> {
    state.with_vault(|v| {
        v.end_shared_session(&run, Utc::now())?;
        Ok(())
    })?;
    let mut c = guard(&state.clock);
    if c.elsewhere.as_ref().is_some_and(|e| e.run == run) {
        c.elsewhere = None;
    }
    Ok(settle(&app, &state, c))
}

#[tauri::command]
pub async fn clock_end(
    app: AppHandle,
    state: State<'_, AppState>,
    ended_at_ms: Option<i64>,
) -> UiResult<ClockView> {
    let pressed = ended_at_ms.and_then(DateTime::<Utc>::from_timestamp_millis);
    end_session(&app, &state, pressed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_chosen_place_must_be_a_full_path_and_none_means_the_usual_folder() {
        assert_eq!(chosen_path(None).unwrap(), None);
        assert_eq!(chosen_path(Some("  ".into())).unwrap(), None);
        assert_eq!(
            chosen_path(Some("/media/sam/BACKUPS/audit.csv".into())).unwrap(),
            Some(std::path::PathBuf::from("/media/sam/BACKUPS/audit.csv"))
        );
        let e = chosen_path(Some("exports/audit.csv".into())).unwrap_err();
        assert!(e.message.contains("not a full path"), "{}", e.message);
    }

    #[test]
    fn a_session_ends_when_end_was_pressed_unless_that_time_cannot_be_right() {
        let start = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        let now = start + chrono::Duration::minutes(50);
        let pressed = now - chrono::Duration::seconds(10);
        assert_eq!(ended_at_or_now(Some(pressed), start, now), pressed);
        assert_eq!(ended_at_or_now(None, start, now), now);
        // In the future, before the start, or long ago: not believed.
        assert_eq!(
            ended_at_or_now(Some(now + chrono::Duration::seconds(5)), start, now),
            now
        );
        assert_eq!(
            ended_at_or_now(Some(start - chrono::Duration::seconds(1)), start, now),
            now
        );
        assert_eq!(
            ended_at_or_now(Some(now - chrono::Duration::minutes(5)), start, now),
            now
        );
    }
}
