// The session clock on the Unlock screen (components/LockedClock.svelte): shown only while a
// session runs, ticking from the core's events while locked, never saying who the session is
// with, +5 min and End with Undo working without an unlock, and no End lost to an unlock.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      clock: vi.fn(),
      settings: vi.fn(),
      extendSession: vi.fn(),
      endSession: vi.fn(),
      unlock: vi.fn(),
    },
    events: { ...real.events, onClock: vi.fn() },
  };
});
// The main app's code is not needed to test the Unlock screen.
vi.mock("./screens", () => ({ mainApp: { load: vi.fn(async () => null), current: null } }));

import { api, events, type ClockView } from "./api";
import { app } from "./app.svelte";
import { clock } from "./clock.svelte";
import { PENDING_KEY } from "./delayed-end.svelte";
import { DEFAULT_SETTINGS } from "./settings";
import { idleClock } from "./testing";
import LockedClock from "../components/LockedClock.svelte";
import Unlock from "../screens/Unlock.svelte";

const m = vi.mocked(api);
const NAME = "Siân O'Brien";
const CODE = "C-7KQ2";
let component: ReturnType<typeof mount> | null = null;
/** The core's `clock` event, as the locked window hears it. */
let emitClock: ((v: ClockView) => void) | null = null;
let onclosed = vi.fn();

beforeEach(() => {
  vi.useFakeTimers();
  vi.clearAllMocks();
  localStorage.clear();
  clock.reset();
  emitClock = null;
  onclosed = vi.fn();
  vi.mocked(events.onClock).mockImplementation(async (f) => {
    emitClock = f;
    return () => (emitClock = null);
  });
  m.clock.mockResolvedValue(idleClock());
  m.settings.mockResolvedValue({ ...DEFAULT_SETTINGS, warning_minutes: [10, 5] });
  m.endSession.mockResolvedValue(idleClock());
  app.status = { vault_exists: true, unlocked: false, key_store: "os-keychain", vault_dir: "/v" };
  app.screen = "unlock";
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  clock.reset();
  vi.useRealTimers();
  localStorage.clear();
});

/** A 50-minute session with `left` seconds to go (negative: over), carrying who it is with. */
function session(left: number, over: Partial<ClockView> = {}): ClockView {
  const now = Date.now();
  return idleClock({
    running: true,
    appointment_id: "ap-7",
    client_code: CODE,
    client_name: NAME,
    started_at: new Date(now - (3000 - left) * 1000).toISOString(),
    ends_at: new Date(now + left * 1000).toISOString(),
    remaining_seconds: left,
    display: left < 0 ? "-00:00" : "00:00",
    overrun: left < 0,
    ...over,
  });
}

async function settle() {
  await vi.advanceTimersByTimeAsync(0);
  flushSync();
}

/** Mounts the locked clock (or the whole Unlock screen) as the locked window shows it. */
async function show(which: "clock" | "unlock" = "clock") {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component =
    which === "clock" ? mount(LockedClock, { target, props: { onclosed } }) : mount(Unlock, { target, props: {} });
  await settle();
}

/** The core says a session runs with `left` seconds to go (its once-a-second event). */
async function tick(left: number, over: Partial<ClockView> = {}) {
  expect(emitClock, "the locked screen listens to the clock").not.toBeNull();
  emitClock!(session(left, over));
  await settle();
}

const $ = (sel: string) => document.querySelector<HTMLElement>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

async function click(sel: string) {
  const b = $(sel);
  expect(b, sel).not.toBeNull();
  b!.click();
  await settle();
}

