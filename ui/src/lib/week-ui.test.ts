// The week view and the session panel, on screen: the days, today marked, gaps, the keyboard,
// and each of the panel's actions reaching the core with the right arguments.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      appointmentsBetween: vi.fn(),
      markAppointment: vi.fn(),
      moveAppointment: vi.fn(),
      addSeries: vi.fn(),
      deleteAppointment: vi.fn(),
      startSession: vi.fn(),
    },
  };
});

import { api, type DayAppointment } from "./api";
import { app } from "./app.svelte";
import { clock } from "./clock.svelte";
import { addDays, isoDay, localToUtcIso } from "./format";
import { DEFAULT_SETTINGS } from "./settings";
import { idleClock } from "./testing";
import { weekStart } from "./week";
import Week from "../screens/Week.svelte";
import SessionPanel from "../components/SessionPanel.svelte";

const m = vi.mocked(api);
let component: ReturnType<typeof mount> | null = null;

beforeEach(() => {
  vi.clearAllMocks();
  app.screen = "main";
  app.view = { name: "week" };
  app.settings = { ...DEFAULT_SETTINGS, buffer_minutes: 15 };
  clock.set(idleClock());
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  clock.reset();
});

function show<P extends Record<string, unknown>>(C: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(C, { target, props });
  flushSync();
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const $$ = (sel: string) => [...document.querySelectorAll<HTMLElement>(sel)];
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

const monday = weekStart(isoDay());
function session(id: string, day: string, time: string, minutes = 50, over: Partial<DayAppointment> = {}): DayAppointment {
  const starts_at = localToUtcIso(day, time);
  return {
    id,
    client_code: "C-7KQ2",
    client_name: "Siân O'Brien",
    starts_at,
    ends_at: new Date(new Date(starts_at).getTime() + minutes * 60_000).toISOString(),
    status: "scheduled",
    ...over,
  };
}

function key(el: Element, k: string) {
  el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
  flushSync();
}

describe("the week view", () => {
  it("shows Monday to Sunday, today marked, sessions with their gaps", async () => {
    m.appointmentsBetween.mockResolvedValue([
      session("a", monday, "09:00"),
      session("b", monday, "10:00"), // 10 min after a: short against a 15 min buffer
      session("c", addDays(monday, 2), "14:00", 50, { status: "attended" }),
    ]);
    show(Week, {});
    await vi.waitFor(() => expect($$("#week .session")).toHaveLength(3));
    const asked = m.appointmentsBetween.mock.calls[0];
    expect(new Date(asked[0])).toEqual(new Date(`${monday}T00:00:00`));
    expect(new Date(asked[1])).toEqual(new Date(`${addDays(monday, 7)}T00:00:00`));
    expect($$("#week .day h2 .weekday").map((e) => e.textContent)).toEqual(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]);
    expect($$("#week .day.today")).toHaveLength(1);
    expect(text("#week .day.today .today-mark")).toBe("Today");
    expect(text("#week .gap.short")).toBe("Short gap 10 min");
    expect(text("#week-help")).toMatch(/^3 sessions, 2 still booked\./);
    // A screen reader hears the day, time, client and status.
    expect($$("#week .session")[2].getAttribute("aria-label")).toMatch(/14:00–14:50: C-7KQ2 Siân O'Brien, Attended$/);
  });

  it("goes week to week by its buttons and by Page Up / Page Down, and Home comes back", async () => {
    m.appointmentsBetween.mockResolvedValue([]);
    show(Week, {});
    await vi.waitFor(() => expect(m.appointmentsBetween).toHaveBeenCalledTimes(1));
    expect(($("#week-this") as HTMLButtonElement).disabled).toBe(true);
    $("#week-next")!.click();
    flushSync();
    await vi.waitFor(() => expect(m.appointmentsBetween).toHaveBeenCalledTimes(2));
    expect(new Date(m.appointmentsBetween.mock.calls[1][0])).toEqual(new Date(`${addDays(monday, 7)}T00:00:00`));
    key($("#week-h")!, "PageUp"); // from anywhere on the screen, the heading too
    key(document.body, "PageUp"); // and when the focus was lost with the old week's sessions
    await vi.waitFor(() => expect(m.appointmentsBetween).toHaveBeenCalledTimes(4));
    expect(new Date(m.appointmentsBetween.mock.calls[3][0])).toEqual(new Date(`${addDays(monday, -7)}T00:00:00`));
    key($(".grid")!, "Home");
    await vi.waitFor(() => expect(m.appointmentsBetween).toHaveBeenCalledTimes(5));
    expect(text("#week-h")).toContain(String(new Date(`${monday}T00:00`).getFullYear()));
    expect(($("#week-this") as HTMLButtonElement).disabled).toBe(true);
  });

  it("after Page Down, the focus is on the new week's first session once it has arrived", async () => {
    const later = session("n1", addDays(monday, 9), "11:00");
    let release: (v: DayAppointment[]) => void = () => {};
    m.appointmentsBetween.mockResolvedValueOnce([session("a", monday, "09:00")]);
    show(Week, {});
    await vi.waitFor(() => expect($$("#week .session")).toHaveLength(1));
    $$("#week .session")[0].focus();
    m.appointmentsBetween.mockImplementationOnce(() => new Promise((r) => (release = r)));
    key(document.activeElement!, "PageDown");
    release([later]);
    await vi.waitFor(() => expect(document.activeElement?.getAttribute("aria-label")).toMatch(/11:00–11:50/));
  });

  it("moves between sessions with the arrow keys, over free days", async () => {
    m.appointmentsBetween.mockResolvedValue([
      session("a", monday, "09:00"),
      session("b", monday, "11:00"),
      session("c", addDays(monday, 3), "09:00"),
    ]);
    show(Week, {});
    await vi.waitFor(() => expect($$("#week .session")).toHaveLength(3));
    const [a, b, c] = $$("#week .session");
    a.focus();
    key(a, "ArrowDown");
    expect(document.activeElement).toBe(b);
    key(b, "ArrowRight");
    expect(document.activeElement).toBe(c);
    key(c, "ArrowLeft");
    expect(document.activeElement).toBe(a);
  });

  it("opens the session panel on a session, and closing it gives the focus back", async () => {
    m.appointmentsBetween.mockResolvedValue([session("a", addDays(monday, 1), "09:00", 50, { series_id: "s1" })]);
    show(Week, {});
    await vi.waitFor(() => expect($$("#week .session")).toHaveLength(1));
    const button = $$("#week .session")[0];
    button.focus();
    button.click();
    flushSync();
    expect($("#session-panel")).not.toBeNull();
    expect(text("#panel-h")).toBe("C-7KQ2 Siân O'Brien");
    expect($("#panel-following")).not.toBeNull(); // part of a series
    $("#panel-close")!.click();
    flushSync();
    expect($("#session-panel")).toBeNull();
    await vi.waitFor(() => expect(document.activeElement).toBe(button));
  });
});

describe("the session panel", () => {
  const later = session("p1", addDays(isoDay(), 3), "10:00", 50, { series_id: "s1" });
  const now = session("p2", isoDay(), "23:00", 30);
  const onclose = vi.fn();
  const onchanged = vi.fn();
  beforeEach(() => {
    onclose.mockReset();
    onchanged.mockReset();
  });

  it("marks a late cancellation with a reason, for this and the later sessions of the series", async () => {
    m.markAppointment.mockResolvedValue({ ...later, status: "cancelled_late" });
    show(SessionPanel, { session: later, onclose, onchanged });
    expect($("#panel-start")).toBeNull(); // not today
    const reason = $<HTMLInputElement>("#panel-reason")!;
    reason.value = "train strike";
    reason.dispatchEvent(new Event("input", { bubbles: true }));
    $<HTMLInputElement>("#panel-following")!.click();
    const before = app.dayVersion;
    $("#panel-mark-cancelled_late")!.click();
    await vi.waitFor(() => expect(onclose).toHaveBeenCalled());
    expect(m.markAppointment).toHaveBeenCalledWith("p1", "cancelled_late", "train strike", true);
    expect(onchanged).toHaveBeenCalled();
    expect(app.dayVersion).toBe(before + 1);
  });

  it("marks did not attend with no reason sent", async () => {
    m.markAppointment.mockResolvedValue({ ...later, status: "did_not_attend" });
    show(SessionPanel, { session: later, onclose, onchanged });
    const reason = $<HTMLInputElement>("#panel-reason")!;
    reason.value = "ignored for a DNA";
    reason.dispatchEvent(new Event("input", { bubbles: true }));
    $("#panel-mark-did_not_attend")!.click();
    await vi.waitFor(() => expect(m.markAppointment).toHaveBeenCalledWith("p1", "did_not_attend", null, false));
  });

  it("moves the session to a typed UK date and time", async () => {
    m.moveAppointment.mockResolvedValue([]);
    show(SessionPanel, { session: later, onclose, onchanged });
    const date = $<HTMLInputElement>("#panel-move-date")!;
    const target = addDays(isoDay(), 4);
    const [y, mo, d] = target.split("-");
    date.value = `${d}/${mo}/${y}`;
    date.dispatchEvent(new Event("input", { bubbles: true }));
    const time = $<HTMLInputElement>("#panel-move-time")!;
    time.value = "11:30";
    time.dispatchEvent(new Event("input", { bubbles: true }));
    flushSync();
    $("#panel-move")!.click();
    await vi.waitFor(() => expect(m.moveAppointment).toHaveBeenCalledWith("p1", localToUtcIso(target, "11:30"), false));
    await vi.waitFor(() => expect(onclose).toHaveBeenCalled());
  });

  it("a core refusal is shown and the panel stays open", async () => {
    m.deleteAppointment.mockRejectedValue({ kind: "conflict", message: "This session has a note: it cannot be deleted." });
    show(SessionPanel, { session: later, onclose, onchanged });
    $("#panel-delete")!.click();
    flushSync();
    $("#panel-delete-yes")!.click();
    await vi.waitFor(() => expect(text('#session-panel [role="status"]')).toContain("cannot be deleted"));
    expect(onclose).not.toHaveBeenCalled();
  });

  it("repeats a session as a fortnightly series starting two weeks after it", async () => {
    m.addSeries.mockResolvedValue([]);
    const single = { ...later, series_id: undefined };
    show(SessionPanel, { session: single, onclose, onchanged });
    const sel = $<HTMLSelectElement>("#panel-repeat")!;
    sel.value = "fortnightly";
    sel.dispatchEvent(new Event("change", { bubbles: true }));
    const count = $<HTMLInputElement>("#panel-repeat-count")!;
    count.value = "5";
    count.dispatchEvent(new Event("input", { bubbles: true }));
    flushSync();
    $("#panel-repeat-book")!.click();
    await vi.waitFor(() =>
      expect(m.addSeries).toHaveBeenCalledWith("C-7KQ2", `${addDays(addDays(isoDay(), 3), 14)}T10:00`, 50, "fortnightly", 5, null),
    );
    await vi.waitFor(() => expect(text('#session-panel [role="status"]')).toMatch(/^Booked 5 more sessions at 10:00/));
  });

  it("starts today's booked session, and offers Write note once attended", async () => {
    m.startSession.mockResolvedValue(idleClock({ running: true, appointment_id: "p2", client_code: "C-7KQ2" }));
    show(SessionPanel, { session: now, onclose, onchanged });
    await tick();
    expect(document.activeElement?.id).toBe("panel-start");
    $("#panel-start")!.click();
    await vi.waitFor(() => expect(m.startSession).toHaveBeenCalledWith("p2", null));
    await vi.waitFor(() => expect(clock.running).toBe(true));
    unmount(component!);
    component = null;
    show(SessionPanel, { session: { ...now, status: "attended" as const }, onclose, onchanged });
    expect($("#panel-mark-attended")).toBeNull(); // only a booked session is marked
    $("#panel-write-note")!.click();
    expect([app.newNoteFor, app.newNoteSession]).toEqual(["C-7KQ2", "p2"]);
    expect(app.view).toEqual({ name: "client", code: "C-7KQ2", tab: "notes" });
    app.newNoteFor = null;
    app.newNoteSession = null;
  });
});
