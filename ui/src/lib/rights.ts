// The pure logic behind the data-protection screens: correcting identity details (what
// changed, how the history reads), retention (badges, the policy form), subject-access
// requests (due and overdue, the items a passage can be withheld from) and erasure (the
// reason may not name the client). No Svelte here, so it is tested on its own.

import type {
  AccessRequest,
  ClientFile,
  ClientIdentity,
  IdentityChanges,
  RetentionItem,
  RetentionPolicies,
  RetentionPolicy,
} from "./api";
import { formatDate, formatDateTime, isoDay } from "./format";
import { formatNhsNumber, nhsDigits } from "./nhs";

// ---------- Identity: corrections and their history ----------

/** The edit form's fields, as typed (dates as "YYYY-MM-DD" or ""). */
export interface IdentityForm {
  full_name: string;
  date_of_birth: string;
  email: string;
  phone: string;
  emergency_contact: string;
  gp: string;
  /** As typed; shown at first in groups ("943 476 5919"). */
  nhs_number: string;
  aliases: string[];
}

export function identityToForm(identity: ClientIdentity | null): IdentityForm {
  return {
    full_name: identity?.full_name ?? "",
    date_of_birth: identity?.date_of_birth ?? "",
    email: identity?.email ?? "",
    phone: identity?.phone ?? "",
    emergency_contact: identity?.emergency_contact ?? "",
    gp: identity?.gp ?? "",
    nhs_number: formatNhsNumber(identity?.nhs_number),
    aliases: [...(identity?.aliases ?? [])],
  };
}

const opt = (s: string) => (s.trim() === "" ? null : s.trim());

/** The aliases as they will be kept: trimmed, empty ones dropped, each once. */
export function tidyAliases(list: string[]): string[] {
  const out: string[] = [];
  for (const a of list.map((s) => s.trim())) if (a && !out.includes(a)) out.push(a);
  return out;
}

/** Only the fields the form changes (an emptied optional field becomes null: cleared). */
export function identityChanges(current: ClientIdentity | null, form: IdentityForm): IdentityChanges {
  const c: IdentityChanges = {};
  const name = form.full_name.trim();
  if (name !== (current?.full_name ?? "")) c.full_name = name;
  const dob = opt(form.date_of_birth);
  if (dob !== (current?.date_of_birth ?? null)) c.date_of_birth = dob;
  for (const k of ["email", "phone", "emergency_contact", "gp"] as const) {
    const v = opt(form[k]);
    if (v !== (current?.[k] ?? null)) c[k] = v;
  }
  // The same number typed with other spaces is no change; a changed one is sent as typed (the
  // core keeps its digits).
  const nhs = opt(form.nhs_number);
  const nhsBefore = current?.nhs_number ?? null;
  if ((nhs === null ? null : nhsDigits(nhs)) !== (nhsBefore === null ? null : nhsDigits(nhsBefore))) c.nhs_number = nhs;
  const aliases = tidyAliases(form.aliases);
  const before = current?.aliases ?? [];
  if (aliases.length !== before.length || aliases.some((a, i) => a !== before[i])) c.aliases = aliases;
  return c;
}

const FIELD_LABELS: Record<string, string> = {
  full_name: "Name",
  date_of_birth: "Date of birth",
  email: "Email",
  phone: "Phone",
  emergency_contact: "Emergency contact",
  gp: "GP",
  nhs_number: "NHS number",
  aliases: "Also known as",
};

export function fieldLabel(field: string): string {
  return FIELD_LABELS[field] ?? field.replace(/_/g, " ");
}

