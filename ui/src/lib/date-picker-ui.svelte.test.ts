// The date picker beside every date field and the list of times beside every time field:
// opened by their buttons, moved by keyboard, a day or time chosen sets the field (and its
// text, dd/mm/yyyy or HH:mm) and gives it the focus; typing still works; Escape closes and
// gives the focus back to the button; a click outside closes.
import { afterEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount } from "svelte";
import DateInput from "../components/DateInput.svelte";
import TimeInput from "../components/TimeInput.svelte";

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  vi.useRealTimers();
});

function showDate(value: string, more: { min?: string; max?: string } = {}) {
  const props = $state({ id: "when", value, ...more });
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(DateInput, { target, props });
  flushSync();
  return props;
}

function showTime(value: string) {
  const props = $state({ id: "at", value });
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(TimeInput, { target, props });
  flushSync();
  return props;
}

async function settle() {
  flushSync();
  await tick();
  await tick();
}
async function key(k: string) {
  document.activeElement!.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
  await settle();
}
async function open(sel: string) {
  document.querySelector<HTMLButtonElement>(sel)!.click();
  await settle();
}
async function type(el: HTMLInputElement, text: string) {
  el.focus();
  el.value = text;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  await settle();
}

const input = () => document.querySelector<HTMLInputElement>("#when")!;
const button = () => document.querySelector<HTMLButtonElement>("#when-pick")!;
const dialog = () => document.querySelector<HTMLElement>('[role="dialog"]');
const month = () => document.querySelector("#when-month")?.textContent;
const focusedDay = () => (document.activeElement as HTMLElement | null)?.dataset.day;
const cell = (day: string) => dialog()!.querySelector(`[data-day="${day}"]`)!.closest("td")!;

