// Test-only (never imported by the app): the real stylesheets in jsdom, so a test can ask
// which rule wins. jsdom has no pointer, so `:hover` is written as the class `is-hover`
// (the same specificity); a component's <style> is compiled by Svelte with the scoping
// class `svelte-test`, which the test's markup carries.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "svelte/compiler";

const SRC = join(__dirname, "..");

/** The text of a file under ui/src. */
export function srcText(path: string): string {
  return readFileSync(join(SRC, path), "utf8");
}

/** app.css as written. */
export function appCss(): string {
  return srcText("app.css");
}

/** A component's scoped CSS as Svelte emits it, with `svelte-test` as its scoping class. */
export function componentCss(path: string): string {
  const out = compile(srcText(path), { filename: path, css: "external", cssHash: () => "svelte-test" });
  return out.css?.code ?? "";
}

/** Puts the sheets in the document, `:hover` turned into `.is-hover`. */
export function installCss(...sheets: string[]): void {
  for (const css of sheets) {
    const style = document.createElement("style");
    style.textContent = css.replace(/:hover\b/g, ".is-hover");
    document.head.appendChild(style);
  }
}

/** Removes every stylesheet a test installed. */
export function removeCss(): void {
  document.head.querySelectorAll("style").forEach((s) => s.remove());
}

/** The cascaded (not resolved: `var(--x)` stays as written) values of `props` for `el`. */
export function styleOf(el: Element, props: string[]): Record<string, string> {
  const cs = getComputedStyle(el);
  return Object.fromEntries(props.map((p) => [p, cs.getPropertyValue(p).trim()]));
}
