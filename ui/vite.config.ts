/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Dates in tests are checked in the UK time zone (across BST/GMT changes).
process.env.TZ = "Europe/London";

export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    watch: { ignored: ["**/src-tauri/**"] },
  },
  envPrefix: ["VITE_", "TAURI_ENV_"],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.50 (Linux), WKWebView (macOS) and WebView2 (Windows) all handle this.
    target: "safari16",
    sourcemap: false,
    // The first chunk holds only the shell and the Unlock screen; every other screen is a
    // dynamic import (src/lib/screens.ts). Only the entry's own imports are preloaded from
    // index.html; a lazy chunk's imports are fetched when it is (in parallel, not eagerly).
    // Every web view we run in supports <link rel="modulepreload">: no polyfill.
    modulePreload: { polyfill: false },
    // Each lazy chunk brings its own CSS, loaded before the chunk runs (no unstyled flash).
    cssCodeSplit: true,
  },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["./vitest.setup.ts"],
    env: { TZ: "Europe/London" },
  },
});
