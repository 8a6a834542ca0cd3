// The native folder and file pickers and "Show in folder", as the screens use them. The
// pickers are stubbed at `files.ts` (the one module that calls the dialog and opener
// plugins), as in the desktop app: `canPick()` is true.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));
vi.mock("./files", () => ({
  BACKUP_FILES: [{ name: "Casebook backups", extensions: ["tar"] }],
  canPick: () => true,
  setPickerStandIn: vi.fn(),
  chooseFolder: vi.fn(),
  chooseFile: vi.fn(),
  chooseSaveFile: vi.fn(),
  showInFolder: vi.fn(),
}));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      backups: vi.fn(),
      backupNow: vi.fn(),
      saveBackupSettings: vi.fn(),
      offsiteHealth: vi.fn(),
      restoreBackup: vi.fn(),
      restoreFileFirstRun: vi.fn(),
      accessRequests: vi.fn(),
      createAccessExport: vi.fn(),
      supervisionExport: vi.fn(),
      retentionOf: vi.fn(),
      audit: vi.fn(),
      exportAudit: vi.fn(),
    },
  };
});

import { listen } from "@tauri-apps/api/event";
import { api, type BackupFile, type BackupOverview } from "./api";
import { app } from "./app.svelte";
import { chooseFile, chooseFolder, chooseSaveFile, showInFolder } from "./files";
import { isoDay } from "./format";
import { accessRequest, rightsFile } from "./testing";
import Backups from "../screens/Backups.svelte";
import Audit from "../screens/Audit.svelte";
import RestoreWizard from "../components/RestoreWizard.svelte";
import FirstRunRestoreFile from "../components/FirstRunRestoreFile.svelte";
import SubjectAccess from "../components/SubjectAccess.svelte";
import RightsTab from "../components/RightsTab.svelte";

