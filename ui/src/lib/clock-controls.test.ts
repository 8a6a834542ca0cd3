// The clock's buttons as the strip, the small window and the locked screen share them:
// one command at a time, the last failure in words until the next press, and focus moved
// between End and Undo.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { clock: vi.fn() }, events: { onClock: vi.fn() } };
});

import type { ClockView } from "./api";
import { clock } from "./clock.svelte";
import { ClockControls } from "./clock-controls.svelte";
import { DelayedEnd } from "./delayed-end.svelte";
import { idleClock } from "./testing";

const runningView = (display: string): ClockView =>
  idleClock({ running: true, started_at: "2026-03-03T10:00:00Z", ends_at: "2026-03-03T10:50:00Z", display });

let end: DelayedEnd;
let send: ReturnType<typeof vi.fn<(endedAtMs: number) => Promise<ClockView>>>;

function controls(opts: Partial<ConstructorParameters<typeof ClockControls>[1]> = {}) {
  return new ClockControls(end, { endId: "the-end", undoId: "the-undo", ...opts });
}

/** Settles a promise's callbacks and runs the zero-delay timers (the focus moves). */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
  send = vi.fn(async () => idleClock());
  end = new DelayedEnd({ send, current: () => "s1", storage: null });
  document.body.innerHTML = '<button id="the-end">End</button><button id="the-undo">Undo</button>';
});
afterEach(() => {
  end.dispose();
  clock.reset();
  document.body.innerHTML = "";
  vi.useRealTimers();
});

describe("the clock's shared buttons", () => {
  it("runs a command, shows its answer on the clock and is busy only meanwhile", async () => {
    const c = controls();
    let answer!: (v: ClockView) => void;
    const f = vi.fn(() => new Promise<ClockView>((r) => (answer = r)));
    const done = c.act(f);
    expect(c.busy).toBe(true);
    answer(runningView("55:00"));
    await done;
    expect(c.busy).toBe(false);
    expect(clock.view?.display).toBe("55:00");
  });

  it("ignores a second press while the first is out", async () => {
    const c = controls();
    let answer!: (v: ClockView) => void;
    const first = vi.fn(() => new Promise<ClockView>((r) => (answer = r)));
    const second = vi.fn(async () => runningView("60:00"));
    const done = c.act(first);
    await c.act(second);
    expect(second).not.toHaveBeenCalled();
    answer(runningView("55:00"));
    await done;
    expect(clock.view?.display).toBe("55:00");
  });

  it("says why a press failed, and clears it on the next press", async () => {
    const c = controls();
    await c.act(async () => {
      throw new Error("The core is not answering.");
    });
    expect(c.error).toBe("The core is not answering.");
    expect(c.busy).toBe(false);
    let answer!: (v: ClockView) => void;
    const done = c.act(() => new Promise<ClockView>((r) => (answer = r)));
    expect(c.error).toBe("");
    answer(runningView("55:00"));
    await done;

    await c.act(async () => {
      throw new Error("Again.");
    });
    c.pressEnd();
    expect(c.error).toBe("");
  });

  it("words a failure and follows a success as the view asks (the strip's lock and day)", async () => {
    const ondone = vi.fn();
    const c = controls({ describe: (e) => `Said: ${(e as Error).message}`, ondone });
    await c.act(async () => runningView("55:00"));
    expect(ondone).toHaveBeenCalledWith(runningView("55:00"));
    await c.act(async () => {
      throw new Error("locked");
    });
    expect(c.error).toBe("Said: locked");
    expect(ondone).toHaveBeenCalledTimes(1);
  });

  it("End waits with Undo and moves focus to Undo; Undo sends nothing and moves it back to End", async () => {
    const c = controls();
    document.getElementById("the-end")!.focus();
    c.pressEnd();
    expect(end.pending).toBe(true);
    await settle();
    expect(document.activeElement?.id).toBe("the-undo");
    c.undo();
    expect(end.pending).toBe(false);
    await settle();
    expect(document.activeElement?.id).toBe("the-end");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(send).not.toHaveBeenCalled();
  });
});
