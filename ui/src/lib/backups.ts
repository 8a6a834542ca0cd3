// The Backups screen's logic, kept pure so it can be tested: what colour a backup is, the
// 14-day strip (backups grouped by local day), the sentences shown about them, and the
// settings form.

import type { BackupFile, BackupOverview, KeepPolicy } from "./api";
import { formatDateTime, formatShortDay, isoDay, toDate } from "./format";

export type BackupCheckResult = NonNullable<BackupFile["verified"]>;

/** Green: verified OK. Grey: not verified yet. Red: damaged, or its check failed. */
export type BackupTone = "ok" | "unverified" | "bad";

/** Backup files are named `casebook-<UTC time>.tar`, e.g. casebook-2026-11-22T14-02-05.123Z.tar. */
const NAME_TIME = /(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})(?:\.(\d{1,3}))?Z/;

/** The time in a backup file's name, for a damaged file whose manifest cannot be read. */
export function timeFromName(name: string): Date | null {
  const m = NAME_TIME.exec(name);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = m[7] ? Number(m[7].padEnd(3, "0")) : 0;
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  return Number.isNaN(t.getTime()) ? null : t;
}

/** When a backup was made: from its manifest, else from its name; null if neither says. */
export function backupTime(f: Pick<BackupFile, "name" | "created_at">): Date | null {
  if (f.created_at) {
    const t = toDate(f.created_at);
    if (!Number.isNaN(t.getTime())) return t;
  }
  return timeFromName(f.name);
}

/** A file is damaged when its manifest (its list of contents) cannot be read. */
export const isDamaged = (f: Pick<BackupFile, "created_at">): boolean => f.created_at === null;

/** The more recent of two verification results (either may be missing). */
export function newerCheck(
  a: BackupCheckResult | null | undefined,
  b: BackupCheckResult | null | undefined,
): BackupCheckResult | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return toDate(b.at).getTime() > toDate(a.at).getTime() ? b : a;
}

export function backupTone(f: Pick<BackupFile, "created_at" | "verified">): BackupTone {
  if (isDamaged(f)) return "bad";
  if (!f.verified) return "unverified";
  return f.verified.ok ? "ok" : "bad";
}

export interface BackupStatus {
  tone: BackupTone;
  /** A few words: "Verified OK", "Not yet verified", "Check failed", "Damaged". */
  label: string;
  /** One sentence more, or "". */
  detail: string;
}

export function backupStatus(f: Pick<BackupFile, "created_at" | "verified">): BackupStatus {
  const tone = backupTone(f);
  if (isDamaged(f))
    return { tone, label: "Damaged", detail: "Its list of contents cannot be read or was altered, so it cannot be restored." };
  if (!f.verified) return { tone, label: "Not yet verified", detail: "" };
  if (f.verified.ok) return { tone, label: "Verified OK", detail: `Checked ${formatDateTime(f.verified.at)}.` };
  return {
    tone,
    label: "Check failed",
    detail: f.verified.problem ?? `The check on ${formatDateTime(f.verified.at)} found a fault.`,
  };
}

// ---------- The 14-day strip ----------

export interface StripBackup {
  name: string;
  tone: BackupTone;
  /** "14:02", or "" when the time is unknown. */
  at: string;
}

export interface StripDay {
  /** "YYYY-MM-DD", local. */
  day: string;
  /** "22 Nov" */
  label: string;
  /** The day's backups, earliest first. */
  backups: StripBackup[];
}

export const STRIP_DAYS = 14;

/**
 * One column per local calendar day, oldest first, ending today: each holds that day's
 * backups (by local time, so a backup at 00:30 BST counts on its own day). Backups older
 * than the strip, newer than today, or of no known time are left out.
 */
