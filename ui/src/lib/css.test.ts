import { afterEach, describe, expect, it } from "vitest";
import { appCss, componentCss, installCss, removeCss, styleOf } from "./css-testing";

afterEach(() => {
  removeCss();
  document.body.innerHTML = "";
});

// (jsdom does not cascade a border colour given as var(): the fill and the text tell.)
const LOOK = ["background", "color", "cursor"];

describe("disabled buttons", () => {
  it("look the same, and disabled, whatever their kind", () => {
    installCss(appCss());
    document.body.innerHTML = `
      <button id="plain" disabled>Save</button>
      <button id="primary" class="primary" disabled>Continue</button>
      <button id="danger" class="danger" disabled>Erase</button>
      <button id="outline" class="danger-outline" disabled>Destroy records…</button>
      <button id="small" class="small primary" disabled>Start</button>
      <button id="enabled" class="primary">Continue</button>`;
    const look = (id: string) => styleOf(document.getElementById(id)!, LOOK);
    const disabled = look("plain");
    expect(disabled).toEqual({
      background: "var(--disabled-bg)",
      color: "var(--disabled-text)",
      cursor: "not-allowed",
    });
    for (const id of ["primary", "danger", "outline", "small"]) expect(look(id), id).toEqual(disabled);
    // An enabled primary button keeps its colour.
    expect(look("enabled").background).toBe("var(--accent)");
  });

  it("a hovered disabled button stays disabled-looking", () => {
    installCss(appCss());
    document.body.innerHTML = `<button id="b" class="primary is-hover" disabled>Start ad-hoc session</button>`;
    expect(styleOf(document.getElementById("b")!, ["background"]).background).toBe("var(--disabled-bg)");
  });

  it("a disabled quiet button stays plain text, greyed", () => {
    installCss(appCss());
    document.body.innerHTML = `<button id="q" class="quiet" disabled>Show the key again</button>`;
    expect(styleOf(document.getElementById("q")!, ["color", "background"])).toEqual({
      color: "var(--disabled-text)",
      background: "transparent",
    });
  });
});

describe("the side menu", () => {
  function nav(hovered: "today" | "clients" | null) {
    installCss(appCss(), componentCss("screens/MainApp.svelte"));
    const item = (name: string, current: boolean) =>
      `<li class="svelte-test"><button id="nav-${name}" class="nav-item svelte-test${hovered === name ? " is-hover" : ""}"${
        current ? ' aria-current="page"' : ""
      }>${name}</button></li>`;
    document.body.innerHTML = `<nav class="svelte-test"><ul class="plain-list svelte-test">${item("today", true)}${item("clients", false)}</ul></nav>`;
    const look = (id: string) => styleOf(document.getElementById(id)!, ["background", "box-shadow", "color", "border-color"]);
    return { current: look("nav-today"), other: look("nav-clients") };
  }

  it("marks the current page", () => {
    const { current, other } = nav(null);
    expect(current["box-shadow"]).toContain("var(--accent)");
    expect(current.color).toBe("var(--accent-dark)");
    expect(other["box-shadow"]).not.toContain("var(--accent)");
  });

  it("keeps the current page marked while another item is hovered", () => {
    const still = nav(null).current;
    removeCss();
    const { current, other } = nav("clients");
    expect(current).toEqual(still);
    expect(other.background).toBe("var(--nav-hover)");
    expect(other["box-shadow"]).not.toContain("var(--accent)");
  });

  it("keeps the current page marked while it is hovered itself", () => {
    const still = nav(null).current;
    removeCss();
    expect(nav("today").current).toEqual(still);
  });
});
