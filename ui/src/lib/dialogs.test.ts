import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      templates: vi.fn(),
      createNote: vi.fn(),
      saveNote: vi.fn(),
      finaliseNote: vi.fn(),
      discardNote: vi.fn(),
      clientFile: vi.fn(),
      clientHistory: vi.fn(),
    },
  };
});

import { api } from "./api";
import { app } from "./app.svelte";
import { srcText } from "./css-testing";
import { rightsFile } from "./testing";
import ConfirmDialog from "../components/ConfirmDialog.svelte";
import NoteEditor from "../components/NoteEditor.svelte";
import ClientFile from "../screens/ClientFile.svelte";

const m = vi.mocked(api);
let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});
beforeEach(() => {
  vi.clearAllMocks();
  app.screen = "main";
  app.templates = { soap: ["subjective", "objective", "assessment", "plan"], dap: [], birp: [], free: ["text"] };
});

function show<P extends Record<string, unknown>>(C: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(C as Component<Record<string, unknown>>, { target, props });
  flushSync();
}

const focused = () => document.activeElement as HTMLElement | null;
const isCancel = (el: HTMLElement | null) => el?.tagName === "BUTTON" && el.hasAttribute("data-cancel");

describe("confirmation dialogs", () => {
  it("open with Cancel focused, not the confirming button", async () => {
    const onconfirm = vi.fn();
    show(ConfirmDialog, { open: true, title: "Discard this draft?", confirmLabel: "Discard draft", danger: true, onconfirm });
    await vi.waitFor(() => expect(isCancel(focused())).toBe(true));
    expect(focused()?.textContent).toBe("Cancel");
    expect(onconfirm).not.toHaveBeenCalled();
  });

  it("Discard draft… and Finalise… in the note editor focus Cancel", async () => {
    m.templates.mockResolvedValue(app.templates!);
    const note = rightsFile().notes[0]; // a draft
    show(NoteEditor, { code: "C-7KQ2", note, onclose: vi.fn() });
    for (const [open, title] of [
      ["#note-discard", "Discard this draft?"],
      ["#note-finalise", "Finalise this note?"],
    ]) {
      document.querySelector<HTMLButtonElement>(open)!.click();
      flushSync();
      await tick();
      await vi.waitFor(() => expect(isCancel(focused())).toBe(true));
      expect(focused()?.closest("dialog")?.querySelector("h2")?.textContent).toBe(title);
      focused()!.click(); // Cancel
      flushSync();
      await tick();
      expect(document.querySelector("dialog")).toBeNull();
    }
    expect(m.discardNote).not.toHaveBeenCalled();
    expect(m.finaliseNote).not.toHaveBeenCalled();
  });

  it("End therapy… focuses Cancel, not the date already filled in", async () => {
    m.clientFile.mockResolvedValue(rightsFile());
    m.clientHistory.mockResolvedValue([]);
    show(ClientFile, { code: "C-7KQ2", tab: "sessions" });
    await vi.waitFor(() => expect(document.querySelector("#close-client")).not.toBeNull());
    document.querySelector<HTMLButtonElement>("#close-client")!.click();
    flushSync();
    await vi.waitFor(() => expect(isCancel(focused())).toBe(true));
  });

  it("only a field that must be filled in first takes the focus instead", () => {
    // Every ConfirmDialog in the app, and the fields that may take its first focus: each
    // is empty when the dialog opens and required, so Enter there confirms nothing.
    const allowed = ['id="erase-reason"', 'id="offsite-delete-password"', 'DateInput id="extend-until"'];
    const files = ["components", "screens"].flatMap((d) =>
      readdirSync(join(__dirname, "..", d))
        .filter((f) => f.endsWith(".svelte"))
        .map((f) => `${d}/${f}`),
    );
    let dialogs = 0;
    const grabbers: string[] = [];
    for (const f of files) {
      const text = srcText(f);
      for (const m of text.matchAll(/<ConfirmDialog\b[\s\S]*?(?:\/>|<\/ConfirmDialog>)/g)) {
        dialogs++;
        for (const tag of m[0].matchAll(/<[A-Za-z][^<>]*?(?:data-autofocus|\bautofocus)\b[^<>]*>/g)) {
          if (!allowed.some((a) => tag[0].includes(a))) grabbers.push(`${f}: ${tag[0].slice(0, 60)}`);
        }
      }
    }
    expect(dialogs).toBeGreaterThanOrEqual(9);
    expect(grabbers).toEqual([]);
  });
});
