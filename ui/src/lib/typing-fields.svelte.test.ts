// The date and time fields never overwrite what is being typed in them. In the real app
// (WebKitGTK) a keystroke in a time field that already held a time snapped back to the old
// time: the field's "follow the value from outside" step ran while the person typed. It now
// waits until the field is left.
import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, tick, unmount } from "svelte";
import DateInput from "../components/DateInput.svelte";
import TimeInput from "../components/TimeInput.svelte";

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});

async function typed(el: HTMLInputElement, text: string) {
  el.value = text;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
  await tick();
}

describe("typing in a time or date field", () => {
  it("a time field keeps what is typed while it has the focus, and follows the value once left", async () => {
    const target = document.body.appendChild(document.createElement("div"));
    const props = $state({ id: "t", value: "01:00" });
    component = mount(TimeInput, { target, props });
    flushSync();
    const el = document.querySelector<HTMLInputElement>("#t")!;
    el.focus();
    await typed(el, "0");
    // Something sets the value meanwhile (as the old value racing the keystroke did).
    props.value = "01:00";
    flushSync();
    await tick();
    expect(el.value).toBe("0");
    await typed(el, "00:05");
    expect(props.value).toBe("00:05");
    el.blur();
    props.value = "14:30"; // a reset from outside, with the field left
    flushSync();
    await tick();
    expect(el.value).toBe("14:30");
  });

  it("so does a date field", async () => {
    const target = document.body.appendChild(document.createElement("div"));
    const props = $state({ id: "d", value: "2026-12-03" });
    component = mount(DateInput, { target, props });
    flushSync();
    const el = document.querySelector<HTMLInputElement>("#d")!;
    expect(el.value).toBe("03/12/2026");
    el.focus();
    await typed(el, "1");
    props.value = "2026-12-03";
    flushSync();
    await tick();
    expect(el.value).toBe("1");
    await typed(el, "15/01/2027");
    expect(props.value).toBe("2027-01-15");
    el.blur();
    props.value = "";
    flushSync();
    await tick();
    expect(el.value).toBe("");
  });
});
