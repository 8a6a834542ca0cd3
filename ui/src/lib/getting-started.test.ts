import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: { clients: vi.fn(), calendarStatus: vi.fn(), backups: vi.fn(), offsiteHealth: vi.fn(), practice: vi.fn(), setPractice: vi.fn() },
  };
});

import { api, type BackupOverview, type CalendarStatus, type Today } from "./api";
import { app } from "./app.svelte";
import { backupsOnlyBesideRecords, setupSteps, type SetupFacts } from "./getting-started";
import { prefs } from "./local-prefs.svelte";
import { EMPTY_PROFILE, practice } from "./practice.svelte";
import { idleClock } from "./testing";
import GettingStarted from "../components/GettingStarted.svelte";

const m = vi.mocked(api);

const NOTHING: SetupFacts = {
  practiceName: "",
  registrationBody: "",
  registrationNumber: "",
  templateChosen: false,
  clients: 0,
  calendarConnected: false,
  bookedToday: 0,
  backupDestination: "/home/sam/casebook-backups",
  vaultDir: "/home/sam/casebook",
  offsiteConnected: false,
  restoreTestedOn: "",
};

describe("the setup steps", () => {
  it("are all to do on a new vault, in order", () => {
    const steps = setupSteps(NOTHING);
    expect(steps.map((s) => s.id)).toEqual(["practice", "defaults", "client", "calendar", "backup-folder", "restore"]);
    expect(steps.every((s) => s.done === false)).toBe(true);
  });

  it("are ticked from what the app knows", () => {
    const steps = setupSteps({
      ...NOTHING,
      practiceName: "Riverside Counselling",
      registrationBody: "NCPS",
      registrationNumber: "1234",
      templateChosen: true,
      clients: 2,
      calendarConnected: true,
      backupDestination: "/media/usb/backups",
      restoreTestedOn: "2026-03-02",
    });
    expect(steps.every((s) => s.done === true)).toBe(true);
  });

  it("need the whole registration, and a session booked today counts as booking", () => {
    const steps = setupSteps({ ...NOTHING, practiceName: "Riverside", registrationBody: "HCPC", bookedToday: 1 });
    expect(steps.find((s) => s.id === "practice")?.done).toBe(false);
    expect(steps.find((s) => s.id === "calendar")?.done).toBe(true);
  });

  it("tick nothing they cannot know", () => {
    const steps = setupSteps({
      ...NOTHING,
      practiceName: null,
      registrationBody: null,
      registrationNumber: null,
      clients: null,
      calendarConnected: null,
      bookedToday: 0,
      backupDestination: null,
    });
    expect(steps.find((s) => s.id === "practice")?.done).toBeNull();
    expect(steps.find((s) => s.id === "client")?.done).toBeNull();
    expect(steps.find((s) => s.id === "calendar")?.done).toBeNull();
    expect(steps.find((s) => s.id === "backup-folder")?.done).toBeNull();
  });

  it("warn while the backups are only beside the records", () => {
    expect(backupsOnlyBesideRecords(NOTHING)).toBe(true);
    expect(backupsOnlyBesideRecords({ ...NOTHING, backupDestination: "/home/sam/casebook-backups/" })).toBe(true);
    expect(backupsOnlyBesideRecords({ ...NOTHING, offsiteConnected: true })).toBe(false);
    expect(backupsOnlyBesideRecords({ ...NOTHING, backupDestination: "/media/usb/backups" })).toBe(false);
    expect(backupsOnlyBesideRecords({ ...NOTHING, offsiteConnected: null })).toBeNull();
  });
});

