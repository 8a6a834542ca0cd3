// A stand-in for the Rust backend, for working on the UI in a plain browser:
//   VITE_CASEBOOK_MOCK=1 npm run dev        (first run: no vault yet)
//   VITE_CASEBOOK_MOCK=seeded npm run dev   (a locked vault with sample clients; passphrase
//                                            "correct horse battery staple")
// The calendar feed accepts any https:// address; casebookMock.calendarChanges() in the
// console plays the automatic 30-minute check finding changes (the banner). The off-site
// copy talks to a pretend server (see "The off-site copy" below).
// It is only ever loaded by the dev server with that variable set (see main.ts), never in
// a build. It keeps everything in memory and imitates the commands in lib/api.ts closely
// enough to walk every screen; it is no reference for the core's behaviour.

import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { setPickerStandIn } from "../lib/files";
import type {
  AccessRequest,
  Addendum,
  Appointment,
  AuditEntry,
  AuditFilter,
  BackupFile,
  BackupOverview,
  CalendarEvent,
  CalendarPreview,
  CalendarSkipped,
  CalendarStatus,
  KeepPolicy,
  ClientIdentity,
  ClockView,
  ErasureRecord,
  IdentityChange,
  IdentityChanges,
  Redaction,
  RetentionPolicy,
  Instrument,
  InstrumentInfo,
  KeyStore,
  NoteTemplate,
  OffsiteOverview,
  OffsiteProgress,
  RemoteBackup,
  OutcomeMeasure,
  PracticeProfile,
  ProcessNote,
  SearchHit,
  SessionNote,
  Settings,
  ToFinish,
  SyncConflict,
  SyncOverview,
} from "../lib/api";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const rnd = (n: number) => Array.from({ length: n }, () => ALPHABET[Math.floor(Math.random() * 32)]).join("");
const id = () => crypto.randomUUID();
const now = () => new Date().toISOString();
const fail = (kind: string, message: string) => {
  throw { kind, message };
};

/** An NHS number as typed → its ten digits, or the core's refusal (records/clients.rs). */
function nhsNumber(typed: string): string {
  const digits = typed.replace(/[ -]/g, "");
  if (!/^\d{10}$/.test(digits)) fail("invalid_input", "an NHS number is ten digits (spaces allowed), like 943 476 5919");
  const sum = [...digits.slice(0, 9)].reduce((t, d, i) => t + Number(d) * (10 - i), 0);
  const check = 11 - (sum % 11) === 11 ? 0 : 11 - (sum % 11);
  if (check === 10 || check !== Number(digits[9]))
    fail("invalid_input", "this is not a valid NHS number: its last digit does not match the others (check it for a typing slip)");
  return digits;
}

/** An optional NHS number as sent: null or blank → none. */
const optNhs = (v: string | null | undefined) => (v == null || v.trim() === "" ? null : nhsNumber(v));

/** The practice's details as the core keeps them (records/practice.rs): blank → null, checked. */
function checkedPractice(p: PracticeProfile): PracticeProfile {
  const tidy = (what: string, v: string | null | undefined, max: number) => {
    const t = (v ?? "").trim();
    if (!t) return null;
    if ([...t].length > max) fail("invalid_input", `the ${what} is too long (at most ${max} characters)`);
    if (/[\u0000-\u001f\u007f]/.test(t)) fail("invalid_input", `the ${what} has a line break or control character`);
    return t;
  };
  const bodies = ["BACP", "UKCP", "NCPS", "HCPC", "BPS"];
  if (p.registration_body != null && !bodies.includes(p.registration_body))
    fail("invalid_input", `unknown registration body ${p.registration_body}`);
  return {
    practice_name: tidy("practice name", p.practice_name, 120),
    therapist_name: tidy("therapist's name", p.therapist_name, 120),
    registration_body: p.registration_body ?? null,
    registration_number: tidy("registration number", p.registration_number, 60),
  };
}

const TEMPLATES: Record<NoteTemplate, string[]> = {
  soap: ["subjective", "objective", "assessment", "plan"],
  dap: ["data", "assessment", "plan"],
  birp: ["behaviour", "intervention", "response", "plan"],
  free: ["text"],
  brief: ["attendance", "themes", "interventions", "risk", "plan"],
  assessment: ["presenting", "history", "risk", "formulation", "goals", "plan"],
  contact: ["method", "summary", "action"],
  ending: ["summary", "outcome", "risk", "recommendations"],
};

const INSTRUMENTS: InstrumentInfo[] = [
  {
    instrument: "phq9",
    label: "PHQ-9",
    items: 9,
    max_total: 27,
    bands: [
      [0, "minimal"],
      [5, "mild"],
      [10, "moderate"],
      [15, "moderately severe"],
      [20, "severe"],
    ],
  },
  {
    instrument: "gad7",
    label: "GAD-7",
    items: 7,
    max_total: 21,
    bands: [
      [0, "minimal"],
      [5, "mild"],
      [10, "moderate"],
      [15, "severe"],
    ],
  },
  {
    instrument: "core10",
    label: "CORE-10",
    items: 10,
    max_total: 40,
    bands: [
      [0, "healthy"],
      [6, "low"],
      [11, "mild"],
      [15, "moderate"],
      [20, "moderate-to-severe"],
      [25, "severe"],
    ],
  },
];

interface MockClient {
  code: string;
  status: "active" | "closed";
  opened_on: string;
  ended_on: string | null;
  identity: ClientIdentity;
}

interface Clock {
  appointment_id: string | null;
  client_code: string | null;
  started_at: string;
  ends_at: string;
}

const state = {
  exists: false,
  unlocked: false,
  keyStore: null as KeyStore | null,
  passphrase: null as string | null,
  recoveryKey: "",
  clients: [] as MockClient[],
  appointments: [] as Appointment[],
  notes: [] as SessionNote[],
  process: [] as ProcessNote[],
  measures: [] as OutcomeMeasure[],
  audit: [] as AuditEntry[],
  settings: {
    auto_lock_minutes: 10,
    warning_minutes: [10, 5],
    buffer_minutes: 10,
    default_session_minutes: 50,
    next_session_notice_minutes: 5,
    session_notifications: true,
  } as Settings,
  clock: null as Clock | null,
  practice: { practice_name: null, therapist_name: null, registration_body: null, registration_number: null } as PracticeProfile,
  backup: {
    destination: null as string | null,
    every_hours: 8,
    keep: { all_hours: 48, daily_days: 30, weekly_weeks: 12, monthly_months: 12 } as KeepPolicy,
    files: [] as BackupFile[],
    lastSuccess: null as string | null,
    failure: null as { at: string; error: string } | null,
    /** Set from the console (casebookMock.state.backup.failNext = true) to try the failure banner. */
    failNext: false,
  },
};

/** An event as the pretend remote calendar (or an .ics file) has it. */
interface RemoteEvent {
  uid: string;
  summary: string;
  start: string | null;
  end: string | null;
  cancelled: boolean;
  allDay: boolean;
}

const calendar = {
  url: null as string | null,
  auto: true,
  last: null as string | null,
  pending: null as CalendarPreview | null,
  /** What the pretend feed returns; `casebookMock.calendarChanges()` changes it. */
  remote: [] as RemoteEvent[],
  /** Calendar event uid → the appointment it was imported as. */
  links: new Map<string, string>(),
  /** The uid of each of the pending preview's events, in order. */
  pendingUids: [] as string[],
};

const VAULT_DIR = "/home/you/.local/share/casebook";
const backupDir = () => state.backup.destination ?? `${VAULT_DIR}-backups`;
const backupName = (d: Date) => `casebook-${d.toISOString().replace(/:/g, "-")}.tar`;

function backupFile(at: Date, verified: BackupFile["verified"] = null): BackupFile {
  const name = backupName(at);
  return {
    name,
    path: `${backupDir()}/${name}`,
    size: 90_000_000 + Math.round(Math.random() * 5_000_000),
    created_at: at.toISOString(),
    clients: state.clients.length,
    notes: state.notes.length,
    verified,
  };
}

function backupOverview(): BackupOverview {
  const b = state.backup;
  const every = b.every_hours * 3600_000;
  const last = b.lastSuccess ? new Date(b.lastSuccess).getTime() : null;
  const failedLater = b.failure && (!last || new Date(b.failure.at).getTime() > last);
  const overdue = last !== null && Date.now() > last + every + 30 * 60_000;
  const uk = (t: string) => new Date(t).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "short" }).replace(",", "");
  const health: BackupOverview["health"] = failedLater
    ? { state: "failed", message: `The last backup failed at ${uk(b.failure!.at)}.`, last_success: b.lastSuccess, failed_at: b.failure!.at, error: b.failure!.error }
    : last === null
      ? { state: "never", message: "No backup has been made yet.", last_success: null, failed_at: null, error: null }
      : overdue
        ? { state: "overdue", message: `No backup since ${uk(b.lastSuccess!)}: one is overdue.`, last_success: b.lastSuccess, failed_at: null, error: null }
        : { state: "ok", message: `Last backup ${uk(b.lastSuccess!)}.`, last_success: b.lastSuccess, failed_at: null, error: null };
  const next_due = failedLater
    ? new Date(new Date(b.failure!.at).getTime() + 15 * 60_000).toISOString()
    : last === null
      ? null
      : new Date(last + every).toISOString();
  return {
    destination: backupDir(),
    every_hours: b.every_hours,
    keep: { ...b.keep },
    health,
    next_due,
    files: [...b.files].sort((x, y) => y.name.localeCompare(x.name)).map((f) => ({ ...f })),
  };
}

function log(action: string, client_code: string | null = null, detail: string | null = null) {
  const prev = state.audit[state.audit.length - 1];
  state.audit.push({
    seq: state.audit.length + 1,
    at: now(),
    device_id: "dev-mock",
    action,
    client_code,
    object_id: null,
    detail,
    prev_hash: prev?.hash ?? "0".repeat(16),
    hash: rnd(16).toLowerCase(),
  });
}

function needUnlocked() {
  if (!state.unlocked) fail("locked", "Casebook is locked: unlock it first.");
}

function client(code: string): MockClient {
  const c = state.clients.find((x) => x.code === code);
  if (!c) fail("not_found", `There is no client ${code}.`);
  return c!;
}

