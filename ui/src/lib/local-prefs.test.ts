import { afterEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { templates: vi.fn(), createNote: vi.fn(), saveNote: vi.fn() } };
});

import { app } from "./app.svelte";
import { KEYS, prefs, readBody, readTemplate, registrationLine } from "./local-prefs.svelte";
import NoteEditor from "../components/NoteEditor.svelte";

afterEach(() => {
  localStorage.clear();
  prefs.load();
  document.body.innerHTML = "";
});

describe("choices kept on this computer", () => {
  it("read only what they know, else the defaults", () => {
    expect(readBody("UKCP")).toBe("UKCP");
    expect(readBody("GMC")).toBe("");
    expect(readTemplate("dap")).toBe("dap");
    expect(readTemplate("xyz")).toBeNull();
  });

  it("word the registration for print", () => {
    expect(registrationLine("BACP", " 123456 ")).toBe("BACP 123456");
    expect(registrationLine("HCPC", "")).toBe("HCPC");
    expect(registrationLine("", "42")).toBe("Registration 42");
    expect(registrationLine("", "")).toBe("");
  });

  it("are stored under their keys, and follow the other window", () => {
    prefs.setPractice("  Riverside Counselling ", "NCPS", "77");
    expect(localStorage.getItem(KEYS.practiceName)).toBe("Riverside Counselling");
    expect(prefs.registration).toBe("NCPS 77");
    const stop = prefs.follow();
    localStorage.setItem(KEYS.practiceName, "Hillside Therapy");
    window.dispatchEvent(new StorageEvent("storage", { key: KEYS.practiceName, newValue: "Hillside Therapy" }));
    expect(prefs.practiceName).toBe("Hillside Therapy");
    stop();
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
