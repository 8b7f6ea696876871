import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { STYLESHEET, STYLESHEET_PATH, stylesheetHref } from "../../src/ui/styles.js";

/** The hex colour custom properties declared in a block of CSS. */
function colours(block: string): Map<string, string> {
  return new Map(
    [...block.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6});/gi)].map((m) => [m[1]!, m[2]!.toLowerCase()]),
  );
}

const light = colours(STYLESHEET.slice(STYLESHEET.indexOf(":root {"), STYLESHEET.indexOf("}")));
const darkStart = STYLESHEET.indexOf("@media (prefers-color-scheme: dark)");
const dark = colours(STYLESHEET.slice(darkStart, STYLESHEET.indexOf("}", darkStart)));

/** WCAG 2.x relative luminance and contrast ratio. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const TEXT_PAIRS: [string, string][] = [
  ["text", "bg"],
  ["text", "surface"],
  ["text", "surface-muted"],
  ["muted", "bg"],
  ["muted", "surface"],
  ["muted", "surface-muted"],
  ["accent", "bg"],
  ["accent", "surface"],
  ["accent-hover", "surface"],
  ["on-accent", "accent"],
  ["on-accent", "accent-hover"],
  ["danger-text", "danger-bg"],
  ["danger-text", "surface"],
  ["success-text", "success-bg"],
  ["info-text", "info-bg"],
];

/** Non-text contrast (WCAG 1.4.11): control borders and the focus ring. */
const UI_PAIRS: [string, string][] = [
  ["control-border", "surface"],
  ["focus", "surface"],
  ["focus", "bg"],
];

describe("stylesheet", () => {
  it("fetches nothing: no @import and no url()", () => {
    expect(STYLESHEET).not.toMatch(/@import/i);
    expect(STYLESHEET).not.toMatch(/url\(/i);
    expect(STYLESHEET).not.toMatch(/expression\(|behavior:|javascript:/i);
  });

  for (const [scheme, palette] of [
    ["light", light],
    ["dark", dark],
  ] as const) {
    it(`meets WCAG AA contrast in the ${scheme} scheme`, () => {
      for (const [fg, bg] of TEXT_PAIRS) {
        expect(contrast(palette.get(fg)!, palette.get(bg)!), `${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
      }
      for (const [fg, bg] of UI_PAIRS) {
        expect(contrast(palette.get(fg)!, palette.get(bg)!), `${fg} on ${bg}`).toBeGreaterThanOrEqual(3);
      }
    });
  }

  it("defines every colour in both schemes and every variable it uses", () => {
    expect([...dark.keys()].sort()).toEqual([...light.keys()].sort());
    const defined = new Set([...STYLESHEET.matchAll(/(--[a-z-]+):/g)].map((m) => m[1]));
    for (const m of STYLESHEET.matchAll(/var\((--[a-z-]+)\)/g)) expect(defined.has(m[1]!), m[1]).toBe(true);
  });

  it("always shows focus and hides the skip link only until it is focused", () => {
    expect(STYLESHEET).toMatch(/:focus-visible \{\s*outline: 3px solid var\(--focus\)/);
    expect(STYLESHEET).toMatch(/\.skip-link:focus \{\s*top: 0\.75rem/);
    // Only the skip link's target, <main tabindex="-1">, which is not a control, may drop the outline.
    const unoutlined = [...STYLESHEET.matchAll(/([^{}]+)\{[^}]*outline:\s*(?:none|0)\b[^}]*\}/g)];
    expect(unoutlined.map((m) => m[1]!.trim())).toEqual([".main:focus"]);
  });

  it("is served under a hashed URL that changes with its content", () => {
    const hash = createHash("sha256").update(STYLESHEET).digest("hex").slice(0, 12);
    expect(stylesheetHref()).toBe(`${STYLESHEET_PATH}?v=${hash}`);
    expect(STYLESHEET_PATH).toBe("/assets/tessera.css");
  });
});
