import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      status: vi.fn(),
      settings: vi.fn(),
      serverCheck: vi.fn(),
      serverConnect: vi.fn(),
      offsiteOverview: vi.fn(),
      offsiteHealth: vi.fn(),
      offsiteBackupNow: vi.fn(),
      offsiteVerify: vi.fn(),
      offsiteRestore: vi.fn(),
      offsiteScheduleSet: vi.fn(),
      serverTotpStart: vi.fn(),
      serverTotpConfirm: vi.fn(),
      serverDisconnect: vi.fn(),
      serverDeleteAccount: vi.fn(),
      restoreFileFirstRun: vi.fn(),
      serverRestoreSignIn: vi.fn(),
      serverRestoreFirstRun: vi.fn(),
      serverRestoreCancel: vi.fn(),
    },
  };
});

import { listen } from "@tauri-apps/api/event";
import { api, type OffsiteOverview, type OffsiteProgress, type RemoteBackup, type ServerInfo } from "./api";
import { app } from "./app.svelte";
import OffsiteSettings from "../components/OffsiteSettings.svelte";
import TotpSetup from "../components/TotpSetup.svelte";
import FirstRunRestoreServer from "../components/FirstRunRestoreServer.svelte";
import FirstRunRestoreFile from "../components/FirstRunRestoreFile.svelte";
import BackupStrip from "../components/BackupStrip.svelte";
import { stripDays } from "./backups";

const m = vi.mocked(api);
const listenMock = vi.mocked(listen);
const KEY = "7KQ2-M9XD-0A1B-C3D4-E5F6-G7H8-J9K0-1M2N-R4TN";
const URL_ = "https://sync.example.co.uk";
const INFO: ServerInfo = { url: URL_, locations: ["London, United Kingdom"], sign_up: "open", totp_required: false };

function backup(over: Partial<RemoteBackup> = {}): RemoteBackup {
  return {
    name: "cb-1",
    created_at: "2026-11-22T14:02:05Z",
    size: 92_700_000,
    clients: 3,
    notes: 12,
    usable: true,
    verified: null,
    problem: null,
    ...over,
  };
}

const notConnected: OffsiteOverview = {
  connected: false,
  url: null,
  username: null,
  device_name: null,
  device_id: null,
  locations: [],
  scheduled: false,
  usage: null,
  problem: null,
  health: null,
  backups: [],
  missing: [],
  unfinished: 0,
};

