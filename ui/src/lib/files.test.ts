import { beforeEach, describe, expect, it, vi } from "vitest";

// The plugins and the shell are stubbed: these tests need neither the desktop app nor the
// plugins' packages.
const inApp = vi.hoisted(() => ({ on: true }));
vi.mock("@tauri-apps/api/core", () => ({ isTauri: () => inApp.on, invoke: vi.fn() }));
vi.mock("@tauri-apps/api/path", () => ({ downloadDir: vi.fn() }));
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: vi.fn(), save: vi.fn() }));
vi.mock("@tauri-apps/plugin-opener", () => ({ revealItemInDir: vi.fn() }));

import { downloadDir } from "@tauri-apps/api/path";
import { open, save } from "@tauri-apps/plugin-dialog";
import { revealItemInDir } from "@tauri-apps/plugin-opener";
import {
  BACKUP_FILES,
  canPick,
  chooseFile,
  chooseFolder,
  chooseSaveFile,
  setPickerStandIn,
  showInFolder,
} from "./files";
import { baseName, folderOf, placeWords } from "./places";

const openMock = vi.mocked(open);
const saveMock = vi.mocked(save);
const downloads = vi.mocked(downloadDir);

beforeEach(() => {
  vi.clearAllMocks();
  inApp.on = true;
  setPickerStandIn(false);
});

describe("the pickers", () => {
  it("there are none outside the desktop app: nothing is asked, nothing is chosen", async () => {
    inApp.on = false;
    expect(canPick()).toBe(false);
    expect(await chooseFolder({ title: "Choose" })).toBeNull();
    expect(await chooseFile({ title: "Choose", filters: BACKUP_FILES })).toBeNull();
    expect(await chooseSaveFile({ title: "Save", name: "a.csv", filters: [] })).toBeNull();
    expect(openMock).not.toHaveBeenCalled();
    expect(saveMock).not.toHaveBeenCalled();
  });

  it("the dev mock's stand-in counts as a picker", () => {
    inApp.on = false;
    setPickerStandIn(true);
    expect(canPick()).toBe(true);
  });

  it("asks the folder picker for one folder, opening where it is told, and returns it", async () => {
    openMock.mockResolvedValue("/media/sam/BACKUPS/Casebook");
    expect(await chooseFolder({ title: "Choose the folder for Casebook’s backups", start: " /media/sam " })).toBe(
      "/media/sam/BACKUPS/Casebook",
    );
    expect(openMock).toHaveBeenCalledWith({
      title: "Choose the folder for Casebook’s backups",
      directory: true,
      multiple: false,
      defaultPath: "/media/sam",
    });
  });

  it("a cancelled picker chooses nothing", async () => {
    openMock.mockResolvedValue(null);
    expect(await chooseFolder({ title: "Choose" })).toBeNull();
    expect(openMock.mock.calls[0][0]).toMatchObject({ defaultPath: undefined });
    saveMock.mockResolvedValue(null);
    downloads.mockResolvedValue("/home/sam/Downloads");
    expect(await chooseSaveFile({ title: "Save", name: "a.csv", filters: [] })).toBeNull();
  });

  it("offers Casebook's backup files in the file picker", async () => {
    openMock.mockResolvedValue("/media/sam/BACKUPS/casebook-2026-11-22T14-02-05.123Z.tar");
    expect(await chooseFile({ title: "Choose the backup file", filters: BACKUP_FILES })).toBe(
      "/media/sam/BACKUPS/casebook-2026-11-22T14-02-05.123Z.tar",
    );
    expect(openMock).toHaveBeenCalledWith({
      title: "Choose the backup file",
      directory: false,
      multiple: false,
      filters: [{ name: "Casebook backups", extensions: ["tar"] }],
      defaultPath: undefined,
    });
  });

  it("proposes the file's name in the Downloads folder, or in the folder given", async () => {
    downloads.mockResolvedValue("/home/sam/Downloads");
    saveMock.mockResolvedValue("/home/sam/Documents/audit.csv");
    const csv = [{ name: "CSV", extensions: ["csv"] }];
    expect(await chooseSaveFile({ title: "Save the audit log", name: "audit.csv", filters: csv })).toBe(
      "/home/sam/Documents/audit.csv",
    );
    expect(saveMock).toHaveBeenCalledWith({ title: "Save the audit log", filters: csv, defaultPath: "/home/sam/Downloads/audit.csv" });

    await chooseSaveFile({ title: "Save", name: "audit.csv", filters: csv, folder: "D:\\Exports" });
    expect(saveMock.mock.calls[1][0]).toMatchObject({ defaultPath: "D:\\Exports\\audit.csv" });
  });

  it("proposes just the name when the Downloads folder cannot be told", async () => {
    downloads.mockRejectedValue("no such folder");
    saveMock.mockResolvedValue(null);
    await chooseSaveFile({ title: "Save", name: "supervision.json", filters: [] });
    expect(saveMock.mock.calls[0][0]).toMatchObject({ defaultPath: "supervision.json" });
  });

  it("passes on a picker that could not open, for the screen to offer the typed path", async () => {
    openMock.mockRejectedValue("dialog.open not allowed");
    await expect(chooseFolder({ title: "Choose" })).rejects.toBe("dialog.open not allowed");
  });

  it("Show in folder asks the file manager to show exactly the path written", async () => {
    await showInFolder("/home/sam/Downloads/subject-access-C-7KQ2/subject-access.html");
    expect(revealItemInDir).toHaveBeenCalledWith("/home/sam/Downloads/subject-access-C-7KQ2/subject-access.html");
  });
});

