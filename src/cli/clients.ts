/**
 * `tessera clients …` and `tessera resources …`: register OAuth clients and resource servers from the command
 * line, through the same domain code as the (coming) admin API and dynamic registration.
 *
 * - A confidential client's secret is printed once, at creation, and never again (it is stored hashed).
 * - Lists are comma-separated: `--redirect-uris https://a/cb,https://b/cb`.
 */
import type { JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Client, ClientAuthMethod, GrantType } from "../oauth/clients.js";
import type { Services } from "../server/services.js";
import { commaList as list, table } from "./format.js";
import { CliUsageError } from "./users.js";

export const CLIENTS_HELP = `  clients create NAME --redirect-uris U[,U…] [--public] [--grant-types G[,G…]] [--scope "S …"]
                 [--resources R[,R…]] [--first-party] [--require-par] [--dpop-bound] [--access-token-ttl SECONDS]
                 [--jwks-file FILE] [--opaque-access-tokens] [--post-logout-redirect-uris U[,U…]]
                 [--backchannel-logout-uri U] [--token-exchange-audiences R[,R…]]
                 [--token-exchange-impersonation] [--json]
                 [--id-token-encryption ALG[,ENC]] [--userinfo-encryption ALG[,ENC]]
                 [--userinfo-signed-alg ALG] [--jwks-uri URL]
                                 (--jwks-file: the client's public JWK Set; it then authenticates with
                                 private_key_jwt and gets no secret, unless encryption is asked for: then
                                 only a key with use "sig" makes it private_key_jwt. Encryption: ALG is
                                 ECDH-ES+A256KW or RSA-OAEP-256, ENC A256GCM or A128CBC-HS256 (default);
                                 its keys come from --jwks-file or --jwks-uri)
                                 Register an OAuth client; a confidential client's secret is shown once
  clients list [--json]          List OAuth clients
  clients token-exchange ID [--allow|--deny] [--audiences R[,R…]|resources]
                 [--impersonation yes|no] [--json]
                                 Set a client's token exchange policy (RFC 8693): --allow/--deny adds or
                                 removes the grant; --audiences the resource servers it may ask exchanged
                                 tokens for ("resources": its resources); --impersonation whether it may
                                 ask for tokens without act. Prints the policy
  clients initial-token [--expires-in SECONDS] [--uses N]
                                 Mint an initial access token for dynamic registration (shown once)
  clients delete ID              Delete a client (its codes, consents and refresh tokens go with it)
  resources create AUDIENCE --name N --scope "S …" [--jwks-file FILE --access-token-encryption ALG[,ENC]]
                                 Register a resource server (API) and the scopes it accepts; with
                                 --access-token-encryption, its access tokens are encrypted to its keys
  resources list [--json]        List resource servers
`;

export const CLIENT_FLAGS = {
  "redirect-uris": "string",
  "post-logout-redirect-uris": "string",
  "backchannel-logout-uri": "string",
  public: "boolean",
  "grant-types": "string",
  scope: "string",
  resources: "string",
  "first-party": "boolean",
  "require-par": "boolean",
  "dpop-bound": "boolean",
  "opaque-access-tokens": "boolean",
  "jwks-file": "string",
  "expires-in": "string",
  uses: "string",
  "access-token-ttl": "string",
  "token-exchange-audiences": "string",
  "token-exchange-impersonation": "boolean",
  allow: "boolean",
  deny: "boolean",
  audiences: "string",
  impersonation: "string",
  "id-token-encryption": "string",
  "userinfo-encryption": "string",
  "userinfo-signed-alg": "string",
  "jwks-uri": "string",
  "access-token-encryption": "string",
  name: "string",
  json: "boolean",
} as const;

/** `ALG[,ENC]` of an encryption flag (the domain checks the names). */
function encryptionFlag(
  flags: Record<string, string | boolean>,
  flag: string,
): { alg: string; enc?: string } | undefined {
  const value = flags[flag];
  if (value === undefined) return undefined;
  const [alg, enc, ...rest] = typeof value === "string" ? value.split(",") : [];
  if (!alg || rest.length > 0) throw new CliUsageError(`--${flag} takes ALG or ALG,ENC`);
  return enc ? { alg, enc } : { alg };
}

/** A JWK Set read from a file. */
function readJwks(file: string | boolean | undefined): { keys: JsonWebKey[] } | undefined {
  if (file === undefined) return undefined;
  if (typeof file !== "string") throw new CliUsageError("--jwks-file takes a file");
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { keys: JsonWebKey[] };
  } catch (error) {
    throw new CliUsageError(`cannot read a JWK Set from ${file}: ${(error as Error).message}`);
  }
}

