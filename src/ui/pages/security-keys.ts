/**
 * The "Security keys and passkeys" section of `/account/security`.
 *
 * - One entry per key: its name, badges ("Passkey" for a discoverable credential, usable without a password;
 *   "Synced" when the passkey provider backs it up), when it was added and last used (UTC `<time>`; relative
 *   when `now` is given).
 * - Rename (`POST /account/security/keys/<id>/rename`, field `name`) inside a `<details>` so the list stays
 *   short; remove (`POST /account/security/keys/<id>/remove`). Both carry the CSRF field, and their buttons
 *   name the key for screen readers. Ids are URL-encoded in the actions; input ids are by position.
 * - "Add a security key" leads to `/account/security/keys/new`.
 */
import type { WebAuthnCredential } from "../../mfa/index.js";
import { csrfField, timeElement } from "../components.js";
import type { SafeHtml } from "../html.js";
import { html } from "../html.js";

export interface KeysSectionModel {
  csrfToken: string;
  keys: WebAuthnCredential[];
  /** Epoch milliseconds; when given, recent "last used" times read as "5 minutes ago". */
  now?: number;
}

export const KEY_NAME_MAX_LENGTH = 64;

function keyItem(key: WebAuthnCredential, index: number, model: KeysSectionModel): SafeHtml {
  const action = `/account/security/keys/${encodeURIComponent(key.id)}`;
  const inputId = `key-name-${index}`;
  return html`<li class="app-item">
<h3 class="app-name">${key.name}${key.discoverable ? html` <span class="badge">Passkey</span>` : null}${
    key.backedUp ? html` <span class="badge">Synced</span>` : null
  }</h3>
<p class="muted">Added ${timeElement(key.createdAt, { format: "date" })} · ${
    key.lastUsedAt === null
      ? "Not used yet"
      : html`Last used ${timeElement(key.lastUsedAt, { now: model.now })}`
  }</p>
<details>
<summary>Rename<span class="visually-hidden"> ${key.name}</span></summary>
<form method="post" action="${action}/rename">
${csrfField(model.csrfToken)}
<div class="field">
<label for="${inputId}">New name</label>
<input class="input" id="${inputId}" name="name" type="text" value="${key.name}" maxlength="${KEY_NAME_MAX_LENGTH}" autocomplete="off" required>
</div>
<button class="button button--secondary button--small" type="submit">Save name</button>
</form>
</details>
<form method="post" action="${action}/remove">
${csrfField(model.csrfToken)}
<button class="button button--danger button--small" type="submit">Remove<span class="visually-hidden"> ${key.name}</span></button>
</form>
</li>
`;
}

export function securityKeysSection(model: KeysSectionModel): SafeHtml {
  return html`<section class="card" aria-labelledby="keys-heading">
<h2 id="keys-heading">Security keys and passkeys</h2>
<p class="muted">A security key or a passkey proves it is you with a touch, a PIN or your fingerprint, and cannot be phished. A passkey can also sign you in without your password.</p>
${
  model.keys.length === 0
    ? html`<p class="muted">You have no security key or passkey yet.</p>`
    : html`<ul class="app-list">
${model.keys.map((key, index) => keyItem(key, index, model))}</ul>`
}
<p><a class="button" href="/account/security/keys/new">Add a security key</a></p>
</section>`;
}
