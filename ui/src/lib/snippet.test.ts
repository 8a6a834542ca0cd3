import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import { escapeHtml, snippetParts, snippetToHtml } from "./snippet";
import Snippet from "../components/Snippet.svelte";

describe("snippetParts", () => {
  it("splits bracketed matches out as marks", () => {
    expect(snippetParts("panic on the [tram] home")).toEqual([
      { text: "panic on the ", mark: false },
      { text: "tram", mark: true },
      { text: " home", mark: false },
    ]);
  });

  it("handles several matches, a match at either end, and no match", () => {
    expect(snippetParts("[sleep] diary and [sleep]")).toEqual([
      { text: "sleep", mark: true },
      { text: " diary and ", mark: false },
      { text: "sleep", mark: true },
    ]);
    expect(snippetParts("nothing matched")).toEqual([{ text: "nothing matched", mark: false }]);
    expect(snippetParts("")).toEqual([]);
  });

  it("leaves an unclosed bracket as plain text", () => {
    expect(snippetParts("a [b")).toEqual([{ text: "a [b", mark: false }]);
    expect(snippetParts("a ] b")).toEqual([{ text: "a ] b", mark: false }]);
  });

  it("drops empty brackets", () => {
    expect(snippetParts("a [] b")).toEqual([{ text: "a  b", mark: false }]);
  });
});

describe("snippetToHtml", () => {
  it("escapes everything except its own marks", () => {
    expect(snippetToHtml('<script>alert("x")</script> [tram] & co')).toBe(
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <mark>tram</mark> &amp; co",
    );
    expect(snippetToHtml("[<b>bold</b>]")).toBe("<mark>&lt;b&gt;bold&lt;/b&gt;</mark>");
    expect(escapeHtml(`'"<>&`)).toBe("&#39;&quot;&lt;&gt;&amp;");
  });
});

describe("the Snippet component", () => {
  let component: ReturnType<typeof mount> | null = null;
  afterEach(() => {
    if (component) unmount(component);
    component = null;
    document.body.innerHTML = "";
  });

  function render(text: string): HTMLElement {
    const target = document.createElement("div");
    document.body.appendChild(target);
    component = mount(Snippet, { target, props: { text } });
    flushSync();
    return target;
  }

  it("renders matches as <mark>", () => {
    const el = render("panic on the [tram] home");
    const marks = el.querySelectorAll("mark");
    expect(marks).toHaveLength(1);
    expect(marks[0].textContent).toBe("tram");
    expect(el.textContent).toBe("panic on the tram home");
  });

  it("shows markup in a snippet as text, never as elements", () => {
    const el = render('<script>alert(1)</script> <img src=x onerror="alert(2)"> [<b>tram</b>]');
    expect(el.querySelector("script")).toBeNull();
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(el.textContent).toContain("<script>alert(1)</script>");
    expect(el.querySelector("mark")?.textContent).toBe("<b>tram</b>");
    expect(el.innerHTML).toContain("&lt;script&gt;");
  });
});
