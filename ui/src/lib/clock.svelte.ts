// The session clock as the UI sees it. The core sends a `clock` event every second; between
// events the countdown is worked out here from the planned end, so the display never stalls
// or jumps when an event is late. Nothing runs while no session does: the local tick only
// runs during a session, and an event that changes nothing (idle) changes no state.

import { api, events, type ClockView } from "./api";
import { formatClock, secondsUntil } from "./format";

export class ClockState {
  view = $state<ClockView | null>(null);
  now = $state(Date.now());
  private timer: ReturnType<typeof setInterval> | null = null;
  /** How many places show the clock (the main window, the small clock window). */
  private followers = 0;
  /** The last view as JSON, to drop events that change nothing. */
  private lastJson = "";

  running = $derived(this.view?.running === true);

  /** Seconds to the planned end (negative in overrun), or null when idle. */
  remaining = $derived.by(() => {
    const v = this.view;
    if (!v || !v.running) return null;
    if (v.ends_at) return secondsUntil(v.ends_at, this.now);
    return v.remaining_seconds;
  });

  display = $derived(this.remaining === null ? (this.view?.display ?? "") : formatClock(this.remaining));
  overrun = $derived(this.remaining !== null ? this.remaining < 0 : this.view?.overrun === true);

  set(v: ClockView): void {
    const json = JSON.stringify(v);
    if (json === this.lastJson && this.view) return; // idle: the same view every second
    this.lastJson = json;
    this.view = v;
    this.now = Date.now();
    this.syncTimer();
  }

  reset(): void {
    this.view = null;
    this.lastJson = "";
    this.syncTimer();
  }

  /** Whether the local tick is running (only while shown somewhere and a session runs). */
  get ticking(): boolean {
    return this.timer !== null;
  }

  private syncTimer(): void {
    const want = this.followers > 0 && this.view?.running === true;
    if (want && !this.timer) {
      this.now = Date.now();
      this.timer = setInterval(() => (this.now = Date.now()), 250);
    } else if (!want && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Keeps `now` fresh while mounted somewhere and a session runs; returns the stop function. */
  startTicking(): () => void {
    this.followers++;
    this.syncTimer();
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.followers--;
      this.syncTimer();
    };
  }

  /**
   * Follows the core's events; returns the stop function. The clock is asked for now only if
   * not already known (after unlock it came with the day's data).
   */
  follow(onError?: (e: unknown) => void): () => void {
    let unlisten: (() => void) | null = null;
    let stopped = false;
    if (!this.view) api.clock().then((v) => this.set(v), onError);
    events
      .onClock((v) => this.set(v))
      .then((u) => {
        if (stopped) u();
        else unlisten = u;
      }, onError);
    const stopTick = this.startTicking();
    return () => {
      stopped = true;
      unlisten?.();
      stopTick();
    };
  }
}

export const clock = new ClockState();
