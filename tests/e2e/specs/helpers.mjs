// Small, patient helpers for the story spec. Every step waits for the element it needs;
// none sleeps for a fixed time. Svelte replaces elements as state changes, so no helper
// keeps an element handle across a wait: each wait re-reads the DOM on every poll, and a
// handle that went stale between lookup and use is looked up again.

import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Waits for an element to be shown and returns it. Use the handle at once: if the element may
 * be replaced later, read it again through `text`, `attr` or `until`.
 */
export async function shown(selector, timeout) {
  return retryStale(async () => {
    const el = await $(selector);
    await el.waitForDisplayed(timeout ? { timeout } : undefined);
    return el;
  }, `${selector} is shown`, timeout);
}

/** An attribute of the first element matching `selector`, read in one step (null if none). */
export async function attr(selector, name) {
  return browser.execute(
    (sel, n) => document.querySelector(sel)?.getAttribute(n) ?? null,
    selector,
    name,
  );
}

/** Brings an element to the middle of the window (some drivers scroll it only to the edge). */
export async function reveal(el) {
  await browser.execute((node) => node.scrollIntoView({ block: "center", inline: "nearest" }), el);
}

/** True for the driver's "this element is no longer in the page" errors. */
export function isStale(e) {
  const s = `${e?.name ?? ""} ${e?.message ?? ""}`;
  return /stale element|no such element|element is not attached|not connected to the dom/i.test(s);
}

/**
 * Runs `f` (which looks its elements up afresh) again when an element it used was replaced
 * under it, for up to `timeout` ms. Any other error is thrown at once.
 */
export async function retryStale(f, what, timeout = 20_000) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (!isStale(e)) throw e;
      if (Date.now() > end) throw new Error(`${what}: the element kept being replaced (${e?.message ?? e})`);
      await browser.pause(50);
    }
  }
}

/** Clicks an element once it can be clicked (looked up again if it is replaced meanwhile). */
export async function click(selector, timeout) {
  return retryStale(async () => {
    const el = await $(selector);
    await el.waitForDisplayed(timeout ? { timeout } : undefined);
    await reveal(el);
    await el.waitForClickable(timeout ? { timeout } : undefined);
    await el.click();
    return el;
  }, `click ${selector}`);
}

/**
 * The element's visible text, trimmed, read from the DOM in one step (so it can never act on
 * a stale handle); "" when no element matches or it is not shown (hidden text never
 * satisfies a wait).
 */
export async function text(selector) {
  const t = await browser.execute((sel) => {
    const node = document.querySelector(sel);
    if (!node || node.getClientRects().length === 0) return "";
    const style = getComputedStyle(node);
    return style.visibility === "hidden" ? "" : node.innerText;
  }, selector);
  return (t ?? "").trim();
}

/** Whether an element matching `selector` is in the page now. */
export async function present(selector) {
  return browser.execute((sel) => document.querySelector(sel) !== null, selector);
}

/** Waits until no element matches `selector` (e.g. a panel being removed). */
export async function gone(selector, timeout = 20_000) {
  await until(async () => !(await present(selector)), `${selector} is gone`, timeout);
}

/**
 * Sets an input's or textarea's value reliably: types it like a person (so the app sees
 * real key and input events), checks the result, and if the driver mangled it (some
 * drivers drop non-ASCII keys) sets it through the DOM with the events a framework listens
 * for. Ends only once the field holds exactly `value`.
 */
export async function setValue(selector, value) {
  return retryStale(() => setValueOnce(selector, value), `type into ${selector}`);
}

async function setValueOnce(selector, value) {
  const el = await $(selector);
  await el.waitForDisplayed();
  await el.waitForEnabled();
  await reveal(el);
  await el.click();
  await el.clearValue();
  await el.setValue(value);
  if ((await el.getValue()) !== value) {
    await browser.execute(
      (node, v) => {
        const proto = Object.getPrototypeOf(node);
        const setter = Object.getOwnPropertyDescriptor(proto, "value")?.set;
        if (setter) setter.call(node, v);
        else node.value = v;
        node.dispatchEvent(new Event("input", { bubbles: true }));
        node.dispatchEvent(new Event("change", { bubbles: true }));
      },
      el,
      value,
    );
  }
  await browser.waitUntil(async () => (await el.getValue()) === value, {
    timeout: 5_000,
    timeoutMsg: `${selector} did not take the value ${JSON.stringify(value)}`,
  });
  return el;
}