function localDay(d = new Date()) {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function score(instrument: Instrument, items: (number | null)[]) {
  const info = INSTRUMENTS.find((i) => i.instrument === instrument)!;
  if (items.length !== info.items) fail("invalid", `${info.label} has ${info.items} items; got ${items.length}.`);
  const missing = items.filter((v) => v === null).length;
  if (missing > (instrument === "core10" ? 1 : 0))
    fail("invalid", `${info.label}: answer every item${instrument === "core10" ? " (one may be missing)" : ""}.`);
  const answered = items.filter((v): v is number => v !== null);
  let total = answered.reduce((a, b) => a + b, 0);
  const prorated = missing > 0;
  if (prorated) total = Math.round((total / answered.length) * info.items * 10) / 10;
  let band = info.bands[0][1];
  for (const [low, name] of info.bands) if (total >= low) band = name;
  const riskIndex = instrument === "phq9" ? 8 : instrument === "core10" ? 5 : -1;
  const risk = riskIndex >= 0 && (items[riskIndex] ?? 0) > 0;
  return { total, band, risk, above_clinical_cutoff: instrument === "core10" ? total >= 11 : null, prorated };
}

function clockView(): ClockView {
  const c = state.clock;
  const todays = state.appointments
    .filter((a) => a.status === "scheduled" && new Date(a.starts_at) > new Date() && a.id !== c?.appointment_id)
    .sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  const next = todays[0] ?? null;
  const from = c ? new Date(c.ends_at) : new Date();
  const gap = next ? Math.round((new Date(next.starts_at).getTime() - from.getTime()) / 60000) : null;
  const remaining = c ? Math.round((new Date(c.ends_at).getTime() - Date.now()) / 1000) : null;
  const pad = (n: number) => String(n).padStart(2, "0");
  const display =
    remaining === null
      ? ""
      : `${remaining < 0 ? "-" : ""}${pad(Math.floor(Math.abs(remaining) / 60))}:${pad(Math.abs(remaining) % 60)}`;
  // As the core: who the session is with only while unlocked.
  const who = state.unlocked ? (c?.client_code ?? null) : null;
  return {
    running: c !== null,
    appointment_id: c?.appointment_id ?? null,
    client_code: who,
    client_name: who ? (client(who).identity.full_name ?? null) : null,
    started_at: c?.started_at ?? null,
    ends_at: c?.ends_at ?? null,
    remaining_seconds: remaining,
    display,
    overrun: remaining !== null && remaining < 0,
    next: next ? { appointment_id: next.id, starts_at: next.starts_at, ends_at: next.ends_at } : null,
    gap_minutes: gap,
    buffer_minutes: state.settings.buffer_minutes,
    gap_short: gap !== null && gap < state.settings.buffer_minutes,
  };
}

function withAddenda(n: SessionNote): SessionNote {
  return { ...n, addenda: [...n.addenda] };
}

function snippet(text: string, q: string): string | null {
  const i = text.toLowerCase().indexOf(q.toLowerCase());
  if (i < 0) return null;
  const start = Math.max(0, i - 40);
  const end = Math.min(text.length, i + q.length + 40);
  return `${start > 0 ? "…" : ""}${text.slice(start, i)}[${text.slice(i, i + q.length)}]${text.slice(i + q.length, end)}${end < text.length ? "…" : ""}`;
}

// ---------- Calendar import ----------

function calendarWindow() {
  const t = new Date();
  return {
    from: localDay(new Date(t.getFullYear(), t.getMonth(), t.getDate() - 7)),
    to: localDay(new Date(t.getFullYear(), t.getMonth(), t.getDate() + 56)),
  };
}

/** The pretend feed on first connection: a few sessions for known clients, one for someone new. */
function seedRemote() {
  const t = new Date();
  const at = (days: number, h: number, m = 0) =>
    new Date(t.getFullYear(), t.getMonth(), t.getDate() + days, h, m).toISOString();
  const names = state.clients.filter((c) => c.status === "active").map((c) => c.identity.full_name);
  const ev = (summary: string, days: number, h: number): RemoteEvent => ({
    uid: id(),
    summary,
    start: at(days, h),
    end: at(days, h, 50),
    cancelled: false,
    allDay: false,
  });
  calendar.remote = [
    ...names.slice(0, 3).flatMap((n, i) => [ev(n, 1 + i, 10 + i), ev(n, 8 + i, 10 + i)]),
    ev("Jonah Reyes", 2, 16),
    { uid: id(), summary: "Dentist", start: at(3, 0), end: at(4, 0), cancelled: false, allDay: true },
  ];
}

let previewCounter = 0;

function previewOf(remote: RemoteEvent[], source: "feed" | "file", warnings: string[] = []): CalendarPreview {
  const window = calendarWindow();
  const events: CalendarEvent[] = [];
  const uids: string[] = [];
  const skipped: CalendarSkipped[] = [];
  const newClients = new Set<string>();
  for (const r of remote) {
    if (!r.start || !r.end || Number.isNaN(new Date(r.start).getTime())) {
      skipped.push({ summary: r.summary, start: null, reason: "Its start or end time could not be read." });
      continue;
    }
    const day = localDay(new Date(r.start));
    if (day < window.from || day > window.to) continue;
    if (r.allDay) {
      skipped.push({ summary: r.summary, start: r.start, reason: "It is an all-day event, not a session." });
      continue;
    }
    if (!r.summary.trim()) {
      skipped.push({ summary: "", start: r.start, reason: "It has no title, so there is no client to match it to." });
      continue;
    }
    const c = state.clients.find((x) => x.identity.full_name.toLowerCase() === r.summary.trim().toLowerCase());
    const linked = state.appointments.find((a) => a.id === calendar.links.get(r.uid));
    const base = {
      summary: r.summary,
      start: new Date(r.start).toISOString(),
      end: new Date(r.end).toISOString(),
      status: (r.cancelled ? "cancelled" : "confirmed") as CalendarEvent["status"],
      client_code: c?.code ?? linked?.client_code ?? null,
      new_client: false,
      previous_start: null as string | null,
      previous_end: null as string | null,
    };
    const add = (e: CalendarEvent) => {
      events.push(e);
      uids.push(r.uid);
    };
    if (linked) {
      if (r.cancelled && linked.status !== "cancelled") add({ ...base, action: "cancelled" });
      else if (!r.cancelled && (linked.starts_at !== base.start || linked.ends_at !== base.end))
        add({ ...base, action: "moved", previous_start: linked.starts_at, previous_end: linked.ends_at });
      else add({ ...base, action: "unchanged" });
    } else if (r.cancelled) {
      skipped.push({ summary: r.summary, start: r.start, reason: "It was cancelled before it was ever imported." });
    } else {
      if (!c) newClients.add(r.summary.trim());
      add({ ...base, action: "new", new_client: !c });
    }
  }
  const count = (a: CalendarEvent["action"]) => events.filter((e) => e.action === a).length;
  calendar.pendingUids = uids;
  return {
    id: `preview-${++previewCounter}`,
    source,
    window,
    events,
    skipped,
    new_clients: [...newClients],
    counts: {
      new: count("new"),
      moved: count("moved"),
      cancelled: count("cancelled"),
      unchanged: count("unchanged"),
      skipped: skipped.length,
      new_clients: newClients.size,
    },
    warnings,
  };
}

/** Just enough of RFC 5545 for trying the file import: VEVENTs' UID, SUMMARY, DTSTART, DTEND, STATUS. */
function parseIcs(text: string): { events: RemoteEvent[]; warnings: string[] } {
  if (!/BEGIN:VCALENDAR/i.test(text)) fail("invalid", "This is not a calendar file: it has no BEGIN:VCALENDAR line.");
  const lines = text.replace(/\r\n[ \t]/g, "").replace(/\n[ \t]/g, "").split(/\r?\n/);
  const events: RemoteEvent[] = [];
  const warnings: string[] = [];
  let cur: Record<string, string> | null = null;
  let bad = 0;
  const when = (v: string | undefined): { iso: string | null; allDay: boolean } => {
    const m = v && /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(v);
    if (!m) return { iso: null, allDay: false };
    const [, y, mo, d, h, mi, se, z] = m;
    if (!h) return { iso: new Date(+y, +mo - 1, +d).toISOString(), allDay: true };
    const date = z ? new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +se)) : new Date(+y, +mo - 1, +d, +h, +mi, +se);
    return { iso: date.toISOString(), allDay: false };
  };
  for (const line of lines) {
    if (/^BEGIN:VEVENT$/i.test(line)) cur = {};
    else if (/^END:VEVENT$/i.test(line) && cur) {
      const s = when(cur.DTSTART);
      const e = when(cur.DTEND);
      events.push({
        uid: cur.UID ?? id(),
        summary: (cur.SUMMARY ?? "").replace(/\\,/g, ",").replace(/\\;/g, ";"),
        start: s.iso,
        end: e.iso ?? (s.iso ? new Date(new Date(s.iso).getTime() + 50 * 60_000).toISOString() : null),
        cancelled: (cur.STATUS ?? "").toUpperCase() === "CANCELLED",
        allDay: s.allDay,
      });
      cur = null;
    } else if (cur) {
      const m = /^([A-Z-]+)(?:;[^:]*)?:(.*)$/i.exec(line);
      if (m) cur[m[1].toUpperCase()] = m[2];
      else if (line.trim()) bad++;
    }
  }
  if (bad > 0) warnings.push(`${bad} damaged line${bad === 1 ? " was" : "s were"} skipped while reading the file.`);
  return { events, warnings };
}

function calendarStatus(): CalendarStatus {
  let host: string | null = null;
  try {
    host = calendar.url ? new URL(calendar.url).host : null;
  } catch {
    host = null;
  }
  return {
    feed: { connected: calendar.url !== null, host, auto_refresh: calendar.auto, last_refreshed: calendar.last },
    pending: calendar.pending,
  };
}

function applyCalendar() {
  const p = calendar.pending;
  if (!p) return fail("not_found", "There is no calendar preview to import: preview your calendar again.");
  let created = 0;
  p.events.forEach((e, i) => {
    const uid = calendar.pendingUids[i] ?? id();
    if (e.action === "unchanged") return;
    if (e.action === "new") {
      let code = e.client_code;
      if (!code) {
        const existing = state.clients.find((c) => c.identity.full_name === e.summary.trim());
        if (existing) code = existing.code;
        else {
          const c: MockClient = {
            code: `C-${rnd(4)}`,
            status: "active",
            opened_on: localDay(),
            ended_on: null,
            identity: { full_name: e.summary.trim(), date_of_birth: null, email: null, phone: null, emergency_contact: null, gp: null, nhs_number: null },
          };
          state.clients.push(c);
          log("client.create", c.code, "calendar");
          code = c.code;
          created++;
        }
      }
      const ap: Appointment = { id: id(), client_code: code, starts_at: e.start, ends_at: e.end, status: "scheduled" };
      state.appointments.push(ap);
      calendar.links.set(uid, ap.id);
      log("appointment.create", code, "calendar");
      return;
    }
    const ap = state.appointments.find((a) => a.id === calendar.links.get(uid));
    if (!ap) return;
    if (e.action === "moved") {
      ap.starts_at = e.start;
      ap.ends_at = e.end;
      log("appointment.update", ap.client_code, "calendar");
    } else {
      ap.status = "cancelled";
      log("appointment.cancel", ap.client_code, "calendar");
    }
  });
  calendar.pending = null;
  return { new: p.counts.new, moved: p.counts.moved, cancelled: p.counts.cancelled, new_clients: created };
}

