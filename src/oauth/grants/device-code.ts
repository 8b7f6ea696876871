/**
 * The device authorization grant's token request (RFC 8628 §3.4, §3.5): the device polls with its device code.
 * The states of the request (pending, too fast, denied, expired, used) are the device flow's (src/oauth/
 * device.ts), answered as `authorization_pending`, `slow_down`, `access_denied`, `expired_token` and
 * `invalid_grant`; an approved request is consumed once and issues tokens for the user who approved it, if
 * that user is still active. A refresh token follows the same rules as for a code.
 */
import { generateOpaqueToken } from "../../crypto/opaque-token.js";
import { DEVICE_CODE_GRANT } from "../device.js";
import type { Subject } from "../issuer.js";
import { newJti } from "../issuer.js";
import { parseScope } from "../scopes.js";
import {
  type GrantHandler,
  issueTokens,
  REFRESH_FORMAT,
  refreshAllowed,
  refreshBinding,
  refreshRow,
  required,
  requireLiveUser,
  unauthorizedClient,
} from "./shared.js";

export const deviceCodeGrant: GrantHandler = async (deps, request) => {
  const { client, params, dpopJkt } = request;
  if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) unauthorizedClient("device authorization grant");
  const code = required(params, "device_code", "The device_code parameter is missing.");
  const row = await deps.device.exchange(client, code);
  // An approved request carries the sign-in that approved it.
  const userId = row.user_id as string;
  const amr = row.amr as string;
  await requireLiveUser(deps, userId);
  const scopes = parseScope(row.scope);
  const subject: Subject = {
    userId,
    authTime: row.auth_time as number,
    acr: row.acr as string,
    amr: amr.split(" "),
    sessionId: row.session_id,
  };
  const { access, response } = await issueTokens(deps, request, {
    subject,
    scopes,
    resources: JSON.parse(row.resources) as string[],
    nonce: null,
  });
  if (refreshAllowed(client, scopes)) {
    const refresh = generateOpaqueToken(REFRESH_FORMAT);
    const now = deps.clock.now();
    const source = {
      client_id: client.id,
      user_id: userId,
      session_id: row.session_id,
      scope: row.scope,
      resources: row.resources,
      auth_time: subject.authTime,
      acr: subject.acr,
      amr,
    };
    await deps.repositories.refreshTokens.insert(
      refreshRow(deps, source, {
        token: refresh,
        familyId: newJti(),
        familyEnd: now + deps.policy.refreshTokenLifetime * 1000,
        now,
        access,
        dpopJkt: refreshBinding(client, dpopJkt),
      }),
    );
    response.refresh_token = refresh;
  }
  return response;
};
