// Small, patient helpers for the story spec. Every step waits for the element it needs;
// none sleeps for a fixed time.

import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** Waits for an element to be shown and returns it. */
export async function shown(selector, timeout) {
  const el = await $(selector);
  await el.waitForDisplayed(timeout ? { timeout } : undefined);
  return el;
}

/** Brings an element to the middle of the window (some drivers scroll it only to the edge). */
export async function reveal(el) {
  await browser.execute((node) => node.scrollIntoView({ block: "center", inline: "nearest" }), el);
}

/** Clicks an element once it can be clicked. */
export async function click(selector, timeout) {
  const el = await $(selector);
  await el.waitForDisplayed(timeout ? { timeout } : undefined);
  await reveal(el);
  await el.waitForClickable(timeout ? { timeout } : undefined);
  await el.click();
  return el;
}

/** The element's visible text, trimmed. */
export async function text(selector) {
  return (await (await $(selector)).getText()).trim();
}

/**
 * Sets an input's or textarea's value reliably: types it like a person (so the app sees
 * real key and input events), checks the result, and if the driver mangled it (some
 * drivers drop non-ASCII keys) sets it through the DOM with the events a framework listens
 * for. Ends only once the field holds exactly `value`.
 */
export async function setValue(selector, value) {
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

/** Waits until `f()` is truthy, with a message that says what was awaited. */
export async function until(f, what, timeout = 20_000) {
  await browser.waitUntil(f, { timeout, timeoutMsg: `Timed out waiting until ${what}` });
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
  const m = /^(-?)(\d+):(\d\d)$/.exec(s.trim());
  if (!m) throw new Error(`Not a clock reading: ${JSON.stringify(s)}`);
  const v = Number(m[2]) * 60 + Number(m[3]);
  return m[1] ? -v : v;
}
