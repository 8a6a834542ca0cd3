// Booking from a client's file (one session or a series) and the file's sessions: each with
// its note's state, Write note for an attended one, and the session panel.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      clientFile: vi.fn(),
      clientHistory: vi.fn(),
      clients: vi.fn(),
      addAppointment: vi.fn(),
      addSeries: vi.fn(),
      markAppointment: vi.fn(),
      startSession: vi.fn(),
      startWalkIn: vi.fn(),
      templates: vi.fn(),
    },
  };
});

import { api, type Appointment, type ClientFile as File } from "./api";
import { app } from "./app.svelte";
import { formatDate } from "./format";
import { DEFAULT_SETTINGS } from "./settings";
import { clock } from "./clock.svelte";
import { idleClock, rightsFile } from "./testing";
import ClientFile from "../screens/ClientFile.svelte";

const m = vi.mocked(api);
let component: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.clearAllMocks();
  app.screen = "main";
  app.view = { name: "client", code: "C-7KQ2", tab: "sessions" };
  app.settings = { ...DEFAULT_SETTINGS, default_session_minutes: 50 };
  m.clientHistory.mockResolvedValue([]);
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  app.newNoteFor = null;
  app.newNoteSession = null;
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";
function type(sel: string, value: string, event = "input") {
  const el = $<HTMLInputElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event(event, { bubbles: true }));
  flushSync();
}

const appt = (id: string, starts_at: string, status: Appointment["status"]): Appointment => ({
  id,
  client_code: "C-7KQ2",
  starts_at,
  ends_at: new Date(new Date(starts_at).getTime() + 50 * 60_000).toISOString(),
  status,
});

function withSessions(): File {
  const f = rightsFile();
  f.appointments = [
    appt("s1", "2026-03-02T10:00:00Z", "attended"), // has the finalised note n1 (below)
    appt("s2", "2026-03-09T10:00:00Z", "attended"), // no note yet
    appt("s3", "2026-03-16T10:00:00Z", "scheduled"),
  ];
  f.notes = f.notes.map((n) => (n.id === "n1" ? { ...n, appointment_id: "s1" } : n));
  return f;
}

function show() {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(ClientFile, { target, props: { code: "C-7KQ2", tab: "sessions" } });
  flushSync();
}

describe("a client's sessions", () => {
  it("shows each session's note, Write note for an attended one without, and opens the panel", async () => {
    m.clientFile.mockResolvedValue(withSessions());
    show();
    await vi.waitFor(() => expect($("#client-sessions")).not.toBeNull());
    const rows = [...document.querySelectorAll("#client-sessions tbody tr")].map((r) => r.querySelector(".note-state")!.textContent!.trim());
    expect(rows).toEqual(["—", "Write note", "Finalised"]); // newest first
    $<HTMLButtonElement>('[data-appointment-id="s3"] button[aria-haspopup="dialog"]')!.click();
    flushSync();
    expect(text("#panel-h")).toBe("C-7KQ2 Siân O'Brien");
    expect($("#panel-mark-did_not_attend")).not.toBeNull();
    $("#panel-close")!.click();
    flushSync();
    // Write note: the notes tab, asked for this session's note.
    $<HTMLButtonElement>('[data-appointment-id="s2"] .note-state button')!.click();
    expect([app.newNoteFor, app.newNoteSession]).toEqual(["C-7KQ2", "s2"]);
  });
});

