// Focus helpers: a new screen's heading takes focus so keyboard and screen-reader users
// start at the top of what just opened.

/** Svelte action: focuses the element once it is in the page. */
export function focusOnMount(node: HTMLElement, enabled: boolean = true) {
  if (enabled) queueMicrotask(() => node.focus({ preventScroll: false }));
}