/** What the pretend calendar does between checks: one session moves, one is cancelled, one is added. */
function changeRemote() {
  const linked = calendar.remote.filter((r) => calendar.links.has(r.uid) && !r.cancelled && !r.allDay);
  if (linked[0]?.start && linked[0].end) {
    const move = (t: string) => new Date(new Date(t).getTime() + 60 * 60_000).toISOString();
    linked[0].start = move(linked[0].start);
    linked[0].end = move(linked[0].end);
  }
  if (linked[1]) linked[1].cancelled = true;
  const t = new Date();
  const name = state.clients.find((c) => c.status === "active")?.identity.full_name ?? "Priya Shah";
  calendar.remote.push({
    uid: id(),
    summary: name,
    start: new Date(t.getFullYear(), t.getMonth(), t.getDate() + 5, 11).toISOString(),
    end: new Date(t.getFullYear(), t.getMonth(), t.getDate() + 5, 11, 50).toISOString(),
    cancelled: false,
    allDay: false,
  });
}

// ---------- Rights and retention ----------

const PRESETS: { id: string; policy: RetentionPolicy }[] = [
  { id: "bacp", policy: { name: "BACP / NCPS common practice", adult_years: 7, minor_until_age: 25, minor_until_age_if_17: 26, minor_min_years: 7 } },
  { id: "nhs-adult", policy: { name: "NHS Records Management Code 2021: adults 8 years", adult_years: 8, minor_until_age: 25, minor_until_age_if_17: 26, minor_min_years: 8 } },
  {
    id: "nhs-mental-health",
    policy: { name: "NHS Records Management Code 2021: mental health 20 years", adult_years: 20, minor_until_age: 25, minor_until_age_if_17: 26, minor_min_years: 20 },
  },
];

const rights = {
  policy: { ...PRESETS[0].policy } as RetentionPolicy,
  history: [] as (IdentityChange & { code: string })[],
  /** Client code → an extension of the review date. */
  overrides: new Map<string, { until: string; reason: string }>(),
  requests: [] as AccessRequest[],
  erasures: [] as ErasureRecord[],
};

const DOWNLOADS = "/home/you/Downloads";

function addYearsTo(day: string, n: number): string {
  const [y, m, d] = day.split("-").map(Number);
  const t = new Date(y + n, m - 1, d);
  if (t.getMonth() !== m - 1) t.setDate(0); // 29 February → 28 February
  return localDay(t);
}

function ageOn(born: string, on: string): number {
  const [by, bm, bd] = born.split("-").map(Number);
  const [oy, om, od] = on.split("-").map(Number);
  return oy - by - (om < bm || (om === bm && od < bd) ? 1 : 0);
}

const ord = (n: number) => (n % 100 >= 11 && n % 100 <= 13 ? `${n}th` : `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`);

/** As the core: the end of therapy if recorded, else the latest attended session or note. */
function lastSession(code: string): string | null {
  const c = state.clients.find((x) => x.code === code);
  if (c?.ended_on) return c.ended_on;
  const days = [
    ...state.appointments.filter((x) => x.client_code === code && x.status === "attended").map((x) => x.starts_at),
    ...state.notes.filter((n) => n.client_code === code).map((n) => n.created_at),
  ].map((t) => t.slice(0, 10));
  return days.sort().pop() ?? null;
}

/** As the core: the policy's date from the last session and the age then, or the extension. */
function reviewOf(code: string): { review_on: string; basis: string; override_reason: string | null } | null {
  const o = rights.overrides.get(code);
  if (o) return { review_on: o.until, basis: `extended: ${o.reason}`, override_reason: o.reason };
  const last = lastSession(code);
  if (!last) return null;
  const p = rights.policy;
  const born = client(code).identity.date_of_birth;
  if (!born)
    return {
      review_on: addYearsTo(last, p.adult_years),
      basis: `${p.adult_years} years after the last session (date of birth not recorded: adult rule)`,
      override_reason: null,
    };
  const age = ageOn(born, last);
  if (age >= 18) return { review_on: addYearsTo(last, p.adult_years), basis: `adult: ${p.adult_years} years after the last session`, override_reason: null };
  const until = age === 17 ? p.minor_until_age_if_17 : p.minor_until_age;
  const birthday = addYearsTo(born, until);
  const min = addYearsTo(last, p.minor_min_years);
  return birthday >= min
    ? { review_on: birthday, basis: `under 18 at the end (${age}): until the ${ord(until)} birthday`, override_reason: null }
    : {
        review_on: min,
        basis: `under 18 at the end (${age}): ${p.minor_min_years} years after the last session (later than the ${ord(until)} birthday)`,
        override_reason: null,
      };
}

function erase(code: string, reason: string, certificate: ErasureRecord["certificate"]): ErasureRecord {
  state.clients = state.clients.filter((c) => c.code !== code);
  state.appointments = state.appointments.filter((x) => x.client_code !== code);
  state.notes = state.notes.filter((x) => x.client_code !== code);
  state.process = state.process.filter((x) => x.client_code !== code);
  state.measures = state.measures.filter((x) => x.client_code !== code);
  rights.requests = rights.requests.filter((x) => x.client_code !== code);
  rights.history = rights.history.filter((x) => x.code !== code);
  rights.overrides.delete(code);
  const record: ErasureRecord = {
    id: id(),
    client_code: code,
    erased_at: now(),
    reason,
    kind: certificate ? "retention" : "erasure",
    certificate,
  };
  rights.erasures.push(record);
  log("client.erase", code, `kind=${record.kind}`);
  return record;
}

function openRequest(code: string, received: string): AccessRequest {
  const c = client(code);
  if (received > localDay()) fail("invalid_input", "the request cannot be received in the future");
  const [y, m, d] = received.split("-").map(Number);
  const due = new Date(y, m, d);
  if (due.getMonth() !== m % 12) due.setDate(0); // 31 January → 28/29 February
  const r: AccessRequest = {
    id: id(),
    client_code: code,
    full_name: c.identity.full_name,
    received_on: received,
    due_on: localDay(due),
    status: "open",
    answered_on: null,
  };
  rights.requests.push(r);
  return r;
}

function rightsCommand(cmd: string, a: Args): { value: unknown } | null {
  switch (cmd) {
    case "client_edit": {
      const c = client(a.code as string);
      const ch = a.changes as IdentityChanges;
      const before: ClientIdentity = { ...c.identity, aliases: [...(c.identity.aliases ?? [])] };
      const after: ClientIdentity = { ...before, ...ch, aliases: ch.aliases ?? before.aliases };
      after.nhs_number = "nhs_number" in ch ? optNhs(ch.nhs_number) : (before.nhs_number ?? null);
      if (!after.full_name.trim()) fail("invalid_input", "the name cannot be empty");
      const show = (k: keyof ClientIdentity, v: ClientIdentity) =>
        k === "aliases" ? (v.aliases?.length ? JSON.stringify(v.aliases) : null) : ((v[k] as string | null | undefined) ?? null);
      const fields = (["full_name", "date_of_birth", "email", "phone", "emergency_contact", "gp", "nhs_number", "aliases"] as const).filter(
        (k) => show(k, before) !== show(k, after),
      );
      if (fields.length === 0) fail("invalid_input", "nothing to change: every detail given is as it was");
      for (const f of fields)
        rights.history.push({
          code: c.code,
          changed_at: now(),
          field: f,
          old_value: show(f, before),
          new_value: show(f, after),
          reason: (a.reason as string | null) ?? null,
        });
      c.identity = after;
      log("client.edit", c.code, `fields=${fields.join(",")}`);
      return { value: { ...c } };
    }
    case "client_history": {
      const c = client(a.code as string);
      log("client.history", c.code);
      return { value: rights.history.filter((h) => h.code === c.code).map(({ code: _, ...h }) => h) };
    }
    case "client_erase": {
      const c = client(a.code as string);
      const reason = String(a.reason ?? "").trim();
      if (!reason) fail("invalid_input", "give the reason for the erasure");
      const parts = c.identity.full_name.split(/\s+/).filter((p) => p.length >= 3);
      if (parts.some((p) => reason.toLowerCase().includes(p.toLowerCase())))
        fail("invalid_input", "the reason is kept for good after the erasure, so it must not name the client: describe the reason without the name");
      const r = reviewOf(c.code);
      if (r && r.review_on > localDay() && !a.overrideRetention)
        fail(
          "conflict",
          `client ${c.code}'s records are inside their retention period (review due ${r.review_on.split("-").reverse().join("/")}): erasing them now needs an explicit decision`,
        );
      return { value: erase(c.code, reason, null) };
    }
    case "retention_of": {
      const r = reviewOf(client(a.code as string).code);
      return { value: r ? { review_on: r.review_on, basis: r.basis } : null };
    }
    case "retention_review": {
      const today = localDay();
      const horizon = localDay(new Date(Date.now() + 90 * 86_400_000));
      const list = state.clients
        .map((c) => ({ c, r: reviewOf(c.code) }))
        .filter((x) => x.r && x.r.review_on <= horizon)
        .map(({ c, r }) => ({
          code: c.code,
          full_name: c.identity.full_name,
          status: c.status,
          last_session: lastSession(c.code),
          review_on: r!.review_on,
          basis: r!.basis,
          due: r!.review_on <= today,
          override_reason: r!.override_reason,
        }))
        .sort((x, y) => x.review_on.localeCompare(y.review_on) || x.code.localeCompare(y.code));
      log("retention.review", null, `count=${list.length}`);
      return { value: list };
    }
    case "retention_policy_get":
      return { value: { policy: { ...rights.policy }, presets: PRESETS.map((p) => ({ id: p.id, policy: { ...p.policy } })) } };
    case "retention_policy_set": {
      const p = a.policy as RetentionPolicy;
      if (!p.name?.trim()) fail("invalid_input", "name the policy (up to 120 characters)");
      if (!(p.adult_years >= 1 && p.adult_years <= 100)) fail("invalid_input", "the years for adults must be between 1 and 100");
      rights.policy = { ...p, name: p.name.trim() };
      log("retention.policy_set");
      return { value: { ...rights.policy } };
    }
    // The practice's details, printed on subject-access responses (and notes).
    case "practice_get":
      return { value: { ...state.practice } };
    case "practice_set": {
      state.practice = checkedPractice(a.profile as PracticeProfile);
      const p = state.practice;
      const set = [
        p.practice_name && "practice_name",
        p.therapist_name && "therapist_name",
        p.registration_number && "registration",
      ].filter(Boolean);
      log("practice.set", null, `set=${set.join(",")}`);
      return { value: { ...state.practice } };
    }
    case "retention_extend": {
      const c = client(a.code as string);
      if (!String(a.reason ?? "").trim()) fail("invalid_input", "give the reason");
      if (a.until) rights.overrides.set(c.code, { until: a.until as string, reason: String(a.reason).trim() });
      else rights.overrides.delete(c.code);
      log("retention.extend", c.code);
      return { value: null };
    }
    case "retention_destroy": {
      const c = client(a.code as string);
      const r = reviewOf(c.code);
      if (!r) fail("conflict", `client ${c.code} has no retention review date yet (no sessions recorded): nothing was destroyed`);
      if (r!.review_on > localDay())
        fail("conflict", `client ${c.code}'s retention period runs until ${r!.review_on.split("-").reverse().join("/")}: nothing was destroyed`);
      return {
        value: erase(c.code, "retention period ended", {
          client_code: c.code,
          opened_on: c.opened_on,
          ended_on: c.ended_on,
          review_on: r!.review_on,
          basis: r!.basis,
          policy: rights.policy.name,
          destroyed_at: now(),
        }),
      };
    }
    case "sar_list":
      log("sar.list");
      return { value: rights.requests.filter((r) => r.status === "open").map((r) => ({ ...r })) };
    case "sar_open": {
      const code = a.code as string;
      if (rights.requests.some((r) => r.client_code === code && r.status === "open"))
        fail("conflict", `client ${code} already has an open subject-access request`);
      const r = openRequest(code, a.receivedOn as string);
      log("sar.create", code);
      return { value: { ...r } };
    }
    case "sar_create": {
      const code = client(a.code as string).code;
      const open =
        rights.requests.find((r) => r.client_code === code && r.status === "open") ??
        openRequest(code, (a.receivedOn as string | null) ?? localDay());
      const redactions = (a.redactions ?? []) as Redaction[];
      log("sar.create", code, `export include_process_notes=${a.includeProcessNotes === true} redactions=${redactions.length}`);
      const out = typeof a.folder === "string" && a.folder.trim() ? a.folder.trim().replace(/\/+$/, "") : DOWNLOADS;
      if (!out.startsWith("/")) fail("invalid_input", "Give the folder for the export as a full path.");
      const folder = `${out}/subject-access-${code}-${new Date().toISOString().slice(0, 19).replace(/:/g, "-")}`;
      return { value: { folder, html: `${folder}/subject-access.html`, json: `${folder}/subject-access.json`, request: { ...open } } };
    }
    case "sar_close": {
      const r = rights.requests.find((x) => x.id === a.id) ?? fail("not_found", "There is no such request.");
      const req = r as AccessRequest;
      req.status = "answered";
      req.answered_on = localDay();
      log("sar.close", req.client_code);
      return { value: { ...req } };
    }
    case "supervision_export": {
      const codes = (a.codes ?? []) as string[];
      if (codes.length === 0) fail("invalid_input", "name at least one client code");
      codes.forEach((c) => client(c));
      const notes = state.notes.filter((n) => codes.includes(n.client_code) && n.status === "final").length;
      log("supervision.export", null, `clients=${codes.length} notes=${notes} dates_shifted=${a.shiftDays != null}`);
      const file = typeof a.path === "string" && a.path.trim() ? a.path.trim() : `${DOWNLOADS}/supervision-${rnd(3).toLowerCase()}.json`;
      return { value: { file, notes } };
    }
  }
  return null;
}

