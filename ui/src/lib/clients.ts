// Finding a client by part of a name or code, the same in the client list and in Ctrl+K.

import type { CaseloadEntry, ClientSummary } from "./api";

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

/** How the client list is sorted: by a column, one way or the other. */
export interface CaseloadSort {
  by: "name" | "next" | "last" | "attended" | "to_finish";
  descending: boolean;
}

/**
 * The caseload in the order asked for. Ascending means what a therapist looks for first:
 * names A–Z, the soonest next session, the most recently seen, the most sessions, the most
 * notes to finish. Clients with no date sort last either way; ties go by name.
 */
export function sortCaseload(list: CaseloadEntry[], sort: CaseloadSort): CaseloadEntry[] {
  const name = (a: CaseloadEntry, b: CaseloadEntry) =>
    (a.full_name ?? "").localeCompare(b.full_name ?? "", "en-GB") || a.code.localeCompare(b.code);
  /** Dates: `soonest` first when ascending; a missing date always after the rest. */
  const byDate = (x: string | null, y: string | null, soonest: boolean) => {
    if (x === y) return 0;
    if (x === null) return 2;
    if (y === null) return -2;
    return (x < y ? -1 : 1) * (soonest ? 1 : -1);
  };
  const flip = sort.descending ? -1 : 1;
  const cmp = (a: CaseloadEntry, b: CaseloadEntry): number => {
    let c: number;
    switch (sort.by) {
      case "next": {
        const d = byDate(a.next_session, b.next_session, true);
        c = Math.abs(d) === 2 ? d : d * flip;
        break;
      }
      case "last": {
        const d = byDate(a.last_seen, b.last_seen, false);
        c = Math.abs(d) === 2 ? d : d * flip;
        break;
      }
      case "attended":
        c = (b.attended - a.attended) * flip;
        break;
      case "to_finish":
        c = (b.notes_to_finish - a.notes_to_finish) * flip;
        break;
      default:
        c = name(a, b) * flip;
    }
    return c || name(a, b);
  };
  return [...list].sort(cmp);
}
