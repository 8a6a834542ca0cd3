import { describe, expect, it } from "vitest";
import {
  addDays,
  formatBytes,
  formatClock,
  formatDate,
  formatDateTime,
  formatDateTimeRange,
  formatDateTimeSeconds,
  formatDayDate,
  formatDuration,
  formatLongDate,
  formatMonth,
  formatShortDay,
  formatTime,
  formatTimeRange,
  isoDay,
  localToUtcIso,
  nextQuarterHour,
  parseTime,
  parseUkDate,
  secondsUntil,
  toDate,
} from "./format";

describe("the test environment", () => {
  it("runs in the UK time zone", () => {
    expect(Intl.DateTimeFormat().resolvedOptions().timeZone).toBe("Europe/London");
    // 1 July is BST (UTC+1): local midnight is 23:00 UTC the day before.
    expect(new Date(2026, 6, 1).toISOString()).toBe("2026-06-30T23:00:00.000Z");
  });
});

describe("dates", () => {
  it("writes dd/mm/yyyy", () => {
    expect(formatDate("2026-11-22")).toBe("22/11/2026");
    expect(formatDate("2026-03-05T10:00:00Z")).toBe("05/03/2026");
  });

  it("reads a bare day as a local day, never the day before", () => {
    expect(formatDate("2026-07-01")).toBe("01/07/2026");
    expect(toDate("2026-07-01").getDate()).toBe(1);
  });

  it("uses the local date of a UTC instant near midnight in summer", () => {
    // 23:30 UTC on 30 June is 00:30 BST on 1 July.
    expect(formatDate("2026-06-30T23:30:00Z")).toBe("01/07/2026");
    // In winter UTC and local agree.
    expect(formatDate("2026-12-31T23:30:00Z")).toBe("31/12/2026");
  });

  it("writes a short day with its weekday, without a comma", () => {
    expect(formatDayDate("2026-03-03T10:00:00Z")).toBe("Tue 3 Mar 2026");
    expect(formatDayDate("2026-11-22")).toBe("Sun 22 Nov 2026");
    // Local day: 23:30 UTC on 30 June is 00:30 BST on Wednesday 1 July.
    expect(formatDayDate("2026-06-30T23:30:00Z")).toBe("Wed 1 Jul 2026");
    // Three letters for every month, September too (some ICU versions write "Sept").
    expect(formatDayDate("2026-09-15")).toBe("Tue 15 Sep 2026");
    expect(formatShortDay("2026-09-05")).toBe("5 Sep");
    expect(formatShortDay("2026-06-30T23:30:00Z")).toBe("1 Jul");
  });

  it("writes a session's day and times in local time", () => {
    expect(formatDateTimeRange("2026-03-03T10:00:00Z", "2026-03-03T10:50:00Z")).toBe("Tue 3 Mar 2026, 10:00–10:50");
    // In summer, BST: 09:00 UTC is 10:00 local.
    expect(formatDateTimeRange("2026-06-02T09:00:00Z", "2026-06-02T09:50:00Z")).toBe("Tue 2 Jun 2026, 10:00–10:50");
    // Across midnight both days show.
    expect(formatDateTimeRange("2026-03-03T23:30:00Z", "2026-03-04T00:20:00Z")).toBe(
      "Tue 3 Mar 2026, 23:30 – Wed 4 Mar 2026, 00:20",
    );
  });

  it("shows a date it cannot read as a dash, never throwing", () => {
    expect(formatDate("not a date")).toBe("—");
    expect(formatTime("2026-13-45T99:00:00Z")).toBe("—");
    expect(formatDayDate("")).toBe("—");
    expect(formatDateTimeSeconds("nope")).toBe("—");
  });

  it("writes the long form without a comma", () => {
    expect(formatLongDate("2026-11-22")).toBe("Sunday 22 November 2026");
    expect(formatLongDate("2026-03-01")).toBe("Sunday 1 March 2026");
    expect(formatLongDate(new Date(2027, 0, 4))).toBe("Monday 4 January 2027");
    expect(formatMonth("2026-12-04")).toBe("December 2026");
    expect(formatMonth("2027-01-01")).toBe("January 2027");
  });

  it("gives the local calendar day and adds days across a clock change", () => {
    expect(isoDay(new Date(2026, 2, 29, 0, 30))).toBe("2026-03-29");
    expect(addDays("2026-03-28", 1)).toBe("2026-03-29"); // clocks go forward on 29 March 2026
    expect(addDays("2026-03-29", 1)).toBe("2026-03-30");
    expect(addDays("2026-10-25", 1)).toBe("2026-10-26"); // and back on 25 October
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28");
  });

  it("reads dates typed the UK way", () => {
    expect(parseUkDate("22/11/2026")).toBe("2026-11-22");
    expect(parseUkDate(" 2/3/2026 ")).toBe("2026-03-02");
    expect(parseUkDate("29.02.2028")).toBe("2028-02-29");
    expect(parseUkDate("22-11-2026")).toBe("2026-11-22");
    expect(parseUkDate("29/02/2026")).toBeNull(); // not a leap year
    expect(parseUkDate("31/04/2026")).toBeNull();
    expect(parseUkDate("11/22/2026")).toBeNull(); // American order
    expect(parseUkDate("22/11/26")).toBeNull();
    expect(parseUkDate("2026-11-22")).toBeNull();
    expect(parseUkDate("")).toBeNull();
  });
});

