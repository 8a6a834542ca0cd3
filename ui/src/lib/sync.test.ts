import { describe, expect, it } from "vitest";
import type { SyncConflict, SyncDevice, SyncOverview, SyncRan } from "./api";
import { canTakeOther, catchUpWords, conflictTitle, conflictValue, deviceState, heardWords, syncStrip } from "./sync";

function overview(over: Partial<SyncOverview> = {}): SyncOverview {
  return {
    connected: true,
    enabled: true,
    last_sync: Date.UTC(2026, 11, 4, 14, 2) / 1000,
    pending_changes: 0,
    alarm: null,
    alarm_words: null,
    conflicts: 0,
    devices: [],
    compare_words: "apple banana cherry delta",
    device_name: "Surgery desktop",
    names: {},
    ...over,
  };
}

function ran(over: Partial<SyncRan> = {}): SyncRan {
  return { wake: "here", received: 0, applied_changes: 0, sent: 0, conflicts: 0, error: null, alarm: null, ...over };
}

describe("the sync strip", () => {
  it("is hidden while sync is off or there is no server", () => {
    expect(syncStrip(null, null).kind).toBe("off");
    expect(syncStrip(overview({ enabled: false }), null).kind).toBe("off");
    expect(syncStrip(overview({ connected: false }), null).kind).toBe("off");
  });

  it("says up to date with the time of the last sync", () => {
    const s = syncStrip(overview(), ran());
    expect(s.kind).toBe("ok");
    expect(s.text).toMatch(/^Up to date · \d\d:\d\d$/);
  });

  it("counts the changes still to send", () => {
    expect(syncStrip(overview({ pending_changes: 12 }), null).text).toBe("Sending 12 changes");
    expect(syncStrip(overview({ pending_changes: 1 }), null).text).toBe("Sending 1 change");
  });

  it("says offline when the server cannot be reached, and that changes stay here", () => {
    const s = syncStrip(overview({ pending_changes: 3 }), ran({ offline: true, error: "the server could not be reached" }));
    expect(s.kind).toBe("offline");
    expect(s.text).toBe("Offline — changes are kept here");
    expect(s.detail).toContain("3 changes will be sent");
  });

  it("needs attention on an alarm, before anything else, in plain words", () => {
    const words = "The server returned older data than it had before — nothing was changed; contact whoever runs your server.";
    const s = syncStrip(
      overview({ pending_changes: 3, alarm: "rollback: the server returned older data for device x", alarm_words: words }),
      ran({ offline: true }),
    );
    expect(s).toEqual({ kind: "attention", text: "Needs attention", detail: words });
    // From the run's event alone (before the overview is read again).
    const fork = syncStrip(overview(), ran({ alarm: "fork", alarm_words: "The server showed …", error: "fork: …" }));
    expect(fork.kind).toBe("attention");
    expect(fork.detail).toBe("The server showed …");
  });

  it("says the records are read-only while a joined computer catches up, with how far it is", () => {
    const first = syncStrip(overview({ catching_up: true }), null);
    expect(first.kind).toBe("catching-up");
    expect(first.text).toBe("Catching up · read-only");
    expect(first.detail).toMatch(/open for editing when this computer has caught up/);
    const later = syncStrip(overview({ catching_up: true }), ran({ received: 40, catching_up: { done: 40, total: 120 } }));
    expect(later.detail).toContain("(40 of 120 change batches)");
    expect(catchUpWords(ran({ catching_up: { done: 1, total: 1 } }))).toBe("1 of 1 change batch");
    expect(catchUpWords(ran())).toBe("");
    // Caught up: the usual words; an alarm or a failure says so before anything else.
    expect(syncStrip(overview({ catching_up: false }), ran()).kind).toBe("ok");
    expect(syncStrip(overview({ catching_up: true }), ran({ alarm: "rollback", alarm_words: "older" })).kind).toBe("attention");
    expect(syncStrip(overview({ catching_up: true }), ran({ offline: true, error: "unreachable" })).kind).toBe("offline");
  });

  it("is paused when this computer was removed, or a run failed otherwise", () => {
    expect(syncStrip(overview(), ran({ revoked: true, error: "revoked" })).text).toBe("Paused");
    const s = syncStrip(overview(), ran({ error: "the server refused the request: signed out" }));
    expect(s).toEqual({ kind: "paused", text: "Paused", detail: "the server refused the request: signed out" });
  });
});

