/**
 * OAuth clients: list, read, create, change, delete, rotate the secret — through `ctx.oauth.clients`, the
 * service the CLI and dynamic registration use, so every metadata rule (redirect URIs, grant types,
 * lifetimes, keys) is the domain's own (`invalid_client_metadata`, `invalid_redirect_uri`).
 *
 * - A secret is answered exactly twice in a client's life: by create and by rotate-secret, each time once.
 *   It is stored as a hash; list and read answer the metadata only (the response schema has no field that
 *   could carry it).
 * - `PATCH` merges the fields sent into the current metadata and stores the result through the domain's
 *   `replace`; the client id and secret stay. Switching between a secret and no secret is refused.
 * - Deleting a client deletes its codes, consents and refresh tokens with it.
 */
import type { JsonWebKey } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { JWS_ALGORITHMS } from "../../../crypto/index.js";
import { JWE_ALGORITHMS, JWE_ENCRYPTIONS } from "../../../crypto/jwe.js";
import {
  AUTH_METHODS,
  type Client,
  type ClientAuthMethod,
  ClientIdTakenError,
  type ClientInput,
  GRANT_TYPES,
  type GrantType,
} from "../../../oauth/clients.js";
import type { HttpServices } from "../../services.js";
import { clientExists, clientHasNoSecret, clientNotFound } from "./errors.js";
import { adminResponses, EPOCH_MS, ID_PARAMS, NO_CONTENT, NULLABLE_TEXT, TEXT } from "./schemas.js";

const TAGS = ["clients"];

const STRINGS = { type: "array", maxItems: 100, items: TEXT } as const;
const JWKS = {
  type: "object",
  required: ["keys"],
  additionalProperties: false,
  description: "A JWK Set (RFC 7517 §5) of public keys, each with a kid.",
  properties: {
    keys: {
      type: "array",
      items: { type: "object", additionalProperties: true, description: "A public JWK (RFC 7517)." },
    },
  },
} as const;

/** How tokens are encrypted to the client (JWE, RFC 7516 / RFC 7518). */
const JWE_SETTINGS = {
  type: "object",
  required: ["alg", "enc"],
  properties: {
    alg: { type: "string", enum: [...JWE_ALGORITHMS], description: "Key management algorithm." },
    enc: { type: "string", enum: [...JWE_ENCRYPTIONS], description: "Content encryption algorithm." },
  },
} as const;
const JWE_SETTINGS_INPUT = {
  type: "object",
  required: ["alg"],
  additionalProperties: false,
  properties: {
    alg: { type: "string", enum: [...JWE_ALGORITHMS] },
    enc: { type: "string", enum: [...JWE_ENCRYPTIONS], description: "Default A128CBC-HS256." },
  },
} as const;

