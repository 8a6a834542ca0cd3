// Geometry for the outcome-measure line chart (a hand-drawn SVG, no library).

import type { InstrumentInfo, OutcomeMeasure } from "./api";
import { formatDate, formatShortDay, toDate } from "./format";

export interface ChartBox {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const DEFAULT_BOX: ChartBox = { width: 640, height: 240, left: 40, right: 185, top: 14, bottom: 34 };

export interface BandRect {
  name: string;
  from: number;
  to: number;
  /** "10–14": the published range, both ends inclusive. */
  range: string;
  y: number;
  height: number;
  fill: string;
}

export interface ChartPoint {
  id: string;
  x: number;
  y: number;
  total: number;
  risk: boolean;
  date: string;
  axisLabel: string;
}

export interface ChartLayout {
  box: ChartBox;
  bands: BandRect[];
  points: ChartPoint[];
  path: string;
  yTicks: { y: number; value: number }[];
}

/**
 * Soft fills, mildest band first, as app.css's --band-0…5 (so the dim theme has its own);
 * the strong end is kept soft so points stay legible.
 */
const BAND_FILLS = [0, 1, 2, 3, 4, 5].map((i) => `var(--band-${i})`);

export function bandFill(index: number, count: number): string {
  if (count <= 1) return BAND_FILLS[0];
  const i = Math.round((index * (BAND_FILLS.length - 1)) / (count - 1));
  return BAND_FILLS[i];
}

export function chartLayout(measures: OutcomeMeasure[], info: InstrumentInfo, box: ChartBox = DEFAULT_BOX): ChartLayout {
  const plotW = box.width - box.left - box.right;
  const plotH = box.height - box.top - box.bottom;
  const max = info.max_total > 0 ? info.max_total : 1;
  const yOf = (v: number) => box.top + plotH - (Math.min(Math.max(v, 0), max) / max) * plotH;

  const bands: BandRect[] = info.bands.map(([low, name], i) => {
    const high = i + 1 < info.bands.length ? info.bands[i + 1][0] : max;
    const yTop = yOf(high);
    const last = i + 1 === info.bands.length;
    const range = `${low}–${last ? high : high - 1}`;
    return { name, from: low, to: high, range, y: yTop, height: yOf(low) - yTop, fill: bandFill(i, info.bands.length) };
  });

  const sorted = [...measures]
    .filter((m) => m.instrument === info.instrument)
    .sort((a, b) => toDate(a.taken_at).getTime() - toDate(b.taken_at).getTime());
  const times = sorted.map((m) => toDate(m.taken_at).getTime());
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const pad = Math.min(24, plotW / 8);
  const xOf = (t: number) =>
    sorted.length <= 1 || t1 === t0 ? box.left + plotW / 2 : box.left + pad + ((t - t0) / (t1 - t0)) * (plotW - 2 * pad);

  const points: ChartPoint[] = sorted.map((m) => ({
    id: m.id,
    x: xOf(toDate(m.taken_at).getTime()),
    y: yOf(m.score.total),
    total: m.score.total,
    risk: m.score.risk,
    date: formatDate(m.taken_at),
    axisLabel: formatShortDay(m.taken_at),
  }));

  const path = points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");

  const step = max <= 30 ? 5 : 10;
  const yTicks: { y: number; value: number }[] = [];
  for (let v = 0; v <= max; v += step) yTicks.push({ y: yOf(v), value: v });
  const last = yTicks[yTicks.length - 1];
  if (last.value !== max) {
    // Too close to the top label to read apart: the maximum takes its place.
    if (max - last.value < step * 0.6) yTicks.pop();
    yTicks.push({ y: yOf(max), value: max });
  }

  return { box, bands, points, path, yTicks };
}

/** A total as shown: whole numbers plain, pro-rated ones to one decimal place. */
export function formatTotal(total: number): string {
  return Number.isInteger(total) ? String(total) : total.toFixed(1);
}
