// The settings form: what the person types, checked and turned into `Settings`.

import type { Settings } from "./api";

/** The longest session the core accepts (an ad-hoc session, or the default length). */
export const MAX_SESSION_MINUTES = 240;

export const DEFAULT_SETTINGS: Settings = {
  auto_lock_minutes: 10,
  warning_minutes: [10, 5],
  buffer_minutes: 10,
  default_session_minutes: 50,
  next_session_notice_minutes: 5,
  session_notifications: true,
};

/** The form's fields, as typed. */
export interface SettingsForm {
  auto_lock_minutes: string;
  warning_minutes: string;
  buffer_minutes: string;
  default_session_minutes: string;
  next_session_notice_minutes: string;
}

export type SettingsErrors = Partial<Record<keyof SettingsForm, string>>;

export function settingsToForm(s: Settings): SettingsForm {
  return {
    auto_lock_minutes: String(s.auto_lock_minutes),
    warning_minutes: s.warning_minutes.join(", "),
    buffer_minutes: String(s.buffer_minutes),
    default_session_minutes: String(s.default_session_minutes),
    next_session_notice_minutes: String(s.next_session_notice_minutes),
  };
}

/** A whole number of minutes in [min, max], or a message saying what is wrong. */
export function parseMinutes(
  raw: string | number | null | undefined,
  what: string,
  min: number,
  max: number,
): number | string {
  // A number input bound in Svelte gives a number, or null/undefined when left empty.
  const s = raw === null || raw === undefined || (typeof raw === "number" && Number.isNaN(raw)) ? "" : String(raw).trim();
  if (s === "") return `Enter ${what}.`;
  if (!/^\d+$/.test(s)) return `${capitalise(what)} must be a whole number of minutes.`;
  const n = Number(s);
  if (n < min || n > max) return `${capitalise(what)} must be between ${min} and ${max} minutes.`;
  return n;
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Checks the form; `cues` (whether session warnings also pop up) is carried through as it is. */
export function validateSettings(
  form: SettingsForm,
  cues = true,
): { settings: Settings | null; errors: SettingsErrors } {
  const errors: SettingsErrors = {};
  const num = (key: keyof SettingsForm, what: string, min: number, max: number): number => {
    const r = parseMinutes(form[key], what, min, max);
    if (typeof r === "string") {
      errors[key] = r;
      return 0;
    }
    return r;
  };

  const auto_lock_minutes = num("auto_lock_minutes", "the auto-lock time", 1, 240);
  const buffer_minutes = num("buffer_minutes", "the buffer", 0, 240);
  const default_session_minutes = num("default_session_minutes", "the session length", 5, MAX_SESSION_MINUTES);
  const next_session_notice_minutes = num("next_session_notice_minutes", "the next-session notice", 0, 240);

  let warning_minutes: number[] = [];
  const rawWarnings = form.warning_minutes.trim();
  if (rawWarnings !== "") {
    const pieces = rawWarnings.split(/[,\s]+/).filter((p) => p !== "");
    for (const p of pieces) {
      const r = parseMinutes(p, "each warning", 1, 480);
      if (typeof r === "string") {
        errors.warning_minutes = `"${p}" is not a number of minutes: use whole numbers separated by commas, e.g. 10, 5.`;
        break;
      }
      warning_minutes.push(r);
    }
    if (!errors.warning_minutes) {
      warning_minutes = [...new Set(warning_minutes)].sort((a, b) => b - a);
      if (!errors.default_session_minutes && warning_minutes.some((w) => w >= default_session_minutes))
        errors.warning_minutes = "Each warning must come before the end of a session (less than the session length).";
    }
  }

  if (Object.keys(errors).length > 0) return { settings: null, errors };
  return {
    // The cue setting has its own control (Settings → In-session cues): kept as it is.
    settings: {
      auto_lock_minutes,
      warning_minutes,
      buffer_minutes,
      default_session_minutes,
      next_session_notice_minutes,
      session_notifications: cues,
    },
    errors,
  };
}
