// The words of a calendar import: what a preview would change, in sentences and rows a
// person can check before anything is imported. Pure functions, tested in calendar.test.ts.

import type { CalendarAction, CalendarCounts, CalendarEvent, CalendarPreview, ImportSummary } from "./api";
import { formatDateTimeRange, formatDayDate, formatTime } from "./format";

/** "3 new, 1 moved, 1 cancelled, 12 unchanged, 2 skipped" — every figure, zeros too. */
export function countsSentence(c: CalendarCounts): string {
  return `${c.new} new, ${c.moved} moved, ${c.cancelled} cancelled, ${c.unchanged} unchanged, ${c.skipped} skipped`;
}

/** How many appointments importing would add, move or cancel. */
export function changeCount(c: CalendarCounts): number {
  return c.new + c.moved + c.cancelled;
}

/** Importing would change something: an appointment, or a new client. */
export function hasChanges(p: CalendarPreview): boolean {
  return changeCount(p.counts) > 0 || p.counts.new_clients > 0 || p.new_clients.length > 0;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "Imported: 3 new, 1 moved, 1 cancelled; 2 new clients." (the clients only when any). */
export function importedSentence(s: ImportSummary): string {
  const clients = s.new_clients > 0 ? `; ${plural(s.new_clients, "new client")}` : "";
  return `Imported: ${s.new} new, ${s.moved} moved, ${s.cancelled} cancelled${clients}.`;
}

/** The action as a word, with a mark that tells the kinds apart without colour. */
export const ACTIONS: Record<CalendarAction, { word: string; mark: string }> = {
  new: { word: "New", mark: "+" },
  moved: { word: "Moved", mark: "→" },
  cancelled: { word: "Cancelled", mark: "×" },
  unchanged: { word: "Unchanged", mark: "=" },
};

export const isChange = (e: CalendarEvent) => e.action !== "unchanged";

const byStart = (a: CalendarEvent, b: CalendarEvent) =>
  new Date(a.start).getTime() - new Date(b.start).getTime() || a.summary.localeCompare(b.summary);

/** The events to review (new, moved, cancelled) and the unchanged ones, each by start time. */
export function splitEvents(events: CalendarEvent[]): { changes: CalendarEvent[]; unchanged: CalendarEvent[] } {
  const sorted = [...events].sort(byStart);
  return { changes: sorted.filter(isChange), unchanged: sorted.filter((e) => !isChange(e)) };
}

/** "Tue 3 Mar 2026, 10:00–10:50", in the local time zone. */
export function eventWhen(e: Pick<CalendarEvent, "start" | "end">): string {
  return formatDateTimeRange(e.start, e.end);
}

/** Where a moved appointment was: "was Mon 2 Mar 2026, 09:00–09:50"; "" if not known. */
export function eventWas(e: CalendarEvent): string {
  if (e.action !== "moved" || !e.previous_start) return "";
  if (!e.previous_end) return `was ${formatDayDate(e.previous_start)}, ${formatTime(e.previous_start)}`;
  return `was ${formatDateTimeRange(e.previous_start, e.previous_end)}`;
}

/**
 * A skipped event's time, "Tue 3 Mar 2026, 10:00"; the day alone at local midnight (an
 * all-day event); "" when it had none that could be read.
 */
export function skippedWhen(start: string | null): string {
  if (!start) return "";
  const d = new Date(start);
  if (Number.isNaN(d.getTime())) return "";
  if (d.getHours() === 0 && d.getMinutes() === 0) return formatDayDate(d);
  return `${formatDayDate(d)}, ${formatTime(d)}`;
}

/** A pasted feed address, tidied; a message instead when it is plainly not one. */
export function checkFeedUrl(raw: string): { url: string } | { error: string } {
  const url = raw.trim();
  if (!url) return { error: "Enter your calendar's feed address." };
  if (/\s/.test(url)) return { error: "The address cannot contain spaces: copy it again from your calendar." };
  return { url };
}

/** Largest .ics file read into the window (a year's diary is well under 1 MB). */
export const MAX_ICS_BYTES = 20_000_000;
