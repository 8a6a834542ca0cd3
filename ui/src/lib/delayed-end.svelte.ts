// End with undo. Pressing End does not end the session at once: for UNDO_SECONDS the clock
// shows "Ended · Undo", and only then is the core's end command sent. Undo cancels it. The
// end is never lost: if the window closes (pagehide), the screen showing it goes away (a lock),
// or anything else wants it sooner, `flush()` sends it at once.
//
// Both windows (the main one and the small clock) share one pending end through localStorage:
// the window where End was pressed owns the timer and sends the end; the other shows
// "Ended · Undo" too, and its Undo reaches the owner through the storage event. A pending end
// belongs to one session (its start time): if that session ends some other way (the tray) or
// another one is running by the time it is due, nothing is sent.

import type { ClockView } from "./api";

export const UNDO_SECONDS = 10;
export const PENDING_KEY = "casebook.end-pending";

/** What is kept in localStorage while an end waits. */
interface Shared {
  session: string;
  due: number; // ms since the epoch
}

export interface DelayedEndOptions {
  /** Sends the end to the core. */
  /** Sends the end, recorded at `endedAtMs` (when End was pressed, not when it is sent). */
  send: (endedAtMs: number) => Promise<ClockView>;
  /** The running session's key (its start time), or null when none runs. */
  current: () => string | null;
  /** Told the core's answer after the end was sent. */
  onsent?: (v: ClockView) => void;
  /** Told why sending failed (the session then shows as running again). */
  onerror?: (e: unknown) => void;
  delayMs?: number;
  /** Where the pending end is shared with the other window; null: not shared. */
  storage?: Storage | null;
  now?: () => number;
}

function localStore(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export class DelayedEnd {
  /** The session whose end is waiting (here or in the other window), or null. */
  session = $state<string | null>(null);
  /** When the wait is over (ms since the epoch). */
  due = $state(0);
  /** Whole seconds left to undo, for the display (updated each second). */
  secondsLeft = $state(0);
  /** True in the window that owns the timer and will send the end. */
  owner = $state(false);
  sending = $state(false);

  private timer: ReturnType<typeof setTimeout> | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private readonly delayMs: number;
  private readonly storage: Storage | null;
  private readonly now: () => number;

  constructor(private readonly opts: DelayedEndOptions) {
    this.delayMs = opts.delayMs ?? UNDO_SECONDS * 1000;
    this.storage = opts.storage === undefined ? localStore() : opts.storage;
    this.now = opts.now ?? Date.now;
  }

  /** Whether an end waits for the running session (so the clock shows "Ended · Undo"). */
  get pending(): boolean {
    return this.session !== null && this.session === this.opts.current();
  }

  /** End pressed: the end is sent after the delay unless undone. Nothing if none runs. */
  request(): void {
    const session = this.opts.current();
    if (session === null || this.pending || this.sending) return;
    this.clearTimers();
    this.session = session;
    this.due = this.now() + this.delayMs;
    this.owner = true;
    this.timer = setTimeout(() => void this.flush(), this.delayMs);
    this.startTicker();
    this.share({ session, due: this.due });
  }

  /** Undo: nothing is sent. In the other window, this tells the owner. */
  undo(): void {
    if (this.session === null) return;
    this.forget();
    this.share(null);
  }

  /** Sends a waiting end now (its time is up, the window is closing, or it is wanted sooner). */
  async flush(): Promise<void> {
    if (!this.owner || this.session === null) return;
    const session = this.session;
    const endedAtMs = this.due - this.delayMs;
    this.forget();
    this.share(null);
    if (this.opts.current() !== session) return; // it ended some other way meanwhile
    this.sending = true;
    try {
      this.opts.onsent?.(await this.opts.send(endedAtMs));
    } catch (e) {
      this.opts.onerror?.(e);
    } finally {
      this.sending = false;
    }
  }

  /**
   * Follows the other window's pending end (localStorage's storage event); returns the stop
   * function. Also picks up one already waiting when this window opens.
   */
  listen(target: Pick<Window, "addEventListener" | "removeEventListener"> = window): () => void {
    const onStorage = (e: StorageEvent) => {
      if (e.key === PENDING_KEY || e.key === null) this.heard(e.key === null ? null : e.newValue);
    };
    target.addEventListener("storage", onStorage as EventListener);
    this.heard(this.read());
    return () => target.removeEventListener("storage", onStorage as EventListener);
  }

  /** Stops the timers without sending (for tests and teardown that must not end anything). */
  dispose(): void {
    this.clearTimers();
  }

  private heard(raw: string | null): void {
    const shared = parse(raw);
    if (this.owner) {
      // The other window pressed Undo (the key went away): nothing is sent.
      if (shared === null && this.session !== null) this.forget();
      return;
    }
    // An end the other window is waiting to send; it ages out if that window died.
    if (shared && shared.due > this.now() - 2000) {
      this.session = shared.session;
      this.due = shared.due;
      this.startTicker();
    } else if (this.session !== null) {
      this.forget();
    }
  }

  private forget(): void {
    this.clearTimers();
    this.session = null;
    this.owner = false;
    this.secondsLeft = 0;
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    this.timer = null;
    this.ticker = null;
  }

  private startTicker(): void {
    const update = () => {
      this.secondsLeft = Math.max(0, Math.ceil((this.due - this.now()) / 1000));
      // In the other window: stop showing it a little after it was due (the owner sends it).
      if (!this.owner && this.now() > this.due + 2000) this.forget();
    };
    if (this.ticker) clearInterval(this.ticker);
    update();
    this.ticker = setInterval(update, 1000);
  }

  private read(): string | null {
    try {
      return this.storage?.getItem(PENDING_KEY) ?? null;
    } catch {
      return null;
    }
  }

  private share(value: Shared | null): void {
    try {
      if (value) this.storage?.setItem(PENDING_KEY, JSON.stringify(value));
      else this.storage?.removeItem(PENDING_KEY);
    } catch {
      /* not shared: this window still sends it */
    }
  }
}

function parse(raw: string | null): Shared | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<Shared>;
    return typeof v.session === "string" && typeof v.due === "number" ? { session: v.session, due: v.due } : null;
  } catch {
    return null;
  }
}

/** The key of the session a clock reading shows running (its start time), or null. */
export function sessionKey(v: ClockView | null): string | null {
  return v?.running ? (v.started_at ?? v.ends_at ?? "running") : null;
}

/**
 * Sends a waiting end when the page goes away (the window closes or reloads); returns the
 * stop function.
 */
export function flushOnPageHide(end: DelayedEnd, target: Pick<Window, "addEventListener" | "removeEventListener"> = window): () => void {
  const f = () => void end.flush();
  target.addEventListener("pagehide", f);
  target.addEventListener("beforeunload", f);
  return () => {
    target.removeEventListener("pagehide", f);
    target.removeEventListener("beforeunload", f);
  };
}

/**
 * Keeps `end` with the component showing it, from mount to teardown: follows the other
 * window's pending end, sends a waiting end when the page goes away, and sends it too when
 * the returned stop function runs (the component going away: a lock, an unlock), so an End
 * once pressed is never lost. For a component's onMount.
 */
export function attachEnd(end: DelayedEnd, target: Pick<Window, "addEventListener" | "removeEventListener"> = window): () => void {
  const stopListening = end.listen(target);
  const stopPageHide = flushOnPageHide(end, target);
  return () => {
    stopListening();
    stopPageHide();
    void end.flush();
  };
}