describe("the date picker", () => {
  it("is a button after the field that says the date chosen", () => {
    showDate("2026-12-04");
    expect(input().nextElementSibling).toBe(button());
    expect(button().getAttribute("aria-label")).toBe("Choose date, Friday 4 December 2026");
    expect(button().getAttribute("aria-haspopup")).toBe("dialog");
    expect(button().getAttribute("aria-expanded")).toBe("false");
    if (component) unmount(component);
    document.body.innerHTML = "";
    showDate("");
    expect(button().getAttribute("aria-label")).toBe("Choose date, none chosen");
  });

  it("opens on the field's month: a labelled dialog with a grid of weeks from Monday", async () => {
    showDate("2026-12-04");
    await open("#when-pick");
    expect(dialog()?.getAttribute("aria-label")).toBe("Choose date");
    expect(button().getAttribute("aria-expanded")).toBe("true");
    expect(button().getAttribute("aria-controls")).toBe(dialog()!.id);
    const grid = dialog()!.querySelector('[role="grid"]')!;
    expect(grid.getAttribute("aria-labelledby")).toBe("when-month");
    expect(month()).toBe("December 2026");
    const heads = [...grid.querySelectorAll("th")];
    expect(heads.map((h) => h.querySelector('[aria-hidden="true"]')?.textContent)).toEqual(["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]);
    expect(heads.map((h) => h.querySelector(".visually-hidden")?.textContent)).toEqual([
      "Monday",
      "Tuesday",
      "Wednesday",
      "Thursday",
      "Friday",
      "Saturday",
      "Sunday",
    ]);
    // 1 December 2026 is a Tuesday: the first row starts on Monday 30 November.
    expect(grid.querySelector("tbody tr button")?.getAttribute("data-day")).toBe("2026-11-30");
    expect(focusedDay()).toBe("2026-12-04");
    expect(document.activeElement?.getAttribute("aria-label")).toBe("Friday 4 December 2026");
    expect(cell("2026-12-04").getAttribute("aria-selected")).toBe("true");
    expect(cell("2026-12-05").getAttribute("aria-selected")).toBe("false");
    // One day in the tab order: the focused one.
    expect(dialog()!.querySelectorAll('td button[tabindex="0"]')).toHaveLength(1);
  });

  it("moves by keyboard and Enter chooses: the field's value and text are set, and it has the focus", async () => {
    const props = showDate("2026-12-04");
    await open("#when-pick");
    await key("ArrowDown"); // a week on
    expect(focusedDay()).toBe("2026-12-11");
    await key("ArrowLeft");
    expect(focusedDay()).toBe("2026-12-10");
    await key("ArrowUp");
    expect(focusedDay()).toBe("2026-12-03");
    await key("ArrowRight");
    expect(focusedDay()).toBe("2026-12-04");
    await key("Home"); // Monday
    expect(focusedDay()).toBe("2026-11-30");
    expect(month()).toBe("November 2026");
    await key("End"); // Sunday
    expect(focusedDay()).toBe("2026-12-06");
    await key("PageDown"); // a month on
    expect(focusedDay()).toBe("2027-01-06");
    expect(month()).toBe("January 2027");
    await key("PageUp");
    await key("PageUp");
    expect(focusedDay()).toBe("2026-11-06");
    await key("Enter");
    expect(props.value).toBe("2026-11-06");
    expect(input().value).toBe("06/11/2026");
    expect(dialog()).toBeNull();
    expect(document.activeElement).toBe(input());
    expect(button().getAttribute("aria-expanded")).toBe("false");
    expect(button().getAttribute("aria-label")).toBe("Choose date, Friday 6 November 2026");
  });

  it("keeps the day within the month's length (31 January + a month = 28 February), and Space chooses", async () => {
    const props = showDate("2027-01-31");
    await open("#when-pick");
    await key("PageDown");
    expect(focusedDay()).toBe("2027-02-28");
    await key(" ");
    expect(props.value).toBe("2027-02-28");
    expect(input().value).toBe("28/02/2027");
  });

  it("a day clicked is chosen; the month buttons turn the page", async () => {
    const props = showDate("2026-12-04");
    await open("#when-pick");
    await open("#when-next");
    expect(month()).toBe("January 2027");
    await open("#when-prev");
    await open("#when-prev");
    expect(month()).toBe("November 2026");
    dialog()!.querySelector<HTMLButtonElement>('[data-day="2026-11-17"]')!.click();
    await settle();
    expect(props.value).toBe("2026-11-17");
    expect(input().value).toBe("17/11/2026");
    expect(document.activeElement).toBe(input());
  });

  it("marks today, and opens on it when the field is empty", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(2026, 11, 4, 10, 0));
    showDate("");
    await open("#when-pick");
    expect(focusedDay()).toBe("2026-12-04");
    expect(document.activeElement?.getAttribute("aria-current")).toBe("date");
    expect(dialog()!.querySelectorAll('[aria-current="date"]')).toHaveLength(1);
    expect(dialog()!.querySelectorAll('[aria-selected="true"]')).toHaveLength(0);
  });

  it("closes on Escape, giving the focus back to its button, and typing still works", async () => {
    const props = showDate("");
    await open("#when-pick");
    const escape = new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true });
    const outside = vi.fn();
    window.addEventListener("keydown", outside);
    document.activeElement!.dispatchEvent(escape);
    await settle();
    window.removeEventListener("keydown", outside);
    expect(escape.defaultPrevented).toBe(true);
    expect(outside).not.toHaveBeenCalled(); // not a dialog around it, nor a shortcut
    expect(dialog()).toBeNull();
    expect(document.activeElement).toBe(button());

    await type(input(), "22/11/2026");
    expect(props.value).toBe("2026-11-22");
    expect(input().value).toBe("22/11/2026");
    // The calendar then opens on the day typed.
    await open("#when-pick");
    expect(focusedDay()).toBe("2026-11-22");
    expect(month()).toBe("November 2026");
  });

  it("a click outside closes it without taking the focus; its button toggles it", async () => {
    showDate("2026-12-04");
    const other = document.body.appendChild(document.createElement("button"));
    await open("#when-pick");
    other.dispatchEvent(new Event("pointerdown", { bubbles: true }));
    await settle();
    expect(dialog()).toBeNull();
    expect(document.activeElement).not.toBe(button());
    await open("#when-pick");
    expect(dialog()).not.toBeNull();
    button().dispatchEvent(new Event("pointerdown", { bubbles: true }));
    await open("#when-pick");
    expect(dialog()).toBeNull();
    expect(document.activeElement).toBe(button());
  });

  it("offers only the days from min to max when they are given", async () => {
    const props = showDate("2026-12-04", { min: "2026-12-02", max: "2026-12-20" });
    await open("#when-pick");
    const day = (d: string) => dialog()!.querySelector<HTMLButtonElement>(`[data-day="${d}"]`)!;
    expect(day("2026-12-01").disabled).toBe(true);
    expect(day("2026-12-02").disabled).toBe(false);
    expect(day("2026-12-21").disabled).toBe(true);
    expect(document.querySelector<HTMLButtonElement>("#when-prev")!.disabled).toBe(true);
    expect(document.querySelector<HTMLButtonElement>("#when-next")!.disabled).toBe(true);
    await key("Home"); // Monday 30 November is before the first day
    expect(focusedDay()).toBe("2026-12-02");
    await key("PageDown");
    expect(focusedDay()).toBe("2026-12-20");
    day("2026-12-21").click();
    await settle();
    expect(props.value).toBe("2026-12-04");
    await key("Enter");
    expect(props.value).toBe("2026-12-20");
  });
});