const m = vi.mocked(api);
const folderPicker = vi.mocked(chooseFolder);
const filePicker = vi.mocked(chooseFile);
const saveDialog = vi.mocked(chooseSaveFile);
const reveal = vi.mocked(showInFolder);
const KEY = "7KQ2-M9XD-0A1B-C3D4-E5F6-G7H8-J9K0-1M2N-R4TN";

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});
beforeEach(() => {
  vi.clearAllMocks();
  vi.mocked(listen).mockResolvedValue(() => {});
  app.status = { vault_exists: true, unlocked: true, key_store: "os-keychain", vault_dir: "/home/sam/casebook" };
  app.screen = "main";
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

function show<P extends Record<string, unknown>>(C: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(C as Component<Record<string, unknown>>, { target, props });
  flushSync();
}

const FILE: BackupFile = {
  name: "casebook-2026-11-22T14-02-05.123Z.tar",
  path: "/home/sam/casebook-backups/casebook-2026-11-22T14-02-05.123Z.tar",
  size: 92_700_000,
  created_at: "2026-11-22T14:02:05.123Z",
  clients: 3,
  notes: 12,
  verified: { at: "2026-11-22T15:00:00Z", ok: true, problem: null },
};

const KEEP = { all_hours: 48, daily_days: 30, weekly_weeks: 12, monthly_months: 12 };

function overview(over: Partial<BackupOverview> = {}): BackupOverview {
  return {
    destination: "/home/sam/casebook-backups",
    every_hours: 8,
    keep: KEEP,
    health: { state: "ok", message: "", last_success: FILE.created_at, failed_at: null, error: null },
    next_due: null,
    files: [FILE],
    ...over,
  };
}

async function showBackups(o = overview()) {
  m.backups.mockResolvedValue(o);
  m.offsiteHealth.mockResolvedValue({ connected: false, health: null });
  show(Backups, {});
  await vi.waitFor(() => expect($("#backup-destination-choose")).not.toBeNull());
  await vi.waitFor(() => expect($("#backup-files-where")).not.toBeNull());
}

describe("the backup folder", () => {
  it("is chosen in the folder picker and shown in words, not as a path", async () => {
    await showBackups();
    const choose = $<HTMLButtonElement>("#backup-destination-choose")!;
    expect(choose.tagName).toBe("BUTTON");
    expect(choose.getAttribute("aria-label")).toBe("Choose the backup folder");
    expect(text("#backup-destination-chosen")).toBe("The usual folder, beside your records");
    // No typed path unless asked for.
    expect($("#backup-destination")).toBeNull();
    expect($("#backup-destination-type")?.getAttribute("aria-expanded")).toBe("false");
    // Where backups go now, in words.
    expect(text("#backup-destination-hint")).toContain("Backups now go to Home folder › casebook-backups.");
    expect($("#backups code")).toBeNull();

    folderPicker.mockResolvedValue("/media/sam/BACKUPS/Casebook");
    await click("#backup-destination-choose");
    await vi.waitFor(() => expect(text("#backup-destination-chosen")).toBe("BACKUPS drive › Casebook"));
    // It opened at the folder backups go to now.
    expect(folderPicker).toHaveBeenCalledWith({
      title: "Choose the folder for Casebook’s backups",
      start: "/home/sam/casebook-backups",
    });
    expect($("#backup-destination-choose")?.getAttribute("aria-label")).toBe("Change the backup folder");
    expect(text("#backup-destination-choose")).toBe("Change…");

    m.saveBackupSettings.mockResolvedValue(overview({ destination: "/media/sam/BACKUPS/Casebook" }));
    await click("#backup-settings-save");
    await vi.waitFor(() => expect(m.saveBackupSettings).toHaveBeenCalledWith("/media/sam/BACKUPS/Casebook", 8, KEEP));
    await vi.waitFor(() => expect(text("#backup-files-where")).toContain("In BACKUPS drive › Casebook, newest first."));
  });

  it("a cancelled picker changes nothing", async () => {
    await showBackups(overview({ destination: "/media/sam/BACKUPS/Casebook" }));
    expect(text("#backup-destination-chosen")).toBe("BACKUPS drive › Casebook");
    folderPicker.mockResolvedValue(null);
    await click("#backup-destination-choose");
    await vi.waitFor(() => expect(folderPicker).toHaveBeenCalledTimes(1));
    await tick();
    expect(text("#backup-destination-chosen")).toBe("BACKUPS drive › Casebook");
    expect(text("#backup-destination-error")).toBe("");
    m.saveBackupSettings.mockResolvedValue(overview({ destination: "/media/sam/BACKUPS/Casebook" }));
    await click("#backup-settings-save");
    // Still the folder chosen before.
    await vi.waitFor(() => expect(m.saveBackupSettings).toHaveBeenCalledWith("/media/sam/BACKUPS/Casebook", 8, KEEP));
  });

  it("goes back to the usual folder", async () => {
    await showBackups(overview({ destination: "/media/sam/BACKUPS/Casebook" }));
    expect(text("#backup-destination-chosen")).toBe("BACKUPS drive › Casebook");
    await click("#backup-destination-clear");
    expect(text("#backup-destination-chosen")).toBe("The usual folder, beside your records");
    expect($("#backup-destination-clear")).toBeNull();
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("backup-destination-choose"));
    m.saveBackupSettings.mockResolvedValue(overview());
    await click("#backup-settings-save");
    await vi.waitFor(() => expect(m.saveBackupSettings).toHaveBeenCalledWith(null, 8, KEEP));
  });

  it("can still be typed, behind “Type a path instead” (as the end-to-end tests do)", async () => {
    await showBackups();
    await click("#backup-destination-type");
    expect($("#backup-destination-type")?.getAttribute("aria-expanded")).toBe("true");
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("backup-destination"));
    expect(document.querySelector('label[for="backup-destination"]')?.textContent).toBe("Full path of the backup folder");

    type("#backup-destination", "usb/casebook");
    await click("#backup-settings-save");
    expect(text("#backup-destination-error")).toMatch(/full path/);
    expect(document.activeElement?.id).toBe("backup-destination");
    expect(m.saveBackupSettings).not.toHaveBeenCalled();

    type("#backup-destination", "/mnt/usb/casebook");
    // The typed path shows in words too.
    expect(text("#backup-destination-chosen")).toBe("usb drive › casebook");
    m.saveBackupSettings.mockResolvedValue(overview({ destination: "/mnt/usb/casebook" }));
    await click("#backup-settings-save");
    await vi.waitFor(() => expect(m.saveBackupSettings).toHaveBeenCalledWith("/mnt/usb/casebook", 8, KEEP));
  });

  it("a picker that cannot open hands over to the typed path, saying why", async () => {
    await showBackups();
    folderPicker.mockRejectedValue("dialog.open not allowed");
    await click("#backup-destination-choose");
    await vi.waitFor(() => expect($("#backup-destination")).not.toBeNull());
    expect(text("#backup-destination-error")).toBe(
      "The folder picker could not be opened (dialog.open not allowed). Type the full path instead.",
    );
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("backup-destination"));
  });
});

