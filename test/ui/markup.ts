/**
 * A strict little tokenizer for the markup Tessera renders: every `<` must open a well-formed tag whose attributes
 * are all double-quoted (or bare), so an escaped value that broke out of an attribute or added a tag makes it
 * throw. Also checks that elements nest and close properly.
 */

export interface Tag {
  kind: "open" | "close";
  name: string;
  attrs: Map<string, string>;
  /** Offset of the `<` in the document. */
  start: number;
  /** Offset just past the `>`. */
  end: number;
}

const VOID = new Set(["meta", "link", "input", "br", "hr", "img"]);
const OPEN = /^<([a-z][a-z0-9-]*)((?:\s+[a-z][a-z0-9:-]*(?:="[^"<>]*")?)*)\s*(\/?)>/i;
const CLOSE = /^<\/([a-z][a-z0-9-]*)>/i;
const ATTR = /\s+([a-z][a-z0-9:-]*)(?:="([^"]*)")?/gi;

export function tokenize(doc: string): Tag[] {
  const tags: Tag[] = [];
  let i = doc.indexOf("<");
  if (!doc.startsWith("<!doctype html>\n")) throw new Error("no doctype");
  i = doc.indexOf("<", "<!doctype html>".length);
  const stack: string[] = [];
  while (i !== -1) {
    const rest = doc.slice(i);
    const close = CLOSE.exec(rest);
    const open = close ? null : OPEN.exec(rest);
    if (!close && !open) throw new Error(`malformed markup at ${i}: ${rest.slice(0, 60)}`);
    if (close) {
      const name = close[1]!.toLowerCase();
      const top = stack.pop();
      if (top !== name) throw new Error(`</${name}> closes <${top}> at ${i}`);
      tags.push({ kind: "close", name, attrs: new Map(), start: i, end: i + close[0].length });
      i = doc.indexOf("<", i + close[0].length);
    } else if (open) {
      const name = open[1]!.toLowerCase();
      const attrs = new Map<string, string>();
      for (const m of open[2]!.matchAll(ATTR)) {
        const key = m[1]!.toLowerCase();
        if (attrs.has(key)) throw new Error(`duplicate attribute ${key} on <${name}>`);
        attrs.set(key, m[2] ?? "");
      }
      tags.push({ kind: "open", name, attrs, start: i, end: i + open[0].length });
      if (!VOID.has(name) && open[3] !== "/") stack.push(name);
      i = doc.indexOf("<", i + open[0].length);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(", ")}`);
  return tags;
}

export function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The open tags named `name`. */
export function elements(tags: Tag[], name: string): Tag[] {
  return tags.filter((t) => t.kind === "open" && t.name === name);
}

/** The tags between an open tag and its matching close tag. */
export function inside(tags: Tag[], open: Tag): Tag[] {
  const from = tags.indexOf(open);
  let depth = 0;
  for (let j = from + 1; j < tags.length; j++) {
    const t = tags[j]!;
    if (t.name === open.name) {
      if (t.kind === "open") depth++;
      else if (depth === 0) return tags.slice(from + 1, j);
      else depth--;
    }
  }
  throw new Error(`<${open.name}> is not closed`);
}

/** Text content (unescaped) between an open tag and its close tag. */
export function textOf(doc: string, tags: Tag[], open: Tag): string {
  const content = inside(tags, open);
  const closeIndex = tags.indexOf(open) + content.length + 1;
  return decodeEntities(doc.slice(open.end, tags[closeIndex]!.start).replace(/<[^>]*>/g, ""));
}
