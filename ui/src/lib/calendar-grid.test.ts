import { describe, expect, it } from "vitest";
import { addMonths, monthLabel, monthWeeks, moveByKey, weekdayIndex } from "./calendar-grid";
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
    // Across the October clock change, a day is still a day.
    expect(moveByKey("2026-10-25", "ArrowLeft")).toBe("2026-10-24");
  });
});
