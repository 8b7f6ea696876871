import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeHtml, type HtmlValue, html, raw, SafeHtml } from "../../src/ui/html.js";
import { decodeEntities } from "./markup.js";

describe("html", () => {
  it("escapes & < > \" ' in text and in attribute values", () => {
    const v = `<a href="x" onclick='y'>&amp;</a>`;
    expect(html`<p title="${v}">${v}</p>`.toString()).toBe(
      '<p title="&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;">' +
        "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;</p>",
    );
  });

  it("escapes any string so that it has no markup character left and unescapes to itself", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" })), (s) => {
        const out = html`<p>${s}</p>`.toString().slice(3, -4);
        expect(out).not.toMatch(/[<>"']/);
        expect(decodeEntities(out)).toBe(s);
        expect(escapeHtml(s)).toBe(out);
      }),
    );
  });

  it("joins arrays, renders numbers, and renders nothing for null, undefined and false", () => {
    const items = ["a<", "b"];
    expect(html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`.toString()).toBe(
      "<ul><li>a&lt;</li><li>b</li></ul>",
    );
    expect(html`${null}${undefined}${false}|${0}|${[]}|${[["x", [null, 1]]]}`.toString()).toBe("|0||x1");
  });

  it("keeps html results and raw() as markup without escaping them twice", () => {
    const inner = html`<b>${"&"}</b>`;
    expect(inner).toBeInstanceOf(SafeHtml);
    expect(html`<p>${inner}${raw("<i>ok</i>")}</p>`.toString()).toBe("<p><b>&amp;</b><i>ok</i></p>");
  });

  it("refuses look-alikes of SafeHtml and other values it cannot render", () => {
    const fake = Object.create(SafeHtml.prototype) as SafeHtml;
    expect(() => html`<p>${fake}</p>`).toThrow(TypeError);
    const object = { toString: () => "<b>" } as unknown as HtmlValue;
    expect(() => html`<p>${object}</p>`).toThrow(TypeError);
    expect(() => html`<p>${true as unknown as HtmlValue}</p>`).toThrow(TypeError);
    expect(() => new SafeHtml(Symbol("x") as never, "<b>")).toThrow(TypeError);
    expect(SafeHtml.is({ value: "<b>" })).toBe(false);
    expect(SafeHtml.is(html`x`)).toBe(true);
  });

  it("refuses values in unquoted attributes and tag names", () => {
    const v = "x onmouseover=alert(1)";
    expect(() => html`<p class=${v}>`).toThrow(/unquoted/);
    expect(() => html`<${v}>`).toThrow(/tag name/);
    expect(() => html`</${v}>`).toThrow(/tag name/);
    expect(() => html`<!-- ${v} -->`).toThrow(/comment/);
  });

  it("allows whole-attribute fragments inside a tag, but no plain string there", () => {
    const attr = html` required`;
    expect(html`<input id="a"${attr}>`.toString()).toBe('<input id="a" required>');
    expect(() => html`<input id="a" ${" autofocus"}>`).toThrow(TypeError);
    expect(() => html`<input id="a" ${1 as HtmlValue}>`).toThrow(TypeError);
  });

  it("refuses markup as an attribute value", () => {
    expect(() => html`<a title="${html`<b>`}">`).toThrow(/attribute value/);
    expect(html`<a title='${"'"}'>`.toString()).toBe("<a title='&#39;'>");
  });

  it("tracks quotes across interpolations: after a quoted value the tag context resumes", () => {
    expect(html`<a href="${"/x"}" class="${"c"}">${"t"}</a>`.toString()).toBe('<a href="/x" class="c">t</a>');
    expect(html`<p>a > b = ${"c"}</p>`.toString()).toBe("<p>a > b = c</p>");
  });
});