describe("booking from the client's file", () => {
  it("books a fortnightly series of six, and says from when to when", async () => {
    m.clientFile.mockResolvedValue(withSessions());
    const booked = [0, 14, 28, 42, 56, 70].map((d, i) =>
      appt(`b${i}`, new Date(Date.UTC(2026, 3, 6 + d, 9, 0)).toISOString(), "scheduled"),
    );
    m.addSeries.mockResolvedValue(booked);
    show();
    await vi.waitFor(() => expect($("#book-open")).not.toBeNull());
    $("#book-open")!.click();
    await vi.waitFor(() => expect($("#book-form")).not.toBeNull());
    expect($("#book-client")).toBeNull(); // the client is the file's
    type("#book-date", "06/04/2026");
    type("#book-time", "10:00");
    type("#book-repeat", "fortnightly", "change");
    expect(text("#book-save")).toBe("Book the series");
    type("#book-count", "6");
    const reloads = m.clientFile.mock.calls.length;
    $<HTMLFormElement>("#book-form")!.requestSubmit();
    await vi.waitFor(() => expect(m.addSeries).toHaveBeenCalledWith("C-7KQ2", "2026-04-06T10:00", 50, "fortnightly", 6, null));
    await vi.waitFor(() => expect(text("#book-result")).toMatch(/^Booked 6 sessions for Siân O'Brien at 10:00/));
    expect(m.clientFile.mock.calls.length).toBeGreaterThan(reloads);
    expect(m.clients).not.toHaveBeenCalled();
  });

  it("books until a date, every three weeks", async () => {
    m.clientFile.mockResolvedValue(withSessions());
    m.addSeries.mockResolvedValue([appt("b0", "2026-04-06T09:00:00Z", "scheduled")]);
    show();
    await vi.waitFor(() => expect($("#book-open")).not.toBeNull());
    $("#book-open")!.click();
    await vi.waitFor(() => expect($("#book-form")).not.toBeNull());
    type("#book-date", "06/04/2026");
    type("#book-time", "10:00");
    type("#book-repeat", "every", "change");
    type("#book-every", "3");
    $<HTMLInputElement>("#book-ends-until")!.click();
    flushSync();
    type("#book-until", "30/06/2026");
    $<HTMLFormElement>("#book-form")!.requestSubmit();
    await vi.waitFor(() =>
      expect(m.addSeries).toHaveBeenCalledWith("C-7KQ2", "2026-04-06T10:00", 50, "every-3-weeks", null, "2026-06-30"),
    );
    await vi.waitFor(() => expect(text("#book-result")).toMatch(/^Booked 1 session for Siân O'Brien/));
  });

  it("one session: a single booking, dated the UK way", async () => {
    m.clientFile.mockResolvedValue(withSessions());
    m.addAppointment.mockResolvedValue(appt("one", "2026-04-06T09:00:00Z", "scheduled"));
    show();
    await vi.waitFor(() => expect($("#book-open")).not.toBeNull());
    $("#book-open")!.click();
    await vi.waitFor(() => expect($("#book-form")).not.toBeNull());
    type("#book-date", "06/04/2026");
    type("#book-time", "10:00");
    $<HTMLFormElement>("#book-form")!.requestSubmit();
    await vi.waitFor(() => expect(m.addAppointment).toHaveBeenCalledTimes(1));
    await vi.waitFor(() => expect(text("#book-result")).toBe(`Booked Siân O'Brien on ${formatDate("2026-04-06T09:00:00Z")}, 10:00–10:50.`));
    expect(m.addSeries).not.toHaveBeenCalled();
  });
});

describe("the client's header", () => {
  function withMeasures(): File {
    const f = withSessions();
    const score = (total: number, band: string, risk: boolean) => ({ total, band, risk, above_clinical_cutoff: null, prorated: false });
    f.measures = [
      { id: "m1", client_code: "C-7KQ2", instrument: "phq9", items: [], score: score(18, "moderately severe", true), taken_at: "2026-03-02T10:00:00Z" },
      { id: "m2", client_code: "C-7KQ2", instrument: "phq9", items: [], score: score(9, "mild", false), taken_at: "2026-03-09T10:00:00Z" },
      { id: "m3", client_code: "C-7KQ2", instrument: "core10", items: [], score: score(21, "moderate", true), taken_at: "2026-03-09T10:00:00Z" },
    ];
    f.appointments.push(appt("s9", new Date(Date.now() + 3 * 86_400_000).toISOString(), "scheduled"));
    return f;
  }

  it("shows the next session and the latest of each questionnaire, flagging an answered risk item", async () => {
    m.clientFile.mockResolvedValue(withMeasures());
    show();
    await vi.waitFor(() => expect($("#header-next")).not.toBeNull());
    expect(text("#header-next")).not.toBe("None booked");
    expect(text("#header-phq9")).toBe("9 mild · 09/03/2026"); // the latest, not the worst
    expect(text("#header-core10")).toBe("21 moderate · 09/03/2026 Risk item answered");
    expect($("#header-gad7")).toBeNull();
  });

  it("Start begins a walk-in when nothing is booked today; Book opens the booking form; New note the editor", async () => {
    clock.set(idleClock());
    m.clientFile.mockResolvedValue(withMeasures());
    m.startWalkIn.mockResolvedValue(idleClock({ running: true, client_code: "C-7KQ2", appointment_id: "w1" }));
    app.templates = { soap: ["subjective", "objective", "assessment", "plan"], dap: [], birp: [], free: ["text"] };
    show();
    await vi.waitFor(() => expect($("#header-start")).not.toBeNull());
    expect(text("#header-start")).toBe("Start a session now");
    $("#header-start")!.click();
    await vi.waitFor(() => expect(m.startWalkIn).toHaveBeenCalledWith("C-7KQ2", null));
    await vi.waitFor(() => expect(($("#header-start") as HTMLButtonElement).disabled).toBe(true)); // running now
    expect(m.startSession).not.toHaveBeenCalled();

    $("#header-book")!.click();
    await vi.waitFor(() => expect($("#book-form")).not.toBeNull());
    expect($("#tab-sessions")?.getAttribute("aria-selected")).toBe("true");

    $("#header-new-note")!.click();
    flushSync();
    await vi.waitFor(() => expect($("#editor-h")).not.toBeNull());
    expect($("#tab-notes")?.getAttribute("aria-selected")).toBe("true");
    clock.reset();
  });
});
