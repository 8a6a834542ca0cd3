// Settings → Your practice: the practice's details are the vault's (practice_get / practice_set),
// loaded once after the unlock and forgotten on lock; what this computer kept in localStorage
// before is moved into the vault once, then removed.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(() => Promise.resolve(() => {})) }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { practice: vi.fn(), setPractice: vi.fn(), settings: vi.fn() } };
});

import { api, type PracticeProfile } from "./api";
import { app } from "./app.svelte";
import { DEFAULT_SETTINGS } from "./settings";
import {
  EMPTY_PROFILE,
  LEGACY_KEYS,
  legacyProfile,
  practice,
  profileFromForm,
  registrationLine,
  REGISTRATION_BODIES,
} from "./practice.svelte";
import PracticeSettings from "../components/PracticeSettings.svelte";

const m = vi.mocked(api);

const WILLOW: PracticeProfile = {
  practice_name: "Willow Counselling",
  therapist_name: "Sam Jones",
  registration_body: "BACP",
  registration_number: "MBACP 123456",
};

/** The core's answer to practice_set: blank text cleared (as records/practice.rs does). */
const asKept = async (p: PracticeProfile): Promise<PracticeProfile> => ({
  practice_name: p.practice_name?.trim() || null,
  therapist_name: p.therapist_name?.trim() || null,
  registration_body: p.registration_body,
  registration_number: p.registration_number?.trim() || null,
});

let component: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  vi.clearAllMocks();
  localStorage.clear();
  practice.clear();
  m.setPractice.mockImplementation(asKept);
});
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  localStorage.clear();
  practice.clear();
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

function type(sel: string, value: string) {
  const el = $<HTMLInputElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
}

function choose(sel: string, value: string) {
  const el = $<HTMLSelectElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event("change", { bubbles: true }));
  flushSync();
}

async function show() {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(PracticeSettings, { target });
  flushSync();
  await vi.waitFor(() => expect($<HTMLButtonElement>("#practice-save")?.disabled).toBe(false));
  flushSync();
}

function oldKeys(name: string | null, body: string | null, number: string | null) {
  if (name !== null) localStorage.setItem(LEGACY_KEYS.practiceName, name);
  if (body !== null) localStorage.setItem(LEGACY_KEYS.registrationBody, body);
  if (number !== null) localStorage.setItem(LEGACY_KEYS.registrationNumber, number);
}
const keysLeft = () => Object.values(LEGACY_KEYS).filter((k) => localStorage.getItem(k) !== null);

describe("the practice's details", () => {
  it("are worded for print as the core words them", () => {
    expect(registrationLine("BACP", " 123456 ")).toBe("BACP 123456");
    expect(registrationLine("HCPC", null)).toBe("HCPC");
    expect(registrationLine(null, "42")).toBe("Registration 42");
    expect(registrationLine(null, "  ")).toBe("");
    expect(REGISTRATION_BODIES).toEqual(["BACP", "UKCP", "NCPS", "HCPC", "BPS"]);
  });

  it("are sent with blank text as null, on one line, within the core's limits", () => {
    expect(profileFromForm({ practiceName: "  Willow  Counselling ", therapistName: " ", body: "", number: "12\n34" })).toEqual({
      practice_name: "Willow Counselling",
      therapist_name: null,
      registration_body: null,
      registration_number: "12 34",
    });
    expect(profileFromForm({ practiceName: "x".repeat(130), therapistName: "", body: "GMC", number: "9".repeat(70) })).toEqual({
      practice_name: "x".repeat(120),
      therapist_name: null,
      registration_body: null,
      registration_number: "9".repeat(60),
    });
  });
});

describe("Settings → Your practice", () => {
  it("shows the vault's details, and says where they are kept and printed", async () => {
    m.practice.mockResolvedValue(WILLOW);
    await show();
    expect(m.practice).toHaveBeenCalledTimes(1);
    expect($<HTMLInputElement>("#practice-name")?.value).toBe("Willow Counselling");
    expect($<HTMLInputElement>("#therapist-name")?.value).toBe("Sam Jones");
    expect(document.querySelector('label[for="therapist-name"]')?.textContent).toBe("Your name as registered");
    expect($<HTMLSelectElement>("#registration-body")?.value).toBe("BACP");
    expect($<HTMLInputElement>("#registration-number")?.value).toBe("MBACP 123456");
    expect([...document.querySelectorAll("#registration-body option")].map((o) => o.textContent)).toEqual([
      "None given",
      "BACP",
      "UKCP",
      "NCPS",
      "HCPC",
      "BPS",
    ]);
    expect(text("#practice-settings")).toContain(
      "Printed on notes you print and on subject-access responses; kept in your records (and on your other computers when sync is on).",
    );
    expect(text("#practice-settings")).not.toContain("on this computer");
  });

  it("cannot save before the vault's details are in (they would be overwritten)", async () => {
    let answer: (p: PracticeProfile) => void = () => {};
    m.practice.mockReturnValue(new Promise((r) => (answer = r)));
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(PracticeSettings, { target });
    flushSync();
    expect($<HTMLButtonElement>("#practice-save")?.disabled).toBe(true);
    $<HTMLFormElement>("#practice-settings form")!.requestSubmit();
    await tick();
    expect(m.setPractice).not.toHaveBeenCalled();
    answer(WILLOW);
    await vi.waitFor(() => expect($<HTMLButtonElement>("#practice-save")?.disabled).toBe(false));
    expect($<HTMLInputElement>("#practice-name")?.value).toBe("Willow Counselling");
  });

  it("saves to the vault, and what prints follows at once", async () => {
    m.practice.mockResolvedValue(EMPTY_PROFILE);
    await show();
    type("#practice-name", " Hillside Therapy ");
    type("#therapist-name", "Dr Ana Ruiz");
    choose("#registration-body", "BPS");
    type("#registration-number", "");
    $("#practice-save")!.click();
    await vi.waitFor(() => expect(text("#practice-settings [role=status]")).toBe("Practice details saved."));
    expect(m.setPractice).toHaveBeenCalledTimes(1);
    expect(m.setPractice).toHaveBeenCalledWith({
      practice_name: "Hillside Therapy",
      therapist_name: "Dr Ana Ruiz",
      registration_body: "BPS",
      registration_number: null,
    });
    expect($<HTMLInputElement>("#practice-name")?.value).toBe("Hillside Therapy");
    expect(practice.practiceName).toBe("Hillside Therapy");
    expect(practice.registration).toBe("BPS");
    // Nothing of it is kept on this computer.
    expect(keysLeft()).toEqual([]);
    expect(localStorage.length).toBe(0);
  });

  it("shows the core's refusal and keeps what was typed", async () => {
    m.practice.mockResolvedValue(EMPTY_PROFILE);
    await show();
    m.setPractice.mockRejectedValue({ kind: "invalid_input", message: "the practice name has a line break or control character" });
    type("#practice-name", "Willow");
    $("#practice-save")!.click();
    await vi.waitFor(() => expect(text("#practice-error")).toBe("the practice name has a line break or control character"));
    expect($("#practice-error")?.getAttribute("role")).toBe("alert");
    expect($<HTMLInputElement>("#practice-name")?.value).toBe("Willow");
    expect(text("#practice-settings [role=status]")).toBe("");
    expect(practice.practiceName).toBe("");
  });
});