describe("Show in folder", () => {
  it("shows the backup just made, and the backup files", async () => {
    await showBackups();
    const made: BackupFile = { ...FILE, name: "casebook-2026-11-23T09-00-00.000Z.tar", path: "/home/sam/casebook-backups/casebook-2026-11-23T09-00-00.000Z.tar" };
    m.backupNow.mockResolvedValue(made);
    expect($("#backup-show")).toBeNull();
    await click("#backup-now");
    await vi.waitFor(() => expect($("#backup-show")).not.toBeNull());
    expect($("#backup-show")?.getAttribute("aria-label")).toBe("Show in folder: the new backup");
    await click("#backup-show");
    expect(reveal).toHaveBeenCalledWith(made.path);

    await click("#backup-files-show");
    expect(reveal).toHaveBeenLastCalledWith(FILE.path);
  });

  it("says so when the file manager cannot be asked", async () => {
    await showBackups();
    reveal.mockRejectedValue("opener.reveal_item_in_dir not allowed");
    await click("#backup-files-show");
    await vi.waitFor(() =>
      expect(text("#backup-files-show-problem")).toBe("The folder could not be shown: opener.reveal_item_in_dir not allowed"),
    );
  });
});

describe("restoring a backup into a folder", () => {
  it("chooses the folder in the picker, confirms it in words and shows the restored copy", async () => {
    m.restoreBackup.mockResolvedValue("/media/sam/BACKUPS/restored");
    show(RestoreWizard, {
      file: FILE,
      destination: "/home/sam/casebook-backups",
      vaultDir: "/home/sam/casebook",
      keyStore: "os-keychain" as const,
      verify: vi.fn(),
      onclose: vi.fn(),
    });
    await click("#restore-next");
    // The proposal: a new folder beside the backups.
    expect(text("#restore-into-chosen")).toBe(`Home folder › casebook-backups › restored-${isoDay()}`);
    type("#restore-key", KEY);

    folderPicker.mockResolvedValue(null);
    await click("#restore-into-choose");
    await vi.waitFor(() => expect(folderPicker).toHaveBeenCalledTimes(1));
    expect(text("#restore-into-chosen")).toBe(`Home folder › casebook-backups › restored-${isoDay()}`);

    folderPicker.mockResolvedValue("/home/sam/casebook");
    await click("#restore-into-choose");
    await vi.waitFor(() => expect(text("#restore-into-chosen")).toBe("Home folder › casebook"));
    expect(folderPicker).toHaveBeenLastCalledWith({
      title: "Choose a new or empty folder for the restored copy",
      start: "/home/sam/casebook-backups",
    });
    // The records in use are never restored over: the choose button takes the focus.
    await click("#restore-next");
    expect(text("#restore-into-error")).toMatch(/records you are using now/);
    expect(document.activeElement?.id).toBe("restore-into-choose");

    folderPicker.mockResolvedValue("/media/sam/BACKUPS/restored");
    await click("#restore-into-choose");
    await vi.waitFor(() => expect(text("#restore-into-chosen")).toBe("BACKUPS drive › restored"));
    await click("#restore-next");
    expect(text("#restore-confirm-path")).toBe("BACKUPS drive › restored");
    await click("#restore-confirm");
    await vi.waitFor(() => expect($("#restore-done-path")).not.toBeNull());
    expect(m.restoreBackup).toHaveBeenCalledWith(FILE.name, KEY, "/media/sam/BACKUPS/restored", null);
    expect(text("#restore-done-path")).toBe("BACKUPS drive › restored");
    await click("#restore-show");
    expect(reveal).toHaveBeenCalledWith("/media/sam/BACKUPS/restored");
  });
});

