import { describe, expect, it } from "vitest";
import type { BackupFile, BackupOverview } from "./api";
import {
  backupSettingsToForm,
  backupStatus,
  backupTime,
  backupTone,
  daySummary,
  defaultDestination,
  defaultRestoreFolder,
  isAbsolutePath,
  joinPath,
  newerCheck,
  nextDueWords,
  scheduleWords,
  stripDays,
  stripSummary,
  timeFromName,
  validateBackupSettings,
  type BackupSettingsForm,
} from "./backups";

const OK = { at: "2026-11-22T15:00:00Z", ok: true, problem: null };
const FAILED = { at: "2026-11-22T15:00:00Z", ok: false, problem: "The clinical part's digest does not match." };

function file(created_at: string | null, verified: BackupFile["verified"] = null, name?: string): BackupFile {
  const n = name ?? `casebook-${(created_at ?? "2026-11-01T00:00:00.000Z").replace(/:/g, "-")}.tar`;
  return { name: n, path: `/b/${n}`, size: 92_700_000, created_at, clients: 3, notes: 12, verified };
}

describe("when a backup was made", () => {
  it("reads the time in a backup's name", () => {
    expect(timeFromName("casebook-2026-11-22T14-02-05.123Z.tar")?.toISOString()).toBe("2026-11-22T14:02:05.123Z");
    expect(timeFromName("casebook-2026-11-22T14-02-05Z.tar")?.toISOString()).toBe("2026-11-22T14:02:05.000Z");
    expect(timeFromName("casebook-latest.tar")).toBeNull();
  });

  it("takes the manifest's time, else the name's for a damaged file", () => {
    expect(backupTime(file("2026-11-22T14:02:05Z"))?.toISOString()).toBe("2026-11-22T14:02:05.000Z");
    expect(backupTime(file(null, null, "casebook-2026-11-20T09-00-00.000Z.tar"))?.toISOString()).toBe(
      "2026-11-20T09:00:00.000Z",
    );
    expect(backupTime(file(null, null, "casebook-x.tar"))).toBeNull();
  });
});

describe("colour and status", () => {
  it("is green when verified OK, grey before any check, red when damaged or failed", () => {
    expect(backupTone(file("2026-11-22T14:00:00Z", OK))).toBe("ok");
    expect(backupTone(file("2026-11-22T14:00:00Z"))).toBe("unverified");
    expect(backupTone(file("2026-11-22T14:00:00Z", FAILED))).toBe("bad");
    expect(backupTone(file(null))).toBe("bad");
    // Damaged stays red whatever an older check said.
    expect(backupTone(file(null, OK))).toBe("bad");
  });

  it("says so in words", () => {
    expect(backupStatus(file("2026-11-22T14:00:00Z", OK))).toEqual({
      tone: "ok",
      label: "Verified OK",
      detail: "Checked 22/11/2026 15:00.",
    });
    expect(backupStatus(file("2026-11-22T14:00:00Z")).label).toBe("Not yet verified");
    expect(backupStatus(file("2026-11-22T14:00:00Z", FAILED))).toMatchObject({
      label: "Check failed",
      detail: "The clinical part's digest does not match.",
    });
    expect(backupStatus(file(null)).label).toBe("Damaged");
  });

  it("keeps the newer of two check results", () => {
    const later = { at: "2026-11-22T16:00:00Z", ok: false, problem: "x" };
    expect(newerCheck(OK, later)).toBe(later);
    expect(newerCheck(later, OK)).toBe(later);
    expect(newerCheck(null, OK)).toBe(OK);
    expect(newerCheck(OK, undefined)).toBe(OK);
    expect(newerCheck(null, null)).toBeNull();
  });
});

