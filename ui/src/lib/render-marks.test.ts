import { describe, expect, it } from "vitest";
import { markRender, renderMarks } from "./render-marks";

describe("render marks", () => {
  it("mark the data's arrival, the layout and measure to the painted frame, in order", async () => {
    performance.clearMarks();
    performance.clearMeasures();
    await markRender("week");
    const m = renderMarks("week");
    const data = performance.getEntriesByName(m.data, "mark")[0];
    const laidOut = performance.getEntriesByName(m.laidOut, "mark")[0];
    const measure = performance.getEntriesByName(m.measure, "measure")[0];
    expect(data).toBeDefined();
    expect(laidOut.startTime).toBeGreaterThanOrEqual(data.startTime);
    expect(measure.startTime).toBe(data.startTime);
    expect(measure.duration).toBeGreaterThanOrEqual(laidOut.startTime - data.startTime);
  });
});
