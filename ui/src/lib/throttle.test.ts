import { afterEach, describe, expect, it, vi } from "vitest";
import { debounce, throttle } from "./throttle";

describe("throttle (activity reports)", () => {
  it("lets the first call through and drops the rest for 30 s", () => {
    let t = 1_000_000;
    const f = vi.fn();
    const touch = throttle(f, 30_000, () => t);
    touch();
    touch();
    t += 29_999;
    touch();
    expect(f).toHaveBeenCalledTimes(1);
    t += 1;
    touch();
    expect(f).toHaveBeenCalledTimes(2);
    t += 10_000;
    touch();
    expect(f).toHaveBeenCalledTimes(2);
  });
});

describe("debounce (note autosave)", () => {
  afterEach(() => vi.useRealTimers());

  it("runs once, a second after the last call", () => {
    vi.useFakeTimers();
    const f = vi.fn();
    const save = debounce(f, 1000);
    save();
    vi.advanceTimersByTime(900);
    save();
    vi.advanceTimersByTime(900);
    expect(f).not.toHaveBeenCalled();
    expect(save.pending()).toBe(true);
    vi.advanceTimersByTime(100);
    expect(f).toHaveBeenCalledTimes(1);
    expect(save.pending()).toBe(false);
  });

  it("can be flushed now or cancelled", () => {
    vi.useFakeTimers();
    const f = vi.fn();
    const save = debounce(f, 1000);
    save();
    save.flush();
    expect(f).toHaveBeenCalledTimes(1);
    save.flush(); // nothing waiting
    expect(f).toHaveBeenCalledTimes(1);
    save();
    save.cancel();
    vi.advanceTimersByTime(5000);
    expect(f).toHaveBeenCalledTimes(1);
  });
});
