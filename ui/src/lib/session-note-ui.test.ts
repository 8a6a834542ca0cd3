// "Write note" on a session: the client's notes open on that session's note — a new note
// linked to the session (and dated by it), its draft if one exists, its finalised note shown.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { templates: vi.fn(), createNote: vi.fn(), saveNote: vi.fn() } };
});

import { api, type Appointment, type SessionNote } from "./api";
import { app } from "./app.svelte";
import { formatLongDate, formatTimeRange } from "./format";
import { rightsFile } from "./testing";
import NotesTab from "../components/NotesTab.svelte";

const TEMPLATES = { soap: ["subjective", "objective", "assessment", "plan"], dap: [], birp: [], free: ["text"] };
const session: Appointment = {
  id: "ap1",
  client_code: "C-7KQ2",
  starts_at: "2026-03-02T10:00:00Z",
  ends_at: "2026-03-02T10:50:00Z",
  status: "attended",
};
const later: Appointment = { ...session, id: "ap2", starts_at: "2026-03-16T10:00:00Z", ends_at: "2026-03-16T10:50:00Z" };
const [draft, final] = rightsFile().notes as [SessionNote, SessionNote];

let component: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.clearAllMocks();
  vi.mocked(api.templates).mockResolvedValue(TEMPLATES);
  app.templates = TEMPLATES;
  app.screen = "main";
  app.view = { name: "client", code: "C-7KQ2", tab: "notes" };
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  app.newNoteFor = null;
  app.newNoteSession = null;
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

function show(notes: SessionNote[]) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(NotesTab, {
    target,
    props: { code: "C-7KQ2", notes, appointments: [session, later], focusNoteId: null, onchange: async () => {} },
  });
  flushSync();
}

describe("Write note on a session", () => {
  it("opens a new note linked to the session, saying which session, and saves it linked", async () => {
    app.writeNote("C-7KQ2", "ap1");
    show([draft]);
    expect($("#editor-h")).not.toBeNull();
    expect(text("#note-session")).toBe(
      `For the session on ${formatLongDate(session.starts_at)}, ${formatTimeRange(session.starts_at, session.ends_at)}`,
    );
    // The request is taken: a later showing of the tab does not open another.
    expect(app.newNoteFor).toBeNull();
    expect(app.newNoteSession).toBeNull();

    vi.mocked(api.createNote).mockResolvedValue({ ...draft, id: "n9", appointment_id: "ap1" });
    const field = $<HTMLTextAreaElement>("#note-field-subjective")!;
    field.value = "Talked about work.";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    $("#note-back")!.click();
    await vi.waitFor(() => expect(api.createNote).toHaveBeenCalledTimes(1));
    expect(vi.mocked(api.createNote).mock.calls[0][3]).toBe("ap1");
  });

  it("continues the session's draft rather than starting a second note", () => {
    const linkedDraft = { ...draft, appointment_id: "ap2" };
    app.writeNote("C-7KQ2", "ap2");
    show([linkedDraft, final]);
    expect(text("#editor-h")).toBe("Draft note");
    expect($<HTMLTextAreaElement>("#note-field-text")?.value).toBe("Draft thoughts.");
    expect(text("#note-session")).toContain(formatLongDate(later.starts_at));
  });

  it("shows the session's finalised note instead of a new one", async () => {
    const linkedFinal = { ...final, appointment_id: "ap1" };
    app.writeNote("C-7KQ2", "ap1");
    show([draft, linkedFinal]);
    expect($("#editor-h")).toBeNull();
    expect(text('[role="status"]')).toContain("This session's note is finalised");
    await vi.waitFor(() => expect(document.activeElement?.getAttribute("data-note-id")).toBe("n1"));
  });

  it("dates a note by its session, newest session first", () => {
    // Written on 9 March for the session of 16 March (an odd order, but the session decides).
    const forLater = { ...draft, appointment_id: "ap2" };
    const forFirst = { ...final, appointment_id: "ap1" };
    show([forFirst, forLater]);
    const heads = [...document.querySelectorAll("[data-note-id] h3")].map((h) => h.textContent?.trim());
    expect(heads).toEqual(["Narrative note · 16/03/2026", "SOAP note · 02/03/2026"]);
  });
});

