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

  /** Reads the overview again (no network); quiet when locked or outside the app. */
  async refresh(): Promise<void> {
    try {
      this.overview = await api.syncOverview();
    } catch {
      /* locked, or not in the desktop shell: the strip stays as it was */
    }
  }

  /** A background run finished (or stopped). */
  heard(r: SyncRan): void {
    this.last = r;
    if (r.applied_changes > 0) this.recordsVersion++;
    void this.refresh();
  }

  /** Locked: nothing of the practice stays in the window. */
  clear(): void {
    this.overview = null;
    this.last = null;
  }
}

export const sync = new SyncView();