describe("the Getting started card", () => {
  let component: ReturnType<typeof mount> | null = null;
  const onbook = vi.fn();
  const today = (n: number): Today => ({
    date: "2026-03-02",
    appointments: Array.from({ length: n }, (_, i) => ({
      id: `a${i}`,
      client_code: "C-7KQ2",
      client_name: null,
      starts_at: "2026-03-02T10:00:00Z",
      ends_at: "2026-03-02T10:50:00Z",
      status: "scheduled" as const,
    })),
    next: null,
    clock: idleClock(),
  });

  beforeEach(() => {
    vi.clearAllMocks();
    localStorage.clear();
    prefs.load();
    practice.clear();
    m.practice.mockResolvedValue(EMPTY_PROFILE);
    app.status = { vault_exists: true, unlocked: true, key_store: "passphrase", vault_dir: "/home/sam/casebook" };
    app.view = { name: "today" };
    m.clients.mockResolvedValue([]);
    m.calendarStatus.mockResolvedValue({
      feed: { connected: false, host: null, auto_refresh: false, last_refreshed: null },
      pending: null,
    } as CalendarStatus);
    m.backups.mockResolvedValue({ destination: "/home/sam/casebook-backups" } as BackupOverview);
    m.offsiteHealth.mockResolvedValue({ connected: false, health: null });
  });
  afterEach(() => {
    if (component) unmount(component);
    component = null;
    document.body.innerHTML = "";
    localStorage.clear();
    prefs.load();
    practice.clear();
  });

  async function show(day: Today | null = today(0)) {
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(GettingStarted, { target, props: { today: day, onbook } });
    flushSync();
    // The facts are asked for once painted (two animation frames or a timeout in jsdom).
    await vi.waitFor(() => expect(m.offsiteHealth).toHaveBeenCalled());
    await tick();
    flushSync();
  }

  const $ = (sel: string) => document.querySelector<HTMLElement>(sel);
  const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

  it("lists the steps with where each is done, and warns about backups on the same disk", async () => {
    await show();
    expect(text("#getting-started-h")).toBe("Getting started");
    expect(text("#getting-started-count")).toBe("0 of 6 done");
    expect([...document.querySelectorAll(".step")].map((li) => (li as HTMLElement).dataset.step)).toEqual([
      "practice",
      "defaults",
      "client",
      "calendar",
      "backup-folder",
      "restore",
    ]);
    await vi.waitFor(() => expect($("#backup-disk-warning")).not.toBeNull());
    expect(text("#backup-disk-warning")).toMatch(/only in the folder beside your records, on the same disk/);
    // Each step is named for a screen reader with its state and detail.
    const li = $('[data-step="practice"]')!;
    expect(li.getAttribute("aria-labelledby")).toBe("step-practice-title");
    expect(text(`#${li.getAttribute("aria-describedby")!.split(" ")[0]}`)).toBe("To do");
    expect(text('[data-step="practice"] .detail')).toMatch(/BACP, UKCP, NCPS, HCPC or BPS/);
  });

  it("ticks what is done", async () => {
    m.practice.mockResolvedValue({
      practice_name: "Riverside Counselling",
      therapist_name: null,
      registration_body: "BACP",
      registration_number: "123456",
    });
    prefs.markRestoreTested("2026-03-01");
    m.clients.mockResolvedValue([{ code: "C-7KQ2", status: "active", full_name: "Siân O'Brien", ended_on: null }]);
    m.backups.mockResolvedValue({ destination: "/media/usb/backups" } as BackupOverview);
    await show(today(1));
    await vi.waitFor(() => expect(text("#getting-started-count")).toBe("5 of 6 done"));
    const done = [...document.querySelectorAll(".step.done")].map((li) => (li as HTMLElement).dataset.step);
    expect(done).toEqual(["practice", "client", "calendar", "backup-folder", "restore"]);
    expect(text("#step-practice-state")).toBe("Done");
    expect($('[data-step="practice"] .mark svg')).not.toBeNull();
    expect($("#backup-disk-warning")).toBeNull();
  });

  it("ticks the practice step from the vault's details, not from what this computer kept before", async () => {
    localStorage.setItem("casebook.practice-name", "Riverside Counselling");
    localStorage.setItem("casebook.registration-body", "BACP");
    localStorage.setItem("casebook.registration-number", "123456");
    // The vault has the name and body but no number: not done, whatever was kept here.
    m.practice.mockResolvedValue({ practice_name: "Willow", therapist_name: null, registration_body: "HCPC", registration_number: null });
    await show();
    await vi.waitFor(() => expect(text("#step-practice-state")).toBe("To do"));
    expect(m.setPractice).not.toHaveBeenCalled();
    // Saved in Settings: the step is ticked at once.
    practice.profile = { practice_name: "Willow", therapist_name: null, registration_body: "HCPC", registration_number: "PYL01234" };
    flushSync();
    expect(text("#step-practice-state")).toBe("Done");
  });

  it("does not say the practice step is to do before the vault has answered", async () => {
    m.practice.mockReturnValue(new Promise(() => {}));
    await show();
    expect(text("#step-practice-state")).toBe("");
    expect($('[data-step="practice"]')?.classList.contains("done")).toBe(false);
  });

  it("its buttons go where each step is done", async () => {
    await show();
    const button = (step: string, label: string) =>
      [...document.querySelectorAll<HTMLButtonElement>(`[data-step="${step}"] button`)].find(
        (b) => b.textContent?.trim() === label,
      )!;
    button("practice", "Settings → Your practice").click();
    expect(app.view).toEqual({ name: "settings", section: "practice" });
    button("defaults", "Settings → Session length and template").click();
    expect(app.view).toEqual({ name: "settings", section: "sessions" });
    button("client", "Clients → Add a client").click();
    expect(app.view).toEqual({ name: "clients" });
    button("calendar", "Book a session").click();
    expect(onbook).toHaveBeenCalledTimes(1);
    button("backup-folder", "Backups → Backup folder").click();
    expect(app.view).toEqual({ name: "backups" });
  });

  it("once dismissed, stays away (remembered on this computer)", async () => {
    await show();
    $("#getting-started-dismiss")!.click();
    flushSync();
    expect($("#getting-started")).toBeNull();
    expect(localStorage.getItem("casebook.getting-started-dismissed")).toBe("1");
    unmount(component!);
    component = null;
    prefs.load();
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(GettingStarted, { target, props: { today: today(0), onbook } });
    flushSync();
    expect($("#getting-started")).toBeNull();
  });
});
