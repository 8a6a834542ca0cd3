import { describe, expect, it } from "vitest";
import {
  formatNhsNumber,
  isNhsNumber,
  NHS_CHECK_ERROR,
  NHS_SHAPE_ERROR,
  nhsCheckDigit,
  nhsDigits,
  nhsNumberError,
} from "./nhs";

describe("NHS numbers", () => {
  it("take a valid number (the modulus 11 check digit)", () => {
    // 9·10 + 4·9 + 3·8 + 4·7 + 7·6 + 6·5 + 5·4 + 9·3 + 1·2 = 299; 299 mod 11 = 2; 11 − 2 = 9.
    expect(nhsCheckDigit("943476591")).toBe(9);
    expect(nhsNumberError("9434765919")).toBeNull();
    expect(isNhsNumber("9434765919")).toBe(true);
    // A remainder of 0 makes the check digit 0 (11 → 0).
    expect(nhsCheckDigit("943476007")).toBe(0);
    expect(nhsNumberError("9434760070")).toBeNull();
  });

  it("refuse a number with one digit wrong, and one whose check would be 10", () => {
    expect(nhsNumberError("9434765918")).toBe(NHS_CHECK_ERROR); // the last digit
    expect(nhsNumberError("9434765819")).toBe(NHS_CHECK_ERROR); // a middle one
    expect(nhsNumberError("8434765919")).toBe(NHS_CHECK_ERROR); // the first
    expect(nhsNumberError("4934765919")).toBe(NHS_CHECK_ERROR); // two swapped (the weights differ)
    expect(isNhsNumber("9434765918")).toBe(false);
    // A remainder of 1 calls for a check digit of 10: no number starting so is valid.
    expect(nhsCheckDigit("943476002")).toBeNull();
    for (let last = 0; last <= 9; last++) expect(nhsNumberError(`943476002${last}`)).toBe(NHS_CHECK_ERROR);
  });

  it("refuse letters, and too few or too many digits", () => {
    expect(nhsNumberError("94347659l9")).toBe(NHS_SHAPE_ERROR);
    expect(nhsNumberError("NHS 943 476 5919")).toBe(NHS_SHAPE_ERROR);
    expect(nhsNumberError("943 476 591")).toBe(NHS_SHAPE_ERROR);
    expect(nhsNumberError("943 476 59190")).toBe(NHS_SHAPE_ERROR);
    expect(nhsNumberError("943.476.5919")).toBe(NHS_SHAPE_ERROR);
    expect(isNhsNumber("abc")).toBe(false);
  });

  it("accept spaces and hyphens as typed, and nothing at all (it is optional)", () => {
    expect(nhsDigits(" 943 476-5919 ")).toBe("9434765919");
    expect(nhsNumberError("943 476 5919")).toBeNull();
    expect(nhsNumberError("943-476-5919")).toBeNull();
    expect(nhsNumberError(" 943  476 5919 ")).toBeNull();
    expect(nhsNumberError("")).toBeNull();
    expect(nhsNumberError("   ")).toBeNull();
    expect(isNhsNumber("")).toBe(false);
  });

  it("are shown in groups of 3, 3 and 4", () => {
    expect(formatNhsNumber("9434765919")).toBe("943 476 5919");
    expect(formatNhsNumber("943-476-5919")).toBe("943 476 5919");
    expect(formatNhsNumber(null)).toBe("");
    expect(formatNhsNumber("")).toBe("");
    expect(formatNhsNumber("12345")).toBe("12345"); // not ten digits: as it is
  });
});
