import { describe, expect, it, vi } from "vitest";
import type { SyncOverview } from "./api";

// The window's sync view, with the app's commands answered by hand: each read is held until
// the test lets it through, so answers can arrive in any order.
const pending: { words: boolean; answer: (o: SyncOverview) => void }[] = [];
vi.mock("./api", () => ({
  api: {
    syncOverview: (words = false) =>
      new Promise<SyncOverview>((answer) => pending.push({ words, answer })),
  },
}));
const { sync } = await import("./sync.svelte");

function overview(words: boolean, pending_changes = 0): SyncOverview {
  return {
    connected: true,
    enabled: true,
    last_sync: null,
    pending_changes,
    alarm: null,
    alarm_words: null,
    conflicts: 0,
    devices: [],
    // As the app answers: the words only when asked for.
    compare_words: words ? "orbit velvet sample harbour" : "",
    device_name: "Consulting room",
    names: {},
  } as SyncOverview;
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("the compare words in Settings → Computers", () => {
  it("are not blanked by a read without them that was asked before the screen opened", async () => {
    pending.length = 0;
    void sync.refresh(); // a background run finished: no screen shows the words
    const stop = sync.showWords(); // Settings → Computers opens: a read with the words
    expect(pending.map((p) => p.words)).toEqual([false, true]);
    // The newer read answers first, the older one last.
    pending[1].answer(overview(true, 2));
    await settle();
    pending[0].answer(overview(false, 5));
    await settle();
    expect(sync.words).toBe("orbit velvet sample harbour");
    expect(sync.overview?.pending_changes).toBe(2); // the newer answer stands
    stop();
    expect(sync.words).toBe("");
  });

  it("are not blanked when the older read, without them, answers first", async () => {
    pending.length = 0;
    void sync.refresh();
    const stop = sync.showWords();
    pending[0].answer(overview(false, 5));
    await settle();
    expect(sync.words).toBe("");
    pending[1].answer(overview(true, 2));
    await settle();
    expect(sync.words).toBe("orbit velvet sample harbour");
    stop();
  });
});
