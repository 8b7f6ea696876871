/**
 * A generic message page: not found, bad request, "password changed", "link expired".
 *
 * - Title as the heading, the message as text; for an HTTP error status an "Error <status>" line above it.
 * - The optional link must be a same-origin path (`/…`, not `//…`): anything else is replaced by `/`, so a
 *   caller can never render an open redirect or a `javascript:` URL.
 * - Signed in (user and CSRF token given): the account layout with its header; otherwise a centred card.
 */
import type { UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export type MessagePageModel = {
  title: string;
  message: string;
  /** HTTP status; 400 and up adds an "Error <status>" line. The route sets the response status itself. */
  status?: number;
  link?: { href: string; text: string };
} & ({ user: UiUser; csrfToken: string } | { user?: null; csrfToken?: string });

/** A same-origin absolute path, or "/" in its place. */
export function localHref(href: string): string {
  return /^\/(?![/\\])[^\s\\]*$/.test(href) ? href : "/";
}

export function messagePage(model: MessagePageModel): string {
  const isError = model.status !== undefined && model.status >= 400;
  const content = html`${isError ? html`<p class="eyebrow">Error ${model.status}</p>` : null}
<h1>${model.title}</h1>
<p>${model.message}</p>
${model.link ? html`<p><a class="button" href="${localHref(model.link.href)}">${model.link.text}</a></p>` : null}`;
  const auth = model.user ? { user: model.user, csrfToken: model.csrfToken } : { csrfToken: model.csrfToken };
  return layout({
    title: model.title,
    body: html`<div class="card${model.user ? " narrow" : ""}">
${content}
</div>`,
    ...auth,
  });
}