type Args = Record<string, unknown>;

// ---------- The off-site copy (a pretend Casebook server) ----------
// Any https:// address works (http:// only to localhost); a host with "us" in a label is
// refused as outside the UK/EU, one with "invite" needs an invite code ("WELCOME-1"), one
// with "down" cannot be reached. An account "demo" (password "long enough passphrase")
// already holds three backups, so the first-run restore can be tried with any well-formed
// recovery key. casebookMock.server.failNext = true makes the next off-site backup fail.

interface MockAccount {
  password: string;
  totp: boolean;
  codes: string[];
  backups: RemoteBackup[];
}

const server = {
  accounts: new Map<string, MockAccount>(),
  conn: null as null | { url: string; username: string; device_name: string; device_id: string; scheduled: boolean },
  lastSuccess: null as string | null,
  failure: null as null | { at: string; error: string },
  /** Names this computer sent; one the server stops listing shows as missing. */
  sent: new Set<string>(),
  restoring: null as null | { url: string; username: string; key: string },
  totpPending: null as string | null,
  failNext: false,
};

const SERVER_QUOTA = 5_000_000_000;
const CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";

function delay<T>(ms: number, f: () => T): Promise<T> {
  return new Promise((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(f());
      } catch (e) {
        reject(e);
      }
    }, ms),
  );
}

/**
 * As `delay`, playing the core's `offsite-progress` events meanwhile: each stage in a few
 * steps of its bytes (the check without a measure), spread over `ms`.
 */
function progressing<T>(ms: number, stages: [OffsiteProgress["stage"], number][], f: () => T): Promise<T> {
  const STEPS = 5;
  const reports = stages.flatMap(([stage, total]): OffsiteProgress[] =>
    stage === "check"
      ? [{ stage, done: 0, total: 0 }]
      : Array.from({ length: STEPS + 1 }, (_, i) => ({ stage, done: Math.round((total * i) / STEPS), total })),
  );
  const every = ms / (reports.length + 1);
  reports.forEach((r, i) => setTimeout(() => void emit("offsite-progress", r), every * (i + 1)));
  return delay(ms, f);
}

/** The size a pretend backup's stages report: about that of the pretend server's backups. */
const MOCK_BYTES = 91_000_000;

function remoteBackup(at: Date, verified: RemoteBackup["verified"] = null, usable = true): RemoteBackup {
  return {
    name: `cb-${rnd(12).toLowerCase()}`,
    created_at: usable ? at.toISOString() : null,
    size: 88_000_000 + Math.round(Math.random() * 6_000_000),
    clients: usable ? Math.max(3, state.clients.length) : null,
    notes: usable ? Math.max(1, state.notes.length) : null,
    usable,
    verified,
    problem: usable ? null : "Pieces of this backup are missing from the server.",
  };
}

function seedServer() {
  const d = (days: number, h: number) => {
    const t = new Date();
    return new Date(t.getFullYear(), t.getMonth(), t.getDate() - days, h, 2);
  };
  const ok = (t: Date) => ({ at: new Date(t.getTime() + 3600_000).toISOString(), ok: true, problem: null });
  server.accounts.set("demo", {
    password: "long enough passphrase",
    totp: false,
    codes: [],
    backups: [remoteBackup(d(0, 6)), remoteBackup(d(1, 14), ok(d(1, 14))), remoteBackup(d(4, 14), null, false)],
  });
}
seedServer();

function serverUrl(raw: unknown): URL {
  let u: URL;
  try {
    u = new URL(String(raw ?? "").trim());
  } catch {
    return fail("invalid_input", "That is not a server address: it looks like https://sync.example.co.uk.") as never;
  }
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(u.hostname);
  if (u.protocol === "http:" && !loopback)
    fail("invalid_input", "Casebook only connects to a server over https:// (plain http:// only to this computer).");
  if (u.protocol !== "http:" && u.protocol !== "https:") fail("invalid_input", "A server address starts with https://.");
  if (u.hostname.includes("down")) fail("network", `${u.hostname} could not be reached: check the address and your internet connection.`);
  if (u.hostname.split(/[.-]/).includes("us"))
    fail("invalid_input", "This server keeps data in Virginia, United States: outside the UK and EU/EEA, so Casebook sends nothing to it.");
  return u;
}

function serverLocations(u: URL): string[] {
  return u.hostname.split(/[.-]/).includes("eu") ? ["Frankfurt, Germany"] : ["London, United Kingdom"];
}

function account(username: unknown, password: unknown, totp: unknown): MockAccount {
  const acc = server.accounts.get(String(username ?? "").trim());
  if (!acc || acc.password !== password) return fail("auth", "The user name or password was not accepted.") as never;
  if (acc.totp) {
    const code = String(totp ?? "").replace(/\s/g, "").toUpperCase();
    if (!code) fail("auth", "This account asks for the code from your authenticator app (or a recovery code).");
    const recovery = acc.codes.findIndex((c) => c.replace("-", "") === code.replace("-", ""));
    if (recovery >= 0) acc.codes.splice(recovery, 1);
    else if (!/^\d{6}$/.test(code)) fail("auth", "That code was not accepted: codes change every 30 seconds, so try the current one.");
  }
  return acc;
}

function offsiteHealth(): BackupOverview["health"] {
  const last = server.lastSuccess;
  const uk = (t: string) => new Date(t).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "short" }).replace(",", "");
  if (server.failure && (!last || server.failure.at > last))
    return { state: "failed", message: `The last off-site backup failed at ${uk(server.failure.at)}: ${server.failure.error}`, last_success: last, failed_at: server.failure.at, error: server.failure.error };
  if (!last) return { state: "never", message: "No off-site backup has been made yet.", last_success: null, failed_at: null, error: null };
  if (Date.now() - new Date(last).getTime() > 2 * 86_400_000)
    return { state: "overdue", message: `No off-site backup since ${uk(last)}: one is overdue.`, last_success: last, failed_at: null, error: null };
  return { state: "ok", message: `Last off-site backup ${uk(last)}.`, last_success: last, failed_at: null, error: null };
}

function offsiteOverview(): OffsiteOverview {
  const c = server.conn;
  if (!c)
    return { connected: false, url: null, username: null, device_name: null, device_id: null, locations: [], scheduled: false, usage: null, problem: null, health: null, backups: [], missing: [], unfinished: 0 };
  const acc = server.accounts.get(c.username);
  const backups = [...(acc?.backups ?? [])].sort((x, y) => (y.created_at ?? "").localeCompare(x.created_at ?? "")).map((b) => ({ ...b }));
  const listed = new Set(backups.map((b) => b.name));
  return {
    connected: true,
    url: c.url,
    username: c.username,
    device_name: c.device_name,
    device_id: c.device_id,
    locations: serverLocations(new URL(c.url)),
    scheduled: c.scheduled,
    usage: acc ? { used_bytes: backups.reduce((n, b) => n + b.size, 0), quota_bytes: SERVER_QUOTA, max_blob_bytes: 64_000_000 } : null,
    problem: acc ? null : "This computer’s sign-in was revoked: connect again.",
    health: offsiteHealth(),
    backups,
    missing: [...server.sent].filter((n) => !listed.has(n)),
    unfinished: 0,
    totp_enabled: acc?.totp ?? false,
  };
}

