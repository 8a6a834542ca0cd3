// Every date, time and duration the app shows, in UK form and the local time zone.
// Screens never format dates themselves.

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * A Date for an RFC 3339 timestamp, a Date, or a "YYYY-MM-DD" day. A bare day is read as
 * local midnight (not UTC midnight), so it never shows as the day before.
 */
export function toDate(value: string | Date): Date {
  if (value instanceof Date) return value;
  const m = DATE_ONLY.exec(value);
  if (m) return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(value);
}

// Written out by hand rather than with Intl.DateTimeFormat: the words and order of UK dates
// never change, and the output does not move with the webview's ICU version (some write
// "Sept"). The local time zone comes from the Date getters. (Tried for memory too: the
// web process was no smaller, see docs/performance.md.)
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const short = (word: string) => word.slice(0, 3);

/** `f` of the date; one that cannot be read shows as "—" rather than breaking the screen. */
function shown(value: string | Date, f: (d: Date) => string): string {
  const d = toDate(value);
  return Number.isNaN(d.getTime()) ? "—" : f(d);
}

/** "22/11/2026" */
export function formatDate(value: string | Date): string {
  return shown(value, (d) => `${pad2(d.getDate())}/${pad2(d.getMonth() + 1)}/${d.getFullYear()}`);
}

/** "Sunday 22 November 2026" */
export function formatLongDate(value: string | Date): string {
  return shown(value, (d) => `${WEEKDAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`);
}

/** "December 2026" — a month, as a calendar's heading. */
export function formatMonth(value: string | Date): string {
  return shown(value, (d) => `${MONTHS[d.getMonth()]} ${d.getFullYear()}`);
}

/** "Tue 3 Mar 2026" — a day with its weekday, short. */
export function formatDayDate(value: string | Date): string {
  return shown(
    value,
    (d) => `${short(WEEKDAYS[d.getDay()])} ${d.getDate()} ${short(MONTHS[d.getMonth()])} ${d.getFullYear()}`,
  );
}

/**
 * "Tue 3 Mar 2026, 10:00–10:50"; an event that ends on a later day shows both days:
 * "Tue 3 Mar 2026, 23:30 – Wed 4 Mar 2026, 00:20".
 */
export function formatDateTimeRange(start: string | Date, end: string | Date): string {
  const s = toDate(start);
  const e = toDate(end);
  if (isoDay(s) === isoDay(e)) return `${formatDayDate(s)}, ${formatTimeRange(s, e)}`;
  return `${formatDayDate(s)}, ${formatTime(s)} – ${formatDayDate(e)}, ${formatTime(e)}`;
}

/** "3 Nov" — short axis labels. */
export function formatShortDay(value: string | Date): string {
  return shown(value, (d) => `${d.getDate()} ${short(MONTHS[d.getMonth()])}`);
}

/** "14:03" (24-hour). */
export function formatTime(value: string | Date): string {
  return shown(value, (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`);
}

/** "22/11/2026 14:03" */
export function formatDateTime(value: string | Date): string {
  return `${formatDate(value)} ${formatTime(value)}`;
}

/** "22/11/2026 14:03:05" — the audit trail's precision. */
export function formatDateTimeSeconds(value: string | Date): string {
  return shown(value, (d) => `${formatDate(d)} ${formatTime(d)}:${pad2(d.getSeconds())}`);
}

/** "14:00–14:50" (en dash, no spaces). */
export function formatTimeRange(start: string | Date, end: string | Date): string {
  return `${formatTime(start)}–${formatTime(end)}`;
}

/** "50 min", "1 hr", "1 hr 10 min" (whole minutes); negative durations keep their sign. */
export function formatDuration(minutes: number): string {
  const sign = minutes < 0 ? "-" : "";
  const total = Math.round(Math.abs(minutes));
  const h = Math.floor(total / 60);
  const m = total % 60;
  if (h === 0) return `${sign}${m} min`;
  if (m === 0) return `${sign}${h} hr`;
  return `${sign}${h} hr ${m} min`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/**
 * A countdown: "49:57"; in overrun the time over, "+02:15" (as the tray shows it); minutes go
 * past 59 ("75:00").
 */
export function formatClock(seconds: number): string {
  const whole = Math.trunc(seconds);
  const over = whole < 0;
  const abs = Math.abs(whole);
  return `${over ? "+" : ""}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

/** Seconds left until `endsAt`, rounded to the nearest second. */
export function secondsUntil(endsAt: string | Date, now: number = Date.now()): number {
  const s = Math.round((toDate(endsAt).getTime() - now) / 1000);
  return s === 0 ? 0 : s; // never -0
}

/** The local calendar day as "YYYY-MM-DD". */
export function isoDay(d: Date = new Date()): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** "YYYY-MM-DD" plus `n` days (local calendar, safe across clock changes). */
export function addDays(day: string, n: number): string {
  const d = toDate(day);
  return isoDay(new Date(d.getFullYear(), d.getMonth(), d.getDate() + n));
}

/** A local day ("YYYY-MM-DD") and time ("HH:mm") as an RFC 3339 UTC instant. */
export function localToUtcIso(day: string, time: string): string {
  const dm = DATE_ONLY.exec(day);
  const tm = /^(\d{1,2}):(\d{2})$/.exec(time);
  if (!dm || !tm) throw new Error("Enter a date and a time.");
  const d = new Date(Number(dm[1]), Number(dm[2]) - 1, Number(dm[3]), Number(tm[1]), Number(tm[2]));
  return d.toISOString();
}

/** "HH:mm" of the next quarter hour from `now`, for a booking form's default. */
export function nextQuarterHour(now: Date = new Date()): string {
  const d = new Date(now.getTime());
  d.setSeconds(0, 0);
  d.setMinutes(Math.ceil((d.getMinutes() + 1) / 15) * 15);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/**
 * A day typed the UK way ("22/11/2026", "2/3/2026", "22-11-2026", "22.11.2026") as
 * "YYYY-MM-DD"; null if it is not a real date. A two-digit year is not accepted (it is
 * ambiguous for a date of birth).
 */
export function parseUkDate(s: string): string | null {
  const m = /^\s*(\d{1,2})[/.\-\s](\d{1,2})[/.\-\s](\d{4})\s*$/.exec(s);
  if (!m) return null;
  const d = Number(m[1]);
  const mo = Number(m[2]);
  const y = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || y < 1800 || y > 2200) return null;
  const date = new Date(y, mo - 1, d);
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
  return `${y}-${pad2(mo)}-${pad2(d)}`;
}

/** A 24-hour time typed as "14:05", "9:05", "14.05" or "1405", as "HH:mm"; null if invalid. */
export function parseTime(s: string): string | null {
  const m = /^\s*(\d{1,2})(?:[:.]?)(\d{2})\s*$/.exec(s);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 23 || min > 59) return null;
  return `${pad2(h)}:${pad2(min)}`;
}

/**
 * A file size as a person reads it: "512 bytes", "4.2 KB", "92.7 MB", "1.3 GB" (1 KB = 1000
 * bytes, as file managers show them). One decimal below 100, none from 100 up, no ".0".
 */
export function formatBytes(bytes: number): string {
  const b = Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes) : 0;
  if (b < 1000) return `${b} ${b === 1 ? "byte" : "bytes"}`;
  const units = ["KB", "MB", "GB", "TB", "PB"];
  const shown = (v: number) => (v >= 99.95 ? Math.round(v) : Math.round(v * 10) / 10);
  let v = b / 1000;
  let i = 0;
  while (shown(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${shown(v)} ${units[i]}`;
}
