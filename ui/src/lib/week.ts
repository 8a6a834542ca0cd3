// The week view's logic, apart from the screen: which days a week holds (Monday first, in the
// computer's time zone), which sessions fall on each, the gaps between them (short ones
// flagged against the therapist's buffer), and where the arrow keys move.

import type { AppointmentStatus, DayAppointment } from "./api";
import { addDays, isoDay, localToUtcIso, toDate } from "./format";

/** The Monday ("YYYY-MM-DD") of the week holding the local day `day`. */
export function weekStart(day: string): string {
  const d = toDate(day);
  const back = (d.getDay() + 6) % 7; // Monday 0 … Sunday 6
  return addDays(day, -back);
}

/** The seven local days of the week starting on `monday`. */
export function weekDays(monday: string): string[] {
  return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
}

/** The instants the week covers: [Monday 00:00, next Monday 00:00), local time, as UTC. */
export function weekRange(monday: string): { from: string; to: string } {
  return { from: localToUtcIso(monday, "00:00"), to: localToUtcIso(addDays(monday, 7), "00:00") };
}

const CANCELLED: AppointmentStatus[] = ["cancelled", "cancelled_late", "cancelled_by_therapist"];
export const isCancelled = (s: AppointmentStatus) => CANCELLED.includes(s);

/** A session on a day, or the time between two sessions that will take place. */
export type DayItem =
  | { kind: "session"; appointment: DayAppointment }
  | { kind: "gap"; minutes: number; short: boolean };

/**
 * One day's list: its sessions in order and, between two that take place (cancelled ones
 * left out of the reckoning), the gap — `short` when under `bufferMinutes`, overlapping
 * sessions a negative gap (always short).
 */
export function dayItems(sessions: DayAppointment[], bufferMinutes: number): DayItem[] {
  const sorted = [...sessions].sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  const out: DayItem[] = [];
  let lastEnd: number | null = null;
  for (const a of sorted) {
    if (!isCancelled(a.status)) {
      const start = toDate(a.starts_at).getTime();
      if (lastEnd !== null) {
        const minutes = Math.round((start - lastEnd) / 60_000);
        out.push({ kind: "gap", minutes, short: minutes < bufferMinutes });
      }
      lastEnd = Math.max(lastEnd ?? 0, toDate(a.ends_at).getTime());
    }
    out.push({ kind: "session", appointment: a });
  }
  return out;
}

/** The week's sessions by local day ("YYYY-MM-DD"), each day's in order. */
export function byDay(days: string[], sessions: DayAppointment[]): Map<string, DayAppointment[]> {
  const out = new Map(days.map((d) => [d, [] as DayAppointment[]]));
  for (const a of sessions) out.get(isoDay(toDate(a.starts_at)))?.push(a);
  for (const list of out.values()) list.sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  return out;
}

/** A place in the week: the day (0 Monday … 6 Sunday) and the session's place in it. */
export interface Spot {
  day: number;
  index: number;
}

/**
 * Where an arrow key moves from `at`: up and down within the day; left and right to the
 * nearest day that has sessions, at the same place or the last one. Null: nowhere to go.
 */
export function moveSpot(counts: number[], at: Spot, key: string): Spot | null {
  if (key === "ArrowUp") return at.index > 0 ? { day: at.day, index: at.index - 1 } : null;
  if (key === "ArrowDown") return at.index < counts[at.day] - 1 ? { day: at.day, index: at.index + 1 } : null;
  const step = key === "ArrowRight" ? 1 : key === "ArrowLeft" ? -1 : 0;
  if (step === 0) return null;
  for (let d = at.day + step; d >= 0 && d < counts.length; d += step) {
    if (counts[d] > 0) return { day: d, index: Math.min(at.index, counts[d] - 1) };
  }
  return null;
}