const CLIENT = {
  type: "object",
  required: [
    "id",
    "name",
    "authMethod",
    "redirectUris",
    "postLogoutRedirectUris",
    "grantTypes",
    "scopes",
    "resources",
    "firstParty",
    "accessTokenTtl",
    "accessTokenFormat",
    "idTokenAlg",
    "requirePar",
    "dpopBound",
    "backchannelLogoutUri",
    "jwks",
    "jwksUri",
    "idTokenEncryption",
    "userinfoSignedAlg",
    "userinfoEncryption",
    "tokenExchangeAudiences",
    "tokenExchangeImpersonation",
    "createdAt",
  ],
  properties: {
    id: { type: "string", description: "The client_id." },
    name: { type: "string" },
    authMethod: {
      type: "string",
      enum: [...AUTH_METHODS],
      description: "token_endpoint_auth_method; `none` is a public client.",
    },
    redirectUris: { type: "array", items: { type: "string" } },
    postLogoutRedirectUris: { type: "array", items: { type: "string" } },
    grantTypes: { type: "array", items: { type: "string", enum: [...GRANT_TYPES] } },
    scopes: { type: "array", items: { type: "string" }, description: "Scopes the client may ask for." },
    resources: {
      type: "array",
      items: { type: "string" },
      description:
        "Audiences (RFC 8707 resource indicators) the client may ask tokens for; the first is the default.",
    },
    firstParty: { type: "boolean", description: "First-party clients skip the consent page." },
    accessTokenTtl: { type: "integer", description: "Access token lifetime, seconds." },
    accessTokenFormat: { type: "string", enum: ["jwt", "opaque"] },
    idTokenAlg: { type: "string", enum: [...JWS_ALGORITHMS] },
    requirePar: { type: "boolean", description: "Authorization requests must be pushed (RFC 9126)." },
    dpopBound: {
      type: "boolean",
      description: "Every token request must carry a DPoP proof (RFC 9449 §5.2 dpop_bound_access_tokens).",
    },
    backchannelLogoutUri: { type: ["string", "null"] },
    jwks: { anyOf: [JWKS, { type: "null" }] },
    jwksUri: {
      type: ["string", "null"],
      description: "Where the client publishes its encryption keys (OpenID Connect Registration jwks_uri).",
    },
    idTokenEncryption: {
      anyOf: [JWE_SETTINGS, { type: "null" }],
      description:
        "ID tokens are signed, then encrypted to the client (id_token_encrypted_response_alg/enc).",
    },
    userinfoSignedAlg: {
      type: ["string", "null"],
      enum: [...JWS_ALGORITHMS, null],
      description: "Userinfo answers a JWT signed with this algorithm (userinfo_signed_response_alg).",
    },
    userinfoEncryption: {
      anyOf: [JWE_SETTINGS, { type: "null" }],
      description: "Userinfo answers a signed, then encrypted JWT (userinfo_encrypted_response_alg/enc).",
    },
    tokenExchangeAudiences: {
      type: ["array", "null"],
      items: { type: "string" },
      description:
        "Token exchange (RFC 8693): the resource servers exchanged tokens may be asked for; null means `resources`.",
    },
    tokenExchangeImpersonation: {
      type: "boolean",
      description:
        "Token exchange: may ask for tokens without `act` (impersonation); false allows delegation only.",
    },
    createdAt: EPOCH_MS,
  },
} as const;

/** Metadata an administrator may set; every field is optional on PATCH. */
const METADATA = {
  name: { ...TEXT, description: "Shown on the consent page." },
  authMethod: {
    type: "string",
    enum: [...AUTH_METHODS],
    description: "token_endpoint_auth_method (default client_secret_basic); `none` is a public client.",
  },
  redirectUris: STRINGS,
  postLogoutRedirectUris: STRINGS,
  grantTypes: { type: "array", maxItems: 10, items: { type: "string", enum: [...GRANT_TYPES] } },
  scopes: {
    type: "array",
    maxItems: 100,
    items: { type: "string", pattern: "^\\S+$" },
    description: "Scopes the client may ask for (default: openid profile email offline_access).",
  },
  resources: STRINGS,
  firstParty: { type: "boolean" },
  accessTokenTtl: { type: "integer", description: "Seconds." },
  accessTokenFormat: { type: "string", enum: ["jwt", "opaque"] },
  idTokenAlg: { type: "string", enum: [...JWS_ALGORITHMS] },
  requirePar: { type: "boolean" },
  dpopBound: { type: "boolean" },
  backchannelLogoutUri: NULLABLE_TEXT,
  jwks: {
    ...JWKS,
    description:
      "The client's public keys: required for private_key_jwt (signing keys) and, without jwksUri, for " +
      "encryption (keys with use `enc` or no use).",
  },
  jwksUri: {
    ...NULLABLE_TEXT,
    description:
      "Instead of jwks, for encryption keys only: an https URL Tessera fetches (through the outbound guard) " +
      "at once to check it, then as its Cache-Control says.",
  },
  idTokenEncryption: {
    anyOf: [JWE_SETTINGS_INPUT, { type: "null" }],
    description: "Encrypt ID tokens to the client (null: signed only).",
  },
  userinfoSignedAlg: {
    type: ["string", "null"],
    enum: [...JWS_ALGORITHMS, null],
    description: "Userinfo answers a signed JWT (null: JSON, unless userinfoEncryption is set).",
  },
  userinfoEncryption: {
    anyOf: [JWE_SETTINGS_INPUT, { type: "null" }],
    description: "Userinfo answers a signed, then encrypted JWT (null: not encrypted).",
  },
  tokenExchangeAudiences: {
    type: ["array", "null"],
    maxItems: 100,
    items: TEXT,
    description:
      "Token exchange (RFC 8693, grant type urn:ietf:params:oauth:grant-type:token-exchange): the resource " +
      "servers (audiences) exchanged tokens may be asked for; null (the default) means the client's `resources`.",
  },
  tokenExchangeImpersonation: {
    type: "boolean",
    description:
      "Token exchange: the client may ask for tokens that name no new actor (`tessera_impersonate=true`). " +
      "Default false: exchanged tokens carry `act` naming the client or the actor token's subject.",
  },
} as const;

