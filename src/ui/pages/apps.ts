/**
 * Connected apps (`GET /account/apps`): the applications the user has allowed to use their account, with what
 * each may do, and a "Disconnect" button (`POST /account/apps/<client id>/revoke`) that forgets the consent
 * and revokes the app's refresh tokens for this user. First-party apps that never asked appear only when
 * they hold a refresh token.
 */
import { csrfField, type Flash, pageIntro, timeElement, type UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";
import { scopeDescription } from "./consent.js";

export interface ConnectedApp {
  clientId: string;
  name: string;
  scopes: string[];
  /** Epoch ms of the last consent. */
  since: number;
}

export interface AppsPageModel {
  csrfToken: string;
  user: UiUser;
  apps: ConnectedApp[];
  flash?: Flash | null;
}

export function appsPage(model: AppsPageModel): string {
  const body = html`${pageIntro("Connected apps", "Applications you allowed to use your Tessera account.")}
<div class="card">
${
  model.apps.length === 0
    ? html`<p class="muted">No application is connected to your account.</p>`
    : html`<ul class="app-list">
${model.apps.map(
  (app) => html`<li class="app-item">
<h2 class="app-name">${app.name}</h2>
<p class="muted">Connected since ${timeElement(app.since)}</p>
<ul>${app.scopes.map((s) => html`<li>${scopeDescription(s)}</li>`)}</ul>
<form method="post" action="/account/apps/${encodeURIComponent(app.clientId)}/revoke">
${csrfField(model.csrfToken)}
<button class="button button--danger button--small" type="submit">Disconnect<span class="visually-hidden"> ${app.name}</span></button>
</form>
</li>`,
)}
</ul>`
}
</div>`;
  return layout({
    title: "Connected apps",
    body,
    user: model.user,
    csrfToken: model.csrfToken,
    flash: model.flash,
    section: "apps",
  });
}
