import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      status: vi.fn(),
      lock: vi.fn(),
      settings: vi.fn(),
      templates: vi.fn(),
      today: vi.fn(),
      clock: vi.fn(),
    },
  };
});

import { api, type Today } from "./api";
import { app } from "./app.svelte";
import { clock } from "./clock.svelte";
import { idleClock } from "./testing";

const status = vi.mocked(api.status);
const lock = vi.mocked(api.lock);
const settings = vi.mocked(api.settings);

beforeEach(() => {
  vi.clearAllMocks();
  settings.mockResolvedValue({
    auto_lock_minutes: 3,
    warning_minutes: [5],
    buffer_minutes: 0,
    default_session_minutes: 45,
    next_session_notice_minutes: 2,
    session_notifications: true,
  });
});

describe("which screen shows", () => {
  it("follows the core's status", async () => {
    status.mockResolvedValueOnce({ vault_exists: false, unlocked: false, key_store: null, vault_dir: "/v" });
    await app.refresh();
    expect(app.screen).toBe("first-run");

    status.mockResolvedValueOnce({ vault_exists: true, unlocked: false, key_store: "passphrase", vault_dir: "/v" });
    await app.refresh();
    expect(app.screen).toBe("unlock");

    status.mockResolvedValueOnce({ vault_exists: true, unlocked: true, key_store: "passphrase", vault_dir: "/v" });
    await app.refresh();
    expect(app.screen).toBe("main");
    expect(app.view).toEqual({ name: "today" });
  });

  it("shows the error when the core cannot be reached", async () => {
    status.mockRejectedValueOnce({ kind: "internal", message: "The vault folder cannot be read." });
    await app.refresh();
    expect(app.screen).toBe("error");
    expect(app.loadError).toBe("The vault folder cannot be read.");
  });
});

describe("locking", () => {
  async function unlocked() {
    status.mockResolvedValueOnce({ vault_exists: true, unlocked: true, key_store: "os-keychain", vault_dir: "/v" });
    await app.refresh();
    await vi.waitFor(() => expect(app.settings.default_session_minutes).toBe(45));
    app.navigate({ name: "client", code: "C-7KQ2", tab: "notes" });
    app.templates = { soap: ["subjective"], dap: [], birp: [], free: ["text"] };
    clock.set(
      idleClock({
        running: true,
        client_code: "C-7KQ2",
        client_name: "Siân O'Brien",
        started_at: "2026-03-02T10:00:00Z",
        display: "10:00",
      }),
    );
  }

  it("after a recovery, opens the app and remembers where the keys are now kept", async () => {
    status.mockResolvedValueOnce({ vault_exists: true, unlocked: false, key_store: "os-keychain", vault_dir: "/v" });
    await app.refresh();
    expect(app.screen).toBe("unlock");
    app.recovered(null, "passphrase");
    expect(app.status?.key_store).toBe("passphrase");
    expect(app.status?.unlocked).toBe(true);
    expect(app.screen).toBe("main");
  });

  it("drops everything loaded when the core says it locked", async () => {
    await unlocked();
    app.lockedOut();
    expect(app.screen).toBe("unlock");
    expect(app.view).toEqual({ name: "today" });
    expect(app.templates).toBeNull();
    expect(app.settings.default_session_minutes).toBe(50);
    // The running session's time stays for the locked screen; who it is with does not.
    expect(clock.view?.running).toBe(true);
    expect(clock.view?.started_at).toBe("2026-03-02T10:00:00Z");
    expect(clock.view?.client_code).toBeNull();
    expect(clock.view?.client_name).toBeNull();
  });

  it("keeps no clock reading through a lock when no session runs", async () => {
    await unlocked();
    const next = { appointment_id: "ap-1", starts_at: "2026-03-02T11:00:00Z", ends_at: "2026-03-02T11:50:00Z" };
    clock.set(idleClock({ next }));
    app.lockedOut();
    expect(clock.view).toBeNull();
  });

  it("locks on request, after pending work is saved", async () => {
    await unlocked();
    const order: string[] = [];
    const stop = app.onBeforeLock(async () => {
      order.push("saved");
    });
    lock.mockImplementationOnce(async () => {
      order.push("locked");
    });
    await app.lock();
    stop();
    expect(order).toEqual(["saved", "locked"]);
    expect(app.screen).toBe("unlock");
  });

  it("stays open and says why when locking fails", async () => {
    await unlocked();
    lock.mockRejectedValueOnce({ kind: "internal", message: "Could not lock." });
    await app.lock();
    expect(app.screen).toBe("main");
    expect(app.lockError).toBe("Could not lock.");
  });

  it("goes to Unlock when a call fails because the vault is locked", async () => {
    await unlocked();
    expect(app.handleError({ kind: "locked", message: "Casebook is locked." })).toBe("Casebook is locked.");
    expect(app.screen).toBe("unlock");
  });

  it("leaves other errors to the screen", async () => {
    await unlocked();
    expect(app.handleError({ kind: "invalid", message: "Bad date." })).toBe("Bad date.");
    expect(app.screen).toBe("main");
  });
});

describe("unlocking", () => {
  const day: Today = {
    date: "2026-11-22",
    appointments: [],
    next: null,
    clock: idleClock({ gap_minutes: 35 }),
  };

  it("opens Today on the day the unlock returned, with no further call before it shows", async () => {
    status.mockResolvedValueOnce({ vault_exists: true, unlocked: false, key_store: "passphrase", vault_dir: "/v" });
    await app.refresh();
    expect(app.screen).toBe("unlock");
    vi.clearAllMocks();

    app.unlocked(day);
    expect(app.screen).toBe("main");
    expect(app.status?.unlocked).toBe(true);
    expect(app.view).toEqual({ name: "today" });
    expect(clock.view).toEqual(day.clock);
    // Nothing is asked for before Today is painted; the settings follow just after.
    expect(status).not.toHaveBeenCalled();
    expect(api.today).not.toHaveBeenCalled();
    expect(api.clock).not.toHaveBeenCalled();
    expect(settings).not.toHaveBeenCalled();

    // The day is for the first showing only.
    expect(app.takeToday()).toEqual(day);
    expect(app.takeToday()).toBeNull();

    await vi.waitFor(() => expect(settings).toHaveBeenCalledTimes(1));
    await vi.waitFor(() => expect(app.settings.default_session_minutes).toBe(45));
    expect(api.templates).not.toHaveBeenCalled();
  });

  it("forgets the unlock's day when locked before Today took it", () => {
    app.unlocked(day);
    app.lockedOut();
    expect(app.takeToday()).toBeNull();
    expect(clock.view).toBeNull();
  });

  it("copes with an unlock that returned no day (Today then asks)", () => {
    app.unlocked(null);
    expect(app.screen).toBe("main");
    expect(app.takeToday()).toBeNull();
  });
});