describe("computers and conflicts", () => {
  const device = (last_heard: number | null): SyncDevice => ({
    id: "d",
    name: "Laptop",
    letter: "7",
    revoked: false,
    added: "2026-12-01T09:00:00Z",
    revoked_at: null,
    log_removed: false,
    this_computer: false,
    last_heard,
    stale: false,
  });

  it("says a removed computer's changes are gone from the server once they are", () => {
    const removed = { ...device(null), revoked: true, revoked_at: "2026-12-04T09:00:00Z" };
    expect(deviceState(removed)).toEqual({ text: "Removed 04/12/2026", warn: false });
    expect(deviceState({ ...removed, log_removed: true }).text).toBe(
      "Removed 04/12/2026 · what it sent is gone from the server",
    );
    expect(deviceState({ ...device(1), stale: true }).warn).toBe(true);
    expect(deviceState(device(1)).text).toBe("Syncing");
  });

  it("says when a computer was last heard from", () => {
    const now = Date.UTC(2026, 11, 4, 12, 0);
    expect(heardWords(device(null), now)).toBe("not yet");
    expect(heardWords(device(now / 1000 - 30), now)).toBe("just now");
    expect(heardWords(device(now / 1000 - 600), now)).toBe("10 min ago");
    expect(heardWords(device(now / 1000 - 7200), now)).toBe("2 h ago");
    expect(heardWords(device(Date.UTC(2026, 10, 20, 12) / 1000), now)).toBe("20/11/2026");
  });

  const conflict = (over: Partial<SyncConflict>): SyncConflict => ({
    id: "c1",
    table: "client_identity",
    row: "MX4K",
    field: "email",
    kind: "field",
    kept: '"ann@laptop.example"',
    lost: '"ann@surgery.example"',
    lost_stamp: "0001",
    lost_device: "d",
    found_at: "2026-12-04T10:00:00Z",
    client_code: "MX4K",
    ...over,
  });

  it("titles and values read as words", () => {
    expect(conflictTitle(conflict({}))).toBe("Email");
    expect(conflictTitle(conflict({ field: "date_of_birth" }))).toBe("Date of birth");
    expect(conflictTitle(conflict({ kind: "draft", field: "text" }))).toBe("Draft note");
    expect(conflictTitle(conflict({ kind: "erased", field: "*", kept: null, lost: null }))).toBe(
      "Changed on another computer after the client was erased here",
    );
    expect(canTakeOther(conflict({ kind: "erased" }))).toBe(false);
    expect(conflictValue('"ann@surgery.example"')).toBe("ann@surgery.example");
    expect(conflictValue("null")).toBe("(empty)");
    expect(conflictValue(null)).toBe("(nothing)");
    expect(conflictValue("not json")).toBe("not json");
    expect(conflictValue(JSON.stringify({ text: "Slept better." }))).toBe("Slept better.");
    // As a draft's body comes: JSON text inside the JSON value.
    expect(conflictValue(JSON.stringify(JSON.stringify({ text: "Slept better." })))).toBe("Slept better.");
    expect(conflictValue(JSON.stringify("{not json"))).toBe("{not json");
    expect(conflictValue(JSON.stringify({ subjective: "Tired", objective: "", plan: "Rest" }))).toBe("Subjective: Tired\nPlan: Rest");
  });

  it("offers the other value only where taking it is an edit", () => {
    expect(canTakeOther(conflict({}))).toBe(true);
    expect(canTakeOther(conflict({ kind: "draft" }))).toBe(true);
    expect(canTakeOther(conflict({ kind: "both_finalised" }))).toBe(false);
  });
});
