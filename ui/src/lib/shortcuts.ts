// The keyboard shortcuts: the menu's screens in the order Ctrl+1…8 follow, which key asks for
// what in the main app, and the list the "?" dialog shows. Ctrl is ⌘ on a Mac throughout.
// (The text size keys are handled on every screen by App.svelte; Ctrl+Enter by the note
// editor; Ctrl+Shift+E by the clock strip.)

import type { NavName } from "./app.svelte";

export const NAV: { name: NavName; label: string }[] = [
  { name: "today", label: "Today" },
  { name: "week", label: "Week" },
  { name: "clients", label: "Clients" },
  { name: "search", label: "Search" },
  { name: "audit", label: "Audit log" },
  { name: "retention", label: "Retention review" },
  { name: "backups", label: "Backups" },
  { name: "settings", label: "Settings" },
];

export type Shortcut =
  | { kind: "nav"; name: NavName }
  | { kind: "new-note" }
  | { kind: "lock" }
  | { kind: "help" }
  | { kind: "go-to-client" };

type Key = Pick<KeyboardEvent, "key" | "code" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">;

/** Whether typing in `el` would put characters in it (so "?" there is just a question mark). */
export function isTextEntry(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return true;
  if (!(el instanceof HTMLInputElement)) return false;
  return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"].includes(el.type);
}

/** What a key pressed in the main app asks for; null if it is not one of ours. */
export function mainShortcut(e: Key, target: EventTarget | null): Shortcut | null {
  const ctrl = (e.ctrlKey || e.metaKey) && !e.altKey;
  if (ctrl && !e.shiftKey) {
    const k = e.key.toLowerCase();
    if (k === "l") return { kind: "lock" };
    if (k === "n") return { kind: "new-note" };
    if (k === "k") return { kind: "go-to-client" };
    // By the key's place too, for layouts where the digits need Shift (AZERTY).
    const digit = /^[1-8]$/.test(e.key) ? e.key : /^Digit([1-8])$/.exec(e.code ?? "")?.[1];
    if (digit) return { kind: "nav", name: NAV[Number(digit) - 1].name };
    return null;
  }
  if (e.key === "?" && !e.ctrlKey && !e.metaKey && !e.altKey && !isTextEntry(target)) return { kind: "help" };
  return null;
}

/** The "?" dialog's list: every shortcut Casebook has. */
export const SHORTCUT_LIST: { keys: string[][]; what: string }[] = [
  ...NAV.map((n, i) => ({ keys: [["Ctrl", String(i + 1)]], what: `Go to ${n.label}` })),
  { keys: [["Ctrl", "K"]], what: "Go to a client (type part of the name or code)" },
  { keys: [["Ctrl", "N"]], what: "New note (in a client's file, or for the client in session)" },
  { keys: [["Ctrl", "Enter"]], what: "Finalise the note being written (asks first)" },
  { keys: [["Ctrl", "Shift", "E"]], what: "End the running session (with 10 seconds to undo)" },
  { keys: [["Ctrl", "L"]], what: "Lock Casebook" },
  { keys: [["Ctrl", "+"]], what: "Larger text" },
  { keys: [["Ctrl", "−"]], what: "Smaller text" },
  { keys: [["Ctrl", "0"]], what: "Text back to 100 %" },
  { keys: [["←"], ["→"], ["Home"], ["End"]], what: "Move between a client file's tabs" },
  { keys: [["←"], ["→"], ["↑"], ["↓"]], what: "Move between sessions in the week" },
  { keys: [["Page Up"], ["Page Down"]], what: "The week before or after (Home: this week)" },
  { keys: [["Esc"]], what: "Close a dialog without doing anything" },
  { keys: [["?"]], what: "Show this list (when not typing in a field)" },
];
