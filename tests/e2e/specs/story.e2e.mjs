// A therapist's first day with Casebook, start to finish, as a person would click through
// it: set up the vault, add a client, write and finalise a note, amend it, find it, lock and
// unlock, check the audit trail, back up and verify, run a session clock, and import the
// day's appointments from a booking calendar's .ics file, answer a subject-access request
// and erase a client.
//
// Needs a fresh vault (the first-run screen must show).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  attr,
  checkAccessibility,
  click,
  clockSeconds,
  gone,
  present,
  retryStale,
  reveal,
  screenshot,
  selectValue,
  setValue,
  shown,
  text,
  until,
  clientRow,
  openClient,
} from "./helpers.mjs";

const PASSPHRASE = "correct horse battery staple";
const NEW_PASSPHRASE = "tram stop lighthouse kettle";
const CLIENT_NAME = "Siân O'Brien";
const NOTE_TEXT = "Client described panic on the tram";
const ADDENDUM_TEXT = "Panic eased after breathing work";
const NEW_CLIENT_NAME = "Ffion Llewelyn-Hughes";

describe("A therapist's first day with Casebook", () => {
  let recoveryKey = "";
  let clientCode = "";

  it("sets up a passphrase vault and confirms the recovery key", async () => {
    await shown("#first-run", 60_000);
    await checkAccessibility("the first-run screen");
    await click("#keystore-passphrase");
    await setValue("#passphrase", PASSPHRASE);
    await setValue("#passphrase-confirm", PASSPHRASE);
    await click("#create-vault");

    // Key derivation can take a few seconds on a slow machine.
    await shown("#recovery-key", 60_000);
    recoveryKey = (await text("#recovery-key")).replace(/\s+/g, "");
    assert.match(recoveryKey, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){8}$/, `unexpected recovery key ${recoveryKey}`);
    await screenshot("first-run.png");
    await checkAccessibility("the recovery key step");

    assert.equal(
      await browser.execute(() => document.querySelector("#recovery-continue")?.disabled),
      true,
      "Continue must wait for the stored-safely box",
    );
    await click("#stored-safely");
    await click("#recovery-continue");

    const groups = recoveryKey.split("-");
    const asked = [];
    for (const sel of ["#recovery-group-a", "#recovery-group-b"]) {
      await shown(sel);
      const n = Number(await attr(sel, "data-group"));
      assert.ok(n >= 1 && n <= 9, `data-group out of range: ${n}`);
      asked.push(n);
      // Typed as a person might: lower case.
      await setValue(sel, groups[n - 1].toLowerCase());
    }
    assert.notEqual(asked[0], asked[1], "two different groups are asked for");
    await click("#recovery-confirm");

    await shown("#today", 30_000);
    await screenshot("today.png");
  });

  it("adds a client", async () => {
    await click("#nav-clients");
    await shown("#clients");
    await click("#add-client");
    await setValue("#client-name", CLIENT_NAME);
    await click("#client-save");

    await until(async () => (await clientRow(CLIENT_NAME)) !== null, `${CLIENT_NAME} is listed`);
    const seen = await retryStale(async () => {
      const row = await clientRow(CLIENT_NAME);
      return { code: await row.getAttribute("data-code"), text: await row.getText() };
    }, "read the client row");
    clientCode = seen.code;
    assert.match(clientCode, /^C-[0-9A-Z]{4}$/, `unexpected client code ${clientCode}`);
    assert.ok(seen.text.includes(clientCode), "the row shows the client code");
    await screenshot("clients.png");

    await openClient(CLIENT_NAME);
    await until(async () => (await text("#client-code")) === clientCode, "the client file shows the code");
  });

  it("writes a note, finalises it and adds an addendum", async () => {
    await click("#tab-notes");
    await click("#new-note");
    await shown("#note-template");
    await selectValue("#note-template", "free");
    await setValue("#note-field-text", NOTE_TEXT);

    await until(async () => (await text("#note-save-status")).includes("Saved"), "the draft is saved", 20_000);
    await screenshot("note-editor.png");
    await checkAccessibility("the note editor");

    await click("#note-finalise");
    await click("#confirm-ok");
    await until(async () => present('.note-item[data-status="final"]'), "the note is finalised");
    assert.ok((await text('.note-item[data-status="final"]')).includes(NOTE_TEXT));

    await click("#addendum-open");
    await setValue("#addendum-text", ADDENDUM_TEXT);
    await click("#addendum-save");
    await until(async () => present(".addendum"), "the addendum is shown");
    assert.ok((await text(".addendum")).includes(ADDENDUM_TEXT));
    await screenshot("client-file.png");
  });

  it("finds the note by searching", async () => {
    await click("#nav-search");
    await setValue("#search-input", "tram");
    await click("#search-submit");
    await until(async () => {
      for (const hit of await $$("#search-results .search-hit")) {
        if ((await hit.getText()).includes(clientCode)) return true;
      }
      return false;
    }, `a search hit for ${clientCode}`);
    assert.equal((await text("#search-results .search-hit mark")).toLowerCase(), "tram", "the match is highlighted");
    await screenshot("search.png");
  });

  it("locks and unlocks with the passphrase", async () => {
    await click("#lock");
    await shown("#unlock-screen");
    assert.equal(await present("#nav-today"), false, "nothing of the app stays on screen");
    await screenshot("unlock.png");
    await checkAccessibility("the Unlock screen");
    await setValue("#unlock-passphrase", PASSPHRASE);
    await click("#unlock");
    await shown("#today", 60_000);
  });

  it("forgets the passphrase and restores access with the recovery key", async () => {
    await click("#lock");
    await shown("#unlock-screen");
    await click("#recover-open");
    await shown("#recover-form");
    // A key cut short is caught in the form; one with a character changed is refused by the
    // core (its checksum no longer matches). Neither changes anything.
    await setValue("#recover-key", "ABCD-EFGH");
    await setValue("#recover-passphrase", NEW_PASSPHRASE);
    await setValue("#recover-passphrase-confirm", NEW_PASSPHRASE);
    await click("#recover-submit");
    await until(async () => /36 letters and digits/i.test(await text("#recover-error")), "a short key is refused");
    const altered = (recoveryKey[0] === "7" ? "8" : "7") + recoveryKey.slice(1);
    await setValue("#recover-key", altered);
    await click("#recover-submit");
    await until(async () => /typo/i.test(await text("#recover-error")), "a mistyped key is refused");
    assert.equal(await present("#nav-today"), false, "still locked");

    await setValue("#recover-key", recoveryKey.toLowerCase()); // as a person might type it
    await click("#recover-submit");
    await shown("#today", 60_000);

    // From now on the new passphrase opens the vault, and the old one no longer does.
    await click("#lock");
    await shown("#unlock-screen");
    await setValue("#unlock-passphrase", PASSPHRASE);
    await click("#unlock");
    await until(async () => /not right/i.test(await text("#unlock-error")), "the old passphrase is refused");
    await setValue("#unlock-passphrase", NEW_PASSPHRASE);
    await click("#unlock");
    await shown("#today", 60_000);
  });

  it("started a second time, leaves the open window in charge", async function () {
    if (!process.env.CASEBOOK_APP_BIN) this.skip(); // the UI alone in a browser has no app to start
    // A second launch on the same vault does not open a second app (two session clocks
    // over one clock file): it asks the open one to come forward and leaves.
    const second = spawnSync(process.env.CASEBOOK_APP_BIN, [], { encoding: "utf8", timeout: 30_000 });
    assert.equal(second.error, undefined, `the second start ended by itself (${second.error})`);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /already open on this vault; its window is brought forward/);
    // The open app carries on as before.
    await click("#nav-clients");
    await shown("#clients");
  });

  it("verifies the audit trail", async () => {
    await click("#nav-audit");
    await shown("#audit");
    await click("#audit-verify");
    await until(async () => /verified/i.test(await text("#audit-result")), "the audit trail is verified", 60_000);
    await screenshot("audit.png");
  });

  it("backs up now and verifies the backup", async () => {
    await click("#nav-backups");
    await shown("#backups");
    await click("#backup-now");
    await until(async () => /backup made/i.test(await text("#backup-result")), "the backup is made", 60_000);

    // The list is refreshed after the backup: the newest (first) row is the one just made.
    await until(async () => present(".backup-row"), "the backup is listed");
    await click(".backup-row .backup-verify");
    await until(
      async () => (await attr(".backup-row .backup-status", "data-ok")) === "true",
      "the backup is verified OK",
      60_000,
    );
    assert.match(await text(".backup-row .backup-status"), /verified ok/i);
    await screenshot("backups.png");
  });

  it("runs an ad-hoc session clock", async () => {
    await click("#nav-today");
    await shown("#today");
    await setValue("#adhoc-minutes", "50");
    await click("#start-adhoc");

    await shown("#clock-display");
    // Read afresh each time: the display is re-rendered as the clock ticks.
    await until(async () => /^\d\d:\d\d$/.test(await text("#clock-display")), "the clock shows mm:ss");
    const first = await text("#clock-display");
    await browser.pause(2_500); // the one deliberate wait: let the clock run
    const second = await text("#clock-display");

    assert.match(second, /^\d\d:\d\d$/);
    assert.ok(clockSeconds(first) <= 50 * 60 && clockSeconds(first) > 49 * 60, `a 50-minute session shows ${first}`);
    assert.ok(clockSeconds(second) < clockSeconds(first), `the clock counts down (${first} then ${second})`);
    await screenshot("session-clock.png");

    await click("#clock-end");
    // End waits 10 s with an Undo ("Ended · Undo") before the session is ended.
    await shown("#clock-undo");
    await gone("#clock-display");
    await until(async () => /No session running/.test(await text(".strip .clock")), "the session has ended", 20_000);
  });

  it("imports today's appointments from a calendar file", async () => {
    // Today at 12:00 and 13:00 local time, written in UTC as booking services do; one
    // booking for the existing client, one for somebody new, with details never kept.
    const at = (h) => {
      const d = new Date();
      d.setHours(h, 0, 0, 0);
      return d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    };
    const event = (uid, name, h) =>
      [
        "BEGIN:VEVENT",
        `UID:${uid}@e2e.example`,
        `SUMMARY:${name}`,
        `DTSTART:${at(h)}`,
        "DURATION:PT50M",
        "LOCATION:12 Hidden Street",
        "DESCRIPTION:call 07700 900123",
        "END:VEVENT",
      ].join("\r\n");
    const ics = [
      "BEGIN:VCALENDAR",
      "VERSION:2.0",
      "PRODID:-//Casebook e2e//EN",
      event("first", CLIENT_NAME, 12),
      event("second", NEW_CLIENT_NAME, 13),
      "END:VCALENDAR",
      "",
    ].join("\r\n");
    const file = join(mkdtempSync(join(tmpdir(), "casebook-e2e-")), "bookings.ics");
    writeFileSync(file, ics);

    await click("#nav-settings");
    const input = await $("#calendar-file");
    await input.waitForExist();
    await reveal(input);
    // A person picks the file in the dialog; the driver types its path into the input.
    await input.setValue(file);
    await shown("#calendar-preview-table", 30_000);
    const rows = await text("#calendar-preview-table");
    assert.ok(rows.includes(CLIENT_NAME) && rows.includes(NEW_CLIENT_NAME), `preview lists both: ${rows}`);
    assert.match(await text("#calendar-counts"), /2 new/);
    assert.ok((await text("#calendar-new-clients")).includes(NEW_CLIENT_NAME));
    await reveal(await $("#calendar-preview-table"));
    await screenshot("calendar-preview.png");

    await click("#calendar-apply");
    // "Imported: 2 new, …" — not the preview's "Nothing is imported until you confirm".
    await until(async () => /^Imported:/.test(await text("#calendar-result")), "the import is confirmed", 30_000);

    await click("#nav-today");
    await shown("#today");
    await until(async () => {
      const names = [];
      for (const n of await $$("#today .appt .name")) names.push(await n.getText());
      return names.includes(CLIENT_NAME) && names.includes(NEW_CLIENT_NAME);
    }, "today lists both imported sessions", 20_000);
  });

  it("answers a subject-access request, then erases the client", async () => {
    await click("#nav-clients");
    await shown("#clients");
    await until(async () => (await clientRow(CLIENT_NAME)) !== null, `${CLIENT_NAME} is listed`);
    await openClient(CLIENT_NAME);
    await click("#rights-tab");

    // Saved in the Downloads folder (no folder chosen, so no picker opens), shown in words with
    // "Show in folder" (not clicked: it would open the file manager).
    await click("#sar-create");
    await until(async () => /subject-access/i.test(await text("#sar-result")), "the bundle is written", 30_000);
    await shown("#sar-show");
    await screenshot("rights.png");

    // Therapy is open and a note was written today: inside the retention period, so the
    // first attempt is refused and an explicit decision is asked for.
    await click("#erase-client");
    await setValue("#erase-reason", "client asked for erasure");
    await click("#erase-confirm");
    await click("#erase-override", 20_000);
    await click("#erase-confirm");
    await shown("#clients", 30_000);
    await until(async () => (await clientRow(CLIENT_NAME)) === null, `${CLIENT_NAME} is gone`, 20_000);
    assert.ok((await clientRow(NEW_CLIENT_NAME)) !== null, "the other client stays");
  });

  it("has no serious accessibility problems on any screen, light and dim, at 100 % and 150 % text", async function () {
    this.timeout(300_000);
    const screens = ["today", "week", "clients", "search", "audit", "retention", "backups", "settings"];
    /** Settings → Display: a theme and a text size, applied at once. */
    const display = async (theme, size) => {
      await click("#nav-settings");
      await shown("#display-settings");
      await click(`label[for="theme-${theme}"]`);
      await click(`label[for="text-size-${size}"]`);
      if (theme !== "system") {
        await until(
          async () => (await browser.execute(() => document.documentElement.dataset.theme)) === theme,
          `the ${theme} theme is applied`,
        );
      }
      // The root font size follows the text size (16 px at 100 %).
      await until(
        async () => (await browser.execute(() => getComputedStyle(document.documentElement).fontSize)) === `${(16 * size) / 100}px`,
        `${size} % text is applied`,
      );
    };
    /** What shows once each screen has loaded (not its loading state). */
    const ready = {
      today: "#today",
      week: "#week .day",
      clients: ".client-row",
      search: "#search-input",
      audit: "#audit table",
      retention: "#retention",
      backups: "#backups",
      settings: "#display-settings",
    };
    for (const [theme, size] of [["light", 100], ["dim", 100], ["light", 150], ["dim", 150]]) {
      await display(theme, size);
      for (const s of screens) {
        await click(`#nav-${s}`);
        await until(async () => (await attr(`#nav-${s}`, "aria-current")) === "page", `${s} is chosen`);
        await shown(ready[s]);
        await checkAccessibility(`${s} (${theme}, ${size} % text)`);
        // The two screens no other step photographs.
        if (theme === "light" && size === 100 && (s === "retention" || s === "settings" || s === "week")) await screenshot(`${s}.png`);
      }
      await click("#nav-clients");
      await shown("#clients");
      await until(async () => (await clientRow(NEW_CLIENT_NAME)) !== null, `${NEW_CLIENT_NAME} is listed`);
      await openClient(NEW_CLIENT_NAME);
      await checkAccessibility(`the client file (${theme}, ${size} % text)`);
    }
    await click("#nav-today");
    await shown("#today");
    await screenshot("today-dim-150.png");
    await display("dim", 100);
    await click("#nav-today");
    await shown("#today");
    await screenshot("today-dim.png");
    await display("light", 150);
    await click("#nav-today");
    await shown("#today");
    await screenshot("today-150.png");
    await display("system", 100);
  });
});
