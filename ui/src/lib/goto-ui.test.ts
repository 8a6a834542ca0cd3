// Ctrl+K "Go to client": the matching, and the dialog from anywhere in the app.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      touch: vi.fn(),
      clock: vi.fn(),
      today: vi.fn(),
      workTodo: vi.fn(),
      accessRequests: vi.fn(),
      clients: vi.fn(),
      clientFile: vi.fn(),
      clientHistory: vi.fn(),
    },
  };
});

import { api, type ClientSummary } from "./api";
import { app } from "./app.svelte";
import { clock } from "./clock.svelte";
import { matchClients } from "./clients";
import { isoDay } from "./format";
import { idleClock } from "./testing";
import MainApp from "../screens/MainApp.svelte";

const m = vi.mocked(api);
const people: ClientSummary[] = [
  { code: "C-7KQ2", status: "active", full_name: "Siân O'Brien", ended_on: null },
  { code: "C-4HJ8", status: "active", full_name: "Tom Briggs", ended_on: null },
  { code: "C-9XBR", status: "closed", full_name: "Bridget Ames", ended_on: "2026-01-10" },
  { code: "C-BRAM", status: "active", full_name: "Ann Lee", ended_on: null },
];

describe("matching a client", () => {
  const codes = (q: string) => matchClients(people, q).map((c) => c.code);
  it("finds by name or code, ignoring case, accents and the dash", () => {
    expect(codes("sian")).toEqual(["C-7KQ2"]);
    expect(codes("c7kq")).toEqual(["C-7KQ2"]);
    expect(codes("c-4hj8")).toEqual(["C-4HJ8"]);
    expect(codes("zzz")).toEqual([]);
  });
  it("puts a start of a name or code before a match inside it, and ended therapy after", () => {
    // "br": the code C-BRAM (its "C-" need not be typed) and Briggs start with it, so does
    // Bridget (therapy ended, so after them); O'Brien only holds it.
    expect(codes("br")).toEqual(["C-BRAM", "C-4HJ8", "C-9XBR", "C-7KQ2"]);
  });
  it("lists everyone, in therapy first, when nothing is typed", () => {
    expect(codes("")).toEqual(["C-BRAM", "C-7KQ2", "C-4HJ8", "C-9XBR"]);
  });
});

let component: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.clearAllMocks();
  m.touch.mockResolvedValue(undefined);
  m.clock.mockResolvedValue(idleClock());
  m.today.mockResolvedValue({ date: isoDay(), appointments: [], next: null, clock: idleClock() });
  m.workTodo.mockResolvedValue({ to_mark: [], notes_to_finish: [] });
  m.accessRequests.mockResolvedValue([]);
  m.clients.mockResolvedValue(people);
  app.screen = "main";
  app.view = { name: "today" };
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  clock.reset();
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
function press(key: string, over: KeyboardEventInit = {}, target: EventTarget = document.body) {
  const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...over });
  target.dispatchEvent(e);
  flushSync();
  return e;
}

describe("Ctrl+K", () => {
  it("opens Go to client from anywhere; typing narrows, arrows choose, Enter opens the file", async () => {
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(MainApp, { target, props: {} });
    flushSync();
    await vi.waitFor(() => expect($("#today-h")).not.toBeNull());
    const e = press("k", { ctrlKey: true });
    expect(e.defaultPrevented).toBe(true);
    expect($("#goto")).not.toBeNull();
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("goto-input"));
    await vi.waitFor(() => expect(document.querySelectorAll("#goto-list [role=option]")).toHaveLength(4));
    expect(m.clients).toHaveBeenCalledWith(true); // ended therapy too: their file still opens

    const input = $<HTMLInputElement>("#goto-input")!;
    input.value = "br";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    flushSync();
    const options = () => [...document.querySelectorAll("#goto-list [role=option]")].map((o) => o.id);
    expect(options()).toEqual(["goto-C-BRAM", "goto-C-4HJ8", "goto-C-9XBR", "goto-C-7KQ2"]);
    expect(input.getAttribute("aria-activedescendant")).toBe("goto-C-BRAM");
    press("ArrowDown", {}, input);
    expect(input.getAttribute("aria-activedescendant")).toBe("goto-C-4HJ8");
    expect($("#goto-C-4HJ8")?.getAttribute("aria-selected")).toBe("true");
    press("ArrowUp", {}, input);
    press("ArrowUp", {}, input); // wraps to the last
    expect(input.getAttribute("aria-activedescendant")).toBe("goto-C-7KQ2");
    press("ArrowDown", {}, input);
    press("ArrowDown", {}, input);
    press("Enter", {}, input);
    expect(app.view).toEqual({ name: "client", code: "C-4HJ8" });
    expect($("#goto")).toBeNull();
  });

  it("says when nothing matches, and the menu's button opens it too", async () => {
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(MainApp, { target, props: {} });
    flushSync();
    $("#goto-open")!.click();
    flushSync();
    await vi.waitFor(() => expect(document.querySelectorAll("#goto-list [role=option]")).toHaveLength(4));
    const input = $<HTMLInputElement>("#goto-input")!;
    input.value = "nobody";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    flushSync();
    expect($("#goto [role=status]")?.textContent?.trim()).toBe("No client matches.");
  });
});
