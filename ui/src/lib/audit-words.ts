// The audit log in a therapist's words: a label for every action the core writes
// (crates/core/src/audit.rs), its detail ("count=3", "key_store=passphrase") as a phrase,
// and which entries are routine views, hidden unless asked for. The raw action and detail
// stay in the entry (shown on hover, and in the CSV export).

import { formatBytes, formatDate, formatDateTime, formatDuration } from "./format";
import { fieldLabel } from "./rights";

/** The detail's `key=value` pairs and bare words, as the core writes them. */
export type DetailParts = { pairs: Record<string, string>; words: string[] };

interface Words {
  label: string;
  /** A read that happens in the course of ordinary work: hidden by default. */
  routine?: boolean;
  /** What `count=N` counts: [one, many]. */
  noun?: [string, string];
  /** A better label once the detail (or whether the entry names a client) is known. */
  refine?: (d: DetailParts, hasClient: boolean) => string | undefined;
}

const keyStore = (d: DetailParts) =>
  d.pairs.key_store === "os-keychain" ? "the keychain" : d.pairs.key_store === "passphrase" ? "the passphrase" : null;

export const AUDIT_WORDS: Record<string, Words> = {
  "vault.init": {
    label: "Created the records vault",
    refine: (d) => (keyStore(d) ? `Created the records vault, opened with ${keyStore(d)}` : undefined),
  },
  "vault.unlock": {
    label: "Unlocked",
    routine: true,
    refine: (d) => (keyStore(d) ? `Unlocked with ${keyStore(d)}` : undefined),
  },
  "vault.unlock_failed": { label: "Unlock failed" },
  "vault.recover": {
    label: "Access restored with the recovery key",
    refine: (d) => (keyStore(d) ? `Access restored with the recovery key, now opened with ${keyStore(d)}` : undefined),
  },
  "vault.status": { label: "Checked the records' status", routine: true },
  "vault.export": { label: "Exported all records" },
  "vault.import": { label: "Imported records" },
  "keys.show": { label: "Showed the database keys" },
  "client.create": {
    label: "Added a client",
    refine: (d) => (d.pairs.source === "calendar" ? "Added a client from the calendar" : undefined),
  },
  "client.list": { label: "Viewed the client list", routine: true, noun: ["client", "clients"] },
  "client.read": {
    label: "Opened a client's file",
    routine: true,
    refine: (d) => (d.words.includes("retention") ? "Viewed a client's review date" : undefined),
  },
  "client.close": { label: "Ended therapy" },
  "client.edit": { label: "Corrected a client's details" },
  "client.history": { label: "Viewed a client's earlier details", routine: true, noun: ["change", "changes"] },
  "client.erase": { label: "Erased a client" },
  "appointment.create": { label: "Booked a session" },
  "appointment.list": {
    label: "Viewed the day's sessions",
    routine: true,
    noun: ["session", "sessions"],
    refine: (_d, hasClient) => (hasClient ? "Viewed a client's sessions" : undefined),
  },
  "appointment.mark": { label: "Changed a session's status" },
  "appointment.move": { label: "Moved a session" },
  "appointment.cancel": { label: "Cancelled a session" },
  "appointment.delete": { label: "Deleted a session booked by mistake" },
  "appointment.series_create": { label: "Booked a series of sessions" },
  "session.start": { label: "Started a session" },
  "session.extend": { label: "Gave a session more time" },
  "session.end": { label: "Ended a session" },
  "note.create": { label: "Started a note" },
  "note.update": { label: "Saved a draft note" },
  "note.finalise": { label: "Finalised a note" },
  "note.discard": { label: "Discarded a draft note" },
  "note.addendum": { label: "Added an addendum" },
  "note.read": { label: "Read a note", routine: true },
  "note.list": { label: "Viewed a client's notes", routine: true, noun: ["note", "notes"] },
  "process_note.create": { label: "Added a process note" },
  "process_note.list": { label: "Viewed a client's process notes", routine: true, noun: ["process note", "process notes"] },
  "measure.create": { label: "Recorded a measure" },
  "measure.list": { label: "Viewed a client's measures", routine: true, noun: ["measure", "measures"] },
  search: { label: "Searched the notes" },
  "audit.list": { label: "Viewed the audit log", routine: true, noun: ["entry", "entries"] },
  "audit.verify": { label: "Verified the audit log" },
  "audit.export": { label: "Exported the audit log", noun: ["entry", "entries"] },
  "backup.create": {
    label: "Made a backup",
    refine: (d) => (d.pairs.to === "server" ? "Made an off-site backup" : undefined),
  },
  "backup.verify": { label: "Checked a backup" },
  "backup.prune": { label: "Removed old backups" },
  "backup.restore": { label: "Restored a backup" },
  "backup.settings": { label: "Changed the backup settings" },
  "calendar.preview": { label: "Previewed calendar changes" },
  "calendar.import": { label: "Imported sessions from the calendar" },
  "calendar.refresh": { label: "Checked the calendar" },
  "calendar.feed_set": { label: "Connected a calendar" },
  "calendar.feed_settings": { label: "Changed the calendar settings" },
  "calendar.feed_remove": { label: "Disconnected the calendar" },
  "retention.policy_set": { label: "Changed the retention policy" },
  "practice.set": { label: "Changed the practice's details" },
  "retention.review": { label: "Viewed the retention review", routine: true, noun: ["client", "clients"] },
  "retention.extend": { label: "Kept a client's records longer" },
  "sar.create": {
    label: "Subject-access request",
    refine: (d) =>
      d.words.includes("opened")
        ? "Recorded a subject-access request"
        : d.words.includes("export")
          ? "Exported records for a subject-access request"
          : undefined,
  },
  "sar.list": { label: "Viewed the subject-access requests", routine: true, noun: ["request", "requests"] },
  "sar.close": { label: "Marked a subject-access request answered" },
  "supervision.export": { label: "Exported notes for supervision" },
  "erasure.list": { label: "Viewed the erasure records", routine: true, noun: ["record", "records"] },
  "server.connect": { label: "Connected to the Casebook server" },
  "server.disconnect": { label: "Signed out of the Casebook server" },
  "server.totp": {
    label: "Changed two-step sign-in",
    refine: (d) =>
      d.words.includes("enabled")
        ? "Turned on two-step sign-in"
        : d.words.includes("disabled")
          ? "Turned off two-step sign-in"
          : undefined,
  },
  "server.account_delete": { label: "Deleted the server account" },
  "sync.apply": { label: "Received changes from another computer" },
  "sync.conflicts": { label: "Viewed values kept from edits made on two computers at once", routine: true },
  "sync.resolve": { label: "Chose between two computers' versions of a value" },
  "sync.enable": { label: "Turned on sync between computers" },
  "sync.revoke": { label: "Removed another computer from the practice" },
  "sync.disable": { label: "Turned off sync on this computer" },
  "sync.rename": { label: "Renamed a computer of the practice" },
  "sync.pair": { label: "Added a computer to the practice by code" },
  "sync.rekey": { label: "Took the practice's new keys (after a computer was removed)" },
  "device.reidentify": { label: "This copy of the records became a computer of its own" },
};

