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
      markAppointment: vi.fn(),
      workTodo: vi.fn(),
      startWalkIn: vi.fn(),
      startSession: vi.fn(),
      accessRequests: vi.fn(),
      audit: vi.fn(),
      verifyAudit: vi.fn(),
      exportAudit: vi.fn(),
      clientFile: vi.fn(),
      clientHistory: vi.fn(),
      closeClient: vi.fn(),
    },
  };
});

import { api, type AuditEntry } from "./api";
import { app } from "./app.svelte";
import { formatDate, isoDay } from "./format";
import { idleClock, rightsFile } from "./testing";
import Audit from "../screens/Audit.svelte";
import ClientFile from "../screens/ClientFile.svelte";
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
    await vi.waitFor(() => expect(document.querySelectorAll("#book-client option")).toHaveLength(2));
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

describe("the audit log in words", () => {
  function entry(seq: number, action: string, detail: string | null, client_code: string | null = null): AuditEntry {
    return { ...trail(1)[0], seq, action, detail, client_code, hash: String(seq) };
  }
  const listed = [
    entry(1, "vault.init", "key_store=passphrase"),
    entry(2, "vault.unlock", "key_store=passphrase"),
    entry(3, "appointment.list", "count=0"),
    entry(4, "note.finalise", null, "C-7KQ2"),
    entry(5, "client.read", null, "C-7KQ2"),
    entry(6, "thing.from_a_later_core", "x=1"),
  ];
  const actions = () => [...document.querySelectorAll("#audit tbody td.action")].map((td) => td.textContent!.replace(/\s+/g, " ").trim());

  it("labels actions for a person, keeps the raw action, and hides routine views until asked", async () => {
    m.audit.mockResolvedValue(listed);
    show(Audit, {});
    await vi.waitFor(() => expect(seqs()).toEqual([6, 4, 1]));
    expect(actions()).toEqual(["thing.from_a_later_core", "Finalised a note", "Created the records vault, opened with the passphrase"]);
    expect(text("#audit .count")).toBe("6 entries, newest first; 3 routine views are hidden.");
    expect($('#audit tr[data-action="note.finalise"] td.action')?.getAttribute("title")).toBe("note.finalise");
    expect($("label[for=audit-routine]")?.textContent).toBe("Show routine views");

    $<HTMLInputElement>("#audit-routine")!.click();
    flushSync();
    expect(seqs()).toEqual([6, 5, 4, 3, 2, 1]);
    expect(actions()).toContain("Unlocked with the passphrase");
    expect(actions()).toContain("Viewed the day's sessions");
    expect(text('#audit tr[data-action="appointment.list"] td.detail')).toBe("0 sessions");
    expect(text("#audit .count")).toBe("6 entries, newest first.");

    // The technical names, for whoever needs them.
    $<HTMLInputElement>("#audit-raw")!.click();
    flushSync();
    expect(text('#audit tr[data-action="vault.unlock"] td.action')).toBe("Unlocked with the passphrase vault.unlock");
    expect(text('#audit tr[data-action="vault.unlock"] td.detail')).toBe("key_store=passphrase");
  });

  it("names the computer of each entry once another computer's are listed, even where numbers repeat", async () => {
    const laptop = (seq: number, at: string) => ({
      ...entry(seq, "client.edit", "fields=email", "C-7KQ2"),
      at,
      device_id: "d2",
      device_name: "Laptop",
      hash: `laptop-${seq}`,
    });
    const here = (e: AuditEntry) => ({ ...e, device_name: "this computer" });
    m.audit.mockResolvedValue([
      here(entry(1, "vault.init", "key_store=passphrase")),
      laptop(1, "2026-03-02T09:00:30Z"),
      here({ ...entry(4, "note.finalise", null, "C-7KQ2"), at: "2026-03-02T09:01:00Z" }),
    ]);
    show(Audit, {});
    await vi.waitFor(() => expect(document.querySelectorAll("#audit tbody tr").length).toBe(3));
    const headers = [...document.querySelectorAll("#audit thead th")].map((th) => th.textContent);
    expect(headers).toContain("Computer");
    expect(text('#audit tr[data-action="client.edit"] td:nth-child(3)')).toBe("Laptop");
    expect(text('#audit tr[data-action="note.finalise"] td:nth-child(3)')).toBe("this computer");
  });

  it("shows no computer column while there is one computer", async () => {
    m.audit.mockResolvedValue(listed);
    show(Audit, {});
    await vi.waitFor(() => expect(document.querySelectorAll("#audit tbody tr").length).toBeGreaterThan(0));
    const headers = [...document.querySelectorAll("#audit thead th")].map((th) => th.textContent);
    expect(headers).not.toContain("Computer");
  });

  it("offers the filter's actions in words, with their raw values", async () => {
    m.audit.mockResolvedValue([]);
    show(Audit, {});
    await vi.waitFor(() => expect(text("#audit .count")).toBe("No entries."));
    const option = (v: string) => $<HTMLOptionElement>(`#audit-action option[value="${v}"]`)?.textContent?.trim();
    expect(option("appointment.create")).toBe("Booked a session");
    expect(option("note.")).toBe("Session notes: everything");
    expect(option("search")).toBe("Searched the notes");
    const groups = [...document.querySelectorAll("#audit-action optgroup")].map((g) => g.getAttribute("label"));
    expect(groups).toContain("Bookings");
    expect(groups.join(" ")).not.toMatch(/Appointment/);
  });
});

