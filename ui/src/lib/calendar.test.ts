import { describe, expect, it } from "vitest";
import {
  changeCount,
  checkFeedUrl,
  countsSentence,
  eventWas,
  eventWhen,
  hasChanges,
  importedSentence,
  skippedWhen,
  splitEvents,
} from "./calendar";
import { calEvent, marchPreview, unchangedPreview } from "./testing";

describe("the counts in words", () => {
  it("names every figure, zeros included", () => {
    expect(countsSentence({ new: 3, moved: 1, cancelled: 1, unchanged: 12, skipped: 2, new_clients: 2 })).toBe(
      "3 new, 1 moved, 1 cancelled, 12 unchanged, 2 skipped",
    );
    expect(countsSentence({ new: 0, moved: 0, cancelled: 0, unchanged: 5, skipped: 0, new_clients: 0 })).toBe(
      "0 new, 0 moved, 0 cancelled, 5 unchanged, 0 skipped",
    );
  });

  it("says what an import did, with new clients only when there are any", () => {
    expect(importedSentence({ new: 3, moved: 1, cancelled: 1, new_clients: 2 })).toBe(
      "Imported: 3 new, 1 moved, 1 cancelled; 2 new clients.",
    );
    expect(importedSentence({ new: 1, moved: 0, cancelled: 0, new_clients: 1 })).toBe(
      "Imported: 1 new, 0 moved, 0 cancelled; 1 new client.",
    );
    expect(importedSentence({ new: 0, moved: 2, cancelled: 0, new_clients: 0 })).toBe("Imported: 0 new, 2 moved, 0 cancelled.");
  });

  it("counts the appointments that would change", () => {
    expect(changeCount({ new: 1, moved: 1, cancelled: 1, unchanged: 9, skipped: 4, new_clients: 1 })).toBe(3);
  });
});

describe("whether there is anything to import", () => {
  it("is yes for new, moved or cancelled appointments", () => {
    expect(hasChanges(marchPreview())).toBe(true);
    const onlyCancelled = unchangedPreview();
    onlyCancelled.counts.cancelled = 1;
    expect(hasChanges(onlyCancelled)).toBe(true);
  });

  it("is no when every event is unchanged or skipped", () => {
    const p = unchangedPreview();
    p.counts.skipped = 3;
    expect(hasChanges(p)).toBe(false);
  });
});

describe("the rows", () => {
  it("puts the changes first, each group earliest first", () => {
    const { changes, unchanged } = splitEvents(marchPreview().events);
    expect(changes.map((e) => [e.action, e.summary])).toEqual([
      ["new", "Siân O'Brien"],
      ["moved", "Tomasz Nowak"],
      ["cancelled", "Amara Okafor"],
      ["new", "Jonah Reyes"],
    ]);
    expect(unchanged.map((e) => e.start)).toEqual(["2026-03-02T10:00:00Z"]);
  });

  it("writes times the UK way in local time, with where a moved session was", () => {
    expect(eventWhen(calEvent({}))).toBe("Tue 3 Mar 2026, 10:00–10:50");
    // 31 March is British Summer Time: 09:00 UTC is 10:00 here.
    expect(eventWhen(calEvent({ start: "2026-03-31T09:00:00Z", end: "2026-03-31T09:50:00Z" }))).toBe(
      "Tue 31 Mar 2026, 10:00–10:50",
    );
    const moved = calEvent({
      action: "moved",
      previous_start: "2026-03-02T09:00:00Z",
      previous_end: "2026-03-02T09:50:00Z",
    });
    expect(eventWas(moved)).toBe("was Mon 2 Mar 2026, 09:00–09:50");
    expect(eventWas(calEvent({ action: "new" }))).toBe("");
    expect(eventWas(calEvent({ action: "moved", previous_start: null }))).toBe("");
  });

  it("writes a skipped event's time when it has one", () => {
    expect(skippedWhen("2026-03-04T15:30:00Z")).toBe("Wed 4 Mar 2026, 15:30");
    // Local midnight (an all-day event): the day alone. 23:00 UTC in summer is midnight here.
    expect(skippedWhen("2026-03-04T00:00:00Z")).toBe("Wed 4 Mar 2026");
    expect(skippedWhen("2026-07-01T23:00:00Z")).toBe("Thu 2 Jul 2026");
    expect(skippedWhen(null)).toBe("");
    expect(skippedWhen("not a time")).toBe("");
  });
});

describe("the feed address", () => {
  it("is trimmed, and must be there without spaces", () => {
    expect(checkFeedUrl("  https://calendar.google.com/x/basic.ics \n")).toEqual({
      url: "https://calendar.google.com/x/basic.ics",
    });
    expect(checkFeedUrl("   ")).toEqual({ error: "Enter your calendar's feed address." });
    expect("error" in checkFeedUrl("https://a.example/x y.ics")).toBe(true);
  });

  it("is otherwise left to the core to judge (http:// is refused there)", () => {
    expect(checkFeedUrl("http://example.com/cal.ics")).toEqual({ url: "http://example.com/cal.ics" });
  });
});