describe("times", () => {
  it("writes 24-hour times in local time, in GMT and in BST", () => {
    expect(formatTime("2026-01-15T14:03:00Z")).toBe("14:03"); // GMT
    expect(formatTime("2026-07-15T14:03:00Z")).toBe("15:03"); // BST
    expect(formatTime("2026-07-15T00:05:00Z")).toBe("01:05");
    expect(formatTime("2026-01-15T00:05:00Z")).toBe("00:05");
  });

  it("writes date and time together", () => {
    expect(formatDateTime("2026-11-22T14:03:09Z")).toBe("22/11/2026 14:03");
    expect(formatDateTimeSeconds("2026-11-22T14:03:09Z")).toBe("22/11/2026 14:03:09");
    expect(formatDateTimeSeconds("2026-08-01T09:00:00Z")).toBe("01/08/2026 10:00:00");
  });

  it("writes ranges with an en dash", () => {
    expect(formatTimeRange("2026-11-22T14:00:00Z", "2026-11-22T14:50:00Z")).toBe("14:00–14:50");
    expect(formatTimeRange("2026-06-22T14:00:00Z", "2026-06-22T14:50:00Z")).toBe("15:00–15:50");
  });

  it("keeps local times right on the night the clocks go back", () => {
    // 25 October 2026: 01:30 BST (00:30 UTC), then 01:30 GMT (01:30 UTC).
    expect(formatTime("2026-10-25T00:30:00Z")).toBe("01:30");
    expect(formatTime("2026-10-25T01:30:00Z")).toBe("01:30");
    expect(formatTime("2026-10-25T02:30:00Z")).toBe("02:30");
  });

  it("turns a local day and time into a UTC instant", () => {
    expect(localToUtcIso("2026-11-22", "14:00")).toBe("2026-11-22T14:00:00.000Z");
    expect(localToUtcIso("2026-06-22", "14:00")).toBe("2026-06-22T13:00:00.000Z");
    expect(localToUtcIso("2026-06-22", "9:05")).toBe("2026-06-22T08:05:00.000Z");
    expect(() => localToUtcIso("22/06/2026", "14:00")).toThrow();
    expect(() => localToUtcIso("2026-06-22", "")).toThrow();
  });

  it("reads typed times", () => {
    expect(parseTime("14:05")).toBe("14:05");
    expect(parseTime("9:05")).toBe("09:05");
    expect(parseTime("14.05")).toBe("14:05");
    expect(parseTime("1405")).toBe("14:05");
    expect(parseTime("24:00")).toBeNull();
    expect(parseTime("12:60")).toBeNull();
    expect(parseTime("2pm")).toBeNull();
  });

  it("suggests the next quarter hour", () => {
    expect(nextQuarterHour(new Date(2026, 10, 22, 14, 3))).toBe("14:15");
    expect(nextQuarterHour(new Date(2026, 10, 22, 14, 15))).toBe("14:30");
    expect(nextQuarterHour(new Date(2026, 10, 22, 14, 50))).toBe("15:00");
    expect(nextQuarterHour(new Date(2026, 10, 22, 23, 50))).toBe("00:00");
  });
});

