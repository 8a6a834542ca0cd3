// Choices kept on this computer in localStorage, like the text size (lib/comfort.svelte.ts):
// the core's settings have no field for them yet. Nothing clinical: the practice's own name
// and registration (printed on notes), the default note template, and
// whether the "Getting started" card was dismissed. Another window of the app follows a
// change made here (the storage event).

import type { NoteTemplate } from "./api";

/** The bodies a UK therapist is usually registered or accredited with. */
export const REGISTRATION_BODIES = ["BACP", "UKCP", "NCPS", "HCPC"] as const;
export type RegistrationBody = (typeof REGISTRATION_BODIES)[number];

/** The localStorage keys (the Rust side reads none of them; see docs in the report). */
export const KEYS = {
  practiceName: "casebook.practice-name",
  registrationBody: "casebook.registration-body",
  registrationNumber: "casebook.registration-number",
  noteTemplate: "casebook.default-note-template",
  gettingStartedDismissed: "casebook.getting-started-dismissed",
  restoreTestedOn: "casebook.restore-tested-on",
} as const;

const TEMPLATES: NoteTemplate[] = ["soap", "dap", "birp", "free"];

export function readBody(raw: string | null): RegistrationBody | "" {
  return (REGISTRATION_BODIES as readonly string[]).includes(raw ?? "") ? (raw as RegistrationBody) : "";
}

export function readTemplate(raw: string | null): NoteTemplate | null {
  return TEMPLATES.includes(raw as NoteTemplate) ? (raw as NoteTemplate) : null;
}

/** A short line of text: trimmed, at most 120 characters. */
export function readLine(raw: string | null): string {
  return (raw ?? "").trim().slice(0, 120);
}

/** "BACP registered member 123456", "HCPC PYL01234", "" when there is nothing to say. */
export function registrationLine(body: string, number: string): string {
  const n = number.trim();
  if (!body && !n) return "";
  if (!body) return `Registration ${n}`;
  return n ? `${body} ${n}` : body;
}

const storage = (): Storage | null => {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
};

function store(key: string, value: string | null) {
  try {
    if (value === null || value === "") storage()?.removeItem(key);
    else storage()?.setItem(key, value);
  } catch {
    /* not kept, but still applied for this session */
  }
}

class LocalPrefs {
  practiceName = $state("");
  registrationBody = $state<RegistrationBody | "">("");
  registrationNumber = $state("");
  /** The template a new note starts with; null: never chosen (SOAP then). */
  noteTemplate = $state<NoteTemplate | null>(null);
  gettingStartedDismissed = $state(false);
  /** The day ("YYYY-MM-DD") a backup was last restored here as a test, or "". */
  restoreTestedOn = $state("");

  constructor() {
    this.load();
  }

  /** Reads every choice again from localStorage. */
  load(): void {
    const s = storage();
    const get = (k: string) => {
      try {
        return s?.getItem(k) ?? null;
      } catch {
        return null;
      }
    };
    this.practiceName = readLine(get(KEYS.practiceName));
    this.registrationBody = readBody(get(KEYS.registrationBody));
    this.registrationNumber = readLine(get(KEYS.registrationNumber));
    this.noteTemplate = readTemplate(get(KEYS.noteTemplate));
    this.gettingStartedDismissed = get(KEYS.gettingStartedDismissed) === "1";
    const tested = get(KEYS.restoreTestedOn) ?? "";
    this.restoreTestedOn = /^\d{4}-\d{2}-\d{2}$/.test(tested) ? tested : "";
  }

  /** Follows changes made in the other window; returns the stop function. */
  follow(target: Pick<Window, "addEventListener" | "removeEventListener"> = window): () => void {
    const onStorage = (e: StorageEvent) => {
      if (e.key === null || (Object.values(KEYS) as string[]).includes(e.key)) this.load();
    };
    target.addEventListener("storage", onStorage as EventListener);
    return () => target.removeEventListener("storage", onStorage as EventListener);
  }

  get registration(): string {
    return registrationLine(this.registrationBody, this.registrationNumber);
  }

  setPractice(name: string, body: RegistrationBody | "", number: string): void {
    this.practiceName = readLine(name);
    this.registrationBody = readBody(body);
    this.registrationNumber = readLine(number);
    store(KEYS.practiceName, this.practiceName);
    store(KEYS.registrationBody, this.registrationBody);
    store(KEYS.registrationNumber, this.registrationNumber);
  }

  setNoteTemplate(t: NoteTemplate): void {
    this.noteTemplate = t;
    store(KEYS.noteTemplate, t);
  }

  /** A backup was restored (into a new folder) from this computer: the restore is tested. */
  markRestoreTested(day: string): void {
    this.restoreTestedOn = day;
    store(KEYS.restoreTestedOn, day);
  }

  setGettingStartedDismissed(v: boolean): void {
    this.gettingStartedDismissed = v;
    store(KEYS.gettingStartedDismissed, v ? "1" : null);
  }
}

export const prefs = new LocalPrefs();
