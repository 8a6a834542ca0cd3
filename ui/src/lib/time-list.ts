// The list of times beside a time field (components/TimeList.svelte): the quarter hours of a
// working day, where the list opens, where a key moves in it, and a time typed as digits
// while the list has the focus ("14" is 14:00, "9" is 09:00, "143" is 14:30).

const pad2 = (n: number) => String(n).padStart(2, "0");

/** The quarter hours from 07:00 to 21:45, as "HH:mm". */
export const QUARTER_HOURS: readonly string[] = Array.from({ length: 60 }, (_, i) => {
  const minutes = 7 * 60 + i * 15;
  return `${pad2(Math.floor(minutes / 60))}:${pad2(minutes % 60)}`;
});

/** With no time chosen, the list opens at the start of a working day. */
export const DEFAULT_TIME = "09:00";

/**
 * Where the list opens for the field's `value` ("HH:mm" or ""): on the time itself, else on
 * the first listed time after it (the last one for a time after them all).
 */
export function startIndex(value: string, times: readonly string[] = QUARTER_HOURS): number {
  const v = value || DEFAULT_TIME;
  const i = times.findIndex((t) => t >= v);
  return i === -1 ? times.length - 1 : i;
}

/** Where a key moves in a list of `length` times from `index`; null for a key it does not use. */
export function moveInList(index: number, key: string, length: number): number | null {
  const last = length - 1;
  const to = (i: number) => Math.max(0, Math.min(last, i));
  switch (key) {
    case "ArrowDown":
      return to(index + 1);
    case "ArrowUp":
      return to(index - 1);
    case "PageDown":
      return to(index + 4); // an hour
    case "PageUp":
      return to(index - 4);
    case "Home":
      return 0;
    case "End":
      return last;
    default:
      return null;
  }
}

/** The first listed time that the typed digits start ("9" or "09" → 09:00); -1 if none. */
export function typedIndex(digits: string, times: readonly string[] = QUARTER_HOURS): number {
  if (!/^\d+$/.test(digits)) return -1;
  const hhmm = (t: string) => t.replace(":", "");
  const i = times.findIndex((t) => hhmm(t).startsWith(digits));
  return i !== -1 ? i : times.findIndex((t) => hhmm(t).startsWith(`0${digits}`));
}