describe("restoring from a backup file at first run", () => {
  it("chooses the file in the picker, offering backup files, and names it by its date", async () => {
    m.restoreFileFirstRun.mockReturnValue(new Promise(() => {}));
    show(FirstRunRestoreFile, { onback: vi.fn() });
    expect(text("#restore-file-path-chosen")).toBe("No file chosen yet.");
    type("#restore-file-key", KEY);
    await click("#restore-file-go");
    expect(text("#restore-file-path-error")).toBe("Choose the backup file.");
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("restore-file-path-choose"));

    filePicker.mockResolvedValue(null);
    await click("#restore-file-path-choose");
    await vi.waitFor(() => expect(filePicker).toHaveBeenCalledTimes(1));
    expect(text("#restore-file-path-chosen")).toBe("No file chosen yet.");
    expect(filePicker).toHaveBeenCalledWith({
      title: "Choose the Casebook backup file to restore",
      filters: [{ name: "Casebook backups", extensions: ["tar"] }],
      start: null,
    });

    const path = "/media/sam/BACKUPS/casebook-2026-11-22T14-02-05.123Z.tar";
    filePicker.mockResolvedValue(path);
    await click("#restore-file-path-choose");
    await vi.waitFor(() => expect(text("#restore-file-path-chosen")).toContain("Backup made 22/11/2026 14:02"));
    expect(text("#restore-file-path-chosen")).toContain("BACKUPS drive › casebook-2026-11-22T14-02-05.123Z.tar");
    await click("#restore-file-go");
    await vi.waitFor(() => expect(m.restoreFileFirstRun).toHaveBeenCalledWith(path, KEY, null));
  });

  it("takes a typed path after “Type a path instead”", async () => {
    m.restoreFileFirstRun.mockReturnValue(new Promise(() => {}));
    show(FirstRunRestoreFile, { onback: vi.fn() });
    expect($("#restore-file-path")).toBeNull();
    await click("#restore-file-path-type");
    type("#restore-file-path", "/media/usb/casebook-2026-11-22T14-02-05.123Z.tar");
    type("#restore-file-key", KEY);
    await click("#restore-file-go");
    await vi.waitFor(() =>
      expect(m.restoreFileFirstRun).toHaveBeenCalledWith("/media/usb/casebook-2026-11-22T14-02-05.123Z.tar", KEY, null),
    );
    expect(filePicker).not.toHaveBeenCalled();
  });
});