describe("New note says which session it is for", () => {
  it("offers the latest attended session without a note, or a contact between sessions", async () => {
    // ap2 (16 March, attended) has a draft; ap1 (2 March, attended) has none: ap1 is offered.
    const withDraft = { ...draft, appointment_id: "ap2" };
    app.newNoteFor = "C-7KQ2";
    app.newNoteSession = null;
    show([withDraft]);
    const select = $<HTMLSelectElement>("#note-for")!;
    expect(select.value).toBe("ap1");
    expect([...select.options].map((o) => o.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      `The session on ${formatLongDate(later.starts_at)}, ${formatTimeRange(later.starts_at, later.ends_at)} (has a note)`,
      `The session on ${formatLongDate(session.starts_at)}, ${formatTimeRange(session.starts_at, session.ends_at)}`,
      "No session: a contact between sessions",
    ]);
    // A contact note: no session.
    select.value = "";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    flushSync();
    vi.mocked(api.createNote).mockResolvedValue({ ...draft, id: "n9", appointment_id: null });
    const field = $<HTMLTextAreaElement>("textarea")!;
    field.value = "Phoned to rearrange.";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    $("#note-back")!.click();
    await vi.waitFor(() => expect(api.createNote).toHaveBeenCalledTimes(1));
    expect(vi.mocked(api.createNote).mock.calls[0][3]).toBeNull();
  });

  it("links a new note to the session chosen", async () => {
    app.newNoteFor = "C-7KQ2";
    app.newNoteSession = null;
    show([]);
    const select = $<HTMLSelectElement>("#note-for")!;
    expect(select.value).toBe("ap2"); // the latest attended, no note yet
    vi.mocked(api.createNote).mockResolvedValue({ ...draft, id: "n9", appointment_id: "ap2" });
    const field = $<HTMLTextAreaElement>("textarea")!;
    field.value = "Session note.";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    $("#note-back")!.click();
    await vi.waitFor(() => expect(api.createNote).toHaveBeenCalledTimes(1));
    expect(vi.mocked(api.createNote).mock.calls[0][3]).toBe("ap2");
  });
});

describe("the templates UK therapists write", () => {
  it("offers the brief session note first, Narrative for the free one, and the UK starters", async () => {
    const { TEMPLATE_LABELS, TEMPLATE_ORDER, fieldLabel } = await import("./notes");
    expect(TEMPLATE_ORDER.map((t) => TEMPLATE_LABELS[t])).toEqual([
      "Brief session note",
      "SOAP",
      "DAP",
      "BIRP",
      "Narrative",
      "Assessment",
      "Contact (phone or email)",
      "Ending summary",
    ]);
    expect(["attendance", "themes", "interventions", "risk", "plan"].map(fieldLabel)).toEqual([
      "Attendance",
      "Themes",
      "Interventions",
      "Risk and safeguarding",
      "Plan",
    ]);
  });

  it("a new note starts with the default template chosen in Settings", async () => {
    const { prefs } = await import("./local-prefs.svelte");
    app.templates = { ...TEMPLATES, brief: ["attendance", "themes", "interventions", "risk", "plan"] };
    prefs.setNoteTemplate("brief");
    app.writeNote("C-7KQ2", "ap1");
    show([]);
    expect($<HTMLSelectElement>("#note-template")?.value).toBe("brief");
    expect($("#note-field-risk")).not.toBeNull();
    expect(document.querySelector('label[for="note-field-risk"]')?.textContent).toBe("Risk and safeguarding");
    localStorage.clear();
  });
});