describe("the 14-day strip", () => {
  // Sunday 22 November 2026, mid-afternoon (GMT).
  const now = new Date(2026, 10, 22, 15, 30);

  it("has one column per day, oldest first, ending today", () => {
    const strip = stripDays([], now);
    expect(strip).toHaveLength(14);
    expect(strip[0].day).toBe("2026-11-09");
    expect(strip[13].day).toBe("2026-11-22");
    expect(strip[13].label).toBe("22 Nov");
    expect(strip.every((d) => d.backups.length === 0)).toBe(true);
  });

  it("puts each backup on its local day, earliest first, with its colour", () => {
    const strip = stripDays(
      [
        file("2026-11-22T14:00:00Z", null),
        file("2026-11-22T06:00:00Z", OK),
        file("2026-11-21T22:00:00Z", FAILED),
        file(null, null, "casebook-2026-11-20T09-00-00.000Z.tar"),
      ],
      now,
    );
    expect(strip[13].backups.map((b) => [b.at, b.tone])).toEqual([
      ["06:00", "ok"],
      ["14:00", "unverified"],
    ]);
    expect(strip[12].backups.map((b) => b.tone)).toEqual(["bad"]);
    expect(strip[11].backups.map((b) => [b.at, b.tone])).toEqual([["09:00", "bad"]]);
  });

  it("groups by the local day in summer time, not the UTC day", () => {
    const summer = new Date(2026, 6, 15, 12, 0);
    // 23:30 UTC on 14 July is 00:30 BST on 15 July.
    const strip = stripDays([file("2026-07-14T23:30:00Z", OK)], summer);
    expect(strip[13].day).toBe("2026-07-15");
    expect(strip[13].backups).toHaveLength(1);
    expect(strip[13].backups[0].at).toBe("00:30");
    expect(strip[12].backups).toHaveLength(0);
  });

  it("spans the night the clocks go back without losing or doubling a day", () => {
    const strip = stripDays([], new Date(2026, 9, 30, 12, 0));
    const days = strip.map((d) => d.day);
    expect(new Set(days).size).toBe(14);
    expect(days).toContain("2026-10-25");
    expect(days[0]).toBe("2026-10-17");
  });

  it("leaves out backups older than the strip, in the future, or of unknown time", () => {
    const strip = stripDays(
      [
        file("2026-11-08T23:59:00Z", OK),
        file("2026-11-23T00:10:00Z", OK),
        file(null, null, "casebook-broken.tar"),
        file("2026-11-09T00:00:00Z", OK),
      ],
      now,
    );
    expect(strip.flatMap((d) => d.backups)).toHaveLength(1);
    expect(strip[0].backups).toHaveLength(1);
  });

  it("sums the strip up in one sentence", () => {
    const all = (files: BackupFile[]) => stripSummary(stripDays(files, now));
    expect(all([])).toBe("No backups in the last 14 days.");
    expect(all([file("2026-11-22T06:00:00Z", OK)])).toBe("1 backup in the last 14 days, verified.");
    expect(
      all(Array.from({ length: 12 }, (_, i) => file(new Date(Date.UTC(2026, 10, 11 + i, 9)).toISOString(), OK))),
    ).toBe("12 backups in the last 14 days, all verified.");
    expect(all([file("2026-11-22T06:00:00Z"), file("2026-11-21T06:00:00Z")])).toBe(
      "2 backups in the last 14 days, none verified yet.",
    );
    expect(
      all([
        file("2026-11-22T06:00:00Z", OK),
        file("2026-11-22T14:00:00Z"),
        file("2026-11-21T06:00:00Z", FAILED),
        file("2026-11-20T06:00:00Z", OK),
      ]),
    ).toBe("4 backups in the last 14 days: 2 verified, 1 not yet verified, 1 damaged or failed its check.");
    expect(all([file("2026-11-21T06:00:00Z", FAILED)])).toBe(
      "1 backup in the last 14 days, damaged or failed its check.",
    );
  });

  it("describes a single day for its tooltip", () => {
    const strip = stripDays([file("2026-11-22T06:00:00Z", OK), file("2026-11-22T14:00:00Z", OK)], now);
    expect(daySummary(strip[13])).toBe("22 Nov: 2 backups, all verified");
    expect(daySummary(strip[0])).toBe("9 Nov: no backup");
  });
});

describe("sentences", () => {
  it("says how often backups run", () => {
    expect(scheduleWords(8)).toBe("three times a day");
    expect(scheduleWords(24)).toBe("once a day");
    expect(scheduleWords(12)).toBe("twice a day");
    expect(scheduleWords(6)).toBe("four times a day");
    expect(scheduleWords(4)).toBe("6 times a day");
    expect(scheduleWords(1)).toBe("every hour");
    expect(scheduleWords(5)).toBe("every 5 hours");
    expect(scheduleWords(48)).toBe("every 48 hours");
    expect(scheduleWords(168)).toBe("once a week");
  });

  it("says when the next backup is due", () => {
    const now = new Date("2026-11-22T15:00:00Z");
    expect(nextDueWords("2026-11-22T22:02:00Z", now)).toBe("22/11/2026 22:02");
    expect(nextDueWords("2026-11-22T14:00:00Z", now)).toBe("now");
    expect(nextDueWords(null, now)).toBe("now");
  });
});

