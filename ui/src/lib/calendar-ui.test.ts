import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount } from "svelte";

// The events bridge is replaced so a test can fire `calendar-changes` itself.
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      calendarStatus: vi.fn(),
      calendarFeedSet: vi.fn(),
      calendarRefresh: vi.fn(),
      calendarPreviewFile: vi.fn(),
      calendarApply: vi.fn(),
      calendarDiscard: vi.fn(),
      calendarFeedRemove: vi.fn(),
      calendarAutoRefreshSet: vi.fn(),
    },
  };
});

import { listen } from "@tauri-apps/api/event";
import { api, type CalendarPreview, type CalendarStatus } from "./api";
import { app } from "./app.svelte";
import { marchPreview, unchangedPreview } from "./testing";
import CalendarSettings from "../components/CalendarSettings.svelte";
import CalendarBanner from "../components/CalendarBanner.svelte";

const m = vi.mocked(api);
const listenMock = vi.mocked(listen);
const SECRET = "https://calendar.google.com/calendar/ical/sam%40example.org/private-5f2c9e/basic.ics";

function connected(pending: CalendarPreview | null = null, over: Partial<CalendarStatus["feed"]> = {}): CalendarStatus {
  return {
    feed: { connected: true, host: "calendar.google.com", auto_refresh: true, last_refreshed: "2026-03-02T15:04:00Z", ...over },
    pending,
  };
}
const notConnected = (pending: CalendarPreview | null = null): CalendarStatus => ({
  feed: { connected: false, host: null, auto_refresh: true, last_refreshed: null },
  pending,
});

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});
beforeEach(() => {
  vi.clearAllMocks();
  app.calendarChanges = null;
  app.view = { name: "today" };
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

function type(sel: string, value: string) {
  const el = $<HTMLInputElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
}

async function click(sel: string) {
  $(sel)!.click();
  flushSync();
  await tick();
}

async function open(status: CalendarStatus) {
  m.calendarStatus.mockResolvedValue(status);
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(CalendarSettings, { target });
  flushSync();
  await vi.waitFor(() => expect($("#calendar-h")).not.toBeNull());
  await vi.waitFor(() => expect(text("#calendar")).not.toContain("Loading…"));
}

function rows(sel: string) {
  return [...document.querySelectorAll<HTMLTableRowElement>(`${sel} tbody tr`)].map((tr) =>
    [...tr.cells].map((td) => td.textContent!.replace(/\s+/g, " ").trim()),
  );
}

describe("the calendar section", () => {
  it("has a heading and an id to link to", async () => {
    await open(notConnected());
    expect(text("#calendar-h")).toBe("Calendar");
    expect($("#calendar")?.getAttribute("aria-labelledby")).toBe("calendar-h");
  });

  it("asks for the feed address, labelled, with what happens to it", async () => {
    await open(notConnected());
    const input = $<HTMLInputElement>("#calendar-url")!;
    expect(document.querySelector(`label[for="calendar-url"]`)?.textContent).toBe("Calendar feed address (iCal)");
    const hint = input
      .getAttribute("aria-describedby")!
      .split(" ")
      .map((id) => document.getElementById(id)?.textContent ?? "")
      .join(" ")
      .replace(/\s+/g, " ");
    expect(hint).toMatch(/encrypted in your vault/);
    expect(hint).toMatch(/HTTPS/);
    expect(hint).toMatch(/names and times/);
    expect($("#calendar-preview")?.textContent?.trim()).toBe("Preview");
    expect($<HTMLInputElement>("#calendar-file")?.accept).toBe(".ics,text/calendar");
    expect($("#calendar-refresh")).toBeNull();
  });

  it("shows a refused http:// address's error by the field, and nothing else changes", async () => {
    await open(notConnected());
    m.calendarFeedSet.mockRejectedValue({
      kind: "invalid",
      message: "Casebook only fetches calendars over a secure connection: the address must start with https://.",
    });
    type("#calendar-url", " http://example.com/cal.ics ");
    await click("#calendar-preview");
    await vi.waitFor(() =>
      expect(text("#calendar-url-error")).toBe(
        "Casebook only fetches calendars over a secure connection: the address must start with https://.",
      ),
    );
    expect(m.calendarFeedSet).toHaveBeenCalledWith("http://example.com/cal.ics");
    expect($("#calendar-url-error")?.getAttribute("role")).toBe("alert");
    expect($("#calendar-url")?.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement?.id).toBe("calendar-url");
    expect($<HTMLInputElement>("#calendar-url")?.value).toBe(" http://example.com/cal.ics "); // kept, to correct
    expect($("#calendar-preview-table")).toBeNull();
  });

  it("asks for an address before calling the core", async () => {
    await open(notConnected());
    await click("#calendar-preview");
    expect(text("#calendar-url-error")).toBe("Enter your calendar's feed address.");
    expect(m.calendarFeedSet).not.toHaveBeenCalled();
  });

  it("connects, forgets the address and shows only the host", async () => {
    await open(notConnected());
    m.calendarFeedSet.mockResolvedValue(marchPreview());
    m.calendarStatus.mockResolvedValue(connected(marchPreview()));
    type("#calendar-url", SECRET);
    await click("#calendar-preview");
    await vi.waitFor(() => expect(text("#calendar-host")).toBe("calendar.google.com"));
    expect(m.calendarFeedSet).toHaveBeenCalledWith(SECRET);
    expect($("#calendar-preview-table")).not.toBeNull();
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("calendar-review-h"));
    expect(text("#calendar-last")).toBe("Last checked 02/03/2026 15:04.");
    expect($("#calendar-url")).toBeNull();
    expect(document.body.innerHTML).not.toContain("private-5f2c9e");
    expect(text("#calendar-result")).toBe(
      "Preview ready: 2 new, 1 moved, 1 cancelled, 1 unchanged, 2 skipped. Nothing is imported until you confirm.",
    );
    expect(text("#calendar-review")).toContain("From your calendar feed (calendar.google.com)");
  });
});

describe("the preview", () => {
  it("lists the changes first, in UK times, with the action in words", async () => {
    await open(connected(marchPreview()));
    expect(text("#calendar-counts")).toBe("2 new, 1 moved, 1 cancelled, 1 unchanged, 2 skipped");
    expect(text("#calendar-review")).toContain("24/02/2026 to 21/04/2026");

    const table = $<HTMLTableElement>("#calendar-preview-table")!;
    expect(table.caption?.textContent?.replace(/\s+/g, " ").trim()).toBe("4 changes, earliest first");
    const heads = [...table.querySelectorAll("thead th")];
    expect(heads.map((th) => th.textContent)).toEqual(["When", "Calendar event", "Client", "Change"]);
    expect(heads.every((th) => th.getAttribute("scope") === "col")).toBe(true);

    expect(rows("#calendar-preview-table")).toEqual([
      ["Tue 3 Mar 2026, 10:00–10:50", "Siân O'Brien", "C-7KQ2", "+New"],
      ["Thu 5 Mar 2026, 14:00–14:50 was Wed 4 Mar 2026, 14:00–14:50", "Tomasz Nowak", "C-M9XD", "→Moved"],
      ["Fri 6 Mar 2026, 09:00–09:50", "Amara Okafor", "C-0A1B", "×Cancelled"],
      // British Summer Time from 29 March: 09:00 UTC shows as 10:00.
      ["Tue 31 Mar 2026, 10:00–10:50", "Jonah Reyes", "New client", "+New"],
    ]);
    // The mark beside each word is decoration; the word is what is read.
    expect(table.querySelector(".mark")?.getAttribute("aria-hidden")).toBe("true");
  });

  it("folds the unchanged events away behind a disclosure", async () => {
    await open(connected(marchPreview()));
    const details = $<HTMLDetailsElement>("#calendar-unchanged")!;
    expect(details.open).toBe(false);
    expect(text("#calendar-unchanged summary")).toBe("1 unchanged event");
    expect(rows("#calendar-unchanged")).toEqual([["Mon 2 Mar 2026, 10:00–10:50", "Siân O'Brien", "C-7KQ2", "=Unchanged"]]);
  });

  it("names the new clients, the warnings, and what was skipped and why", async () => {
    await open(connected(marchPreview()));
    expect(text("#calendar-new-clients")).toBe("Jonah Reyes");
    expect(text("#calendar-warnings")).toContain("3 damaged lines were skipped while reading the calendar.");
    const skipped = [...document.querySelectorAll("#calendar-skipped li")].map((li) => li.textContent);
    expect(skipped).toEqual([
      "Dentist (Wed 4 Mar 2026): It is an all-day event, not a session.",
      "Team meeting: Its start time could not be read.",
    ]);
  });

  it("cannot be imported when nothing would change", async () => {
    await open(connected(unchangedPreview()));
    expect($<HTMLButtonElement>("#calendar-apply")?.disabled).toBe(true);
    expect($<HTMLButtonElement>("#calendar-discard")?.disabled).toBe(false);
    expect(rows("#calendar-preview-table")).toEqual([
      ["No changes: Casebook already has every event as it is in your calendar."],
    ]);
    expect(text("#calendar-nothing")).toMatch(/Nothing to import/);
  });

  it("can be imported when something would change", async () => {
    await open(connected(marchPreview()));
    expect($<HTMLButtonElement>("#calendar-apply")?.disabled).toBe(false);
    expect($("#calendar-apply")?.textContent?.trim()).toBe("Import these changes");
  });

  it("imports, says what it did, and has Today reload", async () => {
    await open(connected(marchPreview()));
    app.calendarChanges = marchPreview();
    const day = app.dayVersion;
    m.calendarApply.mockResolvedValue({ new: 2, moved: 1, cancelled: 1, new_clients: 1 });
    await click("#calendar-apply");
    await vi.waitFor(() => expect(text("#calendar-result")).toBe("Imported: 2 new, 1 moved, 1 cancelled; 1 new client."));
    expect($("#calendar-result")?.getAttribute("role")).toBe("status");
    // The preview on screen is the one confirmed.
    expect(m.calendarApply).toHaveBeenCalledWith("preview-7");
    expect($("#calendar-preview-table")).toBeNull();
    expect(app.dayVersion).toBe(day + 1);
    expect(app.calendarChanges).toBeNull();
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("calendar-h"));
  });

  it("says so, and keeps the preview, when the import fails", async () => {
    await open(connected(marchPreview()));
    m.calendarApply.mockRejectedValue({ kind: "integrity", message: "The appointments could not be saved." });
    await click("#calendar-apply");
    await vi.waitFor(() => expect(text("#calendar-result")).toBe("Nothing was imported: The appointments could not be saved."));
    expect($("#calendar-result")?.classList.contains("error-text")).toBe(true);
    expect($("#calendar-preview-table")).not.toBeNull();
  });

  it("is discarded on request", async () => {
    await open(connected(marchPreview()));
    m.calendarDiscard.mockResolvedValue(undefined);
    await click("#calendar-discard");
    await vi.waitFor(() => expect(text("#calendar-result")).toBe("Preview discarded: nothing was imported."));
    expect(m.calendarDiscard).toHaveBeenCalledTimes(1);
    expect($("#calendar-review")).toBeNull();
  });

  it("previews a chosen .ics file, read in the window", async () => {
    await open(notConnected());
    m.calendarPreviewFile.mockResolvedValue(marchPreview({ source: "file" }));
    const ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Siân O'Brien\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    const input = $<HTMLInputElement>("#calendar-file")!;
    const file = new File([ics], "diary.ics", { type: "text/calendar" });
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    input.dispatchEvent(new Event("change", { bubbles: true }));
    await vi.waitFor(() => expect($("#calendar-preview-table")).not.toBeNull());
    expect(m.calendarPreviewFile).toHaveBeenCalledWith("diary.ics", ics);
    expect(text("#calendar-review")).toContain("From the file “diary.ics”");
  });
});