describe("the locked screen's session clock", () => {
  it("shows nothing while no session runs", async () => {
    await show("unlock");
    expect(m.clock).toHaveBeenCalled(); // it asked, as nothing was known
    expect($("#locked-clock")).toBeNull();
    expect($("#unlock-screen")?.children.length).toBe(1); // the Unlock panel alone
    expect(m.settings).not.toHaveBeenCalled(); // nothing is asked for while idle
  });

  it("appears when the core says a session runs, and goes when it ends", async () => {
    await show("unlock");
    await tick(1800);
    expect($("#locked-clock")).not.toBeNull();
    expect($("#locked-clock")?.getAttribute("aria-label")).toBe("Session clock");
    // Above the Unlock form, which stays on the screen.
    expect($("#unlock-screen")?.firstElementChild?.id).toBe("locked-clock");
    expect($("#unlock")).not.toBeNull();

    emitClock!(idleClock());
    await settle();
    expect($("#locked-clock")).toBeNull();
  });

  it("shows a session already running when the screen opens (a start-up while locked)", async () => {
    m.clock.mockResolvedValue(session(1800, { client_code: null, client_name: null }));
    await show();
    expect(text("#locked-clock-display")).toBe("30:00");
  });

  it("shows the time and the phase in words and colour, time over as +mm:ss, and keeps ticking", async () => {
    await show();
    await tick(1800);
    const section = $("#locked-clock")!;
    expect(section.className).toContain("phase-calm");
    expect(text("#locked-clock-phase")).toBe("In session");
    expect(text("#locked-clock-display")).toBe("30:00");
    const timer = $("#locked-clock-display")!;
    expect(timer.getAttribute("role")).toBe("timer");
    expect(timer.getAttribute("aria-label")).toBe("Time left");
    expect(timer.getAttribute("aria-describedby")).toBe("locked-clock-phase");
    expect($("#locked-clock [role=progressbar]")?.getAttribute("aria-valuenow")).toBe("40");

    // Between the core's events the countdown moves on by itself.
    await vi.advanceTimersByTimeAsync(2000);
    flushSync();
    expect(text("#locked-clock-display")).toBe("29:58");

    await tick(300);
    expect($("#locked-clock")?.className).toContain("phase-warning");
    expect(text("#locked-clock-phase")).toBe("Ending soon");

    await tick(-135);
    expect($("#locked-clock")?.className).toContain("phase-overrun");
    expect(text("#locked-clock-phase")).toBe("Overrun");
    expect(text("#locked-clock-display")).toBe("+02:15");
    expect($("#locked-clock-display")?.getAttribute("aria-label")).toBe("Time over");
    expect($("#locked-clock [role=progressbar]")?.getAttribute("aria-valuenow")).toBe("100");
  });

  it("turns amber at the vault's own first warning, read while locked", async () => {
    m.settings.mockResolvedValue({ ...DEFAULT_SETTINGS, warning_minutes: [15] });
    await show();
    await tick(14 * 60); // calm with the usual 10 and 5 minutes
    expect(m.settings).toHaveBeenCalledTimes(1);
    expect($("#locked-clock")?.className).toContain("phase-warning");
    expect(text("#locked-clock-phase")).toBe("Ending soon");
  });

  it("never shows who the session is with, even when the reading says", async () => {
    await show("unlock");
    await tick(1800);
    const html = () => document.body.innerHTML;
    const said = () => document.body.textContent ?? "";
    expect(said()).toContain("30:00");
    for (const who of [CODE, NAME, "Siân", "O'Brien", "O&#39;Brien"]) {
      expect(html()).not.toContain(who);
      expect(said()).not.toContain(who);
    }
    // Nor while its End waits.
    await click("#locked-clock-end");
    expect(text("#locked-clock")).toContain("Ended");
    for (const who of [CODE, "Siân"]) expect(html()).not.toContain(who);
  });

  it("+5 min extends the session without an unlock and shows the new time", async () => {
    await show();
    await tick(300);
    m.extendSession.mockResolvedValue(session(600, { client_code: null, client_name: null }));
    expect(text("#locked-clock-extend")).toBe("+5 min");
    await click("#locked-clock-extend");
    expect(m.extendSession).toHaveBeenCalledTimes(1);
    expect(text("#locked-clock-display")).toBe("10:00");
  });

  it("says in words why +5 min failed, beside the buttons", async () => {
    await show();
    await tick(300);
    m.extendSession.mockRejectedValue({ kind: "not_allowed", message: "No session is running." });
    await click("#locked-clock-extend");
    expect($("#locked-clock-error")?.getAttribute("role")).toBe("alert");
    expect(text("#locked-clock-error")).toBe("No session is running.");
    // The next press clears it.
    m.extendSession.mockResolvedValue(session(600));
    await click("#locked-clock-extend");
    expect(text("#locked-clock-error")).toBe("");
  });

  it("End shows 'Ended · Undo' for ten seconds, then ends the session as of the press", async () => {
    await show();
    await tick(1800);
    const pressed = Date.now();
    await click("#locked-clock-end");
    expect(text("#locked-clock .ended-line")).toBe("Ended · Undo");
    expect($("#locked-clock-display")).toBeNull();
    expect(text("#locked-clock .ends")).toBe("The session ends in 10 s unless you undo.");
    expect(document.activeElement?.id).toBe("locked-clock-undo"); // keyboard: Undo is next
    expect(m.endSession).not.toHaveBeenCalled();

    await vi.advanceTimersByTimeAsync(9_000);
    expect(m.endSession).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_000);
    flushSync();
    expect(m.endSession).toHaveBeenCalledTimes(1);
    expect(m.endSession).toHaveBeenCalledWith(pressed);
    expect($("#locked-clock")).toBeNull(); // the core said idle
    await settle();
    expect(onclosed).toHaveBeenCalledTimes(1); // focus was on Undo: it goes back to the form
  });

  it("Undo keeps the session running and sends nothing", async () => {
    await show();
    await tick(1800);
    await click("#locked-clock-end");
    await click("#locked-clock-undo");
    expect(text("#locked-clock-display")).toBe("30:00");
    expect(document.activeElement?.id).toBe("locked-clock-end");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(m.endSession).not.toHaveBeenCalled();
    expect(localStorage.getItem(PENDING_KEY)).toBeNull();
  });

  it("an End that fails says why and the session shows as running again", async () => {
    m.endSession.mockRejectedValue({ kind: "internal", message: "The clock file could not be written." });
    await show();
    await tick(1800);
    await click("#locked-clock-end");
    await vi.advanceTimersByTimeAsync(10_000);
    flushSync();
    expect(text("#locked-clock-error")).toBe("The clock file could not be written.");
    expect($("#locked-clock-end")).not.toBeNull();
  });

  it("shows an End pressed in the small clock window, with its Undo", async () => {
    await show();
    await tick(1800);
    const value = JSON.stringify({ session: clock.view!.started_at, due: Date.now() + 10_000 });
    localStorage.setItem(PENDING_KEY, value);
    window.dispatchEvent(new StorageEvent("storage", { key: PENDING_KEY, newValue: value }));
    flushSync();
    expect(text("#locked-clock-undo")).toBe("Undo");
    await click("#locked-clock-undo");
    expect(localStorage.getItem(PENDING_KEY)).toBeNull();
    expect(m.endSession).not.toHaveBeenCalled();
  });
});