function connected(over: Partial<OffsiteOverview> = {}): OffsiteOverview {
  return {
    connected: true,
    url: URL_,
    username: "sam",
    device_name: "Consulting room laptop",
    device_id: "dev-1",
    locations: ["London, United Kingdom"],
    scheduled: false,
    usage: { used_bytes: 92_700_000, quota_bytes: 5_000_000_000, max_blob_bytes: 64_000_000 },
    problem: null,
    health: { state: "ok", message: "Last off-site backup 22/11/2026 14:02.", last_success: "2026-11-22T14:02:05Z", failed_at: null, error: null },
    backups: [backup()],
    missing: [],
    unfinished: 0,
    ...over,
  };
}

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});
beforeEach(() => {
  vi.clearAllMocks();
  app.view = { name: "settings" };
  app.notice = null;
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

function show<P extends Record<string, unknown>>(c: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(c as Component<Record<string, unknown>>, { target, props });
  flushSync();
}

async function openSettings(o: OffsiteOverview) {
  m.offsiteOverview.mockResolvedValue(o);
  show(OffsiteSettings, {});
  await vi.waitFor(() => expect(text("#offsite")).not.toContain("Asking the server…"));
}

describe("Settings → Off-site copy, not connected", () => {
  it("checks the server and shows where it keeps data before asking for the account", async () => {
    await openSettings(notConnected);
    expect($("#offsite-username")).toBeNull();
    m.serverCheck.mockResolvedValue(INFO);
    type("#offsite-url", "sync.example.co.uk");
    await click("#offsite-check");
    await vi.waitFor(() => expect($("#offsite-username")).not.toBeNull());
    expect(m.serverCheck).toHaveBeenCalledWith(URL_);
    expect(text("#offsite-locations")).toBe("This server keeps data in: London, United Kingdom");
    expect($<HTMLInputElement>("#offsite-device-name")?.value).toBe("This computer");
  });

  it("refuses a plain http:// address to another computer without asking anyone", async () => {
    await openSettings(notConnected);
    type("#offsite-url", "http://sync.example.co.uk");
    await click("#offsite-check");
    expect(m.serverCheck).not.toHaveBeenCalled();
    expect(text("#offsite-url-error")).toMatch(/https:\/\//);
    expect($("#offsite-url-error")?.getAttribute("role")).toBe("alert");
  });

  it("shows the server's refusal (outside the UK and EU) by the address", async () => {
    await openSettings(notConnected);
    m.serverCheck.mockRejectedValue({ kind: "invalid_input", message: "This server keeps data in Virginia, United States." });
    type("#offsite-url", "https://sync.example.com");
    await click("#offsite-check");
    await vi.waitFor(() => expect(text("#offsite-url-error")).toBe("This server keeps data in Virginia, United States."));
    expect($("#offsite-username")).toBeNull();
  });

  it("opens an account with an invite code and connects", async () => {
    await openSettings(notConnected);
    m.serverCheck.mockResolvedValue({ ...INFO, sign_up: "invite" });
    type("#offsite-url", URL_);
    await click("#offsite-check");
    await vi.waitFor(() => expect($("#offsite-username")).not.toBeNull());
    expect($("#offsite-invite")).toBeNull();
    await click("#offsite-signup");
    expect($("#offsite-invite")).not.toBeNull();
    expect($("#offsite-totp")).toBeNull();
    type("#offsite-username", "sam");
    type("#offsite-password", "long enough passphrase");
    type("#offsite-password-confirm", "long enough passphrase");
    await click("#offsite-connect");
    expect(m.serverConnect).not.toHaveBeenCalled();
    expect(document.activeElement?.id).toBe("offsite-invite");
    type("#offsite-invite", " WELCOME-1 ");
    m.serverConnect.mockResolvedValue(connected({ backups: [] }));
    await click("#offsite-connect");
    await vi.waitFor(() => expect($("#offsite-backup-now")).not.toBeNull());
    expect(m.serverConnect).toHaveBeenCalledWith({
      url: URL_,
      username: "sam",
      password: "long enough passphrase",
      totp: null,
      signUp: true,
      invite: "WELCOME-1",
      deviceName: "This computer",
    });
    expect(text("#offsite-result")).toMatch(/^Connected/);
  });

  it("shows a refused sign-in in words, in an alert", async () => {
    await openSettings(notConnected);
    m.serverCheck.mockResolvedValue(INFO);
    type("#offsite-url", URL_);
    await click("#offsite-check");
    await vi.waitFor(() => expect($("#offsite-username")).not.toBeNull());
    type("#offsite-username", "sam");
    type("#offsite-password", "wrong");
    type("#offsite-totp", "123 456");
    m.serverConnect.mockRejectedValue({ kind: "auth", message: "Too many tries: wait 60 seconds, then try again." });
    await click("#offsite-connect");
    await vi.waitFor(() => expect(text("#offsite-connect-error")).toBe("Too many tries: wait 60 seconds, then try again."));
    expect($("#offsite-connect-error")?.getAttribute("role")).toBe("alert");
    expect(m.serverConnect.mock.calls[0][0].totp).toBe("123456");
    expect($<HTMLInputElement>("#offsite-totp")?.value).toBe("");
  });
});

describe("Settings → Off-site copy, when the core cannot answer", () => {
  it("says why in an alert and offers to try again", async () => {
    m.offsiteOverview.mockRejectedValueOnce({ kind: "internal", message: "The off-site settings could not be read." });
    show(OffsiteSettings, {});
    await vi.waitFor(() => expect(text("#offsite-load-error")).toBe("The off-site settings could not be read."));
    expect($("#offsite-load-error")?.getAttribute("role")).toBe("alert");
    m.offsiteOverview.mockResolvedValue(notConnected);
    await click("#offsite-retry");
    await vi.waitFor(() => expect($("#offsite-url")).not.toBeNull());
    expect($("#offsite-load-error")).toBeNull();
  });
});

describe("Settings → Off-site copy, connected", () => {
  it("shows where the data lives, the account, the storage and the backups in UK form", async () => {
    await openSettings(connected());
    expect(text("#offsite-where")).toBe("London, United Kingdom");
    expect(text("#offsite-account-name")).toBe("sam");
    expect(text("#offsite-device")).toBe("Consulting room laptop");
    expect(text("#offsite-last")).toBe("Last off-site backup 22/11/2026 14:02.");
    const bar = $<HTMLProgressElement>("#offsite-usage")!;
    expect(bar.tagName).toBe("PROGRESS");
    expect(bar.getAttribute("aria-label")).toBe("Storage used on the server");
    expect(bar.value).toBe(2);
    expect(text("#offsite-usage-text")).toBe("92.7 MB of 5 GB used");
    const row = $("#offsite-list .offsite-backup")!;
    expect(row.textContent).toContain("22/11/2026 14:02");
    expect(row.textContent).toContain("92.7 MB");
    expect(row.textContent).toContain("3 clients, 12 session notes");
    expect(text("#offsite-list .offsite-status")).toBe("Not yet verified");
    expect($("#offsite-problem")).toBeNull();
    expect($("#offsite-missing")).toBeNull();
  });

  it("verifies a backup and shows the result", async () => {
    await openSettings(connected());
    let resolve!: (v: { ok: boolean; problem: null }) => void;
    m.offsiteVerify.mockReturnValue(new Promise((r) => (resolve = r)));
    await click("#offsite-list .offsite-backup .verify");
    expect(m.offsiteVerify).toHaveBeenCalledWith("cb-1");
    expect(text("#offsite-list .offsite-status")).toMatch(/checking/i);
    resolve({ ok: true, problem: null });
    await vi.waitFor(() => expect($("#offsite-list .offsite-status")?.getAttribute("data-ok")).toBe("true"));
    expect(text("#offsite-list .offsite-status")).toMatch(/^Verified OK/);
  });

  it("backs up now, busy meanwhile, and lists the new backup", async () => {
    await openSettings(connected({ backups: [] }));
    expect(text("#offsite-empty")).toMatch(/None yet/);
    let resolve!: (b: RemoteBackup) => void;
    m.offsiteBackupNow.mockReturnValue(new Promise((r) => (resolve = r)));
    await click("#offsite-backup-now");
    expect($<HTMLButtonElement>("#offsite-backup-now")?.disabled).toBe(true);
    expect(text("#offsite-backup-now")).toBe("Sending…");
    expect(text("#offsite-result")).toMatch(/sending it to the server/);
    m.offsiteOverview.mockResolvedValue(connected({ backups: [backup({ name: "cb-2" })] }));
    resolve(backup({ name: "cb-2" }));
    await vi.waitFor(() => expect(text("#offsite-result")).toMatch(/^Off-site backup sent/));
    expect(text("#offsite-result")).toBe("Off-site backup sent (made 22/11/2026 14:02, 3 clients, 12 notes, 92.7 MB on the server).");
    expect(document.querySelectorAll(".offsite-backup")).toHaveLength(1);
  });

  it("says so when the backup went but the server's erasure list had to be replaced", async () => {
    await openSettings(connected({ backups: [] }));
    const warning = "The server's erasure list was not written by your computers. It was replaced by this computer's.";
    m.offsiteBackupNow.mockResolvedValue(backup({ name: "cb-2", problem: warning }));
    await click("#offsite-backup-now");
    await vi.waitFor(() => expect(text("#offsite-result")).toMatch(/^Off-site backup sent/));
    expect(text("#offsite-result")).toContain(warning);
    expect($("#offsite-result")?.classList.contains("error-text")).toBe(true);
  });

  it("warns about a problem, missing backups and unfinished uploads", async () => {
    await openSettings(
      connected({ problem: "The server could not be reached.", missing: ["cb-0"], unfinished: 2, usage: null, backups: [] }),
    );
    expect(text("#offsite-problem")).toBe("The server could not be reached.");
    expect($("#offsite-problem")?.getAttribute("role")).toBe("alert");
    expect(text("#offsite-missing")).toMatch(/no longer lists a backup this computer sent \(cb-0\)/);
    expect(text("#offsite-unfinished")).toMatch(/^2 uploads did not finish/);
    expect(text("#offsite-empty")).toBe("The list could not be fetched.");
  });

  it("turns the scheduled copy on, and back if the core refuses", async () => {
    await openSettings(connected());
    const box = $<HTMLInputElement>("#offsite-schedule")!;
    expect(box.getAttribute("role")).toBe("switch");
    expect(box.checked).toBe(false);
    m.offsiteScheduleSet.mockResolvedValue(connected({ scheduled: true }));
    await click("#offsite-schedule");
    await vi.waitFor(() => expect(m.offsiteScheduleSet).toHaveBeenCalledWith(true));
    await vi.waitFor(() => expect(text("#offsite-result")).toMatch(/go to the server too/));
    expect($<HTMLInputElement>("#offsite-schedule")!.checked).toBe(true);
    m.offsiteScheduleSet.mockRejectedValue({ kind: "network", message: "The server could not be reached." });
    await click("#offsite-schedule");
    await vi.waitFor(() => expect(text("#offsite-result")).toBe("The server could not be reached."));
    expect($<HTMLInputElement>("#offsite-schedule")!.checked).toBe(true);
  });

  it("signs out after asking first", async () => {
    await openSettings(connected());
    m.serverDisconnect.mockResolvedValue({ signed_out_on_server: true });
    await click("#offsite-disconnect");
    expect($("#offsite-disconnect-ok")).not.toBeNull();
    expect(m.serverDisconnect).not.toHaveBeenCalled();
    m.offsiteOverview.mockResolvedValue(notConnected);
    $<HTMLButtonElement>("#offsite-disconnect-ok")!.form!.requestSubmit();
    await vi.waitFor(() => expect(m.serverDisconnect).toHaveBeenCalled());
    await vi.waitFor(() => expect($("#offsite-url")).not.toBeNull());
    expect(text("#offsite-result")).toMatch(/signed out of the server/);
  });

  it("deletes the account with the password, saying what goes and what stays", async () => {
    await openSettings(connected());
    await click("#offsite-delete-open");
    const dialog = $("dialog")!;
    expect(dialog.textContent).toMatch(/every off-site backup/);
    expect(dialog.textContent).toMatch(/every device's sign-in/);
    expect(dialog.textContent).toMatch(/local backups are not touched/);
    $<HTMLButtonElement>("#offsite-delete-ok")!.form!.requestSubmit();
    await tick();
    expect(m.serverDeleteAccount).not.toHaveBeenCalled();
    type("#offsite-delete-password", "long enough passphrase");
    m.serverDeleteAccount.mockResolvedValue({ blobs_removed: 8, bytes_removed: 92_700_000 });
    m.offsiteOverview.mockResolvedValue(notConnected);
    $<HTMLButtonElement>("#offsite-delete-ok")!.form!.requestSubmit();
    await vi.waitFor(() => expect(m.serverDeleteAccount).toHaveBeenCalledWith("long enough passphrase", null));
    await vi.waitFor(() => expect(text("#offsite-result")).toMatch(/^Your server account is deleted/));
    expect(text("#offsite-result")).toMatch(/8 stored pieces, 92.7 MB/);
  });
});

describe("turning on two-step sign-in", () => {
  it("draws the QR code, shows the key, and asks for two recovery codes back", async () => {
    const ondone = vi.fn();
    show(TotpSetup, { ondone, oncancel: vi.fn() });
    m.serverTotpStart.mockResolvedValue({
      otpauth_uri: "otpauth://totp/Casebook:sam?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Casebook",
      secret_base32: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    });
    type("#totp-password", "long enough passphrase");
    await click("#totp-start");
    await vi.waitFor(() => expect($("#totp-qr")).not.toBeNull());
    expect(m.serverTotpStart).toHaveBeenCalledWith("long enough passphrase");
    const qr = $("#totp-qr")!;
    expect(qr.getAttribute("role")).toBe("img");
    expect(qr.getAttribute("aria-label")).toMatch(/QR code/);
    expect(qr.querySelector("path")?.getAttribute("d")?.length).toBeGreaterThan(100);
    expect(text("#totp-secret")).toBe("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP");

    const codes = Array.from({ length: 10 }, (_, i) => `AB${i}C-DEF${i}`);
    m.serverTotpConfirm.mockResolvedValue({ codes });
    type("#totp-code", "12345");
    await click("#totp-confirm");
    expect(m.serverTotpConfirm).not.toHaveBeenCalled();
    type("#totp-code", "123 456");
    await click("#totp-confirm");
    await vi.waitFor(() => expect($("#totp-codes")).not.toBeNull());
    expect(m.serverTotpConfirm).toHaveBeenCalledWith("123456");
    expect(document.querySelectorAll("#totp-codes li")).toHaveLength(10);
    expect($<HTMLButtonElement>("#totp-codes-continue")?.disabled).toBe(true);
    await click("#totp-codes-stored");
    await click("#totp-codes-continue");
    const a = Number($("#totp-code-a")!.dataset.index);
    const b = Number($("#totp-code-b")!.dataset.index);
    type("#totp-code-a", codes[a - 1].toLowerCase());
    type("#totp-code-b", "wrong");
    $<HTMLButtonElement>("#totp-finish")!.form!.requestSubmit();
    await tick();
    expect(ondone).not.toHaveBeenCalled();
    expect(text("#totp-setup [role=alert]")).toBe(`Code ${b} does not match. Check what you wrote down.`);
    type("#totp-code-b", codes[b - 1].replace("-", " "));
    $<HTMLButtonElement>("#totp-finish")!.form!.requestSubmit();
    await tick();
    expect(ondone).toHaveBeenCalled();
  });
});

describe("first run: restore from the server", () => {
  const refreshed = () => m.status.mockResolvedValue({ vault_exists: true, unlocked: true, key_store: "passphrase", vault_dir: "/v" });

  async function signIn() {
    m.serverCheck.mockResolvedValue(INFO);
    type("#restore-server-url", URL_);
    await click("#restore-server-check");
    await vi.waitFor(() => expect($("#restore-server-username")).not.toBeNull());
    expect(text("#restore-server-locations")).toBe("This server keeps data in: London, United Kingdom");
    type("#restore-server-username", "sam");
    type("#restore-server-password", "long enough passphrase");
    type("#restore-server-recovery-key", KEY.toLowerCase());
  }

  it("signs in with the recovery key, preselects the default backup and restores it", async () => {
    const onback = vi.fn();
    show(FirstRunRestoreServer, { onback });
    await signIn();
    m.serverRestoreSignIn.mockResolvedValue({
      locations: ["London, United Kingdom"],
      backups: [
        backup({ name: "cb-new" }),
        backup({ name: "cb-ok", created_at: "2026-11-21T14:02:05Z", verified: { at: "2026-11-21T15:00:00Z", ok: true, problem: null } }),
        backup({ name: "cb-bad", usable: false, created_at: null }),
      ],
      default: "cb-ok",
    });
    await click("#restore-server-sign-in");
    await vi.waitFor(() => expect($("#restore-server-list")).not.toBeNull());
    expect(m.serverRestoreSignIn).toHaveBeenCalledWith({
      url: URL_,
      username: "sam",
      password: "long enough passphrase",
      totp: null,
      recoveryKey: KEY,
    });
    const radios = [...document.querySelectorAll<HTMLInputElement>("#restore-server-list input[type=radio]")];
    expect(radios.map((r) => [r.value, r.checked, r.disabled])).toEqual([
      ["cb-new", false, false],
      ["cb-ok", true, false],
      ["cb-bad", false, true],
    ]);
    const rows = [...document.querySelectorAll(".restore-server-backup")].map((r) => r.textContent!.replace(/\s+/g, " "));
    expect(rows[1]).toContain("21/11/2026 14:02");
    expect(rows[1]).toContain("Verified OK");
    expect(rows[2]).toContain("Cannot be used");

    await click("#restore-server-keystore-passphrase");
    type("#restore-server-passphrase", "correct horse battery staple");
    type("#restore-server-passphrase-confirm", "correct horse battery staple");
    refreshed();
    m.serverRestoreFirstRun.mockResolvedValue({ created_at: "2026-11-21T14:02:05Z", clients: 3, notes: 12 });
    await click("#restore-server-go");
    await vi.waitFor(() => expect(m.serverRestoreFirstRun).toHaveBeenCalledWith("cb-ok", "correct horse battery staple"));
    await vi.waitFor(() => expect(app.screen).toBe("main"));
    expect(app.notice).toBe("Your records are restored from the backup made 21/11/2026 14:02: 3 clients, 12 session notes.");
    expect(m.serverRestoreCancel).not.toHaveBeenCalled();
  });

  it("shows a wrong recovery key by its field", async () => {
    show(FirstRunRestoreServer, { onback: vi.fn() });
    await signIn();
    m.serverRestoreSignIn.mockRejectedValue({ kind: "recovery", message: "This recovery key does not open these records." });
    await click("#restore-server-sign-in");
    await vi.waitFor(() => expect(text("#restore-server-recovery-key-error")).toBe("This recovery key does not open these records."));
    expect($("#restore-server-recovery-key")?.getAttribute("aria-invalid")).toBe("true");
  });

  it("undoes the sign-in when going back from the list", async () => {
    show(FirstRunRestoreServer, { onback: vi.fn() });
    await signIn();
    m.serverRestoreSignIn.mockResolvedValue({ locations: ["London, United Kingdom"], backups: [backup()], default: "cb-1" });
    await click("#restore-server-sign-in");
    await vi.waitFor(() => expect($("#restore-server-list")).not.toBeNull());
    m.serverRestoreCancel.mockResolvedValue(null);
    await click("#restore-server-cancel");
    await vi.waitFor(() => expect($("#restore-server-username")).not.toBeNull());
    expect(m.serverRestoreCancel).toHaveBeenCalledTimes(1);
    expect($<HTMLInputElement>("#restore-server-password")?.value).toBe("");
    expect($<HTMLInputElement>("#restore-server-recovery-key")?.value).toBe("");
  });

  it("asks for a passphrase when the backup kept its keys behind one", async () => {
    show(FirstRunRestoreServer, { onback: vi.fn() });
    await signIn();
    m.serverRestoreSignIn.mockResolvedValue({ locations: ["London, United Kingdom"], backups: [backup()], default: "cb-1" });
    await click("#restore-server-sign-in");
    await vi.waitFor(() => expect($("#restore-server-go")).not.toBeNull());
    m.serverRestoreFirstRun.mockRejectedValue({
      kind: "invalid_input",
      message: "This backup kept its keys behind a passphrase: give the passphrase the restored vault should use.",
    });
    await click("#restore-server-go");
    await vi.waitFor(() => expect(text("#restore-server-passphrase-error")).toMatch(/behind a passphrase/));
    expect(m.serverRestoreFirstRun).toHaveBeenCalledWith("cb-1", null);
    expect($<HTMLInputElement>("#restore-server-keystore-passphrase")?.checked).toBe(true);
    expect($("#restore-server-passphrase")).not.toBeNull();
  });
});

describe("first run: restore from a file", () => {
  it("checks the path and key, then restores and opens Casebook", async () => {
    show(FirstRunRestoreFile, { onback: vi.fn() });
    type("#restore-file-path", "casebook.tar");
    type("#restore-file-key", "ABCD");
    await click("#restore-file-go");
    expect(m.restoreFileFirstRun).not.toHaveBeenCalled();
    expect(text("#restore-file-path-error")).toMatch(/full path/);
    expect(text("#restore-file-key-error")).toMatch(/36 letters and digits/);
    expect(document.activeElement?.id).toBe("restore-file-path");

    type("#restore-file-path", "/media/usb/casebook-2026-11-22T14-02-05.123Z.tar");
    type("#restore-file-key", KEY.replace(/-/g, " ").toLowerCase());
    m.restoreFileFirstRun.mockResolvedValue({ created_at: "2026-11-22T14:02:05Z", clients: 3, notes: 12 });
    m.status.mockResolvedValue({ vault_exists: true, unlocked: true, key_store: "os-keychain", vault_dir: "/v" });
    await click("#restore-file-go");
    await vi.waitFor(() =>
      expect(m.restoreFileFirstRun).toHaveBeenCalledWith("/media/usb/casebook-2026-11-22T14-02-05.123Z.tar", KEY, null),
    );
    await vi.waitFor(() => expect(app.screen).toBe("main"));
  });
});

describe("a long task's progress", () => {
  /** Listens like the core's events: `report` fires `offsite-progress`; `unlisten` counts the goodbyes. */
  function progressEvents() {
    const unlisten = vi.fn();
    listenMock.mockImplementation(async (name, handler) => {
      if (name === "offsite-progress") {
        live = handler as unknown as (e: { payload: OffsiteProgress }) => void;
        return () => {
          live = null;
          unlisten();
        };
      }
      return () => {};
    });
    let live: ((e: { payload: OffsiteProgress }) => void) | null = null;
    const report = (p: OffsiteProgress) => {
      live?.({ payload: p });
      flushSync();
    };
    return { unlisten, report, listening: () => live !== null };
  }

  afterEach(() => {
    listenMock.mockReset();
    app.status = null;
  });

  it("shows the backup's stages while it is sent, and stops listening when it is done", async () => {
    const ev = progressEvents();
    await openSettings(connected());
    expect($("#offsite-progress")).toBeNull();
    let resolve!: (b: RemoteBackup) => void;
    m.offsiteBackupNow.mockReturnValue(new Promise((r) => (resolve = r)));
    await click("#offsite-backup-now");
    await vi.waitFor(() => expect(ev.listening()).toBe(true));

    let bar = $<HTMLProgressElement>("#offsite-progress")!;
    expect(bar.tagName).toBe("PROGRESS");
    expect(bar.hasAttribute("value")).toBe(false); // no measure before the first report
    expect(text("#offsite-progress-status")).toBe("Making the backup…");
    expect($("#offsite-progress-status")?.getAttribute("aria-live")).toBe("polite");

    ev.report({ stage: "copy", done: 10, total: 40 });
    bar = $<HTMLProgressElement>("#offsite-progress")!;
    expect(bar.value).toBe(25);
    expect(bar.getAttribute("aria-label")).toBe("Copying your records");
    expect(text(".task-progress")).toContain("Copying your records… 25%");

    ev.report({ stage: "upload", done: 41_715_000, total: 92_700_000 });
    bar = $<HTMLProgressElement>("#offsite-progress")!;
    expect(bar.value).toBe(45);
    expect(bar.getAttribute("aria-valuetext")).toBe("Sending to the server… 45%");
    expect(text(".task-progress")).toContain("41.7 MB of 92.7 MB");
    expect(text("#offsite-progress-status")).toBe("Sending to the server… 40%");
    expect(text("#offsite-result")).toMatch(/sending it to the server/); // the status line stays as it was

    m.offsiteOverview.mockResolvedValue(connected({ backups: [backup({ name: "cb-2" })] }));
    resolve(backup({ name: "cb-2" }));
    await vi.waitFor(() => expect(text("#offsite-result")).toMatch(/^Off-site backup sent/));
    expect($("#offsite-progress")).toBeNull();
    expect(text("#offsite-progress-status")).toBe("");
    expect(ev.unlisten).toHaveBeenCalledTimes(1);
  });

  it("shows a verify's progress in the backup's row, without a measure while checking", async () => {
    const ev = progressEvents();
    await openSettings(connected());
    let resolve!: (v: { ok: boolean; problem: null }) => void;
    m.offsiteVerify.mockReturnValue(new Promise((r) => (resolve = r)));
    await click("#offsite-list .offsite-backup .verify");
    await vi.waitFor(() => expect(ev.listening()).toBe(true));
    ev.report({ stage: "download", done: 1, total: 4 });
    expect($<HTMLProgressElement>("#offsite-list #offsite-verify-progress")?.value).toBe(25);
    ev.report({ stage: "check", done: 0, total: 0 });
    const bar = $<HTMLProgressElement>("#offsite-verify-progress")!;
    expect(bar.hasAttribute("value")).toBe(false);
    expect(text("#offsite-verify-progress-status")).toBe("Checking every record and the audit trail…");
    resolve({ ok: true, problem: null });
    await vi.waitFor(() => expect($("#offsite-list .offsite-status")?.getAttribute("data-ok")).toBe("true"));
    expect($("#offsite-verify-progress")).toBeNull();
    expect(ev.unlisten).toHaveBeenCalledTimes(1);
  });

  it("shows the off-site restore's progress in the wizard, not behind it", async () => {
    const ev = progressEvents();
    app.status = { vault_exists: true, unlocked: true, key_store: "os-keychain", vault_dir: "/home/sam/casebook" };
    await openSettings(connected());
    await click("#offsite-list .offsite-backup .restore");
    await vi.waitFor(() => expect($("#restore-dialog")).not.toBeNull());

    let verified!: (v: { ok: boolean; problem: null }) => void;
    m.offsiteVerify.mockReturnValue(new Promise((r) => (verified = r)));
    await click("#restore-verify");
    await vi.waitFor(() => expect(ev.listening()).toBe(true));
    ev.report({ stage: "download", done: 1, total: 2 });
    expect($<HTMLProgressElement>("#restore-dialog #offsite-restore-progress")?.value).toBe(50);
    expect($("#offsite-verify-progress")).toBeNull();
    verified({ ok: true, problem: null });
    await vi.waitFor(() => expect($("#offsite-restore-progress")).toBeNull());

    await click("#restore-next");
    type("#restore-key", KEY);
    type("#restore-into", "/home/sam/restored");
    await click("#restore-next");
    let restored!: (into: string) => void;
    m.offsiteRestore.mockReturnValue(new Promise((r) => (restored = r)));
    await click("#restore-confirm");
    await vi.waitFor(() => expect($("#offsite-restore-progress")).not.toBeNull());
    await vi.waitFor(() => expect(ev.listening()).toBe(true));
    ev.report({ stage: "decrypt", done: 9, total: 10 });
    expect(text("#offsite-restore-progress-status")).toBe("Decrypting… 90%");
    restored("/home/sam/restored");
    await vi.waitFor(() => expect(text("#restore-done-path")).toBe("Home folder › restored"));
    expect($("#restore-done-path")?.dataset.path).toBe("/home/sam/restored");
    expect($("#offsite-restore-progress")).toBeNull();
    expect(ev.unlisten).toHaveBeenCalledTimes(2);
  });

  it("stops listening when the screen goes away mid-task", async () => {
    const ev = progressEvents();
    show(FirstRunRestoreFile, { onback: vi.fn() });
    type("#restore-file-path", "/media/usb/casebook-2026-11-22T14-02-05.123Z.tar");
    type("#restore-file-key", KEY);
    m.restoreFileFirstRun.mockReturnValue(new Promise(() => {}));
    await click("#restore-file-go");
    await vi.waitFor(() => expect(ev.listening()).toBe(true));
    ev.report({ stage: "decrypt", done: 3, total: 4 });
    expect($<HTMLProgressElement>("#restore-file-progress")?.value).toBe(75);
    expect(text("#restore-file-progress-status")).toBe("Decrypting… 70%");
    unmount(component!);
    component = null;
    expect(ev.unlisten).toHaveBeenCalledTimes(1);
  });

  it("shows a first-run restore from the server fetching, decrypting and checking", async () => {
    const ev = progressEvents();
    show(FirstRunRestoreServer, { onback: vi.fn() });
    m.serverCheck.mockResolvedValue(INFO);
    type("#restore-server-url", URL_);
    await click("#restore-server-check");
    await vi.waitFor(() => expect($("#restore-server-username")).not.toBeNull());
    type("#restore-server-username", "sam");
    type("#restore-server-password", "long enough passphrase");
    type("#restore-server-recovery-key", KEY);
    m.serverRestoreSignIn.mockResolvedValue({ locations: ["London, United Kingdom"], backups: [backup()], default: "cb-1" });
    await click("#restore-server-sign-in");
    await vi.waitFor(() => expect($("#restore-server-go")).not.toBeNull());
    expect(ev.listening()).toBe(false); // signing in is not a long task
    let fail!: (e: unknown) => void;
    m.serverRestoreFirstRun.mockReturnValue(new Promise((_, r) => (fail = r)));
    await click("#restore-server-go");
    await vi.waitFor(() => expect(ev.listening()).toBe(true));
    ev.report({ stage: "download", done: 50, total: 100 });
    expect(text("#restore-server-progress-status")).toBe("Fetching from the server… 50%");
    fail({ kind: "network", message: "The server could not be reached." });
    await vi.waitFor(() => expect(text("#restore-server-restore-error")).toBe("The server could not be reached."));
    expect($("#restore-server-progress")).toBeNull();
    expect(ev.unlisten).toHaveBeenCalledTimes(1);
  });
});

describe("the backup strip's destinations", () => {
  const local = { state: "ok" as const, message: "Last backup 22/11/2026 14:02.", last_success: null, failed_at: null, error: null };

  it("shows nothing more when no off-site copy is connected", () => {
    show(BackupStrip, { strip: stripDays([], new Date(2026, 10, 22)), local, offsite: { connected: false, health: null } });
    expect($("#backup-destinations")).toBeNull();
    expect($("#backup-strip")).not.toBeNull();
  });

  it("shows both, the off-site one as a warning when it needs attention", () => {
    show(BackupStrip, {
      strip: stripDays([], new Date(2026, 10, 22)),
      local,
      offsite: {
        connected: true,
        health: { state: "failed", message: "The last off-site backup failed: the server could not be reached.", last_success: null, failed_at: null, error: null },
      },
    });
    expect(text("#backup-dest-local")).toBe("On this computer: Last backup 22/11/2026 14:02.");
    expect(text("#backup-dest-offsite")).toBe(
      "Off-site (your Casebook server): The last off-site backup failed: the server could not be reached.",
    );
    expect($("#backup-dest-offsite")?.className).toMatch(/alert/);
    expect($("#backup-dest-offsite")?.className).toMatch(/error/);
    expect($("#backup-dest-offsite")?.dataset.state).toBe("failed");
  });

  it("is calm when the off-site copy is up to date, amber when never made", () => {
    show(BackupStrip, {
      strip: stripDays([], new Date(2026, 10, 22)),
      local,
      offsite: { connected: true, health: { ...local, message: "Last off-site backup 22/11/2026 14:02." } },
    });
    expect($("#backup-dest-offsite")?.className).not.toMatch(/alert/);
    if (component) unmount(component);
    document.body.innerHTML = "";
    show(BackupStrip, { strip: stripDays([], new Date(2026, 10, 22)), local, offsite: { connected: true, health: null } });
    expect($("#backup-dest-offsite")?.className).toMatch(/warn/);
    expect(text("#backup-dest-offsite")).toMatch(/No off-site backup has been made yet/);
  });
});
