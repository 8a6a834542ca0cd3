import { describe, expect, it } from "vitest";
import type { ClientIdentity, RetentionPolicy } from "./api";
import {
  byDue,
  daysBetween,
  fieldLabel,
  historyValue,
  identityChanges,
  identityToForm,
  ordinal,
  parseShiftDays,
  passageFound,
  policyToForm,
  policyWords,
  presetOf,
  reasonNamesClient,
  redactableItems,
  requestState,
  reviewBadge,
  validatePolicy,
} from "./rights";
import { rightsFile } from "./testing";

const identity: ClientIdentity = {
  full_name: "Siân O'Brien",
  date_of_birth: "1988-03-14",
  email: "sian@example.org",
  phone: null,
  emergency_contact: null,
  gp: "Dr Patel",
  nhs_number: "9434765919",
  aliases: ["Sian Kelly"],
};

const bacp: RetentionPolicy = {
  name: "BACP / NCPS common practice",
  adult_years: 7,
  minor_until_age: 25,
  minor_until_age_if_17: 26,
  minor_min_years: 7,
};
const presets = [
  { id: "bacp", policy: bacp },
  { id: "nhs-adult", policy: { ...bacp, name: "NHS adults", adult_years: 8, minor_min_years: 8 } },
];

describe("identity corrections", () => {
  it("sends nothing when nothing changed", () => {
    expect(identityChanges(identity, identityToForm(identity))).toEqual({});
  });

  it("sends only the changed fields; an emptied field is cleared", () => {
    const form = identityToForm(identity);
    form.full_name = "  Siân Kelly ";
    form.email = " ";
    form.phone = "07700 900123";
    form.date_of_birth = "";
    form.aliases = ["Sian Kelly", " Siân O'Brien ", "", "Sian Kelly"];
    expect(identityChanges(identity, form)).toEqual({
      full_name: "Siân Kelly",
      date_of_birth: null,
      email: null,
      phone: "07700 900123",
      aliases: ["Sian Kelly", "Siân O'Brien"],
    });
  });

  it("treats a client without aliases as having none", () => {
    const { aliases: _, ...old } = identity;
    const form = identityToForm(old);
    expect(form.aliases).toEqual([]);
    expect(identityChanges(old, form)).toEqual({});
    form.aliases = ["Bean"];
    expect(identityChanges(old, form)).toEqual({ aliases: ["Bean"] });
  });

  it("shows the NHS number in groups, counts the same digits as no change, and sends a new one as typed", () => {
    const form = identityToForm(identity);
    expect(form.nhs_number).toBe("943 476 5919");
    form.nhs_number = "9434765919";
    expect(identityChanges(identity, form)).toEqual({});
    form.nhs_number = "943-476-0070";
    expect(identityChanges(identity, form)).toEqual({ nhs_number: "943-476-0070" });
    form.nhs_number = "";
    expect(identityChanges(identity, form)).toEqual({ nhs_number: null });
    const none = { ...identity, nhs_number: null };
    expect(identityToForm(none).nhs_number).toBe("");
    expect(identityChanges(none, identityToForm(none))).toEqual({});
    expect(fieldLabel("nhs_number")).toBe("NHS number");
  });

  it("shows history values as a person reads them", () => {
    expect(historyValue("nhs_number", "9434765919")).toBe("943 476 5919");
    expect(historyValue("date_of_birth", "1988-03-14")).toBe("14/03/1988");
    expect(historyValue("aliases", '["Sian Kelly","Bean"]')).toBe("Sian Kelly, Bean");
    expect(historyValue("aliases", "[]")).toBe("—");
    expect(historyValue("email", null)).toBe("—");
    expect(historyValue("full_name", "Siân O'Brien")).toBe("Siân O'Brien");
  });
});

describe("erasure reasons", () => {
  it("may not name the client (any part of three letters or more, any case)", () => {
    expect(reasonNamesClient("Client asked; o'brien family moved", "Siân O'Brien")).toBe(true);
    expect(reasonNamesClient("SIÂN asked for it", "Siân O'Brien")).toBe(true);
    expect(reasonNamesClient("Client asked for erasure (art. 17)", "Siân O'Brien")).toBe(false);
    expect(reasonNamesClient("Al asked", "Al Li")).toBe(false); // parts under 3 letters are not checked
    expect(reasonNamesClient("anything", null)).toBe(false);
  });
});

