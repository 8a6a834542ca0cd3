// What the sync strip says, and how computers and conflicts read (the alarms' plain words
// come from the engine). Pure: the state that feeds them is `sync.svelte.ts`.

import type { SyncConflict, SyncDevice, SyncOverview, SyncRan } from "./api";
import { formatDate, formatDateTime, formatTime } from "./format";

export type StripKind = "off" | "ok" | "sending" | "offline" | "paused" | "attention" | "catching-up";

export interface StripState {
  kind: StripKind;
  /** The strip's words ("Up to date · 14:02"). */
  text: string;
  /** A sentence more, for the tooltip and screen readers. */
  detail: string;
}

/** The strip's state from what the core says (`o`) and the last background run (`last`). */
export function syncStrip(o: SyncOverview | null, last: SyncRan | null): StripState {
  if (!o || !o.connected || !o.enabled) return { kind: "off", text: "", detail: "" };
  if (last?.revoked) {
    return {
      kind: "paused",
      text: "Paused",
      detail: "This computer was removed from the practice's computers: it no longer syncs. The records here stay readable.",
    };
  }
  const alarm = o.alarm ? (o.alarm_words ?? o.alarm) : last?.alarm ? (last.alarm_words ?? last.alarm) : null;
  if (alarm) return { kind: "attention", text: "Needs attention", detail: alarm };
  if (last?.offline) {
    const n = o.pending_changes;
    return {
      kind: "offline",
      text: "Offline — changes are kept here",
      detail: `The server cannot be reached.${n > 0 ? ` ${changes(n)} will be sent when it can.` : ""}`,
    };
  }
  if (last?.error) return { kind: "paused", text: "Paused", detail: last.error };
  if (o.catching_up) {
    const p = catchUpWords(last);
    return {
      kind: "catching-up",
      text: "Catching up · read-only",
      detail: `Fetching your other computers’ changes${p ? ` (${p})` : ""}. The records can be read now; they open for editing when this computer has caught up.`,
    };
  }
  if (o.pending_changes > 0) {
    return { kind: "sending", text: `Sending ${changes(o.pending_changes)}`, detail: "Changes made here are on their way to the server." };
  }
  const at = o.last_sync ? new Date(o.last_sync * 1000) : null;
  return {
    kind: "ok",
    text: at ? `Up to date · ${formatTime(at)}` : "Up to date",
    detail: at ? `Last synced ${formatDateTime(at)}.` : "Nothing to send.",
  };
}

/** A join's catch-up so far ("40 of 120 change batches"), from the last run; "" before one. */
export function catchUpWords(last: SyncRan | null): string {
  const c = last?.catching_up;
  if (!c || c.total <= 0) return "";
  return `${c.done} of ${c.total} change batch${c.total === 1 ? "" : "es"}`;
}

function changes(n: number): string {
  return n === 1 ? "1 change" : `${n} changes`;
}

/** "2 h ago", "yesterday", or a date: when a computer was last heard from. */
export function heardWords(d: SyncDevice, now: number = Date.now()): string {
  if (d.last_heard === null) return "not yet";
  const secs = Math.max(0, Math.round(now / 1000 - d.last_heard));
  if (secs < 90) return "just now";
  if (secs < 3600) return `${Math.round(secs / 60)} min ago`;
  if (secs < 36 * 3600) return `${Math.round(secs / 3600)} h ago`;
  return formatDate(new Date(d.last_heard * 1000));
}

/** A computer's state in Settings → Computers; `warn` when the therapist should look. */
export function deviceState(d: SyncDevice): { text: string; warn: boolean } {
  if (d.revoked) {
    const when = d.revoked_at ? ` ${formatDate(d.revoked_at)}` : "";
    const gone = d.log_removed ? " · what it sent is gone from the server" : "";
    return { text: `Removed${when}${gone}`, warn: false };
  }
  if (d.stale) {
    return { text: "Nothing new for 3 days: switched off, or the server is holding its changes back", warn: true };
  }
  return { text: "Syncing", warn: false };
}

/** A conflict's field in words ("Email", "Draft note"). */
export function conflictTitle(c: SyncConflict): string {
  if (c.kind === "draft") return "Draft note";
  if (c.kind === "edit_after_final") return "Note finalised on one computer, edited on the other";
  if (c.kind === "both_finalised") return "Note finalised on both computers";
  if (c.kind === "edit_after_delete") return "Changed here, deleted on the other computer";
  if (c.kind === "erased") return "Changed on another computer after the client was erased here";
  return humanise(c.field);
}

/** A conflict's value (JSON text) as a person reads it. */
export function conflictValue(json: string | null): string {
  if (json === null) return "(nothing)";
  try {
    let v: unknown = JSON.parse(json);
    // A note's body is kept as JSON text: one more layer.
    if (typeof v === "string" && v.startsWith("{")) {
      try {
        v = JSON.parse(v);
      } catch {
        /* text that starts with a brace */
      }
    }
    if (v === null || v === "") return "(empty)";
    if (typeof v === "string") return v;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      // A note's fields: its one text, or each field under its name ("Subjective: …").
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => typeof x === "string" && x !== "");
      if (entries.length === 1 && entries[0][0] === "text") return entries[0][1] as string;
      if (entries.length > 0) return entries.map(([k, x]) => `${humanise(k)}: ${x as string}`).join("\n");
    }
    return JSON.stringify(v);
  } catch {
    return json;
  }
}

function humanise(key: string): string {
  const words = key.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Whether the other computer's value can be taken (a field or a draft); other kinds are only acknowledged. */
export function canTakeOther(c: SyncConflict): boolean {
  return c.kind === "field" || c.kind === "draft";
}
