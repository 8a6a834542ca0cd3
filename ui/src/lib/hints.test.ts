import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import { srcText } from "./css-testing";
import DateInput from "../components/DateInput.svelte";
import TimeInput from "../components/TimeInput.svelte";

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});

/** The visible text an input's aria-describedby points at. */
function described(id: string): string {
  const ids = document.getElementById(id)?.getAttribute("aria-describedby")?.split(/\s+/) ?? [];
  return ids.map((d) => document.getElementById(d)?.textContent ?? "").join(" ");
}

describe("format hints", () => {
  it("a date field says dd/mm/yyyy in visible text tied to it", () => {
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(DateInput, { target, props: { id: "dob", value: "", describedby: "dob-error" } });
    flushSync();
    expect(described("dob")).toContain("dd/mm/yyyy");
    expect(document.getElementById("dob")?.getAttribute("aria-describedby")).toBe("dob-format dob-error");
  });

  it("a time field says it is 24-hour HH:mm in visible text tied to it", () => {
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(TimeInput, { target, props: { id: "at", value: "" } });
    flushSync();
    expect(described("at")).toBe("24-hour, HH:mm");
  });

  it("no placeholder is a field's only hint: every input with one has aria-describedby", () => {
    const files = ["components", "screens"].flatMap((d) =>
      readdirSync(join(__dirname, "..", d))
        .filter((f) => f.endsWith(".svelte"))
        .map((f) => `${d}/${f}`),
    );
    const bare: string[] = [];
    let found = 0;
    let written = 0;
    for (const f of files) {
      const text = srcText(f);
      written += text.split("placeholder=").length - 1;
      for (const m of text.matchAll(/<input\b[^>]*?\bplaceholder=[\s\S]*?\/?>/g)) {
        found++;
        if (!/aria-describedby=/.test(m[0])) bare.push(`${f}: ${m[0].slice(0, 80)}`);
      }
    }
    expect(found, "every placeholder was found in its <input>").toBe(written);
    expect(bare).toEqual([]);
  });
});
