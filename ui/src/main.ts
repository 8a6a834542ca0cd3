import "./app.css";
import { mount } from "svelte";
import App from "./App.svelte";
import { comfort } from "./lib/comfort.svelte";
import { chooseFonts } from "./lib/fonts";

async function start() {
  // The font lists, the saved text size and theme, before anything is drawn (the clock
  // window: no text size).
  chooseFonts();
  comfort.start(location.hash !== "#clock");
  // Working on the UI in a plain browser: `VITE_CASEBOOK_MOCK=1 npm run dev` stands in a
  // pretend backend. Only the dev server can load it; a build never contains it.
  if (import.meta.env.DEV && import.meta.env.VITE_CASEBOOK_MOCK) {
    const { installMockBackend } = await import("./dev/mockBackend");
    installMockBackend(import.meta.env.VITE_CASEBOOK_MOCK);
  }
  const target = document.getElementById("app")!;
  // The small always-on-top clock window loads the same page with "#clock"; its component is
  // a chunk of its own, so the main window never loads it.
  if (location.hash === "#clock") {
    const { default: ClockWindow } = await import("./ClockWindow.svelte");
    return mount(ClockWindow, { target });
  }
  return mount(App, { target });
}

export default start();
