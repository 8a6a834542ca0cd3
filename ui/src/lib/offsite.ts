// The off-site copy's words and checks, kept pure so they can be tested: the server's
// address, where it keeps data, the storage bar, each server backup's state, the account
// form, the one-time recovery codes typed back, and a long task's progress. Settings → Off-site copy and the
// first-run restore from a server use them.

import type { BackupFile, BackupHealth, OffsiteProgress, RemoteBackup, ServerInfo, ServerUsage } from "./api";
import { formatBytes, formatDateTime, toDate } from "./format";
import type { BackupStatus, BackupTone } from "./backups";

// ---------- The server's address ----------

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * The address as typed, made whole ("sync.example.co.uk" → "https://sync.example.co.uk"), or
 * a sentence saying why it cannot be used. Plain http:// is only for this computer itself (a
 * server run for testing); the core refuses it too.
 */
export function checkServerUrl(raw: string): { url: string } | { error: string } {
  const s = raw.trim();
  if (s === "") return { error: "Enter your server’s address, e.g. https://sync.example.co.uk." };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return { error: "That is not a web address. It looks like https://sync.example.co.uk." };
  }
  if (u.protocol !== "https:" && u.protocol !== "http:")
    return { error: "A Casebook server’s address starts with https://." };
  if (u.hostname === "") return { error: "That address has no server name in it." };
  if (u.username || u.password)
    return { error: "Leave the user name and password out of the address: they are asked for next." };
  if (u.protocol === "http:" && !LOOPBACK.test(u.hostname))
    return {
      error: "Casebook only talks to a server over a secure connection: the address must start with https://.",
    };
  return { url: withScheme.replace(/\/+$/, "") };
}

/** "London, United Kingdom"; several joined: "London, United Kingdom; Dublin, Ireland". */
export function locationsWords(locations: string[]): string {
  const named = locations.map((l) => l.trim()).filter((l) => l !== "");
  return named.length === 0 ? "a place it did not name" : named.join("; ");
}

/** "This server keeps data in: London, United Kingdom" — shown before anything is sent. */
export function locationsSentence(locations: string[]): string {
  return `This server keeps data in: ${locationsWords(locations)}`;
}

/** What the account form says about opening an account on this server. */
export function signUpWords(info: Pick<ServerInfo, "sign_up">): string {
  return info.sign_up === "invite"
    ? "New accounts on this server need an invite code from whoever runs it."
    : "Anyone can open an account on this server.";
}

// ---------- Storage ----------

export interface UsageView {
  /** 0–100, whole; 0 when the server sets no limit. */
  percent: number;
  /** "92.7 MB of 5 GB used". */
  text: string;
  /** For a screen reader reading the bar: "2% of the storage used". */
  valueText: string;
  /** At or above 90%: the next backups may not fit. */
  nearlyFull: boolean;
}

export function usageView(u: ServerUsage | null): UsageView | null {
  if (!u) return null;
  const used = Math.max(0, u.used_bytes);
  if (!(u.quota_bytes > 0))
    return { percent: 0, text: `${formatBytes(used)} used`, valueText: `${formatBytes(used)} used`, nearlyFull: false };
  const raw = (used / u.quota_bytes) * 100;
  // Never "100%" until it is full, never "0%" once something is stored.
  let percent = Math.round(raw);
  if (percent === 100 && used < u.quota_bytes) percent = 99;
  if (percent === 0 && used > 0) percent = 1;
  percent = Math.min(100, percent);
  return {
    percent,
    text: `${formatBytes(used)} of ${formatBytes(u.quota_bytes)} used`,
    valueText: `${percent}% of the storage used`,
    nearlyFull: raw >= 90,
  };
}

// ---------- Health (the last off-site backup) ----------

/** "ok" green, "warn" amber (overdue, never), "error" red (the last one failed). */
export function healthTone(h: Pick<BackupHealth, "state"> | null): "ok" | "warn" | "error" | "" {
  if (!h) return "";
  return h.state === "ok" ? "ok" : h.state === "failed" ? "error" : "warn";
}

/** The off-site status needs the therapist's attention. */
export const needsAttention = (h: Pick<BackupHealth, "state"> | null): boolean =>
  h !== null && h.state !== "ok";

