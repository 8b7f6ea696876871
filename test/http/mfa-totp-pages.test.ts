/**
 * The markup of the authenticator-app pages and of the `/account/security` blocks, rendered directly (no
 * database): well-formed and nested (test/ui/markup.ts), the QR code's strict shape, what each state offers.
 */
import fc from "fast-check";
import QRCode from "qrcode";
import { describe, expect, it } from "vitest";
import { html } from "../../src/ui/html.js";
import { layout } from "../../src/ui/layout.js";
import { totpSection } from "../../src/ui/pages/security-totp.js";
import { qrCodeMarkup, totpEnrolPage } from "../../src/ui/pages/totp-enrol.js";
import { recoveryCodesPage } from "../../src/ui/pages/totp-recovery-codes.js";
import { elements, tokenize } from "../ui/markup.js";

const user = { userName: "pat", displayName: "Pat <b>Doe</b>" };
const CODES = Array.from({ length: 10 }, (_, i) => `abcd-efgh-${String(i).padStart(4, "0")}`);
const qr = (text: string) =>
  QRCode.toString(text, { type: "svg", errorCorrectionLevel: "M", margin: 4, width: 224 });

/** A block inside a page, so the tokenizer sees a whole document. */
const asDocument = (block: ReturnType<typeof totpSection>) =>
  layout({ title: "Security", body: html`${block}`, user, csrfToken: "tok" });

describe("QR code markup", () => {
  it("accepts what the qrcode package draws for any otpauth URI", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 64 }), async (label) => {
        const svg = await qr(
          `otpauth://totp/id.example.test:${encodeURIComponent(label)}?secret=JBSWY3DPEHPK3PXP`,
        );
        const markup = qrCodeMarkup(svg, "qr-label").toString();
        return markup.includes('role="img" aria-labelledby="qr-label"') && !markup.includes("<script");
      }),
      { numRuns: 25 },
    );
  });

  it("refuses anything else", async () => {
    const svg = await qr("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP");
    for (const tampered of [
      svg.replace("</svg>", "<script>alert(1)</script></svg>"),
      svg.replace('<path fill="#ffffff"', '<path onload="alert(1)" fill="#ffffff"'),
      svg.replace('fill="#ffffff"', 'fill="#fff" style="x:url(&quot;)"'),
      svg.replace("<svg", "<div><svg"),
      `${svg}<img src=x>`,
      "",
    ]) {
      expect(() => qrCodeMarkup(tampered, "qr-label")).toThrow("QR code");
    }
  });
});

describe("enrolment page", () => {
  it("renders well-formed markup with the key grouped in fours and the code input", async () => {
    const key = {
      secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
      uri: "otpauth://totp/id.example.test:pat?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
      qrSvg: await qr("otpauth://totp/id.example.test:pat?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    };
    const page = totpEnrolPage({
      csrfToken: "tok",
      user,
      key,
      replacing: false,
      cancelHref: "/account/security",
    });
    const tags = tokenize(page);
    expect(page).toContain('<code id="totp-secret">JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP</code>');
    const [input] = elements(tags, "input").filter((tag) => tag.attrs.get("name") === "code");
    expect(Object.fromEntries(input!.attrs)).toMatchObject({
      type: "text",
      inputmode: "numeric",
      pattern: "[0-9]*",
      maxlength: "6",
      autocomplete: "one-time-code",
    });
    expect(page).toContain("Pat &lt;b&gt;Doe&lt;/b&gt;");
    expect(page).toContain(`href="${key.uri}"`);
  });

  it("asks again without a key after a wrong code, and runs without the account header inside a sign-in", () => {
    const page = totpEnrolPage({
      csrfToken: "tok",
      replacing: false,
      error: "That code is not right.",
      cancelHref: "/login/enrol",
    });
    tokenize(page);
    expect(page).not.toContain("<svg xmlns");
    expect(page).not.toContain('id="totp-secret"');
    expect(page).toContain('role="alert"');
    expect(page).not.toContain('action="/logout"');
  });
});

describe("recovery codes page", () => {
  it("lists the codes, offers them as a file and links on to a same-origin page only", () => {
    const page = recoveryCodesPage({
      csrfToken: "tok",
      codes: CODES,
      reason: "enrolled",
      next: { href: "https://evil.example/", text: "Continue" },
    });
    tokenize(page);
    for (const code of CODES) expect(page).toContain(`<li><code>${code}</code></li>`);
    const download = /href="(data:text\/plain[^"]*)" download="recovery-codes.txt"/.exec(page)?.[1] ?? "";
    expect(decodeURIComponent(download.slice(download.indexOf(",") + 1))).toContain(CODES.join("\n"));
    expect(page).toContain('<a class="button" href="/">Continue</a>');
  });
});

describe("security page blocks", () => {
  it("offers to set up an app, and explains recovery codes, to a user without factors", () => {
    const block = totpSection({ csrfToken: "tok", enrolled: false, recoveryCodesLeft: 0 });
    const doc = asDocument(block);
    tokenize(doc);
    expect(doc).toContain('<a class="button" href="/account/security/totp">Set up an authenticator app</a>');
    expect(doc).not.toContain('action="/account/security/totp/remove"');
    expect(doc).not.toContain('action="/account/security/recovery-codes"');
    expect(doc).toContain("Recovery codes are created when you set up an authenticator app.");
  });

  it("offers replace, remove and new codes to an enrolled user, with the count", () => {
    const doc = asDocument(totpSection({ csrfToken: "tok", enrolled: true, recoveryCodesLeft: 10 }));
    tokenize(doc);
    expect(doc).toContain('<span class="badge">On</span>');
    expect(doc).toContain('href="/account/security/totp">Replace</a>');
    expect(doc).toMatch(
      /action="\/account\/security\/totp\/remove">\s*<input type="hidden" name="csrf" value="tok">/,
    );
    expect(doc).toMatch(
      /action="\/account\/security\/recovery-codes">\s*<input type="hidden" name="csrf" value="tok">/,
    );
    expect(doc).toContain("You have 10 recovery codes left.");
  });

  it("warns when three codes or fewer are left, and when none are", () => {
    const low = asDocument(totpSection({ csrfToken: "tok", enrolled: true, recoveryCodesLeft: 1 }));
    expect(low).toContain('<p class="alert alert--info" role="status">You have only 1 recovery code left.');
    const none = asDocument(totpSection({ csrfToken: "tok", enrolled: true, recoveryCodesLeft: 0 }));
    expect(none).toContain("You have no recovery codes left.");
  });

  it("offers new codes to a user whose second factor is a security key", () => {
    const doc = asDocument(
      totpSection({ csrfToken: "tok", enrolled: false, recoveryCodesLeft: 4, hasSecondFactor: true }),
    );
    expect(doc).toContain('action="/account/security/recovery-codes"');
    expect(doc).toContain("Set up an authenticator app");
  });
});
