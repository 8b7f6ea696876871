/**
 * New recovery codes, shown once: after an authenticator app is set up, or when the user asks for a new set.
 *
 * - The ten codes as a list of `<code>`, plus a plain-text download (a `data:` link with `download`, no script),
 *   and the advice to keep them somewhere safe; Tessera keeps only hashes, so they cannot be shown again.
 * - The route sends it with `Cache-Control: no-store` (every page is), so the back button does not bring it back
 *   from a cache.
 * - `next` is where the user goes on: the security page, or the rest of the sign-in ("Continue"). Only
 *   same-origin paths are linked (`localHref`).
 */
import { pageIntro, type UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";
import { localHref } from "./message.js";

export interface RecoveryCodesPageModel {
  csrfToken: string;
  /** The signed-in user; absent inside a sign-in (enrolment before the sign-in completes). */
  user?: UiUser | null;
  codes: readonly string[];
  /** `enrolled`: right after an authenticator app was set up; `regenerated`: a new set replaced the old one. */
  reason: "enrolled" | "regenerated";
  next: { href: string; text: string };
  /** An extra line above the codes (e.g. that the sign-in must be started again). */
  notice?: string;
}

export function recoveryCodesPage(model: RecoveryCodesPageModel): string {
  const text = `Recovery codes for your account. Each works once.\n\n${model.codes.join("\n")}\n`;
  const download = `data:text/plain;charset=utf-8,${encodeURIComponent(text)}`;
  const body = html`${pageIntro(
    "Save your recovery codes",
    html`If you lose your authenticator, each code signs you in once. <strong>They will not be shown again.</strong>`,
  )}
<div class="card narrow">
${
  model.reason === "enrolled"
    ? html`<p class="alert alert--success" role="status">Your authenticator app is set up.</p>`
    : html`<p class="alert alert--success" role="status">New recovery codes are ready. Your old codes no longer work.</p>`
}
${model.notice ? html`<p class="alert alert--info" role="status">${model.notice}</p>` : null}
<ol class="plain-list" aria-label="Recovery codes">
${model.codes.map((code) => html`<li><code>${code}</code></li>`)}
</ol>
<p class="hint">Store them in a password manager or print them, away from the device with your authenticator app.</p>
<div class="actions">
<a class="button button--secondary" href="${download}" download="recovery-codes.txt">Download as text</a>
<a class="button" href="${localHref(model.next.href)}">${model.next.text}</a>
</div>
</div>`;
  const title = "Save your recovery codes";
  return model.user
    ? layout({ title, body, user: model.user, csrfToken: model.csrfToken, section: "security" })
    : layout({ title, body, csrfToken: model.csrfToken });
}
