// Two computers of one practice, end to end: the app on the surgery desktop (a real window,
// WebDriver) and a laptop driven through the `casebook` CLI, both against the real
// casebook-sync on loopback. The app turns sync on in Settings → Computers; the laptop joins
// from the recovery key; a second laptop is added by code from Settings → Computers, and a new
// app profile joins by code at its first run (after a wrong and an expired code); a client added on the laptop appears in the app's client list
// without a click; both show the same four compare words; an email changed on both is kept
// aside, counted on Today, and resolved in the app.
//
// Needs the desktop app (CASEBOOK_APP_BIN), the CLI (CASEBOOK_CLI_BIN) and a casebook-sync
// server at CASEBOOK_E2E_SYNC_URL (scripts/e2e starts one). Skipped when any is missing.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkAccessibility,
  click,
  connectOffsite,
  gone,
  launchFreshProfile,
  present,
  removeProfiles,
  reveal,
  screenshot,
  selectValue,
  setUpPassphraseVault,
  setValue,
  shown,
  text,
  until,
  clientRow,
  openClient,
} from "./helpers.mjs";

const APP = process.env.CASEBOOK_APP_BIN || "";
const CLI = process.env.CASEBOOK_CLI_BIN || "";
const SYNC_URL = process.env.CASEBOOK_E2E_SYNC_URL || "";
const PASSPHRASE = "correct horse battery staple";
const LAPTOP_PASSPHRASE = "the laptop's own passphrase";
const SERVER_PASSWORD = "long enough passphrase";
const CLIENT_NAME = "Morwenna Tregarthen";
const NEW_CLIENT = "Bea Newcomer";

/** `name`'s file, from the client list. */
async function openFromClients(name) {
  await click("#nav-clients");
  await shown("#clients");
  await until(async () => (await clientRow(name)) !== null, `${name} is listed`);
  await openClient(name);
}

/** Morwenna's file, at its notes. */
async function openNotes() {
  await openFromClients(CLIENT_NAME);
  await click("#tab-notes");
}

