import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      today: vi.fn(),
      clients: vi.fn(),
      addAppointment: vi.fn(),
      accessRequests: vi.fn(),
      audit: vi.fn(),
      verifyAudit: vi.fn(),
      exportAudit: vi.fn(),
    },
  };
});

import { api, type AuditEntry } from "./api";
import { app } from "./app.svelte";
import { isoDay } from "./format";
import { idleClock } from "./testing";
import Audit from "../screens/Audit.svelte";
import Today from "../screens/Today.svelte";

const m = vi.mocked(api);

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});
beforeEach(() => {
  vi.clearAllMocks();
  app.view = { name: "today" };
  app.screen = "main";
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

function type(sel: string, value: string) {
  const el = $<HTMLInputElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
}

async function click(sel: string) {
  $(sel)!.click();
  flushSync();
  await tick();
}

function show<P extends Record<string, unknown>>(C: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(C as Component<Record<string, unknown>>, { target, props });
  flushSync();
}

/** Entries 1…n of a trail, oldest first (as the core lists them). */
function trail(n: number, action = "note.create"): AuditEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    at: `2026-03-02T${String(9 + Math.floor(i / 60)).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}:00Z`,
    device_id: "d1",
    action,
    client_code: "C-7KQ2",
    object_id: null,
    detail: null,
    prev_hash: "0",
    hash: String(i + 1),
  }));
}

const seqs = () => [...document.querySelectorAll("#audit tbody tr td:first-child")].map((td) => Number(td.textContent));

describe("the audit log's counts", () => {
  it("shows the newest entry first", async () => {
    m.audit.mockResolvedValue(trail(3));
    show(Audit, {});
    await vi.waitFor(() => expect(text("#audit .count")).toBe("3 entries, newest first."));
    expect(seqs()).toEqual([3, 2, 1]);
  });

  it("says a full page is the latest 1000, not the first", async () => {
    m.audit.mockResolvedValue(trail(1200).slice(200));
    show(Audit, {});
    await vi.waitFor(() => expect(text("#audit .count")).toContain("The latest 1000 entries, newest first."));
    expect(seqs()[0]).toBe(1200);
    expect(text("#audit .count")).not.toMatch(/first 1000/);
  });

  it("says the verified count includes the entry recording this view", async () => {
    m.audit.mockResolvedValue(trail(37));
    m.verifyAudit.mockResolvedValue({ entries: 38, head_hash: "38" });
    show(Audit, {});
    await vi.waitFor(() => expect(text("#audit .count")).toBe("37 entries, newest first."));
    await click("#audit-verify");
    await vi.waitFor(() => expect(text("#audit-result")).toContain("verified"));
    expect(text("#audit-result")).toBe(
      "Audit trail verified: all 38 entries, chain intact. That includes one entry written after the list above was read: the one recording that you viewed it.",
    );
  });

  it("says a filtered list is not the whole trail the check covers", async () => {
    m.audit.mockResolvedValue(trail(37));
    m.verifyAudit.mockResolvedValue({ entries: 90, head_hash: "90" });
    show(Audit, {});
    await vi.waitFor(() => expect(text("#audit .count")).toBe("37 entries, newest first."));
    type("#audit-client", "c-7kq2");
    $<HTMLFormElement>("#audit form.filters")!.requestSubmit();
    flushSync();
    await vi.waitFor(() => expect(text("#audit .count")).toBe("37 entries match the filter, newest first."));
    expect(m.audit).toHaveBeenLastCalledWith(expect.objectContaining({ client_code: "C-7KQ2" }));
    await click("#audit-verify");
    await vi.waitFor(() => expect(text("#audit-result")).toContain("verified"));
    expect(text("#audit-result")).toBe(
      "Audit trail verified: all 90 entries, chain intact. That is the whole trail, not only the entries the filter shows.",
    );
  });
});

describe("booking a session on Today", () => {
  it("names the client booked, not only the code", async () => {
    m.today.mockResolvedValue({ date: isoDay(), appointments: [], next: null, clock: idleClock() });
    m.accessRequests.mockResolvedValue([]);
    m.clients.mockResolvedValue([
      { code: "C-XEHF", status: "active", full_name: "Siân O'Brien", ended_on: null },
      { code: "C-NONA", status: "active", full_name: null, ended_on: null },
    ]);
    m.addAppointment.mockResolvedValue({
      id: "a1",
      client_code: "C-XEHF",
      starts_at: "2026-03-03T10:00:00Z",
      ends_at: "2026-03-03T10:50:00Z",
      status: "scheduled",
    });
    show(Today, {});
    await click("#book-open");
    await vi.waitFor(() => expect($("#book-form")).not.toBeNull());
    $<HTMLFormElement>("#book-form")!.requestSubmit();
    flushSync();
    await vi.waitFor(() => expect(text("#book-form ~ .msg")).toContain("Booked"));
    expect(text("#book-form ~ .msg")).toBe("Booked Siân O'Brien on 03/03/2026, 10:00–10:50.");

    // A client with no name known: the code, as before.
    m.addAppointment.mockResolvedValue({
      id: "a2",
      client_code: "C-NONA",
      starts_at: "2026-03-03T11:00:00Z",
      ends_at: "2026-03-03T11:50:00Z",
      status: "scheduled",
    });
    $<HTMLFormElement>("#book-form")!.requestSubmit();
    flushSync();
    await vi.waitFor(() => expect(text("#book-form ~ .msg")).toBe("Booked C-NONA on 03/03/2026, 11:00–11:50."));
  });
});
