import { describe, expect, it } from "vitest";
import type { BackupHealth, RemoteBackup } from "./api";
import {
  DEFAULT_DEVICE_NAME,
  asBackupFile,
  checkServerUrl,
  defaultChoice,
  healthTone,
  healthWords,
  holdsWords,
  locationsSentence,
  missingSentence,
  needsAttention,
  normaliseCode,
  progressView,
  recoveryCodeMatches,
  remoteMade,
  remoteStatus,
  restoredSentence,
  totpCodeProblem,
  unfinishedSentence,
  usageView,
  validateAccount,
  type AccountForm,
} from "./offsite";

function remote(over: Partial<RemoteBackup> = {}): RemoteBackup {
  return {
    name: "cb-7kq2m9xd",
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

const health = (over: Partial<BackupHealth>): BackupHealth => ({
  state: "ok",
  message: "",
  last_success: null,
  failed_at: null,
  error: null,
  ...over,
});

describe("the server's address", () => {
  it("adds https:// to a bare name and drops a trailing slash", () => {
    expect(checkServerUrl(" sync.example.co.uk ")).toEqual({ url: "https://sync.example.co.uk" });
    expect(checkServerUrl("https://sync.example.co.uk/")).toEqual({ url: "https://sync.example.co.uk" });
    expect(checkServerUrl("https://sync.example.co.uk:8443/casebook")).toEqual({
      url: "https://sync.example.co.uk:8443/casebook",
    });
  });

  it("allows plain http:// only to this computer", () => {
    expect(checkServerUrl("http://127.0.0.1:8080")).toEqual({ url: "http://127.0.0.1:8080" });
    expect(checkServerUrl("http://localhost:8080/")).toEqual({ url: "http://localhost:8080" });
    expect(checkServerUrl("http://[::1]:8080")).toEqual({ url: "http://[::1]:8080" });
    expect(checkServerUrl("http://sync.example.co.uk")).toEqual({
      error: "Casebook only talks to a server over a secure connection: the address must start with https://.",
    });
  });

  it("says what is wrong with an address it cannot use", () => {
    expect(checkServerUrl("")).toHaveProperty("error", "Enter your server’s address, e.g. https://sync.example.co.uk.");
    expect(checkServerUrl("ftp://sync.example.co.uk")).toHaveProperty("error", "A Casebook server’s address starts with https://.");
    expect(checkServerUrl("https://sam:pw@sync.example.co.uk")).toHaveProperty("error");
    expect(checkServerUrl("https://exa mple")).toHaveProperty("error");
  });

  it("says where the server keeps data, in one line", () => {
    expect(locationsSentence(["London, United Kingdom"])).toBe("This server keeps data in: London, United Kingdom");
    expect(locationsSentence(["London, United Kingdom", " Dublin, Ireland "])).toBe(
      "This server keeps data in: London, United Kingdom; Dublin, Ireland",
    );
    expect(locationsSentence([])).toBe("This server keeps data in: a place it did not name");
  });
});

describe("the storage bar", () => {
  it("shows what is used of the quota", () => {
    expect(usageView({ used_bytes: 92_700_000, quota_bytes: 5_000_000_000, max_blob_bytes: 64_000_000 })).toEqual({
      percent: 2,
      text: "92.7 MB of 5 GB used",
      valueText: "2% of the storage used",
      nearlyFull: false,
    });
  });

  it("never reads 0% once something is stored, nor 100% until full", () => {
    expect(usageView({ used_bytes: 1_000, quota_bytes: 5_000_000_000, max_blob_bytes: 1 })?.percent).toBe(1);
    expect(usageView({ used_bytes: 4_999_000_000, quota_bytes: 5_000_000_000, max_blob_bytes: 1 })?.percent).toBe(99);
    expect(usageView({ used_bytes: 5_000_000_000, quota_bytes: 5_000_000_000, max_blob_bytes: 1 })?.percent).toBe(100);
    expect(usageView({ used_bytes: 0, quota_bytes: 5_000_000_000, max_blob_bytes: 1 })?.percent).toBe(0);
  });

  it("warns from 90%, and copes with more than the quota", () => {
    expect(usageView({ used_bytes: 4_500_000_000, quota_bytes: 5_000_000_000, max_blob_bytes: 1 })?.nearlyFull).toBe(true);
    expect(usageView({ used_bytes: 4_400_000_000, quota_bytes: 5_000_000_000, max_blob_bytes: 1 })?.nearlyFull).toBe(false);
    const over = usageView({ used_bytes: 6_000_000_000, quota_bytes: 5_000_000_000, max_blob_bytes: 1 });
    expect(over?.percent).toBe(100);
    expect(over?.text).toBe("6 GB of 5 GB used");
  });

  it("shows only what is used when the server sets no limit, and nothing when unknown", () => {
    expect(usageView({ used_bytes: 2_000_000, quota_bytes: 0, max_blob_bytes: 1 })).toEqual({
      percent: 0,
      text: "2 MB used",
      valueText: "2 MB used",
      nearlyFull: false,
    });
    expect(usageView(null)).toBeNull();
  });
});

describe("the off-site health", () => {
  it("is green when up to date, amber when overdue or never made, red when the last failed", () => {
    expect(healthTone(health({ state: "ok" }))).toBe("ok");
    expect(healthTone(health({ state: "overdue" }))).toBe("warn");
    expect(healthTone(health({ state: "never" }))).toBe("warn");
    expect(healthTone(health({ state: "failed" }))).toBe("error");
    expect(healthTone(null)).toBe("");
    expect(needsAttention(health({ state: "ok" }))).toBe(false);
    expect(needsAttention(health({ state: "never" }))).toBe(true);
    expect(needsAttention(null)).toBe(false);
  });

  it("uses the core's sentence, or words one in UK time when it gives none", () => {
    expect(healthWords(health({ message: "Last off-site backup 22/11/2026 14:02." }))).toBe(
      "Last off-site backup 22/11/2026 14:02.",
    );
    // 14:02 UTC in November is 14:02 in London; in July it is 15:02 (BST).
    expect(healthWords(health({ last_success: "2026-11-22T14:02:00Z" }))).toBe("Last off-site backup 22/11/2026 14:02.");
    expect(healthWords(health({ state: "overdue", last_success: "2026-07-01T14:02:00Z" }))).toBe(
      "No off-site backup since 01/07/2026 15:02: one is overdue.",
    );
    expect(healthWords(health({ state: "failed", error: "the server could not be reached" }))).toBe(
      "The last off-site backup did not work: the server could not be reached",
    );
    expect(healthWords(health({ state: "never" }))).toBe("No off-site backup has been made yet.");
    expect(healthWords(null)).toBe("No off-site backup has been made yet.");
  });
});

describe("a server backup", () => {
  it("is shown made in UK form, or Unknown", () => {
    expect(remoteMade(remote())).toBe("22/11/2026 14:02");
    expect(remoteMade(remote({ created_at: null }))).toBe("Unknown");
    expect(remoteMade(remote({ created_at: "not a date" }))).toBe("Unknown");
  });

  it("reads as verified, not yet verified, failed, or unusable", () => {
    expect(remoteStatus(remote({ verified: { at: "2026-11-22T15:00:00Z", ok: true, problem: null } }))).toEqual({
      tone: "ok",
      label: "Verified OK",
      detail: "Checked 22/11/2026 15:00.",
    });
    expect(remoteStatus(remote())).toEqual({ tone: "unverified", label: "Not yet verified", detail: "" });
    expect(
      remoteStatus(remote({ verified: { at: "2026-11-22T15:00:00Z", ok: false, problem: "Piece 3's digest does not match." } })),
    ).toEqual({ tone: "bad", label: "Check failed", detail: "Piece 3's digest does not match." });
    expect(remoteStatus(remote({ usable: false, problem: "2 pieces are missing." }))).toEqual({
      tone: "bad",
      label: "Cannot be used",
      detail: "2 pieces are missing.",
    });
    expect(remoteStatus(remote({ usable: false })).detail).toMatch(/missing/);
  });

  it("says what it holds", () => {
    expect(holdsWords(remote())).toBe("3 clients, 12 session notes");
    expect(holdsWords(remote({ clients: 1, notes: 1 }))).toBe("1 client, 1 session note");
    expect(holdsWords(remote({ clients: null }))).toBe("");
  });

  it("reads as a backup file for the restore wizard; an unusable one as damaged", () => {
    expect(asBackupFile(remote())).toEqual({
      name: "cb-7kq2m9xd",
      path: "",
      size: 92_700_000,
      created_at: "2026-11-22T14:02:05Z",
      clients: 3,
      notes: 12,
      verified: null,
    });
    expect(asBackupFile(remote({ usable: false })).created_at).toBeNull();
  });

  it("takes the server's default for a restore if it can be used, else the newest usable", () => {
    const list = [
      remote({ name: "a", verified: { at: "2026-11-22T15:00:00Z", ok: false, problem: "bad" } }),
      remote({ name: "b", usable: false }),
      remote({ name: "c" }),
      remote({ name: "d", verified: { at: "2026-11-20T15:00:00Z", ok: true, problem: null } }),
    ];
    expect(defaultChoice(list, "d")).toBe("d");
    expect(defaultChoice(list, "b")).toBe("c");
    expect(defaultChoice(list, null)).toBe("c");
    expect(defaultChoice([remote({ usable: false })], null)).toBeNull();
  });
});

describe("warnings about the list", () => {
  it("never lets a backup the server dropped go unmentioned", () => {
    expect(missingSentence([])).toBe("");
    expect(missingSentence(["cb-1"])).toBe(
      "The server no longer lists a backup this computer sent (cb-1) — it was deleted or withheld by the server.",
    );
    expect(missingSentence(["cb-1", "cb-2"])).toBe(
      "The server no longer lists 2 backups this computer sent (cb-1, cb-2) — they were deleted or withheld by the server.",
    );
  });

  it("counts unfinished uploads", () => {
    expect(unfinishedSentence(0)).toBe("");
    expect(unfinishedSentence(1)).toMatch(/^One upload did not finish/);
    expect(unfinishedSentence(3)).toMatch(/^3 uploads did not finish/);
  });

  it("says what a first-run restore brought back", () => {
    expect(restoredSentence({ created_at: "2026-11-22T14:02:05Z", clients: 3, notes: 1 })).toBe(
      "Your records are restored from the backup made 22/11/2026 14:02: 3 clients, 1 session note.",
    );
    expect(restoredSentence({ created_at: null, clients: 1, notes: 0 })).toBe(
      "Your records are restored: 1 client, 0 session notes.",
    );
  });
});

describe("the account form", () => {
  const form = (over: Partial<AccountForm> = {}): AccountForm => ({
    username: "sam",
    password: "long enough passphrase",
    confirm: "",
    signUp: false,
    invite: "",
    totp: "",
    deviceName: DEFAULT_DEVICE_NAME,
    ...over,
  });
  const open = { sign_up: "open" as const, totp_required: false };

  it("signs in with a name and password; the code is optional", () => {
    expect(validateAccount(form(), open)).toEqual({});
    expect(validateAccount(form({ username: " ", password: "" }), open)).toEqual({
      username: "Enter your user name on the server.",
      password: "Enter your password.",
    });
  });

  it("holds a new account to the server's rules, with the password typed twice", () => {
    expect(validateAccount(form({ signUp: true, confirm: "long enough passphrase" }), open)).toEqual({});
    expect(validateAccount(form({ signUp: true, username: "sa", password: "short", confirm: "short" }), open)).toEqual({
      username: "A user name has 3 to 64 characters.",
      password: "A new account’s password needs at least 10 characters.",
    });
    expect(validateAccount(form({ signUp: true, confirm: "long enough passphrasf" }), open)).toEqual({
      confirm: "The two passwords differ.",
    });
  });

  it("asks for an invite code only to open an account on an invite-only server", () => {
    const invite = { sign_up: "invite" as const, totp_required: false };
    expect(validateAccount(form({ signUp: true, confirm: "long enough passphrase" }), invite)).toEqual({
      invite: "This server needs an invite code to open an account.",
    });
    expect(validateAccount(form(), invite)).toEqual({});
  });

  it("asks for the code when the server requires one, and a name for this computer", () => {
    expect(validateAccount(form(), { sign_up: "open", totp_required: true }).totp).toMatch(/authenticator/);
    expect(validateAccount(form({ totp: "123 456" }), { sign_up: "open", totp_required: true })).toEqual({});
    expect(validateAccount(form({ deviceName: "  " }), open).deviceName).toMatch(/name/);
    expect(validateAccount(form({ deviceName: "x".repeat(65) }), open).deviceName).toMatch(/64/);
  });

  it("reads codes as typed", () => {
    expect(normaliseCode(" 123 456 ")).toBe("123456");
    expect(normaliseCode("   ")).toBeNull();
    expect(totpCodeProblem("123 456")).toBeNull();
    expect(totpCodeProblem("")).toMatch(/6-digit/);
    expect(totpCodeProblem("12345a")).toMatch(/6 digits/);
  });
});

describe("the one-time recovery codes typed back", () => {
  it("match whatever the case, spaces or dash", () => {
    expect(recoveryCodeMatches("7kq2 m9xd", "7KQ2-M9XD")).toBe(true);
    expect(recoveryCodeMatches(" 7KQ2M9XD ", "7KQ2-M9XD")).toBe(true);
    expect(recoveryCodeMatches("7KQ2-M9XE", "7KQ2-M9XD")).toBe(false);
    expect(recoveryCodeMatches("", "")).toBe(false);
  });
});

describe("a long task's progress", () => {
  it("names each stage in the therapist's words", () => {
    const words = (["copy", "encrypt", "upload", "download", "decrypt", "check"] as const).map(
      (stage) => progressView({ stage, done: 1, total: 2 }).label,
    );
    expect(words).toEqual([
      "Copying your records",
      "Encrypting",
      "Sending to the server",
      "Fetching from the server",
      "Decrypting",
      "Checking every record and the audit trail",
    ]);
  });

  it("gives the share of the bytes done, with the sizes", () => {
    const v = progressView({ stage: "upload", done: 41_715_000, total: 92_700_000 });
    expect(v.percent).toBe(45);
    expect(v.text).toBe("Sending to the server… 45%");
    expect(v.detail).toBe("41.7 MB of 92.7 MB");
  });

  it("is read out in steps of 10%, not at every report", () => {
    expect(progressView({ stage: "download", done: 49, total: 100 }).spoken).toBe("Fetching from the server… 40%");
    expect(progressView({ stage: "download", done: 50, total: 100 }).spoken).toBe("Fetching from the server… 50%");
    expect(progressView({ stage: "download", done: 3, total: 100 }).spoken).toBe("Fetching from the server… 0%");
  });

  it("never says 100% until the stage is done, nor more than 100%", () => {
    expect(progressView({ stage: "encrypt", done: 999, total: 1000 }).percent).toBe(99);
    expect(progressView({ stage: "encrypt", done: 1000, total: 1000 }).percent).toBe(100);
    expect(progressView({ stage: "encrypt", done: 1500, total: 1000 })).toMatchObject({
      percent: 100,
      text: "Encrypting… 100%",
      detail: "1 KB of 1 KB",
    });
    expect(progressView({ stage: "encrypt", done: 0, total: 1000 }).percent).toBe(0);
    expect(progressView({ stage: "encrypt", done: -5, total: 1000 }).percent).toBe(0);
  });

  it("has no measure for the check, or a stage with no size", () => {
    expect(progressView({ stage: "check", done: 0, total: 0 })).toEqual({
      label: "Checking every record and the audit trail",
      percent: null,
      text: "Checking every record and the audit trail…",
      spoken: "Checking every record and the audit trail…",
      detail: "",
    });
    expect(progressView({ stage: "copy", done: 0, total: 0 })).toMatchObject({ percent: null, text: "Copying your records…" });
  });

  it("says what it is doing before the first report", () => {
    expect(progressView(null)).toMatchObject({ percent: null, text: "Getting ready…" });
    expect(progressView(null, "Making the backup")).toMatchObject({ label: "Making the backup", text: "Making the backup…" });
  });
});
