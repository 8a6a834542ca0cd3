import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import { comfort, readTextSize, readTheme, stepTextSize, textSizeKey } from "./comfort.svelte";
import DisplaySettings from "../components/DisplaySettings.svelte";

/** A stand-in for the OS's light/dark setting, which jsdom does not have. */
function fakeScheme(dark: boolean) {
  const listeners = new Set<(e: MediaQueryListEvent) => void>();
  const mq = {
    matches: dark,
    addEventListener: (_: string, f: (e: MediaQueryListEvent) => void) => listeners.add(f),
    removeEventListener: (_: string, f: (e: MediaQueryListEvent) => void) => listeners.delete(f),
  };
  vi.stubGlobal("matchMedia", () => mq);
  return {
    set(d: boolean) {
      mq.matches = d;
      listeners.forEach((f) => f({ matches: d } as MediaQueryListEvent));
    },
  };
}

const root = document.documentElement;
let stop: (() => void) | null = null;
let component: ReturnType<typeof mount> | null = null;

beforeEach(() => {
  localStorage.clear();
  root.removeAttribute("style");
  delete root.dataset.theme;
});
afterEach(() => {
  stop?.();
  stop = null;
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  vi.unstubAllGlobals();
});

describe("text size", () => {
  it("steps through 100, 110, 125 and 150 %, and stops at the ends", () => {
    expect(stepTextSize(100, 1)).toBe(110);
    expect(stepTextSize(110, 1)).toBe(125);
    expect(stepTextSize(125, 1)).toBe(150);
    expect(stepTextSize(150, 1)).toBe(150);
    expect(stepTextSize(125, -1)).toBe(110);
    expect(stepTextSize(100, -1)).toBe(100);
    expect(stepTextSize(150, 0)).toBe(100);
  });

  it("reads only the sizes it offers", () => {
    expect(readTextSize("125")).toBe(125);
    expect(readTextSize("130")).toBe(100);
    expect(readTextSize(null)).toBe(100);
  });

  it("knows Ctrl +, Ctrl − and Ctrl 0", () => {
    const k = (key: string, over: Partial<KeyboardEvent> = {}) =>
      textSizeKey({ key, ctrlKey: true, metaKey: false, altKey: false, ...over });
    expect(k("+")).toBe(1);
    expect(k("=")).toBe(1);
    expect(k("-")).toBe(-1);
    expect(k("0")).toBe(0);
    expect(k("+", { ctrlKey: false, metaKey: true })).toBe(1); // ⌘ on a Mac
    expect(k("+", { ctrlKey: false })).toBeNull();
    expect(k("+", { altKey: true })).toBeNull();
    expect(k("1")).toBeNull();
  });

  it("sets the root font size, so rem-based layout scales, and keeps it", () => {
    fakeScheme(false);
    stop = comfort.start();
    expect(root.style.fontSize).toBe("16px");
    comfort.setTextSize(125);
    expect(root.style.fontSize).toBe("20px");
    expect(localStorage.getItem("casebook.text-size")).toBe("125");
    comfort.stepTextSize(1);
    expect(root.style.fontSize).toBe("24px");
    comfort.stepTextSize(0);
    expect(root.style.fontSize).toBe("16px");

    // Started again (the next launch), the saved size comes back.
    localStorage.setItem("casebook.text-size", "110");
    stop();
    stop = comfort.start();
    expect(root.style.fontSize).toBe("17.6px");
  });

  it("leaves the clock window's size alone", () => {
    fakeScheme(false);
    localStorage.setItem("casebook.text-size", "150");
    stop = comfort.start(false);
    expect(root.style.fontSize).toBe("");
    expect(root.dataset.theme).toBe("light");
  });
});

describe("theme", () => {
  it("follows the system by default, as it changes", () => {
    const scheme = fakeScheme(true);
    stop = comfort.start();
    expect(comfort.theme).toBe("system");
    expect(root.dataset.theme).toBe("dim");
    scheme.set(false);
    expect(root.dataset.theme).toBe("light");
  });

  it("keeps a chosen theme whatever the system says", () => {
    const scheme = fakeScheme(false);
    stop = comfort.start();
    comfort.setTheme("dim");
    expect(root.dataset.theme).toBe("dim");
    expect(localStorage.getItem("casebook.theme")).toBe("dim");
    scheme.set(false);
    expect(root.dataset.theme).toBe("dim");
    comfort.setTheme("light");
    scheme.set(true);
    expect(root.dataset.theme).toBe("light");
    expect(readTheme("sepia")).toBe("system");
  });

  it("follows a change made in another window", () => {
    fakeScheme(false);
    stop = comfort.start();
    window.dispatchEvent(new StorageEvent("storage", { key: "casebook.theme", newValue: "dim" }));
    expect(root.dataset.theme).toBe("dim");
  });
});

describe("Settings → Display", () => {
  it("offers the sizes and themes as labelled radio buttons that apply at once", () => {
    fakeScheme(false);
    stop = comfort.start();
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(DisplaySettings, { target });
    flushSync();
    const labels = [...document.querySelectorAll("#display-settings label")].map((l) => l.textContent);
    expect(labels).toEqual(["100 %", "110 %", "125 %", "150 %", "Follow the system", "Light", "Dim"]);
    expect(document.querySelector<HTMLInputElement>("#text-size-100")!.checked).toBe(true);
    expect(document.querySelector<HTMLInputElement>("#theme-system")!.checked).toBe(true);

    document.querySelector<HTMLInputElement>("#text-size-150")!.click();
    flushSync();
    expect(root.style.fontSize).toBe("24px");
    document.querySelector<HTMLInputElement>("#theme-dim")!.click();
    flushSync();
    expect(root.dataset.theme).toBe("dim");
    expect(document.querySelector("#display-settings fieldset")?.getAttribute("aria-describedby")).toBe("text-size-hint");
  });
});