interface MetadataBody {
  name?: string;
  authMethod?: ClientAuthMethod;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  grantTypes?: GrantType[];
  scopes?: string[];
  resources?: string[];
  firstParty?: boolean;
  accessTokenTtl?: number;
  accessTokenFormat?: "jwt" | "opaque";
  idTokenAlg?: ClientInput["idTokenAlg"];
  requirePar?: boolean;
  dpopBound?: boolean;
  backchannelLogoutUri?: string | null;
  jwks?: { keys: JsonWebKey[] };
  jwksUri?: string | null;
  idTokenEncryption?: { alg: string; enc?: string } | null;
  userinfoSignedAlg?: ClientInput["idTokenAlg"] | null;
  userinfoEncryption?: { alg: string; enc?: string } | null;
  tokenExchangeAudiences?: string[] | null;
  tokenExchangeImpersonation?: boolean;
}

type CreateBody = MetadataBody & { name: string; id?: string };

/** The body's fields as the domain's input (`scopes` travels as one space-separated `scope`). */
function toInput(body: MetadataBody): Partial<ClientInput> {
  const { scopes, ...rest } = body;
  return { ...rest, ...(scopes === undefined ? {} : { scope: scopes.join(" ") }) };
}

/** A stored client as the domain's input, for a read-modify-write. */
function inputOf(client: Client): ClientInput {
  return {
    name: client.name,
    authMethod: client.authMethod,
    redirectUris: [...client.redirectUris],
    postLogoutRedirectUris: [...client.postLogoutRedirectUris],
    grantTypes: [...client.grantTypes],
    scope: client.scopes.join(" "),
    resources: [...client.resources],
    firstParty: client.firstParty,
    accessTokenTtl: client.accessTokenTtl,
    accessTokenFormat: client.accessTokenFormat,
    idTokenAlg: client.idTokenAlg,
    requirePar: client.requirePar,
    dpopBound: client.dpopBound,
    backchannelLogoutUri: client.backchannelLogoutUri,
    ...(client.jwks ? { jwks: client.jwks } : {}),
    jwksUri: client.jwksUri,
    idTokenEncryption: client.idTokenEncryption,
    userinfoSignedAlg: client.userinfoSignedAlg,
    userinfoEncryption: client.userinfoEncryption,
    tokenExchangeAudiences: client.tokenExchangeAudiences ? [...client.tokenExchangeAudiences] : null,
    tokenExchangeImpersonation: client.tokenExchangeImpersonation,
  };
}

const SECRET = {
  type: "string",
  description: "The client secret (`tsr_cs_…`). Shown this once: Tessera keeps only its hash.",
} as const;

