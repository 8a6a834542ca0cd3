import { describe, expect, it, vi } from "vitest";
import { afterPaint, lazy } from "./lazy";

describe("lazy", () => {
  it("imports once and then gives the module at once", async () => {
    const importer = vi.fn(async () => ({ default: "Screen" }));
    const l = lazy(importer);
    expect(importer).not.toHaveBeenCalled();
    expect(l.current).toBeNull();
    const [a, b] = await Promise.all([l.load(), l.load()]);
    expect(a).toBe("Screen");
    expect(b).toBe("Screen");
    expect(l.current).toBe("Screen");
    await l.load();
    expect(importer).toHaveBeenCalledTimes(1);
  });

  it("lets a failed import be tried again", async () => {
    const importer = vi
      .fn<() => Promise<{ default: string }>>()
      .mockRejectedValueOnce(new Error("chunk missing"))
      .mockResolvedValueOnce({ default: "Screen" });
    const l = lazy(importer);
    await expect(l.load()).rejects.toThrow("chunk missing");
    expect(l.current).toBeNull();
    await expect(l.load()).resolves.toBe("Screen");
    expect(importer).toHaveBeenCalledTimes(2);
  });
});

describe("afterPaint", () => {
  it("runs later, never in the same turn", async () => {
    const f = vi.fn();
    afterPaint(f);
    expect(f).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(f).toHaveBeenCalledTimes(1));
  });
});
