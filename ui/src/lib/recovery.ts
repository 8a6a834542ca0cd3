// The recovery key: the check at first run (the person types back two of its nine groups),
// and reading a whole key typed back in to restore a backup.

/** "7KQ2-M9XD-…" → ["7KQ2", "M9XD", …]. */
export function keyGroups(key: string): string[] {
  return key
    .split(/[-\s]+/)
    .map((g) => g.trim())
    .filter((g) => g !== "");
}

/**
 * A group as the core reads it: trimmed, upper case, no spaces or dashes, and the letters a
 * hand can confuse read as digits (O → 0, I and L → 1), as Crockford base-32 allows.
 */
export function normaliseGroup(s: string): string {
  return s
    .trim()
    .toUpperCase()
    .replace(/[\s-]/g, "")
    .replace(/O/g, "0")
    .replace(/[IL]/g, "1");
}

export function groupMatches(typed: string, expected: string): boolean {
  const t = normaliseGroup(typed);
  return t !== "" && t === normaliseGroup(expected);
}

/** The characters a recovery key is made of (Crockford base-32: no I, L, O or U). */
const KEY_CHAR = /^[0-9A-HJKMNP-TV-Z]$/;
const KEY_LENGTH = 36; // 9 groups of 4

/**
 * A whole key as typed ("7kq2 m9xd-0a1b…", with or without dashes) in its usual form,
 * "7KQ2-M9XD-0A1B-…": read as `normaliseGroup` reads a group, then regrouped in fours.
 */
export function normaliseRecoveryKey(s: string): string {
  return normaliseGroup(s).match(/.{1,4}/g)?.join("-") ?? "";
}

/** What is wrong with a typed recovery key, in one sentence; null when it is well formed. */
export function recoveryKeyProblem(s: string): string | null {
  const chars = normaliseGroup(s);
  if (chars === "") return "Enter your recovery key.";
  const bad = [...chars].find((c) => !KEY_CHAR.test(c));
  if (bad !== undefined) return `“${bad}” is never part of a recovery key: check that character.`;
  if (chars.length !== KEY_LENGTH)
    return `A recovery key has 36 letters and digits (9 groups of 4); this has ${chars.length}.`;
  return null;
}

/** Two different 1-based group numbers out of `count`, ascending. */
export function pickTwoGroups(count = 9, random: () => number = Math.random): [number, number] {
  if (count < 2) throw new Error("A key needs at least two groups.");
  const a = 1 + Math.floor(random() * count);
  let b = 1 + Math.floor(random() * (count - 1));
  if (b >= a) b += 1;
  return a < b ? [a, b] : [b, a];
}

/** Characters as the core counts them (code points: an emoji is one, not two). */
function characters(p: string): number {
  return [...p].length;
}

/** Why a passphrase chosen for the vault cannot be used, or "" if it can. */
export function newPassphraseProblem(p: string): string {
  return characters(p) < 10 ? "The passphrase needs at least 10 characters." : "";
}

export type PassphraseStrength = { level: 0 | 1 | 2 | 3; label: string; hint: string };

/**
 * A rough guide, not a guarantee: length counts most, then variety. Ten characters is the
 * minimum the app accepts.
 */
export function passphraseStrength(p: string): PassphraseStrength {
  const n = characters(p);
  if (n === 0) return { level: 0, label: "", hint: "At least 10 characters. A few unrelated words work well." };
  if (n < 10) return { level: 0, label: "Too short", hint: `${10 - n} more character${10 - n === 1 ? "" : "s"} needed.` };
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(p)).length;
  const words = p.trim().split(/\s+/).length;
  const unique = new Set(p).size;
  if (unique < 5) return { level: 1, label: "Weak", hint: "Too many repeated characters." };
  if (p.length >= 20 || (p.length >= 16 && (classes >= 2 || words >= 4)))
    return { level: 3, label: "Strong", hint: "A good passphrase." };
  if (p.length >= 14 || classes >= 3 || words >= 3)
    return { level: 2, label: "Fair", hint: "Longer is stronger: add another word." };
  return { level: 1, label: "Weak", hint: "Add more words or characters." };
}
