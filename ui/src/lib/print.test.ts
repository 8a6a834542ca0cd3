import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { templates: vi.fn(), addAddendum: vi.fn(), practice: vi.fn(), setPractice: vi.fn() } };
});

import { api, type SessionNote } from "./api";
import { app } from "./app.svelte";
import { appCss } from "./css-testing";
import { practice } from "./practice.svelte";
import { clearPrint, notesDocument, notesInRange, printDocument } from "./print";
import { rightsFile } from "./testing";
import NotesTab from "../components/NotesTab.svelte";

const TEMPLATES = { soap: ["subjective", "objective", "assessment", "plan"], dap: [], birp: [], free: ["text"] };
const file = rightsFile();
const [draft, final] = file.notes as [SessionNote, SessionNote];
const appointment = {
  id: "ap1",
  client_code: "C-7KQ2",
  starts_at: "2026-03-02T10:00:00Z",
  ends_at: "2026-03-02T10:50:00Z",
  status: "attended" as const,
};
const linked: SessionNote = { ...final, appointment_id: "ap1" };

let component: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.mocked(api.templates).mockResolvedValue(TEMPLATES);
  app.templates = TEMPLATES;
  localStorage.clear();
  practice.clear();
});
afterEach(() => {
  clearPrint();
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  localStorage.clear();
  practice.clear();
  vi.mocked(api.practice).mockReset();
  vi.mocked(api.setPractice).mockReset();
});

const RIVERSIDE = {
  practice_name: "Riverside Counselling",
  therapist_name: "Sam Jones",
  registration_body: "UKCP" as const,
  registration_number: "0042",
};

const text = (el: Element | null) => el?.textContent?.replace(/\s+/g, " ").trim() ?? "";

function doc(notes: SessionNote[], range: { from: string | null; to: string | null } | null = null) {
  return notesDocument({
    practiceName: "Riverside Counselling",
    registration: "BACP 123456",
    clientName: "Siân O'Brien",
    clientCode: "C-7KQ2",
    notes,
    appointments: [appointment],
    templates: TEMPLATES,
    range,
    now: new Date("2026-03-10T14:03:00Z"),
  });
}

/** Renders `d` as printing would, and returns the #print-root element. */
function printed(d: ReturnType<typeof doc>): HTMLElement {
  const print = vi.fn();
  printDocument(d, print);
  expect(print).toHaveBeenCalledTimes(1);
  return document.getElementById("print-root")!;
}

describe("choosing the notes to print", () => {
  it("takes the notes written between two days (UK local days, both included), oldest first", () => {
    expect(notesInRange(file.notes, "2026-03-01", "2026-03-31").map((n) => n.id)).toEqual(["n1", "n2"]);
    expect(notesInRange(file.notes, "2026-03-03", "2026-03-09").map((n) => n.id)).toEqual(["n2"]);
    expect(notesInRange(file.notes, "2026-03-03", "2026-03-08")).toEqual([]);
    // Written at 23:30 UTC on 31 March is 00:30 on 1 April in London (BST).
    const late = { ...final, id: "late", created_at: "2026-03-31T23:30:00Z" };
    expect(notesInRange([late], "2026-03-01", "2026-03-31")).toEqual([]);
    expect(notesInRange([late], "2026-04-01", "2026-04-01").map((n) => n.id)).toEqual(["late"]);
  });
});

