// Folders and files in plain words. A chosen folder or a written file is shown by its name
// and, briefly, where it is ("BACKUPS drive › Casebook", "Downloads › supervision.json"),
// never as a raw path in a monospace font. Pure, so it can be tested; `files.ts` does the
// picking and the showing.

export interface PlaceWords {
  /** The file's or folder's own name ("Casebook"); a drive's or the home folder's words at the top. */
  name: string;
  /** Where it is, outermost first, ending with its name: ["BACKUPS drive", "Casebook"]. */
  crumbs: string[];
  /** The crumbs in one line: "BACKUPS drive › Casebook". */
  words: string;
}

/** Between crumbs. */
export const CRUMB = " › ";

/** At most this many folders are named below the top; the middle ones become "…". */
const SHOWN = 3;

/** Folders in a home folder that name themselves well enough ("Documents › Casebook"). */
const USER_FOLDERS = new Set(["Desktop", "Documents", "Downloads", "Music", "Pictures", "Public", "Templates", "Videos"]);

const segments = (s: string) => s.split(/[\\/]+/).filter((x) => x !== "" && x !== ".");
const drive = (label: string) => `${label} drive`;

/**
 * The top of a path in words, and the folders below it. A home folder ("/home/sam",
 * "/Users/sam", "C:\Users\sam") is "Home folder", left out when the folder in it says enough
 * ("Documents › Casebook"); removable drives are named by their label ("/media/sam/BACKUPS" → "BACKUPS
 * drive"), as are Windows drives ("D: drive") and network shares ("Casebook on nas").
 */
function split(path: string): { top: string | null; parts: string[] } {
  const p = path.trim();
  const home = (parts: string[]) => ({ top: USER_FOLDERS.has(parts[0] ?? "") ? null : "Home folder", parts });

  const unc = /^\\\\([^\\/]+)[\\/]+([^\\/]+)(.*)$/.exec(p);
  if (unc) return { top: `${unc[2]} on ${unc[1]}`, parts: segments(unc[3]) };
  const win = /^([A-Za-z]):(?:[\\/](.*))?$/.exec(p);
  if (win) {
    const rest = segments(win[2] ?? "");
    if (rest[0]?.toLowerCase() === "users" && rest.length >= 2) return home(rest.slice(2));
    return { top: drive(`${win[1].toUpperCase()}:`), parts: rest };
  }

  const all = segments(p);
  const [a, b, c] = all;
  if ((a === "home" || a === "Users") && b) return home(all.slice(2));
  if (a === "root" && all.length >= 1) return home(all.slice(1));
  // udisks mounts a drive at /run/media/<user>/<label> or /media/<user>/<label>.
  if (a === "run" && b === "media" && all.length >= 4) return { top: drive(all[3]), parts: all.slice(4) };
  if (a === "media" && c) return { top: drive(c), parts: all.slice(3) };
  if ((a === "media" || a === "mnt" || a === "Volumes") && b) return { top: drive(b), parts: all.slice(2) };
  if (a === "tmp") return { top: "Temporary files", parts: all.slice(1) };
  if (a === "var" && b === "tmp") return { top: "Temporary files", parts: all.slice(2) };
  return { top: null, parts: all };
}

/** A path in words: its name and a short trail of where it is. */
export function placeWords(path: string): PlaceWords {
  const { top, parts } = split(path);
  const shown =
    parts.length <= SHOWN ? parts : top ? ["…", ...parts.slice(-(SHOWN - 1))] : [parts[0], "…", ...parts.slice(-(SHOWN - 1))];
  const crumbs = top ? [top, ...shown] : shown;
  if (crumbs.length === 0) crumbs.push(path.trim() === "" ? "" : "This computer");
  return { name: parts[parts.length - 1] ?? crumbs[crumbs.length - 1], crumbs, words: crumbs.join(CRUMB) };
}

/** The last part of a path: a file's or folder's own name. */
export function baseName(path: string): string {
  const s = segments(path.trim());
  return s[s.length - 1] ?? path.trim();
}

/** The folder a file is in ("" when the path has no folder part). */
export function folderOf(path: string): string {
  const p = path.trim().replace(/[\\/]+$/, "");
  const cut = Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\"));
  if (cut < 0) return "";
  if (cut === 0) return p[0];
  const head = p.slice(0, cut);
  return /^[A-Za-z]:$/.test(head) ? `${head}${p[cut]}` : head;
}