function needConnected(): MockAccount {
  const acc = server.conn ? server.accounts.get(server.conn.username) : undefined;
  if (!acc) return fail("invalid_input", "Casebook is not connected to a server.") as never;
  return acc;
}

/** The records as a restore brings them back (the seeded sample), opened. */
function restoreRecords(recoveryKey: string, passphrase: string | null) {
  state.clients = [];
  state.appointments = [];
  state.notes = [];
  state.measures = [];
  state.backup.files = [];
  seed();
  state.keyStore = passphrase ? "passphrase" : "os-keychain";
  state.passphrase = passphrase;
  state.recoveryKey = recoveryKey;
  state.unlocked = true;
  log("backup.restore");
  return { created_at: new Date(Date.now() - 3600_000).toISOString(), clients: state.clients.length, notes: state.notes.length };
}

function wellFormedKey(k: unknown): string {
  const key = String(k ?? "").replace(/[-\s]/g, "").toUpperCase();
  if (key.length !== 36) fail("recovery", "that is not a recovery key: expected 9 groups of 4 letters and digits, like ABCD-EFGH-…");
  return key.match(/.{4}/g)!.join("-");
}

/** The commands that work before there is a vault: checking a server, restoring at first run. */
function firstRunCommand(cmd: string, a: Args): { value: unknown } | null {
  switch (cmd) {
    case "server_check": {
      const u = serverUrl(a.url);
      const url = u.toString().replace(/\/$/, "");
      return { value: delay(500, () => ({ url, locations: serverLocations(u), sign_up: u.hostname.includes("invite") ? "invite" : "open", totp_required: false })) };
    }
    case "restore_file_first_run": {
      if (state.exists) fail("vault", "A vault already exists here.");
      const path = String(a.path ?? "");
      if (!path.startsWith("/") || !path.endsWith(".tar")) fail("not_found", `There is no backup file at ${path}.`);
      const key = wellFormedKey(a.recoveryKey);
      const pass = (a.passphrase as string | null) ?? null;
      if (path.includes("passphrase") && !pass)
        fail("invalid_input", "This backup kept its keys behind a passphrase: give the passphrase the restored vault should use.");
      return { value: progressing(2500, [["decrypt", MOCK_BYTES], ["check", 0]], () => restoreRecords(key, pass)) };
    }
    case "server_restore_sign_in": {
      if (state.exists) fail("vault", "A vault already exists here.");
      const u = serverUrl(a.url);
      const acc = account(a.username, a.password, a.totp);
      const key = wellFormedKey(a.recoveryKey);
      server.restoring = { url: u.toString().replace(/\/$/, ""), username: String(a.username).trim(), key };
      const backups = [...acc.backups].sort((x, y) => (y.created_at ?? "").localeCompare(x.created_at ?? ""));
      const def = backups.find((b) => b.usable && b.verified?.ok) ?? backups.find((b) => b.usable) ?? null;
      return { value: delay(900, () => ({ locations: serverLocations(u), backups: backups.map((b) => ({ ...b })), default: def?.name ?? null })) };
    }
    case "server_restore_first_run": {
      const r = server.restoring ?? fail("invalid_input", "Sign in to the server first.");
      const session = r as { url: string; username: string; key: string };
      const acc = server.accounts.get(session.username)!;
      const b = a.name ? acc.backups.find((x) => x.name === a.name) : acc.backups.find((x) => x.usable);
      if (!b || !b.usable) fail("integrity", "That backup cannot be restored: pieces of it are missing from the server.");
      const pass = (a.passphrase as string | null) ?? null;
      return {
        value: progressing(4000, [["download", b!.size], ["decrypt", b!.size], ["check", 0]], () => {
          const summary = restoreRecords(session.key, pass);
          server.conn = { url: session.url, username: session.username, device_name: "This computer", device_id: id(), scheduled: true };
          server.restoring = null;
          return { ...summary, created_at: b!.created_at };
        }),
      };
    }
    case "server_restore_cancel":
      server.restoring = null;
      return { value: null };
  }
  return null;
}

/** Sync in the preview: once turned on, a laptop is in the practice and one email was changed on both. */
const mockSync = {
  enabled: false,
  lastSync: null as number | null,
  conflicts: [] as SyncConflict[],
  revoked: new Set<string>(),
  names: new Map<string, string>(),
};

function syncOverview(): SyncOverview {
  const conn = server.conn;
  const since = Math.floor(Date.now() / 1000);
  return {
    connected: conn !== null,
    enabled: conn !== null && mockSync.enabled,
    last_sync: mockSync.lastSync,
    pending_changes: 0,
    alarm: null,
    alarm_words: null,
    conflicts: mockSync.conflicts.length,
    devices:
      conn && mockSync.enabled
        ? [
            { id: conn.device_id, name: mockSync.names.get(conn.device_id) ?? conn.device_name, letter: "2", revoked: false, added: now(), revoked_at: null, log_removed: false, this_computer: true, last_heard: since, stale: false },
            {
              id: "mock-laptop",
              name: mockSync.names.get("mock-laptop") ?? "Laptop",
              letter: "3",
              revoked: mockSync.revoked.has("mock-laptop"),
              added: now(),
              revoked_at: mockSync.revoked.has("mock-laptop") ? now() : null,
              log_removed: false,
              this_computer: false,
              last_heard: since - 7200,
              stale: false,
            },
          ]
        : [],
    compare_words: "orbit velvet sample harbour",
    device_name: conn?.device_name ?? null,
    names: conn ? { [conn.device_id]: "this computer", "mock-laptop": "Laptop" } : {},
  };
}

/** Adding a computer by code, in the browser preview: the new computer answers on the third look. */
const mockPair = { polls: 0 };

function syncCommand(cmd: string, a: Args): { value: unknown } | null {
  switch (cmd) {
    case "pair_start":
      mockPair.polls = 0;
      return { value: delay(300, () => ({ code: "K7Q2-M9XD-4F", expires_at: Math.floor(Date.now() / 1000) + 600 })) };
    case "pair_poll":
      mockPair.polls += 1;
      return {
        value: delay(100, () =>
          mockPair.polls < 3 ? { state: "waiting" } : { state: "answered", name: "Home laptop", words: "apple river stone lamp" },
        ),
      };
    case "pair_answer":
      return { value: delay(300, () => (a.add ? "Home laptop" : null)) };
    case "pair_cancel":
    case "join_cancel":
      return { value: delay(50, () => null) };
    case "join_by_code":
    case "join_poll":
    case "join_finish":
      fail("invalid_input", "Joining by code needs the desktop app and a real server.");
      return null;
    case "sync_overview":
      return { value: syncOverview() };
    case "sync_enable": {
      if (!server.conn) fail("invalid_input", "Connect to a server first.");
      mockSync.enabled = true;
      mockSync.lastSync = Math.floor(Date.now() / 1000);
      const code = state.clients[0]?.code ?? null;
      mockSync.conflicts = [
        {
          id: "mock-conflict",
          table: "client_identity",
          row: code ?? "MOCK",
          field: "email",
          kind: "field",
          kept: JSON.stringify("ann@laptop.example"),
          lost: JSON.stringify("ann@surgery.example"),
          lost_stamp: "",
          lost_device: "mock-laptop",
          found_at: now(),
          client_code: code,
        },
      ];
      return { value: delay(300, syncOverview) };
    }
    case "sync_conflicts":
      return { value: mockSync.conflicts.map((c) => ({ ...c })) };
    case "sync_flush":
      return { value: 0 };
    case "sync_rename": {
      const name = String(a.name ?? "").trim();
      if (name === "" || name.length > 100) fail("invalid_input", "a computer's name must be 1–100 characters");
      mockSync.names.set(String(a.device), name);
      return { value: delay(200, syncOverview) };
    }
    case "sync_revoke":
      if (String(a.password ?? "") === "") fail("invalid_input", "Type the server account's password to remove a computer.");
      mockSync.revoked.add(String(a.device));
      return { value: delay(300, syncOverview) };
    case "sync_resolve":
      mockSync.conflicts = mockSync.conflicts.filter((c) => c.id !== a.id);
      return { value: { id: a.id, kept: a.keep } };
  }
  return null;
}

