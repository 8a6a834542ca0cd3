// Finding a client by part of a name or code, the same in the client list and in Ctrl+K.

import type { ClientSummary } from "./api";

/** For matching: no case, no accents, no dashes or spaces ("Siân" ~ "sian", "C-7KQ2" ~ "c7kq2"). */
export function fold(s: string): string {
  return s
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[-\s]+/g, "");
}

/**
 * The clients whose name or code holds `query` (folded), best first: a code or name that
 * starts with it before one that only holds it, then clients in therapy before those whose
 * therapy ended, then by name. An empty query matches everyone in that order.
 */
export function matchClients(clients: ClientSummary[], query: string): ClientSummary[] {
  const q = fold(query.trim());
  const scored = clients
    .map((c) => {
      const code = fold(c.code.replace(/^C-/i, "")); // the "C-" need not be typed
      const name = fold(c.full_name ?? "");
      const words = (c.full_name ?? "").split(/\s+/).map(fold);
      const starts = !q || code.startsWith(q) || name.startsWith(q) || words.some((w) => w.startsWith(q));
      const holds = starts || fold(c.code).includes(q) || name.includes(q);
      return { c, holds, rank: (starts ? 0 : 2) + (c.status === "closed" ? 1 : 0) };
    })
    .filter((x) => x.holds);
  scored.sort((a, b) => a.rank - b.rank || (a.c.full_name ?? "").localeCompare(b.c.full_name ?? "", "en-GB"));
  return scored.map((x) => x.c);
}