const timeInput = () => document.querySelector<HTMLInputElement>("#at")!;
const timeButton = () => document.querySelector<HTMLButtonElement>("#at-pick")!;
const listbox = () => document.querySelector<HTMLElement>('[role="listbox"]');
const focusedTime = () => (document.activeElement as HTMLElement | null)?.dataset.time;

describe("the list of times", () => {
  it("lists the quarter hours from 07:00 to 21:45, opening on the field's time, selected", async () => {
    showTime("14:00");
    expect(timeInput().nextElementSibling).toBe(timeButton());
    expect(timeButton().getAttribute("aria-label")).toBe("Choose time, 14:00");
    expect(timeButton().getAttribute("aria-haspopup")).toBe("listbox");
    expect(timeButton().getAttribute("aria-expanded")).toBe("false");
    await open("#at-pick");
    expect(timeButton().getAttribute("aria-expanded")).toBe("true");
    expect(timeButton().getAttribute("aria-controls")).toBe(listbox()!.id);
    expect(listbox()?.getAttribute("aria-label")).toBe("Times");
    const options = [...listbox()!.querySelectorAll<HTMLElement>('[role="option"]')];
    expect(options).toHaveLength(60);
    expect(options[0].textContent?.trim()).toBe("07:00");
    expect(options.at(-1)?.textContent?.trim()).toBe("21:45");
    expect(focusedTime()).toBe("14:00");
    expect(listbox()!.querySelectorAll('[aria-selected="true"]')).toHaveLength(1);
    expect(document.activeElement?.getAttribute("aria-selected")).toBe("true");
  });

  it("moves by keyboard and Enter chooses: the field's value and text are set, and it has the focus", async () => {
    const props = showTime("14:00");
    await open("#at-pick");
    await key("ArrowDown");
    expect(focusedTime()).toBe("14:15");
    await key("PageDown"); // an hour on
    expect(focusedTime()).toBe("15:15");
    await key("ArrowUp");
    expect(focusedTime()).toBe("15:00");
    await key("End");
    expect(focusedTime()).toBe("21:45");
    await key("Home");
    expect(focusedTime()).toBe("07:00");
    await key("1");
    await key("0");
    expect(focusedTime()).toBe("10:00");
    await key("Enter");
    expect(props.value).toBe("10:00");
    expect(timeInput().value).toBe("10:00");
    expect(listbox()).toBeNull();
    expect(document.activeElement).toBe(timeInput());
  });

  it("opens at 09:00 with no time; a time clicked is chosen", async () => {
    const props = showTime("");
    expect(timeButton().getAttribute("aria-label")).toBe("Choose time, none chosen");
    await open("#at-pick");
    expect(focusedTime()).toBe("09:00");
    expect(listbox()!.querySelectorAll('[aria-selected="true"]')).toHaveLength(0);
    listbox()!.querySelector<HTMLElement>('[data-time="16:30"]')!.click();
    await settle();
    expect(props.value).toBe("16:30");
    expect(timeInput().value).toBe("16:30");
    expect(document.activeElement).toBe(timeInput());
  });

  it("closes on Escape, giving the focus back to its button, and any time is still typed", async () => {
    const props = showTime("");
    await open("#at-pick");
    await key("Escape");
    expect(listbox()).toBeNull();
    expect(document.activeElement).toBe(timeButton());
    await type(timeInput(), "9.05");
    expect(props.value).toBe("09:05");
    // The list then opens on the next quarter hour.
    await open("#at-pick");
    expect(focusedTime()).toBe("09:15");
    document.body.dispatchEvent(new Event("pointerdown", { bubbles: true }));
    await settle();
    expect(listbox()).toBeNull();
  });
});
