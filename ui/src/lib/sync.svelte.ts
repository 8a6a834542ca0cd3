// Sync as the window knows it: the core's overview (read after every background run and when
// a sync screen opens) and the last run's event. The strip, Settings → Computers and Today
// read it; screens that list records reload when `recordsVersion` moves.

import { api, type SyncOverview, type SyncRan } from "./api";
import { syncStrip, type StripState } from "./sync";

class SyncView {
  overview = $state<SyncOverview | null>(null);
  last = $state<SyncRan | null>(null);
  /** Bumped when another computer's changes were applied here. */
  recordsVersion = $state(0);
  strip: StripState = $derived(syncStrip(this.overview, this.last));

  /** The four compare words, read while Settings → Computers is open ("" until then). */
  words = $state("");
  /** Whether a screen showing the words is open: runs read them too. */
  private wordsShown = 0;
  /** Counts reads, so an older answer arriving late cannot overwrite a newer one. */
  private reads = 0;

  /** Reads the overview again (no network); quiet when locked or outside the app. */
  async refresh(): Promise<void> {
    const read = ++this.reads;
    // Asked with or without the words: an answer read without them never blanks the words a
    // screen opened meanwhile is showing.
    const withWords = this.wordsShown > 0;
    try {
      const o = await api.syncOverview(withWords);
      if (read !== this.reads) return; // a newer read was asked for; its answer counts
      this.overview = o;
      if (withWords && this.wordsShown > 0) this.words = o.compare_words;
    } catch {
      /* locked, or not in the desktop shell: the strip stays as it was */
    }
  }

  /** An overview a command returned (turning sync on, renaming, removing): with its words. */
  took(o: SyncOverview): void {
    this.reads++; // newer than any read still on its way
    this.overview = o;
    if (this.wordsShown > 0) this.words = o.compare_words;
  }

  /** A screen shows the compare words while mounted; returns the function that stops it. */
  showWords(): () => void {
    this.wordsShown++;
    void this.refresh();
    return () => {
      this.wordsShown--;
      if (this.wordsShown === 0) this.words = "";
    };
  }

  /** A background run finished (or stopped). */
  heard(r: SyncRan): void {
    this.last = r;
    if (r.applied_changes > 0) {
      // For the bench of a remote change's repaint (tests/e2e/bench/remote-changes.mjs).
      performance.mark("sync:applied");
      this.recordsVersion++;
    }
    void this.refresh();
  }

  /** Locked: nothing of the practice stays in the window. */
  clear(): void {
    this.reads++; // a read still on its way answers for the records no longer shown
    this.overview = null;
    this.last = null;
    this.words = "";
  }
}

export const sync = new SyncView();