/** A history value as a person reads it: UK dates, aliases as a list, "—" for nothing. */
export function historyValue(field: string, value: string | null): string {
  if (value === null || value.trim() === "") return "—";
  if (field === "date_of_birth" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return formatDate(value);
  if (field === "nhs_number") return formatNhsNumber(value);
  if (field === "aliases") {
    try {
      const list: unknown = JSON.parse(value);
      if (Array.isArray(list)) return list.length === 0 ? "—" : list.map(String).join(", ");
    } catch {
      /* shown as stored */
    }
  }
  return value;
}

// ---------- Erasure ----------

/**
 * True when the reason contains a part (3 letters or more) of the client's name, which the
 * core refuses: the reason is kept for good after the erasure.
 */
export function reasonNamesClient(reason: string, fullName: string | null | undefined): boolean {
  if (!fullName) return false;
  const r = reason.toLowerCase();
  return fullName
    .split(/\s+/)
    .filter((p) => [...p].length >= 3)
    .some((p) => r.includes(p.toLowerCase()));
}

// ---------- Retention ----------

export interface ReviewBadge {
  kind: "due" | "soon";
  /** The words (the colour is never the only cue). */
  label: string;
  /** A mark shown beside the words, hidden from screen readers. */
  mark: string;
}

/** Due when the review date has come; otherwise "soon" with the days left. */
export function reviewBadge(item: Pick<RetentionItem, "due" | "review_on">, today: string = isoDay()): ReviewBadge {
  if (item.due) return { kind: "due", label: "Due for review", mark: "!" };
  const days = daysBetween(today, item.review_on);
  return {
    kind: "soon",
    label: days <= 0 ? "Due for review" : `Due in ${days} day${days === 1 ? "" : "s"}`,
    mark: "◷",
  };
}

/** Whole days from `a` to `b` ("YYYY-MM-DD", local calendar). */
export function daysBetween(a: string, b: string): number {
  const [ay, am, ad] = a.split("-").map(Number);
  const [by, bm, bd] = b.split("-").map(Number);
  return Math.round((Date.UTC(by, bm - 1, bd) - Date.UTC(ay, am - 1, ad)) / 86_400_000);
}

/** The policy form's fields, as typed. */
export interface PolicyForm {
  preset: string; // a preset's id, or "custom"
  name: string;
  adult_years: string | number | null;
  minor_until_age: string | number | null;
  minor_until_age_if_17: string | number | null;
  minor_min_years: string | number | null;
}

export type PolicyErrors = Partial<Record<keyof PolicyForm, string>>;

/** The preset whose figures and name the policy has, else "custom". */
export function presetOf(policy: RetentionPolicy, presets: RetentionPolicies["presets"]): string {
  const same = (p: RetentionPolicy) =>
    p.name === policy.name &&
    p.adult_years === policy.adult_years &&
    p.minor_until_age === policy.minor_until_age &&
    p.minor_until_age_if_17 === policy.minor_until_age_if_17 &&
    p.minor_min_years === policy.minor_min_years;
  return presets.find((p) => same(p.policy))?.id ?? "custom";
}

export function policyToForm(policy: RetentionPolicy, presets: RetentionPolicies["presets"]): PolicyForm {
  return {
    preset: presetOf(policy, presets),
    name: policy.name,
    adult_years: policy.adult_years,
    minor_until_age: policy.minor_until_age,
    minor_until_age_if_17: policy.minor_until_age_if_17,
    minor_min_years: policy.minor_min_years,
  };
}

function whole(v: string | number | null, what: string, min: number, max: number): number | string {
  const s = String(v ?? "").trim();
  if (!/^\d+$/.test(s)) return `Enter ${what} as a whole number.`;
  const n = Number(s);
  if (n < min || n > max) return `${what[0].toUpperCase()}${what.slice(1)} must be between ${min} and ${max}.`;
  return n;
}

/** The policy the form describes, or the errors to show by each field (the core's limits). */
export function validatePolicy(form: PolicyForm): { policy: RetentionPolicy } | { errors: PolicyErrors } {
  const errors: PolicyErrors = {};
  const name = form.name.trim();
  if (!name) errors.name = "Name the policy.";
  else if ([...name].length > 120) errors.name = "Keep the name to 120 characters.";
  const adult = whole(form.adult_years, "the years for adults", 1, 100);
  const until = whole(form.minor_until_age, "the birthday", 18, 100);
  const until17 = whole(form.minor_until_age_if_17, "the birthday", 18, 100);
  const min = whole(form.minor_min_years, "the minimum years", 1, 100);
  if (typeof adult === "string") errors.adult_years = adult;
  if (typeof until === "string") errors.minor_until_age = until;
  if (typeof until17 === "string") errors.minor_until_age_if_17 = until17;
  if (typeof min === "string") errors.minor_min_years = min;
  if (Object.keys(errors).length > 0) return { errors };
  return {
    policy: {
      name,
      adult_years: adult as number,
      minor_until_age: until as number,
      minor_until_age_if_17: until17 as number,
      minor_min_years: min as number,
    },
  };
}

// ---------- Subject-access requests ----------

export interface RequestState {
  overdue: boolean;
  /** "Overdue by 3 days", "Due today", "Due in 12 days". */
  words: string;
}

export function requestState(req: Pick<AccessRequest, "due_on">, today: string = isoDay()): RequestState {
  const days = daysBetween(today, req.due_on);
  if (days < 0) return { overdue: true, words: `Overdue by ${-days} day${days === -1 ? "" : "s"}` };
  if (days === 0) return { overdue: false, words: "Due today" };
  return { overdue: false, words: `Due in ${days} day${days === 1 ? "" : "s"}` };
}

/** Open requests, soonest due first. */
export function byDue(list: AccessRequest[]): AccessRequest[] {
  return [...list].sort((a, b) => a.due_on.localeCompare(b.due_on) || a.client_code.localeCompare(b.client_code));
}

/** Something a passage can be withheld from: a session note, an addendum, a process note. */
export interface RedactableItem {
  id: string;
  kind: "note" | "addendum" | "process_note";
  label: string;
  /** The texts the core searches for the passage (a note's fields one by one). */
  parts: { label: string | null; text: string }[];
}

const cap = (s: string) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** The client's notes, addenda and process notes, oldest first, labelled for a select. */
export function redactableItems(file: Pick<ClientFile, "notes" | "process_notes">): RedactableItem[] {
  const items: RedactableItem[] = [];
  const notes = [...file.notes].sort((a, b) => a.created_at.localeCompare(b.created_at));
  for (const n of notes) {
    const when = formatDate(n.created_at);
    items.push({
      id: n.id,
      kind: "note",
      label: `Session note, ${when} (${n.template === "free" ? "free text" : n.template.toUpperCase()}${n.status === "draft" ? ", draft" : ""})`,
      parts: Object.entries(n.fields)
        .filter(([, v]) => v.trim() !== "")
        .map(([k, v]) => ({ label: cap(k), text: v })),
    });
    for (const a of [...n.addenda].sort((x, y) => x.created_at.localeCompare(y.created_at))) {
      items.push({
        id: a.id,
        kind: "addendum",
        label: `Addendum, ${formatDate(a.created_at)} (to the note of ${when})`,
        parts: [{ label: null, text: a.text }],
      });
    }
  }
  for (const p of [...file.process_notes].sort((a, b) => a.created_at.localeCompare(b.created_at))) {
    items.push({
      id: p.id,
      kind: "process_note",
      label: `Process note, ${formatDateTime(p.created_at)}`,
      parts: [{ label: null, text: p.text }],
    });
  }
  return items;
}

/** Whether the passage appears, exactly, in one part of the item (else the core skips it). */
export function passageFound(item: RedactableItem, passage: string): boolean {
  return passage !== "" && item.parts.some((p) => p.text.includes(passage));
}

/** Days to shift supervision dates by: null for none, a number, or an error sentence. */
export function parseShiftDays(v: string | number | null | undefined): number | null | string {
  const s = String(v ?? "").trim();
  if (s === "") return null;
  if (!/^[-+]?\d+$/.test(s)) return "Enter the shift as a whole number of days, or leave it empty.";
  const n = Number(s);
  if (n === 0) return null;
  if (Math.abs(n) > 3650) return "Shift the dates by at most 3650 days either way.";
  return n;
}

/** "25th", "26th", "21st", "22nd", "23rd". */
export function ordinal(n: number): string {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

/** The policy in one sentence, e.g. for the policy editor. */
export function policyWords(p: RetentionPolicy): string {
  const y = (n: number) => `${n} year${n === 1 ? "" : "s"}`;
  return (
    `Adults: kept ${y(p.adult_years)} after the last session. ` +
    `Under 18 at the end of therapy: kept until their ${ordinal(p.minor_until_age)} birthday ` +
    `(${ordinal(p.minor_until_age_if_17)} if they were 17), and at least ${y(p.minor_min_years)} after the last session.`
  );
}
