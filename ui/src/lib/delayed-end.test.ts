import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DelayedEnd, flushOnPageHide, PENDING_KEY, sessionKey, UNDO_SECONDS } from "./delayed-end.svelte";
import { idleClock } from "./testing";

const ended = idleClock();

function setup(over: { current?: string | null; storage?: Storage | null } = {}) {
  let current: string | null = over.current === undefined ? "s1" : over.current;
  const send = vi.fn(async () => {
    current = null;
    return ended;
  });
  const onsent = vi.fn();
  const onerror = vi.fn();
  const end = new DelayedEnd({
    send,
    current: () => current,
    onsent,
    onerror,
    storage: over.storage === undefined ? null : over.storage,
  });
  return { end, send, onsent, onerror, setCurrent: (s: string | null) => (current = s) };
}

beforeEach(() => {
  vi.useFakeTimers();
  localStorage.clear();
});
afterEach(() => {
  vi.useRealTimers();
  localStorage.clear();
});

describe("End with undo", () => {
  it("sends the end only after ten seconds", async () => {
    const { end, send, onsent } = setup();
    end.request();
    expect(end.pending).toBe(true);
    expect(end.secondsLeft).toBe(UNDO_SECONDS);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(send).not.toHaveBeenCalled();
    expect(end.secondsLeft).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(send).toHaveBeenCalledTimes(1);
    expect(onsent).toHaveBeenCalledWith(ended);
    expect(end.pending).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("sends nothing after Undo", async () => {
    const { end, send } = setup();
    end.request();
    await vi.advanceTimersByTimeAsync(5_000);
    end.undo();
    expect(end.pending).toBe(false);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(send).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a second press while waiting does not restart the wait", async () => {
    const { end, send } = setup();
    end.request();
    await vi.advanceTimersByTimeAsync(6_000);
    end.request();
    await vi.advanceTimersByTimeAsync(4_000);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("does nothing when no session runs", async () => {
    const { end, send } = setup({ current: null });
    end.request();
    expect(end.pending).toBe(false);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(send).not.toHaveBeenCalled();
  });

  it("flush sends a waiting end at once (the window is closing)", async () => {
    const { end, send } = setup();
    end.request();
    await end.flush();
    expect(send).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(send).toHaveBeenCalledTimes(1);
    await end.flush(); // nothing waits any more
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("sends the waiting end on pagehide", async () => {
    const { end, send } = setup();
    const stop = flushOnPageHide(end);
    end.request();
    window.dispatchEvent(new Event("pagehide"));
    await vi.waitFor(() => expect(send).toHaveBeenCalledTimes(1));
    stop();
  });

  it("sends nothing if the session ended some other way (the tray) or another one runs", async () => {
    const { end, send, setCurrent } = setup();
    end.request();
    setCurrent(null);
    expect(end.pending).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    setCurrent("s2");
    end.request();
    setCurrent("s3");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(send).not.toHaveBeenCalled();
  });

  it("reports a failed end, and End can be pressed again", async () => {
    const { end, send, onerror } = setup();
    send.mockRejectedValueOnce({ kind: "internal", message: "The clock file could not be written." });
    end.request();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(onerror).toHaveBeenCalledWith({ kind: "internal", message: "The clock file could not be written." });
    expect(end.pending).toBe(false);
    end.request();
    expect(end.pending).toBe(true);
  });

  it("keys a session by its start", () => {
    expect(sessionKey(null)).toBeNull();
    expect(sessionKey(idleClock())).toBeNull();
    expect(sessionKey(idleClock({ running: true, started_at: "2026-03-02T10:00:00Z" }))).toBe("2026-03-02T10:00:00Z");
  });
});

describe("End with undo across the two windows", () => {
  /** The storage event the other window would see. */
  function storageEvent(newValue: string | null) {
    window.dispatchEvent(new StorageEvent("storage", { key: PENDING_KEY, newValue }));
  }

  it("shares the waiting end, and clears it when sent or undone", async () => {
    const { end } = setup({ storage: localStorage });
    end.request();
    const shared = JSON.parse(localStorage.getItem(PENDING_KEY)!);
    expect(shared).toEqual({ session: "s1", due: Date.now() + 10_000 });
    end.undo();
    expect(localStorage.getItem(PENDING_KEY)).toBeNull();
    end.request();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(localStorage.getItem(PENDING_KEY)).toBeNull();
  });

  it("the other window shows it, and its Undo stops the owner sending", async () => {
    const owner = setup({ storage: localStorage });
    const other = setup({ storage: null });
    const stopOwner = owner.end.listen();
    owner.end.request();
    // The other window learns of it through the storage event.
    const stopOther = other.end.listen();
    storageEvent(localStorage.getItem(PENDING_KEY));
    expect(other.end.pending).toBe(true);
    expect(other.end.owner).toBe(false);
    // Its Undo removes the key; the owner hears that and forgets the end.
    other.end.undo();
    storageEvent(null);
    expect(owner.end.pending).toBe(false);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(owner.send).not.toHaveBeenCalled();
    expect(other.send).not.toHaveBeenCalled();
    stopOwner();
    stopOther();
  });

  it("the other window never sends, and stops showing an end whose owner died", async () => {
    localStorage.setItem(PENDING_KEY, JSON.stringify({ session: "s1", due: Date.now() + 10_000 }));
    const other = setup({ storage: localStorage });
    const stop = other.end.listen();
    expect(other.end.pending).toBe(true);
    await other.end.flush();
    await vi.advanceTimersByTimeAsync(13_000);
    expect(other.send).not.toHaveBeenCalled();
    expect(other.end.pending).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    stop();
  });
});
