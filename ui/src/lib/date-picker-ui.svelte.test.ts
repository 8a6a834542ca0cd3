// The date picker beside every date field: opened by its button, moved by keyboard, a day
// chosen sets the field (and its text, dd/mm/yyyy); typing still works; Escape closes and
// gives the focus back.
import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, tick, unmount } from "svelte";
import DateInput from "../components/DateInput.svelte";

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});

function show(value: string) {
  const props = $state({ id: "when", value });
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(DateInput, { target, props });
  flushSync();
  return props;
}

const key = (el: Element, k: string) =>
  el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
const input = () => document.querySelector<HTMLInputElement>("#when")!;
const button = () => document.querySelector<HTMLButtonElement>("#when-pick")!;
const focusedDay = () => (document.activeElement as HTMLElement | null)?.dataset.day;

describe("the date picker", () => {
  it("opens on the field's date, moves by keyboard and sets the field", async () => {
    const props = show("2026-12-04");
    expect(button().getAttribute("aria-label")).toBe("Choose date, Friday 4 December 2026");
    button().click();
    flushSync();
    await tick();
    const dialog = document.querySelector('[role="dialog"]')!;
    expect(button().getAttribute("aria-expanded")).toBe("true");
    expect(document.querySelector("#when-month")?.textContent).toBe("December 2026");
    expect(focusedDay()).toBe("2026-12-04");
    expect(dialog.querySelector('[data-day="2026-12-04"]')?.closest("td")?.getAttribute("aria-selected")).toBe("true");

    key(document.activeElement!, "ArrowDown"); // a week on
    await tick();
    expect(focusedDay()).toBe("2026-12-11");
    key(document.activeElement!, "PageDown"); // a month on
    await tick();
    expect(focusedDay()).toBe("2027-01-11");
    expect(document.querySelector("#when-month")?.textContent).toBe("January 2027");
    (document.activeElement as HTMLButtonElement).click();
    flushSync();
    await tick();
    expect(props.value).toBe("2027-01-11");
    expect(input().value).toBe("11/01/2027");
    expect(document.querySelector('[role="dialog"]')).toBeNull();
    expect(document.activeElement).toBe(input());
  });

  it("closes on Escape, giving the focus back to its button, and typing still works", async () => {
    const props = show("");
    button().click();
    flushSync();
    await tick();
    key(document.activeElement!, "Escape");
    flushSync();
    await tick();
    expect(document.querySelector('[role="dialog"]')).toBeNull();
    expect(document.activeElement).toBe(button());

    input().value = "22/11/2026";
    input().dispatchEvent(new Event("input", { bubbles: true }));
    flushSync();
    expect(props.value).toBe("2026-11-22");
  });
});

import TimeInput from "../components/TimeInput.svelte";

describe("the time field", () => {
  it("offers the quarter hours from 07:00 to 21:45 and still takes a typed time", () => {
    const props = $state({ id: "at", value: "" });
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(TimeInput, { target, props });
    flushSync();
    const field = document.querySelector<HTMLInputElement>("#at")!;
    const options = [...document.querySelectorAll<HTMLOptionElement>(`#${field.getAttribute("list")} option`)].map((o) => o.value);
    expect(options[0]).toBe("07:00");
    expect(options.at(-1)).toBe("21:45");
    expect(options).toHaveLength(60);
    field.value = "9.05";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    flushSync();
    expect(props.value).toBe("09:05");
  });
});