describe("the details this computer kept before", () => {
  it("are moved into an empty vault once, and removed here", async () => {
    oldKeys("Riverside Counselling", "UKCP", "0042");
    expect(legacyProfile()).toEqual({
      practice_name: "Riverside Counselling",
      therapist_name: null,
      registration_body: "UKCP",
      registration_number: "0042",
    });
    m.practice.mockResolvedValue(EMPTY_PROFILE);
    await show();
    expect(m.setPractice).toHaveBeenCalledTimes(1);
    expect(m.setPractice).toHaveBeenCalledWith({
      practice_name: "Riverside Counselling",
      therapist_name: null,
      registration_body: "UKCP",
      registration_number: "0042",
    });
    expect(keysLeft()).toEqual([]);
    expect($<HTMLInputElement>("#practice-name")?.value).toBe("Riverside Counselling");
    expect($<HTMLSelectElement>("#registration-body")?.value).toBe("UKCP");
    expect(practice.registration).toBe("UKCP 0042");

    // The next unlock finds them in the vault, and nothing left here to move.
    practice.clear();
    m.practice.mockResolvedValue(await asKept(m.setPractice.mock.calls[0][0]));
    await practice.load();
    await practice.load(true);
    expect(m.setPractice).toHaveBeenCalledTimes(1);
    expect(practice.practiceName).toBe("Riverside Counselling");
  });

  it("give way to details the vault already has (set on another computer), and are removed", async () => {
    oldKeys("Old Name", "HCPC", "PYL0001");
    m.practice.mockResolvedValue(WILLOW);
    await practice.load();
    expect(m.setPractice).not.toHaveBeenCalled();
    expect(practice.practiceName).toBe("Willow Counselling");
    expect(keysLeft()).toEqual([]);
  });

  it("stay here for the next unlock if the vault could not take them", async () => {
    oldKeys("Riverside Counselling", null, null);
    m.practice.mockResolvedValue(EMPTY_PROFILE);
    m.setPractice.mockRejectedValueOnce({ kind: "locked", message: "Casebook is locked" });
    const p = await practice.load();
    expect(p).toEqual(EMPTY_PROFILE);
    expect(keysLeft()).toEqual([LEGACY_KEYS.practiceName]);
    practice.clear();
    await practice.load();
    expect(m.setPractice).toHaveBeenCalledTimes(2);
    expect(keysLeft()).toEqual([]);
    expect(practice.practiceName).toBe("Riverside Counselling");
  });

  it("are moved only once when two loads start together", async () => {
    oldKeys("Riverside Counselling", "NCPS", "77");
    m.practice.mockResolvedValue(EMPTY_PROFILE);
    await Promise.all([practice.load(), practice.load(true)]);
    expect(m.practice).toHaveBeenCalledTimes(1);
    expect(m.setPractice).toHaveBeenCalledTimes(1);
  });
});

describe("the shared profile", () => {
  it("is loaded after the unlock with the other shared things, and forgotten on lock", async () => {
    m.settings.mockResolvedValue({ ...DEFAULT_SETTINGS });
    m.practice.mockResolvedValue(WILLOW);
    app.screen = "main";
    await app.loadShared();
    await vi.waitFor(() => expect(practice.practiceName).toBe("Willow Counselling"));
    expect(practice.therapistName).toBe("Sam Jones");
    expect(practice.registration).toBe("BACP MBACP 123456");
    app.lockedOut();
    expect(practice.profile).toBeNull();
    expect(practice.registration).toBe("");
  });

  it("keeps no answer that comes back after a lock", async () => {
    let answer: (p: PracticeProfile) => void = () => {};
    m.practice.mockReturnValue(new Promise((r) => (answer = r)));
    const loading = practice.load();
    practice.clear();
    answer(WILLOW);
    await loading;
    expect(practice.profile).toBeNull();
  });
});
