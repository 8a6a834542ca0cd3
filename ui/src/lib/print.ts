// "Print or save as PDF": one note, or a client's notes over a date range, as a plain
// document (PrintDocument.svelte) printed with window.print(). The desktop's print dialog
// offers "Save as PDF". The document is put in #print-root only while printing; app.css's
// print rules then show it alone, without the app's menu, clock strip or buttons.

import { mount, unmount } from "svelte";
import type { Appointment, SessionNote, Templates } from "./api";
import { formatDate, formatDateTime, formatTimeRange, isoDay, toDate } from "./format";
import { formatNhsNumber } from "./nhs";
import { fieldLabel, TEMPLATE_LABELS } from "./notes";
import PrintDocument from "../components/PrintDocument.svelte";

export interface PrintableNote {
  id: string;
  /** "SOAP note · 02/03/2026" */
  heading: string;
  /** "Finalised 02/03/2026 10:50", "Session 02/03/2026, 10:00–10:50"… */
  meta: string[];
  draft: boolean;
  fields: { label: string; text: string }[];
  addenda: { when: string; text: string }[];
}

export interface PrintableDoc {
  practiceName: string;
  /** The therapist's name as registered, or "". */
  therapistName: string;
  /** "BACP 123456", or "". */
  registration: string;
  title: string;
  clientName: string;
  clientCode: string;
  /** "943 476 5919", or "" when the client has none. */
  nhsNumber: string;
  /** "Notes from 01/03/2026 to 31/03/2026", or null for one note. */
  period: string | null;
  /** "Printed 22/11/2026 14:03" */
  printed: string;
  notes: PrintableNote[];
}

/** The local day ("YYYY-MM-DD") a note belongs to: the day it was written. */
export const noteDay = (n: SessionNote): string => isoDay(toDate(n.created_at));

/** The notes written from `from` to `to` (local days, both included), oldest first. */
export function notesInRange(notes: SessionNote[], from: string | null, to: string | null): SessionNote[] {
  return notes
    .filter((n) => {
      const d = noteDay(n);
      return (!from || d >= from) && (!to || d <= to);
    })
    .sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** One note as printed: its template's fields in order (empty ones left out), then addenda. */
export function printableNote(
  n: SessionNote,
  templates: Templates | null,
  appointments: Appointment[],
): PrintableNote {
  const order = templates?.[n.template] ?? Object.keys(n.fields);
  const keys = [...order.filter((k) => k in n.fields), ...Object.keys(n.fields).filter((k) => !order.includes(k))];
  const meta: string[] = [];
  if (n.status === "final") meta.push(n.finalised_at ? `Finalised ${formatDateTime(n.finalised_at)}` : "Finalised");
  else meta.push(`Draft, not finalised — last saved ${formatDateTime(n.updated_at)}`);
  const a = n.appointment_id ? appointments.find((x) => x.id === n.appointment_id) : null;
  if (a) meta.push(`Session ${formatDate(a.starts_at)}, ${formatTimeRange(a.starts_at, a.ends_at)}`);
  return {
    id: n.id,
    heading: `${TEMPLATE_LABELS[n.template]} note · ${formatDate(n.created_at)}`,
    meta,
    draft: n.status === "draft",
    fields: keys
      .map((k) => ({ label: fieldLabel(k), text: n.fields[k] ?? "" }))
      .filter((f) => f.text.trim() !== ""),
    addenda: [...n.addenda]
      .sort((x, y) => x.created_at.localeCompare(y.created_at))
      .map((ad) => ({ when: formatDateTime(ad.created_at), text: ad.text })),
  };
}

export interface NotesDocInput {
  practiceName: string;
  therapistName?: string;
  registration: string;
  clientName: string;
  clientCode: string;
  /** The client's NHS number as kept (ten digits), if any. */
  nhsNumber?: string | null;
  notes: SessionNote[];
  appointments: Appointment[];
  templates: Templates | null;
  /** The range asked for; null for a single note. */
  range: { from: string | null; to: string | null } | null;
  now?: Date;
}

/** The printable document for the notes given (already chosen: one, or a range). */
export function notesDocument(input: NotesDocInput): PrintableDoc {
  const single = input.range === null;
  let period: string | null = null;
  if (input.range) {
    const { from, to } = input.range;
    period =
      from && to
        ? `Notes from ${formatDate(from)} to ${formatDate(to)}`
        : from
          ? `Notes from ${formatDate(from)}`
          : to
            ? `Notes up to ${formatDate(to)}`
            : "All notes";
  }
  return {
    practiceName: input.practiceName.trim(),
    therapistName: (input.therapistName ?? "").trim(),
    registration: input.registration.trim(),
    title: single ? "Session note" : "Session notes",
    clientName: input.clientName,
    clientCode: input.clientCode,
    nhsNumber: formatNhsNumber(input.nhsNumber),
    period,
    printed: `Printed ${formatDateTime(input.now ?? new Date())}`,
    notes: [...input.notes]
      .sort((a, b) => a.created_at.localeCompare(b.created_at))
      .map((n) => printableNote(n, input.templates, input.appointments)),
  };
}

let current: { root: HTMLElement; component: ReturnType<typeof mount>; stop: () => void } | null = null;

/** Takes the printed document out of the page (after printing; also before the next one). */
export function clearPrint(): void {
  if (!current) return;
  const c = current;
  current = null;
  c.stop();
  unmount(c.component);
  c.root.remove();
  document.documentElement.classList.remove("printing");
}

/**
 * Puts `doc` in the page, marked for printing, and opens the print dialog. The document is
 * taken out again once printing is over (the afterprint event).
 */
export function printDocument(doc: PrintableDoc, print: () => void = () => window.print()): void {
  clearPrint();
  const root = document.createElement("div");
  root.id = "print-root";
  document.body.appendChild(root);
  const component = mount(PrintDocument, { target: root, props: { doc } });
  const after = () => clearPrint();
  window.addEventListener("afterprint", after);
  current = { root, component, stop: () => window.removeEventListener("afterprint", after) };
  document.documentElement.classList.add("printing");
  print();
}
