// The session clock in the room, as a therapist uses it: the pop-out clock window (frameless,
// on top) in its three phases — calm, amber from the first warning, red in overrun — with
// End that waits ten seconds for Undo; its size and place remembered when it is closed and
// opened again; and, once the records lock during a session, the clock on the locked window
// (time only, never who) whose buttons work without unlocking.
//
// Runs in a profile of its own (helpers.mjs `launchFreshProfile`).

import assert from "node:assert/strict";
import {
  checkAccessibility,
  click,
  clockSeconds,
  gone,
  launchFreshProfile,
  removeProfiles,
  screenshot,
  setUpPassphraseVault,
  setValue,
  shown,
  text,
  until,
} from "./helpers.mjs";

const PASSPHRASE = "correct horse battery staple";

/** The main window's handle, and the pop-out's once it is open. */
let main = "";

/**
 * Switches the driver to the pop-out clock window; when it is not open, opens it first with
 * the strip's "Pop out" (so the main window must be unlocked then).
 */
async function toClockWindow() {
  await browser.switchToWindow(main);
  if ((await browser.getWindowHandles()).length === 1) {
    await click("#clock-popout");
    await until(async () => (await browser.getWindowHandles()).length > 1, "the clock window opens", 20_000);
  }
  const other = (await browser.getWindowHandles()).find((h) => h !== main);
  await browser.switchToWindow(other);
  await until(async () => /#clock$/.test(await browser.getUrl()), "the clock window has loaded");
}

/**
 * Closes the pop-out with its own × and goes back to the main window. The press is made from
 * inside the page a moment after the driver's call returns: a driver's click on a button that
 * closes its own window can fail with "no such window" although the window did close.
 */
async function closePopOut() {
  await shown("#clock-close");
  await browser.execute(() => {
    setTimeout(() => document.getElementById("clock-close")?.click(), 50);
  });
  await browser.switchToWindow(main);
  await until(async () => (await browser.getWindowHandles()).length === 1, "the clock window closes");
}

/** The pop-out's phase, as its colour class: phase-calm, phase-warning or phase-overrun. */
async function phaseClass() {
  return browser.execute(() => {
    const m = document.querySelector("main.mini");
    return m ? [...m.classList].find((c) => c.startsWith("phase-")) ?? "" : "";
  });
}

describe("The session clock in the room", () => {
  before(async function () {
    if (!process.env.CASEBOOK_APP_BIN) this.skip();
    await launchFreshProfile("clock");
    await setUpPassphraseVault(PASSPHRASE);
    main = await browser.getWindowHandle();
  });
  after(removeProfiles);

  it("pops out a calm clock, whose End waits for Undo", async () => {
    await setValue("#adhoc-minutes", "50");
    await click("#start-adhoc");
    await shown("#clock-display");

    await toClockWindow();
    await until(async () => /^\d\d:\d\d$/.test(await text("#clock-display")), "the pop-out shows mm:ss");
    assert.ok(clockSeconds(await text("#clock-display")) > 49 * 60);
    assert.equal(await phaseClass(), "phase-calm");
    await shown("#clock-close");
    await screenshot("popout-calm.png");
    await checkAccessibility("the pop-out clock (calm)");

    // End does not end at once: "Ended · Undo", and Undo keeps the session — still running
    // after the ten seconds the End would have waited.
    await click("#clock-end");
    await shown("#clock-undo");
    await click("#clock-undo");
    await shown("#clock-display");
    await browser.pause(11_000); // the deliberate wait: past the Undo time
    await shown("#clock-end");
    assert.ok(clockSeconds(await text("#clock-display")) > 48 * 60, "the session still runs after Undo");
  });

  it("remembers the pop-out's size and place when it is closed and opened again", async () => {
    await browser.setWindowRect(140, 120, 420, 210);
    await until(async () => {
      const r = await browser.getWindowRect();
      return r.width === 420 && r.height === 210;
    }, "the pop-out takes the new size");
    const before = await browser.getWindowRect();
    await closePopOut();

    await toClockWindow();
    await until(async () => {
      const r = await browser.getWindowRect();
      return r.width === before.width && r.height === before.height;
    }, `the pop-out opens again at ${before.width}×${before.height}`);
    const after = await browser.getWindowRect();
    assert.ok(Math.abs(after.x - before.x) <= 2 && Math.abs(after.y - before.y) <= 2,
      `the pop-out opens where it was (${before.x},${before.y}), not at (${after.x},${after.y})`);

    // End it for real from the pop-out: ten seconds later the session is over.
    await click("#clock-end");
    await shown("#clock-undo");
    await until(async () => /No more sessions today|Next/.test(await text("main.mini")), "the session has ended", 20_000);
  });

  it("turns amber from the first warning and red in overrun, also on the locked window", async function () {
    this.timeout(180_000);
    await browser.switchToWindow(main);
    // One minute: inside the first warning (10 min) from the start.
    await setValue("#adhoc-minutes", "1");
    await click("#start-adhoc");
    await shown("#clock-display");

    await toClockWindow();
    await until(async () => (await phaseClass()) === "phase-warning", "the pop-out is amber");
    await screenshot("popout-amber.png");

    // The records lock (as auto-lock would ten minutes into a session); the clock stays.
    await browser.switchToWindow(main);
    await click("#lock");
    await shown("#locked-clock", 20_000);
    // Time only: nothing but the time, the phase and the clock's own words and buttons.
    const locked = (await text("#locked-clock")).replace(/\+?\d\d:\d\d/, "TIME");
    const words = locked.split(/\s+/).filter(Boolean);
    const allowed = new Set(
      ["time", "in", "session", "ending", "soon", "overrun", "+5", "min", "end", "the", "records", "stay", "locked."],
    );
    assert.deepEqual(
      words.filter((w) => !allowed.has(w.toLowerCase())),
      [],
      `the locked clock shows only the time: ${locked}`,
    );
    await screenshot("unlock-with-clock.png");
    await checkAccessibility("the locked window with the clock");

    // Past the planned minute: overrun, "+mm:ss", everywhere.
    await until(async () => (await text("#locked-clock-display")).startsWith("+"), "the locked clock shows overrun", 75_000);
    await toClockWindow();
    await until(async () => (await phaseClass()) === "phase-overrun", "the pop-out is red");
    assert.match(await text("#clock-display"), /^\+\d\d:\d\d$/);
    await screenshot("popout-overrun.png");
    await checkAccessibility("the pop-out clock (overrun)");
    await closePopOut();

    // End from the locked window, without unlocking: Undo for ten seconds, then it ends.
    await browser.switchToWindow(main);
    await click("#locked-clock-end");
    await shown("#locked-clock-undo");
    await gone("#locked-clock", 20_000);

    // Unlocking finds no session running (the end was recorded at unlock).
    await setValue("#unlock-passphrase", PASSPHRASE);
    await click("#unlock");
    await shown("#today", 30_000);
    await until(async () => /No session running/.test(await text(".strip .clock")), "no session is running after unlock");
  });
});
