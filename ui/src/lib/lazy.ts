// Code loaded on demand. The first script holds only what the first screen needs (the shell,
// the Unlock screen); the rest of the UI comes in its own chunks, fetched when wanted (or just
// before: see `afterPaint`). Once loaded, a module stays loaded; `current` gives it without
// waiting, so a screen already fetched shows in the same frame.

export interface Lazy<T> {
  /** Fetches the module once; later calls return the same promise. A failure can be retried. */
  load(): Promise<T>;
  /** The module's default export once loaded, else null. */
  readonly current: T | null;
}

export function lazy<T>(importer: () => Promise<{ default: T }>): Lazy<T> {
  let pending: Promise<T> | null = null;
  let value: T | null = null;
  return {
    load() {
      pending ??= importer().then(
        (m) => (value = m.default),
        (e) => {
          pending = null;
          throw e;
        },
      );
      return pending;
    },
    get current() {
      return value;
    },
  };
}

/** Runs `f` once the next frame has been painted (so it never delays what is on its way). */
export function afterPaint(f: () => void): void {
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(() => setTimeout(f, 0));
  else setTimeout(f, 0);
}
