// The off-site copy, end to end, as a therapist would click through it: set up a vault with
// a client, connect Settings → Off-site copy to a Casebook server (opening a new account),
// send a backup and verify it; then, on a "new computer" (a second, empty profile), restore
// the records from the server at first run and find the client again.
//
// Needs the desktop app (CASEBOOK_APP_BIN; the browser-only mode skips this spec) and a
// casebook-sync server at CASEBOOK_E2E_SYNC_URL with open sign-up and its data kept in the
// UK or EU/EEA (plain http:// only on this computer, e.g. http://127.0.0.1:8787). Skipped
// when either is missing.
//
// Each part runs in a profile of its own: the WebDriver session is reloaded with a small
// launcher script that gives the app a fresh HOME, XDG folders and CASEBOOK_VAULT before
// starting it. So this spec never touches the vault the story spec uses, whichever runs first,
// and the second part really starts with no vault at all.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  attr,
  click,
  connectOffsite,
  launchFreshProfile,
  present,
  removeProfiles,
  retryStale,
  reveal,
  screenshot,
  setUpPassphraseVault,
  setValue,
  shown,
  text,
  until,
  clientRow,
} from "./helpers.mjs";

const APP = process.env.CASEBOOK_APP_BIN || "";
const SYNC_URL = process.env.CASEBOOK_E2E_SYNC_URL || "";
const PASSPHRASE = "correct horse battery staple";
const SERVER_PASSWORD = "long enough passphrase";
const CLIENT_NAME = "Morwenna Tregarthen";

describe("An off-site copy on a Casebook server, and a restore from it on a new computer", () => {
  const username = `e2e-${Date.now()}`;
  let recoveryKey = "";
  /** The first computer's profile folder (its backups sit beside its vault). */
  let firstProfile = "";
  before(function () {
    if (!APP || !SYNC_URL) this.skip();
  });

  after(removeProfiles);

  it("sets up a passphrase vault with a client, in a fresh profile", async function () {
    this.timeout(180_000);
    firstProfile = await launchFreshProfile("first");
    recoveryKey = await setUpPassphraseVault(PASSPHRASE);

    await click("#nav-clients");
    await shown("#clients");
    await click("#add-client");
    await setValue("#client-name", CLIENT_NAME);
    await click("#client-save");
    await until(async () => (await clientRow(CLIENT_NAME)) !== null, `${CLIENT_NAME} is listed`);
  });

  it("connects Settings → Off-site copy to the server, opening a new account", async function () {
    this.timeout(120_000);
    await connectOffsite(SYNC_URL, username, SERVER_PASSWORD);
    assert.equal(await browser.execute(() => document.querySelector("#offsite-device-name")?.value), "This computer");
    await click("#offsite-connect");

    await shown("#offsite-backup-now", 60_000);
    assert.equal(await text("#offsite-account-name"), username);
    assert.match(await text("#offsite-result"), /^Connected/);
    assert.equal(await present("#offsite-problem"), false, "the server could be asked");
  });

  it("backs up to the server now and verifies that backup", async function () {
    this.timeout(300_000);
    await click("#offsite-backup-now");
    await until(
      async () => /^Off-site backup sent/.test(await text("#offsite-result")),
      "the off-site backup is sent",
      180_000,
    );
    await until(async () => present("#offsite-list .offsite-backup"), "the backup is listed on the server");
    assert.match(await text("#offsite-usage-text"), / used$/, "the storage used is shown");

    await click("#offsite-list .offsite-backup .verify");
    await until(
      async () => (await attr("#offsite-list .offsite-backup .offsite-status", "data-ok")) === "true",
      "the off-site backup is verified OK",
      180_000,
    );
    assert.match(await text("#offsite-list .offsite-backup .offsite-status"), /verified ok/i);
    await reveal(await $("#offsite"));
    await screenshot("offsite.png");

    // The Backups screen shows both destinations now.
    await click("#nav-backups");
    await shown("#backups");
    await until(async () => /^Off-site/.test(await text("#backup-dest-offsite")), "the off-site status is on the Backups screen");
    assert.equal(await attr("#backup-dest-offsite", "data-state"), "ok");

    // And a local backup file, for the restore-from-a-file path on a new computer below.
    await click("#backup-now");
    await until(async () => /backup made/i.test(await text("#backup-result")), "the local backup is made", 60_000);
  });

  it("on a new computer, restores the records from the server at first run", async function () {
    this.timeout(300_000);
    await launchFreshProfile("second");
    await click("#first-run-restore-server");
    await setValue("#restore-server-url", SYNC_URL);
    await click("#restore-server-check");
    await until(
      async () => /^This server keeps data in: \S/.test(await text("#restore-server-locations")),
      "the server's locations are shown",
      30_000,
    );
    await setValue("#restore-server-username", username);
    await setValue("#restore-server-password", SERVER_PASSWORD);
    await setValue("#restore-server-recovery-key", recoveryKey.toLowerCase()); // as a person might type it
    await click("#restore-server-sign-in");

    await shown("#restore-server-list", 60_000);
    const chosen = await retryStale(
      () => browser.execute(() => document.querySelector("#restore-server-list input[type=radio]:checked")?.value ?? null),
      "read the chosen backup",
    );
    assert.ok(chosen, "a backup is chosen for the restore");
    assert.match(await text(".restore-server-backup"), /verified ok/i, "the backup verified on the first computer shows as verified");

    // The first vault kept its keys behind a passphrase: so does the restored one.
    await click("#restore-server-keystore-passphrase");
    await setValue("#restore-server-passphrase", PASSPHRASE);
    await setValue("#restore-server-passphrase-confirm", PASSPHRASE);
    await click("#restore-server-go");
    await shown("#today", 240_000);

    await click("#nav-clients");
    await shown("#clients");
    await until(async () => (await clientRow(CLIENT_NAME)) !== null, `${CLIENT_NAME} is restored`, 30_000);
    await screenshot("offsite-restored.png");

    // The restored vault is connected to the account as this computer.
    await click("#nav-settings");
    await shown("#offsite");
    await until(async () => (await text("#offsite-account-name")) === username, "the restored vault is connected", 60_000);
  });

  it("on another new computer, restores the records from a backup file at first run", async function () {
    this.timeout(300_000);
    // The file the first computer wrote (its backups sit beside its vault by default).
    const folder = join(firstProfile, "vault-backups");
    const files = readdirSync(folder).filter((f) => /^casebook-.*\.tar$/.test(f)).sort();
    assert.ok(files.length > 0, `a backup file in ${folder}`);
    const file = join(folder, files[files.length - 1]);

    await launchFreshProfile("third");
    await click("#first-run-restore-file");
    // A person picks the file in the desktop's file picker, which the driver cannot reach:
    // "Type a path instead" opens the field for the full path.
    await click("#restore-file-path-type");
    await setValue("#restore-file-path", file);
    await until(
      async () => /^Backup made \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(await text("#restore-file-path-chosen")),
      "the chosen file is named by its date",
    );
    await setValue("#restore-file-key", recoveryKey);
    await click("#restore-file-keystore-passphrase");
    await setValue("#restore-file-passphrase", PASSPHRASE);
    await setValue("#restore-file-passphrase-confirm", PASSPHRASE);
    await click("#restore-file-go");
    await shown("#today", 240_000);

    await click("#nav-clients");
    await shown("#clients");
    await until(async () => (await clientRow(CLIENT_NAME)) !== null, `${CLIENT_NAME} is restored from the file`, 30_000);
  });
});