describe("places in words", () => {
  const words = (p: string) => placeWords(p).words;

  it("names a removable drive by its label, and the folder last", () => {
    expect(placeWords("/media/sam/BACKUPS/Casebook")).toEqual({
      name: "Casebook",
      crumbs: ["BACKUPS drive", "Casebook"],
      words: "BACKUPS drive › Casebook",
    });
    expect(words("/run/media/sam/BACKUPS/Casebook/")).toBe("BACKUPS drive › Casebook");
    expect(words("/Volumes/BACKUPS/Casebook")).toBe("BACKUPS drive › Casebook");
    expect(words("D:\\Casebook backups")).toBe("D: drive › Casebook backups");
    expect(words("\\\\nas\\practice\\Casebook")).toBe("practice on nas › Casebook");
    expect(placeWords("/media/sam/BACKUPS").name).toBe("BACKUPS drive");
  });

  it("leaves the home folder out when the folder in it says enough", () => {
    expect(words("/home/sam/Downloads/supervision.json")).toBe("Downloads › supervision.json");
    expect(words("C:\\Users\\sam\\Documents\\Casebook")).toBe("Documents › Casebook");
    expect(words("/Users/sam/Desktop")).toBe("Desktop");
    expect(words("/home/sam/restored")).toBe("Home folder › restored");
    expect(words("/home/sam")).toBe("Home folder");
  });

  it("keeps it short: the top, then the last folders", () => {
    expect(words("/home/sam/Documents/Practice/Records/2026/Casebook")).toBe("Documents › … › 2026 › Casebook");
    expect(words("/home/sam/.local/share/casebook-backups")).toBe("Home folder › .local › share › casebook-backups");
    expect(words("/home/sam/.local/share/casebook/backups")).toBe("Home folder › … › casebook › backups");
    expect(words("/media/sam/BACKUPS/a/b/c/d")).toBe("BACKUPS drive › … › c › d");
    expect(words("/tmp/casebook-e2e-x1/vault-backups")).toBe("Temporary files › casebook-e2e-x1 › vault-backups");
    expect(words("/srv/casebook")).toBe("srv › casebook");
    expect(words("/")).toBe("This computer");
  });

  it("splits a path into its name and its folder", () => {
    expect(baseName("/home/sam/Downloads/supervision-001.json")).toBe("supervision-001.json");
    expect(folderOf("/home/sam/Downloads/supervision-001.json")).toBe("/home/sam/Downloads");
    expect(folderOf("D:\\audit.csv")).toBe("D:\\");
    expect(folderOf("/audit.csv")).toBe("/");
    expect(folderOf("audit.csv")).toBe("");
  });
});