function summary(client: Client) {
  return {
    id: client.id,
    name: client.name,
    type: client.authMethod === "none" ? "public" : "confidential",
    grants: client.grantTypes.join(","),
    redirectUris: client.redirectUris.join(","),
    scope: client.scopes.join(" "),
    firstParty: client.firstParty ? "yes" : "no",
  };
}

export async function runClientsCommand(
  ctx: Services,
  words: string[],
  flags: Record<string, string | boolean>,
  out: (text: string) => void,
): Promise<number> {
  const [group, sub, name, ...rest] = words;
  if (rest.length > 0) throw new CliUsageError("too many arguments");
  const { clients } = ctx.oauth;
  if (group === "resources") {
    if (sub === "create") {
      if (!name) throw new CliUsageError("resources create needs an audience (an absolute URI)");
      const encryption = encryptionFlag(flags, "access-token-encryption");
      const jwks = readJwks(flags["jwks-file"]);
      if ((encryption === undefined) !== (jwks === undefined)) {
        throw new CliUsageError("--access-token-encryption and --jwks-file go together");
      }
      const server = await clients.createResourceServer({
        audience: name,
        name: typeof flags.name === "string" ? flags.name : name,
        scope: typeof flags.scope === "string" ? flags.scope : "",
        ...(encryption && jwks ? { encryption: { ...encryption, jwks } } : {}),
      });
      out(
        flags.json
          ? `${JSON.stringify(server, null, 2)}\n`
          : `Registered resource server ${server.audience}\n`,
      );
      return 0;
    }
    if (sub === "list") {
      const servers = await clients.listResourceServers();
      out(
        flags.json
          ? `${JSON.stringify(servers, null, 2)}\n`
          : `${table(servers.map((s) => ({ audience: s.audience, name: s.name, scope: s.scopes.join(" ") })))}\n`,
      );
      return 0;
    }
    throw new CliUsageError(`unknown command "resources ${sub ?? ""}"`.trim());
  }
  switch (sub) {
    case "create": {
      if (!name) throw new CliUsageError("clients create needs a name");
      const ttl = flags["access-token-ttl"];
      if (ttl !== undefined && (typeof ttl !== "string" || !/^\d+$/.test(ttl))) {
        throw new CliUsageError("--access-token-ttl takes a number of seconds");
      }
      const jwksFile = flags["jwks-file"];
      if (jwksFile !== undefined && (typeof jwksFile !== "string" || flags.public)) {
        throw new CliUsageError("--jwks-file takes a file, and a public client has no keys");
      }
      let jwks: { keys: JsonWebKey[] } | undefined;
      if (typeof jwksFile === "string") {
        try {
          jwks = JSON.parse(readFileSync(jwksFile, "utf8")) as { keys: JsonWebKey[] };
        } catch (error) {
          throw new CliUsageError(`cannot read a JWK Set from ${jwksFile}: ${(error as Error).message}`);
        }
      }
      const idTokenEncryption = encryptionFlag(flags, "id-token-encryption");
      const userinfoEncryption = encryptionFlag(flags, "userinfo-encryption");
      const encrypted = idTokenEncryption !== undefined || userinfoEncryption !== undefined;
      // Keys for encryption only do not make the client authenticate with keys: a signing key does.
      const signingKeys =
        jwks !== undefined &&
        (!encrypted ||
          (Array.isArray(jwks.keys) && jwks.keys.some((k) => (k as { use?: unknown }).use === "sig")));
      const authMethod: ClientAuthMethod = flags.public
        ? "none"
        : signingKeys
          ? "private_key_jwt"
          : "client_secret_basic";
      const userinfoAlg = flags["userinfo-signed-alg"];
      const jwksUri = flags["jwks-uri"];
      if ((userinfoAlg !== undefined && typeof userinfoAlg !== "string") || typeof jwksUri === "boolean") {
        throw new CliUsageError("--userinfo-signed-alg and --jwks-uri take a value");
      }
      const redirectUris = list(flags["redirect-uris"]);
      const postLogout = list(flags["post-logout-redirect-uris"]);
      // `device_code` and `token-exchange` are accepted for their grants' URNs.
      const grantTypes = list(flags["grant-types"])?.map((g) =>
        g === "device_code"
          ? "urn:ietf:params:oauth:grant-type:device_code"
          : g === "token-exchange"
            ? "urn:ietf:params:oauth:grant-type:token-exchange"
            : g,
      ) as GrantType[] | undefined;
      const exchangeAudiences = list(flags["token-exchange-audiences"]);
      const resources = list(flags.resources);
      const { client, secret } = await clients.create({
        name,
        authMethod,
        ...(redirectUris ? { redirectUris } : {}),
        ...(postLogout ? { postLogoutRedirectUris: postLogout } : {}),
        ...(typeof flags["backchannel-logout-uri"] === "string"
          ? { backchannelLogoutUri: flags["backchannel-logout-uri"] }
          : {}),
        ...(grantTypes ? { grantTypes } : {}),
        ...(typeof flags.scope === "string" ? { scope: flags.scope } : {}),
        ...(resources ? { resources } : {}),
        ...(flags["first-party"] ? { firstParty: true } : {}),
        ...(flags["require-par"] ? { requirePar: true } : {}),
        ...(flags["dpop-bound"] ? { dpopBound: true } : {}),
        ...(flags["opaque-access-tokens"] ? { accessTokenFormat: "opaque" as const } : {}),
        ...(typeof ttl === "string" ? { accessTokenTtl: Number(ttl) } : {}),
        ...(jwks ? { jwks } : {}),
        ...(jwksUri ? { jwksUri } : {}),
        ...(idTokenEncryption ? { idTokenEncryption } : {}),
        ...(userinfoEncryption ? { userinfoEncryption } : {}),
        ...(userinfoAlg ? { userinfoSignedAlg: userinfoAlg as Client["idTokenAlg"] } : {}),
        ...(exchangeAudiences ? { tokenExchangeAudiences: exchangeAudiences } : {}),
        ...(flags["token-exchange-impersonation"] ? { tokenExchangeImpersonation: true } : {}),
      });
      if (flags.json) {
        out(`${JSON.stringify({ ...client, ...(secret ? { secret } : {}) }, null, 2)}\n`);
      } else {
        out(`Registered client ${client.name}\nclient_id:     ${client.id}\n`);
        if (secret) out(`client_secret: ${secret}\n(shown once: store it now; Tessera keeps only a hash)\n`);
      }
      return 0;
    }
    case "initial-token": {
      if (name) throw new CliUsageError("clients initial-token takes no argument");
      const number = (flag: string) => {
        const value = flags[flag];
        if (value === undefined) return undefined;
        if (typeof value !== "string" || !/^[1-9]\d{0,8}$/.test(value)) {
          throw new CliUsageError(`--${flag} takes a positive whole number`);
        }
        return Number(value);
      };
      const ttlSeconds = number("expires-in");
      const uses = number("uses");
      const { token } = await ctx.oauth.initialTokens.create({
        ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
        ...(uses === undefined ? {} : { uses }),
      });
      out(`${token}\n`);
      return 0;
    }
    case "token-exchange": {
      if (!name) throw new CliUsageError("clients token-exchange needs a client id");
      if (flags.allow && flags.deny) throw new CliUsageError("--allow and --deny exclude each other");
      const impersonation = flags.impersonation;
      if (impersonation !== undefined && impersonation !== "yes" && impersonation !== "no") {
        throw new CliUsageError("--impersonation takes yes or no");
      }
      const audiences = flags.audiences === "resources" ? null : list(flags.audiences);
      const client = await clients.setTokenExchange(name, {
        ...(flags.allow ? { allowed: true } : flags.deny ? { allowed: false } : {}),
        ...(audiences === undefined ? {} : { audiences }),
        ...(impersonation === undefined ? {} : { impersonation: impersonation === "yes" }),
      });
      const policy = {
        clientId: client.id,
        allowed: client.grantTypes.includes("urn:ietf:params:oauth:grant-type:token-exchange"),
        audiences: client.tokenExchangeAudiences ?? client.resources,
        audiencesFromResources: client.tokenExchangeAudiences === null,
        impersonation: client.tokenExchangeImpersonation,
      };
      if (flags.json) out(`${JSON.stringify(policy, null, 2)}\n`);
      else {
        out(
          `Token exchange for ${client.id}: ${policy.allowed ? "allowed" : "not allowed"}\n` +
            `audiences:     ${policy.audiences.join(",") || "(none)"}${policy.audiencesFromResources ? " (its resources)" : ""}\n` +
            `impersonation: ${policy.impersonation ? "yes" : "no (delegation only)"}\n`,
        );
      }
      return 0;
    }
    case "list": {
      const all = await clients.list();
      out(flags.json ? `${JSON.stringify(all, null, 2)}\n` : `${table(all.map(summary))}\n`);
      return 0;
    }
    case "delete": {
      if (!name) throw new CliUsageError("clients delete needs a client id");
      if (!(await clients.delete(name))) {
        out(`No client with id ${name}\n`);
        return 1;
      }
      out(`Deleted client ${name}\n`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown command "clients ${sub ?? ""}"`.trim());
  }
}