describe("no End is lost to an unlock", () => {
  it("Unlock sends a waiting End first, as of its press, then unlocks", async () => {
    const order: string[] = [];
    m.endSession.mockImplementation(async () => {
      order.push("end");
      return idleClock();
    });
    m.unlock.mockImplementation(async () => {
      order.push("unlock");
      return { date: "2026-03-02", appointments: [], next: null, clock: idleClock() };
    });
    await show("unlock");
    await tick(1800);
    const pressed = Date.now();
    await click("#locked-clock-end");
    await vi.advanceTimersByTimeAsync(3_000);
    expect(m.endSession).not.toHaveBeenCalled();

    await click("#unlock");
    await settle();
    expect(order).toEqual(["end", "unlock"]);
    expect(m.endSession).toHaveBeenCalledWith(pressed);
    expect(app.screen).toBe("main");
    // Nothing more is sent when the time would have been up.
    await vi.advanceTimersByTimeAsync(15_000);
    expect(m.endSession).toHaveBeenCalledTimes(1);
  });

  it("an End sent while locked hands focus back to the passphrase", async () => {
    app.status = { vault_exists: true, unlocked: false, key_store: "passphrase", vault_dir: "/v" };
    await show("unlock");
    await tick(1800);
    await click("#locked-clock-end");
    expect(document.activeElement?.id).toBe("locked-clock-undo");
    await vi.advanceTimersByTimeAsync(10_000);
    await settle();
    expect(m.endSession).toHaveBeenCalledTimes(1);
    expect($("#locked-clock")).toBeNull();
    expect(document.activeElement?.id).toBe("unlock-passphrase");
    expect(m.unlock).not.toHaveBeenCalled(); // ending a session never unlocks
  });

  it("the clock going away (a recovery's unlock) sends a waiting End", async () => {
    await show();
    await tick(1800);
    await click("#locked-clock-end");
    unmount(component!);
    component = null;
    await vi.advanceTimersByTimeAsync(0);
    expect(m.endSession).toHaveBeenCalledTimes(1);
  });
});
