// Choices kept on this computer in localStorage, like the text size (lib/comfort.svelte.ts):
// the core's settings have no field for them yet. Nothing clinical: the default note
// template, whether the "Getting started" card was dismissed, and the day a restore was
// tested here. Another window of the app follows a change made here (the storage event).
// (The practice's name and registration were kept here too; they are in the vault now, and
// lib/practice.svelte.ts moves any left here into it.)

import type { NoteTemplate } from "./api";
import { TEMPLATE_ORDER } from "./notes";

/** The localStorage keys (the Rust side reads none of them). */
export const KEYS = {
  noteTemplate: "casebook.default-note-template",
  gettingStartedDismissed: "casebook.getting-started-dismissed",
  restoreTestedOn: "casebook.restore-tested-on",
} as const;


export function readTemplate(raw: string | null): NoteTemplate | null {
  return TEMPLATE_ORDER.includes(raw as NoteTemplate) ? (raw as NoteTemplate) : null;
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
