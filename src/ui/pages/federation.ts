/**
 * Pages and page parts of sign-in with other identity providers (src/federation).
 *
 * - `providerButtons`: on the sign-in page, one form per enabled provider whose button reads "Continue with
 *   {displayName}" (a POST with the CSRF token and the pending `return_to`), and, when a provider offers
 *   home-realm discovery, a "work e-mail" form that sends the person to their organisation's provider. The
 *   invitation page reuses it with its own heading and hidden fields (the invitation being accepted).
 * - `linkChoicePage`: an upstream account linked to nobody: sign in to link it to an existing account (proof of
 *   ownership), or create a new account where the provider allows it.
 * - `linkConfirmPage`: the signed-in user confirms linking.
 * - `linkedProvidersPage`: the account's linked providers, each with a "Remove" button, and providers the user
 *   may still link.
 */
import { csrfField, type Flash, inputField, pageIntro, timeElement, type UiUser } from "../components.js";
import { html, type SafeHtml } from "../html.js";
import { layout } from "../layout.js";

export interface ProviderButton {
  id: string;
  displayName: string;
}

/** The sign-in page's provider buttons (nothing when there are no providers). */
export function providerButtons(model: {
  csrfToken: string;
  returnTo?: string | undefined;
  providers?: readonly ProviderButton[] | undefined;
  homeRealm?: boolean | undefined;
  /** The section's heading; the sign-in page's by default. */
  heading?: string | undefined;
  /** More hidden fields each provider's form sends (`intent`, the invitation being accepted). */
  hidden?: Readonly<Record<string, string>> | undefined;
}): SafeHtml | null {
  const providers = model.providers ?? [];
  if (providers.length === 0) return null;
  const returnTo =
    model.returnTo !== undefined
      ? html`<input type="hidden" name="return_to" value="${model.returnTo}">`
      : null;
  const hidden = Object.entries(model.hidden ?? {}).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">
`,
  );
  return html`<section class="federation" aria-labelledby="federation-heading">
<h2 id="federation-heading" class="hint">${model.heading ?? "Or sign in with another account"}</h2>
${providers.map(
  (p) => html`<form method="post" action="/federation/${encodeURIComponent(p.id)}/start" class="actions">
${csrfField(model.csrfToken)}
${returnTo}
${hidden}<button class="button button--secondary button--block" type="submit">Continue with ${p.displayName}</button>
</form>
`,
)}${
  model.homeRealm
    ? html`<form method="post" action="/federation/discover">
${csrfField(model.csrfToken)}
${returnTo}
${inputField({
  id: "work-email",
  name: "email",
  label: "Work e-mail",
  type: "email",
  autocomplete: "email",
  verbatim: true,
  required: true,
  hint: "Your organisation’s sign-in page opens when it signs you in here.",
})}
<button class="button button--secondary" type="submit">Continue with work e-mail</button>
</form>`
    : null
}
</section>`;
}

export interface LinkChoiceModel {
  csrfToken: string;
  providerName: string;
  name: string | null;
  email: string | null;
  canCreate: boolean;
  error?: string;
}

export function linkChoicePage(model: LinkChoiceModel): string {
  const who = model.email ?? model.name;
  const body = html`<div class="card">
${pageIntro(
  `Link your ${model.providerName} account`,
  who
    ? html`You signed in at ${model.providerName} as <strong>${who}</strong>, but no account here is linked to it yet.`
    : html`You signed in at ${model.providerName}, but no account here is linked to it yet.`,
)}
${model.error ? html`<div class="alert alert--error" role="alert"><p>${model.error}</p></div>` : null}
<p>If you already have an account here, sign in to it once to link the two.</p>
<p class="actions"><a class="button button--block" href="/login?return_to=${encodeURIComponent("/federation/link/complete")}">Sign in to link your account</a></p>
${
  model.canCreate
    ? html`<form method="post" action="/federation/link/create" class="actions">
${csrfField(model.csrfToken)}
<button class="button button--secondary button--block" type="submit">Create a new account instead</button>
</form>`
    : html`<p class="muted">New accounts cannot be created through ${model.providerName}. Ask your administrator for access.</p>`
}
</div>`;
  return layout({ title: "Link your account", body, csrfToken: model.csrfToken });
}

export function linkConfirmPage(model: {
  csrfToken: string;
  user: UiUser;
  providerName: string;
  upstream: string | null;
}): string {
  const body = html`<div class="card narrow">
${pageIntro(`Link ${model.providerName}?`)}
<p>From now on, signing in at ${model.providerName}${
    model.upstream ? html` as <strong>${model.upstream}</strong>` : null
  } signs you in to <strong>${model.user.userName}</strong> here.</p>
<form method="post" action="/federation/link/complete" class="actions">
${csrfField(model.csrfToken)}
<button class="button" type="submit">Link accounts</button>
<a class="button button--secondary" href="/account">Cancel</a>
</form>
</div>`;
  return layout({ title: "Link accounts", body, user: model.user, csrfToken: model.csrfToken });
}

export interface LinkedProviderView {
  providerId: string;
  displayName: string;
  email: string | null;
  linkedAt: number;
  lastSignInAt: number | null;
}

export function linkedProvidersPage(model: {
  csrfToken: string;
  user: UiUser;
  linked: readonly LinkedProviderView[];
  /** Enabled providers not linked yet. */
  available: readonly ProviderButton[];
  flash?: Flash | null;
  error?: string;
}): string {
  const body = html`${pageIntro("Linked sign-in providers", "Accounts elsewhere that sign you in here.")}
${model.error ? html`<div class="alert alert--error" role="alert"><p>${model.error}</p></div>` : null}
<section class="card" aria-labelledby="linked-heading">
<h2 id="linked-heading">Linked</h2>
${
  model.linked.length === 0
    ? html`<p class="muted">No provider is linked to your account.</p>`
    : html`<ul class="link-list">
${model.linked.map(
  (l) => html`<li><strong>${l.displayName}</strong>${l.email ? html` (${l.email})` : null}
<span class="muted">Linked ${timeElement(l.linkedAt, { format: "date" })}${
    l.lastSignInAt ? html`; last used ${timeElement(l.lastSignInAt, { format: "date" })}` : null
  }.</span>
<form method="post" action="/account/linked/${encodeURIComponent(l.providerId)}/remove">
${csrfField(model.csrfToken)}
<button class="button button--danger button--small" type="submit">Remove ${l.displayName}</button>
</form></li>
`,
)}</ul>`
}
</section>
${
  model.available.length > 0
    ? html`<section class="card" aria-labelledby="available-heading">
<h2 id="available-heading">Link another provider</h2>
${model.available.map(
  (p) => html`<form method="post" action="/federation/${encodeURIComponent(p.id)}/start" class="actions">
${csrfField(model.csrfToken)}
<input type="hidden" name="intent" value="link">
<button class="button button--secondary" type="submit">Link ${p.displayName}</button>
</form>
`,
)}</section>`
    : null
}`;
  return layout({
    title: "Linked sign-in providers",
    body,
    user: model.user,
    csrfToken: model.csrfToken,
    flash: model.flash,
    section: "security",
  });
}

/** After signing out of Tessera: on to the upstream's logout (a refresh, with a link for when it does not). */
export function upstreamLogoutPage(model: { url: string; providerName: string }): string {
  const body = html`<div class="card">
${pageIntro("You are signed out", html`Signing you out of ${model.providerName} too…`)}
<p><a class="button" href="${model.url}">Continue to ${model.providerName}</a></p>
</div>`;
  return layout({ title: "Signed out", body }).replace(
    "<head>",
    `<head>\n<meta http-equiv="refresh" content="0;url=${escapeAttribute(model.url)}">`,
  );
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
