// The month grid of the date picker (components/DatePicker.svelte): weeks from Monday (as UK
// calendars print them), and moving by day, week and month with the day kept where the month
// allows (31 January + one month = the last day of February). Days are "YYYY-MM-DD", local
// calendar; no Intl. (Not to be confused with calendar.ts, the calendar import.)
import { addDays, formatMonth } from "./format";

/** Monday first: [short heading, full name for screen readers]. */
export const WEEKDAYS: [string, string][] = [
  ["Mo", "Monday"],
  ["Tu", "Tuesday"],
  ["We", "Wednesday"],
  ["Th", "Thursday"],
  ["Fr", "Friday"],
  ["Sa", "Saturday"],
  ["Su", "Sunday"],
];

const pad2 = (n: number) => String(n).padStart(2, "0");
const parts = (day: string) => day.split("-").map(Number) as [number, number, number];
/** The number of days in month `m` (1–12) of year `y`. */
export const daysInMonth = (y: number, m: number) => new Date(y, m, 0).getDate();

/** 0 for Monday … 6 for Sunday. */
export function weekdayIndex(day: string): number {
  const [y, m, d] = parts(day);
  return (new Date(y, m - 1, d).getDay() + 6) % 7;
}

/** "December 2026" for any day of that month. */
export const monthLabel = (day: string) => formatMonth(day);

/** The same day `n` months on, clamped to the month's length (31 Jan + 1 = 28 or 29 Feb). */
export function addMonths(day: string, n: number): string {
  const [y, m, d] = parts(day);
  const index = y * 12 + (m - 1) + n;
  const ny = Math.floor(index / 12);
  const nm = index - ny * 12 + 1;
  return `${ny}-${pad2(nm)}-${pad2(Math.min(d, daysInMonth(ny, nm)))}`;
}

/** The weeks (Monday to Sunday) covering the month of `day`, each day as "YYYY-MM-DD". */
export function monthWeeks(day: string): string[][] {
  const [y, m] = parts(day);
  const first = `${y}-${pad2(m)}-01`;
  const last = `${y}-${pad2(m)}-${pad2(daysInMonth(y, m))}`;
  let d = addDays(first, -weekdayIndex(first));
  const weeks: string[][] = [];
  while (d <= last) {
    const week: string[] = [];
    for (let i = 0; i < 7; i++) {
      week.push(d);
      d = addDays(d, 1);
    }
    weeks.push(week);
  }
  return weeks;
}

/** Whether two days are in the same month. */
export const sameMonth = (a: string, b: string) => a.slice(0, 7) === b.slice(0, 7);

/** `day` kept within `min` and `max` (either may be "" or absent: no limit that side). */
export function clampDay(day: string, min?: string, max?: string): string {
  if (min && day < min) return min;
  if (max && day > max) return max;
  return day;
}

/** Whether `day` is within `min` and `max` (either may be "" or absent). */
export const inRange = (day: string, min?: string, max?: string) => clampDay(day, min, max) === day;

/** Where a key moves the focused day; null for a key the grid does not use. */
export function moveByKey(day: string, key: string): string | null {
  switch (key) {
    case "ArrowLeft":
      return addDays(day, -1);
    case "ArrowRight":
      return addDays(day, 1);
    case "ArrowUp":
      return addDays(day, -7);
    case "ArrowDown":
      return addDays(day, 7);
    case "PageUp":
      return addMonths(day, -1);
    case "PageDown":
      return addMonths(day, 1);
    case "Home":
      return addDays(day, -weekdayIndex(day));
    case "End":
      return addDays(day, 6 - weekdayIndex(day));
    default:
      return null;
  }
}
