/** The authenticator-app and recovery-code sections of `/account/security` (issue 4). To be built. */
import type { SafeHtml } from "../html.js";
import { html } from "../html.js";

export interface TotpSectionModel {
  csrfToken: string;
  enrolled: boolean;
  recoveryCodesLeft: number;
}

export function totpSection(_model: TotpSectionModel): SafeHtml {
  return html``;
}
