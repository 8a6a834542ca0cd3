// Focus helpers: a new screen's heading takes focus so keyboard and screen-reader users
// start at the top of what just opened.

/** Svelte action: focuses the element once it is in the page. */
export function focusOnMount(node: HTMLElement, enabled: boolean = true) {
  if (enabled) queueMicrotask(() => node.focus({ preventScroll: false }));
}

/**
 * Focuses a path field (`PathField.svelte`): its typed field when that is open, else its
 * "Choose…" button. For a form that found a problem with the path.
 */
export function focusPathField(id: string): void {
  (document.getElementById(id) ?? document.getElementById(`${id}-choose`))?.focus();
}

/**
 * For a Settings section opened from elsewhere (the strip, the Backups screen): when `view` is
 * Settings at `section`, brings the heading `id` to the top and focuses it. Call it inside an
 * `$effect` that reads `app.view`.
 */
export function startAtSection(view: { name: string; section?: string }, section: string, id: string): void {
  if (view.name !== "settings" || view.section !== section) return;
  setTimeout(() => {
    const h = document.getElementById(id);
    h?.scrollIntoView?.({ block: "start" });
    h?.focus({ preventScroll: true });
  }, 0);
}