describe("exports", () => {
  it("saves a subject-access export in Downloads, or the folder chosen, and shows it", async () => {
    m.accessRequests.mockResolvedValue([]);
    show(SubjectAccess, { code: "C-7KQ2", file: rightsFile() });
    await vi.waitFor(() => expect(m.accessRequests).toHaveBeenCalled());
    expect(text("#sar-folder-chosen")).toBe("Your Downloads folder");

    folderPicker.mockResolvedValue("/media/sam/BACKUPS/Exports");
    await click("#sar-folder-choose");
    await vi.waitFor(() => expect(text("#sar-folder-chosen")).toBe("BACKUPS drive › Exports"));

    const folder = "/media/sam/BACKUPS/Exports/subject-access-C-7KQ2-2026-11-23T10-00-00";
    m.createAccessExport.mockResolvedValue({
      folder,
      html: `${folder}/subject-access.html`,
      json: `${folder}/subject-access.json`,
      request: accessRequest(),
    });
    await click("#sar-create");
    await vi.waitFor(() => expect(text("#sar-result")).toContain("Export written."));
    expect(m.createAccessExport).toHaveBeenCalledWith("C-7KQ2", false, isoDay(), [], "/media/sam/BACKUPS/Exports");
    expect(text("#sar-written-folder")).toBe("BACKUPS drive › Exports › subject-access-C-7KQ2-2026-11-23T10-00-00");
    await click("#sar-show");
    expect(reveal).toHaveBeenCalledWith(`${folder}/subject-access.html`);

    // Back to Downloads: the core's own choice again.
    await click("#sar-folder-clear");
    await click("#sar-create");
    await vi.waitFor(() => expect(m.createAccessExport).toHaveBeenCalledTimes(2));
    expect(m.createAccessExport).toHaveBeenLastCalledWith("C-7KQ2", false, null, [], null);
  });

  it("asks where to save the export for supervision; cancelling writes nothing", async () => {
    m.retentionOf.mockResolvedValue(null);
    m.accessRequests.mockResolvedValue([]);
    show(RightsTab, { code: "C-7KQ2", file: rightsFile() });
    expect(text("#supervision-export")).toBe("Export for supervision…");

    saveDialog.mockResolvedValue(null);
    await click("#supervision-export");
    await vi.waitFor(() => expect(saveDialog).toHaveBeenCalledTimes(1));
    await tick();
    expect(m.supervisionExport).not.toHaveBeenCalled();
    expect(text("#supervision-result")).toBe("");
    // No date in the proposed name: it would give a date shift away.
    expect(saveDialog).toHaveBeenCalledWith({
      title: "Save the export for supervision",
      name: "supervision.json",
      filters: [{ name: "Supervision export (JSON)", extensions: ["json"] }],
    });

    saveDialog.mockResolvedValue("/home/sam/Documents/for-supervisor.json");
    m.supervisionExport.mockResolvedValue({ file: "/home/sam/Documents/for-supervisor.json", notes: 1 });
    await click("#supervision-export");
    await vi.waitFor(() => expect(m.supervisionExport).toHaveBeenCalledWith(["C-7KQ2"], null, "/home/sam/Documents/for-supervisor.json"));
    await vi.waitFor(() =>
      expect(text("#supervision-result")).toBe("Exported 1 finalised note. Saved as for-supervisor.json in Documents."),
    );
    await click("#supervision-show");
    expect(reveal).toHaveBeenCalledWith("/home/sam/Documents/for-supervisor.json");
  });

  it("asks where to save the audit log's CSV; cancelling writes nothing", async () => {
    m.audit.mockResolvedValue([]);
    show(Audit, {});
    expect(text("#audit-export")).toBe("Export CSV…");
    saveDialog.mockResolvedValue(null);
    await click("#audit-export");
    await vi.waitFor(() => expect(saveDialog).toHaveBeenCalledTimes(1));
    await tick();
    expect(m.exportAudit).not.toHaveBeenCalled();
    expect(saveDialog.mock.calls[0][0]).toMatchObject({ name: `casebook-audit-${isoDay()}.csv` });

    saveDialog.mockResolvedValue("/home/sam/Documents/audit.csv");
    m.exportAudit.mockResolvedValue("/home/sam/Documents/audit.csv");
    await click("#audit-export");
    await vi.waitFor(() => expect(text("#audit-export-result")).toBe("Saved the CSV as audit.csv in Documents."));
    expect(m.exportAudit).toHaveBeenCalledWith(expect.objectContaining({ since: null, until: null }), "/home/sam/Documents/audit.csv");
    await click("#audit-export-show");
    expect(reveal).toHaveBeenCalledWith("/home/sam/Documents/audit.csv");
  });
});
