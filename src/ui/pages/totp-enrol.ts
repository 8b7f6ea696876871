/**
 * Setting up an authenticator app (`GET /account/security/totp`), from the account pages or inside a sign-in
 * that requires a second factor (`/login/enrol`).
 *
 * - The `otpauth://` URI as a QR code (inline SVG drawn on the server, `role="img"` with a text alternative),
 *   the key in base32 for typing by hand (in groups of four, with the parameters apps ask for), and a link with
 *   the URI itself, which opens the app directly on a phone.
 * - One form, `POST /account/security/totp`: `csrf` and `code`, a one-time-code input (`autocomplete=
 *   "one-time-code"`, `inputmode="numeric"`, `pattern="[0-9]*"`, `maxlength="6"`).
 * - After a wrong code the page asks again without a new key (the app already holds it), with a link to start
 *   over.
 * - Replacing an authenticator says that the current one keeps working until the new one is confirmed.
 * - The QR markup is the only raw markup: it is accepted only in the exact shape the `qrcode` package draws
 *   (an `<svg>` of `<path>` elements with colours and path data), anything else throws.
 */
import { csrfField, errorSummary, pageIntro, type UiUser } from "../components.js";
import { html, raw, type SafeHtml } from "../html.js";
import { layout } from "../layout.js";

export interface TotpEnrolPageModel {
  csrfToken: string;
  /** The signed-in user (account pages); absent inside a sign-in. */
  user?: UiUser | null;
  /**
   * The new key, as `beginEnrolment` answers it (base32 secret, `otpauth://` URI, QR code). Absent when asking
   * again after a wrong code: the app already holds the key, so only the code form and a way to start over show.
   */
  key?: { secret: string; uri: string; qrSvg: string };
  /** An authenticator is already set up: this one will replace it once confirmed. */
  replacing: boolean;
  error?: string;
  /** Where "Cancel" goes. */
  cancelHref: string;
}

const QR_SVG =
  /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"((?: [A-Za-z-]+="[0-9A-Za-z .#-]*")*)>((?:<path(?: [A-Za-z-]+="[0-9A-Za-z .#-]*")*\/>)+)<\/svg>\s*$/;

/** The QR code's markup, checked and given its accessible name. */
export function qrCodeMarkup(svg: string, labelId: string): SafeHtml {
  const match = QR_SVG.exec(svg);
  if (!match) throw new Error("QR code: unexpected SVG markup");
  return raw(
    `<svg xmlns="http://www.w3.org/2000/svg"${match[1]} role="img" aria-labelledby="${labelId}" focusable="false">${match[2]}</svg>`,
  );
}

/** The 6-digit code input, as password managers and phones expect it. */
export function totpCodeField(options: { errorId: string | null; autofocus?: boolean }): SafeHtml {
  const describedBy = ["code-hint", options.errorId].filter(Boolean).join(" ");
  return html`<div class="field">
<label for="code">Code from the app</label>
<p class="hint" id="code-hint">The 6 digits the app shows for this account.</p>
<input class="input" id="code" name="code" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="6" autocomplete="one-time-code" autocapitalize="none" autocorrect="off" spellcheck="false" required${
    options.autofocus ? html` autofocus` : null
  } aria-describedby="${describedBy}">
</div>`;
}

function grouped(base32: string): string {
  return base32.replace(/(.{4})(?=.)/g, "$1 ");
}

export function totpEnrolPage(model: TotpEnrolPageModel): string {
  const errorId = model.error ? "form-error" : null;
  const body = html`${pageIntro(
    model.replacing ? "Replace your authenticator app" : "Set up an authenticator app",
    "Use an app such as Google Authenticator, Microsoft Authenticator, 1Password or Bitwarden.",
  )}
<div class="card narrow">
${model.error ? errorSummary("form-error", model.error) : null}
${
  model.replacing
    ? html`<p class="alert alert--info" role="status">Your current authenticator app keeps working until you confirm the new one with a code.</p>`
    : null
}
${
  model.key
    ? html`<h2>1. Scan this QR code with the app</h2>
<p id="qr-label" class="visually-hidden">QR code with the key for your authenticator app</p>
<div class="qr">${qrCodeMarkup(model.key.qrSvg, "qr-label")}</div>
<p>Can’t scan it? Enter this key in the app instead:</p>
<p><code id="totp-secret">${grouped(model.key.secret)}</code></p>
<p class="hint">Time-based, SHA-1, 6 digits, a new code every 30 seconds. On this phone, <a href="${model.key.uri}">open the app directly</a>.</p>
<h2>2. Enter the code the app shows</h2>`
    : html`<p>Enter the code your app shows for the account you just added. Not added yet? <a href="/account/security/totp">Start again</a> to see the QR code.</p>`
}
<form method="post" action="/account/security/totp">
${csrfField(model.csrfToken)}
${totpCodeField({ errorId, autofocus: Boolean(model.error) })}
<div class="actions">
<button class="button" type="submit">Confirm</button>
<a href="${model.cancelHref}">Cancel</a>
</div>
</form>
</div>`;
  const title = model.replacing ? "Replace your authenticator app" : "Set up an authenticator app";
  return model.user
    ? layout({ title, body, user: model.user, csrfToken: model.csrfToken, section: "security" })
    : layout({ title, body, csrfToken: model.csrfToken });
}
