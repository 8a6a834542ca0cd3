// The risk and safeguarding flag: set on a draft note (saved with it), and shown — in words,
// not colour alone — on the client list, Today's rows and the week.
import { afterEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: { templates: vi.fn(), createNote: vi.fn(), saveNote: vi.fn(), setNoteRisk: vi.fn(), caseload: vi.fn() },
  };
});

import { api, type SessionNote } from "./api";
import { app } from "./app.svelte";
import NoteEditor from "../components/NoteEditor.svelte";
import RiskBadge from "../components/RiskBadge.svelte";

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  vi.clearAllMocks();
});

function show<P extends Record<string, unknown>>(c: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(c, { target, props });
  flushSync();
}

const draft: SessionNote = {
  id: "n1",
  client_code: "C-7KQ2",
  appointment_id: null,
  template: "free",
  fields: { text: "spoke of feeling unsafe at home" },
  status: "draft",
  created_at: "2026-11-20T10:00:00Z",
  updated_at: "2026-11-20T10:00:00Z",
  finalised_at: null,
  risk: null,
  addenda: [],
};

describe("the risk flag on a note", () => {
  it("is chosen in the editor and saved with the draft", async () => {
    app.templates = { free: ["text"] };
    vi.mocked(api.saveNote).mockResolvedValue(draft);
    vi.mocked(api.setNoteRisk).mockResolvedValue(undefined);
    show(NoteEditor, { code: "C-7KQ2", note: draft, onclose: vi.fn() });
    const none = document.querySelector<HTMLInputElement>("#note-risk-none")!;
    const flagged = document.querySelector<HTMLInputElement>("#note-risk-flagged")!;
    expect(none.checked).toBe(true);
    expect(flagged.closest("fieldset")?.querySelector("legend")?.textContent).toBe("Risk and safeguarding");
    flagged.click();
    flushSync();
    await vi.waitFor(() => expect(api.setNoteRisk).toHaveBeenCalledWith("n1", "flagged"), { timeout: 3000 });
    // Saved once: a further save of the text does not send it again.
    const saves = vi.mocked(api.saveNote).mock.calls.length;
    const text = document.querySelector<HTMLTextAreaElement>("#note-field-text")!;
    text.value += " Plan agreed.";
    text.dispatchEvent(new Event("input", { bubbles: true }));
    await vi.waitFor(() => expect(vi.mocked(api.saveNote).mock.calls.length).toBe(saves + 1), { timeout: 3000 });
    expect(api.setNoteRisk).toHaveBeenCalledTimes(1);
  });

  it("shows what a saved note said", () => {
    app.templates = { free: ["text"] };
    show(NoteEditor, { code: "C-7KQ2", note: { ...draft, risk: "cleared" as const }, onclose: vi.fn() });
    expect(document.querySelector<HTMLInputElement>("#note-risk-cleared")!.checked).toBe(true);
  });
});

describe("the flag where the therapist looks", () => {
  it("says what it is and since when, to a screen reader too", () => {
    show(RiskBadge, { risk: { note_id: "n1", since: "2026-11-20T10:00:00Z", session_at: "2026-11-19T10:00:00Z" } });
    const badge = document.querySelector(".risk-flag")!;
    expect(badge.textContent?.replace(/\s+/g, " ").trim()).toBe(
      "⚑ Risk or safeguarding concern flagged on 19/11/2026",
    );
    expect(badge.getAttribute("title")).toContain("19/11/2026");
  });

  it("shows nothing without a flag", () => {
    show(RiskBadge, { risk: null });
    expect(document.querySelector(".risk-flag")).toBeNull();
  });
});
