// NHS numbers (England and Wales): ten digits, the last a modulus 11 check digit of the
// other nine. Checked here as typed, before anything is sent, so a typing slip is caught by
// the field; the core checks again (records/clients.rs, the same rule and the same words).

/** The number as typed without its spaces and hyphens ("943 476 5919" → "9434765919"). */
export function nhsDigits(typed: string): string {
  return typed.replace(/[\s-]/g, "");
}

/** The check digit the first nine digits call for, or null when none can (a remainder of 10). */
export function nhsCheckDigit(nine: string): number | null {
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(nine[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 11) return 0;
  return check === 10 ? null : check;
}

export const NHS_SHAPE_ERROR = "An NHS number is ten digits (spaces allowed), like 943 476 5919.";
export const NHS_CHECK_ERROR =
  "This is not a valid NHS number: its last digit does not match the others (check it for a typing slip).";

/**
 * Why what was typed is not an NHS number, in a sentence for the field; null when it is one,
 * or when nothing was typed (the number is optional).
 */
export function nhsNumberError(typed: string): string | null {
  const d = nhsDigits(typed);
  if (d === "") return null;
  if (!/^\d{10}$/.test(d)) return NHS_SHAPE_ERROR;
  const check = nhsCheckDigit(d.slice(0, 9));
  return check !== null && check === Number(d[9]) ? null : NHS_CHECK_ERROR;
}

/** True for a valid NHS number as typed (spaces and hyphens allowed). */
export function isNhsNumber(typed: string): boolean {
  return nhsDigits(typed) !== "" && nhsNumberError(typed) === null;
}

/** An NHS number for a reader, in groups of 3, 3 and 4 ("943 476 5919"); other text as it is. */
export function formatNhsNumber(value: string | null | undefined): string {
  if (!value) return "";
  const d = nhsDigits(value);
  return /^\d{10}$/.test(d) ? `${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6)}` : value;
}
