// The session clock's buttons, shared by the three places that show it (the strip in the main
// window, the small clock window, the clock on the locked screen).

import { errorMessage, type ClockView } from "./api";
import { clock } from "./clock.svelte";
import type { DelayedEnd } from "./delayed-end.svelte";

export interface ClockControlsOptions {
  /** The element ids of the End and Undo buttons, for moving focus between them. */
  endId: string;
  undoId: string;
  /** Turns a failure into the words shown (the strip's also handles a lock); errorMessage if not given. */
  describe?: (e: unknown) => string;
  /** Told after a command's answer is shown on the clock (the strip refreshes the day). */
  ondone?: (v: ClockView) => void;
}

/**
 * Owns a clock view's button state: `busy` while a clock command (+5 min, Start) is out, so a
 * second press does nothing; `error`, the last press's failure in words, kept until the next
 * press; and End / Undo through the shared delayed end, moving focus to Undo after End and back
 * to End after Undo (by element id, once the button is there).
 */
export class ClockControls {
  busy = $state(false);
  error = $state("");

  constructor(
    private readonly end: DelayedEnd,
    private readonly opts: ClockControlsOptions,
  ) {}

  /** Words for a failure, as this view shows them. */
  describe(e: unknown): string {
    return (this.opts.describe ?? errorMessage)(e);
  }

  /** Runs a clock command (unless one is out) and shows its answer on the clock. */
  async act(f: () => Promise<ClockView>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error = "";
    try {
      const v = await f();
      clock.set(v);
      this.opts.ondone?.(v);
    } catch (e) {
      this.error = this.describe(e);
    } finally {
      this.busy = false;
    }
  }

  /** End pressed: the end waits (with Undo), and focus moves to Undo. */
  pressEnd(): void {
    this.error = "";
    this.end.request();
    setTimeout(() => document.getElementById(this.opts.undoId)?.focus(), 0);
  }

  /** Undo pressed: nothing is sent, and focus goes back to End. */
  undo(): void {
    this.end.undo();
    setTimeout(() => document.getElementById(this.opts.endId)?.focus(), 0);
  }
}
