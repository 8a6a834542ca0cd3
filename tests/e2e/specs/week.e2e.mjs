// A therapist's week, in the real app: a fortnightly series booked from the client's file,
// one session cancelled late and one marked did not attend from the session panel, today's
// started and ended on the clock, its note written from the strip's "Write note" and
// finalised — counting the clicks from End to a finalised note — and Notes to finish empty
// afterwards; a risk flag on a note shown on the client header and Today; Ctrl+K to the
// client; the week view by keyboard alone.
//
// Runs in a profile of its own (helpers.mjs `launchFreshProfile`).

import assert from "node:assert/strict";
import {
  checkAccessibility,
  click,
  gone,
  launchFreshProfile,
  present,
  removeProfiles,
  screenshot,
  selectValue,
  setUpPassphraseVault,
  setValue,
  shown,
  text,
  until,
} from "./helpers.mjs";

const PASSPHRASE = "correct horse battery staple";
const CLIENT = "Rhiannon Pryce";

/** Today, and `days` from it, as the app's date fields take them (dd/mm/yyyy). */
function ukDay(days = 0) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  return `${String(d.getDate()).padStart(2, "0")}/${String(d.getMonth() + 1).padStart(2, "0")}/${d.getFullYear()}`;
}

/** The element with the keyboard focus: its id and class names. */
async function focused() {
  return browser.execute(() => ({ id: document.activeElement?.id ?? "", cls: document.activeElement?.className ?? "" }));
}

/** Presses keys as a person would (the driver's key events, not a script's). */
async function keys(...k) {
  await browser.keys(k);
}

/** Ctrl+K, part of her name, Enter: the client's file opens. */
async function goToClient() {
  await keys("Control", "k");
  await shown("#goto-input");
  await setValue("#goto-input", "rhian");
  await until(async () => (await text("#goto-list")).includes(CLIENT), "Go to client finds her");
  await keys("Enter");
  await until(async () => (await text("#client-h")) === CLIENT, "her file opens");
}

