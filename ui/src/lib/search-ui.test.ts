// Search that says when: each result with its date, kind and client; narrowed by client and
// by a range of days (typed the UK way).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { search: vi.fn(), clients: vi.fn() } };
});

import { api, type SearchHit } from "./api";
import { app } from "./app.svelte";
import Search from "../screens/Search.svelte";

const m = vi.mocked(api);
let component: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.clearAllMocks();
  app.screen = "main";
  app.view = { name: "search" };
  m.clients.mockResolvedValue([
    { code: "C-7KQ2", status: "active", full_name: "Siân O'Brien", ended_on: null },
    { code: "C-4HJ8", status: "closed", full_name: "Tom Briggs", ended_on: "2026-01-10" },
  ]);
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";
function type(sel: string, value: string, event = "input") {
  const el = $<HTMLInputElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event(event, { bubbles: true }));
  flushSync();
}

const hit: SearchHit = {
  client_code: "C-7KQ2",
  client_name: "Siân O'Brien",
  kind: "note",
  object_id: "n1",
  note_id: "n1",
  snippet: "the [lighthouse] dream",
  at: "2027-01-12T10:00:00Z",
};

describe("search", () => {
  it("shows each result's date, kind and client, and narrows by client and days", async () => {
    m.search.mockResolvedValue([hit]);
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(Search, { target, props: {} });
    flushSync();
    await vi.waitFor(() => expect(document.querySelectorAll("#search-client option")).toHaveLength(3));
    type("#search-input", "lighthouse");
    $<HTMLFormElement>(".search-form")!.requestSubmit();
    await vi.waitFor(() => expect(m.search).toHaveBeenCalledWith("lighthouse", { client: null, from: null, to: null }));
    await vi.waitFor(() => expect(text("#search-results .top")).toBe("12/01/2027 Session note Siân O'Brien C-7KQ2"));

    type("#search-client", "C-7KQ2", "change");
    await vi.waitFor(() => expect(m.search).toHaveBeenLastCalledWith("lighthouse", { client: "C-7KQ2", from: null, to: null }));
    type("#search-from", "01/01/2027");
    type("#search-to", "31/01/2027");
    $<HTMLFormElement>(".search-form")!.requestSubmit();
    await vi.waitFor(() =>
      expect(m.search).toHaveBeenLastCalledWith("lighthouse", { client: "C-7KQ2", from: "2027-01-01", to: "2027-01-31" }),
    );
    await vi.waitFor(() => expect(text("[role=status]")).toBe("1 result for “lighthouse” (narrowed)."));

    // A date that is not one is said, not sent.
    type("#search-from", "31/02/2027");
    const calls = m.search.mock.calls.length;
    $<HTMLFormElement>(".search-form")!.requestSubmit();
    await vi.waitFor(() => expect(text("[role=status]")).toBe("Enter the dates as dd/mm/yyyy, or leave them empty."));
    expect(m.search.mock.calls.length).toBe(calls);

    $("#search-clear")!.click();
    flushSync();
    await vi.waitFor(() => expect(m.search).toHaveBeenLastCalledWith("lighthouse", { client: null, from: null, to: null }));
  });
});
