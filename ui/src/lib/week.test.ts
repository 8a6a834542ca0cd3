import { describe, expect, it } from "vitest";
import type { DayAppointment } from "./api";
import { byDay, dayItems, moveSpot, weekDays, weekRange, weekStart } from "./week";

const at = (id: string, start: string, end: string, status: DayAppointment["status"] = "scheduled"): DayAppointment => ({
  id,
  client_code: "C-7KQ2",
  client_name: "Siân O'Brien",
  starts_at: new Date(start).toISOString(),
  ends_at: new Date(end).toISOString(),
  status,
});

describe("the week's days", () => {
  it("starts on Monday whatever the day, and holds seven days", () => {
    expect(weekStart("2026-12-03")).toBe("2026-11-30"); // a Thursday
    expect(weekStart("2026-11-30")).toBe("2026-11-30"); // Monday itself
    expect(weekStart("2026-12-06")).toBe("2026-11-30"); // Sunday belongs to the week before
    expect(weekDays("2026-11-30")).toEqual([
      "2026-11-30",
      "2026-12-01",
      "2026-12-02",
      "2026-12-03",
      "2026-12-04",
      "2026-12-05",
      "2026-12-06",
    ]);
  });

  it("covers local midnight to midnight, across the October clock change", () => {
    // The week of 26 October 2026 holds the night the clocks go back (in the UK): 7 days + 1 h.
    const r = weekRange("2026-10-19");
    expect(new Date(r.from)).toEqual(new Date(2026, 9, 19));
    expect(new Date(r.to)).toEqual(new Date(2026, 9, 26));
  });

  it("puts each session on its local day, in order", () => {
    const days = weekDays("2026-11-30");
    const late = at("b", "2026-12-01T15:00", "2026-12-01T15:50");
    const early = at("a", "2026-12-01T09:00", "2026-12-01T09:50");
    const sunday = at("c", "2026-12-06T23:30", "2026-12-07T00:20");
    const next = at("d", "2026-12-07T09:00", "2026-12-07T09:50");
    const map = byDay(days, [late, sunday, early, next]);
    expect(map.get("2026-12-01")?.map((a) => a.id)).toEqual(["a", "b"]);
    expect(map.get("2026-12-06")?.map((a) => a.id)).toEqual(["c"]);
    expect([...map.values()].flat()).toHaveLength(3); // the next week's session is not in it
  });
});

describe("gaps between sessions", () => {
  it("shows each gap, flags one shorter than the buffer, and leaves cancelled sessions out", () => {
    const items = dayItems(
      [
        at("a", "2026-12-01T09:00", "2026-12-01T09:50"),
        at("b", "2026-12-01T10:00", "2026-12-01T10:50"), // 10 min after a
        at("x", "2026-12-01T11:00", "2026-12-01T11:50", "cancelled"),
        at("c", "2026-12-01T13:00", "2026-12-01T13:50"), // 2 h 10 min after b
      ],
      15,
    );
    expect(items.map((i) => (i.kind === "gap" ? `gap ${i.minutes}${i.short ? " short" : ""}` : i.appointment.id))).toEqual([
      "a",
      "gap 10 short",
      "b",
      "x",
      "gap 130",
      "c",
    ]);
  });

  it("an overlap is a negative gap, always short; a gap equal to the buffer is not short", () => {
    const items = dayItems(
      [
        at("a", "2026-12-01T09:00", "2026-12-01T10:00"),
        at("b", "2026-12-01T09:45", "2026-12-01T10:30"),
        at("c", "2026-12-01T10:40", "2026-12-01T11:30"),
      ],
      10,
    );
    const gaps = items.filter((i) => i.kind === "gap");
    expect(gaps).toEqual([
      { kind: "gap", minutes: -15, short: true },
      { kind: "gap", minutes: 10, short: false },
    ]);
  });
});

describe("arrow keys in the week", () => {
  const counts = [2, 0, 0, 3, 1, 0, 0];
  it("moves within a day and stops at its ends", () => {
    expect(moveSpot(counts, { day: 0, index: 0 }, "ArrowDown")).toEqual({ day: 0, index: 1 });
    expect(moveSpot(counts, { day: 0, index: 1 }, "ArrowDown")).toBeNull();
    expect(moveSpot(counts, { day: 0, index: 0 }, "ArrowUp")).toBeNull();
  });
  it("jumps over free days to the nearest day with sessions, keeping the place where it can", () => {
    expect(moveSpot(counts, { day: 0, index: 1 }, "ArrowRight")).toEqual({ day: 3, index: 1 });
    expect(moveSpot(counts, { day: 3, index: 2 }, "ArrowRight")).toEqual({ day: 4, index: 0 });
    expect(moveSpot(counts, { day: 3, index: 2 }, "ArrowLeft")).toEqual({ day: 0, index: 1 });
    expect(moveSpot(counts, { day: 4, index: 0 }, "ArrowRight")).toBeNull();
    expect(moveSpot(counts, { day: 4, index: 0 }, "Enter")).toBeNull();
  });
});
