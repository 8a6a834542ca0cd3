import { describe, expect, it } from "vitest";
import type { InstrumentInfo, OutcomeMeasure } from "./api";
import { chartLayout, DEFAULT_BOX, formatTotal } from "./chart";

const phq9: InstrumentInfo = {
  instrument: "phq9",
  label: "PHQ-9",
  items: 9,
  max_total: 27,
  bands: [
    [0, "minimal"],
    [5, "mild"],
    [10, "moderate"],
    [15, "moderately severe"],
    [20, "severe"],
  ],
};

const m = (id: string, total: number, taken_at: string, risk = false, instrument: "phq9" | "gad7" = "phq9"): OutcomeMeasure => ({
  id,
  client_code: "C-7KQ2",
  instrument,
  items: [],
  score: { total, band: "", risk, above_clinical_cutoff: null, prorated: false },
  taken_at,
});

describe("chartLayout", () => {
  const box = DEFAULT_BOX;
  const top = box.top;
  const bottom = box.height - box.bottom;

  it("stacks the severity bands from 0 at the bottom to the maximum at the top", () => {
    const l = chartLayout([], phq9);
    expect(l.bands.map((b) => b.name)).toEqual(["minimal", "mild", "moderate", "moderately severe", "severe"]);
    expect(l.bands.map((b) => b.range)).toEqual(["0–4", "5–9", "10–14", "15–19", "20–27"]);
    expect(l.bands[0].y + l.bands[0].height).toBeCloseTo(bottom);
    expect(l.bands[4].y).toBeCloseTo(top);
    // Bands touch without gaps.
    for (let i = 1; i < l.bands.length; i++) expect(l.bands[i].y + l.bands[i].height).toBeCloseTo(l.bands[i - 1].y);
  });

  it("places points by date and total, oldest left, and keeps only this instrument", () => {
    const l = chartLayout(
      [
        m("b", 27, "2026-10-15T10:00:00Z"),
        m("a", 0, "2026-10-01T10:00:00Z", true),
        m("g", 12, "2026-10-08T10:00:00Z", false, "gad7"),
      ],
      phq9,
    );
    expect(l.points.map((p) => p.id)).toEqual(["a", "b"]);
    const [a, b] = l.points;
    expect(a.x).toBeLessThan(b.x);
    expect(a.y).toBeCloseTo(bottom);
    expect(b.y).toBeCloseTo(top);
    expect(a.risk).toBe(true);
    expect(a.date).toBe("01/10/2026");
    expect(l.path).toMatch(/^M[\d.]+,[\d.]+ L[\d.]+,[\d.]+$/);
  });

  it("centres a single point", () => {
    const l = chartLayout([m("a", 10, "2026-10-01T10:00:00Z")], phq9);
    expect(l.points[0].x).toBeCloseTo(box.left + (box.width - box.left - box.right) / 2);
  });

  it("labels the y axis up to the maximum", () => {
    const l = chartLayout([], phq9);
    expect(l.yTicks.map((t) => t.value)).toEqual([0, 5, 10, 15, 20, 27]);
    const gad7 = { ...phq9, instrument: "gad7" as const, max_total: 21, bands: [[0, "minimal"]] as [number, string][] };
    expect(chartLayout([], gad7).yTicks.map((t) => t.value)).toEqual([0, 5, 10, 15, 21]);
    const core10 = { ...phq9, instrument: "core10" as const, max_total: 40 };
    expect(chartLayout([], core10).yTicks.map((t) => t.value)).toEqual([0, 10, 20, 30, 40]);
  });

  it("shows pro-rated totals to one decimal place", () => {
    expect(formatTotal(12)).toBe("12");
    expect(formatTotal(12.2222)).toBe("12.2");
  });
});