describe("a connected feed", () => {
  it("checks now, and turns the automatic check off and on", async () => {
    await open(connected());
    expect($<HTMLInputElement>("#calendar-auto")?.checked).toBe(true);
    expect(document.querySelector(`label[for="calendar-auto"]`)?.textContent).toBe("Refresh automatically every 30 minutes");

    m.calendarRefresh.mockResolvedValue(unchangedPreview());
    await click("#calendar-refresh");
    await vi.waitFor(() => expect(text("#calendar-result")).toBe("No changes: Casebook already has every event in your calendar."));
    expect($("#calendar-preview-table")).not.toBeNull();
    await vi.waitFor(() => expect($<HTMLInputElement>("#calendar-auto")?.disabled).toBe(false));

    m.calendarAutoRefreshSet.mockResolvedValue(connected(null, { auto_refresh: false }));
    await click("#calendar-auto");
    await vi.waitFor(() => expect(m.calendarAutoRefreshSet).toHaveBeenCalledWith(false));
    await vi.waitFor(() => expect(text("#calendar-result")).toMatch(/Automatic checks are off/));
    expect($<HTMLInputElement>("#calendar-auto")?.checked).toBe(false);
    expect($("#calendar-preview-table")).not.toBeNull(); // the preview stays
  });

  it("puts the box back when the setting cannot be saved", async () => {
    await open(connected());
    m.calendarAutoRefreshSet.mockRejectedValue({ kind: "internal", message: "Could not save." });
    await click("#calendar-auto");
    await vi.waitFor(() => expect(text("#calendar-result")).toBe("Could not save."));
    expect($<HTMLInputElement>("#calendar-auto")?.checked).toBe(true);
  });

  it("disconnects only after confirmation", async () => {
    await open(connected());
    await click("#calendar-disconnect");
    expect(text("dialog h2")).toBe("Disconnect your calendar?");
    expect(m.calendarFeedRemove).not.toHaveBeenCalled();

    m.calendarFeedRemove.mockResolvedValue(undefined);
    m.calendarStatus.mockResolvedValue(notConnected());
    await click("#confirm-ok");
    await vi.waitFor(() => expect($("#calendar-url")).not.toBeNull());
    expect(m.calendarFeedRemove).toHaveBeenCalledTimes(1);
    expect($("dialog")).toBeNull();
    expect(text("#calendar-result")).toBe("Calendar disconnected: the feed address has been deleted.");
  });

  it("shows changes the automatic check found while it is open", async () => {
    await open(connected());
    expect($("#calendar-review")).toBeNull();
    app.calendarChanges = marchPreview();
    flushSync();
    expect(text("#calendar-counts")).toBe("2 new, 1 moved, 1 cancelled, 1 unchanged, 2 skipped");
  });
});

