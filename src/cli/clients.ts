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
                 [--backchannel-logout-uri U] [--json]
                                 (--jwks-file: the client's public JWK Set; it then authenticates with
                                 private_key_jwt and gets no secret)
                                 Register an OAuth client; a confidential client's secret is shown once
  clients list [--json]          List OAuth clients
  clients initial-token [--expires-in SECONDS] [--uses N]
                                 Mint an initial access token for dynamic registration (shown once)
  clients delete ID              Delete a client (its codes, consents and refresh tokens go with it)
  resources create AUDIENCE --name N --scope "S …"
                                 Register a resource server (API) and the scopes it accepts
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
  name: "string",
  json: "boolean",
} as const;

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
      const server = await clients.createResourceServer({
        audience: name,
        name: typeof flags.name === "string" ? flags.name : name,
        scope: typeof flags.scope === "string" ? flags.scope : "",
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
      const authMethod: ClientAuthMethod = flags.public
        ? "none"
        : jwks
          ? "private_key_jwt"
          : "client_secret_basic";
      const redirectUris = list(flags["redirect-uris"]);
      const postLogout = list(flags["post-logout-redirect-uris"]);
      // `device_code` is accepted for the device grant's URN.
      const grantTypes = list(flags["grant-types"])?.map((g) =>
        g === "device_code" ? "urn:ietf:params:oauth:grant-type:device_code" : g,
      ) as GrantType[] | undefined;
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