describe("paths", () => {
  it("knows a full path", () => {
    expect(isAbsolutePath("/media/usb/backups")).toBe(true);
    expect(isAbsolutePath("D:\\Casebook")).toBe(true);
    expect(isAbsolutePath("~/backups")).toBe(false); // the core does not expand ~
    expect(isAbsolutePath("\\\\server\\share")).toBe(true);
    expect(isAbsolutePath("backups")).toBe(false);
    expect(isAbsolutePath("")).toBe(false);
  });

  it("joins with the folder's own separator", () => {
    expect(joinPath("/home/sam/casebook-backups", "restored-2026-11-22")).toBe("/home/sam/casebook-backups/restored-2026-11-22");
    expect(joinPath("/home/sam/casebook-backups/", "r")).toBe("/home/sam/casebook-backups/r");
    expect(joinPath("D:\\Backups\\", "r")).toBe("D:\\Backups\\r");
    expect(joinPath("/", "r")).toBe("/r");
  });

  it("proposes the default folders", () => {
    expect(defaultDestination("/home/sam/.local/share/casebook/")).toBe("/home/sam/.local/share/casebook-backups");
    expect(defaultRestoreFolder("/media/usb/cb", new Date(2026, 10, 22, 0, 30))).toBe("/media/usb/cb/restored-2026-11-22");
  });
});

describe("the backup settings form", () => {
  const good: BackupSettingsForm = {
    destination: "",
    every_hours: "8",
    all_hours: "48",
    daily_days: "30",
    weekly_weeks: "12",
    monthly_months: "12",
  };

  it("turns a good form into settings; an empty folder means the default", () => {
    expect(validateBackupSettings(good)).toEqual({
      value: { destination: null, everyHours: 8, keep: { all_hours: 48, daily_days: 30, weekly_weeks: 12, monthly_months: 12 } },
      errors: {},
    });
    const r = validateBackupSettings({ ...good, destination: "  /media/usb/cb  ", weekly_weeks: "0" });
    expect(r.value?.destination).toBe("/media/usb/cb");
    expect(r.value?.keep.weekly_weeks).toBe(0);
  });

  it("keeps the interval between 1 and 168 hours", () => {
    expect(validateBackupSettings({ ...good, every_hours: "0" }).errors.every_hours).toMatch(/1 to 168 hours/);
    expect(validateBackupSettings({ ...good, every_hours: "169" }).errors.every_hours).toMatch(/1 to 168 hours/);
    expect(validateBackupSettings({ ...good, every_hours: "" }).errors.every_hours).toBe(
      "Enter how many hours apart backups should be.",
    );
    expect(validateBackupSettings({ ...good, every_hours: "1.5" }).errors.every_hours).toBe("Use a whole number of hours.");
    expect(validateBackupSettings({ ...good, every_hours: "168" }).value?.everyHours).toBe(168);
  });

  it("says what is wrong with each keep figure", () => {
    const r = validateBackupSettings({ ...good, all_hours: "", daily_days: "-1", weekly_weeks: "many", monthly_months: "241" });
    expect(r.value).toBeNull();
    expect(r.errors.all_hours).toBe("Enter a number (0 turns this rule off).");
    expect(r.errors.daily_days).toBe("Use a whole number of days.");
    expect(r.errors.weekly_weeks).toBe("Use a whole number of weeks.");
    expect(r.errors.monthly_months).toBe("Keep one a month for 0 to 240 months.");
    expect(r.errors.every_hours).toBeUndefined();
  });

  it("asks for a full path for the folder", () => {
    expect(validateBackupSettings({ ...good, destination: "backups" }).errors.destination).toMatch(/full path/);
  });

  it("fills the form from the backend, leaving the default folder empty", () => {
    const overview = (destination: string): BackupOverview => ({
      destination,
      every_hours: 6,
      keep: { all_hours: 24, daily_days: 7, weekly_weeks: 4, monthly_months: 6 },
      health: { state: "never", message: "", last_success: null, failed_at: null, error: null },
      next_due: null,
      files: [],
    });
    expect(backupSettingsToForm(overview("/v/casebook-backups"), "/v/casebook")).toEqual({
      destination: "",
      every_hours: "6",
      all_hours: "24",
      daily_days: "7",
      weekly_weeks: "4",
      monthly_months: "6",
    });
    expect(backupSettingsToForm(overview("/media/usb/cb"), "/v/casebook").destination).toBe("/media/usb/cb");
    expect(backupSettingsToForm(null, null)).toEqual(good);
  });
});