export function stripDays(
  files: Pick<BackupFile, "name" | "created_at" | "verified">[],
  now: Date = new Date(),
  days: number = STRIP_DAYS,
): StripDay[] {
  const out: StripDay[] = [];
  const index = new Map<string, StripDay>();
  for (let i = days - 1; i >= 0; i--) {
    const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() - i);
    const col: StripDay = { day: isoDay(d), label: formatShortDay(d), backups: [] };
    out.push(col);
    index.set(col.day, col);
  }
  const timed = files
    .map((f) => ({ f, t: backupTime(f) }))
    .filter((x): x is { f: (typeof files)[number]; t: Date } => x.t !== null)
    .sort((a, b) => a.t.getTime() - b.t.getTime());
  for (const { f, t } of timed) {
    const col = index.get(isoDay(t));
    if (!col) continue;
    const hh = String(t.getHours()).padStart(2, "0");
    const mm = String(t.getMinutes()).padStart(2, "0");
    col.backups.push({ name: f.name, tone: backupTone(f), at: `${hh}:${mm}` });
  }
  return out;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "3 backups, all verified"; "2 backups: 1 verified, 1 not yet verified"; "no backup". */
function describe(backups: StripBackup[]): string {
  const n = backups.length;
  if (n === 0) return "no backup";
  const ok = backups.filter((b) => b.tone === "ok").length;
  const grey = backups.filter((b) => b.tone === "unverified").length;
  const bad = n - ok - grey;
  const head = plural(n, "backup");
  if (ok === n) return n === 1 ? `${head}, verified` : `${head}, all verified`;
  if (grey === n) return n === 1 ? `${head}, not yet verified` : `${head}, none verified yet`;
  if (bad === n) return n === 1 ? `${head}, damaged or failed its check` : `${head}, all damaged or failed their check`;
  const parts: string[] = [];
  if (ok) parts.push(`${ok} verified`);
  if (grey) parts.push(`${grey} not yet verified`);
  if (bad) parts.push(`${bad} damaged or failed ${bad === 1 ? "its" : "their"} check`);
  return `${head}: ${parts.join(", ")}`;
}

/** The strip in one sentence, its text alternative: "12 backups in the last 14 days, all verified." */
export function stripSummary(strip: StripDay[]): string {
  const all = strip.flatMap((d) => d.backups);
  const span = `in the last ${plural(strip.length, "day")}`;
  if (all.length === 0) return `No backups ${span}.`;
  const text = describe(all);
  const cut = text.search(/[,:]/);
  return `${text.slice(0, cut)} ${span}${text.slice(cut)}.`;
}

/** One column's tooltip: "22 Nov: 3 backups, all verified". */
export function daySummary(d: StripDay): string {
  return `${d.label}: ${describe(d.backups)}`;
}

// ---------- Sentences ----------

const TIMES = ["", "once", "twice", "three times", "four times"];

/** "three times a day" for 8 hours; "every 5 hours" when it does not divide a day. */
export function scheduleWords(everyHours: number): string {
  if (everyHours === 1) return "every hour";
  if (everyHours > 0 && everyHours <= 24 && 24 % everyHours === 0) {
    const n = 24 / everyHours;
    return `${TIMES[n] ?? `${n} times`} a day`;
  }
  if (everyHours === 168) return "once a week";
  return `every ${everyHours} hours`;
}

/** When the next automatic backup is due: a UK date and time, or "now" when it is due already. */
export function nextDueWords(nextDue: string | null, now: Date = new Date()): string {
  if (!nextDue) return "now";
  const t = toDate(nextDue);
  return t.getTime() <= now.getTime() ? "now" : formatDateTime(t);
}

// ---------- Paths ----------

/** A full path, as the core requires: "/…", "C:\…" or "\\server\…" ("~/…" is not one). */
export function isAbsolutePath(p: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(p.trim());
}

/** `dir` and `name` joined with the separator `dir` already uses. */
export function joinPath(dir: string, name: string): string {
  const sep = dir.includes("\\") && !dir.includes("/") ? "\\" : "/";
  const base = dir.replace(/[\\/]+$/, "");
  return `${base === "" && sep === "/" ? "" : base}${sep}${name}`;
}

/** The folder backups go to when none is chosen: `<vault folder>-backups`, beside the vault. */
export function defaultDestination(vaultDir: string): string {
  return `${vaultDir.replace(/[\\/]+$/, "")}-backups`;
}

