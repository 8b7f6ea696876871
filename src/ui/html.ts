/**
 * Building HTML without injection.
 *
 * - Every value interpolated into an `html` template is escaped (`& < > " '`), whether it lands in text or in a
 *   quoted attribute value. Only `SafeHtml` passes through unescaped, and only `html` results and `raw()` make one:
 *   an object that merely looks like one (`{ value: "<b>" }`, a fake prototype) is refused.
 * - Arrays are joined without a separator; `null`, `undefined` and `false` render nothing. Anything else that is
 *   not a string or a number (`true`, objects, functions, symbols) is a programming error and throws.
 * - The static parts of each template are scanned once: a value in an unquoted attribute or tag-name position
 *   throws (a string there could add attributes), and `SafeHtml` inside a quoted attribute value throws (markup is
 *   not an attribute value). A fragment of whole attributes, built with `html`, may be placed inside a tag.
 */

const BRAND: unique symbol = Symbol("tessera.SafeHtml");

/** Markup that is known to be safe: the result of `html` or `raw()`. */
export class SafeHtml {
  readonly #value: string;

  /** Not for use outside this module: call `html` or `raw()`. */
  constructor(brand: typeof BRAND, value: string) {
    if (brand !== BRAND) throw new TypeError("SafeHtml is created by html`` or raw() only");
    this.#value = value;
  }

  /** True only for instances this module made (a private field cannot be forged). */
  static is(value: unknown): value is SafeHtml {
    return typeof value === "object" && value !== null && #value in value;
  }

  toString(): string {
    return this.#value;
  }
}

/** What may be interpolated into an `html` template. */
export type HtmlValue = SafeHtml | string | number | false | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Trusted markup, inserted as is. Never pass anything derived from a request or from stored user data. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(BRAND, markup);
}

/** Where an interpolation sits: in text, inside a tag (between attributes), or inside a quoted attribute value. */
type Slot = "text" | "tag" | "attr";

const slotCache = new WeakMap<TemplateStringsArray, Slot[]>();

/** A small scanner over the static parts only: enough to tell the three slots apart in hand-written templates. */
function slotsOf(strings: TemplateStringsArray): Slot[] {
  const cached = slotCache.get(strings);
  if (cached) return cached;
  const slots: Slot[] = [];
  let state: "text" | "tag" | "comment" | '"' | "'" = "text";
  for (let i = 0; i < strings.length; i++) {
    const part = strings[i]!;
    for (let j = 0; j < part.length; j++) {
      const c = part[j]!;
      if (state === "text") {
        if (part.startsWith("<!--", j)) {
          state = "comment";
          j += 3;
        } else if (c === "<" && /[a-zA-Z/!]/.test(part[j + 1] ?? "")) state = "tag";
      } else if (state === "comment") {
        if (part.startsWith("-->", j)) {
          state = "text";
          j += 2;
        }
      } else if (state === "tag") {
        if (c === '"' || c === "'") state = c;
        else if (c === ">") state = "text";
      } else if (c === state) state = "tag";
    }
    if (i < strings.length - 1) {
      if (state === "comment") throw new Error("html template: no interpolation inside an HTML comment");
      if (
        (state === "tag" && /<\/?[a-zA-Z0-9-]*$|=\s*$/.test(part)) ||
        (state === "text" && /<\/?$/.test(part))
      ) {
        throw new Error(
          "html template: interpolation in a tag name or unquoted attribute value; quote the attribute",
        );
      }
      slots.push(state === "text" ? "text" : state === "tag" ? "tag" : "attr");
    }
  }
  slotCache.set(strings, slots);
  return slots;
}

function render(value: HtmlValue, slot: Slot): string {
  if (value === null || value === undefined || value === false) return "";
  if (typeof value === "string") {
    if (slot === "tag") throw new TypeError("html template: a plain string cannot be placed inside a tag");
    return escapeHtml(value);
  }
  if (typeof value === "number") {
    if (slot === "tag") throw new TypeError("html template: a number cannot be placed inside a tag");
    return escapeHtml(String(value));
  }
  if (Array.isArray(value)) return value.map((v: HtmlValue) => render(v, slot)).join("");
  if (SafeHtml.is(value)) {
    if (slot === "attr")
      throw new TypeError("html template: markup cannot be an attribute value; pass a string");
    return value.toString();
  }
  const other: unknown = value;
  const kind = other === true ? "true" : typeof other;
  throw new TypeError(`html template: cannot interpolate a value of type ${kind}`);
}

/** Tagged template: `html\`<p>${text}</p>\`` escapes `text`; nested `html` results are kept as markup. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  const slots = slotsOf(strings);
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i], slots[i]!) + strings[i + 1]!;
  return new SafeHtml(BRAND, out);
}
