// Start time and idle memory of Casebook against a minimal Tauri 2 window, side by side in
// one run (alternating launches). Run through `scripts/bench-app`, which builds both apps,
// prepares an unlocked-by-keychain vault and starts tauri-driver on 127.0.0.1:4444.
//
// Start: from asking WebDriver for a new session (which launches the app) until the
// unlocked Today screen is on screen (Casebook: one click on Unlock, as a therapist would)
// or the page's content is (the minimal window). Memory: after 5 s idle, the proportional
// set size (PSS, /proc/PID/smaps_rollup) summed over the app and its WebKit processes.

import { readFileSync, readdirSync } from "node:fs";
import { remote } from "webdriverio";

const runs = Number(process.env.BENCH_RUNS || 5);
const apps = {
  casebook: { bin: process.env.CASEBOOK_APP_BIN, ready: "#today" },
  minimal: { bin: process.env.MINIMAL_APP_BIN, ready: "#ready" },
};

function children() {
  const kids = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {}
  }
  return kids;
}

function exeOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
  } catch {
    return "";
  }
}

function pssKb(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** PSS of the app process whose executable is `bin`, plus all its descendants. */
function treePssMb(bin) {
  const kids = children();
  const roots = [...kids.values()].flat().filter((p) => exeOf(p) === bin);
  let total = 0;
  const seen = new Set();
  const parts = {};
  const walk = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    const kb = pssKb(p);
    total += kb;
    const name = exeOf(p).split("/").pop();
    parts[name] = (parts[name] || 0) + kb / 1024;
    for (const c of kids.get(p) || []) walk(c);
  };
  roots.forEach(walk);
  return { mb: total / 1024, processes: seen.size, parts };
}

