import { afterEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { templates: vi.fn(), createNote: vi.fn(), saveNote: vi.fn() } };
});

import { app } from "./app.svelte";
import { KEYS, prefs, readTemplate } from "./local-prefs.svelte";
import NoteEditor from "../components/NoteEditor.svelte";

afterEach(() => {
  localStorage.clear();
  prefs.load();
  document.body.innerHTML = "";
});

describe("choices kept on this computer", () => {
  it("read only what they know, else the defaults", () => {
    expect(readTemplate("dap")).toBe("dap");
    expect(readTemplate("xyz")).toBeNull();
  });

  it("are stored under their keys, and follow the other window", () => {
    prefs.setNoteTemplate("birp");
    expect(localStorage.getItem(KEYS.noteTemplate)).toBe("birp");
    const stop = prefs.follow();
    localStorage.setItem(KEYS.noteTemplate, "free");
    window.dispatchEvent(new StorageEvent("storage", { key: KEYS.noteTemplate, newValue: "free" }));
    expect(prefs.noteTemplate).toBe("free");
    stop();
  });

  it("no longer keep the practice's details (they are in the vault)", () => {
    expect(Object.values(KEYS)).not.toContain("casebook.practice-name");
    expect("practiceName" in prefs).toBe(false);
    expect("noteTemplate" in prefs).toBe(true);
  });

  it("a new note starts with the default template chosen in Settings", () => {
    app.templates = { soap: ["subjective"], dap: ["data", "assessment", "plan"], birp: [], free: ["text"] };
    prefs.setNoteTemplate("dap");
    const target = document.createElement("div");
    document.body.appendChild(target);
    const c = mount(NoteEditor, { target, props: { code: "C-7KQ2", note: null, onclose: vi.fn() } });
    flushSync();
    expect(document.querySelector<HTMLSelectElement>("#note-template")?.value).toBe("dap");
    unmount(c);
  });
});
