// Search snippets come from the core with matches in [brackets]. They are split into plain
// text parts for the template to render (Svelte escapes every part), so nothing the
// therapist typed is ever read as markup.

export interface SnippetPart {
  text: string;
  mark: boolean;
}

/** "a [tram] ride" → [{a }, {tram, mark}, { ride}]. An unclosed "[" stays plain text. */
export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  const push = (text: string, mark: boolean) => {
    if (text === "") return;
    const last = parts[parts.length - 1];
    if (last && last.mark === mark) last.text += text;
    else parts.push({ text, mark });
  };
  let i = 0;
  while (i < snippet.length) {
    const open = snippet.indexOf("[", i);
    if (open === -1) {
      push(snippet.slice(i), false);
      break;
    }
    const close = snippet.indexOf("]", open + 1);
    if (close === -1) {
      push(snippet.slice(i), false);
      break;
    }
    push(snippet.slice(i, open), false);
    push(snippet.slice(open + 1, close), true);
    i = close + 1;
  }
  return parts;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The same parts as HTML, every part escaped (for copying, never for {@html} of raw text). */
export function snippetToHtml(snippet: string): string {
  return snippetParts(snippet)
    .map((p) => (p.mark ? `<mark>${escapeHtml(p.text)}</mark>` : escapeHtml(p.text)))
    .join("");
}
