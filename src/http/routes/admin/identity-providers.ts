/**
 * Upstream identity providers: list, read, create, change, remove — through `ctx.federation.providers`, the
 * service the CLI (`tessera idp …`) uses.
 *
 * - Create takes `{displayName, issuer, clientId, clientSecret}` for a generic OpenID Connect provider, or a
 *   `kind` preset (`google`, `entra`, `github`); it answers 201 with the provider, its `id` and the `redirectUri`
 *   to register at the upstream. The upstream is probed first (discovery through the outbound guard): a bad
 *   issuer, or a private address without `allowPrivateNetwork`, is a 400.
 * - Answers never carry a secret: `hasClientSecret` says whether one is stored; for `private_key_jwt` the public
 *   JWK (also at `/federation/{id}/jwks.json`) is what the upstream needs.
 * - Every change is audited with the administrator as actor.
 */
import type { FastifyInstance } from "fastify";
import {
  CLIENT_AUTH_METHODS,
  DEFAULT_CLAIM_MAPPING,
  FederationError,
  type IdentityProviderInput,
  PROVIDER_KINDS,
} from "../../../federation/index.js";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import { adminResponses, EPOCH_MS, ID_PARAMS, NO_CONTENT, TEXT } from "./schemas.js";

const TAGS = ["identity providers"];

const CLAIM_NAMES = Object.keys(DEFAULT_CLAIM_MAPPING);
const CLAIM_MAPPING = {
  type: "object",
  additionalProperties: false,
  description: "Which upstream claim carries each attribute (defaults: standard OpenID Connect claims).",
  properties: Object.fromEntries(CLAIM_NAMES.map((k) => [k, { type: "string", maxLength: 128 }])),
} as const;
const GROUP_MAPPING = {
  type: "object",
  description:
    "Upstream group → Tessera group displayName. Members are added to and removed from the mapped groups at " +
    "each sign-in. Never the administrator right (no group confers it).",
  additionalProperties: { ...TEXT, minLength: 1, maxLength: 256 },
  maxProperties: 200,
} as const;
const STRINGS = (description: string) =>
  ({ type: "array", maxItems: 100, items: { ...TEXT, minLength: 1, maxLength: 253 }, description }) as const;

const WRITABLE = {
  displayName: { ...TEXT, minLength: 1, maxLength: 100, description: "Shown on the sign-in button." },
  issuer: {
    ...TEXT,
    maxLength: 2048,
    description: "The upstream's issuer (https). GitHub: its web base URL (default https://github.com).",
  },
  tenant: {
    ...TEXT,
    maxLength: 64,
    description: "Entra ID: common, organizations, consumers or a directory id (when no issuer is given).",
  },
  clientId: { ...TEXT, minLength: 1, maxLength: 512 },
  clientSecret: { ...TEXT, minLength: 1, maxLength: 1024, writeOnly: true, description: "Never returned." },
  clientAuth: { type: "string", enum: CLIENT_AUTH_METHODS },
  scopes: { type: "array", maxItems: 50, items: { ...TEXT, minLength: 1, maxLength: 128 } },
  jit: { type: "boolean", description: "Create accounts just in time for unknown upstream accounts." },
  trustEmail: {
    type: "boolean",
    description: "Match existing accounts by e-mail when the upstream says the address is verified.",
  },
  satisfiesMfa: {
    type: "boolean",
    description: "A sign-in here satisfies Tessera's second-factor requirement.",
  },
  enabled: { type: "boolean" },
  allowPrivateNetwork: {
    type: "boolean",
    description: "Requests to this upstream may reach private and loopback addresses (an internal provider).",
  },
  upstreamLogout: {
    type: "boolean",
    description: "Signing out of Tessera also signs out at the upstream (its end_session_endpoint).",
  },
  claimMapping: CLAIM_MAPPING,
  groupMapping: GROUP_MAPPING,
  allowedDomains: STRINGS("Home-realm discovery: e-mail domains whose users go straight to this provider."),
  allowedTenants: STRINGS("Entra ID multi-tenant: the directory ids allowed (empty: any)."),
  apiUrl: { ...TEXT, maxLength: 2048, description: "GitHub: the REST API base URL." },
} as const;