describe("the calendar banner", () => {
  function fire(preview: CalendarPreview) {
    const call = listenMock.mock.calls.find(([name]) => name === "calendar-changes");
    expect(call).toBeDefined();
    (call![1] as (e: { payload: unknown }) => void)({ payload: preview });
    flushSync();
  }

  it("appears when the automatic check finds changes, and opens Settings → Calendar", async () => {
    listenMock.mockResolvedValue(() => {});
    app.screen = "main";
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(CalendarBanner, { target });
    flushSync();
    const region = $("#calendar-changes")!;
    expect(region.getAttribute("role")).toBe("status");
    expect(region.textContent?.trim()).toBe("");

    fire(marchPreview());
    expect(text("#calendar-changes-text")).toBe("Your calendar has 4 changes");
    expect(text("#calendar-banner-review")).toBe("Review");

    await click("#calendar-banner-review");
    expect(app.view).toEqual({ name: "settings", section: "calendar" });
    expect($("#calendar-banner-review")).toBeNull();
  });

  it("stays away when nothing changed, and can be dismissed", async () => {
    listenMock.mockResolvedValue(() => {});
    app.screen = "main";
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(CalendarBanner, { target });
    flushSync();

    fire(unchangedPreview());
    expect($("#calendar-banner-review")).toBeNull();

    const one = unchangedPreview();
    one.counts.moved = 1;
    fire(one);
    expect(text("#calendar-changes-text")).toBe("Your calendar has 1 change");
    await click("#calendar-changes button.quiet");
    expect(app.calendarChanges).toBeNull();
    expect($("#calendar-banner-review")).toBeNull();
  });
});