/** The detail's pieces in order: `key=value` pairs and bare words ("failed: …" kept whole). */
function tokens(detail: string): { key: string | null; value: string }[] {
  const out: { key: string | null; value: string }[] = [];
  let rest = detail.trim();
  while (rest) {
    if (rest.startsWith("failed:")) {
      out.push({ key: null, value: rest });
      break;
    }
    const m = /^(\S+)\s*/.exec(rest)!;
    const t = m[1];
    const eq = t.indexOf("=");
    if (eq > 0 && t.slice(0, eq) === "device") {
      // A device's name may hold spaces: it runs to the end (or to " after restore").
      const whole = rest.slice(eq + 1);
      const after = / after restore$/.exec(whole);
      out.push({ key: "device", value: after ? whole.slice(0, after.index) : whole });
      if (after) out.push({ key: null, value: "after_restore" });
      break;
    }
    out.push(eq > 0 ? { key: t.slice(0, eq), value: t.slice(eq + 1) } : { key: null, value: t });
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** Splits a detail into its `key=value` pairs and bare words. */
export function detailParts(detail: string | null): DetailParts {
  const out: DetailParts = { pairs: {}, words: [] };
  for (const t of detail ? tokens(detail) : []) {
    if (t.key === null) out.words.push(t.value);
    else out.pairs[t.key] = t.value;
  }
  return out;
}

/** Whether an action is a routine view (hidden unless "Show routine views" is ticked). */
export function isRoutine(action: string): boolean {
  return AUDIT_WORDS[action]?.routine === true;
}

/** The action in words; an action this version does not know shows as written. */
export function actionLabel(action: string, detail: string | null = null, hasClient = false): string {
  const w = AUDIT_WORDS[action];
  if (!w) return action;
  return w.refine?.(detailParts(detail), hasClient) ?? w.label;
}

/** The label of an action with no detail known: for the filter's list. */
export function plainLabel(action: string): string {
  return AUDIT_WORDS[action]?.label ?? action;
}

const spaced = (s: string) => s.replace(/[_-]+/g, " ");
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const yes = (v: string) => v === "true";
const isCount = (v: string) => /^\d+$/.test(v);

const SOURCES: Record<string, string> = {
  calendar: "from the calendar",
  feed: "from the calendar feed",
  file: "from a calendar file",
};
const STATUSES: Record<string, string> = {
  scheduled: "booked",
  attended: "attended",
  cancelled: "cancelled",
  cancelled_late: "cancelled late",
  cancelled_by_therapist: "cancelled by you",
  did_not_attend: "did not attend",
};
const CANCELLED_BY: Record<string, string> = {
  client: "by the client",
  client_late: "late, by the client",
  therapist: "by you",
};
const INSTRUMENTS: Record<string, string> = { phq9: "PHQ-9", gad7: "GAD-7", core10: "CORE-10" };
const TEMPLATES: Record<string, string> = { soap: "SOAP", dap: "DAP", birp: "BIRP", free: "free" };
const PRACTICE_DETAILS: Record<string, string> = {
  practice_name: "practice name",
  therapist_name: "therapist's name",
  registration: "registration number",
};
const WORDS: Record<string, string> = {
  ok: "OK",
  applied: "",
  "dry-run": "trial run only",
  ad_hoc: "ad-hoc",
  walk_in: "walk-in",
  to_mark: "still to mark",
  to_finish: "notes to finish",
  export: "",
  opened: "",
  retention: "",
  enabled: "",
  disabled: "",
  server: "on the server",
  "keep-policy": "how many are kept",
  after_restore: "after a restore",
  override_removed: "extension removed",
};
/** Pairs already said by the label. */
const SAID = new Set(["key_store", "note", "to"]);

/** One `key=value` in words, or null to leave it out. */
function pairWords(key: string, v: string, action: string): string | null {
  const n = Number(v);
  switch (key) {
    case "count": {
      const noun = AUDIT_WORDS[action]?.noun;
      return noun && isCount(v) ? plural(n, noun[0], noun[1]) : `${v} found`;
    }
    case "results":
      return isCount(v) ? plural(n, "result", "results") : null;
    case "entries":
      return isCount(v) ? plural(n, "entry", "entries") : null;
    case "template":
      return `${TEMPLATES[v] ?? v} template`;
    case "instrument":
      return INSTRUMENTS[v] ?? v.toUpperCase();
    case "status":
      return STATUSES[v] ?? spaced(v);
    case "by":
      return CANCELLED_BY[v] ?? spaced(v);
    case "every_weeks":
      return isCount(v) ? (n === 1 ? "weekly" : n === 2 ? "fortnightly" : `every ${n} weeks`) : null;
    case "sessions":
      return isCount(v) ? plural(n, "session", "sessions") : null;
    case "minutes":
      return isCount(v) ? formatDuration(n) : null;
    case "overrun":
      return yes(v) ? "ran over" : null;
    case "source":
      return SOURCES[v] ?? `from ${spaced(v)}`;
    case "fields":
      return v.split(",").filter(Boolean).map(fieldLabel).join(", ");
    case "set": {
      // practice.set: which of the practice's details are given (never their text).
      const given = v.split(",").filter(Boolean).map((k) => PRACTICE_DETAILS[k] ?? spaced(k));
      return given.length ? `${given.join(", ")} given` : "all cleared";
    }
    case "until":
      return /^\d{4}-\d{2}-\d{2}$/.test(v) ? `kept until ${formatDate(v)}` : `kept until ${v}`;
    case "reason":
      return spaced(v);
    case "kind":
      return v === "retention" ? "review date reached" : v === "erasure" ? "on request" : spaced(v);
    case "override_retention":
      return yes(v) ? "inside the retention period" : null;
    case "reapplied":
      return yes(v) ? "applied again" : null;
    case "dates_shifted":
      return yes(v) ? "dates shifted" : null;
    case "include_process_notes":
      return yes(v) ? "with process notes" : "without process notes";
    case "redactions":
      return isCount(v) ? (n === 0 ? null : `${plural(n, "passage", "passages")} withheld`) : null;
    case "bytes":
    case "bytes_removed":
      return isCount(v) ? formatBytes(n) : null;
    case "every_hours":
      return isCount(v) ? `every ${plural(n, "hour", "hours")}` : null;
    case "auto_refresh":
      return yes(v) ? "automatic checks on" : "automatic checks off";
    case "server_scheduled":
      return yes(v) ? "scheduled backups sent to the server too" : "scheduled backups kept on this computer only";
    case "signed_out":
      return yes(v) ? "signed out on the server too" : "the server could not be told";
    case "format":
      return v.toUpperCase();
    case "file":
    case "name":
      return v;
    case "device":
      return `this computer named “${v}”`;
    case "backup_created":
      return `backup made ${formatDateTime(v)}`;
    case "from_device":
      return null;
    case "erasures_reapplied":
      return isCount(v) && n > 0 ? `${plural(n, "erasure", "erasures")} applied again` : null;
    case "objects_removed":
      return isCount(v) ? `${plural(n, "piece", "pieces")} removed` : null;
    case "kept":
      return isCount(v) ? `${n} kept` : null;
    case "deleted":
      return isCount(v) ? `${n} deleted` : null;
    case "forgot_missing":
      return isCount(v) ? `${plural(n, "missing backup", "missing backups")} forgotten` : null;
    case "adult_years":
      return `adults ${plural(n, "year", "years")}`;
    case "minor_until_age":
      return `under-18s until ${v}`;
    case "minor_until_age_if_17":
      return `or ${v} if 17 at the end`;
    case "minor_min_years":
      return `at least ${plural(n, "year", "years")}`;
    case "clients":
      return isCount(v) ? plural(n, "client", "clients") : null;
    case "notes":
      return isCount(v) ? plural(n, "note", "notes") : null;
    case "new_clients":
      return isCount(v) ? (n === 0 ? null : plural(n, "new client", "new clients")) : null;
    case "new":
    case "moved":
    case "cancelled":
    case "unchanged":
    case "skipped":
      return isCount(v) ? (n === 0 ? null : `${n} ${key}`) : null;
  }
  if (isCount(v)) return `${v} ${spaced(key)}`;
  if (v === "true" || v === "false") return `${spaced(key)}: ${v === "true" ? "yes" : "no"}`;
  return `${spaced(key)}: ${v}`;
}

/** The detail as a short phrase ("50 min, ran over", "3 sessions"); "" when it adds nothing. */
export function detailWords(action: string, detail: string | null): string {
  if (!detail) return "";
  const out: string[] = [];
  for (const t of tokens(detail)) {
    let p: string | null;
    if (t.key !== null) p = SAID.has(t.key) ? null : pairWords(t.key, t.value, action);
    else if (t.value.startsWith("failed:")) p = `failed: ${spaced(t.value.slice(7).trim())}`;
    else p = WORDS[t.value] ?? spaced(t.value);
    if (p) out.push(p);
  }
  return out.join(", ");
}