/** Chooses an option of a <select> by its value. */
export async function selectValue(selector, value) {
  return retryStale(() => selectValueOnce(selector, value), `select in ${selector}`);
}

async function selectValueOnce(selector, value) {
  const el = await $(selector);
  await el.waitForEnabled();
  try {
    await el.selectByAttribute("value", value);
  } catch {
    /* fall through to the DOM route below */
  }
  if ((await el.getValue()) !== value) {
    await browser.execute(
      (node, v) => {
        node.value = v;
        node.dispatchEvent(new Event("input", { bubbles: true }));
        node.dispatchEvent(new Event("change", { bubbles: true }));
      },
      el,
      value,
    );
  }
  await browser.waitUntil(async () => (await el.getValue()) === value, {
    timeout: 5_000,
    timeoutMsg: `${selector} did not select ${value}`,
  });
}

/**
 * Waits until `f()` is truthy, with a message that says what was awaited. A poll that met a
 * replaced element counts as "not yet" and is tried again.
 */
export async function until(f, what, timeout = 20_000) {
  const poll = async () => {
    try {
      return await f();
    } catch (e) {
      if (isStale(e)) return false;
      throw e;
    }
  };
  await browser.waitUntil(poll, { timeout, timeoutMsg: `Timed out waiting until ${what}` });
}

/**
 * Saves a screenshot into CASEBOOK_SCREENSHOTS, when that folder is given.
 *
 * Without a GPU the app runs WebKit without compositing (src-tauri/src/rendering.rs), where
 * a snapshot waits for the next painted frame and a still page paints none. So a pixel in
 * the corner, one step from transparent, changes on every frame until the snapshot is in.
 */
export async function screenshot(name) {
  const dir = process.env.CASEBOOK_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await browser.execute(() => {
    const dot = document.createElement("div");
    dot.id = "e2e-frame-nudge";
    dot.setAttribute("aria-hidden", "true");
    dot.style.cssText = "position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none";
    document.body.append(dot);
    let odd = false;
    const paint = () => {
      if (!dot.isConnected) return;
      odd = !odd;
      dot.style.background = odd ? "rgba(0,0,0,0.01)" : "rgba(0,0,0,0.02)";
      requestAnimationFrame(paint);
    };
    paint();
  });
  try {
    await browser.saveScreenshot(join(dir, name));
  } finally {
    await browser.execute(() => document.getElementById("e2e-frame-nudge")?.remove());
  }
}

/** "49:57" → 2997; "-02:15" → -135. */
export function clockSeconds(s) {
  // "+02:15" is time over (negative); "-02:15" is the core's own notation for it.
  const m = /^([+-]?)(\d+):(\d\d)$/.exec(s.trim());
  if (!m) throw new Error(`Not a clock reading: ${JSON.stringify(s)}`);
  const v = Number(m[2]) * 60 + Number(m[3]);
  return m[1] ? -v : v;
}

/** Single-quoted for sh, whatever the path holds. */
const sh = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Profiles made by `launchFreshProfile`, removed by `removeProfiles`. */
const profiles = [];

/**
 * Ends the current app and starts it again in an empty profile of its own: a launcher script
 * sets HOME, the XDG folders and CASEBOOK_VAULT, then runs the app with whatever arguments the
 * driver passes. Returns once the first-run screen shows. So a spec never touches the vault
 * another spec uses, whichever runs first.
 */