export function adminClientRoutes(ctx: Pick<HttpServices, "oauth">) {
  const { clients } = ctx.oauth;

  async function existing(id: string): Promise<Client> {
    const client = await clients.get(id);
    if (!client) throw clientNotFound();
    return client;
  }

  return async (app: FastifyInstance) => {
    app.get(
      "/admin/clients",
      {
        schema: {
          tags: TAGS,
          summary: "List OAuth clients",
          description: "Every client's metadata, in creation order; never a secret.",
          response: adminResponses({
            200: {
              type: "object",
              required: ["clients"],
              properties: { clients: { type: "array", items: CLIENT } },
            },
          }),
        },
      },
      async () => ({ clients: await clients.list() }),
    );

    app.post<{ Body: CreateBody }>(
      "/admin/clients",
      {
        schema: {
          tags: TAGS,
          summary: "Register an OAuth client",
          description:
            "Registers a client with the same rules as the CLI and dynamic registration. A confidential " +
            "client (`client_secret_basic`, the default, or `client_secret_post`) gets a secret, answered " +
            "once here and never again.",
          body: {
            type: "object",
            required: ["name"],
            additionalProperties: false,
            properties: {
              id: {
                ...TEXT,
                description: "A chosen client_id (A-Z a-z 0-9 . _ ~ -, 3–128); random if absent.",
              },
              ...METADATA,
            },
          },
          response: adminResponses(
            {
              201: {
                type: "object",
                required: ["client"],
                description: "The new client, and its secret if it has one.",
                properties: { client: CLIENT, secret: SECRET },
              },
            },
            [409],
          ),
        },
      },
      async (request, reply) => {
        const { id, ...metadata } = request.body;
        if (id !== undefined && (await clients.get(id))) throw clientExists();
        let created: Awaited<ReturnType<typeof clients.create>>;
        try {
          created = await clients.create({
            ...toInput(metadata),
            name: metadata.name,
            ...(id === undefined ? {} : { id }),
          });
        } catch (error) {
          // Another request registered the same id between the look-up and the insert.
          if (error instanceof ClientIdTakenError) throw clientExists();
          throw error;
        }
        const { client, secret } = created;
        request.log.info({ clientId: client.id, admin: request.admin?.tokenId }, "client registered");
        return reply
          .code(201)
          .header("location", `/admin/clients/${encodeURIComponent(client.id)}`)
          .send({ client, ...(secret === undefined ? {} : { secret }) });
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/clients/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Read an OAuth client",
          description: "The client's metadata; never its secret.",
          params: ID_PARAMS,
          response: adminResponses({ 200: CLIENT }, [404]),
        },
      },
      async (request) => existing(request.params.id),
    );

    app.patch<{ Params: { id: string }; Body: MetadataBody }>(
      "/admin/clients/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Change an OAuth client",
          description:
            "Changes the fields sent (lists are replaced whole) and validates the result like a new " +
            "registration. The client id and secret stay; switching between an authentication method with " +
            "a secret and one without is refused.",
          params: ID_PARAMS,
          body: { type: "object", additionalProperties: false, minProperties: 1, properties: METADATA },
          response: adminResponses({ 200: CLIENT }, [404]),
        },
      },
      async (request) => {
        const current = await existing(request.params.id);
        const input: ClientInput = { ...inputOf(current), ...toInput(request.body) };
        // Keys belong to private_key_jwt and to encryption: moving away from both drops them unless new ones
        // are sent; sending a jwksUri replaces them (and sending jwks replaces a jwksUri).
        const encrypted = Boolean(input.idTokenEncryption || input.userinfoEncryption);
        if (request.body.jwks === undefined && input.authMethod !== "private_key_jwt" && !encrypted)
          delete input.jwks;
        if (request.body.jwks === undefined && request.body.jwksUri) delete input.jwks;
        if (request.body.jwks !== undefined && request.body.jwksUri === undefined) input.jwksUri = null;
        if (!encrypted && request.body.jwksUri === undefined) input.jwksUri = null;
        const client = await clients.replace(current.id, input);
        request.log.info({ clientId: client.id, admin: request.admin?.tokenId }, "client changed");
        return client;
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/clients/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Delete an OAuth client",
          description: "Deletes the client with its authorization codes, consents and refresh tokens.",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        if (!(await clients.delete(request.params.id))) throw clientNotFound();
        request.log.info({ clientId: request.params.id, admin: request.admin?.tokenId }, "client deleted");
        return reply.code(204).send();
      },
    );

    app.post<{ Params: { id: string } }>(
      "/admin/clients/:id/rotate-secret",
      {
        schema: {
          tags: TAGS,
          summary: "Rotate an OAuth client's secret",
          description:
            "Gives a confidential client a new secret, answered once; the old secret stops working at once. " +
            "A public or private_key_jwt client has no secret (409 `client_has_no_secret`).",
          params: ID_PARAMS,
          response: adminResponses(
            { 200: { type: "object", required: ["secret"], properties: { secret: SECRET } } },
            [404, 409],
          ),
        },
      },
      async (request) => {
        const client = await existing(request.params.id);
        if (client.authMethod === "none" || client.authMethod === "private_key_jwt")
          throw clientHasNoSecret();
        const secret = await clients.rotateSecret(client.id);
        request.log.info({ clientId: client.id, admin: request.admin?.tokenId }, "client secret rotated");
        return { secret };
      },
    );
  };
}
