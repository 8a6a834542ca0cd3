// The session clock as the UI sees it. The core sends a `clock` event every second; between
// events the countdown is worked out here from the planned end, so the display never stalls
// or jumps when an event is late.

import { api, events, type ClockView } from "./api";
import { formatClock, secondsUntil } from "./format";

export class ClockState {
  view = $state<ClockView | null>(null);
  now = $state(Date.now());
  private timer: ReturnType<typeof setInterval> | null = null;

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
    this.view = v;
    this.now = Date.now();
  }

  reset(): void {
    this.view = null;
  }

  /** Keeps `now` fresh while mounted somewhere; returns the stop function. */
  startTicking(): () => void {
    if (!this.timer) this.timer = setInterval(() => (this.now = Date.now()), 250);
    return () => {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    };
  }

  /** Loads the clock now and follows the core's events; returns the stop function. */
  follow(onError?: (e: unknown) => void): () => void {
    let unlisten: (() => void) | null = null;
    let stopped = false;
    api.clock().then((v) => this.set(v), onError);
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
