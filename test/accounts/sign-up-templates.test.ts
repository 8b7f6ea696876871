/**
 * The sign-up and invitation templates as pure functions, checked like every other page (test/ui/pages.test.ts):
 * well-formed markup whatever the strings (property-based), every input labelled, every aria reference
 * resolving, field errors wired with `aria-invalid` / `aria-describedby`, CSRF on every form, no password value,
 * hostile strings escaped.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { invitationAcceptPage } from "../../src/ui/pages/invitation-accept.js";
import { loginPage } from "../../src/ui/pages/login.js";
import { signUpPage, signUpSentPage, signUpVerifyPage } from "../../src/ui/pages/sign-up.js";
import { elements, inside, type Tag, tokenize } from "../ui/markup.js";

type Strings = (k: number) => string;
const PAYLOAD = `<script>alert(1)</script>"onmouseover=x'`;
const plain: Strings = (k) => `value ${k}`;

const ERRORS = (s: Strings) => ({ email: s(5), userName: s(6), password: s(7), confirmPassword: s(8) });

/** Every template, with every optional field set; `csrf` says which string is the CSRF token (if any form). */
const PAGES: { name: string; render: (s: Strings) => string; csrf?: number; invalid?: string[] }[] = [
  {
    name: "sign-up form",
    render: (s) =>
      signUpPage({
        csrfToken: s(0),
        returnTo: s(1),
        values: { email: s(2), userName: s(3) },
        errors: ERRORS(s),
        error: s(9),
        minLength: 15,
        maxLength: 128,
        allowedDomains: [s(10), s(11)],
      }),
    csrf: 0,
    invalid: ["email", "username", "new_password", "confirm_password"],
  },
  {
    name: "sign-up form, throttled",
    render: (s) =>
      signUpPage({ csrfToken: s(0), error: s(1), retryAfterSeconds: 61, minLength: 15, allowedDomains: [] }),
    csrf: 0,
  },
  { name: "check your e-mail", render: (s) => signUpSentPage({ email: s(0), ttlSeconds: 3600 }) },
  {
    name: "confirmation",
    render: (s) =>
      signUpVerifyPage({
        csrfToken: s(0),
        token: s(1),
        userName: s(2),
        email: s(3),
        askUserName: true,
        values: { userName: s(4) },
        errors: { userName: s(5), password: s(6) },
        error: s(7),
      }),
    csrf: 0,
    invalid: ["username", "password"],
  },
  {
    name: "confirmation, user name fixed",
    render: (s) =>
      signUpVerifyPage({ csrfToken: s(0), token: s(1), userName: s(2), email: s(3), askUserName: false }),
    csrf: 0,
  },
  {
    name: "invitation",
    render: (s) =>
      invitationAcceptPage({
        csrfToken: s(0),
        token: s(1),
        email: s(2),
        groups: [s(3), s(4)],
        expiresAt: Date.UTC(2026, 11, 1),
        values: { userName: s(5) },
        errors: { userName: s(6), password: s(7), confirmPassword: s(8) },
        error: s(9),
        minLength: 15,
        maxLength: 128,
      }),
    csrf: 0,
    invalid: ["username", "new_password", "confirm_password"],
  },
];

function checkPage(doc: string): Tag[] {
  const tags = tokenize(doc);
  const ids = tags.flatMap((t) => (t.attrs.has("id") ? [t.attrs.get("id")!] : []));
  expect(new Set(ids).size).toBe(ids.length);
  const labelled = new Set(elements(tags, "label").map((l) => l.attrs.get("for")));
  for (const input of elements(tags, "input")) {
    if (input.attrs.get("type") === "hidden") continue;
    expect(labelled.has(input.attrs.get("id")), `input ${input.attrs.get("name")}`).toBe(true);
  }
  for (const tag of tags) {
    for (const attr of ["aria-describedby", "for"]) {
      for (const ref of tag.attrs.get(attr)?.split(" ") ?? []) expect(ids).toContain(ref);
    }
    const href = tag.name === "a" ? tag.attrs.get("href") : undefined;
    if (href?.startsWith("#")) expect(ids).toContain(href.slice(1));
  }
  return tags;
}