describe("marking a session on Today", () => {
  it("a booked session is marked from its row, and the day reloads", async () => {
    const booked = {
      id: "a1",
      client_code: "C-7KQ2",
      client_name: "Siân O'Brien",
      starts_at: "2026-03-03T10:00:00Z",
      ends_at: "2026-03-03T10:50:00Z",
      status: "scheduled" as const,
    };
    m.today.mockResolvedValue({ date: isoDay(), appointments: [booked], next: null, clock: idleClock() });
    m.accessRequests.mockResolvedValue([]);
    m.markAppointment.mockResolvedValue({ ...booked, status: "cancelled_late" });
    show(Today, {});
    await vi.waitFor(() => expect($("#mark-a1")).not.toBeNull());
    // Labelled for a screen reader with whom and when.
    expect(text('label[for="mark-a1"]')).toContain("C-7KQ2");
    const select = $("#mark-a1") as HTMLSelectElement;
    const before = app.dayVersion;
    m.today.mockResolvedValue({
      date: isoDay(),
      appointments: [{ ...booked, status: "cancelled_late" }],
      next: null,
      clock: idleClock(),
    });
    select.value = "cancelled_late";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    await vi.waitFor(() => expect(m.markAppointment).toHaveBeenCalledWith("a1", "cancelled_late", null));
    await vi.waitFor(() => expect(app.dayVersion).toBe(before + 1));
    await vi.waitFor(() => expect(text("#today .appt .badge")).toBe("Cancelled late"));
    expect($("#mark-a1")).toBeNull();
  });
});

describe("Today's rows open the session panel", () => {
  it("More… on a row opens the panel for that session", async () => {
    const booked = {
      id: "a1",
      client_code: "C-7KQ2",
      client_name: "Siân O'Brien",
      starts_at: "2026-03-03T10:00:00Z",
      ends_at: "2026-03-03T10:50:00Z",
      status: "scheduled" as const,
    };
    m.today.mockResolvedValue({ date: isoDay(), appointments: [booked], next: null, clock: idleClock() });
    m.accessRequests.mockResolvedValue([]);
    m.workTodo.mockResolvedValue({ to_mark: [], notes_to_finish: [] });
    show(Today, {});
    await vi.waitFor(() => expect($("#today .appt .more")).not.toBeNull());
    expect($("#today .appt .more")?.getAttribute("aria-label")).toContain("C-7KQ2");
    await click("#today .appt .more");
    expect(text("#panel-h")).toBe("C-7KQ2 Siân O'Brien");
    expect($("#panel-move")).not.toBeNull();
  });
});

describe("a walk-in, on Today", () => {
  it("starts a session now for a chosen client, with no booking", async () => {
    m.today.mockResolvedValue({ date: isoDay(), appointments: [], next: null, clock: idleClock() });
    m.accessRequests.mockResolvedValue([]);
    m.workTodo.mockResolvedValue({ to_mark: [], notes_to_finish: [] });
    m.clients.mockResolvedValue([{ code: "C-7KQ2", status: "active", full_name: "Siân O'Brien", ended_on: null }]);
    m.startWalkIn.mockResolvedValue(idleClock({ running: true, client_code: "C-7KQ2", appointment_id: "w1" }));
    show(Today, {});
    await vi.waitFor(() => expect(document.querySelectorAll("#adhoc-client option")).toHaveLength(2));
    expect(text("#start-adhoc")).toBe("Start ad-hoc session");
    const select = $<HTMLSelectElement>("#adhoc-client")!;
    select.value = "C-7KQ2";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    flushSync();
    expect(text("#start-adhoc")).toBe("Start session with C-7KQ2");
    await click("#start-adhoc");
    await vi.waitFor(() => expect(m.startWalkIn).toHaveBeenCalledWith("C-7KQ2", app.settings.default_session_minutes));
    expect(m.startSession).not.toHaveBeenCalled();
  });
});