describe("Two computers of one practice: the app and a laptop", () => {
  const username = `e2e-sync-${Date.now()}`;
  let recoveryKey = "";
  /** The laptop: a folder of its own for HOME and its vault. */
  let laptop = "";

  /** The CLI computers' environment: a HOME of their own, the laptop's vault unless `env` says another. */
  function laptopEnv(env = {}) {
    const home = join(laptop, "home");
    return {
      PATH: process.env.PATH,
      DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS ?? "",
      HOME: home,
      XDG_DATA_HOME: join(home, "data"),
      XDG_CONFIG_HOME: join(home, "config"),
      XDG_CACHE_HOME: join(home, "cache"),
      CASEBOOK_VAULT: join(laptop, "vault"),
      CASEBOOK_PASSPHRASE: LAPTOP_PASSPHRASE,
      ...env,
    };
  }

  /** `casebook --json …` on the laptop's vault (its keys in a passphrase file); its JSON. */
  function cli(args, env = {}) {
    const out = execFileSync(CLI, ["--json", ...args], {
      env: laptopEnv(env),
      input: "",
      encoding: "utf8",
      timeout: 180_000,
    });
    return JSON.parse(out);
  }

  /** The second laptop, added by code: its vault folder. */
  const laptop2 = () => join(laptop, "vault2");

  /**
   * `casebook --json …` run in the background (it waits on the other computer): its first
   * output line so far (`firstLine()`), and its end (`ended`: { code, out, err, last }).
   */
  function cliInBackground(args, env = {}) {
    const child = spawn(CLI, ["--json", ...args], {
      env: laptopEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const ended = new Promise((resolve) =>
      child.on("close", (code) => resolve({ code, out, err, last: lastJson(out) })),
    );
    return { child, ended, firstLine: () => out.split("\n")[0] };
  }

  /** The last JSON value printed (pretty or one per line). */
  function lastJson(out) {
    const starts = [...out.matchAll(/^\{/gm)].map((m) => m.index);
    for (const at of starts.reverse()) {
      try {
        return JSON.parse(out.slice(at));
      } catch {
        /* a line of several values: try the one before */
      }
    }
    return null;
  }

  before(function () {
    if (!APP || !CLI || !SYNC_URL) this.skip();
    laptop = mkdtempSync(join(tmpdir(), "casebook-e2e-laptop-"));
    for (const d of ["data", "config", "cache"]) mkdirSync(join(laptop, "home", d), { recursive: true });
  });

  after(async () => {
    await removeProfiles();
    if (laptop) rmSync(laptop, { recursive: true, force: true });
  });

  it("sets up the practice in the app, connected to the server, with a backup there", async function () {
    this.timeout(300_000);
    await launchFreshProfile("sync-desktop");
    recoveryKey = await setUpPassphraseVault(PASSPHRASE);
    await click("#nav-clients");
    await shown("#clients");
    await click("#add-client");
    await setValue("#client-name", CLIENT_NAME);
    await click("#client-save");
    await until(async () => (await clientRow(CLIENT_NAME)) !== null, `${CLIENT_NAME} is listed`);

    await connectOffsite(SYNC_URL, username, SERVER_PASSWORD);
    await setValue("#offsite-device-name", "Surgery desktop");
    await click("#offsite-connect");
    await shown("#offsite-backup-now", 60_000);
    // The laptop joins from the newest off-site backup.
    await click("#offsite-backup-now");
    await until(async () => /^Off-site backup sent/.test(await text("#offsite-result")), "the off-site backup is sent", 180_000);
  });

  it("turns sync on in Settings → Computers; the strip says it is up to date", async function () {
    this.timeout(120_000);
    await shown("#sync-enable", 30_000);
    await reveal(await $("#sync-enable"));
    await click("#sync-enable");
    await shown('.sync-device[data-this="true"]', 60_000);
    assert.match(await text('.sync-device[data-this="true"]'), /Surgery desktop/);
    assert.match(await text("#sync-compare-words"), /^[a-z]+ [a-z]+ [a-z]+ [a-z]+$/);
    // The background sync's first run (it looks for a server every few seconds).
    await until(async () => /^Up to date · \d\d:\d\d$/.test(await text("#sync-strip-text")), "the strip says up to date", 60_000);
    assert.equal(await $("#sync-strip").getAttribute("data-kind"), "ok");
  });

  it("a laptop joins with the recovery key; its new client appears in the app without a click", async function () {
    this.timeout(300_000);
    const joined = cli(["sync", "join", "--server", SYNC_URL, "--username", username, "--into", join(laptop, "vault")], {
      CASEBOOK_SYNC_PASSWORD: SERVER_PASSWORD,
      CASEBOOK_RECOVERY_KEY: recoveryKey,
    });
    assert.ok(joined, "sync join answered");
    assert.ok(
      cli(["client", "list"]).some((c) => c.full_name === CLIENT_NAME),
      "the laptop holds the desktop's client",
    );

    await click("#nav-clients");
    await shown("#clients");
    await until(async () => (await clientRow(CLIENT_NAME)) !== null, "the client list is shown");
    assert.equal(await clientRow(NEW_CLIENT), null, "not there yet");
    cli(["client", "add", "--name", NEW_CLIENT]);
    cli(["sync", "now"]);
    // No click: the long-poll hears the laptop's change, the background run applies it, the
    // list reloads.
    await until(async () => (await clientRow(NEW_CLIENT)) !== null, `${NEW_CLIENT} appears in the app`, 30_000);

    // With a client's file open, a detail changed on the laptop shows there by itself.
    await openFromClients(CLIENT_NAME);
    await shown("#client-phone");
    const code = cli(["client", "list"]).find((c) => c.full_name === CLIENT_NAME).code;
    cli(["client", "edit", code, "--phone", "07700 900456"]);
    cli(["sync", "now"]);
    await until(async () => (await text("#client-phone")) === "07700 900456", "the open file shows the laptop's change", 30_000);
  });

  it("lists both computers, and both show the same four words", async function () {
    this.timeout(120_000);
    await click("#nav-settings");
    await shown("#sync-devices", 30_000);
    await until(async () => (await $$(".sync-device")).length === 2, "both computers are listed", 30_000);
    // The laptop joined under its host's name: call it what it is, from here.
    await click('.sync-device[data-this="false"] .rename');
    await setValue("#sync-rename-name", "Laptop");
    await click("#sync-rename-save");
    await until(async () => /^Laptop\b/.test(await text('.sync-device[data-this="false"] th')), "the laptop is renamed", 30_000);
    cli(["sync", "now"]);
    assert.ok(
      cli(["sync", "devices"]).some((d) => d.name === "Laptop" && d.this_computer),
      "the laptop knows its new name, from the signed list",
    );
    let laptopWords = "";
    await until(
      async () => {
        laptopWords = cli(["sync", "status"]).compare_words;
        return (await text("#sync-compare-words")) === laptopWords;
      },
      "the app and the laptop show the same words",
      60_000,
    );
    await reveal(await $("#sync"));
    await screenshot("sync-computers.png");
  });

  it("an email changed on both computers is kept aside, counted on Today, and resolved", async function () {
    this.timeout(180_000);
    const code = cli(["client", "list"]).find((c) => c.full_name === CLIENT_NAME).code;
    // The laptop edits offline (it does not sync yet) …
    cli(["client", "edit", code, "--email", "morwenna@laptop.example"]);
    // … and the desktop edits the same field in the app.
    await openFromClients(CLIENT_NAME);
    await click("#client-edit");
    await setValue("#edit-email", "morwenna@surgery.example");
    await click("#client-edit-save");
    await until(async () => (await text("#client-edit-result")) !== "", "the edit is saved");
    // Now the laptop syncs: each computer sees the other's concurrent edit.
    cli(["sync", "now"]);

    await click("#nav-today");
    await shown("#today-sync-conflicts", 60_000);
    assert.match(await text("#today-sync-conflicts"), /1 thing was changed on two computers/);
    assert.match(await text("#today-sync-conflicts"), /needs a look/);
    await screenshot("sync-conflict-today.png");
    await click("#today-sync-conflicts button");
    await shown("#sync-conflicts", 30_000);
    const conflict = await $(".sync-conflict");
    const shownText = await conflict.getText();
    assert.match(shownText, /Email/);
    assert.match(shownText, /morwenna@laptop\.example/);
    assert.match(shownText, /morwenna@surgery\.example/);
    // Named by the computer that wrote it (the laptop is named after its host).
    assert.match(shownText, /From Laptop/);
    await reveal(await $("#sync-conflicts"));
    await screenshot("sync-conflict.png");
    await checkAccessibility("Settings → Computers with a change made on both computers");

    // Keep what the record holds: the conflict is resolved, and Today's line goes.
    await click(".sync-conflict .keep-current");
    await until(async () => !(await present(".sync-conflict")), "the conflict is resolved", 30_000);
    await click("#nav-today");
    await shown("#today");
    await until(async () => !(await present("#today-sync-conflicts")), "Today no longer counts it", 30_000);
  });

  it("a draft edited on both cannot be finalised until one version is chosen", async function () {
    this.timeout(180_000);
    const code = cli(["client", "list"]).find((c) => c.full_name === CLIENT_NAME).code;
    // The desktop starts a draft in the app; the laptop gets it.
    await openNotes();
    await click("#new-note");
    await shown("#note-template");
    await selectValue("#note-template", "free");
    await setValue("#note-field-text", "Slept better this week.");
    await until(async () => (await text("#note-save-status")).includes("Saved"), "the draft is saved", 20_000);
    let draft = null;
    await until(
      async () => {
        cli(["sync", "now"]);
        draft = cli(["note", "list", code]).find((n) => n.status === "draft");
        return Boolean(draft);
      },
      "the laptop has the draft",
      60_000,
    );
    // Both edit it before they sync again.
    cli(["note", "edit", draft.id, "--text", "Slept better this week; typed on the laptop."]);
    await setValue("#note-field-text", "Slept better this week; typed at the surgery.");
    await until(async () => (await text("#note-save-status")).includes("Saved"), "the edit is saved", 20_000);
    // The laptop syncs (again, until the desktop's autosaved edit has reached the server).
    await until(
      async () => {
        cli(["sync", "now"]);
        return cli(["sync", "conflicts"]).some((c) => c.kind === "draft");
      },
      "the laptop holds the draft's two versions",
      60_000,
    );

    // The app too, side by side in Settings → Computers.
    await click("#nav-settings");
    await shown('.sync-conflict[data-kind="draft"]', 60_000);
    const both = await text('.sync-conflict[data-kind="draft"]');
    assert.match(both, /typed on the laptop/);
    assert.match(both, /typed at the surgery/);
    assert.doesNotMatch(both, /\{"text"/, "the note's words, not its storage");
    await reveal(await $('.sync-conflict[data-kind="draft"]'));
    await screenshot("sync-conflict-draft.png");

    // Finalising waits for the choice, and says so.
    await openNotes();
    await click('.note-item[data-status="draft"] .continue-note');
    await shown("#note-finalise");
    await click("#note-finalise");
    await click("#confirm-ok");
    await until(
      async () => /also edited on another computer/.test(await text("dialog[open] [role=alert]")),
      "finalising is refused, and the dialog says why",
      20_000,
    );
    await screenshot("sync-finalise-refused.png");
    await click("dialog[open] [data-cancel]");

    // Take the laptop's version.
    await click("#nav-settings");
    await shown('.sync-conflict[data-kind="draft"]', 30_000);
    await click('.sync-conflict[data-kind="draft"] .keep-other');
    await until(async () => !(await present('.sync-conflict[data-kind="draft"]')), "the draft's conflict is resolved", 30_000);

    // Now it can be signed, with the laptop's words.
    await openNotes();
    await click('.note-item[data-status="draft"] .continue-note');
    await shown("#note-finalise");
    await click("#note-finalise");
    await click("#confirm-ok");
    await until(async () => present('.note-item[data-status="final"]'), "the note is finalised", 30_000);
    assert.match(await text('.note-item[data-status="final"]'), /typed on the laptop/);
  });

  it("locking sends what is waiting; the Unlock screen says when this computer last synced", async function () {
    this.timeout(120_000);
    await click("#lock");
    await shown("#unlock-screen", 30_000);
    assert.match(
      await text("#unlock-last-sync"),
      /^Last synced with your other computers \d\d\/\d\d\/\d{4} \d\d:\d\d\.$/,
    );
    await screenshot("unlock-synced.png");
    // The laptop has everything the desktop made: the same records, the same words.
    cli(["sync", "now"]);
    await setValue("#unlock-passphrase", PASSPHRASE);
    await click("#unlock");
    await shown("#today", 30_000);
    await click("#nav-settings");
    await shown("#sync-compare-words", 30_000);
    await until(
      async () => (await text("#sync-compare-words")) === cli(["sync", "status"]).compare_words,
      "the same words after the lock",
      60_000,
    );
  });

  it("removes the laptop from the practice; the laptop is refused from then on", async function () {
    this.timeout(180_000);
    await click('.sync-device[data-this="false"] .remove');
    await shown("#sync-remove", 10_000);
    assert.match(await text("#sync-remove"), /stays there, encrypted/);
    await setValue("#sync-remove-password", SERVER_PASSWORD);
    // With the recovery key, the practice's keys change too (re-keying).
    await setValue("#sync-remove-recovery", recoveryKey);
    await reveal(await $("#sync-remove"));
    await screenshot("sync-remove.png");
    await click("#sync-remove-confirm");
    await until(async () => /was removed/.test(await text("#sync .ok-text")), "the laptop is removed", 120_000);
    assert.match(await text("#sync .ok-text"), /keys were changed/);
    assert.match(await text('.sync-device[data-this="false"]'), /Removed/);
    assert.equal(await present('.sync-device[data-this="false"] .remove'), false, "nothing more to remove");

    // The laptop's next sync is refused: exit 10, "removed from the practice's computers".
    let refused = null;
    try {
      cli(["sync", "now"]);
    } catch (e) {
      refused = e;
    }
    assert.ok(refused, "the revoked laptop could still sync");
    assert.equal(refused.status, 10, `exit ${refused.status}: ${refused.stderr}`);
    assert.match(String(refused.stderr) + String(refused.stdout), /removed from the practice/);
  });

  it("adds a computer by code from Settings → Computers", async function () {
    this.timeout(240_000);
    await click("#nav-settings");
    await shown("#sync-add-computer", 30_000);
    await reveal(await $("#pair"));
    await click("#sync-add-computer");
    await shown("#pair-code", 30_000);
    const code = await text("#pair-code");
    assert.match(code, /^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{2}$/);
    assert.match(await text("#pair"), /Valid until \d\d:\d\d/);
    await screenshot("sync-add-computer-code.png");
    // The new computer: a second laptop, joining with the code (no recovery key).
    const joining = cliInBackground(
      ["sync", "join", "--server", SYNC_URL, "--username", username, "--code", code, "--name", "Home laptop", "--into", laptop2()],
      { CASEBOOK_SYNC_PASSWORD: SERVER_PASSWORD, CASEBOOK_VAULT: laptop2() },
    );
    await shown("#pair-ask-h", 60_000);
    assert.equal(await text("#pair-ask-h"), "Add “Home laptop”?");
    assert.match(await text("#pair-words"), /^[a-z]+ [a-z]+ [a-z]+ [a-z]+$/);
    await screenshot("sync-add-computer-ask.png");
    await click("#pair-add");
    const end = await joining.ended;
    assert.equal(end.code, 0, `sync join --code: ${end.err}`);
    assert.equal(end.last?.device_name, "Home laptop");
    await until(
      async () => (await $$(".sync-device")).length === 3 && /Home laptop/.test(await text("#sync-devices")),
      "the new computer is listed",
      60_000,
    );
    const names = cli(["client", "list"], { CASEBOOK_VAULT: laptop2() }).map((c) => c.full_name);
    assert.ok(names.includes(CLIENT_NAME) && names.includes(NEW_CLIENT), `the new computer has the records: ${names}`);
  });

  it("one session clock: a session running on either computer shows on the other, and ends from either", async function () {
    this.timeout(240_000);
    const onLaptop2 = (args) => cli(args, { CASEBOOK_VAULT: laptop2() });
    // Started on the new laptop: the desktop's strip shows it, by the laptop's name.
    onLaptop2(["session", "start", "--minutes", "45"]);
    onLaptop2(["sync", "now"]);
    await click("#nav-today");
    await until(
      async () => /^Session running on Home laptop since \d\d:\d\d$/i.test(await text("#clock-elsewhere")),
      "the desktop shows the laptop's session",
      60_000,
    );
    await screenshot("sync-clock-elsewhere.png");
    // Ended from the desktop: the laptop has no session running after its next sync.
    await click("#clock-end-elsewhere");
    await until(async () => /No session running/i.test(await text(".clock")), "the strip is idle again", 20_000);
    await until(
      async () => {
        onLaptop2(["sync", "now"]);
        return onLaptop2(["session", "status"]).running.length === 0;
      },
      "the laptop's session ended",
      60_000,
    );

    // Started on the desktop's clock: the laptop sees it running there, ends it, and the
    // desktop's clock stops by itself.
    await setValue("#adhoc-minutes", "50");
    await click("#start-adhoc");
    await shown("#clock-display", 20_000);
    let seen = [];
    await until(
      async () => {
        onLaptop2(["sync", "now"]);
        seen = onLaptop2(["session", "status"]).running;
        return seen.length === 1;
      },
      "the laptop sees the desktop's session",
      60_000,
    );
    assert.equal(seen[0].computer, "Surgery desktop");
    // +5 min on the desktop: the laptop shows the new planned end.
    const planned = Date.parse(seen[0].ends_at);
    await click("#clock-extend");
    await until(
      async () => {
        onLaptop2(["sync", "now"]);
        const now = onLaptop2(["session", "status"]).running;
        return now.length === 1 && Date.parse(now[0].ends_at) >= planned + 5 * 60_000 - 1000;
      },
      "the laptop sees the desktop's extra five minutes",
      60_000,
    );
    onLaptop2(["session", "end"]);
    onLaptop2(["sync", "now"]);
    await until(async () => !(await present("#clock-display")), "the desktop's clock stops", 60_000);
    assert.match(await text(".clock"), /No session running/i);
  });

  it("a new computer joins by code at its first run; a wrong and an expired code are named", async function () {
    this.timeout(420_000);
    const pair = (env = {}) =>
      cliInBackground(["sync", "pair", "--yes"], { CASEBOOK_VAULT: laptop2(), ...env });
    const codeOf = async (p) => {
      await until(async () => /"code"/.test(p.firstLine()), "sync pair shows a code", 30_000);
      return JSON.parse(p.firstLine()).code;
    };

    await launchFreshProfile("sync-join");
    await click("#first-run-join");
    await shown("#join-url", 30_000);
    await setValue("#join-url", SYNC_URL);
    await click("#join-check");
    await shown("#join-username", 30_000);
    await setValue("#join-username", username);
    await setValue("#join-name", "Consulting room");
    await click("#join-keystore-passphrase");
    await setValue("#join-passphrase", PASSPHRASE);
    await setValue("#join-passphrase-confirm", PASSPHRASE);
    await screenshot("join-by-code.png");

    // A wrong code: the other computer cancels it, and this one says so.
    let offer = pair();
    const right = await codeOf(offer);
    const wrong = (right[0] === "2" ? "3" : "2") + right.slice(1);
    await setValue("#join-password", SERVER_PASSWORD);
    await setValue("#join-code", wrong);
    await click("#join-go");
    await until(async () => /not right/.test(await text("#join-error")), "a wrong code is named", 60_000);
    await screenshot("join-code-wrong.png");
    let end = await offer.ended;
    assert.equal(end.code, 8, `sync pair after a wrong code: ${end.err}`);

    // An expired code.
    offer = pair({ CASEBOOK_PAIR_SECONDS: "2" });
    const stale = await codeOf(offer);
    end = await offer.ended;
    assert.equal(end.code, 8, `an expired sync pair: ${end.err}`);
    await setValue("#join-password", SERVER_PASSWORD);
    await setValue("#join-code", stale);
    await click("#join-go");
    await until(async () => /expired/.test(await text("#join-error")), "an expired code is named", 60_000);

    // The right code: both show the same words, the other computer says yes, the records open.
    offer = pair();
    const code = await codeOf(offer);
    await setValue("#join-password", SERVER_PASSWORD);
    await setValue("#join-code", code.toLowerCase());
    await click("#join-go");
    end = await offer.ended;
    assert.equal(end.code, 0, `sync pair: ${end.err}`);
    assert.equal(end.last?.added?.device_name, "Consulting room");
    await shown("#today", 180_000);
    // The records open at once from the backup, read-only while the changes since arrive
    // (scripts/e2e makes the catch-up wait 5 s first); then the banner goes and the strip
    // says up to date.
    await shown("#catching-up", 20_000);
    assert.match(await text("#sync-strip-text"), /Catching up/);
    await screenshot("join-catching-up.png");
    await gone("#catching-up", 120_000);
    await until(async () => /Up to date/.test(await text("#sync-strip-text")), "the new computer has caught up", 60_000);
    await openFromClients(CLIENT_NAME);
    await click("#nav-settings");
    await shown("#sync-devices", 30_000);
    assert.match(await text('.sync-device[data-this="true"]'), /Consulting room/);
    await until(async () => /^[a-z]+ [a-z]+ [a-z]+ [a-z]+$/.test(await text("#sync-compare-words")), "the compare words", 30_000);
  });
});
