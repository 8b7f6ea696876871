import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { html } from "../../src/ui/html.js";
import { layout } from "../../src/ui/layout.js";
import { accountPage } from "../../src/ui/pages/account.js";
import { changePasswordPage } from "../../src/ui/pages/change-password.js";
import { forgotPasswordPage, RESET_SENT_MESSAGE } from "../../src/ui/pages/forgot-password.js";
import { loginPage } from "../../src/ui/pages/login.js";
import { localHref, messagePage } from "../../src/ui/pages/message.js";
import { resetPasswordPage } from "../../src/ui/pages/reset-password.js";
import { type SessionView, sessionsPage } from "../../src/ui/pages/sessions.js";
import { stylesheetHref } from "../../src/ui/styles.js";
import { elements, inside, type Tag, textOf, tokenize } from "./markup.js";

const NOW = Date.UTC(2026, 10, 29, 9, 14, 30);
const DAY = 86_400_000;

/** A source of strings: every string field of every view model is taken from it, by position. */
type Strings = (k: number) => string;

const sessionsOf = (s: Strings): SessionView[] => [
  {
    id: s(3),
    browser: s(4),
    os: s(5),
    device: s(6),
    ip: s(7),
    createdAt: NOW - 3 * DAY,
    lastSeenAt: NOW - 60_000,
    current: true,
    remember: true,
  },
  {
    id: s(8),
    browser: s(9),
    os: s(10),
    device: s(11),
    ip: s(12),
    createdAt: NOW - 40 * DAY,
    lastSeenAt: NOW - 9 * DAY,
    current: false,
    remember: false,
  },
  {
    id: s(13),
    browser: s(14),
    os: s(15),
    device: s(16),
    ip: null,
    createdAt: NOW - 2 * DAY,
    lastSeenAt: NOW - 5 * 3_600_000,
    current: false,
    remember: true,
  },
];

/** Every page, with every optional field set, its strings drawn from `s`. */
const PAGES: { name: string; render: (s: Strings) => string; echoesNothing?: boolean }[] = [
  {
    name: "login",
    render: (s) =>
      loginPage({
        csrfToken: s(0),
        returnTo: s(1),
        userName: s(2),
        error: s(3),
        retryAfterSeconds: 90,
        notice: s(4),
        remember: true,
      }),
  },
  { name: "forgot password", render: (s) => forgotPasswordPage({ csrfToken: s(0), error: s(1) }) },
  {
    name: "forgot password, sent",
    render: (s) => forgotPasswordPage({ csrfToken: s(0), sent: true }),
    echoesNothing: true,
  },
  {
    name: "reset password",
    render: (s) =>
      resetPasswordPage({ csrfToken: s(0), token: s(1), error: s(2), minLength: 12, maxLength: 256 }),
  },
  {
    name: "account",
    render: (s) =>
      accountPage({
        csrfToken: s(0),
        user: {
          userName: s(1),
          displayName: s(2),
          emails: [
            { value: s(3), primary: false },
            { value: s(4), primary: true },
          ],
          groups: [s(5), s(6)],
          createdAt: NOW - 400 * DAY,
          passwordUpdatedAt: NOW - 20 * DAY,
        },
        flash: { kind: "success", message: s(7) },
      }),
  },
  {
    name: "change password",
    render: (s) =>
      changePasswordPage({
        csrfToken: s(0),
        user: { userName: s(1), displayName: s(2) },
        error: s(3),
        minLength: 12,
        flash: { kind: "info", message: s(4) },
      }),
  },
  {
    name: "sessions",
    render: (s) =>
      sessionsPage({
        csrfToken: s(0),
        user: { userName: s(1), displayName: s(2) },
        sessions: sessionsOf(s),
        flash: { kind: "success", message: s(17) },
        now: NOW,
      }),
  },
  {
    name: "message, signed in",
    render: (s) =>
      messagePage({
        title: s(0),
        message: s(1),
        status: 404,
        user: { userName: s(2), displayName: s(3) },
        csrfToken: s(4),
        link: { href: `/${s(5)}`, text: s(6) },
      }),
  },
  {
    name: "message, anonymous",
    render: (s) => messagePage({ title: s(0), message: s(1), link: { href: s(2), text: s(3) } }),
  },
];

