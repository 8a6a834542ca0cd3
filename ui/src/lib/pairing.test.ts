import { describe, expect, it } from "vitest";
import { normalisePairCode, pairCodeProblem, validUntil } from "./pairing";

describe("pairing codes as typed", () => {
  it("takes any case, spaces and dashes", () => {
    expect(normalisePairCode(" k7q2-m9xd 4f ")).toBe("K7Q2M9XD4F");
    expect(pairCodeProblem("k7q2-m9xd-4f")).toBeNull();
  });
  it("names a symbol codes leave out, and a wrong length", () => {
    expect(pairCodeProblem("K7Q2-M9XD-40")).toContain("“0”");
    expect(pairCodeProblem("K7Q2-M9XD")).toContain("this has 8");
    expect(pairCodeProblem("   ")).toContain("Type the code");
  });
  it("says until when a code is valid, in 24-hour time", () => {
    const at = new Date(2026, 11, 4, 9, 5).getTime() / 1000;
    expect(validUntil(at)).toBe("Valid until 09:05");
  });
});