describe("durations and the clock", () => {
  it("writes durations", () => {
    expect(formatDuration(50)).toBe("50 min");
    expect(formatDuration(0)).toBe("0 min");
    expect(formatDuration(60)).toBe("1 hr");
    expect(formatDuration(70)).toBe("1 hr 10 min");
    expect(formatDuration(125)).toBe("2 hr 5 min");
    expect(formatDuration(240)).toBe("4 hr");
    expect(formatDuration(49.6)).toBe("50 min");
    expect(formatDuration(-10)).toBe("-10 min");
    expect(formatDuration(-70)).toBe("-1 hr 10 min");
  });

  it("writes mm:ss countdowns, and the time over as +mm:ss in overrun (as the tray)", () => {
    expect(formatClock(3000)).toBe("50:00");
    expect(formatClock(2997)).toBe("49:57");
    expect(formatClock(59)).toBe("00:59");
    expect(formatClock(0)).toBe("00:00");
    expect(formatClock(-1)).toBe("+00:01");
    expect(formatClock(-135)).toBe("+02:15");
    expect(formatClock(75 * 60)).toBe("75:00");
    expect(formatClock(-0)).toBe("00:00");
  });

  it("counts seconds to the end, never -0", () => {
    const now = Date.parse("2026-11-22T14:00:00Z");
    expect(secondsUntil("2026-11-22T14:50:00Z", now)).toBe(3000);
    expect(secondsUntil("2026-11-22T13:57:45Z", now)).toBe(-135);
    expect(Object.is(secondsUntil("2026-11-22T14:00:00.200Z", now), 0)).toBe(true);
    expect(Object.is(secondsUntil("2026-11-22T13:59:59.800Z", now), 0)).toBe(true);
  });
});

describe("file sizes", () => {
  it("writes bytes, then KB, MB, GB in thousands", () => {
    expect(formatBytes(0)).toBe("0 bytes");
    expect(formatBytes(1)).toBe("1 byte");
    expect(formatBytes(999)).toBe("999 bytes");
    expect(formatBytes(1000)).toBe("1 KB");
    expect(formatBytes(4_240)).toBe("4.2 KB");
    expect(formatBytes(92_712_345)).toBe("92.7 MB");
    expect(formatBytes(128_400_000)).toBe("128 MB");
    expect(formatBytes(1_300_000_000)).toBe("1.3 GB");
    expect(formatBytes(2_000_000_000_000)).toBe("2 TB");
  });

  it("never shows 1000 of a unit or a trailing .0", () => {
    expect(formatBytes(999_999)).toBe("1 MB");
    expect(formatBytes(999_499)).toBe("999 KB");
    expect(formatBytes(99_960)).toBe("100 KB");
    expect(formatBytes(5_000_000)).toBe("5 MB");
    expect(formatBytes(5_040_000)).toBe("5 MB");
    expect(formatBytes(5_060_000)).toBe("5.1 MB");
  });

  it("shows nonsense sizes as none", () => {
    expect(formatBytes(-5)).toBe("0 bytes");
    expect(formatBytes(Number.NaN)).toBe("0 bytes");
  });
});