function offsiteCommand(cmd: string, a: Args): { value: unknown } | null {
  switch (cmd) {
    case "offsite_overview":
      return { value: delay(400, offsiteOverview) };
    case "offsite_health":
      return { value: { connected: server.conn !== null, health: server.conn ? offsiteHealth() : null } };
    case "server_connect": {
      const u = serverUrl(a.url);
      const username = String(a.username ?? "").trim();
      if (a.signUp) {
        if (username.length < 3 || username.length > 64) fail("invalid_input", "username must be 3–64 characters");
        if (String(a.password ?? "").length < 10) fail("invalid_input", "password must be 10–1024 characters");
        if (u.hostname.includes("invite") && a.invite !== "WELCOME-1")
          fail("auth", "That invite code is not valid: it may have expired or been used already.");
        if (server.accounts.has(username)) fail("conflict", "That user name is taken: choose another, or sign in.");
        server.accounts.set(username, { password: String(a.password), totp: false, codes: [], backups: [] });
      } else {
        account(username, a.password, a.totp);
      }
      server.conn = { url: u.toString().replace(/\/$/, ""), username, device_name: String(a.deviceName ?? "This computer"), device_id: id(), scheduled: false };
      log("offsite.connect");
      return { value: delay(800, offsiteOverview) };
    }
    case "offsite_backup_now": {
      const acc = needConnected();
      return {
        value: progressing(3500, [["copy", MOCK_BYTES], ["encrypt", MOCK_BYTES], ["upload", MOCK_BYTES]], () => {
          if (server.failNext) {
            server.failNext = false;
            server.failure = { at: now(), error: "The server's storage for this account is full." };
            fail("quota", "The server's storage for this account is full: ask whoever runs it for more room, or delete old backups.");
          }
          const b = remoteBackup(new Date());
          acc.backups.push(b);
          server.sent.add(b.name);
          server.lastSuccess = b.created_at;
          log("offsite.backup");
          return { ...b };
        }),
      };
    }
    case "offsite_verify": {
      const acc = needConnected();
      const b = acc.backups.find((x) => x.name === a.name) ?? fail("not_found", `The server lists no backup called ${a.name}.`);
      return {
        value: progressing(2500, [["download", (b as RemoteBackup).size], ["decrypt", (b as RemoteBackup).size], ["check", 0]], () => {
          const backup = b as RemoteBackup;
          backup.verified = { at: now(), ok: backup.usable, problem: backup.usable ? null : backup.problem };
          log("offsite.verify", null, backup.usable ? "ok" : "failed");
          return { ok: backup.usable, problem: backup.verified.problem };
        }),
      };
    }
    case "offsite_restore": {
      const acc = needConnected();
      const b = acc.backups.find((x) => x.name === a.name) ?? fail("not_found", `The server lists no backup called ${a.name}.`);
      if (!(b as RemoteBackup).usable) fail("integrity", "That backup cannot be restored: pieces of it are missing.");
      wellFormedKey(a.recoveryKey);
      const into = String(a.into ?? "").trim();
      if (!into.startsWith("/")) fail("invalid_input", "Give the folder to restore into as a full path.");
      if (into === VAULT_DIR) fail("invalid_input", "A backup is never restored over the vault in use: choose a new folder.");
      if (state.keyStore === "passphrase" && !a.passphrase)
        fail("invalid_input", "This backup kept its keys behind a passphrase: give the passphrase the restored vault should use.");
      const size = (b as RemoteBackup).size;
      return { value: progressing(3000, [["download", size], ["decrypt", size], ["check", 0]], () => into) };
    }
    case "offsite_schedule_set":
      needConnected();
      server.conn!.scheduled = a.on === true;
      return { value: offsiteOverview() };
    case "server_totp_start": {
      const acc = needConnected();
      if (acc.password !== a.password) fail("auth", "The password was not accepted.");
      if (acc.totp) fail("conflict", "Two-step sign-in is already on for this account.");
      const secret = Array.from({ length: 32 }, () => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[Math.floor(Math.random() * 32)]).join("");
      server.totpPending = secret;
      return { value: { otpauth_uri: `otpauth://totp/Casebook:${server.conn!.username}?secret=${secret}&issuer=Casebook`, secret_base32: secret } };
    }
    case "server_totp_confirm": {
      const acc = needConnected();
      if (!server.totpPending) fail("invalid_input", "Start again: enter your password first.");
      if (!/^\d{6}$/.test(String(a.code ?? ""))) fail("auth", "That code was not accepted: codes change every 30 seconds, so try the current one.");
      acc.totp = true;
      server.totpPending = null;
      acc.codes = Array.from({ length: 10 }, () => {
        const c = Array.from({ length: 8 }, () => CODE_ALPHABET[Math.floor(Math.random() * CODE_ALPHABET.length)]).join("");
        return `${c.slice(0, 4)}-${c.slice(4)}`;
      });
      log("offsite.totp");
      return { value: { codes: [...acc.codes] } };
    }
    case "server_disconnect":
      server.conn = null;
      server.sent.clear();
      log("offsite.disconnect");
      return { value: delay(400, () => ({ signed_out_on_server: true })) };
    case "server_delete_account": {
      const acc = needConnected();
      account(server.conn!.username, a.password, a.totp);
      const removed = { blobs_removed: acc.backups.length * 7 + 1, bytes_removed: acc.backups.reduce((n, b) => n + b.size, 0) };
      server.accounts.delete(server.conn!.username);
      server.conn = null;
      server.sent.clear();
      server.lastSuccess = null;
      log("offsite.delete_account");
      return { value: delay(900, () => removed) };
    }
  }
  return null;
}

function today(date: string | null) {
  const day = date ?? localDay();
  const appointments = state.appointments
    .filter((x) => localDay(new Date(x.starts_at)) === day)
    .sort((x, y) => x.starts_at.localeCompare(y.starts_at))
    .map((x) => ({ ...x, client_name: client(x.client_code).identity.full_name }));
  const nextAppt = appointments.find((x) => x.status === "scheduled" && new Date(x.starts_at) > new Date()) ?? null;
  return { date: day, appointments, next: nextAppt, clock: clockView() };
}

/** What is left to do, as the core's `work_todo`. */
function workTodo() {
  const midnight = new Date(`${localDay()}T00:00:00`);
  const to_mark = state.appointments
    .filter((x) => x.status === "scheduled" && new Date(x.ends_at) < midnight)
    .sort((x, y) => x.starts_at.localeCompare(y.starts_at))
    .map((x) => ({ ...x, client_name: client(x.client_code).identity.full_name }));
  const drafts: ToFinish[] = state.notes
    .filter((n) => n.status === "draft")
    .map((n) => ({
      kind: "draft",
      note_id: n.id,
      client_code: n.client_code,
      appointment_id: n.appointment_id,
      created_at: n.created_at,
    }));
  const unwritten: ToFinish[] = state.appointments
    .filter((x) => x.status === "attended" && !state.notes.some((n) => n.appointment_id === x.id))
    .map((x) => ({ kind: "no_note", appointment_id: x.id, client_code: x.client_code, starts_at: x.starts_at }));
  return { to_mark, notes_to_finish: [...drafts, ...unwritten] };
}

/**
 * The session clock and the preferences, which work while locked as in the core: the locked
 * screen's +5 min and End (the core records an end made while locked at the next unlock).
 */
function clockCommand(cmd: string, a: Args): { value: unknown } | null {
  switch (cmd) {
    case "settings_get":
      return { value: { ...state.settings } };
    case "clock_view":
      return { value: clockView() };
    case "clock_start": {
      if (state.clock) fail("not_allowed", "A session is already running.");
      const apptId = a.appointmentId as string | null;
      if (a.code) {
        // A walk-in: booked and attended now.
        client(a.code as string);
        const m = Number(a.minutes ?? state.settings.default_session_minutes);
        const walkIn: Appointment = {
          id: id(),
          client_code: a.code as string,
          starts_at: now(),
          ends_at: new Date(Date.now() + m * 60000).toISOString(),
          status: "attended",
        };
        state.appointments.push(walkIn);
        state.clock = { appointment_id: walkIn.id, client_code: walkIn.client_code, started_at: walkIn.starts_at, ends_at: walkIn.ends_at };
      } else if (apptId) {
        const ap = state.appointments.find((x) => x.id === apptId) ?? fail("not_found", "No such appointment.");
        const appt = ap as Appointment;
        const len = new Date(appt.ends_at).getTime() - new Date(appt.starts_at).getTime();
        state.clock = { appointment_id: appt.id, client_code: appt.client_code, started_at: now(), ends_at: new Date(Date.now() + len).toISOString() };
        appt.status = "attended";
      } else {
        const m = Number(a.minutes ?? state.settings.default_session_minutes);
        state.clock = { appointment_id: null, client_code: null, started_at: now(), ends_at: new Date(Date.now() + m * 60000).toISOString() };
      }
      log("session.start", state.clock.client_code);
      return { value: clockView() };
    }
    case "clock_extend":
      if (!state.clock) fail("not_allowed", "No session is running.");
      state.clock!.ends_at = new Date(new Date(state.clock!.ends_at).getTime() + 5 * 60000).toISOString();
      return { value: clockView() };
    case "clock_end":
      if (state.clock) log("session.end", state.clock.client_code);
      state.clock = null;
      return { value: clockView() };
    case "clock_end_elsewhere":
      // The preview has one computer: nothing runs elsewhere.
      fail("conflict", "That session has already ended.");
      return null;
    case "clock_window":
    case "clock_window_close":
      return { value: null };
  }
  return null;
}

/**
 * The desktop's pickers and file manager (the dialog and opener plugins), played by the
 * browser: a picker asks for a path with `prompt` (Cancel cancels), "Show in folder" logs.
 */
function desktopCommand(cmd: string, a: Args): { value: unknown } | null {
  const o = (a.options ?? {}) as { title?: string; directory?: boolean; defaultPath?: string };
  const ask = (what: string, proposal: string) => {
    const typed = window.prompt(`${o.title ?? "Choose"}\n(The pretend ${what}: type a full path.)`, proposal);
    return { value: typed && typed.trim() ? typed.trim() : null };
  };
  switch (cmd) {
    case "plugin:dialog|open":
      return o.directory
        ? ask("folder picker", o.defaultPath ?? "/media/you/BACKUPS/Casebook")
        : ask(
            "file picker",
            `${o.defaultPath ?? "/media/you/BACKUPS/Casebook"}/${state.backup.files[0]?.name ?? "casebook-2026-11-22T14-02-05.123Z.tar"}`,
          );
    case "plugin:dialog|save":
      return ask("save dialog", o.defaultPath ?? `${DOWNLOADS}/export`);
    case "plugin:opener|reveal_item_in_dir":
      console.info("[mock] Show in folder:", a.paths);
      return { value: null };
    case "plugin:path|resolve_directory":
      return { value: DOWNLOADS };
  }
  return null;
}