/** The status line's sentence, with a fallback when the core gives none. */
export function healthWords(h: BackupHealth | null): string {
  if (!h) return "No off-site backup has been made yet.";
  if (h.message.trim() !== "") return h.message;
  switch (h.state) {
    case "ok":
      return h.last_success ? `Last off-site backup ${formatDateTime(h.last_success)}.` : "Off-site backups are up to date.";
    case "overdue":
      return h.last_success
        ? `No off-site backup since ${formatDateTime(h.last_success)}: one is overdue.`
        : "An off-site backup is overdue.";
    case "never":
      return "No off-site backup has been made yet.";
    case "failed":
      return `The last off-site backup did not work${h.error ? `: ${h.error}` : "."}`;
  }
}

// ---------- Server backups ----------

/** When a server backup was made, or null when its index cannot be read. */
export function remoteTime(b: Pick<RemoteBackup, "created_at">): Date | null {
  if (!b.created_at) return null;
  const t = toDate(b.created_at);
  return Number.isNaN(t.getTime()) ? null : t;
}

/** "22/11/2026 14:02", or "Unknown". */
export const remoteMade = (b: Pick<RemoteBackup, "created_at">): string => {
  const t = remoteTime(b);
  return t ? formatDateTime(t) : "Unknown";
};

export function remoteTone(b: Pick<RemoteBackup, "usable" | "verified">): BackupTone {
  if (!b.usable) return "bad";
  if (!b.verified) return "unverified";
  return b.verified.ok ? "ok" : "bad";
}

