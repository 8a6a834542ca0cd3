import { describe, expect, it } from "vitest";
import { addMonths, clampDay, daysInMonth, inRange, monthLabel, monthWeeks, moveByKey, weekdayIndex, WEEKDAYS } from "./calendar-grid";
import { addDays } from "./format";

describe("the date picker's month grid", () => {
  it("lays a month out in weeks from Monday", () => {
    const weeks = monthWeeks("2026-12-04");
    expect(weeks[0]).toEqual(["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"]);
    expect(weeks.at(-1)?.at(-1)).toBe("2027-01-03");
    expect(weeks).toHaveLength(5);
    // February 2027 starts on a Monday and has four weeks exactly.
    expect(monthWeeks("2027-02-10")).toHaveLength(4);
    expect(monthLabel("2026-12-04")).toBe("December 2026");
    expect(WEEKDAYS.map(([short]) => short)).toEqual(["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]);
    expect(WEEKDAYS[0][1]).toBe("Monday");
    // A month that starts on a Sunday and has 31 days spans six weeks (March 2026).
    const march = monthWeeks("2026-03-01");
    expect(march).toHaveLength(6);
    expect(march[0][6]).toBe("2026-03-01");
    expect(march[5][1]).toBe("2026-03-31");
  });

  it("every month's grid holds each of its days once, in order, in whole weeks", () => {
    for (let m = 0; m < 36; m++) {
      const day = addMonths("2025-01-15", m);
      const days = monthWeeks(day).flat();
      expect(days.length % 7).toBe(0);
      expect(weekdayIndex(days[0])).toBe(0);
      for (let i = 1; i < days.length; i++) expect(days[i]).toBe(addDays(days[i - 1], 1));
      expect(days.filter((d) => d.slice(0, 7) === day.slice(0, 7)).length).toBe(
        new Date(Number(day.slice(0, 4)), Number(day.slice(5, 7)), 0).getDate(),
      );
    }
  });

  it("moves by day, week, month (kept within the month's length) and to the week's ends", () => {
    expect(moveByKey("2027-01-31", "PageDown")).toBe("2027-02-28");
    expect(moveByKey("2028-01-31", "PageDown")).toBe("2028-02-29");
    expect(moveByKey("2027-01-15", "PageUp")).toBe("2026-12-15");
    expect(moveByKey("2026-12-31", "ArrowRight")).toBe("2027-01-01");
    expect(moveByKey("2026-12-04", "ArrowUp")).toBe("2026-11-27");
    expect(moveByKey("2026-12-04", "Home")).toBe("2026-11-30");
    expect(moveByKey("2026-12-04", "End")).toBe("2026-12-06");
    expect(moveByKey("2026-12-04", "a")).toBeNull();
    expect(moveByKey("2026-12-07", "Home")).toBe("2026-12-07"); // already a Monday
    expect(moveByKey("2026-12-06", "End")).toBe("2026-12-06"); // already a Sunday
    expect(moveByKey("2027-01-01", "ArrowLeft")).toBe("2026-12-31");
    expect(moveByKey("2026-03-02", "ArrowUp")).toBe("2026-02-23");
    // Across the October clock change, a day is still a day.
    expect(moveByKey("2026-10-25", "ArrowLeft")).toBe("2026-10-24");
  });
});

describe("months and limits", () => {
  it("adds months across years, clamped to the month's length", () => {
    expect(addMonths("2026-12-15", 1)).toBe("2027-01-15");
    expect(addMonths("2027-01-15", -1)).toBe("2026-12-15");
    expect(addMonths("2026-03-31", -1)).toBe("2026-02-28");
    expect(addMonths("2026-05-31", 1)).toBe("2026-06-30");
    expect(addMonths("2024-02-29", 12)).toBe("2025-02-28");
    expect(addMonths("2026-08-31", -18)).toBe("2025-02-28");
    expect(addMonths("2026-08-31", 0)).toBe("2026-08-31");
    expect(daysInMonth(2028, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
  });

  it("keeps a day within a first and last day, either of which may be missing", () => {
    expect(clampDay("2026-12-04", "2026-12-10", "2026-12-20")).toBe("2026-12-10");
    expect(clampDay("2026-12-24", "2026-12-10", "2026-12-20")).toBe("2026-12-20");
    expect(clampDay("2026-12-14", "2026-12-10", "2026-12-20")).toBe("2026-12-14");
    expect(clampDay("1900-01-01", "", undefined)).toBe("1900-01-01");
    expect(inRange("2026-12-09", "2026-12-10")).toBe(false);
    expect(inRange("2026-12-10", "2026-12-10")).toBe(true);
    expect(inRange("2026-12-21", undefined, "2026-12-20")).toBe(false);
  });
});
