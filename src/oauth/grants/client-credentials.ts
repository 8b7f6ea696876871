/**
 * The `client_credentials` grant (RFC 6749 §4.4; RFC 8707).
 *
 * - Confidential clients only; the client is the subject; no refresh token, no ID token.
 * - Resources: each must be on the client's list (`invalid_target`); none given means the client's first.
 * - Scopes: resource scopes only, never an OpenID scope (there is no user); each must be on the client's list
 *   and accepted by a requested resource (`invalid_scope`). None given means every scope of the client that a
 *   requested resource accepts.
 */
import { checkScopes } from "../authorize.js";
import { isResourceIndicator } from "../clients.js";
import { OAuthError } from "../errors.js";
import { isOidcScope, parseScope } from "../scopes.js";
import { type GrantHandler, issueTokens, single, unauthorizedClient } from "./shared.js";

export const clientCredentialsGrant: GrantHandler = async (deps, request) => {
  const { client, params } = request;
  if (client.authMethod === "none" || !client.grantTypes.includes("client_credentials")) {
    unauthorizedClient("client_credentials grant");
  }
  const raw = params.resource;
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const resources: string[] = [];
  for (const value of values) {
    if (typeof value !== "string" || !isResourceIndicator(value) || !client.resources.includes(value)) {
      throw new OAuthError("invalid_target", "The resource is not one this client may ask tokens for.");
    }
    if (!resources.includes(value)) resources.push(value);
  }
  if (resources.length === 0 && client.resources.length > 0) resources.push(client.resources[0] as string);
  const fail = (error: OAuthError["code"], description: string): never => {
    throw new OAuthError(error, description);
  };
  let scopes = parseScope(single(params, "scope"));
  for (const scope of scopes) {
    if (isOidcScope(scope))
      fail("invalid_scope", `The scope "${scope}" needs a user; client_credentials has none.`);
  }
  if (scopes.length === 0) {
    // Default: every scope of the client that a requested resource accepts.
    const accepted = new Set<string>();
    for (const resource of resources) {
      for (const s of (await deps.clients.getResourceServer(resource))?.scopes ?? []) accepted.add(s);
    }
    scopes = client.scopes.filter((s) => !isOidcScope(s) && accepted.has(s));
  }
  await checkScopes(scopes, resources, client, deps.clients, fail);
  const { response } = await issueTokens(deps, request, {
    subject: undefined,
    scopes,
    resources,
    nonce: null,
  });
  return response;
};
