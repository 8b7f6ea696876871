/**
 * `/account/security`: the user's second factors: an authenticator app with its recovery codes, and security
 * keys and passkeys. Each block is rendered by its factor's module (security-totp.ts, security-keys.ts); this page
 * adds the policy line (whether a second factor is required) and the freshness note for sensitive actions.
 */
import { type Flash, pageIntro, type UiUser } from "../components.js";
import { html, type SafeHtml } from "../html.js";
import { layout } from "../layout.js";

export function securityPage(model: {
  csrfToken: string;
  user: UiUser;
  required: boolean;
  hasFactor: boolean;
  sections: SafeHtml[];
  flash?: Flash | null;
}): string {
  const body = html`${pageIntro(
    "Sign-in security",
    "Two-step verification protects your account even if someone learns your password.",
  )}
${
  model.required && !model.hasFactor
    ? html`<p class="notice" role="status">Your organisation requires two-step verification. Set up a second factor below.</p>`
    : model.required
      ? html`<p class="muted">Two-step verification is required for your account.</p>`
      : null
}
<p class="muted">Changes here ask you to confirm it is you when your sign-in is more than a few minutes old.</p>
${model.sections}`;
  return layout({
    title: "Sign-in security",
    body,
    user: model.user,
    csrfToken: model.csrfToken,
    flash: model.flash,
    section: "security",
  });
}