/** Where a restore goes unless the person says otherwise: `<destination>/restored-<yyyy-mm-dd>`. */
export function defaultRestoreFolder(destination: string, today: Date = new Date()): string {
  return joinPath(destination, `restored-${isoDay(today)}`);
}

// ---------- The settings form ----------

export interface BackupSettingsForm {
  destination: string;
  every_hours: string;
  all_hours: string;
  daily_days: string;
  weekly_weeks: string;
  monthly_months: string;
}

export type BackupSettingsErrors = Partial<Record<keyof BackupSettingsForm, string>>;

export interface BackupSettingsValue {
  /** null: the default folder beside the vault. */
  destination: string | null;
  everyHours: number;
  keep: KeepPolicy;
}

export const DEFAULT_EVERY_HOURS = 8;
export const DEFAULT_KEEP: KeepPolicy = { all_hours: 48, daily_days: 30, weekly_weeks: 12, monthly_months: 12 };

/**
 * The form for `overview`. The destination field is left empty when backups go to the
 * default folder (so it keeps following the vault), and holds the folder otherwise.
 */
export function backupSettingsToForm(overview: BackupOverview | null, vaultDir: string | null): BackupSettingsForm {
  const keep = overview?.keep ?? DEFAULT_KEEP;
  const dest = overview?.destination ?? "";
  const isDefault = dest === "" || (vaultDir !== null && samePath(dest, defaultDestination(vaultDir)));
  return {
    destination: isDefault ? "" : dest,
    every_hours: String(overview?.every_hours ?? DEFAULT_EVERY_HOURS),
    all_hours: String(keep.all_hours),
    daily_days: String(keep.daily_days),
    weekly_weeks: String(keep.weekly_weeks),
    monthly_months: String(keep.monthly_months),
  };
}

/** The same folder, whether or not either ends with a separator. */
export const samePath = (a: string, b: string) => a.replace(/[\\/]+$/, "") === b.replace(/[\\/]+$/, "");

/** A whole number in [min, max], or a sentence saying what is wrong. */
function whole(raw: string, unit: string, min: number, max: number, range: string, empty: string): number | string {
  const s = raw.trim();
  if (s === "") return empty;
  if (!/^\d+$/.test(s)) return `Use a whole number of ${unit}.`;
  const n = Number(s);
  if (n < min || n > max) return range;
  return n;
}

export function validateBackupSettings(form: BackupSettingsForm): {
  value: BackupSettingsValue | null;
  errors: BackupSettingsErrors;
} {
  const errors: BackupSettingsErrors = {};
  const num = (key: keyof BackupSettingsForm, unit: string, min: number, max: number, range: string, empty: string) => {
    const r = whole(form[key], unit, min, max, range, empty);
    if (typeof r === "string") {
      errors[key] = r;
      return 0;
    }
    return r;
  };
  const off = "Enter a number (0 turns this rule off).";

  const destination = form.destination.trim();
  if (destination !== "" && !isAbsolutePath(destination))
    errors.destination = "Give the folder’s full path, e.g. /media/usb/casebook-backups (or D:\\Casebook backups on Windows).";

  const everyHours = num("every_hours", "hours", 1, 168, "Backups can run every 1 to 168 hours (168 is once a week).", "Enter how many hours apart backups should be.");
  const keep: KeepPolicy = {
    all_hours: num("all_hours", "hours", 0, 8760, "Keep every backup for 0 to 8760 hours (a year).", off),
    daily_days: num("daily_days", "days", 0, 3650, "Keep one a day for 0 to 3650 days.", off),
    weekly_weeks: num("weekly_weeks", "weeks", 0, 520, "Keep one a week for 0 to 520 weeks.", off),
    monthly_months: num("monthly_months", "months", 0, 240, "Keep one a month for 0 to 240 months.", off),
  };

  if (Object.keys(errors).length > 0) return { value: null, errors };
  return { value: { destination: destination === "" ? null : destination, everyHours, keep }, errors };
}
