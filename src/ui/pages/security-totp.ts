/**
 * The "Authenticator app" and "Recovery codes" blocks of `/account/security`.
 *
 * - Authenticator app: on or off; "Set up" (or "Replace") links to `GET /account/security/totp`; "Remove" is a
 *   `POST /account/security/totp/remove` form (CSRF).
 * - Recovery codes: how many are left (a warning at three or fewer), and "Generate new codes"
 *   (`POST /account/security/recovery-codes`, CSRF), which says that the old ones stop working. Offered only
 *   when the user has a second factor for the codes to stand in for.
 */
import { csrfField } from "../components.js";
import type { SafeHtml } from "../html.js";
import { html } from "../html.js";

export interface TotpSectionModel {
  csrfToken: string;
  /** A confirmed authenticator app. */
  enrolled: boolean;
  /** Unused recovery codes. */
  recoveryCodesLeft: number;
  /** Any second factor (authenticator app or security key); defaults to `enrolled`. */
  hasSecondFactor?: boolean;
}

const LOW = 3;

function recoveryCodesText(left: number): string {
  if (left === 0)
    return "You have no recovery codes left. Generate new ones so that you can still sign in if you lose your second factor.";
  const count = left === 1 ? "1 recovery code" : `${left} recovery codes`;
  return left <= LOW
    ? `You have only ${count} left. Generate new ones soon.`
    : `You have ${count} left. Each one signs you in once if you lose your second factor.`;
}

export function totpSection(model: TotpSectionModel): SafeHtml {
  const hasSecondFactor = model.hasSecondFactor ?? model.enrolled;
  return html`<section class="card" aria-labelledby="totp-heading">
<h2 id="totp-heading">Authenticator app${model.enrolled ? html` <span class="badge">On</span>` : null}</h2>
${
  model.enrolled
    ? html`<p>Sign-ins ask for the 6-digit code from your authenticator app.</p>
<div class="button-row">
<a class="button button--secondary" href="/account/security/totp">Replace</a>
<form method="post" action="/account/security/totp/remove">
${csrfField(model.csrfToken)}
<button class="button button--danger" type="submit">Remove<span class="visually-hidden"> the authenticator app</span></button>
</form>
</div>`
    : html`<p class="muted">Get 6-digit sign-in codes from an app such as Google Authenticator, Microsoft Authenticator, 1Password or Bitwarden.</p>
<div class="actions"><a class="button" href="/account/security/totp">Set up an authenticator app</a></div>`
}
</section>
<section class="card" aria-labelledby="recovery-heading">
<h2 id="recovery-heading">Recovery codes</h2>
${
  hasSecondFactor || model.recoveryCodesLeft > 0
    ? html`${
        model.recoveryCodesLeft <= LOW
          ? html`<p class="alert alert--info" role="status">${recoveryCodesText(model.recoveryCodesLeft)}</p>`
          : html`<p>${recoveryCodesText(model.recoveryCodesLeft)}</p>`
      }
${
  hasSecondFactor
    ? html`<form method="post" action="/account/security/recovery-codes">
${csrfField(model.csrfToken)}
<p class="hint" id="regenerate-hint">New codes replace all your current ones.</p>
<button class="button button--secondary" type="submit" aria-describedby="regenerate-hint">Generate new codes</button>
</form>`
    : null
}`
    : html`<p class="muted">Recovery codes are created when you set up an authenticator app. Each one signs you in once if you lose it.</p>`
}
</section>`;
}
