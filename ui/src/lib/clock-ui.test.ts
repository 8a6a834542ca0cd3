// The session clock on screen: the small window and the strip — phases, End with Undo, the
// one overrun notation, and the idle small window's next session.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      clock: vi.fn(),
      settings: vi.fn(),
      startSession: vi.fn(),
      extendSession: vi.fn(),
      endSession: vi.fn(),
      endSessionElsewhere: vi.fn(),
      showClockWindow: vi.fn(),
    },
  };
});

import { api, type ClockView } from "./api";
import { app } from "./app.svelte";
import { clock, clockPhase, sessionProgress } from "./clock.svelte";
import { DEFAULT_SETTINGS } from "./settings";
import { idleClock } from "./testing";
import ClockStrip from "../components/ClockStrip.svelte";
import ClockWindow from "../ClockWindow.svelte";

const m = vi.mocked(api);
let component: ReturnType<typeof mount> | null = null;

beforeEach(() => {
  vi.useFakeTimers();
  vi.clearAllMocks();
  localStorage.clear();
  app.settings = { ...DEFAULT_SETTINGS, warning_minutes: [10, 5] };
  m.settings.mockResolvedValue({ ...DEFAULT_SETTINGS, warning_minutes: [10, 5] });
  m.endSession.mockResolvedValue(idleClock());
  m.clock.mockResolvedValue(idleClock());
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  clock.reset();
  vi.useRealTimers();
  localStorage.clear();
});

function show(C: Component<Record<string, never>>) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(C, { target, props: {} });
  flushSync();
}

/** A 50-minute session with `left` seconds to go (negative: over). */
function session(left: number, over: Partial<ClockView> = {}): ClockView {
  const now = Date.now();
  return idleClock({
    running: true,
    client_code: "C-7KQ2",
    started_at: new Date(now - (3000 - left) * 1000).toISOString(),
    ends_at: new Date(now + left * 1000).toISOString(),
    remaining_seconds: left,
    display: left < 0 ? "-00:00" : "00:00",
    overrun: left < 0,
    ...over,
  });
}

function running(left: number, over: Partial<ClockView> = {}) {
  const v = session(left, over);
  m.clock.mockResolvedValue(v);
  clock.set(v);
  flushSync();
}

const $ = (sel: string) => document.querySelector<HTMLElement>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

async function click(sel: string) {
  $(sel)!.click();
  flushSync();
  await vi.advanceTimersByTimeAsync(0);
  flushSync();
}

describe("the clock's phase and progress", () => {
  it("is calm, then amber from the first warning, then red past the end", () => {
    expect(clockPhase(null, [10, 5])).toBe("calm");
    expect(clockPhase(601, [10, 5])).toBe("calm");
    expect(clockPhase(600, [5, 10])).toBe("warning");
    expect(clockPhase(0, [10, 5])).toBe("warning");
    expect(clockPhase(-1, [10, 5])).toBe("overrun");
    expect(clockPhase(30, [])).toBe("calm");
  });

  it("measures the planned length used, full in overrun", () => {
    const start = Date.parse("2026-03-02T10:00:00Z");
    const v = idleClock({ running: true, started_at: "2026-03-02T10:00:00Z", ends_at: "2026-03-02T10:50:00Z" });
    expect(sessionProgress(v, start + 25 * 60_000)).toBe(0.5);
    expect(sessionProgress(v, start + 60 * 60_000)).toBe(1);
    expect(sessionProgress(idleClock(), start)).toBeNull();
  });
});

