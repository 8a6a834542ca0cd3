// How long a screen takes to draw its data once the data is here: `<name>:data` when it
// arrives, `<name>:data:dom` once Svelte has made its elements, `<name>:laid-out` once Svelte has updated the page and the browser has laid it
// out, and a `<name>` measure up to the next painted frame. Read by the desktop bench
// (tests/e2e/bench/startup.mjs) for the week and the client list; a few timestamps, kept in
// the page only (performance entries never leave it).
import { tick } from "svelte";

/** The marks a screen leaves after drawing its data (for tests and the bench). */
export const renderMarks = (name: string) => ({ data: `${name}:data`, laidOut: `${name}:laid-out`, measure: name });

/** Call as the data is stored in the screen's state; resolves once the frame is painted. */
export async function markRender(name: string): Promise<void> {
  if (typeof performance === "undefined" || typeof performance.mark !== "function") return;
  const m = renderMarks(name);
  performance.mark(m.data);
  await tick();
  performance.mark(`${m.data}:dom`);
  document.body.getBoundingClientRect(); // forces the layout now
  performance.mark(m.laidOut);
  await new Promise<void>((resolve) => {
    if (typeof requestAnimationFrame !== "function") return resolve();
    requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
  });
  try {
    performance.measure(m.measure, m.data);
  } catch {
    // A cleared timeline (not in the app): nothing to measure.
  }
}