const neutral = (s: string) => s.replace(/[<>"'&]/g, "x");
const count = (text: string, ch: string) => text.split(ch).length - 1;

describe.each(PAGES)("$name page", (page) => {
  const doc = page.render(plain);
  const tags = checkPage(doc);

  it("is one document with one h1 and no script, handler or inline style", () => {
    expect(doc.startsWith("<!doctype html>\n")).toBe(true);
    expect(elements(tags, "h1")).toHaveLength(1);
    expect(doc).not.toMatch(/<script|\sstyle=|\son[a-z]+=|javascript:/i);
  });

  it("posts every form with the CSRF token, and never renders a password value", () => {
    const forms = elements(tags, "form");
    expect(forms.length).toBe(page.csrf === undefined ? 0 : 1);
    for (const form of forms) {
      expect(form.attrs.get("method")).toBe("post");
      const csrf = elements(inside(tags, form), "input").filter((i) => i.attrs.get("name") === "csrf");
      expect(csrf.map((i) => i.attrs.get("value"))).toEqual([plain(page.csrf!)]);
    }
    for (const input of elements(tags, "input").filter((i) => i.attrs.get("type") === "password")) {
      expect(input.attrs.has("value")).toBe(false);
    }
  });

  it("marks each field in error and points it at its message", () => {
    const invalid = elements(tags, "input")
      .filter((i) => i.attrs.get("aria-invalid") === "true")
      .map((i) => i.attrs.get("id"));
    expect(invalid).toEqual(page.invalid ?? []);
    for (const id of page.invalid ?? []) {
      const input = elements(tags, "input").find((i) => i.attrs.get("id") === id)!;
      expect(input.attrs.get("aria-describedby")?.split(" ")).toContain(`${id}-error`);
    }
    // Focus starts on the first field in error.
    const focused = elements(tags, "input").filter((i) => i.attrs.has("autofocus"));
    expect(focused.length).toBeLessThanOrEqual(1);
    if (page.invalid?.length) expect(focused[0]?.attrs.get("id")).toBe(page.invalid[0]);
  });

  it("escapes a hostile string in every field", () => {
    const hostile = page.render(() => PAYLOAD);
    checkPage(hostile);
    expect(hostile).not.toContain("<script");
    expect(hostile).not.toContain('"onmouseover');
    expect(hostile).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=x&#39;");
  });

  it("keeps its markup structure whatever the strings (property)", () => {
    const strings = fc.oneof(
      fc.constantFrom(PAYLOAD, "'", '"', "<", ">", "&", "<!--", ""),
      fc.string(),
      fc.stringMatching(/^[<>"'&= a-z/#]*$/),
    );
    fc.assert(
      fc.property(fc.array(strings, { minLength: 12, maxLength: 12 }), (values) => {
        const doc = page.render((k) => values[k % values.length]!);
        const reference = page.render((k) => neutral(values[k % values.length]!));
        for (const ch of ["<", ">", '"', "'"]) expect(count(doc, ch)).toBe(count(reference, ch));
        tokenize(doc);
      }),
      { numRuns: 100 },
    );
  });
});

describe("the sign-in page's sign-up link", () => {
  it("is there only when sign-up is on, and carries return_to encoded", () => {
    expect(loginPage({ csrfToken: "t" })).not.toContain("/signup");
    expect(loginPage({ csrfToken: "t", signUp: true })).toContain('<a href="/signup">Create account</a>');
    expect(
      loginPage({ csrfToken: "t", signUp: true, returnTo: "/authorize/continue?request=a&b=c" }),
    ).toContain(
      '<a href="/signup?return_to=%2Fauthorize%2Fcontinue%3Frequest%3Da%26b%3Dc">Create account</a>',
    );
  });
});