describe("the printed document", () => {
  it("has the practice, registration, client, UK dates and the note's text", () => {
    const root = printed(doc([linked]));
    expect(text(root.querySelector(".practice"))).toBe("Riverside Counselling");
    expect(text(root.querySelector(".registration"))).toBe("BACP 123456");
    expect(text(root.querySelector("h1"))).toBe("Session note");
    expect(text(root.querySelector(".client"))).toBe("Siân O'Brien (C-7KQ2)");
    expect(root.querySelector(".nhs")).toBeNull(); // no NHS number: nothing said
    expect(root.querySelector(".therapist")).toBeNull();
    expect(root.querySelector(".period")).toBeNull();
    expect(text(root.querySelector(".printed"))).toBe("Printed 10/03/2026 14:03 · Confidential");
    const note = root.querySelector(".print-note")!;
    expect(text(note.querySelector("h2"))).toBe("SOAP note · 02/03/2026");
    expect([...note.querySelectorAll(".meta")].map(text)).toEqual([
      "Finalised 02/03/2026 10:50",
      "Session 02/03/2026, 10:00–10:50",
    ]);
    // The template's order, empty fields left out, the text kept as written.
    expect([...note.querySelectorAll(":scope > h3")].map(text)).toEqual(["Subjective", "Plan"]);
    expect([...note.querySelectorAll(":scope > .text")].map((p) => p.textContent)).toEqual([
      "Worried about her sister Ann's health.",
      "Review in two weeks.",
    ]);
    expect(text(note.querySelector(".addendum"))).toBe("Addendum, 03/03/2026 09:00 Ann is her older sister.");
  });

  it("for a range: the period in UK form, each note, a draft marked as one", () => {
    const root = printed(doc(notesInRange(file.notes, "2026-03-01", "2026-03-31"), { from: "2026-03-01", to: "2026-03-31" }));
    expect(text(root.querySelector("h1"))).toBe("Session notes");
    expect(text(root.querySelector(".period"))).toBe("Notes from 01/03/2026 to 31/03/2026");
    const notes = [...root.querySelectorAll(".print-note")];
    expect(notes.map((n) => text(n.querySelector("h2")))).toEqual(["SOAP note · 02/03/2026", "Narrative note · 09/03/2026"]);
    expect(notes[1].classList.contains("draft")).toBe(true);
    expect(text(notes[1].querySelector(".meta"))).toBe("Draft, not finalised — last saved 09/03/2026 10:00");
    expect(text(notes[1].querySelector(".text"))).toBe("Draft thoughts.");
  });

  it("has the therapist's name, and the client's NHS number beside their name in groups of 3-3-4", () => {
    const d = notesDocument({
      practiceName: "Riverside Counselling",
      therapistName: " Sam Jones ",
      registration: "BACP 123456",
      clientName: "Siân O'Brien",
      clientCode: "C-7KQ2",
      nhsNumber: "9434765919",
      notes: [linked],
      appointments: [appointment],
      templates: TEMPLATES,
      range: null,
    });
    expect(d.nhsNumber).toBe("943 476 5919");
    const root = printed(d);
    expect(text(root.querySelector(".therapist"))).toBe("Sam Jones");
    expect(text(root.querySelector(".client"))).toBe("Siân O'Brien (C-7KQ2) · NHS number 943 476 5919");
  });

  it("leaves the practice lines out when the app knows none", () => {
    const root = printed({ ...doc([draft]), practiceName: "", registration: "" });
    expect(root.querySelector(".practice")).toBeNull();
    expect(root.querySelector(".registration")).toBeNull();
  });

  it("is in the page only while printing", () => {
    printed(doc([final]));
    expect(document.documentElement.classList.contains("printing")).toBe(true);
    window.dispatchEvent(new Event("afterprint"));
    expect(document.getElementById("print-root")).toBeNull();
    expect(document.documentElement.classList.contains("printing")).toBe(false);
  });

  it("app.css prints it alone, and hides the menu, clock strip and buttons", () => {
    const css = appCss().replace(/\/\*[\s\S]*?\*\//g, "");
    expect(css).toMatch(/#print-root\s*\{\s*display:\s*none;/);
    const print = css.slice(css.indexOf("@media print"));
    expect(print).toMatch(/html\.printing #app\s*\{\s*display:\s*none !important;/);
    expect(print).toMatch(/html\.printing #print-root\s*\{\s*display:\s*block;/);
    for (const sel of [".strip", "nav", "button"]) expect(print).toContain(`${sel},`);
  });
});

describe("Print or save as PDF in the notes tab", () => {
  function show(over: { nhsNumber?: string | null } = {}) {
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(NotesTab, {
      target,
      props: {
        ...over,
        code: "C-7KQ2",
        clientName: "Siân O'Brien",
        notes: [draft, linked],
        appointments: [appointment],
        focusNoteId: null,
        onchange: async () => {},
      },
    });
    flushSync();
  }

  it("prints one note, with the practice's details from the vault", async () => {
    // What this computer kept before is not what prints: the vault's details are.
    localStorage.setItem("casebook.practice-name", "Old Name Therapy");
    vi.mocked(api.practice).mockResolvedValue(RIVERSIDE);
    await practice.load();
    const print = vi.spyOn(window, "print").mockImplementation(() => {});
    show({ nhsNumber: "9434765919" });
    const button = document.querySelector<HTMLButtonElement>('[data-note-id="n1"] .print-note')!;
    expect(button.getAttribute("aria-label")).toBe("Print or save as PDF: SOAP note of 02/03/2026");
    button.click();
    expect(print).toHaveBeenCalledTimes(1);
    const root = document.getElementById("print-root")!;
    expect(text(root.querySelector(".practice"))).toBe("Riverside Counselling");
    expect(text(root.querySelector(".therapist"))).toBe("Sam Jones");
    expect(text(root.querySelector(".registration"))).toBe("UKCP 0042");
    expect(text(root.querySelector(".client"))).toBe("Siân O'Brien (C-7KQ2) · NHS number 943 476 5919");
    expect(root.querySelectorAll(".print-note")).toHaveLength(1);
    expect(api.setPractice).not.toHaveBeenCalled();
    print.mockRestore();
  });

  it("just after the unlock, asks the vault for the practice's details before printing", async () => {
    let answer: (p: typeof RIVERSIDE) => void = () => {};
    vi.mocked(api.practice).mockReturnValue(new Promise((r) => (answer = r)));
    const print = vi.spyOn(window, "print").mockImplementation(() => {});
    show();
    document.querySelector<HTMLButtonElement>('[data-note-id="n1"] .print-note')!.click();
    expect(api.practice).toHaveBeenCalledTimes(1);
    expect(print).not.toHaveBeenCalled();
    answer(RIVERSIDE);
    await vi.waitFor(() => expect(print).toHaveBeenCalledTimes(1));
    const root = document.getElementById("print-root")!;
    expect(text(root.querySelector(".practice"))).toBe("Riverside Counselling");
    expect(text(root.querySelector(".registration"))).toBe("UKCP 0042");
    print.mockRestore();
  });

  it("after a lock, prints no practice details from before it", async () => {
    vi.mocked(api.practice).mockResolvedValue(RIVERSIDE);
    await practice.load();
    app.screen = "main";
    app.lockedOut(); // the store is cleared with everything else
    expect(practice.profile).toBeNull();
    expect(practice.practiceName).toBe("");
  });

  it("prints the notes of a date range, and says when there are none", async () => {
    vi.mocked(api.practice).mockResolvedValue(RIVERSIDE);
    await practice.load();
    const print = vi.spyOn(window, "print").mockImplementation(() => {});
    show();
    document.querySelector<HTMLButtonElement>("#print-notes-open")!.click();
    flushSync();
    const set = (id: string, v: string) => {
      const el = document.querySelector<HTMLInputElement>(`#${id}`)!;
      el.value = v;
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
      el.dispatchEvent(new Event("blur", { bubbles: true }));
      flushSync();
    };
    set("print-from", "03/03/2026");
    set("print-to", "08/03/2026");
    document.querySelector<HTMLButtonElement>("#print-notes")!.click();
    flushSync();
    expect(print).not.toHaveBeenCalled();
    expect(text(document.querySelector("#print-notes-form [role=alert]"))).toBe(
      "No notes were written from 03/03/2026 to 08/03/2026.",
    );
    set("print-from", "01/03/2026");
    set("print-to", "31/03/2026");
    document.querySelector<HTMLButtonElement>("#print-notes")!.click();
    flushSync();
    expect(print).toHaveBeenCalledTimes(1);
    const root = document.getElementById("print-root")!;
    expect(text(root.querySelector(".period"))).toBe("Notes from 01/03/2026 to 31/03/2026");
    expect(root.querySelectorAll(".print-note")).toHaveLength(2);
    print.mockRestore();
  });
});