describe("the small clock window", () => {
  it("says the phase in words as well as colour, and shows time over as +mm:ss", async () => {
    running(1800);
    show(ClockWindow);
    expect($("main")?.className).toContain("phase-calm");
    expect(text("#clock-phase")).toBe("In session");
    expect(text("#clock-display")).toBe("30:00");
    expect($(".bar")?.getAttribute("aria-valuenow")).toBe("40");

    running(300);
    expect($("main")?.className).toContain("phase-warning");
    expect(text("#clock-phase")).toBe("Ending soon");

    running(-135);
    expect($("main")?.className).toContain("phase-overrun");
    expect(text("#clock-phase")).toBe("Overrun");
    expect(text("#clock-display")).toBe("+02:15");
    expect($("#clock-display")?.getAttribute("aria-label")).toBe("Time over");
    expect($(".bar")?.getAttribute("aria-valuenow")).toBe("100");
  });

  it("labels extend '+5 min'", () => {
    running(1800);
    show(ClockWindow);
    expect(text("#clock-extend")).toBe("+5 min");
  });

  it("End shows 'Ended · Undo' for ten seconds, then ends the session", async () => {
    running(1800);
    show(ClockWindow);
    await click("#clock-end");
    expect(text(".ended-line")).toBe("Ended · Undo");
    expect($("#clock-display")).toBeNull();
    expect(m.endSession).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(m.endSession).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(m.endSession).toHaveBeenCalledTimes(1);
  });

  it("Undo keeps the session running and sends nothing", async () => {
    running(1800);
    show(ClockWindow);
    await click("#clock-end");
    await click("#clock-undo");
    expect(text("#clock-display")).toBe("30:00");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(m.endSession).not.toHaveBeenCalled();
  });

  it("closing the window sends a waiting end at once", async () => {
    running(1800);
    show(ClockWindow);
    await click("#clock-end");
    window.dispatchEvent(new Event("pagehide"));
    await vi.advanceTimersByTimeAsync(0);
    expect(m.endSession).toHaveBeenCalledTimes(1);
  });

  it("idle, offers the next booked session today, started as Today starts it", async () => {
    const next = { appointment_id: "ap-11", starts_at: "2026-03-02T11:00:00Z", ends_at: "2026-03-02T11:50:00Z" };
    m.clock.mockResolvedValue(idleClock({ next }));
    m.startSession.mockResolvedValue(session(3000));
    show(ClockWindow);
    await vi.advanceTimersByTimeAsync(0);
    flushSync();
    expect(text(".idle")).toBe("Next 11:00 · Start");
    await click("#clock-start-next");
    expect(m.startSession).toHaveBeenCalledWith("ap-11", null);
    expect(text("#clock-display")).toBe("50:00");
  });

  it("idle with nothing more booked, says so", async () => {
    m.clock.mockResolvedValue(idleClock());
    show(ClockWindow);
    await vi.advanceTimersByTimeAsync(0);
    flushSync();
    expect(text(".idle")).toBe("No more sessions today");
  });
});