export async function launchFreshProfile(name) {
  const app = process.env.CASEBOOK_APP_BIN;
  const dir = mkdtempSync(join(tmpdir(), `casebook-e2e-${name}-`));
  profiles.push(dir);
  const home = join(dir, "home");
  for (const d of ["data", "config", "cache"]) mkdirSync(join(home, d), { recursive: true });
  const launcher = join(dir, "casebook-app");
  writeFileSync(
    launcher,
    [
      "#!/bin/sh",
      `export HOME=${sh(home)}`,
      `export XDG_DATA_HOME=${sh(join(home, "data"))}`,
      `export XDG_CONFIG_HOME=${sh(join(home, "config"))}`,
      `export XDG_CACHE_HOME=${sh(join(home, "cache"))}`,
      `export CASEBOOK_VAULT=${sh(join(dir, "vault"))}`,
      `exec ${sh(app)} "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(launcher, 0o755);
  await browser.reloadSession({
    browserName: "wry",
    "wdio:enforceWebDriverClassic": true,
    "tauri:options": { application: launcher },
  });
  await shown("#first-run", 60_000);
  return dir;
}

/** Back to the app as wdio.conf.mjs starts it (so the runner ends it), and the profiles go. */
export async function removeProfiles() {
  if (profiles.length === 0) return;
  await browser
    .reloadSession({
      browserName: "wry",
      "wdio:enforceWebDriverClassic": true,
      "tauri:options": { application: process.env.CASEBOOK_APP_BIN },
    })
    .catch(() => {});
  for (const dir of profiles.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * From the first-run screen to Today: a passphrase vault, its recovery key confirmed.
 * Returns the recovery key.
 */
export async function setUpPassphraseVault(passphrase) {
  await click("#keystore-passphrase");
  await setValue("#passphrase", passphrase);
  await setValue("#passphrase-confirm", passphrase);
  await click("#create-vault");
  await shown("#recovery-key", 60_000);
  const recoveryKey = (await text("#recovery-key")).replace(/\s+/g, "");
  assert.match(recoveryKey, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){8}$/, `unexpected recovery key ${recoveryKey}`);
  await click("#stored-safely");
  await click("#recovery-continue");
  const groups = recoveryKey.split("-");
  for (const sel of ["#recovery-group-a", "#recovery-group-b"]) {
    await shown(sel);
    const n = Number(await attr(sel, "data-group"));
    await setValue(sel, groups[n - 1]);
  }
  await click("#recovery-confirm");
  await shown("#today", 30_000);
  return recoveryKey;
}

/** The client row whose text contains `name`, or null. Use it at once (rows are re-rendered). */
export async function clientRow(name) {
  for (const row of await $$(".client-row")) {
    if ((await row.getText()).includes(name)) return row;
  }
  return null;
}

/** Opens the client file of the row that names `name` (looked up again if it was replaced). */
export async function openClient(name) {
  await retryStale(async () => {
    const row = await clientRow(name);
    assert.ok(row, `${name} is listed`);
    await reveal(row);
    await row.click();
  }, `open ${name}`);
  await shown("#client-file");
}

/**
 * Settings → Off-site copy, up to the Connect button: the server's address checked (where it
 * keeps data shown), a new account's username and password typed twice. The caller names the
 * computer if it wants to and clicks #offsite-connect.
 */
export async function connectOffsite(url, username, password) {
  await click("#nav-settings");
  await shown("#offsite");
  // The section asks the core first; the address field shows once it knows it is not connected.
  await shown("#offsite-url", 30_000);
  await reveal(await $("#offsite-url"));
  await setValue("#offsite-url", url);
  await click("#offsite-check");
  // Where the server keeps data is shown before anything else is sent.
  await until(
    async () => /^This server keeps data in: \S/.test(await text("#offsite-locations")),
    "the server's locations are shown",
    30_000,
  );
  await setValue("#offsite-username", username);
  await setValue("#offsite-password", password);
  await click("#offsite-signup");
  await setValue("#offsite-password-confirm", password);
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core inside the app's own window on what is on screen now, and fails on any
 * serious or critical violation, naming the rule and the elements. `where` says which screen
 * and settings, for the message.
 */
export async function checkAccessibility(where) {
  // axe's source goes in as part of the driver's script (no eval inside the page, which the
  // app's content security policy forbids).
  const result = await browser.executeAsync(
    `if (!window.axe) {\n${axeSource}\n}
    const done = arguments[arguments.length - 1];
    window.axe
      .run(document, { resultTypes: ["violations"] })
      .then((r) =>
        done(
          r.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({
              id: v.id,
              impact: v.impact,
              help: v.help,
              nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + n.failureSummary),
            })),
        ),
      )
      .catch((e) => done([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }]));`,
  );
  const lines = result.map((v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.join("\n    ")}`);
  assert.equal(result.length, 0, `axe found ${result.length} serious or critical problems on ${where}:\n${lines.join("\n")}`);
}
