import { describe, expect, it } from "vitest";
import {
  groupMatches,
  keyGroups,
  normaliseGroup,
  normaliseRecoveryKey,
  newPassphraseProblem,
  passphraseStrength,
  pickTwoGroups,
  recoveryKeyProblem,
} from "./recovery";

const KEY = "7KQ2-M9XD-0A1B-C3D4-E5F6-G7H8-J9K0-1M2N-R4TN";

describe("recovery key groups", () => {
  it("splits a key into its nine groups", () => {
    const g = keyGroups(KEY);
    expect(g).toHaveLength(9);
    expect(g[0]).toBe("7KQ2");
    expect(g[8]).toBe("R4TN");
  });

  it("matches a group typed exactly, in lower case, or with spaces around", () => {
    expect(groupMatches("M9XD", "M9XD")).toBe(true);
    expect(groupMatches("m9xd", "M9XD")).toBe(true);
    expect(groupMatches("  m9xD \n", "M9XD")).toBe(true);
  });

  it("reads O as 0 and I or L as 1, as the key's alphabet allows", () => {
    expect(groupMatches("OA1B", "0A1B")).toBe(true);
    expect(groupMatches("oaib", "0A1B")).toBe(true);
    expect(groupMatches("0ALB", "0A1B")).toBe(true);
    expect(groupMatches("1M2N", "1M2N")).toBe(true);
    expect(groupMatches("lm2n", "1M2N")).toBe(true);
    expect(normaliseGroup(" o-il ")).toBe("011");
  });

  it("rejects a wrong, short, long or empty group", () => {
    expect(groupMatches("M9XE", "M9XD")).toBe(false);
    expect(groupMatches("M9X", "M9XD")).toBe(false);
    expect(groupMatches("M9XDD", "M9XD")).toBe(false);
    expect(groupMatches("", "M9XD")).toBe(false);
    expect(groupMatches("   ", "")).toBe(false);
    // A neighbouring group is not the asked one.
    expect(groupMatches("7KQ2", "M9XD")).toBe(false);
  });

  it("asks for two different groups between 1 and 9, ascending", () => {
    for (let i = 0; i < 500; i++) {
      const [a, b] = pickTwoGroups();
      expect(a).toBeGreaterThanOrEqual(1);
      expect(b).toBeLessThanOrEqual(9);
      expect(a).toBeLessThan(b);
    }
  });

  it("can ask for any pair, including the first and last groups", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) seen.add(pickTwoGroups().join(","));
    expect(seen.size).toBe(36); // 9 choose 2
    expect(pickTwoGroups(9, () => 0)).toEqual([1, 2]);
    expect(pickTwoGroups(9, () => 0.999)).toEqual([8, 9]);
  });
});

describe("a whole recovery key typed back in", () => {
  it("reads it with or without dashes, in any case, with O/I/L read as digits", () => {
    expect(normaliseRecoveryKey(KEY)).toBe(KEY);
    expect(normaliseRecoveryKey(KEY.toLowerCase())).toBe(KEY);
    expect(normaliseRecoveryKey(" 7kq2 m9xd oaib c3d4 e5f6 g7h8 j9k0 lm2n r4tn ")).toBe(KEY);
    expect(normaliseRecoveryKey("7KQ2M9XD0A1BC3D4E5F6G7H8J9K01M2NR4TN")).toBe(KEY);
    expect(normaliseRecoveryKey("7kq2m9")).toBe("7KQ2-M9");
    expect(normaliseRecoveryKey("")).toBe("");
  });

  it("says what is wrong with a key that cannot be one", () => {
    expect(recoveryKeyProblem(KEY)).toBeNull();
    expect(recoveryKeyProblem(KEY.toLowerCase().replace(/-/g, " "))).toBeNull();
    expect(recoveryKeyProblem("  ")).toBe("Enter your recovery key.");
    expect(recoveryKeyProblem(KEY.slice(0, -5))).toBe(
      "A recovery key has 36 letters and digits (9 groups of 4); this has 32.",
    );
    expect(recoveryKeyProblem(`${KEY}-AAAA`)).toMatch(/this has 40/);
    expect(recoveryKeyProblem(KEY.replace("7KQ2", "7KU2"))).toBe("“U” is never part of a recovery key: check that character.");
    expect(recoveryKeyProblem(KEY.replace("7KQ2", "7K.2"))).toMatch(/“\.”/);
  });
});

describe("passphrase strength", () => {
  it("asks for at least 10 characters", () => {
    expect(passphraseStrength("").level).toBe(0);
    expect(passphraseStrength("short").label).toBe("Too short");
    expect(passphraseStrength("123456789").hint).toContain("1 more character");
    // Counted as the core counts: five emoji are five characters, not ten.
    expect(passphraseStrength("🔒🔒🔒🔒🔒").hint).toContain("5 more characters");
    expect(newPassphraseProblem("🔒🔒🔒🔒🔒")).not.toBe("");
    expect(newPassphraseProblem("🔒🔒🔒🔒🔒 tram")).toBe("");
  });

  it("grades longer passphrases higher", () => {
    expect(passphraseStrength("aaaaaaaaaaaa").label).toBe("Weak");
    expect(passphraseStrength("abcdefghij").label).toBe("Weak");
    expect(passphraseStrength("Abcdefgh1!").label).toBe("Fair");
    expect(passphraseStrength("correct horse battery staple").label).toBe("Strong");
  });
});
