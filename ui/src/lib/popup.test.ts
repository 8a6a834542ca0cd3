import { afterEach, describe, expect, it, vi } from "vitest";
import { closeOnOutsidePointer, popupPosition } from "./popup";

const VIEW = { width: 1000, height: 700 };
const SIZE = { width: 280, height: 300 };

describe("a popup beside a field", () => {
  it("goes under the field, lined up with its left edge", () => {
    expect(popupPosition({ top: 100, bottom: 140, left: 50 }, SIZE, VIEW)).toEqual({ top: 144, left: 50 });
  });

  it("goes above the field when there is no room below, and under it when there is none above either", () => {
    expect(popupPosition({ top: 500, bottom: 540, left: 50 }, SIZE, VIEW)).toEqual({ top: 196, left: 50 });
    expect(popupPosition({ top: 200, bottom: 240, left: 50 }, SIZE, { width: 1000, height: 400 })).toEqual({
      top: 244,
      left: 50,
    });
  });

  it("stays inside the window at the right", () => {
    expect(popupPosition({ top: 100, bottom: 140, left: 900 }, SIZE, VIEW).left).toBe(716);
  });
});

describe("a click outside a popup", () => {
  afterEach(() => {
    document.body.innerHTML = "";
  });

  it("closes it; a click inside it or on its button does not", () => {
    document.body.innerHTML = `<button id="b">Open</button><div id="p"><span id="in">1</span></div><p id="out">x</p>`;
    const close = vi.fn();
    const stop = closeOnOutsidePointer(() => [document.getElementById("p"), document.getElementById("b")], close);
    const down = (id: string) =>
      document.getElementById(id)!.dispatchEvent(new Event("pointerdown", { bubbles: true }));
    down("in");
    down("b");
    expect(close).not.toHaveBeenCalled();
    down("out");
    expect(close).toHaveBeenCalledTimes(1);
    stop();
    down("out");
    expect(close).toHaveBeenCalledTimes(1);
  });
});