const PAYLOAD = `<script>alert(1)</script>"onmouseover=x'`;
const plain: Strings = (k) => `value ${k}`;

/** Same length and truthiness as the original, without any character that is special in HTML. */
const neutral = (text: string): string => text.replace(/[<>"'&]/g, "a");

const count = (text: string, ch: string): number => text.split(ch).length - 1;

/** The page without its same-origin script files (the only scripts a page may have: WebAuthn ceremonies). */
const withoutScriptFiles = (doc: string): string =>
  doc.replace(/<script src="\/assets\/[a-z0-9-]+\.js" defer><\/script>/g, "");

/** Attribute and element checks every page must pass. */
function checkPage(doc: string): Tag[] {
  const tags = tokenize(doc);
  for (const tag of tags) {
    if (tag.name === "script" && tag.kind === "close") continue;
    if (tag.name === "script") {
      // Only same-origin script files (WebAuthn ceremonies), never inline code or another origin.
      expect(tag.attrs.get("src")).toMatch(/^\/assets\/[a-z0-9-]+\.js$/);
      expect([...tag.attrs.keys()].sort()).toEqual(["defer", "src"]);
      continue;
    }
    expect(tag.name).not.toMatch(/^(script|style|iframe|object|embed|base)$/);
    for (const name of tag.attrs.keys()) {
      expect(name).not.toMatch(/^on/);
      expect(name).not.toBe("style");
    }
  }
  return tags;
}

describe("every page", () => {
  for (const page of PAGES) {
    describe(page.name, () => {
      const doc = page.render(plain);
      const tags = checkPage(doc);

      it("is a complete document: doctype, lang, charset, viewport, title, stylesheet", () => {
        expect(doc.startsWith("<!doctype html>\n")).toBe(true);
        expect(elements(tags, "html")[0]!.attrs.get("lang")).toBe("en");
        expect(elements(tags, "meta").some((m) => m.attrs.get("charset") === "utf-8")).toBe(true);
        expect(elements(tags, "meta").some((m) => m.attrs.get("name") === "viewport")).toBe(true);
        const title = elements(tags, "title");
        expect(title).toHaveLength(1);
        expect(textOf(doc, tags, title[0]!)).toMatch(/^.+ · Tessera$/);
        const sheets = elements(tags, "link").filter((l) => l.attrs.get("rel") === "stylesheet");
        expect(sheets.map((l) => l.attrs.get("href"))).toEqual([stylesheetHref()]);
      });

      it("has one h1, a header and one main that the skip link targets", () => {
        expect(elements(tags, "h1")).toHaveLength(1);
        expect(elements(tags, "header")).toHaveLength(1);
        const main = elements(tags, "main");
        expect(main).toHaveLength(1);
        const skip = elements(tags, "a")[0]!;
        expect(skip.attrs.get("class")).toBe("skip-link");
        expect(skip.attrs.get("href")).toBe(`#${main[0]!.attrs.get("id")}`);
      });

      it("has no script, no event handler, no inline style", () => {
        expect(withoutScriptFiles(doc)).not.toMatch(/<script/i);
        expect(doc).not.toMatch(/\sstyle=/i);
        expect(doc).not.toMatch(/\son[a-z]+=/i);
        expect(doc).not.toMatch(/javascript:/i);
      });

      it("labels every visible input, and every referenced id exists once", () => {
        const ids = tags.flatMap((t) => (t.attrs.has("id") ? [t.attrs.get("id")!] : []));
        expect(new Set(ids).size).toBe(ids.length);
        const labelled = new Set(elements(tags, "label").map((l) => l.attrs.get("for")));
        for (const input of elements(tags, "input")) {
          const type = input.attrs.get("type");
          if (type === "hidden" || type === "submit") continue;
          expect(input.attrs.get("id"), `input ${input.attrs.get("name")}`).toBeTruthy();
          expect(labelled.has(input.attrs.get("id"))).toBe(true);
        }
        for (const tag of tags) {
          for (const attr of ["aria-describedby", "aria-labelledby", "for"]) {
            for (const ref of tag.attrs.get(attr)?.split(" ") ?? []) expect(ids).toContain(ref);
          }
        }
      });

      it("posts every form, each with the CSRF token, and never renders a password value", () => {
        const token = page.name.startsWith("message") ? plain(4) : plain(0);
        for (const form of elements(tags, "form")) {
          expect(form.attrs.get("method")).toBe("post");
          expect(form.attrs.get("action")).toMatch(/^\//);
          const csrf = elements(inside(tags, form), "input").filter((i) => i.attrs.get("name") === "csrf");
          expect(csrf).toHaveLength(1);
          expect(csrf[0]!.attrs.get("type")).toBe("hidden");
          expect(csrf[0]!.attrs.get("value")).toBe(token);
          expect(elements(inside(tags, form), "button").length).toBeGreaterThan(0);
        }
        for (const input of elements(tags, "input").filter((i) => i.attrs.get("type") === "password")) {
          expect(input.attrs.has("value")).toBe(false);
        }
      });

      it("escapes a hostile string in every field", () => {
        const hostile = page.render(() => PAYLOAD);
        checkPage(hostile);
        expect(withoutScriptFiles(hostile)).not.toContain("<script");
        expect(hostile).not.toContain('"onmouseover');
        expect(hostile).not.toContain("'");
        if (!page.echoesNothing) {
          expect(hostile).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=x&#39;");
        }
      });

      it("keeps its markup structure whatever the strings (property)", () => {
        const hostileish = fc.oneof(
          fc.constantFrom(PAYLOAD, "'", '"', "<", ">", "&", "&amp;", "<!--", "]]>", "\u2028", ""),
          fc.string(),
          fc.string({ unit: "binary" }),
          fc.stringMatching(/^[<>"'&= a-z/]*$/),
        );
        fc.assert(
          fc.property(fc.array(hostileish, { minLength: 18, maxLength: 18 }), (strings) => {
            const doc = page.render((k) => strings[k % strings.length]!);
            const reference = page.render((k) => neutral(strings[k % strings.length]!));
            for (const ch of ["<", ">", '"', "'"]) expect(count(doc, ch)).toBe(count(reference, ch));
            expect(withoutScriptFiles(doc)).not.toMatch(/<script/i);
            checkPage(doc);
          }),
          { numRuns: 150 },
        );
      });
    });
  }
});

describe("layout", () => {
  const BODY = html`<h1>X</h1>`;
  const user = { userName: "ada", displayName: "Ada Lovelace" };

  it("shows the account nav and a sign-out form for a signed-in user", () => {
    const doc = layout({ title: "X", body: BODY, user, csrfToken: "tok", section: "sessions" });
    const tags = tokenize(doc);
    const nav = elements(tags, "nav");
    expect(nav).toHaveLength(1);
    expect(nav[0]!.attrs.get("aria-label")).toBe("Account");
    const links = elements(inside(tags, nav[0]!), "a");
    expect(links.map((a) => [a.attrs.get("href"), textOf(doc, tags, a)])).toEqual([
      ["/account", "Account"],
      ["/account/sessions", "Sessions"],
      ["/account/security", "Security"],
      ["/account/apps", "Connected apps"],
      ["/account/tokens", "API tokens"],
      ["/account/password", "Password"],
    ]);
    expect(links.map((a) => a.attrs.get("aria-current"))).toEqual([
      undefined,
      "page",
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    const forms = elements(tags, "form");
    expect(forms.map((f) => f.attrs.get("action"))).toEqual(["/logout"]);
    expect(textOf(doc, tags, elements(inside(tags, forms[0]!), "button")[0]!)).toBe("Sign out");
    expect(doc).toContain("Signed in as Ada Lovelace");
  });

  it("greets by user name when the display name is missing or blank", () => {
    expect(
      layout({ title: "X", body: BODY, user: { userName: "ada", displayName: null }, csrfToken: "t" }),
    ).toContain("Signed in as ada");
    expect(
      layout({ title: "X", body: BODY, user: { userName: "ada", displayName: " " }, csrfToken: "t" }),
    ).toContain("Signed in as ada");
  });

  it("has neither nav nor sign-out form for an anonymous visitor", () => {
    const tags = tokenize(layout({ title: "X", body: BODY }));
    expect(elements(tags, "nav")).toHaveLength(0);
    expect(elements(tags, "form")).toHaveLength(0);
  });

  it("shows a flash in a status region", () => {
    const doc = layout({ title: "X", body: BODY, flash: { kind: "success", message: "Saved." } });
    const tags = tokenize(doc);
    const status = tags.filter((t) => t.attrs.get("role") === "status");
    expect(status).toHaveLength(1);
    expect(textOf(doc, tags, status[0]!)).toBe("Saved.");
  });
});

describe("login page", () => {
  const input = (doc: string, name: string) =>
    elements(tokenize(doc), "input").find((i) => i.attrs.get("name") === name);

  it("posts to /login with the expected fields and autocomplete hints", () => {
    const doc = loginPage({ csrfToken: "tok" });
    const tags = tokenize(doc);
    expect(elements(tags, "form").map((f) => f.attrs.get("action"))).toEqual(["/login"]);
    const username = input(doc, "username")!;
    expect(Object.fromEntries(username.attrs)).toMatchObject({
      id: "username",
      type: "text",
      autocomplete: "username webauthn",
      autocapitalize: "none",
      spellcheck: "false",
      required: "",
      autofocus: "",
    });
    expect(username.attrs.has("value")).toBe(false);
    const password = input(doc, "password")!;
    expect(Object.fromEntries(password.attrs)).toMatchObject({
      type: "password",
      autocomplete: "current-password",
      required: "",
    });
    const remember = input(doc, "remember")!;
    expect(remember.attrs.get("type")).toBe("checkbox");
    expect(remember.attrs.has("checked")).toBe(false);
    expect(doc).toContain(">Keep me signed in on this device</label>");
    expect(input(doc, "return_to")).toBeUndefined();
    const submit = elements(tags, "button")[0]!;
    expect(submit.attrs.get("type")).toBe("submit");
    expect(textOf(doc, tags, submit)).toBe("Sign in");
    const forgot = elements(tags, "a").find((a) => a.attrs.get("href") === "/password/forgot")!;
    expect(textOf(doc, tags, forgot)).toBe("Forgot your password?");
    expect(tags.some((t) => t.attrs.get("role") === "alert")).toBe(false);
  });

  it("carries return_to when given", () => {
    const field = input(loginPage({ csrfToken: "t", returnTo: "/oauth/authorize?x=1&y=2" }), "return_to")!;
    expect(field.attrs.get("type")).toBe("hidden");
    expect(field.attrs.get("value")).toBe("/oauth/authorize?x=1&amp;y=2");
  });

  it("shows an error above the form, linked to the fields, keeps the user name and never the password", () => {
    const doc = loginPage({ csrfToken: "t", userName: "ada", error: "Wrong user name or password." });
    const tags = tokenize(doc);
    const alert = tags.find((t) => t.attrs.get("role") === "alert")!;
    expect(textOf(doc, tags, alert).trim()).toBe("Wrong user name or password.");
    expect(alert.start).toBeLessThan(elements(tags, "form")[0]!.start);
    const id = alert.attrs.get("id")!;
    expect(input(doc, "username")!.attrs.get("aria-describedby")).toBe(id);
    expect(input(doc, "password")!.attrs.get("aria-describedby")).toBe(id);
    expect(input(doc, "username")!.attrs.get("value")).toBe("ada");
    expect(input(doc, "password")!.attrs.has("value")).toBe(false);
    // The user name is known: focus goes to the password.
    expect(input(doc, "username")!.attrs.has("autofocus")).toBe(false);
    expect(input(doc, "password")!.attrs.has("autofocus")).toBe(true);
  });

  it("tells how long to wait when rate limited", () => {
    expect(loginPage({ csrfToken: "t", retryAfterSeconds: 30 })).toContain(
      "Too many sign-in attempts. Please wait 30 seconds before trying again.",
    );
    expect(loginPage({ csrfToken: "t", error: "Slow down.", retryAfterSeconds: 61 })).toContain(
      "Slow down. Please wait 2 minutes before trying again.",
    );
  });

  it("shows a notice as a status message", () => {
    const doc = loginPage({ csrfToken: "t", notice: "You have been signed out." });
    const tags = tokenize(doc);
    const status = tags.find((t) => t.attrs.get("role") === "status")!;
    expect(textOf(doc, tags, status)).toBe("You have been signed out.");
  });
});

describe("forgot password page", () => {
  it("asks for a user name or e-mail address", () => {
    const doc = forgotPasswordPage({ csrfToken: "t" });
    const tags = tokenize(doc);
    expect(elements(tags, "form").map((f) => f.attrs.get("action"))).toEqual(["/password/forgot"]);
    const field = elements(tags, "input").find((i) => i.attrs.get("name") === "username")!;
    expect(field.attrs.get("autocomplete")).toBe("username");
    const label = elements(tags, "label").find((l) => l.attrs.get("for") === field.attrs.get("id"))!;
    expect(textOf(doc, tags, label)).toBe("User name or e-mail address");
    expect(doc).not.toContain(RESET_SENT_MESSAGE);
  });

  it("after sending, shows only the neutral message", () => {
    const doc = forgotPasswordPage({ csrfToken: "t", sent: true });
    expect(doc).toContain(
      "If an account matches, we sent a link to its e-mail address. It works for 15 minutes.",
    );
    expect(elements(tokenize(doc), "form")).toHaveLength(0);
    expect(doc).not.toMatch(/no account|not found|does not exist|unknown user/i);
  });
});

describe("reset password page", () => {
  it("posts the token and two new-password fields with the length rule", () => {
    const doc = resetPasswordPage({ csrfToken: "t", token: "reset-tok", minLength: 12 });
    const tags = tokenize(doc);
    expect(elements(tags, "form").map((f) => f.attrs.get("action"))).toEqual(["/password/reset"]);
    const inputs = new Map(elements(tags, "input").map((i) => [i.attrs.get("name"), i]));
    expect(inputs.get("token")!.attrs.get("type")).toBe("hidden");
    expect(inputs.get("token")!.attrs.get("value")).toBe("reset-tok");
    for (const name of ["new_password", "confirm_password"]) {
      const field = inputs.get(name)!;
      expect(field.attrs.get("type")).toBe("password");
      expect(field.attrs.get("autocomplete")).toBe("new-password");
      expect(field.attrs.get("minlength")).toBe("12");
      expect(field.attrs.has("maxlength")).toBe(false);
    }
    const hintId = inputs.get("new_password")!.attrs.get("aria-describedby")!;
    const hint = tags.find((t) => t.attrs.get("id") === hintId)!;
    expect(textOf(doc, tags, hint)).toMatch(/at least 12 characters.*no other rules.*passphrases.*common/i);
  });

  it("links an error to both fields", () => {
    const doc = resetPasswordPage({ csrfToken: "t", token: "x", minLength: 8, error: "Too common." });
    const tags = tokenize(doc);
    for (const name of ["new_password", "confirm_password"]) {
      const field = elements(tags, "input").find((i) => i.attrs.get("name") === name)!;
      expect(field.attrs.get("aria-describedby")!.split(" ")).toContain("form-error");
    }
  });
});

describe("change password page", () => {
  const user = { userName: "ada", displayName: null };

  it("posts current and new passwords, with 'sign out other devices' ticked by default", () => {
    const doc = changePasswordPage({ csrfToken: "t", user, minLength: 10 });
    const tags = tokenize(doc);
    const forms = elements(tags, "form").map((f) => f.attrs.get("action"));
    expect(forms).toEqual(["/logout", "/account/password"]);
    const inputs = new Map(elements(tags, "input").map((i) => [i.attrs.get("name"), i]));
    expect(inputs.get("current_password")!.attrs.get("autocomplete")).toBe("current-password");
    expect(inputs.get("new_password")!.attrs.get("autocomplete")).toBe("new-password");
    expect(inputs.get("confirm_password")!.attrs.get("autocomplete")).toBe("new-password");
    expect(inputs.get("new_password")!.attrs.get("minlength")).toBe("10");
    expect(inputs.get("sign_out_others")!.attrs.get("type")).toBe("checkbox");
    expect(inputs.get("sign_out_others")!.attrs.has("checked")).toBe(true);
    expect(doc).toContain(">Sign out my other devices</label>");
    const current = elements(tags, "a").find((a) => a.attrs.get("href") === "/account/password")!;
    expect(current.attrs.get("aria-current")).toBe("page");
  });

  it("keeps the box unticked after an error if the user unticked it", () => {
    const doc = changePasswordPage({
      csrfToken: "t",
      user,
      minLength: 10,
      error: "Wrong.",
      signOutOthers: false,
    });
    const box = elements(tokenize(doc), "input").find((i) => i.attrs.get("name") === "sign_out_others")!;
    expect(box.attrs.has("checked")).toBe(false);
    expect(doc).toContain('role="alert"');
  });
});

describe("account page", () => {
  it("shows the profile, the primary address first, groups and dates in UTC", () => {
    const doc = accountPage({
      csrfToken: "t",
      user: {
        userName: "ada",
        displayName: "Ada Lovelace",
        emails: [
          { value: "ada@old.example", primary: false },
          { value: "ada@example.com", primary: true },
        ],
        groups: ["Engineering"],
        createdAt: Date.UTC(2025, 0, 2, 3, 4),
        passwordUpdatedAt: Date.UTC(2026, 10, 29, 9, 14),
      },
    });
    expect(doc.indexOf("ada@example.com")).toBeLessThan(doc.indexOf("ada@old.example"));
    expect(doc).toContain("Engineering");
    expect(doc).toContain('<time datetime="2025-01-02T03:04:00.000Z">2025-01-02</time>');
    expect(doc).toContain('<time datetime="2026-11-29T09:14:00.000Z">2026-11-29</time>');
    expect(doc).toContain('href="/account/password"');
    expect(doc).toContain('href="/account/sessions"');
  });

  it("copes with no password, no e-mail and no groups", () => {
    const doc = accountPage({
      csrfToken: "t",
      user: {
        userName: "svc",
        displayName: null,
        emails: [],
        groups: [],
        createdAt: 0,
        passwordUpdatedAt: null,
      },
    });
    expect(doc).toContain("No password set.");
    expect(doc).toContain("You are not a member of any group.");
    tokenize(doc);
  });
});

describe("sessions page", () => {
  const user = { userName: "ada", displayName: null };
  const base = {
    browser: "Firefox",
    os: "Windows",
    device: "Desktop",
    ip: "192.0.2.1",
    createdAt: Date.UTC(2026, 10, 28, 8, 0),
    lastSeenAt: Date.UTC(2026, 10, 29, 9, 0),
    remember: false,
  };

  it("renders a table with a revoke form for every session but the current one", () => {
    const doc = sessionsPage({
      csrfToken: "tok",
      user,
      sessions: [
        { ...base, id: "cur", current: true },
        { ...base, id: "s/2?x", browser: "Safari", os: "iOS", device: "Mobile", ip: null, current: false },
        { ...base, id: "s3", current: false },
      ],
    });
    const tags = tokenize(doc);
    const table = elements(tags, "table")[0]!;
    expect(elements(inside(tags, table), "caption")).toHaveLength(1);
    for (const th of elements(inside(tags, table), "th"))
      expect(th.attrs.get("scope")).toMatch(/^(col|row)$/);
    expect(elements(inside(tags, table), "tr")).toHaveLength(4);
    const actions = elements(tags, "form").map((f) => f.attrs.get("action"));
    expect(actions).toEqual([
      "/logout",
      "/account/sessions/s%2F2%3Fx/revoke",
      "/account/sessions/s3/revoke",
      "/account/sessions/revoke-others",
    ]);
    const rows = elements(inside(tags, table), "tr").slice(1);
    expect(textOf(doc, tags, rows[0]!)).toContain("This device");
    expect(elements(inside(tags, rows[0]!), "form")).toHaveLength(0);
    const safariButton = elements(inside(tags, rows[1]!), "button")[0]!;
    expect(textOf(doc, tags, safariButton)).toBe("Sign out Safari on iOS, signed in 2026-11-28 08:00 UTC");
    expect(textOf(doc, tags, rows[1]!)).not.toContain("This device");
    expect(doc).toContain('<time datetime="2026-11-28T08:00:00.000Z">2026-11-28 08:00 UTC</time>');
    expect(doc).toContain(">Sign out all other devices</button>");
  });

  it("has no revoke forms when this is the only session", () => {
    const doc = sessionsPage({ csrfToken: "tok", user, sessions: [{ ...base, id: "cur", current: true }] });
    expect(elements(tokenize(doc), "form").map((f) => f.attrs.get("action"))).toEqual(["/logout"]);
    expect(doc).not.toContain("Sign out all other devices");
  });

  it("shows relative last-seen times when given now, with the exact time in datetime and title", () => {
    const doc = sessionsPage({
      csrfToken: "t",
      user,
      now: Date.UTC(2026, 10, 29, 9, 12),
      sessions: [{ ...base, id: "a", current: true }],
    });
    expect(doc).toContain(
      '<time datetime="2026-11-29T09:00:00.000Z" title="2026-11-29 09:00 UTC">12 minutes ago</time>',
    );
  });

  it("names unknown browsers", () => {
    const doc = sessionsPage({
      csrfToken: "t",
      user,
      sessions: [{ ...base, browser: "", os: "", id: "a", current: false }],
    });
    const tags = tokenize(doc);
    const button = elements(tags, "button").find((b) => textOf(doc, tags, b).includes("Unknown browser"));
    expect(textOf(doc, tags, button!)).toBe("Sign out Unknown browser, signed in 2026-11-28 08:00 UTC");
  });
});

describe("message page", () => {
  it("shows the title, message, error status and link", () => {
    const doc = messagePage({
      title: "Link expired",
      message: "Ask for a new one.",
      status: 400,
      link: { href: "/password/forgot", text: "Ask for a new link" },
    });
    const tags = tokenize(doc);
    expect(textOf(doc, tags, elements(tags, "h1")[0]!)).toBe("Link expired");
    expect(doc).toContain("Error 400");
    expect(doc).toContain('<a class="button" href="/password/forgot">Ask for a new link</a>');
    expect(elements(tags, "nav")).toHaveLength(0);
  });

  it("does not label a non-error status as an error", () => {
    expect(messagePage({ title: "Password changed", message: "Done.", status: 200 })).not.toContain("Error");
  });

  it("uses the account layout for a signed-in user", () => {
    const doc = messagePage({
      title: "Not found",
      message: "No such page.",
      user: { userName: "a", displayName: null },
      csrfToken: "t",
    });
    expect(elements(tokenize(doc), "nav")).toHaveLength(1);
  });

  it("only links to same-origin paths", () => {
    for (const bad of [
      "javascript:alert(1)",
      "//evil.example/",
      "/\\evil.example",
      "https://evil.example/",
      "/a b",
      "",
    ]) {
      expect(localHref(bad)).toBe("/");
    }
    for (const good of ["/", "/login", "/password/forgot?x=1#y"]) expect(localHref(good)).toBe(good);
  });
});