describe("A therapist's week", () => {
  before(async function () {
    if (!process.env.CASEBOOK_APP_BIN) this.skip();
    await launchFreshProfile("week");
    await setUpPassphraseVault(PASSPHRASE);
  });
  after(removeProfiles);

  it("goes to a client with Ctrl+K and books a fortnightly series from the file", async () => {
    await click("#nav-clients");
    await click("#add-client");
    await setValue("#client-name", CLIENT);
    await click("#client-save");
    await until(async () => (await text("#caseload")).includes(CLIENT), `${CLIENT} is listed`);

    await click("#nav-today");
    await shown("#today");
    await goToClient();
    await shown("#header-start");
    await screenshot("client-header.png");

    // Book from the header: the sessions tab with the form; the first today (just after
    // midnight, so it is today whenever the test runs), then every fortnight, four in all.
    await click("#header-book");
    await shown("#book-form");
    // The picker opens on the form's day (today): a key moves a day on, Enter chooses it;
    // then the date typed back over it, as a person may do either.
    await click("#book-date-pick");
    await shown("#book-date-month");
    await until(async () => (await browser.execute(() => document.activeElement?.dataset.day ?? "")) !== "", "the calendar has the focus");
    await screenshot("date-picker.png");
    await keys("ArrowRight");
    await keys("Enter");
    await until(async () => (await browser.$("#book-date").getValue()) === ukDay(1), "the picker sets tomorrow");
    assert.equal(await present("#book-date-month"), false, "the calendar closes");
    await setValue("#book-date", ukDay(0));
    await setValue("#book-time", "00:05");
    await selectValue("#book-repeat", "fortnightly");
    await setValue("#book-count", "4");
    await click("#book-save");
    await until(async () => /^Booked 4 sessions for/.test(await text("#book-result")), "the series is booked");
    await until(async () => (await browser.$$("#client-sessions tbody tr")).length === 4, "four sessions are listed");
    await screenshot("client-sessions.png");
    await checkAccessibility("the client file with the series booked");
  });

  it("cancels one late and marks one did not attend, from the session panel", async () => {
    // Newest first: rows 0..3 are +6, +4, +2 weeks and today.
    const rows = async () => browser.$$("#client-sessions tbody tr");
    const openRow = async (i) => {
      const row = (await rows())[i];
      await (await row.$('button[aria-haspopup="dialog"]')).click();
      await shown("#session-panel");
    };
    await openRow(2);
    await setValue("#panel-reason", "train strike");
    await screenshot("session-panel.png");
    await checkAccessibility("the session panel");
    await click("#panel-mark-cancelled_late");
    await gone("#session-panel");
    await until(async () => /Cancelled late/.test(await text("#client-sessions")), "one is cancelled late");

    await openRow(1);
    await click("#panel-mark-did_not_attend");
    await gone("#session-panel");
    await until(async () => /Did not attend/.test(await text("#client-sessions")), "one is marked did not attend");
  });

  it("starts today's session, ends it, and finalises its note in three clicks", async function () {
    this.timeout(120_000);
    await click("#nav-today");
    await shown("#today .appt");
    await click("#today .appt button.primary"); // Start
    await shown("#clock-end");
    await click("#clock-end");
    await shown("#clock-undo");
    // End waits ten seconds for Undo; then the strip offers the session's note.
    await shown("#clock-write-note", 30_000);

    let clicks = 0;
    await click("#clock-write-note");
    clicks++;
    await shown("#note-session");
    await until(async () => (await text("#note-session")).startsWith("For the session on"), "the note is for the session");
    const field = (await browser.$$("textarea[id^='note-field-']"))[0];
    await field.setValue("Attended on time. Talked through the week.");
    await click("#note-finalise");
    clicks++;
    await click("#confirm-ok");
    clicks++;
    await until(async () => (await text("#panel-notes")).includes("Finalised"), "the note is finalised");
    assert.equal(clicks, 3, "End → finalised note in at most three clicks");

    // Nothing left to finish on Today.
    await click("#nav-today");
    await shown("#today");
    await browser.pause(500); // the to-do list is asked for just after the day is painted
    assert.equal(await present("#to-finish-h"), false, "Notes to finish is empty");
    await screenshot("today-after-session.png");
  });

  it("flags a risk or safeguarding concern on a note, and sees it on the header and Today", async function () {
    this.timeout(60_000);
    await goToClient();
    assert.equal(await present("#header-risk"), false, "no flag yet");
    await click("#header-new-note");
    await shown("#note-risk-flagged");
    const field = (await browser.$$("textarea[id^='note-field-']"))[0];
    await field.setValue("Phoned after the session: does not feel safe at home. Safeguarding steps agreed.");
    await click("#note-risk-flagged");
    await until(async () => (await text("#note-save-status")).startsWith("Saved"), "the draft and its flag are saved");
    await click("#note-back");
    await shown("#header-risk");
    assert.match(await text("#header-risk"), /Risk or safeguarding concern flagged on/);
    await screenshot("client-header-risk.png");

    await click("#nav-today");
    await shown("#today .appt");
    await until(async () => (await text("#today .appt")).includes("Risk"), "Today's session shows the flag");
  });

  it("walks the week by keyboard alone", async () => {
    await keys("Control", "2");
    await shown("#week .day");
    await until(async () => (await browser.$$("#week .session")).length >= 1, "this week's session shows");
    await screenshot("week.png");
    // Tab from the heading to the first session.
    for (let i = 0; i < 8 && !(await focused()).cls.includes("session"); i++) await keys("Tab");
    assert.ok((await focused()).cls.includes("session"), "Tab reaches a session");
    // Two weeks on: the session cancelled late.
    await keys("PageDown");
    await keys("PageDown");
    await until(async () => /Cancelled late/.test(await text("#week .grid")), "the week two ahead shows the late cancellation");
    await until(async () => (await focused()).cls.includes("session"), "the focus is on that week's session");
    await keys("Enter");
    await shown("#session-panel");
    assert.match(await text("#panel-h"), new RegExp(CLIENT));
    await keys("Escape");
    await gone("#session-panel");
    await keys("Home");
    await until(async () => (await browser.$("#week-this").getAttribute("disabled")) !== null, "Home is this week again");
    await checkAccessibility("the week");
  });
});
