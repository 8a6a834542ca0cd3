import { describe, expect, it } from "vitest";
import { contrastRatio, cssVariables, parseColor } from "./contrast";
import { appCss } from "./css-testing";

const css = appCss();
const light = cssVariables(css, ":root");
const dim = { ...light, ...cssVariables(css, ':root[data-theme="dim"]') };

/** Text and what it sits on: 4.5:1 at least (WCAG AA for body text). */
const TEXT: [string, string][] = [
  ["--text", "--bg"],
  ["--text", "--surface"],
  ["--text", "--surface-2"],
  ["--text", "--input-bg"],
  ["--text", "--nav-bg"],
  ["--text", "--nav-hover"],
  ["--text", "--tab-hover"],
  ["--text", "--risk-row"],
  ["--muted", "--bg"],
  ["--muted", "--surface"],
  ["--muted", "--surface-2"],
  ["--muted", "--nav-bg"],
  ["--placeholder", "--input-bg"],
  ["--placeholder", "--surface"],
  ["--accent-dark", "--bg"],
  ["--accent-dark", "--surface"],
  ["--accent-dark", "--accent-soft"],
  ["--accent-dark", "--nav-hover"],
  ["--on-accent", "--accent"],
  ["--on-accent", "--accent-dark"],
  ["--on-danger", "--danger"],
  ["--on-danger", "--danger-hover"],
  ["--danger", "--bg"],
  ["--danger", "--surface"],
  ["--danger", "--input-bg"],
  ["--error-text", "--danger-soft"],
  ["--warn-text", "--warn-soft"],
  ["--ok-text", "--ok-soft"],
  ["--ok-text", "--surface"],
  ["--closed-text", "--closed-bg"],
  ["--mark-text", "--mark-bg"],
  ["--chart-text", "--surface"],
  ["--disabled-text", "--disabled-bg"],
  ["--on-clock-calm", "--clock-calm"],
  ["--on-clock-warn", "--clock-warn"],
  ["--on-clock-over", "--clock-over"],
  ...[0, 1, 2, 3, 4, 5].map((i): [string, string] => ["--chart-text", `--band-${i}`]),
];

/** Controls' edges and marks: 3:1 at least (WCAG 1.4.11). */
const UI: [string, string][] = [
  ["--border-strong", "--surface"],
  ["--border-strong", "--input-bg"],
  ["--focus", "--bg"],
  ["--focus", "--surface"],
  ["--accent", "--surface"],
  ["--ok-mark", "--surface"],
];

describe("contrast", () => {
  it("computes WCAG ratios", () => {
    expect(contrastRatio("#000", "#fff")).toBeCloseTo(21, 5);
    expect(contrastRatio("#fff", "#fff")).toBe(1);
    expect(contrastRatio("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
    expect(contrastRatio("rgb(255, 255, 255)", "#000000")).toBeCloseTo(21, 5);
    expect(parseColor("var(--x)")).toBeNull();
    expect(() => contrastRatio("teal", "#fff")).toThrow(/Not a colour/);
  });

  it("reads both themes from app.css", () => {
    expect(light["--text"]).toMatch(/^#/);
    expect(Object.keys(cssVariables(css, ':root[data-theme="dim"]')).length).toBeGreaterThan(30);
    expect(light["--text"]).not.toBe(dim["--text"]);
  });

  it("gives the dim theme its own value of every colour", () => {
    const colours = Object.keys(light).filter((k) => parseColor(light[k]) !== null);
    const own = cssVariables(css, ':root[data-theme="dim"]');
    expect(colours.filter((k) => !(k in own))).toEqual([]);
  });

  for (const [name, vars] of [
    ["light", light],
    ["dim", dim],
  ] as const) {
    it(`keeps text at 4.5:1 or more in the ${name} theme`, () => {
      const low = TEXT.map(([fg, bg]) => ({ pair: `${fg} on ${bg}`, ratio: contrastRatio(vars[fg], vars[bg]) })).filter(
        (p) => p.ratio < 4.5,
      );
      expect(low).toEqual([]);
    });

    it(`keeps controls' edges at 3:1 or more in the ${name} theme`, () => {
      const low = UI.map(([fg, bg]) => ({ pair: `${fg} on ${bg}`, ratio: contrastRatio(vars[fg], vars[bg]) })).filter(
        (p) => p.ratio < 3,
      );
      expect(low).toEqual([]);
    });
  }
});

describe("placeholders", () => {
  it("are drawn in --placeholder, at full opacity (WebKit's own grey is 2.3:1)", () => {
    const rule = /(^|\})\s*::placeholder\s*\{([^}]*)\}/.exec(css.replace(/\/\*[\s\S]*?\*\//g, ""));
    expect(rule, "app.css has a ::placeholder rule").not.toBeNull();
    expect(rule![2]).toMatch(/color:\s*var\(--placeholder\)/);
    expect(rule![2]).toMatch(/opacity:\s*1/);
  });
});
