// The small popups beside a field (the date picker, the list of times): placed under the
// field in the window's own coordinates (position: fixed), so no scrolling box or dialog
// clips them; above the field when there is no room below; kept inside the window.

export interface Box {
  top: number;
  bottom: number;
  left: number;
}

/** Where a popup of `size` goes for a field at `anchor`, in a window of `view` (pixels). */
export function popupPosition(
  anchor: Box,
  size: { width: number; height: number },
  view: { width: number; height: number },
  gap = 4,
): { top: number; left: number } {
  const margin = 4;
  let top = anchor.bottom + gap;
  const above = anchor.top - gap - size.height;
  if (top + size.height > view.height - margin && above >= margin) top = above;
  const left = Math.max(margin, Math.min(anchor.left, view.width - size.width - margin));
  return { top: Math.round(top), left: Math.round(left) };
}

/**
 * Keeps `popup` (position: fixed) under `anchor` while anything scrolls, the window is
 * resized or the popup changes size. Returns the clean-up.
 */
export function keepUnder(popup: HTMLElement, anchor: HTMLElement): () => void {
  const place = () => {
    const { top, left } = popupPosition(
      anchor.getBoundingClientRect(),
      { width: popup.offsetWidth, height: popup.offsetHeight },
      { width: window.innerWidth, height: window.innerHeight },
    );
    popup.style.top = `${top}px`;
    popup.style.left = `${left}px`;
  };
  place();
  window.addEventListener("resize", place);
  document.addEventListener("scroll", place, { capture: true, passive: true });
  // A month of six weeks is taller than one of four: placed above the field, it moves up.
  const resized = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(place);
  resized?.observe(popup);
  return () => {
    resized?.disconnect();
    window.removeEventListener("resize", place);
    document.removeEventListener("scroll", place, { capture: true });
  };
}

/**
 * Calls `close` when the pointer goes down outside every element of `inside` (the popup and
 * the button that opens it: that button toggles it itself). Returns the clean-up.
 */
export function closeOnOutsidePointer(inside: () => (Element | null)[], close: () => void): () => void {
  const down = (e: PointerEvent) => {
    const t = e.target as Node | null;
    if (!inside().some((el) => el && t && el.contains(t))) close();
  };
  document.addEventListener("pointerdown", down, true);
  return () => document.removeEventListener("pointerdown", down, true);
}