describe("retention", () => {
  it("badges a due review and one coming up, in words and a mark", () => {
    expect(reviewBadge({ due: true, review_on: "2026-01-01" }, "2026-03-01")).toEqual({
      kind: "due",
      label: "Due for review",
      mark: "!",
    });
    expect(reviewBadge({ due: false, review_on: "2026-03-31" }, "2026-03-01")).toMatchObject({
      kind: "soon",
      label: "Due in 30 days",
    });
    expect(reviewBadge({ due: false, review_on: "2026-03-02" }, "2026-03-01").label).toBe("Due in 1 day");
  });

  it("counts days across the clock change", () => {
    expect(daysBetween("2026-03-28", "2026-03-30")).toBe(2);
    expect(daysBetween("2026-10-24", "2026-10-26")).toBe(2);
    expect(daysBetween("2026-03-01", "2026-02-01")).toBe(-28);
  });

  it("finds the preset a policy is, else custom", () => {
    expect(presetOf(bacp, presets)).toBe("bacp");
    expect(presetOf({ ...bacp, adult_years: 8 }, presets)).toBe("custom");
    expect(policyToForm(presets[1].policy, presets).preset).toBe("nhs-adult");
  });

  it("checks the policy form with the core's limits", () => {
    const form = policyToForm(bacp, presets);
    expect(validatePolicy(form)).toEqual({ policy: bacp });
    expect(validatePolicy({ ...form, name: " ", adult_years: 0, minor_until_age: 17, minor_until_age_if_17: "x", minor_min_years: 7.5 })).toEqual({
      errors: {
        name: "Name the policy.",
        adult_years: "The years for adults must be between 1 and 100.",
        minor_until_age: "The birthday must be between 18 and 100.",
        minor_until_age_if_17: "Enter the birthday as a whole number.",
        minor_min_years: "Enter the minimum years as a whole number.",
      },
    });
    expect(validatePolicy({ ...form, adult_years: "8" })).toEqual({ policy: { ...bacp, adult_years: 8 } });
  });

  it("says the policy in words", () => {
    expect(ordinal(21)).toBe("21st");
    expect(ordinal(22)).toBe("22nd");
    expect(ordinal(13)).toBe("13th");
    expect(policyWords(bacp)).toBe(
      "Adults: kept 7 years after the last session. Under 18 at the end of therapy: kept until their 25th birthday (26th if they were 17), and at least 7 years after the last session.",
    );
  });
});

describe("subject-access requests", () => {
  it("says when a request is due, or how late it is", () => {
    expect(requestState({ due_on: "2026-03-10" }, "2026-03-01")).toEqual({ overdue: false, words: "Due in 9 days" });
    expect(requestState({ due_on: "2026-03-01" }, "2026-03-01")).toEqual({ overdue: false, words: "Due today" });
    expect(requestState({ due_on: "2026-02-28" }, "2026-03-01")).toEqual({ overdue: true, words: "Overdue by 1 day" });
    expect(requestState({ due_on: "2026-02-20" }, "2026-03-01")).toEqual({ overdue: true, words: "Overdue by 9 days" });
  });

  it("lists the soonest due first", () => {
    const r = (client_code: string, due_on: string) => ({
      id: client_code,
      client_code,
      full_name: null,
      received_on: "2026-01-01",
      due_on,
      status: "open" as const,
      answered_on: null,
    });
    expect(byDue([r("B", "2026-03-02"), r("C", "2026-02-01"), r("A", "2026-03-02")]).map((x) => x.client_code)).toEqual([
      "C",
      "A",
      "B",
    ]);
  });

  it("offers the notes, addenda and process notes, oldest first, labelled", () => {
    const items = redactableItems(rightsFile());
    expect(items.map((i) => [i.id, i.kind, i.label])).toEqual([
      ["n1", "note", "Session note, 02/03/2026 (SOAP)"],
      ["a1", "addendum", "Addendum, 03/03/2026 (to the note of 02/03/2026)"],
      ["n2", "note", "Session note, 09/03/2026 (free text, draft)"],
      ["p1", "process_note", "Process note, 02/03/2026 15:00"],
    ]);
    expect(items[0].parts).toEqual([
      { label: "Subjective", text: "Worried about her sister Ann's health." },
      { label: "Plan", text: "Review in two weeks." },
    ]);
  });

  it("finds a passage only word for word, within one part", () => {
    const [note] = redactableItems(rightsFile());
    expect(passageFound(note, "sister Ann's health")).toBe(true);
    expect(passageFound(note, "sister ann's health")).toBe(false);
    expect(passageFound(note, "health. Review")).toBe(false);
    expect(passageFound(note, "")).toBe(false);
  });

  it("reads the supervision date shift", () => {
    expect(parseShiftDays("")).toBeNull();
    expect(parseShiftDays(null)).toBeNull();
    expect(parseShiftDays(0)).toBeNull();
    expect(parseShiftDays(" -30 ")).toBe(-30);
    expect(parseShiftDays(45)).toBe(45);
    expect(parseShiftDays("1.5")).toMatch(/whole number/);
    expect(parseShiftDays(4000)).toMatch(/at most 3650/);
  });
});
