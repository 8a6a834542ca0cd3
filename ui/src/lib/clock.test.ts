import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: { clock: vi.fn() },
    events: { onClock: vi.fn() },
  };
});

import { api, events, type ClockView } from "./api";
import { ClockState } from "./clock.svelte";
import { idleClock } from "./testing";

const idle: ClockView = idleClock();

function running(endsInSeconds: number): ClockView {
  const now = Date.now();
  return {
    ...idle,
    running: true,
    started_at: new Date(now - 60_000).toISOString(),
    ends_at: new Date(now + endsInSeconds * 1000).toISOString(),
    remaining_seconds: endsInSeconds,
    display: "49:00",
  };
}

let onClock: ((v: ClockView) => void) | null = null;

beforeEach(() => {
  vi.useFakeTimers();
  vi.mocked(api.clock).mockReset().mockResolvedValue(idle);
  vi.mocked(events.onClock)
    .mockReset()
    .mockImplementation(async (f) => {
      onClock = f;
      return () => (onClock = null);
    });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("the session clock", () => {
  it("runs no timer while no session runs", async () => {
    const c = new ClockState();
    const stop = c.follow();
    await vi.waitFor(() => expect(c.view).toEqual(idle));
    expect(c.ticking).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    stop();
  });

  it("ticks only while a session runs, and stops when it ends or nobody shows it", async () => {
    const c = new ClockState();
    c.set(idle);
    const stop = c.follow();
    expect(api.clock).not.toHaveBeenCalled(); // already known (it came with the unlock)
    expect(c.ticking).toBe(false);

    c.set(running(3000));
    expect(c.ticking).toBe(true);
    const before = c.remaining!;
    vi.advanceTimersByTime(2000);
    expect(c.remaining).toBe(before - 2);

    c.set(idle);
    expect(c.ticking).toBe(false);

    c.set(running(3000));
    expect(c.ticking).toBe(true);
    stop();
    expect(c.ticking).toBe(false);
    stop(); // twice is harmless
    expect(c.ticking).toBe(false);
  });

  it("asks the core when the clock is not known yet", async () => {
    const c = new ClockState();
    const stop = c.follow();
    expect(api.clock).toHaveBeenCalledTimes(1);
    stop();
  });

  it("ignores events that change nothing", async () => {
    const c = new ClockState();
    const stop = c.follow();
    await vi.waitFor(() => expect(onClock).not.toBeNull());
    onClock!({ ...idle });
    const first = c.view;
    onClock!({ ...idle });
    onClock!({ ...idle });
    expect(c.view).toBe(first);
    onClock!({ ...idle, gap_minutes: 20 });
    expect(c.view).not.toBe(first);
    expect(c.view?.gap_minutes).toBe(20);
    stop();
  });

  it("forgets the view on reset and stops ticking", () => {
    const c = new ClockState();
    const stop = c.startTicking();
    c.set(running(600));
    expect(c.ticking).toBe(true);
    c.reset();
    expect(c.view).toBeNull();
    expect(c.ticking).toBe(false);
    c.set(idle); // the same view as before the reset still counts as new
    expect(c.view).toEqual(idle);
    stop();
  });
});