describe("what is left to do, on Today", () => {
  it("lists sessions from before today to mark and notes to finish, each reachable", async () => {
    const old = {
      id: "old1",
      client_code: "C-7KQ2",
      client_name: "Siân O'Brien",
      starts_at: "2026-03-02T10:00:00Z",
      ends_at: "2026-03-02T10:50:00Z",
      status: "scheduled" as const,
    };
    m.today.mockResolvedValue({ date: isoDay(), appointments: [], next: null, clock: idleClock() });
    m.accessRequests.mockResolvedValue([]);
    m.workTodo.mockResolvedValue({
      to_mark: [old],
      notes_to_finish: [
        { kind: "draft", note_id: "n1", client_code: "C-7KQ2", appointment_id: null, created_at: "2026-03-01T09:00:00Z" },
        { kind: "no_note", appointment_id: "a9", client_code: "C-4HJ8", starts_at: "2026-03-01T11:00:00Z" },
      ],
    });
    show(Today, {});
    await vi.waitFor(() => expect($("#todo")).not.toBeNull());
    expect(text("#to-mark-h")).toBe("Mark 1 session from before today");
    expect(text("#to-finish-h")).toBe("Notes to finish (2)");
    expect(text('label[for="mark-old1"]')).toContain("C-7KQ2");
    const open = [...document.querySelectorAll<HTMLButtonElement>("#todo button")];
    expect(open.map((b) => b.getAttribute("aria-label"))).toEqual([
      "Open the draft note for C-7KQ2",
      `Write the note for C-4HJ8's session of ${formatDate("2026-03-01T11:00:00Z")}`,
    ]);
    open[0].click();
    expect(app.view).toEqual({ name: "client", code: "C-7KQ2", tab: "notes", noteId: "n1" });
    // "Write note": the client's notes, asked to open that session's note.
    open[1].click();
    expect(app.view).toEqual({ name: "client", code: "C-4HJ8", tab: "notes" });
    expect(app.newNoteFor).toBe("C-4HJ8");
    expect(app.newNoteSession).toBe("a9");
  });

  it("shows the oldest five of a long list, and all of it on asking", async () => {
    const booked = (i: number) => ({
      id: `old${i}`,
      client_code: "C-7KQ2",
      client_name: null,
      starts_at: `2026-03-0${i}T10:00:00Z`,
      ends_at: `2026-03-0${i}T10:50:00Z`,
      status: "scheduled" as const,
    });
    m.today.mockResolvedValue({ date: isoDay(), appointments: [], next: null, clock: idleClock() });
    m.accessRequests.mockResolvedValue([]);
    m.workTodo.mockResolvedValue({ to_mark: [1, 2, 3, 4, 5, 6, 7].map(booked), notes_to_finish: [] });
    show(Today, {});
    await vi.waitFor(() => expect($("#todo")).not.toBeNull());
    expect(text("#to-mark-h")).toBe("Mark 7 sessions from before today");
    const rows = () => [...document.querySelectorAll("#to-mark-list select")].map((s) => s.id);
    expect(rows()).toEqual(["mark-old1", "mark-old2", "mark-old3", "mark-old4", "mark-old5"]);
    const more = $("#to-mark-all") as HTMLButtonElement;
    expect(more.textContent?.trim()).toBe("Show all 7");
    expect(more.getAttribute("aria-expanded")).toBe("false");
    more.click();
    await tick();
    expect(rows()).toHaveLength(7);
    expect(more.getAttribute("aria-expanded")).toBe("true");
    expect(more.textContent?.trim()).toBe("Show only the oldest 5");
    expect($("#to-finish-all")).toBeNull();
  });

  it("shows nothing when nothing is left", async () => {
    m.today.mockResolvedValue({ date: isoDay(), appointments: [], next: null, clock: idleClock() });
    m.accessRequests.mockResolvedValue([]);
    m.workTodo.mockResolvedValue({ to_mark: [], notes_to_finish: [] });
    show(Today, {});
    await vi.waitFor(() => expect(m.workTodo).toHaveBeenCalled());
    await tick();
    expect($("#todo")).toBeNull();
  });
});

describe("one set of words", () => {
  it("Today lists sessions, booked ones as Booked", async () => {
    m.today.mockResolvedValue({
      date: isoDay(),
      appointments: [
        {
          id: "a1",
          client_code: "C-7KQ2",
          client_name: "Siân O'Brien",
          starts_at: "2026-03-03T10:00:00Z",
          ends_at: "2026-03-03T10:50:00Z",
          status: "scheduled",
        },
      ],
      next: null,
      clock: idleClock(),
    });
    m.accessRequests.mockResolvedValue([]);
    show(Today, {});
    await vi.waitFor(() => expect($("#today .appt")).not.toBeNull());
    expect([...document.querySelectorAll("#today h2")].map((h) => h.textContent)).toContain("Sessions");
    expect(text("#today .appt .badge")).toBe("Booked");
    expect(text("#today")).not.toMatch(/Appointment|Scheduled/);
  });

  it("the client file ends therapy, and says so", async () => {
    const file = rightsFile();
    file.appointments = [
      { id: "a1", client_code: "C-7KQ2", starts_at: "2026-03-03T10:00:00Z", ends_at: "2026-03-03T10:50:00Z", status: "scheduled" },
    ];
    m.clientFile.mockResolvedValue(file);
    m.clientHistory.mockResolvedValue([]);
    show(ClientFile, { code: "C-7KQ2", tab: "sessions" });
    await vi.waitFor(() => expect($("#close-client")).not.toBeNull());
    expect(text("#close-client")).toBe("End therapy…");
    expect(text("#panel-sessions tbody")).toContain("Booked");
    await click("#close-client");
    await vi.waitFor(() => expect($("dialog")).not.toBeNull());
    expect(text("dialog h2")).toBe("End therapy with this client?");
    expect(text("#confirm-ok")).toBe("End therapy");
    expect(text("#client-file")).not.toMatch(/Close client|Scheduled/);
  });
});
