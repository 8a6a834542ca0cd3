import { describe, expect, it } from "vitest";
import {
  DEFAULT_SETTINGS,
  MAX_SESSION_MINUTES,
  parseMinutes,
  settingsToForm,
  validateSettings,
  type SettingsForm,
} from "./settings";

const good: SettingsForm = {
  auto_lock_minutes: "10",
  warning_minutes: "10, 5",
  buffer_minutes: "15",
  default_session_minutes: "50",
  next_session_notice_minutes: "5",
};

describe("validateSettings", () => {
  it("turns a good form into settings", () => {
    const r = validateSettings(good);
    expect(r.errors).toEqual({});
    expect(r.settings).toEqual({
      auto_lock_minutes: 10,
      warning_minutes: [10, 5],
      buffer_minutes: 15,
      default_session_minutes: 50,
      next_session_notice_minutes: 5,
      session_notifications: true,
    });
  });

  it("round-trips the defaults through the form", () => {
    expect(settingsToForm(DEFAULT_SETTINGS).warning_minutes).toBe("10, 5");
    expect(validateSettings(settingsToForm(DEFAULT_SETTINGS)).settings).toEqual(DEFAULT_SETTINGS);
  });

  it("reads warnings in any order and spacing, largest first, without repeats", () => {
    const r = validateSettings({ ...good, warning_minutes: "5,10  ,5 2" });
    expect(r.settings?.warning_minutes).toEqual([10, 5, 2]);
    expect(validateSettings({ ...good, warning_minutes: "" }).settings?.warning_minutes).toEqual([]);
  });

  it("rejects missing, non-numeric, fractional and negative numbers with clear messages", () => {
    const r = validateSettings({
      ...good,
      auto_lock_minutes: "",
      buffer_minutes: "ten",
      default_session_minutes: "50.5",
      next_session_notice_minutes: "-5",
    });
    expect(r.settings).toBeNull();
    expect(r.errors.auto_lock_minutes).toBe("Enter the auto-lock time.");
    expect(r.errors.buffer_minutes).toBe("The buffer must be a whole number of minutes.");
    expect(r.errors.default_session_minutes).toBe("The session length must be a whole number of minutes.");
    expect(r.errors.next_session_notice_minutes).toMatch(/whole number/);
    expect(r.errors.warning_minutes).toBeUndefined();
  });

  it("keeps numbers in range", () => {
    expect(validateSettings({ ...good, auto_lock_minutes: "0" }).errors.auto_lock_minutes).toBe(
      "The auto-lock time must be between 1 and 240 minutes.",
    );
    expect(validateSettings({ ...good, default_session_minutes: "1000" }).errors.default_session_minutes).toMatch(
      /between 5 and 240/,
    );
    // The core refuses a session over 240 minutes: so does the form, with words.
    expect(validateSettings({ ...good, default_session_minutes: "241" }).errors.default_session_minutes).toMatch(
      /between 5 and 240/,
    );
    expect(parseMinutes(241, "the session length", 1, MAX_SESSION_MINUTES)).toMatch(/between 1 and 240/);
    expect(validateSettings({ ...good, buffer_minutes: "0" }).errors.buffer_minutes).toBeUndefined();
  });

  it("names the bad piece of a warning list", () => {
    const r = validateSettings({ ...good, warning_minutes: "10, five" });
    expect(r.settings).toBeNull();
    expect(r.errors.warning_minutes).toContain('"five"');
    expect(validateSettings({ ...good, warning_minutes: "10, 0" }).errors.warning_minutes).toContain('"0"');
  });

  it("refuses a warning at or after the end of the session", () => {
    const r = validateSettings({ ...good, default_session_minutes: "30", warning_minutes: "30, 5" });
    expect(r.settings).toBeNull();
    expect(r.errors.warning_minutes).toMatch(/before the end/);
  });
});

describe("parseMinutes", () => {
  it("accepts numbers from a number input and rejects an empty one", () => {
    expect(parseMinutes(50, "the length", 1, 480)).toBe(50);
    expect(parseMinutes(" 7 ", "the length", 1, 480)).toBe(7);
    expect(parseMinutes(null, "the length", 1, 480)).toBe("Enter the length.");
    expect(parseMinutes(undefined, "the length", 1, 480)).toBe("Enter the length.");
    expect(parseMinutes(Number.NaN, "the length", 1, 480)).toBe("Enter the length.");
    expect(parseMinutes(0, "the length", 1, 480)).toMatch(/between 1 and 480/);
  });
});