const PROVIDER = {
  type: "object",
  required: [
    "id",
    "kind",
    "displayName",
    "issuer",
    "clientId",
    "clientAuth",
    "hasClientSecret",
    "publicJwk",
    "redirectUri",
    "scopes",
    "jit",
    "trustEmail",
    "satisfiesMfa",
    "enabled",
    "allowPrivateNetwork",
    "upstreamLogout",
    "claimMapping",
    "groupMapping",
    "allowedDomains",
    "allowedTenants",
    "apiUrl",
    "createdAt",
    "updatedAt",
  ],
  properties: {
    id: { type: "string" },
    kind: { type: "string", enum: PROVIDER_KINDS },
    displayName: { type: "string" },
    issuer: { type: "string" },
    clientId: { type: "string" },
    clientAuth: { type: "string", enum: CLIENT_AUTH_METHODS },
    hasClientSecret: { type: "boolean" },
    publicJwk: {
      type: ["object", "null"],
      additionalProperties: { type: "string" },
      description: "private_key_jwt: the public key to register at the upstream (also at jwksUri).",
    },
    jwksUri: { type: ["string", "null"] },
    redirectUri: { type: "string", description: "Tessera's callback: register it at the upstream." },
    scopes: { type: "array", items: { type: "string" } },
    jit: { type: "boolean" },
    trustEmail: { type: "boolean" },
    satisfiesMfa: { type: "boolean" },
    enabled: { type: "boolean" },
    allowPrivateNetwork: { type: "boolean" },
    upstreamLogout: { type: "boolean" },
    claimMapping: {
      type: "object",
      properties: Object.fromEntries(CLAIM_NAMES.map((k) => [k, { type: "string" }])),
    },
    groupMapping: { type: "object", additionalProperties: { type: "string" } },
    allowedDomains: { type: "array", items: { type: "string" } },
    allowedTenants: { type: "array", items: { type: "string" } },
    apiUrl: { type: ["string", "null"] },
    createdAt: EPOCH_MS,
    updatedAt: EPOCH_MS,
  },
} as const;

type Body = IdentityProviderInput;

export function adminIdentityProviderRoutes(ctx: Pick<HttpServices, "federation" | "config">) {
  const { providers } = ctx.federation;
  const present = <T extends { id: string; publicJwk: unknown }>(p: T) => ({
    ...p,
    jwksUri: p.publicJwk ? `${ctx.config.issuer}/federation/${encodeURIComponent(p.id)}/jwks.json` : null,
  });

  return async (app: FastifyInstance) => {
    app.get(
      "/admin/identity-providers",
      {
        schema: {
          tags: TAGS,
          summary: "List identity providers",
          response: adminResponses({
            200: {
              type: "object",
              required: ["identityProviders"],
              properties: { identityProviders: { type: "array", items: PROVIDER } },
            },
          }),
        },
      },
      async () => ({ identityProviders: (await providers.list()).map(present) }),
    );

    app.post<{ Body: Body }>(
      "/admin/identity-providers",
      {
        schema: {
          tags: TAGS,
          summary: "Add an identity provider",
          description:
            "A generic OpenID Connect provider needs displayName, issuer, clientId and clientSecret; the " +
            "presets (kind google, entra, github) fill in the issuer and defaults. The upstream is probed " +
            "through the outbound guard before it is stored. Answers the provider with its redirectUri.",
          body: {
            type: "object",
            required: ["clientId"],
            additionalProperties: false,
            properties: { kind: { type: "string", enum: PROVIDER_KINDS }, ...WRITABLE },
          },
          response: adminResponses({ 201: { ...PROVIDER, description: "The new provider." } }),
        },
      },
      async (request, reply) => {
        const provider = await providers.create(request.body, adminActor(request));
        return reply
          .code(201)
          .header("location", `/admin/identity-providers/${encodeURIComponent(provider.id)}`)
          .send(present(provider));
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/identity-providers/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Read an identity provider",
          params: ID_PARAMS,
          response: adminResponses({ 200: PROVIDER }, [404]),
        },
      },
      async (request) => {
        const provider = await providers.get(request.params.id);
        if (!provider) throw new FederationError("not_found", "No such identity provider.");
        return present(provider);
      },
    );

    app.patch<{ Params: { id: string }; Body: Body }>(
      "/admin/identity-providers/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Change an identity provider",
          description:
            "Fields not sent stay as they are; a new clientSecret replaces the stored one. A changed issuer " +
            "(or network setting) is probed again.",
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            minProperties: 1,
            properties: WRITABLE,
          },
          response: adminResponses({ 200: PROVIDER }, [404, 409]),
        },
      },
      async (request) =>
        present(await providers.update(request.params.id, request.body, adminActor(request))),
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/identity-providers/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Remove an identity provider",
          description:
            "Removes the provider and every account link to it; users who could sign in only through it " +
            "need another way (a password reset or an invitation).",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        await providers.delete(request.params.id, adminActor(request));
        return reply.code(204).send();
      },
    );
  };
}