function handle(cmd: string, a: Args): unknown {
  const desktop = desktopCommand(cmd, a);
  if (desktop) return desktop.value;
  switch (cmd) {
    case "app_status":
      return { vault_exists: state.exists, unlocked: state.unlocked, key_store: state.keyStore, vault_dir: VAULT_DIR };
    case "vault_create": {
      if (state.exists) fail("invalid", "A vault already exists.");
      const ks = a.keyStore as KeyStore;
      if (ks === "passphrase" && String(a.passphrase ?? "").length < 10) fail("invalid", "The passphrase needs at least 10 characters.");
      state.exists = true;
      state.unlocked = true;
      state.keyStore = ks;
      state.passphrase = ks === "passphrase" ? String(a.passphrase) : null;
      log("vault.init", null, ks);
      const body = rnd(32);
      state.recoveryKey = (body + rnd(4)).match(/.{4}/g)!.join("-");
      return { recovery_key: state.recoveryKey };
    }
    case "vault_unlock":
      if (state.keyStore === "passphrase" && a.passphrase !== state.passphrase) {
        log("vault.unlock_failed", null, "wrong_passphrase");
        fail("wrong_passphrase", "That passphrase is not right. Check Caps Lock and try again.");
      }
      state.unlocked = true;
      log("vault.unlock");
      return today(null); // the day, as `today` returns it, so the UI needs no second call
    case "vault_recover": {
      const key = String(a.recoveryKey ?? "").replace(/[-\s]/g, "").toUpperCase();
      if (key.length !== 36) fail("recovery", "that is not a recovery key: expected 9 groups of 4 letters and digits, like ABCD-EFGH-…");
      if (key !== state.recoveryKey.replace(/-/g, "")) fail("recovery", "this recovery key does not belong to this vault: nothing was changed");
      const ks = a.keyStore as KeyStore;
      if (ks === "passphrase" && String(a.passphrase ?? "").length < 10) fail("invalid_input", "Choose a passphrase of at least 10 characters.");
      state.keyStore = ks;
      state.passphrase = ks === "passphrase" ? String(a.passphrase) : null;
      state.unlocked = true;
      log("vault.recover", null, `key_store=${ks}`);
      return today(null);
    }
    case "vault_lock":
      state.unlocked = false;
      return null;
    case "touch":
      return null;
  }
  const k = clockCommand(cmd, a);
  if (k) return k.value;
  const f = firstRunCommand(cmd, a);
  if (f) return f.value;

  needUnlocked();
  const r = rightsCommand(cmd, a);
  if (r) return r.value;
  const o = offsiteCommand(cmd, a);
  if (o) return o.value;
  const sy = syncCommand(cmd, a);
  if (sy) return sy.value;
  switch (cmd) {
    case "today":
      return today(a.date as string | null);
    case "work_todo":
      return workTodo();
    case "clients_list":
      return state.clients
        .filter((c) => a.includeClosed || c.status === "active")
        .map((c) => ({ code: c.code, status: c.status, full_name: c.identity.full_name, ended_on: c.ended_on }));
    case "clients_caseload": {
      const nowIso = now();
      return state.clients
        .filter((c) => a.includeClosed || c.status === "active")
        .map((c) => {
          const mine = state.appointments.filter((x) => x.client_code === c.code);
          const attended = mine.filter((x) => x.status === "attended");
          const next = mine.filter((x) => x.status === "scheduled" && x.ends_at > nowIso).map((x) => x.starts_at).sort()[0] ?? null;
          const last = attended.map((x) => x.starts_at).sort().pop() ?? null;
          const drafts = state.notes.filter((n) => n.client_code === c.code && n.status === "draft").length;
          const unwritten = attended.filter((x) => !state.notes.some((n) => n.appointment_id === x.id)).length;
          return {
            code: c.code,
            status: c.status,
            full_name: c.identity.full_name,
            ended_on: c.ended_on,
            next_session: next,
            last_seen: last,
            attended: attended.length,
            notes_to_finish: drafts + unwritten,
          };
        });
    }
    case "client_add": {
      const identity = { ...(a.identity as ClientIdentity) };
      if (!identity.full_name?.trim()) fail("invalid", "A client needs a name.");
      identity.nhs_number = optNhs(identity.nhs_number);
      const c: MockClient = { code: `C-${rnd(4)}`, status: "active", opened_on: localDay(), ended_on: null, identity };
      state.clients.push(c);
      log("client.create", c.code);
      return { code: c.code, status: c.status, opened_on: c.opened_on, ended_on: null, identity };
    }
    case "client_close": {
      const c = client(a.code as string);
      c.status = "closed";
      c.ended_on = a.endedOn as string;
      log("client.close", c.code);
      return { ...c };
    }
    case "client_file": {
      const c = client(a.code as string);
      log("client.read", c.code);
      return {
        client: { ...c },
        appointments: state.appointments.filter((x) => x.client_code === c.code),
        notes: state.notes.filter((n) => n.client_code === c.code).map(withAddenda),
        process_notes: state.process.filter((n) => n.client_code === c.code),
        measures: state.measures.filter((m) => m.client_code === c.code),
      };
    }
    case "appointment_add": {
      client(a.code as string);
      const ap: Appointment = {
        id: id(),
        client_code: a.code as string,
        starts_at: a.startsAt as string,
        ends_at: a.endsAt as string,
        status: "scheduled",
      };
      if (ap.ends_at <= ap.starts_at) fail("invalid", "A session must end after it starts.");
      state.appointments.push(ap);
      log("appointment.create", ap.client_code);
      return ap;
    }
    case "appointment_series_add": {
      client(a.code as string);
      const weeks = a.repeat === "weekly" ? 1 : a.repeat === "fortnightly" ? 2 : Number(/^every-(\d+)-weeks?$/.exec(a.repeat as string)?.[1]);
      if (!(weeks >= 1 && weeks <= 12)) fail("invalid", "A series repeats every 1 to 12 weeks.");
      const first = new Date(a.first as string);
      const until = a.until ? new Date(`${a.until as string}T23:59:59`) : null;
      const count = (a.count as number | null) ?? 200;
      const series_id = id();
      const out: Appointment[] = [];
      for (let i = 0; out.length < count; i++) {
        const start = new Date(first);
        start.setDate(start.getDate() + i * 7 * weeks); // local dates: 10:00 stays 10:00
        if (until && start > until) break;
        const ap: Appointment = {
          id: id(),
          client_code: a.code as string,
          starts_at: start.toISOString(),
          ends_at: new Date(start.getTime() + Number(a.minutes) * 60000).toISOString(),
          status: "scheduled",
          series_id,
        };
        state.appointments.push(ap);
        out.push(ap);
      }
      log("appointment.series_create", a.code as string);
      return out;
    }
    case "appointments_between":
      return state.appointments
        .filter((x) => x.starts_at >= (a.from as string) && x.starts_at < (a.to as string))
        .sort((x, y) => x.starts_at.localeCompare(y.starts_at))
        .map((x) => ({ ...x, client_name: client(x.client_code).identity.full_name }));
    case "appointment_move": {
      const ap = (state.appointments.find((x) => x.id === a.id) ?? fail("not_found", "No such session.")) as Appointment;
      if (ap.status !== "scheduled") fail("conflict", "Only a booked session can be moved.");
      const shift = new Date(a.startsAt as string).getTime() - new Date(ap.starts_at).getTime();
      const moved = state.appointments.filter(
        (x) => x.id === ap.id || (a.following && ap.series_id && x.series_id === ap.series_id && x.status === "scheduled" && x.starts_at > ap.starts_at),
      );
      for (const x of moved) {
        x.starts_at = new Date(new Date(x.starts_at).getTime() + shift).toISOString();
        x.ends_at = new Date(new Date(x.ends_at).getTime() + shift).toISOString();
      }
      log("appointment.move", ap.client_code);
      return moved;
    }
    case "appointment_delete": {
      const ap = (state.appointments.find((x) => x.id === a.id) ?? fail("not_found", "No such session.")) as Appointment;
      if (state.notes.some((n) => n.appointment_id === ap.id))
        fail("conflict", "This session has a note: it cannot be deleted (mark it instead).");
      state.appointments = state.appointments.filter((x) => x.id !== ap.id);
      log("appointment.delete", ap.client_code);
      return null;
    }
    case "appointment_mark": {
      const ap = (state.appointments.find((x) => x.id === a.id) ?? fail("not_found", "No such session.")) as Appointment;
      const status = a.status as Appointment["status"];
      if (status.startsWith("cancelled") && ap.status !== "scheduled")
        fail("conflict", "Only a booked session can be cancelled.");
      ap.status = status;
      log(status.startsWith("cancelled") ? "appointment.cancel" : "appointment.mark", ap.client_code);
      return ap;
    }
    case "note_templates":
      return TEMPLATES;
    case "note_create": {
      client(a.code as string);
      const fields = a.fields as Record<string, string>;
      if (Object.values(fields).every((v) => !v.trim())) fail("invalid", "A note needs some text.");
      const n: SessionNote = {
        id: id(),
        client_code: a.code as string,
        appointment_id: (a.appointmentId as string | null) ?? null,
        template: a.template as NoteTemplate,
        fields,
        status: "draft",
        created_at: now(),
        updated_at: now(),
        finalised_at: null,
        addenda: [],
      };
      state.notes.push(n);
      log("note.create", n.client_code, n.template);
      return n;
    }
    case "note_save": {
      const n = state.notes.find((x) => x.id === a.id) ?? fail("not_found", "No such note.");
      const note = n as SessionNote;
      if (note.status === "final") fail("not_allowed", "A finalised note cannot be changed; add an addendum.");
      note.fields = a.fields as Record<string, string>;
      note.updated_at = now();
      log("note.update", note.client_code);
      return withAddenda(note);
    }
    case "note_finalise": {
      const note = (state.notes.find((x) => x.id === a.id) ?? fail("not_found", "No such note.")) as SessionNote;
      note.status = "final";
      note.finalised_at = now();
      log("note.finalise", note.client_code);
      return withAddenda(note);
    }
    case "note_discard": {
      const note = (state.notes.find((x) => x.id === a.id) ?? fail("not_found", "No such note.")) as SessionNote;
      if (note.status === "final") fail("not_allowed", "A finalised note cannot be discarded.");
      state.notes = state.notes.filter((x) => x.id !== note.id);
      log("note.discard", note.client_code);
      return null;
    }
    case "note_addendum": {
      const note = (state.notes.find((x) => x.id === a.noteId) ?? fail("not_found", "No such note.")) as SessionNote;
      if (note.status !== "final") fail("not_allowed", "Only a finalised note takes addenda.");
      const ad: Addendum = { id: id(), note_id: note.id, text: a.text as string, created_at: now() };
      note.addenda.push(ad);
      log("note.addendum", note.client_code);
      return ad;
    }
    case "process_note_add": {
      client(a.code as string);
      const p: ProcessNote = { id: id(), client_code: a.code as string, text: a.text as string, created_at: now() };
      state.process.push(p);
      log("process_note.create", p.client_code);
      return p;
    }
    case "instruments":
      return INSTRUMENTS;
    case "measure_add": {
      client(a.code as string);
      const m: OutcomeMeasure = {
        id: id(),
        client_code: a.code as string,
        instrument: a.instrument as Instrument,
        items: a.items as (number | null)[],
        score: score(a.instrument as Instrument, a.items as (number | null)[]),
        taken_at: now(),
      };
      state.measures.push(m);
      log("measure.create", m.client_code, m.instrument);
      return m;
    }
    case "search": {
      const q = String(a.query ?? "").trim();
      const hits: SearchHit[] = [];
      if (!q) return hits;
      const name = (code: string) => client(code).identity.full_name;
      for (const n of state.notes) {
        const s = snippet(Object.values(n.fields).join(" · "), q);
        if (s) hits.push({ client_code: n.client_code, client_name: name(n.client_code), kind: "note", object_id: n.id, note_id: n.id, snippet: s, at: state.appointments.find((x) => x.id === n.appointment_id)?.starts_at ?? n.created_at });
        for (const ad of n.addenda) {
          const t = snippet(ad.text, q);
          if (t) hits.push({ client_code: n.client_code, client_name: name(n.client_code), kind: "addendum", object_id: ad.id, note_id: n.id, snippet: t, at: ad.created_at });
        }
      }
      for (const p of state.process) {
        const s = snippet(p.text, q);
        if (s) hits.push({ client_code: p.client_code, client_name: name(p.client_code), kind: "process_note", object_id: p.id, note_id: null, snippet: s, at: p.created_at });
      }
      log("search", null, `${hits.length} results`);
      return hits;
    }
    case "audit_list": {
      const f = (a.filter ?? {}) as AuditFilter;
      return state.audit
        .filter((e) => !f.client_code || e.client_code === f.client_code)
        .filter((e) => !f.action || (f.action.endsWith(".") ? e.action.startsWith(f.action) : e.action === f.action))
        .filter((e) => !f.since || localDay(new Date(e.at)) >= f.since)
        .filter((e) => !f.until || localDay(new Date(e.at)) < f.until)
        .slice(0, f.limit ?? undefined);
    }
    case "audit_verify":
      log("audit.verify");
      return { entries: state.audit.length, head_hash: state.audit[state.audit.length - 1].hash };
    case "audit_export":
      log("audit.export");
      return typeof a.path === "string" && a.path.trim() ? a.path.trim() : `${DOWNLOADS}/casebook-audit-${localDay()}.csv`;
    case "settings_set":
      state.settings = { ...(a.settings as Settings) };
      return { ...state.settings };
    case "calendar_status":
      return calendarStatus();
    case "calendar_feed_set": {
      const raw = String(a.url ?? "").trim();
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        return fail("invalid_input", "This is not a web address: paste the calendar's iCal address, starting https:// or webcal://.");
      }
      // As the core: webcal:// means https://; http:// (unencrypted) and anything else is refused.
      if (u.protocol === "webcal:") u = new URL(`https:${raw.slice("webcal:".length)}`);
      if (u.protocol === "http:")
        fail(
          "invalid_input",
          "This feed address uses http://, which is not encrypted: anyone on the network could read the calendar. Use the https:// (or webcal://) address your calendar service gives.",
        );
      else if (u.protocol !== "https:") fail("invalid_input", `A calendar feed address starts https:// or webcal://, not ${u.protocol}//.`);
      if (u.host.includes("unreachable")) fail("network", `${u.host} could not be reached. Check your internet connection.`);
      calendar.url = u.toString();
      if (calendar.remote.length === 0) seedRemote();
      calendar.last = now();
      calendar.pending = previewOf(calendar.remote, "feed");
      log("calendar.connect", null, u.host);
      return calendar.pending;
    }
    case "calendar_refresh":
      if (!calendar.url) fail("not_found", "No calendar is connected.");
      calendar.last = now();
      calendar.pending = previewOf(calendar.remote, "feed");
      return calendar.pending;
    case "calendar_preview_file": {
      const { events, warnings } = parseIcs(String(a.text ?? ""));
      calendar.pending = previewOf(events, "file", warnings);
      return calendar.pending;
    }
    case "calendar_apply": {
      const summary = applyCalendar();
      log("calendar.import", null, `${summary.new} new, ${summary.moved} moved, ${summary.cancelled} cancelled`);
      return summary;
    }
    case "calendar_discard":
      calendar.pending = null;
      return null;
    case "calendar_feed_remove":
      calendar.url = null;
      calendar.last = null;
      if (calendar.pending?.source === "feed") calendar.pending = null;
      log("calendar.disconnect");
      return null;
    case "calendar_auto_refresh_set":
      calendar.auto = a.enabled === true;
      return calendarStatus();
    case "backup_overview":
      return backupOverview();
    case "backup_now": {
      if (state.backup.failNext) {
        state.backup.failNext = false;
        state.backup.failure = { at: now(), error: `The backup folder ${backupDir()} cannot be written to.` };
        fail("integrity", state.backup.failure.error);
      }
      const f = backupFile(new Date());
      state.backup.files.push(f);
      state.backup.lastSuccess = f.created_at;
      log("backup.create");
      return { ...f };
    }
    case "backup_verify": {
      const f = state.backup.files.find((x) => x.name === a.name) ?? fail("not_found", `There is no backup called ${a.name}.`);
      const file = f as BackupFile;
      const ok = file.created_at !== null;
      file.verified = { at: now(), ok, problem: ok ? null : "The backup's manifest cannot be read." };
      log("backup.verify", null, ok ? "ok" : "failed");
      return { ok, problem: file.verified.problem };
    }
    case "backup_settings_set": {
      const every = Number(a.everyHours);
      if (!(every >= 1 && every <= 168)) fail("invalid_input", "backups can run every 1 to 168 hours");
      const dest = typeof a.destination === "string" && a.destination.trim() ? a.destination.trim() : null;
      if (dest && !dest.startsWith("/")) fail("invalid_input", "Give the backup folder as a full path, e.g. /media/usb/casebook-backups.");
      state.backup.destination = dest;
      state.backup.every_hours = every;
      state.backup.keep = { ...(a.keep as KeepPolicy) };
      return backupOverview();
    }
    case "backup_restore": {
      const f = state.backup.files.find((x) => x.name === a.name) ?? fail("not_found", `There is no backup called ${a.name}.`);
      if ((f as BackupFile).created_at === null) fail("integrity", "The backup's manifest cannot be read.");
      const key = String(a.recoveryKey ?? "").replace(/[-\s]/g, "");
      if (key.length !== 36) fail("recovery", "that is not a recovery key: expected 9 groups of 4 letters and digits, like ABCD-EFGH-…");
      const into = String(a.into ?? "").trim();
      if (!into.startsWith("/")) fail("invalid_input", "Give the folder to restore into as a full path.");
      if (into === VAULT_DIR) fail("invalid_input", "A backup is never restored over the vault in use: choose a new folder.");
      if (state.keyStore === "passphrase" && !a.passphrase)
        fail("invalid_input", "This backup kept its keys behind a passphrase: give the passphrase the restored vault should use.");
      log("backup.restore");
      return into;
    }
  }
  return fail("invalid", `The mock backend has no command "${cmd}".`);
}

