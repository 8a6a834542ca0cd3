// WebdriverIO configuration for the Casebook story test.
//
// Normal use (the desktop app): a shell script starts `tauri-driver` on 127.0.0.1:4444 and
// sets CASEBOOK_APP_BIN to the built app; then `npm test` here. This file never starts
// tauri-driver itself. Screenshots go to CASEBOOK_SCREENSHOTS (a folder), if set.
//
// UI-only use (no Rust build): with CASEBOOK_E2E_URL set (e.g. http://localhost:1420 with the
// UI's dev server run as `VITE_CASEBOOK_MOCK=1 npm run dev`), the same story runs in headless
// Chromium through a chromedriver already listening on 127.0.0.1:4444.

import { mkdirSync } from "node:fs";
import { join } from "node:path";

const browserUrl = process.env.CASEBOOK_E2E_URL || "";

const tauriCapabilities = {
  browserName: "wry",
  "wdio:enforceWebDriverClassic": true,
  "tauri:options": { application: process.env.CASEBOOK_APP_BIN },
};

const chromeCapabilities = {
  browserName: "chrome",
  "wdio:enforceWebDriverClassic": true,
  "goog:chromeOptions": {
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,860"],
  },
};

export const config = {
  runner: "local",
  hostname: "127.0.0.1",
  port: 4444,
  specs: ["./specs/**/*.e2e.mjs"],
  maxInstances: 1,
  capabilities: [browserUrl ? chromeCapabilities : tauriCapabilities],
  logLevel: "warn",
  bail: 0,
  waitforTimeout: 20_000,
  connectionRetryTimeout: 120_000,
  connectionRetryCount: 3,
  framework: "mocha",
  reporters: ["spec"],
  mochaOpts: {
    ui: "bdd",
    timeout: 120_000,
    // One story: once a step fails, the later ones can only fail too.
    bail: true,
  },

  onPrepare() {
    if (!browserUrl && !process.env.CASEBOOK_APP_BIN) {
      throw new Error("Set CASEBOOK_APP_BIN to the built Casebook app (and start tauri-driver on 127.0.0.1:4444).");
    }
    if (process.env.CASEBOOK_SCREENSHOTS) mkdirSync(process.env.CASEBOOK_SCREENSHOTS, { recursive: true });
  },

  async before() {
    if (browserUrl) await browser.url(browserUrl);
  },

  // A failed step leaves a picture of what was on screen.
  async afterTest(test, _context, { passed }) {
    const dir = process.env.CASEBOOK_SCREENSHOTS;
    if (passed || !dir) return;
    const name = `failed-${test.title.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}.png`;
    await browser.saveScreenshot(join(dir, name)).catch(() => {});
  },
};