describe("the clock strip", () => {
  it("has the same phases, words, +mm:ss and '+5 min'", () => {
    show(ClockStrip);
    running(300);
    expect($("header")?.className).toContain("phase-warning");
    expect(text("#clock-phase")).toBe("Ending soon");
    expect(text("#clock-extend")).toBe("+5 min");
    running(-75);
    expect($("header")?.className).toContain("phase-overrun");
    expect(text("#clock-display")).toBe("+01:15");
  });

  it("keeps End apart from +5 min", () => {
    show(ClockStrip);
    running(1800);
    const buttons = [...document.querySelectorAll(".buttons button")].map((b) => b.id || b.textContent?.trim());
    expect(buttons).toEqual(["clock-extend", "clock-popout", "clock-end"]);
  });

  it("End waits ten seconds with Undo; Undo sends nothing", async () => {
    show(ClockStrip);
    running(1800);
    await click("#clock-end");
    expect(text("#clock-undo")).toBe("Undo");
    expect(text(".clock")).toMatch(/^Ended · .*Undo/);
    await click("#clock-undo");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(m.endSession).not.toHaveBeenCalled();
    expect(text("#clock-display")).toBe("30:00");

    await click("#clock-end");
    const before = app.dayVersion;
    await vi.advanceTimersByTimeAsync(10_000);
    flushSync();
    expect(m.endSession).toHaveBeenCalledTimes(1);
    expect(app.dayVersion).toBe(before + 1);
    expect(text(".clock")).toContain("No session running");
  });

  it("after End, the session's note is one click away (End, Write note)", async () => {
    app.view = { name: "today" };
    show(ClockStrip);
    running(1800, { appointment_id: "ap1" });
    expect($("#clock-write-note")).toBeNull();
    await click("#clock-end");
    await vi.advanceTimersByTimeAsync(10_000);
    // The end was sent; the reading that comes back is idle.
    clock.set(idleClock());
    flushSync();
    expect(text("#clock-write-note")).toBe("Write note C-7KQ2");
    await click("#clock-write-note");
    expect(app.view).toEqual({ name: "client", code: "C-7KQ2", tab: "notes" });
    expect([app.newNoteFor, app.newNoteSession]).toEqual(["C-7KQ2", "ap1"]);
    expect($("#clock-write-note")).toBeNull();
    app.newNoteFor = null;
    app.newNoteSession = null;
  });

  it("shows a session running on another computer, and ends it from here", async () => {
    show(ClockStrip);
    const started = new Date(2026, 11, 4, 10, 2);
    const ends = new Date(2026, 11, 4, 10, 52);
    clock.set(
      idleClock({
        elsewhere: {
          run: "run-1",
          computer: "Laptop",
          started_at: started.toISOString(),
          ends_at: ends.toISOString(),
          client_code: "C-7KQ2",
          client_name: null,
        },
      }),
    );
    flushSync();
    expect(text("#clock-elsewhere")).toBe("Session running on Laptop since 10:02 · C-7KQ2");
    expect(text(".clock")).not.toContain("No session running");
    m.endSessionElsewhere.mockResolvedValue(idleClock());
    await click("#clock-end-elsewhere");
    expect(m.endSessionElsewhere).toHaveBeenCalledWith("run-1");
    expect(text(".clock")).toContain("No session running");
  });

  it("offers no note after an ad-hoc session with no client", async () => {
    show(ClockStrip);
    running(1800, { client_code: null, appointment_id: null });
    clock.set(idleClock());
    flushSync();
    expect($("#clock-write-note")).toBeNull();
  });

  it("a lock (the strip going away) sends a waiting end rather than losing it", async () => {
    show(ClockStrip);
    running(1800);
    await click("#clock-end");
    unmount(component!);
    component = null;
    await vi.advanceTimersByTimeAsync(0);
    expect(m.endSession).toHaveBeenCalledTimes(1);
  });

  it("an End waiting when the records lock is sent for the session, which the lock keeps running", async () => {
    app.screen = "main";
    show(ClockStrip);
    running(1800, { client_name: "Siân O'Brien" });
    const startedAt = clock.view!.started_at;
    const pressed = Date.now();
    await click("#clock-end");
    app.lockedOut(); // the core's lock: who the session is with goes, then the main app
    expect(clock.view?.client_code ?? null).toBeNull();
    expect(clock.view?.client_name ?? null).toBeNull();
    expect(clock.view?.started_at).toBe(startedAt);
    unmount(component!);
    component = null;
    await vi.advanceTimersByTimeAsync(0);
    expect(m.endSession).toHaveBeenCalledTimes(1);
    expect(m.endSession).toHaveBeenCalledWith(pressed);
  });

  it("shows an End pressed in the small window, and its Undo reaches that window", async () => {
    show(ClockStrip);
    running(1800);
    const key = "casebook.end-pending";
    const value = JSON.stringify({ session: clock.view!.started_at, due: Date.now() + 10_000 });
    localStorage.setItem(key, value);
    window.dispatchEvent(new StorageEvent("storage", { key, newValue: value }));
    flushSync();
    expect(text("#clock-undo")).toBe("Undo");
    await click("#clock-undo");
    expect(localStorage.getItem(key)).toBeNull();
    expect(m.endSession).not.toHaveBeenCalled();
  });
});
