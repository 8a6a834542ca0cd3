// Small, patient helpers for the story spec. Every step waits for the element it needs;
// none sleeps for a fixed time. Svelte replaces elements as state changes, so no helper
// keeps an element handle across a wait: each wait re-reads the DOM on every poll, and a
// handle that went stale between lookup and use is looked up again.

import { mkdirSync } from "node:fs";
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

/** Saves a screenshot into CASEBOOK_SCREENSHOTS, when that folder is given. */
export async function screenshot(name) {
  const dir = process.env.CASEBOOK_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await browser.saveScreenshot(join(dir, name));
}

/** "49:57" → 2997; "-02:15" → -135. */
export function clockSeconds(s) {
  // "+02:15" is time over (negative); "-02:15" is the core's own notation for it.
  const m = /^([+-]?)(\d+):(\d\d)$/.exec(s.trim());
  if (!m) throw new Error(`Not a clock reading: ${JSON.stringify(s)}`);
  const v = Number(m[2]) * 60 + Number(m[3]);
  return m[1] ? -v : v;
}
