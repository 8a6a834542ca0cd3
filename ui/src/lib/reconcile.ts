// Refreshing a screen's state from a new answer without drawing it all again. Svelte redraws
// what reads the parts of `$state` that are assigned, so assigning a whole client file (twenty
// years of notes) to show one changed phone number redraws every note. `reconcile` assigns
// only the parts that differ from the previous answer: a changed field of the client, or the
// one note in a list that changed. Answers are plain JSON from the app, so comparing their
// JSON text is exact.

const text = (v: unknown) => JSON.stringify(v) ?? "undefined";

/** Whether two lists hold the same records in the same order (by `id`, when they have one). */
function sameOrder(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  const id = (v: unknown) => (v !== null && typeof v === "object" && "id" in v ? (v as { id: unknown }).id : undefined);
  return a.every((v, i) => id(v) === id(b[i]));
}

/**
 * Brings `target` (reactive state holding what `prev` held) to what `next` holds, assigning
 * only what changed: each top-level field that differs; in a list whose records are the same
 * and in the same order, only the records that differ. Returns how many assignments it made.
 */
export function reconcile<T extends object>(target: T, prev: T, next: T): number {
  let assigned = 0;
  const t = target as Record<string, unknown>;
  const p = prev as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  for (const key of new Set([...Object.keys(p), ...Object.keys(n)])) {
    const before = p[key];
    const after = n[key];
    if (text(before) === text(after)) continue;
    if (Array.isArray(before) && Array.isArray(after) && Array.isArray(t[key]) && sameOrder(before, after)) {
      const list = t[key] as unknown[];
      for (let i = 0; i < after.length; i++) {
        if (text(before[i]) !== text(after[i])) {
          list[i] = after[i];
          assigned++;
        }
      }
    } else {
      t[key] = after;
      assigned++;
    }
  }
  return assigned;
}
