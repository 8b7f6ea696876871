/**
 * `GET /account/security/keys/new`: name and register a security key or passkey.
 *
 * - For a signed-in user (account layout, "Security" section) or for a user finishing a sign-in whose
 *   organisation requires a second factor (anonymous layout; cancel goes back to `/login/enrol`).
 * - The form `#webauthn-register` carries the CSRF token in `data-csrf`; the same-origin scripts
 *   (`/assets/simplewebauthn-browser.js`, `/assets/webauthn-register.js`) run the ceremony and report progress
 *   and errors in the `role="status"` paragraph. Without JavaScript a `<noscript>` says why nothing happens.
 */

import { SCRIPT_PATHS } from "../assets/page-scripts.js";
import { inputField, pageIntro, type UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";
import { KEY_NAME_MAX_LENGTH } from "./security-keys.js";

export interface NewKeyPageModel {
  csrfToken: string;
  /** The signed-in user; null while a sign-in waits for the required enrolment. */
  user: UiUser | null;
}

export function newKeyPage(model: NewKeyPageModel): string {
  const body = html`<div class="card${model.user ? " narrow" : ""}">
${pageIntro(
  "Add a security key or passkey",
  "Use a hardware security key, or create a passkey on this device or on your phone.",
)}
<noscript><div class="alert alert--error" role="alert"><p>Registering a security key needs JavaScript. Turn it on for this site and reload the page.</p></div></noscript>
<form id="webauthn-register" data-csrf="${model.csrfToken}">
${inputField({
  id: "key-name",
  name: "name",
  label: "Name",
  type: "text",
  autocomplete: "off",
  maxLength: KEY_NAME_MAX_LENGTH,
  hint: "So you can tell your keys apart, for example “Blue YubiKey” or “Work laptop”.",
  autofocus: true,
})}
<div class="actions">
<button class="button" type="submit">Register key</button>
<a href="${model.user ? "/account/security" : "/login/enrol"}">Cancel</a>
</div>
<p class="hint" id="webauthn-register-status" role="status"></p>
</form>
</div>
<script src="${SCRIPT_PATHS.simpleWebAuthn}" defer></script>
<script src="${SCRIPT_PATHS.common}" defer></script>
<script src="${SCRIPT_PATHS.register}" defer></script>`;
  const title = "Add a security key";
  return model.user
    ? layout({ title, body, user: model.user, csrfToken: model.csrfToken, section: "security" })
    : layout({ title, body, csrfToken: model.csrfToken });
}
