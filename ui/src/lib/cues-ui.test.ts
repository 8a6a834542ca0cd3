// Settings → In-session cues: the choice is saved in the app's preferences (which the
// session clock's notifications read), with every other setting kept as it was.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, unmount } from "svelte";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { settings: vi.fn(), saveSettings: vi.fn() } };
});

import { api } from "./api";
import { app } from "./app.svelte";
import { DEFAULT_SETTINGS, validateSettings, settingsToForm } from "./settings";
import CueSettings from "../components/CueSettings.svelte";

const m = vi.mocked(api);

beforeEach(() => {
  vi.clearAllMocks();
  document.body.innerHTML = "";
  app.settings = { ...DEFAULT_SETTINGS, auto_lock_minutes: 25 };
  m.saveSettings.mockImplementation(async (s) => s);
});

describe("in-session cues", () => {
  it("saves 'colour only' with the other settings unchanged, and shows it chosen", async () => {
    const target = document.createElement("div");
    document.body.append(target);
    const c = mount(CueSettings, { target });
    flushSync();
    const both = target.querySelector<HTMLInputElement>("#cues-colour-and-notifications")!;
    const quiet = target.querySelector<HTMLInputElement>("#cues-colour-only")!;
    expect(both.checked).toBe(true);
    quiet.click();
    await Promise.resolve();
    await Promise.resolve();
    flushSync();
    expect(m.saveSettings).toHaveBeenCalledWith({ ...DEFAULT_SETTINGS, auto_lock_minutes: 25, session_notifications: false });
    expect(app.settings?.session_notifications).toBe(false);
    expect(quiet.checked).toBe(true);
    unmount(c);
  });

  it("survive saving the other settings", () => {
    const r = validateSettings(settingsToForm(DEFAULT_SETTINGS), false);
    expect(r.settings?.session_notifications).toBe(false);
  });
});
