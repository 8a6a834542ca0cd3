import type { NoteTemplate } from "./api";

export const TEMPLATE_LABELS: Record<NoteTemplate, string> = {
  soap: "SOAP",
  dap: "DAP",
  birp: "BIRP",
  free: "Free",
};

export const TEMPLATE_ORDER: NoteTemplate[] = ["soap", "dap", "birp", "free"];

/** "subjective" → "Subjective"; the free template's single field reads "Note". */
export function fieldLabel(field: string): string {
  if (field === "text") return "Note";
  const s = field.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Only the template's own fields, in its order, each a string. */
export function fieldsFor(template: string[], values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of template) out[f] = values[f] ?? "";
  return out;
}

export function isEmpty(fields: Record<string, string>): boolean {
  return Object.values(fields).every((v) => v.trim() === "");
}
