// The session clock as the UI sees it. The core sends a `clock` event every second; between
// events the countdown is worked out here from the planned end, so the display never stalls
// or jumps when an event is late. Nothing runs while no session does: the local tick only
// runs during a session, and an event that changes nothing (idle) changes no state. It is
// followed while locked too (the Unlock screen shows a running session's time, and the core
// then sends no name or code), so the time never stops showing.

import { api, events, type ClockView } from "./api";
import { DelayedEnd, sessionKey } from "./delayed-end.svelte";
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

  /** "49:57", or the time over as "+02:15" in overrun (the core's "-02:15" is not shown). */
  display = $derived(
    this.remaining === null ? (this.view?.display ?? "").replace(/^-/, "+") : formatClock(this.remaining),
  );
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

  /**
   * The records closed (a lock): forget who the session is with, as the core does. A running
   * session's reading stays, without them, so the locked screen shows it at once and an End
   * still waiting as the main app goes away is sent for it; an idle reading is dropped.
   */
  forgetWho(): void {
    const v = this.view;
    if (v?.running) this.set({ ...v, client_code: null, client_name: null });
    else this.reset();
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

/**
 * End with Undo (lib/delayed-end.svelte.ts) for the session this clock shows: the core's end
 * command, recorded at the moment End was pressed. The core's answer is shown on the clock,
 * then told to `onsent`; a failure goes to `onerror` (the session shows as running again).
 */
export function clockEnd(opts: { onsent?: (v: ClockView) => void; onerror: (e: unknown) => void }): DelayedEnd {
  return new DelayedEnd({
    send: (endedAtMs) => api.endSession(endedAtMs),
    current: () => sessionKey(clock.view),
    onsent: (v) => {
      clock.set(v);
      opts.onsent?.(v);
    },
    onerror: opts.onerror,
  });
}

/** The clock's three looks: calm, amber from the first warning, red in overrun. */
export type ClockPhase = "calm" | "warning" | "overrun";

/** The phase's words, so it is never told by colour alone. */
export const PHASE_WORDS: Record<ClockPhase, string> = {
  calm: "In session",
  warning: "Ending soon",
  overrun: "Overrun",
};

/** The countdown's accessible name: what its digits count. */
export function timerLabel(phase: ClockPhase): string {
  return phase === "overrun" ? "Time over" : "Time left";
}

/**
 * The phase at `remaining` seconds to the planned end: overrun once past it, warning from the
 * first (largest) warning time in Settings, calm before; calm when nothing runs.
 */
export function clockPhase(remaining: number | null, warningMinutes: number[]): ClockPhase {
  if (remaining === null) return "calm";
  if (remaining < 0) return "overrun";
  const first = warningMinutes.length > 0 ? Math.max(...warningMinutes) : 0;
  return first > 0 && remaining <= first * 60 ? "warning" : "calm";
}

/**
 * How much of the planned session has gone, 0…1 (1 in overrun), or null when it cannot be
 * told (no start or end). An extension moves the end, so the bar steps back.
 */
export function sessionProgress(v: ClockView | null, now: number): number | null {
  if (!v?.running || !v.started_at || !v.ends_at) return null;
  const start = Date.parse(v.started_at);
  const end = Date.parse(v.ends_at);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return null;
  return Math.min(1, Math.max(0, (now - start) / (end - start)));
}
