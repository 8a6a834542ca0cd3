// The one door between the UI and Rust. Every call to the Tauri backend goes through here,
// typed; screens never call `invoke` themselves. Field names of returned objects are the
// Rust (snake_case) names; argument names are camelCase (Tauri converts them).

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** An error from the core, already worded for a person. */
export interface AppError {
  /** A stable word: "invalid", "not_found", "locked", "wrong_passphrase", "integrity", … */
  kind: string;
  message: string;
}

export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "kind" in e && "message" in e;
}

/** A readable message for anything a call can throw. */
export function errorMessage(e: unknown): string {
  if (isAppError(e)) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export type KeyStore = "os-keychain" | "passphrase";

export interface AppStatus {
  vault_exists: boolean;
  unlocked: boolean;
  key_store: KeyStore | null;
  vault_dir: string;
  /** When this computer last synced with the practice's others (seconds since 1970); absent if never. */
  last_sync?: number | null;
}

export interface CreatedVault {
  /** 9 groups of 4 characters joined by dashes; shown once. */
  recovery_key: string;
}

export interface ClientIdentity {
  full_name: string;
  date_of_birth: string | null; // YYYY-MM-DD
  email: string | null;
  phone: string | null;
  emergency_contact: string | null;
  gp: string | null;
  /**
   * The client's NHS number: kept as ten digits ("9434765919"), shown as "943 476 5919". The
   * core takes it typed with spaces or hyphens and refuses a wrong check digit.
   */
  nhs_number: string | null;
  /** Other names the client is known by (replaced too in pseudonymised exports). */
  aliases?: string[];
}

/**
 * A correction to a client's identity details: only the fields present change; `null`
 * clears an optional one. `aliases` replaces the whole list.
 */
export interface IdentityChanges {
  full_name?: string;
  date_of_birth?: string | null; // YYYY-MM-DD
  email?: string | null;
  phone?: string | null;
  emergency_contact?: string | null;
  gp?: string | null;
  /** As typed (spaces or hyphens allowed); null or "" clears it. */
  nhs_number?: string | null;
  aliases?: string[];
}

/** One entry of a client's identity history: what a detail said before a change. */
export interface IdentityChange {
  changed_at: string; // RFC 3339
  /** "full_name", "date_of_birth", "email", "phone", "emergency_contact", "gp", "nhs_number", "aliases". */
  field: string;
  /** As stored: a date as YYYY-MM-DD, aliases as a JSON array; null when empty. */
  old_value: string | null;
  new_value: string | null;
  reason: string | null;
}

export type ClientStatus = "active" | "closed";

export interface ClientSummary {
  code: string;
  status: ClientStatus;
  full_name: string | null;
  ended_on: string | null;
}

export interface Client {
  code: string;
  status: ClientStatus;
  opened_on: string;
  ended_on: string | null;
  identity: ClientIdentity | null;
}

export type AppointmentStatus =
  | "scheduled"
  | "attended"
  | "cancelled"
  | "cancelled_late"
  | "cancelled_by_therapist"
  | "did_not_attend";

/** A note still to finish: a draft, or an attended session with no note. */
export type ToFinish =
  | { kind: "draft"; note_id: string; client_code: string; appointment_id: string | null; created_at: string }
  | { kind: "no_note"; appointment_id: string; client_code: string; starts_at: string };

/** What is left to do, for Today. */
export interface WorkTodo {
  /** Sessions from before today still marked booked. */
  to_mark: DayAppointment[];
  notes_to_finish: ToFinish[];
}

export interface Appointment {
  id: string;
  client_code: string;
  starts_at: string; // RFC 3339 UTC
  ends_at: string;
  status: AppointmentStatus;
  /** Why it was cancelled, if a reason was given. */
  reason?: string;
  /** The series it was booked in, if any. */
  series_id?: string;
}

/** A client in the caseload (the client list): where they are in therapy. */
export interface CaseloadEntry extends ClientSummary {
  /** The start of the next booked session not yet over. */
  next_session: string | null;
  /** The start of the latest attended session. */
  last_seen: string | null;
  attended: number;
  /** Drafts, and attended sessions with no note. */
  notes_to_finish: number;
  /** The client's risk or safeguarding flag, if one stands. */
  risk?: RiskFlag | null;
}

/** What a note says about risk and safeguarding (null: nothing). */
export type NoteRisk = "flagged" | "cleared";

/** A client's standing risk or safeguarding flag: the note that raised it. */
export interface RiskFlag {
  note_id: string;
  /** When that note was written. */
  since: string;
  /** The session the note is about, if any. */
  session_at: string | null;
}

/** An appointment on a day list, with the client's name from the identity store. */
export interface DayAppointment extends Appointment {
  client_name: string | null;
  /** The client's risk or safeguarding flag, if one stands. */
  risk?: RiskFlag | null;
}

export type NoteTemplate = "brief" | "soap" | "dap" | "birp" | "free" | "assessment" | "contact" | "ending";

/** Each template's fields, in order (the core's note_templates; one missing has no fields here). */
export type Templates = Partial<Record<NoteTemplate, string[]>>;
export type NoteStatus = "draft" | "final";

export interface Addendum {
  id: string;
  note_id: string;
  text: string;
  created_at: string;
}

export interface SessionNote {
  id: string;
  client_code: string;
  appointment_id: string | null;
  template: NoteTemplate;
  fields: Record<string, string>;
  status: NoteStatus;
  created_at: string;
  updated_at: string;
  finalised_at: string | null;
  /** What the note says about risk and safeguarding (absent or null: nothing). */
  risk?: NoteRisk | null;
  addenda: Addendum[];
}

export interface ProcessNote {
  id: string;
  client_code: string;
  text: string;
  created_at: string;
}

export type Instrument = "phq9" | "gad7" | "core10";

export interface Score {
  total: number;
  band: string;
  risk: boolean;
  above_clinical_cutoff: boolean | null;
  prorated: boolean;
}

export interface OutcomeMeasure {
  id: string;
  client_code: string;
  instrument: Instrument;
  items: (number | null)[];
  score: Score;
  taken_at: string;
}

/** An instrument's severity bands: [lowest total of the band, band name], ascending. */
export interface InstrumentInfo {
  instrument: Instrument;
  label: string;
  items: number;
  max_total: number;
  bands: [number, string][];
}

export interface ClientFile {
  client: Client;
  appointments: Appointment[];
  notes: SessionNote[];
  process_notes: ProcessNote[];
  measures: OutcomeMeasure[];
  /** The client's risk or safeguarding flag, if one stands. */
  risk?: RiskFlag | null;
}

export interface SearchHit {
  client_code: string;
  client_name: string | null;
  kind: "note" | "addendum" | "process_note";
  object_id: string;
  note_id: string | null;
  /** Excerpt with matches in [brackets]. */
  snippet: string;
  /** When: a note's session (else when it was written); when an addendum or process note was written. */
  at: string | null;
}

export interface AuditEntry {
  seq: number;
  at: string;
  device_id: string;
  action: string;
  client_code: string | null;
  object_id: string | null;
  detail: string | null;
  prev_hash: string;
  hash: string;
  /** The computer that wrote it, from the signed device list ("this computer" for this one). */
  device_name?: string | null;
}

export interface AuditFilter {
  client_code?: string | null;
  /** Exact action, or a prefix ending in "." such as "note.". */
  action?: string | null;
  /** YYYY-MM-DD, inclusive. */
  since?: string | null;
  /** YYYY-MM-DD, exclusive. */
  until?: string | null;
  limit?: number | null;
}

export interface Verification {
  entries: number;
  head_hash: string;
}

export interface Settings {
  auto_lock_minutes: number;
  /** Minutes before the end at which the clock warns, e.g. [10, 5]. */
  warning_minutes: number[];
  /** Minimum minutes wanted between sessions. */
  buffer_minutes: number;
  default_session_minutes: number;
  /** Minutes before the next session at which to remind. */
  next_session_notice_minutes: number;
  /** Session warnings also as desktop notifications (false: the clock's colour only). */
  session_notifications: boolean;
}

export interface ClockView {
  running: boolean;
  /** The appointment being held, if the session was scheduled. */
  appointment_id: string | null;
  client_code: string | null;
  client_name: string | null;
  started_at: string | null;
  ends_at: string | null;
  /** Seconds until the planned end; negative in overrun. */
  remaining_seconds: number | null;
  /** "mm:ss", or "-mm:ss" in overrun; "" when idle. */
  display: string;
  overrun: boolean;
  next: { appointment_id: string; starts_at: string; ends_at: string } | null;
  /** Minutes between the end of this session (or now) and the next one. */
  gap_minutes: number | null;
  buffer_minutes: number;
  /** The gap is shorter than the wanted buffer. */
  gap_short: boolean;
  /** A session running on another computer of the practice ("Session running on Laptop since 10:02"). */
  elsewhere?: ClockElsewhere | null;
}

export interface ClockElsewhere {
  run: string;
  computer: string;
  started_at: string;
  ends_at: string;
  client_code: string | null;
  client_name: string | null;
}

export interface Today {
  date: string; // YYYY-MM-DD, local
  appointments: DayAppointment[];
  next: DayAppointment | null;
  clock: ClockView;
}

export interface KeepPolicy {
  all_hours: number;
  daily_days: number;
  weekly_weeks: number;
  monthly_months: number;
}

/** The "last backup" status. */
export interface BackupHealth {
  state: "ok" | "failed" | "overdue" | "never";
  /** One sentence for the banner, e.g. "Last backup 22/11/2026 14:02." */
  message: string;
  last_success: string | null;
  failed_at: string | null;
  error: string | null;
}

export interface BackupFile {
  name: string;
  path: string;
  size: number; // bytes
  /** null when the file's manifest cannot be read: show it as damaged. */
  created_at: string | null;
  clients: number | null;
  notes: number | null;
  verified: { at: string; ok: boolean; problem: string | null } | null;
}

export interface BackupOverview {
  destination: string;
  every_hours: number;
  keep: KeepPolicy;
  health: BackupHealth;
  next_due: string | null;
  /** Newest first. */
  files: BackupFile[];
}

export interface BackupCheck {
  ok: boolean;
  /** What failed, in one sentence, when ok is false. */
  problem: string | null;
}

export interface Notice {
  message: string;
}

/** One background sync run with the practice's other computers (counts only: never a name). */
export interface SyncRan {
  wake: "start" | "here" | "elsewhere" | "timer";
  received: number;
  /** Changes applied here: when above 0, what is on screen may be out of date. */
  applied_changes: number;
  sent: number;
  conflicts: number;
  /** Why the run did not finish, worded for a person. */
  error: string | null;
  /** The alarm's name when the server misbehaved (e.g. "rollback"). */
  alarm: string | null;
  /** That alarm in plain words, for the therapist. */
  alarm_words?: string | null;
  /** The server could not be reached: changes wait on this computer. */
  offline?: boolean;
  /** This computer was removed from the practice's computers. */
  revoked?: boolean;
  /** Still catching up after joining (records read-only): change batches so far, of how many. */
  catching_up?: { done: number; total: number } | null;
}

/** One computer of the practice, from the device list the computers signed. */
export interface SyncDevice {
  id: string;
  name: string;
  /** The symbol its new client codes start with. */
  letter: string;
  revoked: boolean;
  /** When it was added (RFC 3339, as signed). */
  added: string;
  revoked_at: string | null;
  /** Removed from the practice, and what it sent is gone from the server (a checkpoint here holds it). */
  log_removed: boolean;
  this_computer: boolean;
  /** When something new from it was last verified here (seconds since 1970); for this computer, when it last sent. */
  last_heard: number | null;
  /** Nothing new from it for 3 days: switched off, or the server is holding its changes back. */
  stale: boolean;
}

/** Sync as the strip and Settings → Computers show it (read without the network). */
export interface SyncOverview {
  /** The vault has a server connection (Settings → Off-site copy). */
  connected: boolean;
  /** Sync is on for this computer. */
  enabled: boolean;
  /** Seconds since 1970 of the last run that finished without an alarm. */
  last_sync: number | null;
  /** Changes made here that the server does not hold yet. */
  pending_changes: number;
  /** The alarm the last run stopped on: its name, a colon, then what happened. */
  alarm: string | null;
  /** That alarm in plain words, for the therapist. */
  alarm_words: string | null;
  /** Values kept aside from changes made on two computers, not resolved yet. */
  conflicts: number;
  devices: SyncDevice[];
  /** Four words to read off another computer's screen: equal words, the same records. */
  compare_words: string;
  device_name: string | null;
  /** Computers' names by any id they go by (a conflict's lost_device among them). */
  names: Record<string, string>;
  /** Joined by code and still catching up: the records are read-only until it has. */
  catching_up?: boolean;
}

/** A value that lost a merge ("Changed on both computers"), kept so no typed word is lost. */
export interface SyncConflict {
  id: string;
  /** The table and row (`client_identity` and a code, `session_notes` and a note id, …). */
  table: string;
  row: string;
  field: string;
  /** field, draft, edit_after_final, both_finalised or edit_after_delete. */
  kind: string;
  /** The value the record holds now, and the other computer's (JSON text). */
  kept: string | null;
  lost: string | null;
  lost_stamp: string;
  /** The computer that wrote the other value (its id). */
  lost_device: string;
  found_at: string;
  client_code: string | null;
}

/** What a calendar import would do to one event. */
export type CalendarAction = "new" | "moved" | "cancelled" | "unchanged";

/** One event of a calendar preview, matched against the appointments Casebook has. */
export interface CalendarEvent {
  summary: string;
  start: string; // RFC 3339 UTC
  end: string;
  status: "confirmed" | "cancelled";
  action: CalendarAction;
  /** The client it matched; null for a new client or an event that matched no one. */
  client_code: string | null;
  /** Importing creates a new client for this event (named in `new_clients`). */
  new_client: boolean;
  /** Where a moved appointment was. */
  previous_start: string | null;
  previous_end: string | null;
}

/** An event the import leaves out, with why (already a readable sentence). */
export interface CalendarSkipped {
  summary: string;
  start: string | null;
  reason: string;
}

export interface CalendarCounts {
  new: number;
  moved: number;
  cancelled: number;
  unchanged: number;
  skipped: number;
  new_clients: number;
}

/** What importing the calendar would change; nothing changes until `calendarApply`. */
export interface CalendarPreview {
  /** Names this preview: `calendarApply(id)` imports it only if it is still the one waiting. */
  id: string;
  source: "feed" | "file";
  /** The days looked at, YYYY-MM-DD. */
  window: { from: string; to: string };
  events: CalendarEvent[];
  skipped: CalendarSkipped[];
  /** Names that would be created as new clients on confirmation. */
  new_clients: string[];
  counts: CalendarCounts;
  /** Readable sentences, e.g. that a damaged file had lines skipped. */
  warnings: string[];
}

export interface CalendarFeed {
  connected: boolean;
  /** Only the host, e.g. "calendar.google.com": the full address is a secret, never returned. */
  host: string | null;
  auto_refresh: boolean;
  last_refreshed: string | null; // RFC 3339
}

export interface CalendarStatus {
  feed: CalendarFeed;
  /** A preview waiting for confirmation (from a check, automatic or not, or a file). */
  pending: CalendarPreview | null;
}

/** What `calendarApply` did. */
export interface ImportSummary {
  new: number;
  moved: number;
  cancelled: number;
  new_clients: number;
}

/** The proof that a client's records were destroyed at the end of retention. No name. */
export interface DestructionCertificate {
  client_code: string;
  opened_on: string | null; // YYYY-MM-DD
  ended_on: string | null;
  review_on: string | null;
  basis: string | null;
  /** The retention policy's name. */
  policy: string;
  destroyed_at: string; // RFC 3339
}

/** What is left of an erased client: code, time and reason, kept for good. */
export interface ErasureRecord {
  id: string;
  client_code: string;
  erased_at: string; // RFC 3339
  reason: string;
  kind: "erasure" | "retention";
  certificate: DestructionCertificate | null;
}

/** A client's review date and why (e.g. "adult: 7 years after the last session"). */
export interface Retention {
  review_on: string; // YYYY-MM-DD
  basis: string;
}

/** A client on the retention review list (review date passed or within 90 days). */
export interface RetentionItem {
  code: string;
  full_name: string | null;
  status: ClientStatus;
  last_session: string | null; // YYYY-MM-DD
  review_on: string;
  basis: string;
  /** The review date has come. */
  due: boolean;
  /** Why the records are kept longer, when the date was extended. */
  override_reason: string | null;
}

/** The professional bodies a therapist registers or is accredited with. */
export type RegistrationBody = "BACP" | "UKCP" | "NCPS" | "HCPC" | "BPS";

/**
 * Who holds the records, kept in the vault (and synced): printed on notes and on subject-access
 * responses. Blank text is stored as null; names up to 120 characters, the number up to 60.
 */
export interface PracticeProfile {
  practice_name: string | null;
  /** The therapist's name as registered. */
  therapist_name: string | null;
  registration_body: RegistrationBody | null;
  registration_number: string | null;
}

/** The practice's retention rules. Years and ages are whole numbers. */
export interface RetentionPolicy {
  name: string;
  /** Adults: kept this many years after the last session. */
  adult_years: number;
  /** Under-18s at the end of therapy: kept until this birthday… */
  minor_until_age: number;
  /** …or this one if they were 17 when therapy ended… */
  minor_until_age_if_17: number;
  /** …and at least this many years after the last session, whichever is later. */
  minor_min_years: number;
}

export interface RetentionPolicies {
  policy: RetentionPolicy;
  presets: { id: string; policy: RetentionPolicy }[];
}

/** A subject-access request: due one calendar month after it was received. */
export interface AccessRequest {
  id: string;
  client_code: string;
  full_name: string | null;
  received_on: string; // YYYY-MM-DD
  due_on: string;
  status: "open" | "answered";
  answered_on: string | null;
}

/** A passage to withhold from one item (a session note, an addendum, a process note). */
export interface Redaction {
  item_id: string;
  /** The exact text to withhold; it is replaced by "[withheld]". */
  passage: string;
  reason: string;
}

/** The subject-access bundle: a new folder (in Downloads, or the folder chosen) and its two files. */
export interface AccessExport {
  folder: string;
  html: string;
  json: string;
  request: AccessRequest;
}

export interface SupervisionExport {
  file: string;
  notes: number;
}

// ---------- The off-site copy (a Casebook server account) ----------

/** What a server says about itself, checked before anything else is sent to it. */
export interface ServerInfo {
  /** The address as Casebook will use it. */
  url: string;
  /** Where the server keeps data, e.g. ["London, United Kingdom"] (always UK or EU/EEA). */
  locations: string[];
  /** "invite": a new account needs an invite code. */
  sign_up: "open" | "invite";
  /** The server asks every account for an authenticator code. */
  totp_required: boolean;
}

export interface ServerUsage {
  used_bytes: number;
  quota_bytes: number;
  /** The largest single piece the server takes. */
  max_blob_bytes: number;
}

/** One backup on the server. */
export interface RemoteBackup {
  name: string;
  /** From its authenticated index; null when the index is not sound. */
  created_at: string | null;
  size: number; // bytes stored on the server
  clients: number | null;
  notes: number | null;
  /** Its index is authentic and every piece is there: it can be verified and restored. */
  usable: boolean;
  verified: { at: string; ok: boolean; problem: string | null } | null;
  /** What is wrong with it, in words, when it cannot be used. */
  problem: string | null;
}

/** Settings → Off-site copy: the connection, the account's storage and its backups. */
export interface OffsiteOverview {
  connected: boolean;
  url: string | null;
  username: string | null;
  device_name: string | null;
  device_id: string | null;
  locations: string[];
  /** The scheduled backups are sent to the server too. */
  scheduled: boolean;
  usage: ServerUsage | null;
  /** Why the server could not be asked (unreachable, this computer's sign-in revoked…). */
  problem: string | null;
  /** The last off-site backup, as the local backups' health reads. */
  health: BackupHealth | null;
  /** Newest first. */
  backups: RemoteBackup[];
  /** Backups this computer sent that the server no longer lists (deleted or withheld). */
  missing: string[];
  /** Uploads that never finished (never a backup; removed at the next run). */
  unfinished: number;
  /**
   * Whether the account's two-step sign-in is on. Not (yet) in the contract: when the core
   * does not say, the panel offers to turn it on and the server answers if it already is.
   */
  totp_enabled?: boolean;
}

/** The off-site status for the Backups screen, known without asking the server. */
export interface OffsiteHealth {
  connected: boolean;
  health: BackupHealth | null;
}

export interface ServerConnectRequest {
  url: string;
  username: string;
  password: string;
  totp: string | null;
  /** Open the account first. */
  signUp: boolean;
  invite: string | null;
  /** How this computer is named in the account's list of devices. */
  deviceName: string;
}

/** The secret for an authenticator app, as a QR code's text and to type. */
export interface TotpEnrolment {
  otpauth_uri: string;
  secret_base32: string;
}

export interface ServerSignIn {
  url: string;
  username: string;
  password: string;
  totp: string | null;
  recoveryKey: string;
}

/** First run, signed in to the server: the backups a restore can take. */
export interface ServerRestoreChoice {
  locations: string[];
  /** Newest first. */
  backups: RemoteBackup[];
  /** The one to take unless the person chooses: the newest verified, else the newest sound. */
  default: string | null;
}

/** A long off-site task's stage: copying the records, encrypting, sending, fetching, decrypting, checking. */
export type ProgressStage = "copy" | "encrypt" | "upload" | "download" | "decrypt" | "check" | "catch-up";

/**
 * Where a long off-site task has got to (event `offsite-progress`): bytes done of the
 * stage's total; `check` has 0 of 0 (no measure).
 */
export interface OffsiteProgress {
  stage: ProgressStage;
  done: number;
  total: number;
}

/** What a first-run restore brought back. */
export interface RestoredSummary {
  created_at: string | null;
  clients: number;
  notes: number;
}

const call = <T>(cmd: string, args?: Record<string, unknown>) => invoke<T>(cmd, args);

export const api = {
  status: () => call<AppStatus>("app_status"),
  createVault: (keyStore: KeyStore, passphrase: string | null) =>
    call<CreatedVault>("vault_create", { keyStore, passphrase }),
  /** Opens the vault and returns today's day (as `today()` would), to show without asking again. */
  unlock: (passphrase: string | null) => call<Today>("vault_unlock", { passphrase }),
  /**
   * Restores access with the recovery key; the keys are stored again under a new passphrase
   * or in the OS keychain. Returns the day, as `unlock` does.
   */
  recover: (recoveryKey: string, keyStore: KeyStore, passphrase: string | null) =>
    call<Today>("vault_recover", { recoveryKey, keyStore, passphrase }),
  lock: () => call<void>("vault_lock"),
  /** Tells the backend the person is active (resets the auto-lock timer). */
  touch: () => call<void>("touch"),

  today: (date: string | null = null) => call<Today>("today", { date }),

  clients: (includeClosed: boolean) => call<ClientSummary[]>("clients_list", { includeClosed }),
  addClient: (identity: ClientIdentity) => call<Client>("client_add", { identity }),
  closeClient: (code: string, endedOn: string) => call<Client>("client_close", { code, endedOn }),
  /** `quiet`: a refresh after another computer's changes, which is not the therapist's activity. */
  clientFile: (code: string, quiet = false) => call<ClientFile>("client_file", quiet ? { code, quiet } : { code }),
  /** Corrects identity details (rectification); the old values go to the history. */
  editClient: (code: string, changes: IdentityChanges, reason: string | null) =>
    call<Client>("client_edit", { code, changes, reason }),
  /** What the identity details said before each change, oldest first. */
  clientHistory: (code: string) => call<IdentityChange[]>("client_history", { code }),
  /**
   * Erases a client for good. Refused (kind "conflict") inside the retention period unless
   * `overrideRetention`; refused if the reason names the client (it is kept for good).
   */
  eraseClient: (code: string, reason: string, overrideRetention: boolean) =>
    call<ErasureRecord>("client_erase", { code, reason, overrideRetention }),
  addAppointment: (code: string, startsAt: string, endsAt: string) =>
    call<Appointment>("appointment_add", { code, startsAt, endsAt }),
  /** What became of a session: attended, did not attend, or cancelled (with who, and why). */
  /** With `following`, a cancellation covers the later booked sessions of its series too. */
  markAppointment: (id: string, status: AppointmentStatus, reason: string | null, following = false) =>
    call<Appointment>("appointment_mark", { id, status, reason, following }),
  /** A series from local `first` ("YYYY-MM-DDTHH:MM"): `repeat` is weekly, fortnightly or every-N-weeks. */
  addSeries: (code: string, first: string, minutes: number, repeat: string, count: number | null, until: string | null) =>
    call<Appointment[]>("appointment_series_add", { code, first, minutes, repeat, count, until }),
  /** Every client with next session, last seen, sessions attended and notes to finish. */
  caseload: (includeClosed: boolean, quiet = false) =>
    call<CaseloadEntry[]>("clients_caseload", quiet ? { includeClosed, quiet } : { includeClosed }),
  /** Every session starting in [from, to) (RFC 3339), with names: the week view. */
  appointmentsBetween: (from: string, to: string) => call<DayAppointment[]>("appointments_between", { from, to }),
  moveAppointment: (id: string, startsAt: string, following: boolean) =>
    call<Appointment[]>("appointment_move", { id, startsAt, following }),
  /** Only a session booked by mistake, with no note. */
  deleteAppointment: (id: string) => call<void>("appointment_delete", { id }),
  /** Sessions from before today still booked, and notes to finish. */
  workTodo: () => call<WorkTodo>("work_todo"),

  /** Creates a draft (needs at least one non-empty field). */
  createNote: (code: string, template: NoteTemplate, fields: Record<string, string>, appointmentId: string | null) =>
    call<SessionNote>("note_create", { code, template, fields, appointmentId }),
  saveNote: (id: string, fields: Record<string, string>) => call<SessionNote>("note_save", { id, fields }),
  finaliseNote: (id: string) => call<SessionNote>("note_finalise", { id }),
  discardNote: (id: string) => call<void>("note_discard", { id }),
  /** What a draft says about risk and safeguarding. */
  setNoteRisk: (id: string, risk: NoteRisk | null) => call<void>("note_set_risk", { id, risk: risk ?? "none" }),
  addAddendum: (noteId: string, text: string) => call<Addendum>("note_addendum", { noteId, text }),
  templates: () => call<Templates>("note_templates"),

  addProcessNote: (code: string, text: string) => call<ProcessNote>("process_note_add", { code, text }),
  instruments: () => call<InstrumentInfo[]>("instruments"),
  addMeasure: (code: string, instrument: Instrument, items: (number | null)[]) =>
    call<OutcomeMeasure>("measure_add", { code, instrument, items }),

  /** The client's review date and its basis; null before there is a session to count from. */
  retentionOf: (code: string) => call<Retention | null>("retention_of", { code }),
  /** Clients whose review date has passed or comes within 90 days, earliest first. */
  retentionReview: () => call<RetentionItem[]>("retention_review"),
  retentionPolicy: () => call<RetentionPolicies>("retention_policy_get"),
  /** Saves the policy and recomputes every review date. */
  saveRetentionPolicy: (policy: RetentionPolicy) => call<RetentionPolicy>("retention_policy_set", { policy }),
  /** Keeps the records until `until`, for a reason; `until` null removes the extension. */
  extendRetention: (code: string, until: string | null, reason: string) =>
    call<null>("retention_extend", { code, until, reason }),
  /** Destroys the records once the review date has come; returns the certificate. */
  destroyForRetention: (code: string) => call<ErasureRecord>("retention_destroy", { code }),

  /** The open subject-access requests. */
  accessRequests: () => call<AccessRequest[]>("sar_list"),
  openAccessRequest: (code: string, receivedOn: string) => call<AccessRequest>("sar_open", { code, receivedOn }),
  /**
   * Writes the subject-access bundle (HTML + JSON) into a new folder inside `folder` (a full
   * path; null: the Downloads folder), recording the request (or using the open one).
   * Process notes only when asked; redactions are listed.
   */
  createAccessExport: (
    code: string,
    includeProcessNotes: boolean,
    receivedOn: string | null,
    redactions: Redaction[],
    folder: string | null = null,
  ) => call<AccessExport>("sar_create", { code, includeProcessNotes, receivedOn, redactions, folder }),
  /** Marks a request answered. */
  closeAccessRequest: (id: string) => call<AccessRequest>("sar_close", { id }),
  /**
   * Writes a pseudonymised export of the clients' notes for supervision to `path` (the file
   * chosen in the save dialog; null: a new file in the Downloads folder).
   */
  supervisionExport: (codes: string[], shiftDays: number | null, path: string | null = null) =>
    call<SupervisionExport>("supervision_export", { codes, shiftDays, path }),

  /** Narrowed, if given, to one client and to local days from–to ("YYYY-MM-DD", both included). */
  search: (query: string, filter: { client?: string | null; from?: string | null; to?: string | null } = {}) =>
    call<SearchHit[]>("search", { query, client: filter.client ?? null, from: filter.from ?? null, to: filter.to ?? null }),

  audit: (filter: AuditFilter) => call<AuditEntry[]>("audit_list", { filter }),
  verifyAudit: () => call<Verification>("audit_verify"),
  /**
   * Writes a CSV of the filtered trail to `path` (the file chosen in the save dialog; null: a
   * new file in the Downloads folder); returns the file's path.
   */
  exportAudit: (filter: AuditFilter, path: string | null = null) => call<string>("audit_export", { filter, path }),

  settings: () => call<Settings>("settings_get"),
  /** The practice's details (all null until set). */
  practice: () => call<PracticeProfile>("practice_get"),
  /** Saves the practice's details; returns them as kept (blank text as null). */
  setPractice: (profile: PracticeProfile) => call<PracticeProfile>("practice_set", { profile }),
  saveSettings: (settings: Settings) => call<Settings>("settings_set", { settings }),

  clock: () => call<ClockView>("clock_view"),
  /** Starts the given scheduled appointment, or an ad-hoc session of `minutes`. */
  startSession: (appointmentId: string | null, minutes: number | null) =>
    call<ClockView>("clock_start", { appointmentId, minutes }),
  /** A walk-in: a session for the client `code` starting now, with no booking first. */
  startWalkIn: (code: string, minutes: number | null) => call<ClockView>("clock_start", { code, minutes }),
  extendSession: () => call<ClockView>("clock_extend"),
  /** Ends a session running on another computer of the practice (its clock stops at its next sync). */
  endSessionElsewhere: (run: string) => call<ClockView>("clock_end_elsewhere", { run }),
  /** Ends the running session; `endedAtMs` is when End was pressed (the undo delay is not counted). */
  endSession: (endedAtMs?: number) =>
    endedAtMs === undefined ? call<ClockView>("clock_end") : call<ClockView>("clock_end", { endedAtMs }),
  showClockWindow: () => call<void>("clock_window"),
  /** Closes the pop-out clock (it has no title bar), keeping its size and place. */
  closeClockWindow: () => call<void>("clock_window_close"),

  backups: () => call<BackupOverview>("backup_overview"),
  /** Makes a backup now (a few seconds at most), then prunes by the keep-policy. */
  backupNow: () => call<BackupFile>("backup_now"),
  verifyBackup: (name: string) => call<BackupCheck>("backup_verify", { name }),
  /** `destination` null keeps the default folder beside the vault. */
  saveBackupSettings: (destination: string | null, everyHours: number, keep: KeepPolicy) =>
    call<BackupOverview>("backup_settings_set", { destination, everyHours, keep }),
  /**
   * Restores a backup into a new, empty folder; returns that folder. Needs the recovery key;
   * a backup of a passphrase vault also needs the passphrase the restored copy will use.
   */
  restoreBackup: (name: string, recoveryKey: string, into: string, passphrase: string | null = null) =>
    call<string>("backup_restore", { name, recoveryKey, into, passphrase }),

  calendarStatus: () => call<CalendarStatus>("calendar_status"),
  /**
   * Fetches the feed at `url` (HTTPS only), keeps the address encrypted in the vault and
   * returns the preview, which waits for `calendarApply` or `calendarDiscard`.
   */
  calendarFeedSet: (url: string) => call<CalendarPreview>("calendar_feed_set", { url }),
  /** Fetches the saved feed again; returns the new preview. */
  calendarRefresh: () => call<CalendarPreview>("calendar_refresh"),
  /** Previews an .ics file's text (read in the web view); `name` is the file's name. */
  calendarPreviewFile: (name: string, text: string) =>
    call<CalendarPreview>("calendar_preview_file", { name, text }),
  /** Imports the waiting preview. */
  calendarApply: (id: string) => call<ImportSummary>("calendar_apply", { id }),
  /** Drops the waiting preview; nothing is imported. */
  calendarDiscard: () => call<void>("calendar_discard"),
  /** Disconnects the feed: the saved address is deleted at once. */
  calendarFeedRemove: () => call<void>("calendar_feed_remove"),
  calendarAutoRefreshSet: (enabled: boolean) => call<CalendarStatus>("calendar_auto_refresh_set", { enabled }),

  // ---------- The off-site copy ----------

  /** Asks the server where it keeps data; refused for a server outside the UK and EU/EEA. */
  serverCheck: (url: string) => call<ServerInfo>("server_check", { url }),
  /** Signs in (or opens the account first) and connects this vault to it. */
  serverConnect: (r: ServerConnectRequest) =>
    call<OffsiteOverview>("server_connect", {
      url: r.url,
      username: r.username,
      password: r.password,
      totp: r.totp,
      signUp: r.signUp,
      invite: r.invite,
      deviceName: r.deviceName,
    }),
  /** Sync's state here, for the strip and Settings → Computers (no network). */
  /** `words`: with the four compare words too (they read every record: only where shown). */
  syncOverview: (words = false) => call<SyncOverview>("sync_overview", words ? { words } : undefined),
  /** Turns sync on for this computer: it joins the practice's signed list of computers. */
  syncEnable: () => call<SyncOverview>("sync_enable"),
  /** Removes another computer from the practice (the server account's password again). */
  syncRevoke: (device: string, password: string, totp: string | null, recoveryKey: string | null = null) =>
    call<SyncOverview>("sync_revoke", { device, password, totp, recoveryKey }),
  /** A computer's new name, signed into the practice's list of computers. */
  syncRename: (device: string, name: string) => call<SyncOverview>("sync_rename", { device, name }),
  /** Before a lock: sends the changes made here that the server does not hold yet; returns how many still wait. */
  syncFlush: () => call<number>("sync_flush"),
  /** The values kept aside from changes made on two computers (reading them is audited). */
  syncConflicts: () => call<SyncConflict[]>("sync_conflicts"),
  /** Keeps the value the record holds, or takes the other computer's. */
  syncResolve: (id: string, keep: "current" | "other") => call<unknown>("sync_resolve", { id, keep }),
  /** Asks the server for the storage used and the backups (a network call). */
  offsiteOverview: () => call<OffsiteOverview>("offsite_overview"),
  /** The off-site status without asking the server, for the Backups screen. */
  offsiteHealth: () => call<OffsiteHealth>("offsite_health"),
  /** Makes a backup and sends it, wholly encrypted, to the server. */
  offsiteBackupNow: () => call<RemoteBackup>("offsite_backup_now"),
  /** Downloads an off-site backup and checks it completely. */
  offsiteVerify: (name: string) => call<BackupCheck>("offsite_verify", { name }),
  /** Restores an off-site backup into a new, empty folder (as `restoreBackup`); returns it. */
  offsiteRestore: (name: string, recoveryKey: string, into: string, passphrase: string | null = null) =>
    call<string>("offsite_restore", { name, recoveryKey, into, passphrase }),
  /** Sends the scheduled backups to the server too, or stops. */
  offsiteScheduleSet: (on: boolean) => call<OffsiteOverview>("offsite_schedule_set", { on }),
  /** Starts turning on two-step sign-in: the secret for the authenticator app. */
  serverTotpStart: (password: string) => call<TotpEnrolment>("server_totp_start", { password }),
  /** Turns two-step sign-in on with a first code; returns ten one-time recovery codes. */
  serverTotpConfirm: (code: string) => call<{ codes: string[] }>("server_totp_confirm", { code }),
  /** Signs this computer out of the server and forgets the connection. */
  serverDisconnect: () => call<{ signed_out_on_server: boolean }>("server_disconnect"),
  /** Deletes the server account and every off-site backup in it. Local records are untouched. */
  serverDeleteAccount: (password: string, totp: string | null) =>
    call<{ blobs_removed: number; bytes_removed: number }>("server_delete_account", { password, totp }),

  // First run, before there is a vault: the restored vault is left unlocked.

  /** Restores a backup file into the app's vault folder and opens it. */
  restoreFileFirstRun: (path: string, recoveryKey: string, passphrase: string | null) =>
    call<RestoredSummary>("restore_file_first_run", { path, recoveryKey, passphrase }),
  /** Signs in to the server with the recovery key and lists the backups to choose from. */
  serverRestoreSignIn: (r: ServerSignIn) =>
    call<ServerRestoreChoice>("server_restore_sign_in", {
      url: r.url,
      username: r.username,
      password: r.password,
      totp: r.totp,
      recoveryKey: r.recoveryKey,
    }),
  /** Restores the chosen backup (`null`: the default) into the vault folder and opens it. */
  serverRestoreFirstRun: (name: string | null, passphrase: string | null) =>
    call<RestoredSummary>("server_restore_first_run", { name, passphrase }),
  /** Abandons the sign-in made for a restore (the server forgets this computer). */
  serverRestoreCancel: () => call<null>("server_restore_cancel"),

  // Adding a computer by code (the exchange: docs/sync.md, "Adding a computer by code").
  /** Settings → Computers → "Add a computer": a new one-time code, valid ten minutes. */
  pairStart: () => call<PairOffer>("pair_start"),
  /** Looks once for the new computer's answer. Fails with kind `code-wrong` or `code-expired`. */
  pairPoll: () => call<PairState>("pair_poll"),
  /** "Add <name>?": yes adds it (returns its name), no tells it (returns null). */
  pairAnswer: (add: boolean) => call<string | null>("pair_answer", { add }),
  /** Takes the offer off the server (the panel closed before an answer). */
  pairCancel: () => call<null>("pair_cancel"),
  /** First run, "Join my Casebook": signs in as this computer and answers the offer with the code. */
  joinByCode: (r: JoinByCode) =>
    call<JoinWaiting>("join_by_code", {
      url: r.url,
      username: r.username,
      password: r.password,
      totp: r.totp,
      code: r.code,
      name: r.name,
    }),
  /** Looks once for the other computer's answer (`accepted`: the keys are here). */
  joinPoll: () => call<PairState>("join_poll"),
  /** Gives up joining: the sign-in is undone. */
  joinCancel: () => call<null>("join_cancel"),
  /** After the yes: restores, turns sync on, catches up, then opens the records. */
  joinFinish: (passphrase: string | null) => call<JoinedSummary>("join_finish", { passphrase }),
};

/** A code made on the computer that has the practice. */
export interface PairOffer {
  /** `K7Q2-M9XD-4F`. */
  code: string;
  /** Seconds since the epoch. */
  expires_at: number;
}

/** Where an exchange stands. */
export type PairState =
  | { state: "waiting" }
  | { state: "answered"; name: string; words: string }
  | { state: "accepted" };

export interface JoinByCode {
  url: string;
  username: string;
  password: string;
  totp: string | null;
  code: string;
  name: string;
}

/** The new computer, waiting for the other's yes: its name as asked about, and the words. */
export interface JoinWaiting {
  name: string;
  words: string;
}

export interface JoinedSummary {
  clients: number;
  notes: number;
}

/**
 * Backend events: the clock ticks every second; `locked` when the vault locks itself;
 * `backup` after each automatic backup; `calendar-changes` when the automatic calendar
 * check finds changes; `day-changed` after midnight; `offsite-progress` while an off-site
 * task (or a first-run restore) runs; `sync-ran` after each background sync run.
 */
export const events = {
  onClock: (f: (v: ClockView) => void): Promise<UnlistenFn> => listen<ClockView>("clock", (e) => f(e.payload)),
  onLocked: (f: () => void): Promise<UnlistenFn> => listen("locked", () => f()),
  /**
   * The tray's Lock or the idle limit asks the window to lock, so it can save what is still
   * being typed first (the core locks anyway a few seconds later if the window does not).
   */
  onLockRequested: (f: () => void): Promise<UnlistenFn> => listen("lock-requested", () => f()),
  /** A notification could not be shown on the desktop: show it in the window instead. */
  onNotice: (f: (n: Notice) => void): Promise<UnlistenFn> => listen<Notice>("notice", (e) => f(e.payload)),
  /** An automatic backup was made, or failed: the Backups screen reloads. */
  onBackup: (f: () => void): Promise<UnlistenFn> => listen("backup", () => f()),
  /** The day turned while Casebook was open: the clock has the new day's sessions; Today reloads. */
  onDayChanged: (f: () => void): Promise<UnlistenFn> => listen("day-changed", () => f()),
  /** The tray's "Write the session's note": open that session's note. */
  onWriteNote: (f: (w: { client_code: string; appointment_id: string }) => void): Promise<UnlistenFn> =>
    listen<{ client_code: string; appointment_id: string }>("write-note", (e) => f(e.payload)),
  /** The automatic calendar check found changes: the preview now waits for review. */
  onCalendarChanges: (f: (p: CalendarPreview) => void): Promise<UnlistenFn> =>
    listen<CalendarPreview>("calendar-changes", (e) => f(e.payload)),
  /**
   * Progress of an off-site backup, verify or restore (and the first-run restores), at most
   * about ten times a second per stage, while the command runs.
   */
  onOffsiteProgress: (f: (p: OffsiteProgress) => void): Promise<UnlistenFn> =>
    listen<OffsiteProgress>("offsite-progress", (e) => f(e.payload)),
  /** A background sync run finished (or stopped): screens reload when changes arrived. */
  onSyncRan: (f: (r: SyncRan) => void): Promise<UnlistenFn> => listen<SyncRan>("sync-ran", (e) => f(e.payload)),
};
