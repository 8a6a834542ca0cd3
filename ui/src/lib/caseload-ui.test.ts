// The client list as a caseload: name first (code muted), next session, last seen, sessions
// attended, notes to finish; sorted by any column, by keyboard as by mouse.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { caseload: vi.fn() } };
});

import { api, type CaseloadEntry } from "./api";
import { app } from "./app.svelte";
import { sortCaseload } from "./clients";
import Clients from "../screens/Clients.svelte";

const entry = (code: string, full_name: string, over: Partial<CaseloadEntry> = {}): CaseloadEntry => ({
  code,
  status: "active",
  full_name,
  ended_on: null,
  next_session: null,
  last_seen: null,
  attended: 0,
  notes_to_finish: 0,
  ...over,
});
const ada = entry("C-AAAA", "Ada Example", { next_session: "2027-03-17T10:00:00Z", last_seen: "2027-03-03T10:00:00Z", attended: 12, notes_to_finish: 2 });
const ben = entry("C-BBBB", "Ben Sample", { next_session: "2027-03-11T09:00:00Z", last_seen: "2027-02-01T10:00:00Z", attended: 30 });
const cal = entry("C-CCCC", "Cal New", { notes_to_finish: 1 });

describe("sorting the caseload", () => {
  const codes = (by: Parameters<typeof sortCaseload>[1]["by"], descending = false) =>
    sortCaseload([cal, ada, ben], { by, descending }).map((e) => e.code);
  it("by name, next session (soonest first), last seen (latest first), attended and notes (most first)", () => {
    expect(codes("name")).toEqual(["C-AAAA", "C-BBBB", "C-CCCC"]);
    expect(codes("next")).toEqual(["C-BBBB", "C-AAAA", "C-CCCC"]);
    expect(codes("last")).toEqual(["C-AAAA", "C-BBBB", "C-CCCC"]);
    expect(codes("attended")).toEqual(["C-BBBB", "C-AAAA", "C-CCCC"]);
    expect(codes("to_finish")).toEqual(["C-AAAA", "C-CCCC", "C-BBBB"]);
  });
  it("turned round, a client with no date still comes last", () => {
    expect(codes("next", true)).toEqual(["C-AAAA", "C-BBBB", "C-CCCC"]);
    expect(codes("name", true)).toEqual(["C-CCCC", "C-BBBB", "C-AAAA"]);
  });
});

let component: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.clearAllMocks();
  app.screen = "main";
  app.view = { name: "clients" };
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});

describe("the client list", () => {
  it("shows each client's columns, sorts by a heading, and opens a file", async () => {
    vi.mocked(api.caseload).mockResolvedValue([ada, ben, cal]);
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(Clients, { target, props: {} });
    flushSync();
    await vi.waitFor(() => expect(document.querySelectorAll("#caseload tbody tr")).toHaveLength(3));
    const rows = () =>
      [...document.querySelectorAll("#caseload tbody tr")].map((r) =>
        [...r.querySelectorAll("td")].map((td) => td.textContent?.replace(/\s+/g, " ").trim()),
      );
    expect(rows()[0]).toEqual(["Ada Example C-AAAA", "Wed 17 Mar 2027, 10:00", "03/03/2027", "12", "2"]);
    expect(rows()[2]).toEqual(["Cal New C-CCCC", "—", "—", "0", "1"]);
    const nameHead = document.querySelector("#sort-name")!.closest("th")!;
    expect(nameHead.getAttribute("aria-sort")).toBe("ascending");

    (document.querySelector("#sort-next") as HTMLButtonElement).click();
    flushSync();
    expect(rows().map((r) => r[0])).toEqual(["Ben Sample C-BBBB", "Ada Example C-AAAA", "Cal New C-CCCC"]);
    expect(document.querySelector("#sort-next")!.closest("th")!.getAttribute("aria-sort")).toBe("ascending");
    expect(nameHead.getAttribute("aria-sort")).toBeNull();
    (document.querySelector("#sort-next") as HTMLButtonElement).click();
    flushSync();
    expect(document.querySelector("#sort-next")!.closest("th")!.getAttribute("aria-sort")).toBe("descending");

    (document.querySelector('.client-row[data-code="C-BBBB"]') as HTMLButtonElement).click();
    expect(app.view).toMatchObject({ name: "client", code: "C-BBBB" });
  });
});
