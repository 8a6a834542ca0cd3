import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      status: vi.fn(),
      touch: vi.fn(),
      clock: vi.fn(),
      today: vi.fn(),
      accessRequests: vi.fn(),
      clientFile: vi.fn(),
      clientHistory: vi.fn(),
      templates: vi.fn(),
      finaliseNote: vi.fn(),
      endSession: vi.fn(),
      lock: vi.fn(),
    },
  };
});

import { api } from "./api";
import { app } from "./app.svelte";
import { clock } from "./clock.svelte";
import { isoDay } from "./format";
import { isTextEntry, mainShortcut, SHORTCUT_LIST } from "./shortcuts";
import { idleClock, rightsFile } from "./testing";
import App from "../App.svelte";
import ClientFile from "../screens/ClientFile.svelte";
import ClockStrip from "../components/ClockStrip.svelte";
import MainApp from "../screens/MainApp.svelte";
import NoteEditor from "../components/NoteEditor.svelte";

const m = vi.mocked(api);
let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  clock.reset();
});
beforeEach(() => {
  vi.clearAllMocks();
  m.touch.mockResolvedValue(undefined);
  m.clock.mockResolvedValue(idleClock());
  m.today.mockResolvedValue({ date: isoDay(), appointments: [], next: null, clock: idleClock() });
  m.accessRequests.mockResolvedValue([]);
  app.screen = "main";
  app.view = { name: "today" };
  app.notice = null;
  app.newNoteFor = null;
  app.templates = { soap: ["subjective", "objective", "assessment", "plan"], dap: [], birp: [], free: ["text"] };
});

function show<P extends Record<string, unknown>>(C: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(C as Component<Record<string, unknown>>, { target, props });
  flushSync();
}

/** A key pressed on `target` (the page's body unless given), bubbling to the window. */
function press(key: string, over: KeyboardEventInit = {}, target: EventTarget = document.body) {
  const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...over });
  target.dispatchEvent(e);
  flushSync();
  return e;
}

const key = (k: string, over: Partial<KeyboardEvent> = {}) => ({
  key: k,
  code: "",
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...over,
});

describe("which key asks for what", () => {
  it("Ctrl+1…8 go to the menu's screens, in its order", () => {
    const names = ["1", "2", "3", "4", "5", "6", "7", "8"].map((d) => mainShortcut(key(d, { ctrlKey: true }), null));
    expect(names).toEqual(
      ["today", "week", "clients", "search", "audit", "retention", "backups", "settings"].map((name) => ({ kind: "nav", name })),
    );
    expect(mainShortcut(key("9", { ctrlKey: true }), null)).toBeNull();
    expect(mainShortcut(key("3", { metaKey: true }), null)).toEqual({ kind: "nav", name: "clients" });
    // AZERTY: Ctrl with the key where 3 is gives '"'.
    expect(mainShortcut(key('"', { ctrlKey: true, code: "Digit3" }), null)).toEqual({ kind: "nav", name: "clients" });
    expect(mainShortcut(key("1", { ctrlKey: true, shiftKey: true }), null)).toBeNull();
  });

  it("Ctrl+N is a new note, Ctrl+L locks", () => {
    expect(mainShortcut(key("n", { ctrlKey: true }), null)).toEqual({ kind: "new-note" });
    expect(mainShortcut(key("L", { ctrlKey: true }), null)).toEqual({ kind: "lock" });
  });

  it("? shows the list, but not while typing in a field", () => {
    const input = document.createElement("input");
    const box = document.createElement("input");
    box.type = "checkbox";
    const area = document.createElement("textarea");
    expect(mainShortcut(key("?", { shiftKey: true }), document.body)).toEqual({ kind: "help" });
    expect(mainShortcut(key("?", { shiftKey: true }), box)).toEqual({ kind: "help" });
    expect(mainShortcut(key("?", { shiftKey: true }), input)).toBeNull();
    expect(mainShortcut(key("?", { shiftKey: true }), area)).toBeNull();
    expect(isTextEntry(document.createElement("select"))).toBe(true);
  });

  it("the list names every shortcut", () => {
    const all = SHORTCUT_LIST.map((s) => s.keys.map((c) => c.join("+")).join(" / "));
    for (const k of ["Ctrl+1", "Ctrl+7", "Ctrl+N", "Ctrl+Enter", "Ctrl+Shift+E", "Ctrl+L", "Ctrl++", "Ctrl+−", "Ctrl+0", "?", "Esc"])
      expect(all.some((a) => a.split(" / ").includes(k)), k).toBe(true);
  });
});

