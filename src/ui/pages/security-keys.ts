/** The security keys and passkeys section of `/account/security` (issue 4). To be built. */
import type { WebAuthnCredential } from "../../mfa/index.js";
import type { SafeHtml } from "../html.js";
import { html } from "../html.js";

export interface KeysSectionModel {
  csrfToken: string;
  keys: WebAuthnCredential[];
}

export function securityKeysSection(_model: KeysSectionModel): SafeHtml {
  return html``;
}
