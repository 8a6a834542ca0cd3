import { describe, expect, it } from "vitest";
import { chooseFonts, prefersGenericFonts } from "./fonts";
import { appCss } from "./css-testing";

const WEBKITGTK =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";
const MACOS = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)";
const WINDOWS =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0";

describe("font lists", () => {
  it("uses the generic families in WebKitGTK only", () => {
    expect(prefersGenericFonts(WEBKITGTK)).toBe(true);
    expect(prefersGenericFonts(MACOS)).toBe(false);
    expect(prefersGenericFonts(WINDOWS)).toBe(false);
    expect(prefersGenericFonts("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36")).toBe(false);
  });

  it("marks <html> for app.css, and unmarks it elsewhere", () => {
    const root = document.createElement("html");
    chooseFonts(root, WEBKITGTK);
    expect(root.dataset.fonts).toBe("generic");
    chooseFonts(root, MACOS);
    expect(root.dataset.fonts).toBeUndefined();
  });

  it("app.css gives the marked page generic families only", () => {
    const css = appCss();
    const block = css.match(/:root\[data-fonts="generic"\]\s*\{([^}]*)\}/);
    expect(block).not.toBeNull();
    expect(block![1]).toMatch(/--font:\s*sans-serif;/);
    expect(block![1]).toMatch(/--mono:\s*monospace;/);
  });
});