describe("in the main app", () => {
  it("? opens the list of shortcuts with Close focused; Close shuts it", async () => {
    show(MainApp, {});
    await vi.waitFor(() => expect(document.querySelector("#today-h")).not.toBeNull());
    press("?", { shiftKey: true });
    await vi.waitFor(() => expect(document.querySelector("#shortcuts")).not.toBeNull());
    expect(document.activeElement?.id).toBe("shortcuts-close");
    expect(document.querySelector("#shortcuts-h")?.textContent).toBe("Keyboard shortcuts");
    expect(document.querySelector("#shortcuts tbody")?.textContent).toContain("Go to Audit log");
    document.querySelector<HTMLButtonElement>("#shortcuts-close")!.click();
    flushSync();
    expect(document.querySelector("#shortcuts")).toBeNull();

    // Typing "?" in a field is just a question mark.
    const minutes = document.querySelector<HTMLInputElement>("#adhoc-minutes")!;
    const e = press("?", { shiftKey: true }, minutes);
    expect(e.defaultPrevented).toBe(false);
    expect(document.querySelector("#shortcuts")).toBeNull();

    // The menu's button opens it too, and says its key.
    expect(document.querySelector("#shortcuts-open")?.getAttribute("aria-keyshortcuts")).toBe("?");
  });

  it("Ctrl+3 goes to Clients; Ctrl+N with no client open says what to do", async () => {
    show(MainApp, {});
    await vi.waitFor(() => expect(document.querySelector("#today-h")).not.toBeNull());
    expect(document.querySelector("#nav-clients")?.getAttribute("aria-keyshortcuts")).toBe("Control+3");
    const e = press("3", { ctrlKey: true });
    expect(e.defaultPrevented).toBe(true);
    expect(app.view).toEqual({ name: "clients" });
    press("n", { ctrlKey: true });
    expect(app.notice).toMatch(/Open a client's file first/);
  });
});

describe("Ctrl+N", () => {
  it("in a client's file, opens a new note on the notes tab", async () => {
    m.clientFile.mockResolvedValue(rightsFile());
    m.clientHistory.mockResolvedValue([]);
    m.templates.mockResolvedValue(app.templates!);
    app.view = { name: "client", code: "C-7KQ2", tab: "sessions" };
    show(ClientFile, { code: "C-7KQ2", tab: "sessions" });
    await vi.waitFor(() => expect(document.querySelector("#panel-sessions")).not.toBeNull());
    expect(app.requestNewNote()).toBe(true);
    flushSync();
    await vi.waitFor(() => expect(document.querySelector("#note-template")).not.toBeNull());
    expect(document.querySelector("#tab-notes")?.getAttribute("aria-selected")).toBe("true");
    expect(document.querySelector("#editor-h")?.textContent).toBe("New note");
    expect(app.newNoteFor).toBeNull();
  });

  it("during a client's session, opens that client's file", () => {
    clock.set(idleClock({ running: true, client_code: "C-M9XD", ends_at: new Date(Date.now() + 60_000).toISOString() }));
    expect(app.requestNewNote()).toBe(true);
    expect(app.view).toEqual({ name: "client", code: "C-M9XD", tab: "notes" });
    expect(app.newNoteFor).toBe("C-M9XD");
  });
});

describe("Ctrl+Enter in the note editor", () => {
  it("asks to finalise, Cancel focused; nothing is finalised yet", async () => {
    show(NoteEditor, { code: "C-7KQ2", note: rightsFile().notes[0], onclose: vi.fn() });
    const field = document.querySelector<HTMLTextAreaElement>("#note-field-text")!;
    press("Enter", { ctrlKey: true }, field);
    await tick();
    await vi.waitFor(() => expect(document.querySelector("dialog h2")?.textContent).toBe("Finalise this note?"));
    await vi.waitFor(() => expect(document.activeElement?.hasAttribute("data-cancel")).toBe(true));
    expect(m.finaliseNote).not.toHaveBeenCalled();
  });
});

describe("Ctrl+Shift+E", () => {
  it("ends the running session after the Undo time, and does nothing when none runs", async () => {
    vi.useFakeTimers();
    try {
      show(ClockStrip, {});
      press("E", { ctrlKey: true, shiftKey: true });
      expect(m.endSession).not.toHaveBeenCalled();
      clock.set(
        idleClock({
          running: true,
          started_at: new Date(Date.now() - 60_000).toISOString(),
          ends_at: new Date(Date.now() + 60_000).toISOString(),
        }),
      );
      flushSync();
      expect(document.querySelector("#clock-end")?.getAttribute("aria-keyshortcuts")).toBe("Control+Shift+E");
      m.endSession.mockResolvedValue(idleClock());
      const e = press("E", { ctrlKey: true, shiftKey: true });
      expect(e.defaultPrevented).toBe(true);
      flushSync();
      expect(document.querySelector("#clock-undo")?.textContent).toBe("Undo");
      expect(m.endSession).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(m.endSession).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
      localStorage.clear();
    }
  });
});

describe("Ctrl + / Ctrl − / Ctrl 0", () => {
  it("change the text size on any screen", async () => {
    m.status.mockRejectedValue({ kind: "internal", message: "No core here." });
    app.screen = "loading";
    show(App, {});
    await vi.waitFor(() => expect(app.screen).toBe("error"));
    const root = document.documentElement;
    press("+", { ctrlKey: true, shiftKey: true });
    expect(root.style.fontSize).toBe("17.6px");
    press("=", { ctrlKey: true });
    expect(root.style.fontSize).toBe("20px");
    press("-", { ctrlKey: true });
    expect(root.style.fontSize).toBe("17.6px");
    press("0", { ctrlKey: true });
    expect(root.style.fontSize).toBe("16px");
    localStorage.clear();
  });
});
