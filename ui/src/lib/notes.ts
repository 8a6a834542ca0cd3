import type { NoteTemplate } from "./api";

export const TEMPLATE_LABELS: Record<NoteTemplate, string> = {
  brief: "Brief session note",
  soap: "SOAP",
  dap: "DAP",
  birp: "BIRP",
  free: "Narrative",
  assessment: "Assessment",
  contact: "Contact (phone or email)",
  ending: "Ending summary",
};

/** The order the editor and Settings offer them: the UK starters around the classic three. */
export const TEMPLATE_ORDER: NoteTemplate[] = ["brief", "soap", "dap", "birp", "free", "assessment", "contact", "ending"];

/** The fields whose label is not simply the name with a capital. */
const FIELD_LABELS: Record<string, string> = {
  text: "Note",
  risk: "Risk and safeguarding",
  presenting: "Presenting difficulties",
  history: "History and context",
  goals: "Goals for therapy",
  method: "How (phone, email, message)",
  summary: "Summary",
  action: "Action agreed",
  outcome: "Progress and outcome",
  themes: "Themes",
  interventions: "Interventions",
};

/** "subjective" → "Subjective"; a few read better in full ("risk" → "Risk and safeguarding"). */
export function fieldLabel(field: string): string {
  if (field in FIELD_LABELS) return FIELD_LABELS[field];
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
