// The desktop's own folder and file pickers, and "Show in folder". This is the one module
// that calls the Tauri dialog and opener plugins, so tests stub it (or the plugins) here. The
// plugins' code is fetched when a picker is first used, so it is no part of start-up.
//
// Outside the desktop app (tests, a plain browser) there is no picker: `canPick()` is false
// and the screens show the typed-path field instead. The dev mock backend
// (`VITE_CASEBOOK_MOCK`) answers the plugins' calls itself and says so with `setPickerStandIn`.

import { isTauri } from "@tauri-apps/api/core";
import { joinPath } from "./backups";

/** A kind of file the picker offers, e.g. `{ name: "Casebook backups", extensions: ["tar"] }`. */
export interface FileFilter {
  name: string;
  /** Without the dot. */
  extensions: string[];
}

/** Backup files (`casebook-<time>.tar`). */
export const BACKUP_FILES: FileFilter[] = [{ name: "Casebook backups", extensions: ["tar"] }];

let standIn = false;

/** The dev mock backend answers the dialog and opener plugins' calls (never in a build). */
export function setPickerStandIn(on = true): void {
  standIn = on;
}

/** Whether the desktop's pickers and file manager can be asked: only in the desktop app. */
export function canPick(): boolean {
  return standIn || isTauri();
}

/** What the picker returned, as one path (null: cancelled). */
const one = (r: string | string[] | null): string | null => {
  const p = Array.isArray(r) ? (r[0] ?? null) : r;
  return typeof p === "string" && p.trim() !== "" ? p : null;
};

const startAt = (p: string | null | undefined) => (p && p.trim() !== "" ? p.trim() : undefined);

/**
 * The desktop's folder picker. Resolves to the chosen folder, or null when the person
 * cancels (or there is no picker here). Rejects if the picker could not be opened.
 */
export async function chooseFolder(o: { title: string; start?: string | null }): Promise<string | null> {
  if (!canPick()) return null;
  const { open } = await import("@tauri-apps/plugin-dialog");
  return one(await open({ title: o.title, directory: true, multiple: false, defaultPath: startAt(o.start) }));
}

/** The desktop's file picker, for one existing file of the kinds given; null when cancelled. */
export async function chooseFile(o: {
  title: string;
  filters: FileFilter[];
  start?: string | null;
}): Promise<string | null> {
  if (!canPick()) return null;
  const { open } = await import("@tauri-apps/plugin-dialog");
  return one(
    await open({ title: o.title, directory: false, multiple: false, filters: o.filters, defaultPath: startAt(o.start) }),
  );
}

/** The Downloads folder, where an export is proposed; null if it cannot be told. */
async function downloads(): Promise<string | null> {
  try {
    const { downloadDir } = await import("@tauri-apps/api/path");
    return await downloadDir();
  } catch {
    return null;
  }
}

/**
 * The desktop's "Save as" dialog for one file, proposing `name` in `folder` (the Downloads
 * folder unless given). Resolves to the path to write, or null when the person cancels.
 */
export async function chooseSaveFile(o: {
  title: string;
  name: string;
  filters: FileFilter[];
  folder?: string | null;
}): Promise<string | null> {
  if (!canPick()) return null;
  const folder = startAt(o.folder) ?? (await downloads());
  const { save } = await import("@tauri-apps/plugin-dialog");
  return one(await save({ title: o.title, filters: o.filters, defaultPath: folder ? joinPath(folder, o.name) : o.name }));
}

/** Opens the file manager at the folder holding `path`, with it selected. */
export async function showInFolder(path: string): Promise<void> {
  const { revealItemInDir } = await import("@tauri-apps/plugin-opener");
  await revealItemInDir(path);
}
