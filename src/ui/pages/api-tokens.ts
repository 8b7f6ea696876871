/**
 * Personal access tokens (`GET /account/tokens`): the user's tokens (name, scopes, expiry, last use, never the
 * secret) with a "Revoke" button each, and a form to create one (`POST /account/tokens`).
 *
 * - Creating a token is a sensitive action: a sign-in older than the step-up age is sent to `/login/step-up`
 *   first (the token outlives the session that made it).
 * - The new token is shown once, on its own page (`Cache-Control: no-store`), with the advice to store it in a
 *   secret manager; Tessera keeps only its hash.
 * - Expiry choices come from the organisation's maximum; 90 days is preselected.
 */
import {
  csrfField,
  errorSummary,
  type Flash,
  inputField,
  pageIntro,
  timeElement,
  type UiUser,
} from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export interface TokenRow {
  id: string;
  name: string;
  scopes: string[];
  resources: string[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  allowedIps: string[] | null;
}

export interface TokensPageModel {
  csrfToken: string;
  user: UiUser;
  tokens: TokenRow[];
  /** Scopes the user may choose, with a description each. */
  scopeChoices: { value: string; text: string }[];
  resourceChoices: { value: string; text: string }[];
  /** Expiry choices in days (0: never). */
  expiryChoices: number[];
  error?: string;
  flash?: Flash | null;
  now: number;
}

function expiryLabel(days: number): string {
  return days === 0 ? "Never" : days === 1 ? "1 day" : `${days} days`;
}

export function tokensPage(model: TokensPageModel): string {
  const errorId = model.error ? "form-error" : null;
  const body = html`${pageIntro(
    "API tokens",
    "Personal access tokens let scripts and tools call APIs as you. Treat them like passwords.",
  )}
<div class="card">
${
  model.tokens.length === 0
    ? html`<p class="muted">You have no active API tokens.</p>`
    : html`<ul class="app-list">
${model.tokens.map(
  (t) => html`<li class="app-item">
<h2 class="app-name">${t.name}</h2>
<p class="muted">Created ${timeElement(t.createdAt)} · ${
    t.expiresAt === null ? "never expires" : html`expires ${timeElement(t.expiresAt)}`
  } · ${t.lastUsedAt === null ? "never used" : html`last used ${timeElement(t.lastUsedAt)}`}</p>
<p>Scopes: ${t.scopes.length === 0 ? "none" : t.scopes.join(", ")}${
    t.resources.length > 0 ? html` · for ${t.resources.join(", ")}` : null
  }${t.allowedIps ? html` · from ${t.allowedIps.join(", ")}` : null}</p>
<form method="post" action="/account/tokens/${encodeURIComponent(t.id)}/revoke">
${csrfField(model.csrfToken)}
<button class="button button--danger button--small" type="submit">Revoke<span class="visually-hidden"> ${t.name}</span></button>
</form>
</li>`,
)}
</ul>`
}
</div>
<div class="card narrow">
<h2>Create a token</h2>
${model.error ? errorSummary("form-error", model.error) : null}
<form method="post" action="/account/tokens">
${csrfField(model.csrfToken)}
${inputField({ id: "name", name: "name", label: "Name", type: "text", autocomplete: "off", required: true, maxLength: 200, hint: "What the token is for, e.g. “deploy script”.", describedBy: [errorId] })}
<fieldset class="field"><legend>Scopes</legend>
${
  model.scopeChoices.length === 0
    ? html`<p class="muted">No scopes are available to you.</p>`
    : model.scopeChoices.map(
        (c, i) =>
          html`<div class="check"><input id="scope-${i}" name="scope" type="checkbox" value="${c.value}"><label for="scope-${i}">${c.text} (<code>${c.value}</code>)</label></div>`,
      )
}
</fieldset>
${
  model.resourceChoices.length === 0
    ? null
    : html`<fieldset class="field"><legend>APIs it may be used at</legend>
${model.resourceChoices.map(
  (c, i) =>
    html`<div class="check"><input id="resource-${i}" name="resource" type="checkbox" value="${c.value}"><label for="resource-${i}">${c.text}</label></div>`,
)}
</fieldset>`
}
<div class="field"><label for="expires">Expires after</label>
<select class="input" id="expires" name="expires_in_days">
${model.expiryChoices.map((d) => html`<option value="${String(d)}"${d === 90 ? html` selected` : null}>${expiryLabel(d)}</option>`)}
</select></div>
${inputField({ id: "allowed_ips", name: "allowed_ips", label: "Allowed addresses (optional)", type: "text", autocomplete: "off", verbatim: true, hint: "CIDR blocks separated by spaces or commas, e.g. 203.0.113.0/24. Empty: any address." })}
<div class="actions"><button class="button" type="submit">Create token</button></div>
</form>
</div>`;
  return layout({
    title: "API tokens",
    body,
    user: model.user,
    csrfToken: model.csrfToken,
    flash: model.flash,
    section: "tokens",
  });
}

/** The one time a new token's value is shown. */
export function newTokenPage(model: {
  csrfToken: string;
  user: UiUser;
  name: string;
  token: string;
}): string {
  const body = html`${pageIntro("Your new token", html`Copy it now: <strong>it will not be shown again</strong>.`)}
<div class="card narrow">
<p>${model.name}</p>
<label for="token">Token</label>
<input class="input" id="token" type="text" readonly value="${model.token}" autocomplete="off" autocapitalize="none" autocorrect="off" spellcheck="false">
<p class="hint">Keep it in a secret manager or your system's key store, never in source code. Tessera stores only a hash of it.</p>
<div class="actions"><a class="button" href="/account/tokens">Done</a></div>
</div>`;
  return layout({
    title: "Your new token",
    body,
    user: model.user,
    csrfToken: model.csrfToken,
    section: "tokens",
  });
}