async function once(name) {
  const app = apps[name];
  const t0 = performance.now();
  const t0Epoch = Date.now();
  const browser = await remote({
    hostname: "127.0.0.1",
    port: 4444,
    logLevel: "error",
    capabilities: {
      browserName: "wry",
      "wdio:enforceWebDriverClassic": true,
      "tauri:options": { application: app.bin },
    },
  });
  try {
    // Wait inside the page (one WebDriver call, the same for both apps): click Unlock as
    // soon as it can be clicked (Casebook), then wait for the ready element and one frame
    // so it has been painted.
    await browser.setTimeout({ script: 30_000 });
    const marks = await browser.executeAsync(
      (readySel, unlockSel, done) => {
        let clickAt = null;
        const tick = () => {
          if (unlockSel) {
            const u = document.querySelector(unlockSel);
            if (u && !u.disabled) {
              clickAt = performance.now();
              u.click();
              unlockSel = null;
            }
          }
          const r = document.querySelector(readySel);
          if (r && r.getClientRects().length > 0) {
            const foundAt = performance.now();
            let frame1 = null;
            requestAnimationFrame(() => {
              frame1 = performance.now();
              requestAnimationFrame(() =>
                done({
                  foundAt,
                  frame1,
                  origin: performance.timeOrigin,
                  clickAt,
                  readyAt: performance.now(),
                  unlockedAt: performance.getEntriesByName("casebook:unlocked")[0]?.startTime ?? null,
                  mountedAt: performance.getEntriesByName("casebook:main-mounted")[0]?.startTime ?? null,
                  allMarks: performance.getEntriesByType("mark").map((m) => [m.name, m.startTime]),
                }),
              );
            });
            return;
          }
          setTimeout(tick, 2);
        };
        tick();
      },
      app.ready,
      name === "casebook" ? "#unlock" : null,
    );
    const startMs = performance.now() - t0;
    // Where the time went: launch until the page began loading (process, window, webview),
    // then the page until Unlock could be clicked, then the unlock until Today was painted.
    const stages = {
      toPage: marks.origin - t0Epoch,
      toUnlock: marks.clickAt ?? marks.readyAt,
      unlockToReady: marks.clickAt === null ? 0 : marks.readyAt - marks.clickAt,
      unlockReply: marks.unlockedAt === null || marks.clickAt === null ? 0 : marks.unlockedAt - marks.clickAt,
      mounted: marks.mountedAt === null || marks.clickAt === null ? 0 : marks.mountedAt - marks.clickAt,
      found: marks.clickAt === null ? 0 : marks.foundAt - marks.clickAt,
      frame1: marks.clickAt === null ? 0 : marks.frame1 - marks.clickAt,
    };
    // BENCH_MARKS=1: every performance.mark() of the page, in ms after the Unlock click (add
    // temporary marks to the UI to see where a stage's time goes).
    if (process.env.BENCH_MARKS && marks.clickAt !== null) {
      const at = (t) => (t - marks.clickAt).toFixed(0);
      console.error(marks.allMarks.map(([n, t]) => `${n} ${at(t)}`).join(" | ") + ` | Today laid out ${at(marks.foundAt)}`);
    }
    await new Promise((r) => setTimeout(r, 5000));
    const mem = treePssMb(app.bin);
    // Casebook: what the pop-out clock window adds, idle for 5 s after it opens.
    let popout = null;
    if (name === "casebook") {
      await browser.execute(() => window.__TAURI_INTERNALS__.invoke("clock_window"));
      await new Promise((r) => setTimeout(r, 5000));
      popout = treePssMb(app.bin).mb - mem.mb;
    }
    // Casebook: the week and the client list, each from its data's arrival to the next
    // painted frame (the screens' `markRender` measures), opened as a person would; "dom" is
    // Svelte's update alone, before the layout.
    const views = {};
    if (name === "casebook") {
      for (const view of ["week", "clients"]) {
        views[view] = await browser.executeAsync((view, done) => {
          performance.clearMeasures(view);
          document.getElementById(`nav-${view}`)?.click();
          const t0 = performance.now();
          const poll = () => {
            const m = performance.getEntriesByName(view, "measure")[0];
            const laid = performance.getEntriesByName(`${view}:laid-out`, "mark").pop();
            const data = performance.getEntriesByName(`${view}:data`, "mark").pop();
            const dom = performance.getEntriesByName(`${view}:data:dom`, "mark").pop();
            if (m)
              done({
                painted: m.duration,
                dom: dom && data ? dom.startTime - data.startTime : null,
                laidOut: laid && data ? laid.startTime - data.startTime : null,
              });
            else if (performance.now() - t0 > 20000) done(null);
            else setTimeout(poll, 20);
          };
          poll();
        }, view);
      }
    }
    return { startMs, stages, popout, views, ...mem };
  } finally {
    await browser.deleteSession();
    // Casebook runs once per vault: the next launch must not find this one still leaving.
    for (let i = 0; i < 200 && [...children().values()].flat().some((p) => exeOf(p) === app.bin); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { casebook: [], minimal: [] };
for (let i = 0; i < runs; i++) {
  for (const name of i % 2 ? ["minimal", "casebook"] : ["casebook", "minimal"]) {
    results[name].push(await once(name));
  }
}
const row = (name) => {
  const r = results[name];
  return {
    start: median(r.map((x) => x.startMs)),
    pss: median(r.map((x) => x.mb)),
    processes: median(r.map((x) => x.processes)),
  };
};
const c = row("casebook");
const m = row("minimal");
console.log(`runs: ${runs} each, alternating; medians`);
console.log(`| | start to ready (ms) | idle PSS (MB) | processes |`);
console.log(`|---|---|---|---|`);
console.log(`| minimal Tauri 2 window | ${m.start.toFixed(0)} | ${m.pss.toFixed(1)} | ${m.processes} |`);
console.log(`| Casebook (unlock → Today) | ${c.start.toFixed(0)} | ${c.pss.toFixed(1)} | ${c.processes} |`);
console.log(`| ratio | ${(c.start / m.start).toFixed(2)}× | ${(c.pss / m.pss).toFixed(2)}× | |`);
for (const name of ["minimal", "casebook"]) {
  const st = (k) => median(results[name].map((x) => x.stages[k])).toFixed(0);
  console.log(
    `${name} stages (medians, ms): launch → page loading ${st("toPage")}, → ${name === "casebook" ? "Unlock clickable" : "ready"} ${st("toUnlock")}, unlock → Today painted ${st("unlockToReady")} (the unlock's reply at ${st("unlockReply")}, main app mounted at ${st("mounted")}, Today laid out at ${st("found")}, first frame at ${st("frame1")})`,
  );
}
for (const view of ["week", "clients"]) {
  const got = results.casebook.map((x) => x.views?.[view]).filter(Boolean);
  if (got.length === 0) {
    console.log(`casebook: ${view} — no render measure (the screen did not report)`);
    continue;
  }
  console.log(
    `casebook: ${view === "week" ? "the week" : "the client list"} drawn ${median(got.map((g) => g.laidOut ?? 0)).toFixed(1)} ms after its data arrived (its elements made in ${median(got.map((g) => g.dom ?? 0)).toFixed(1)}), painted ${median(got.map((g) => g.painted)).toFixed(1)} ms after (median of ${got.length}; goal < 50 ms)`,
  );
}
console.log(
  `casebook: the pop-out clock window adds ${median(results.casebook.map((x) => x.popout)).toFixed(1)} MB PSS (median; goal < 30 MB)`,
);
for (const name of ["minimal", "casebook"]) {
  const last = results[name][results[name].length - 1].parts;
  console.log(`${name} PSS by process (last run, MB): ` + Object.entries(last).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", "));
}