function seed() {
  state.exists = true;
  state.keyStore = "passphrase";
  state.passphrase = "correct horse battery staple";
  const add = (full_name: string, dob: string | null, nhs_number: string | null = null) => {
    const c: MockClient = {
      code: `C-${rnd(4)}`,
      status: "active",
      opened_on: "2026-09-01",
      ended_on: null,
      identity: { full_name, date_of_birth: dob, email: null, phone: "07700 900123", emergency_contact: null, gp: "Dr Patel, Riverside Surgery", nhs_number },
    };
    state.clients.push(c);
    return c.code;
  };
  const a = add("Siân O'Brien", "1988-03-14", "9434765919");
  const b = add("Tomasz Nowak", "1979-11-02");
  add("Amara Okafor", null);
  // Closed long ago, for the retention review: one due, one due within 90 days.
  const yearsAgo = (y: number, days = 0) => {
    const t = new Date();
    return localDay(new Date(t.getFullYear() - y, t.getMonth(), t.getDate() + days));
  };
  const old = add("Graham Whitlock", "1961-07-30");
  Object.assign(client(old), { status: "closed", opened_on: yearsAgo(9), ended_on: yearsAgo(7, -40) });
  const soon = add("Rosa Lindqvist", null);
  Object.assign(client(soon), { status: "closed", opened_on: yearsAgo(8), ended_on: yearsAgo(7, 30) });
  // Subject-access requests: one overdue, one due in about three weeks.
  const daysAgo = (n: number) => localDay(new Date(Date.now() - n * 86_400_000));
  openRequest(b, daysAgo(35));
  openRequest(a, daysAgo(9));
  const today = new Date();
  const at = (h: number, m: number) => new Date(today.getFullYear(), today.getMonth(), today.getDate(), h, m).toISOString();
  state.appointments.push(
    { id: id(), client_code: a, starts_at: at(9, 0), ends_at: at(9, 50), status: "attended" },
    { id: id(), client_code: b, starts_at: at(14, 0), ends_at: at(14, 50), status: "scheduled" },
    { id: id(), client_code: a, starts_at: at(14, 55), ends_at: at(15, 45), status: "scheduled" },
  );
  const days = (n: number) => new Date(Date.now() - n * 86400000).toISOString();
  const phq = [
    [2, 2, 3, 2, 1, 2, 2, 1, 1],
    [2, 1, 2, 2, 1, 1, 2, 1, 0],
    [1, 1, 1, 1, 1, 1, 1, 0, 0],
    [1, 0, 1, 1, 0, 1, 0, 0, 0],
  ];
  phq.forEach((items, i) =>
    state.measures.push({ id: id(), client_code: a, instrument: "phq9", items, score: score("phq9", items), taken_at: days(42 - i * 14) }),
  );
  state.notes.push({
    id: id(),
    client_code: a,
    appointment_id: null,
    template: "soap",
    fields: { subjective: "Sleeping badly since the move; worry about work <b>deadlines</b>.", objective: "Tired, engaged.", assessment: "Low mood, improving.", plan: "Sleep diary; review in two weeks." },
    status: "final",
    created_at: days(14),
    updated_at: days(14),
    finalised_at: days(14),
    addenda: [{ id: id(), note_id: "", text: "Correction: the move was in August.", created_at: days(13) }],
  });
  log("vault.init", null, "passphrase");
  // Backups over the last fortnight as the keep-policy leaves them: three a day for the last
  // two days, then one a day; one day missed; the newest not yet verified, one damaged.
  const ok = (t: Date) => ({ at: new Date(t.getTime() + 3600_000).toISOString(), ok: true, problem: null });
  for (let d = 13; d >= 0; d--) {
    if (d === 6) continue;
    const hours = d <= 1 ? [6, 14, 22] : [14];
    for (const h of hours) {
      const t = new Date(today.getFullYear(), today.getMonth(), today.getDate() - d, h, 2);
      if (t.getTime() > Date.now()) continue;
      const newest = d === 0 && h === hours.filter((x) => new Date(today.getFullYear(), today.getMonth(), today.getDate(), x, 2).getTime() <= Date.now()).pop();
      state.backup.files.push(backupFile(t, newest || d === 1 ? null : ok(t)));
      state.backup.lastSuccess = t.toISOString();
    }
  }
  const damaged = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 9, 14, 2);
  state.backup.files = state.backup.files.filter((f) => f.created_at !== damaged.toISOString());
  state.backup.files.push({ ...backupFile(damaged), created_at: null, clients: null, notes: null });
}

export function installMockBackend(mode: string): void {
  if (mode === "seeded") seed();
  setPickerStandIn(true);
  mockIPC(
    (cmd, payload) => {
      try {
        return Promise.resolve(handle(cmd, (payload ?? {}) as Args));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    { shouldMockEvents: true },
  );
  // Every second while a session runs, locked or not (as the core's ticker).
  setInterval(() => {
    if (state.clock) void emit("clock", clockView());
  }, 1000);
  Object.assign(window, {
    casebookMock: {
      state,
      calendar,
      server,
      notice: (message: string) => emit("notice", { message }),
      lockNow: () => {
        state.unlocked = false;
        void emit("locked");
      },
      /** The pretend calendar changes and the automatic check finds it (as every 30 minutes). */
      calendarChanges: () => {
        if (!calendar.url) return "Connect a calendar first (any https:// address).";
        changeRemote();
        calendar.last = now();
        calendar.pending = previewOf(calendar.remote, "feed");
        void emit("calendar-changes", calendar.pending);
        return calendar.pending.counts;
      },
    },
  });
}
