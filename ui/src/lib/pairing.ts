// Adding a computer by code: the code as typed and as shown. The symbols are those of client
// codes (no 0/O, 1/I/L, U), ten of them, shown in groups as K7Q2-M9XD-4F. The core checks
// the code again (`casebook_sync::pairing::Code::parse`); this only spares a round trip.

export const PAIR_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
export const PAIR_CODE_LENGTH = 10;

/** The symbols typed, upper case, without spaces or dashes. */
export function normalisePairCode(typed: string): string {
  return typed.replace(/[\s\-‐–]/g, "").toUpperCase();
}

/** Why a typed code cannot be one, or null. */
export function pairCodeProblem(typed: string): string | null {
  const t = normalisePairCode(typed);
  if (t === "") return "Type the code the other computer shows.";
  for (const c of t) {
    if (!PAIR_ALPHABET.includes(c))
      return `“${c}” is not in codes: they use the digits 2–9 and the letters except I, L, O and U.`;
  }
  if (t.length !== PAIR_CODE_LENGTH)
    return `The code has ${PAIR_CODE_LENGTH} letters and digits; this has ${t.length}.`;
  return null;
}

/** "Valid until 14:12" from seconds since the epoch (UK style, 24-hour). */
export function validUntil(expiresAt: number): string {
  const d = new Date(expiresAt * 1000);
  return `Valid until ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}
