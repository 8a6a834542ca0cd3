import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount } from "svelte";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { restoreBackup: vi.fn() } };
});

import { api, type BackupFile } from "./api";
import { isoDay } from "./format";
import { stripDays } from "./backups";
import RestoreWizard from "../components/RestoreWizard.svelte";
import BackupStrip from "../components/BackupStrip.svelte";

const restoreBackup = vi.mocked(api.restoreBackup);
const KEY = "7KQ2-M9XD-0A1B-C3D4-E5F6-G7H8-J9K0-1M2N-R4TN";

const FILE: BackupFile = {
  name: "casebook-2026-11-22T14-02-05.123Z.tar",
  path: "/d/casebook-2026-11-22T14-02-05.123Z.tar",
  size: 92_700_000,
  created_at: "2026-11-22T14:02:05.123Z",
  clients: 3,
  notes: 12,
  verified: { at: "2026-11-22T15:00:00Z", ok: true, problem: null },
};

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});
beforeEach(() => {
  restoreBackup.mockReset();
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);

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

function open(props: Partial<{ file: BackupFile; keyStore: "passphrase" | "os-keychain" }> = {}) {
  const onclose = vi.fn();
  const verify = vi.fn().mockResolvedValue({ ok: true, problem: null });
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(RestoreWizard, {
    target,
    props: {
      file: props.file ?? FILE,
      destination: "/d",
      vaultDir: "/home/sam/casebook",
      keyStore: props.keyStore ?? "os-keychain",
      verify,
      onclose,
    },
  });
  flushSync();
  return { onclose, verify };
}

describe("the restore wizard", () => {
  it("walks through the three steps and restores into a new folder", async () => {
    restoreBackup.mockResolvedValue(`/d/restored-${isoDay()}`);
    const { onclose } = open();
    expect($("#restore-step-h")?.textContent).toContain("Step 1 of 3");
    expect($("dialog")?.textContent).toContain("22/11/2026 14:02");
    expect($("dialog")?.textContent).toContain("3 clients, 12 session notes");
    expect($("#restore-verify")).toBeNull(); // already verified

    await click("#restore-next");
    expect($<HTMLInputElement>("#restore-into")?.value).toBe(`/d/restored-${isoDay()}`);
    expect($("#restore-passphrase")).toBeNull(); // a keychain vault needs none

    await click("#restore-next");
    expect($("#restore-key-error")?.textContent).toBe("Enter your recovery key.");
    expect($("#restore-key")?.getAttribute("aria-invalid")).toBe("true");

    type("#restore-key", KEY.toLowerCase().replace(/-/g, " "));
    await click("#restore-next");
    expect($("#restore-step-h")?.textContent).toContain("Step 3 of 3");

    await click("#restore-confirm");
    // The folder in words; the exact path only where it must be typed (the setting below).
    await vi.waitFor(() => expect($("#restore-done-path")?.textContent).toBe(`d › restored-${isoDay()}`));
    expect($("#restore-done-path")?.dataset.path).toBe(`/d/restored-${isoDay()}`);
    expect(restoreBackup).toHaveBeenCalledWith(FILE.name, KEY, `/d/restored-${isoDay()}`, null);
    expect($("dialog")?.textContent).toContain(`CASEBOOK_VAULT=/d/restored-${isoDay()}`);

    await click("#restore-close");
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it("asks a passphrase vault for the restored copy's passphrase", async () => {
    restoreBackup.mockResolvedValue("/r");
    open({ keyStore: "passphrase" });
    await click("#restore-next");
    type("#restore-key", KEY);
    type("#restore-into", "/r");
    type("#restore-passphrase", "short");
    await click("#restore-next");
    expect($("#restore-passphrase-error")?.textContent).toMatch(/at least 10/);
    type("#restore-passphrase", "correct horse battery staple");
    await click("#restore-next");
    await click("#restore-confirm");
    await vi.waitFor(() => expect(restoreBackup).toHaveBeenCalledWith(FILE.name, KEY, "/r", "correct horse battery staple"));
  });

  it("refuses the folder in use and a relative folder", async () => {
    open();
    await click("#restore-next");
    type("#restore-key", KEY);
    type("#restore-into", "/home/sam/casebook/");
    await click("#restore-next");
    expect($("#restore-into-error")?.textContent).toMatch(/records you are using now/);
    type("#restore-into", "restored");
    await click("#restore-next");
    expect($("#restore-into-error")?.textContent).toMatch(/full path/);
    expect(restoreBackup).not.toHaveBeenCalled();
  });

  it("goes back to the key when the core says it is wrong", async () => {
    restoreBackup.mockRejectedValue({ kind: "recovery", message: "the recovery key has a typo" });
    open();
    await click("#restore-next");
    type("#restore-key", KEY);
    await click("#restore-next");
    await click("#restore-confirm");
    await vi.waitFor(() => expect($("#restore-key-error")?.textContent).toBe("the recovery key has a typo"));
    expect($("#restore-step-h")?.textContent).toContain("Step 2 of 3");
    expect($("#restore-key")?.getAttribute("aria-invalid")).toBe("true");
  });

  it("sends a folder that is not empty back to step 2 with the reason", async () => {
    restoreBackup.mockRejectedValue({ kind: "vault", message: "a vault already exists at /d/x: nothing was changed" });
    open();
    await click("#restore-next");
    type("#restore-key", KEY);
    type("#restore-into", "/d/x");
    await click("#restore-next");
    await click("#restore-confirm");
    await vi.waitFor(() => expect($("#restore-into-error")?.textContent).toMatch(/already exists.*new folder, or an empty one/));
  });

  it("stays on the last step for any other failure, and can try again", async () => {
    restoreBackup.mockRejectedValueOnce({ kind: "integrity", message: "The backup is damaged." });
    restoreBackup.mockResolvedValueOnce("/d/x");
    open();
    await click("#restore-next");
    type("#restore-key", KEY);
    await click("#restore-next");
    await click("#restore-confirm");
    await vi.waitFor(() => expect($("dialog [role=alert]")?.textContent).toBe("The backup is damaged."));
    expect($("#restore-step-h")?.textContent).toContain("Step 3 of 3");
    await click("#restore-confirm");
    await vi.waitFor(() => expect($("#restore-done-path")?.dataset.path).toBe("/d/x"));
  });

  it("offers a check first for a backup never verified, and none for a damaged one", async () => {
    const { verify } = open({ file: { ...FILE, verified: null } });
    expect($("#restore-verify")).not.toBeNull();
    await click("#restore-verify");
    expect(verify).toHaveBeenCalledWith(FILE.name);
    unmount(component!);
    component = null;
    document.body.innerHTML = "";

    open({ file: { ...FILE, created_at: null, clients: null, notes: null, verified: null } });
    expect($("#restore-verify")).toBeNull();
    expect($<HTMLButtonElement>("#restore-next")?.disabled).toBe(true);
  });

  it("closes on Escape and forgets the key", async () => {
    const { onclose } = open();
    await click("#restore-next");
    type("#restore-key", KEY);
    $("dialog")!.dispatchEvent(new Event("cancel", { cancelable: true }));
    flushSync();
    expect(onclose).toHaveBeenCalledTimes(1);
    expect($<HTMLInputElement>("#restore-key")?.value ?? "").toBe("");
  });
});

describe("the 14-day strip", () => {
  it("draws one column per day with a text alternative", () => {
    const target = document.createElement("div");
    document.body.appendChild(target);
    const now = new Date(2026, 10, 22, 15, 0);
    const strip = stripDays([FILE, { ...FILE, name: "b", created_at: "2026-11-21T09:00:00Z", verified: null }], now);
    component = mount(BackupStrip, { target, props: { strip } });
    flushSync();
    const svg = target.querySelector("svg[role=img]")!;
    const title = target.querySelector(`#${svg.getAttribute("aria-labelledby")}`);
    expect(title?.textContent).toBe("2 backups in the last 14 days: 1 verified, 1 not yet verified.");
    expect(target.querySelectorAll("g.day")).toHaveLength(14);
    expect(target.querySelectorAll("rect.block.ok")).toHaveLength(2); // one in the strip, one in the legend
    expect(target.querySelector('g.day[data-day="2026-11-21"]')?.getAttribute("data-count")).toBe("1");
  });
});
