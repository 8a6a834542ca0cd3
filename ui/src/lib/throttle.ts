/**
 * Runs `f` at most once every `intervalMs`: the first call goes through at once, later calls
 * inside the interval are dropped (activity reports need no trailing call).
 */
export function throttle(f: () => void, intervalMs: number, now: () => number = Date.now): () => void {
  let last = -Infinity;
  return () => {
    const t = now();
    if (t - last < intervalMs) return;
    last = t;
    f();
  };
}

/** Calls `f` once, `ms` after the last call; `flush` runs it now if it is waiting. */
export function debounce(f: () => void, ms: number) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const fn = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      f();
    }, ms);
  };
  fn.pending = () => timer !== null;
  fn.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  fn.flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
      f();
    }
  };
  return fn;
}
