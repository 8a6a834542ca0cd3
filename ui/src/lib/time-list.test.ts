import { describe, expect, it } from "vitest";
import { moveInList, QUARTER_HOURS, startIndex, typedIndex } from "./time-list";

describe("the list of times beside a time field", () => {
  it("holds the quarter hours from 07:00 to 21:45", () => {
    expect(QUARTER_HOURS).toHaveLength(60);
    expect(QUARTER_HOURS[0]).toBe("07:00");
    expect(QUARTER_HOURS[1]).toBe("07:15");
    expect(QUARTER_HOURS.at(-1)).toBe("21:45");
    expect(QUARTER_HOURS).toContain("12:30");
  });

  it("opens on the field's time, the next quarter hour after it, or 09:00", () => {
    expect(QUARTER_HOURS[startIndex("14:00")]).toBe("14:00");
    expect(QUARTER_HOURS[startIndex("14:05")]).toBe("14:15");
    expect(QUARTER_HOURS[startIndex("")]).toBe("09:00");
    expect(QUARTER_HOURS[startIndex("06:10")]).toBe("07:00");
    expect(QUARTER_HOURS[startIndex("23:30")]).toBe("21:45");
  });

  it("moves by one, by an hour, and to either end, never past them", () => {
    expect(moveInList(8, "ArrowDown", 60)).toBe(9);
    expect(moveInList(8, "ArrowUp", 60)).toBe(7);
    expect(moveInList(0, "ArrowUp", 60)).toBe(0);
    expect(moveInList(59, "ArrowDown", 60)).toBe(59);
    expect(moveInList(8, "PageDown", 60)).toBe(12);
    expect(moveInList(2, "PageUp", 60)).toBe(0);
    expect(moveInList(57, "PageDown", 60)).toBe(59);
    expect(moveInList(30, "Home", 60)).toBe(0);
    expect(moveInList(30, "End", 60)).toBe(59);
    expect(moveInList(30, "a", 60)).toBeNull();
  });

  it("finds a time typed as digits", () => {
    expect(QUARTER_HOURS[typedIndex("14")]).toBe("14:00");
    expect(QUARTER_HOURS[typedIndex("143")]).toBe("14:30");
    expect(QUARTER_HOURS[typedIndex("9")]).toBe("09:00");
    expect(QUARTER_HOURS[typedIndex("09")]).toBe("09:00");
    expect(QUARTER_HOURS[typedIndex("1")]).toBe("10:00");
    expect(typedIndex("23")).toBe(-1);
    expect(typedIndex("")).toBe(-1);
  });
});