/** The words of a server backup's state, as the local backups' list has them. */
export function remoteStatus(b: Pick<RemoteBackup, "usable" | "verified" | "problem">): BackupStatus {
  const tone = remoteTone(b);
  if (!b.usable)
    return {
      tone,
      label: "Cannot be used",
      detail: b.problem ?? "Pieces of it are missing from the server, or its index cannot be checked.",
    };
  if (!b.verified) return { tone, label: "Not yet verified", detail: "" };
  if (b.verified.ok) return { tone, label: "Verified OK", detail: `Checked ${formatDateTime(b.verified.at)}.` };
  return {
    tone,
    label: "Check failed",
    detail: b.verified.problem ?? `The check on ${formatDateTime(b.verified.at)} found a fault.`,
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "3 clients, 12 session notes", or "" when the backup does not say. */
export function holdsWords(b: Pick<RemoteBackup, "clients" | "notes">): string {
  if (b.clients === null || b.notes === null) return "";
  return `${plural(b.clients, "client")}, ${plural(b.notes, "session note")}`;
}

/**
 * A server backup as the restore wizard reads a backup file: one that cannot be used reads
 * as damaged (no time), so the wizard refuses it.
 */
export function asBackupFile(b: RemoteBackup): BackupFile {
  return {
    name: b.name,
    path: "",
    size: b.size,
    created_at: b.usable ? b.created_at : null,
    clients: b.clients,
    notes: b.notes,
    verified: b.verified,
  };
}

/**
 * The warning for backups this computer sent that the server no longer lists: never
 * silently forgotten.
 */
export function missingSentence(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1)
    return `The server no longer lists a backup this computer sent (${names[0]}) — it was deleted or withheld by the server.`;
  return `The server no longer lists ${names.length} backups this computer sent (${names.join(", ")}) — they were deleted or withheld by the server.`;
}

/** Uploads cut off part-way: never backups; their pieces are removed at the next run. */
export function unfinishedSentence(n: number): string {
  if (n <= 0) return "";
  return n === 1
    ? "One upload did not finish: it is not a backup. Casebook removes its pieces at the next off-site backup."
    : `${n} uploads did not finish: they are not backups. Casebook removes their pieces at the next off-site backup.`;
}

/** The backup a restore takes unless the person chooses: the server's default if usable, else the newest usable. */
export function defaultChoice(backups: RemoteBackup[], preferred: string | null): string | null {
  const usable = backups.filter((b) => b.usable && b.verified?.ok !== false);
  if (preferred && usable.some((b) => b.name === preferred)) return preferred;
  return usable[0]?.name ?? null;
}

/** What a first-run restore brought back, for the notice once Casebook opens. */
export function restoredSentence(r: { created_at: string | null; clients: number; notes: number }): string {
  const when = r.created_at ? ` from the backup made ${formatDateTime(r.created_at)}` : "";
  return `Your records are restored${when}: ${plural(r.clients, "client")}, ${plural(r.notes, "session note")}.`;
}

// ---------- The account form ----------

export interface AccountForm {
  username: string;
  password: string;
  /** The password typed again (a new account only). */
  confirm: string;
  signUp: boolean;
  invite: string;
  totp: string;
  deviceName: string;
}

export type AccountErrors = Partial<Record<"username" | "password" | "confirm" | "invite" | "totp" | "deviceName", string>>;

export const DEFAULT_DEVICE_NAME = "This computer";

/** An authenticator code or a recovery code as typed ("123 456"); null when left empty. */
export function normaliseCode(s: string): string | null {
  const t = s.trim().replace(/\s+/g, "");
  return t === "" ? null : t;
}

/** A code for the authenticator app's step: six digits. */
export function totpCodeProblem(s: string): string | null {
  const t = normaliseCode(s);
  if (t === null) return "Enter the 6-digit code your authenticator app shows.";
  if (!/^\d{6}$/.test(t)) return "The code is the 6 digits your authenticator app shows for Casebook.";
  return null;
}

const chars = (s: string) => [...s].length;

/**
 * What is wrong with the account form, field by field (the server's own rules: a name of 3
 * to 64 characters, a password of at least 10 for a new account).
 */
export function validateAccount(
  f: AccountForm,
  info: Pick<ServerInfo, "sign_up" | "totp_required"> | null,
): AccountErrors {
  const e: AccountErrors = {};
  const name = f.username.trim();
  if (name === "") e.username = "Enter your user name on the server.";
  else if (f.signUp && (chars(name) < 3 || chars(name) > 64)) e.username = "A user name has 3 to 64 characters.";
  if (f.password === "") e.password = "Enter your password.";
  else if (f.signUp && chars(f.password) < 10) e.password = "A new account’s password needs at least 10 characters.";
  else if (f.signUp && f.confirm !== f.password) e.confirm = "The two passwords differ.";
  if (f.signUp && info?.sign_up === "invite" && f.invite.trim() === "")
    e.invite = "This server needs an invite code to open an account.";
  if (!f.signUp && info?.totp_required && normaliseCode(f.totp) === null)
    e.totp = "This server asks for the code from your authenticator app (or a recovery code).";
  const device = f.deviceName.trim();
  if (device === "") e.deviceName = "Give this computer a name, e.g. “Consulting room laptop”.";
  else if (chars(device) > 64) e.deviceName = "Keep the name to 64 characters or fewer.";
  return e;
}

// ---------- The one-time recovery codes ----------

/** A recovery code as the server compares them: no spaces or dashes, upper case. */
export function normaliseRecoveryCode(s: string): string {
  return s.trim().toUpperCase().replace(/[\s-]/g, "");
}

export function recoveryCodeMatches(typed: string, expected: string): boolean {
  const t = normaliseRecoveryCode(typed);
  return t !== "" && t === normaliseRecoveryCode(expected);
}

// ---------- A long task's progress ----------

/** Each stage in the therapist's words. */
export const STAGE_WORDS: Record<OffsiteProgress["stage"], string> = {
  copy: "Copying your records",
  encrypt: "Encrypting",
  upload: "Sending to the server",
  download: "Fetching from the server",
  decrypt: "Decrypting",
  check: "Checking every record and the audit trail",
  "catch-up": "Fetching the other computers’ changes",
};

export interface ProgressView {
  /** The stage in words: "Sending to the server". */
  label: string;
  /** 0–100, whole; null when there is no measure (the check, or before the first report). */
  percent: number | null;
  /** "Sending to the server… 45%", or "Checking every record and the audit trail…". */
  text: string;
  /** The same in steps of 10%, for a screen reader (so it is not read out ten times a second). */
  spoken: string;
  /** "41.7 MB of 92.7 MB", or "" without a measure. */
  detail: string;
}

/**
 * A progress report as the progress bar shows it. Never "100%" until the stage is done;
 * `starting` is what it says before the first report arrives.
 */
export function progressView(p: OffsiteProgress | null, starting = "Getting ready"): ProgressView {
  if (!p) return { label: starting, percent: null, text: `${starting}…`, spoken: `${starting}…`, detail: "" };
  const label = STAGE_WORDS[p.stage] ?? "Working";
  const total = Number.isFinite(p.total) && p.total > 0 ? p.total : 0;
  if (p.stage === "check" || total === 0)
    return { label, percent: null, text: `${label}…`, spoken: `${label}…`, detail: "" };
  const done = Number.isFinite(p.done) ? Math.min(Math.max(p.done, 0), total) : 0;
  const percent = done >= total ? 100 : Math.min(99, Math.floor((done / total) * 100));
  return {
    label,
    percent,
    text: `${label}… ${percent}%`,
    spoken: `${label}… ${Math.floor(percent / 10) * 10}%`,
    detail: p.stage === "catch-up" ? `${done} of ${total} change batches` : `${formatBytes(done)} of ${formatBytes(total)}`,
  };
}
