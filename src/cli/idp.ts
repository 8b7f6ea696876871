/**
 * `tessera idp …`: upstream identity providers from the command line, through the same domain service as the
 * admin API (`ctx.federation.providers`), audited with actor `cli`.
 *
 * - A client secret is read from standard input (`--client-secret-stdin`, one line), never from the arguments
 *   (they show in `ps` and shell history). Output never shows it: `hasClientSecret` does.
 * - Settings that are on or off take `on`/`off` (so `update` can turn them either way).
 */
import type { IdentityProvider, IdentityProviderInput, ProviderKind } from "../federation/index.js";
import { CLIENT_AUTH_METHODS, type ClientAuthMethod, PROVIDER_KINDS } from "../federation/index.js";
import type { Services } from "../server/services.js";
import { table } from "./format.js";
import { CliUsageError } from "./users.js";

export const IDP_HELP = `  idp add --client-id ID [--kind oidc|google|entra|github] [--issuer URL] [--display-name N]
          [--client-secret-stdin] [--tenant T] [options]
                                 Add an identity provider (prints its id and redirect URI)
  idp list [--json]              List identity providers
  idp show ID [--json]           One provider (never its secret)
  idp update ID [options]        Change a provider (--client-secret-stdin replaces the secret)
  idp remove ID                  Remove a provider and every link to it
    options: --client-auth M  --scopes "a b"  --jit on|off  --trust-email on|off  --satisfies-mfa on|off
             --enabled on|off  --allow-private-network on|off  --upstream-logout on|off
             --domains a.example,b.example  --tenants ID,ID  --api-url URL
             --group-map upstream=Tessera group,…  --claim ATTRIBUTE=claim,…
`;

export const IDP_FLAGS = {
  kind: "string",
  issuer: "string",
  tenant: "string",
  "display-name": "string",
  "client-id": "string",
  "client-secret-stdin": "boolean",
  "client-auth": "string",
  scopes: "string",
  jit: "string",
  "trust-email": "string",
  "satisfies-mfa": "string",
  enabled: "string",
  "allow-private-network": "string",
  "upstream-logout": "string",
  domains: "string",
  tenants: "string",
  "api-url": "string",
  "group-map": "string",
  claim: "string",
  json: "boolean",
} as const;

const BY = { actor: "cli", authority: "admin" as const };

async function readSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const secret = Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "";
  if (secret === "") throw new CliUsageError("--client-secret-stdin read an empty line");
  return secret;
}

function onOff(value: string | boolean | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "on" || value === "true") return true;
  if (value === "off" || value === "false") return false;
  throw new CliUsageError(`--${flag} takes on or off`);
}

function pairs(value: string | boolean | undefined, flag: string): Record<string, string> | undefined {
  if (typeof value !== "string") return undefined;
  const out: Record<string, string> = {};
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 1) throw new CliUsageError(`--${flag} takes key=value pairs separated by commas`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

const list = (value: string | boolean | undefined) =>
  typeof value === "string"
    ? value
        .split(/[,\s]+/)
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

async function inputFrom(flags: Record<string, string | boolean>): Promise<IdentityProviderInput> {
  const text = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const kind = text("kind");
  if (kind !== undefined && !PROVIDER_KINDS.includes(kind as ProviderKind)) {
    throw new CliUsageError(`--kind must be one of ${PROVIDER_KINDS.join(", ")}`);
  }
  const clientAuth = text("client-auth");
  if (clientAuth !== undefined && !CLIENT_AUTH_METHODS.includes(clientAuth as ClientAuthMethod)) {
    throw new CliUsageError(`--client-auth must be one of ${CLIENT_AUTH_METHODS.join(", ")}`);
  }
  const input: IdentityProviderInput = {};
  const set = <K extends keyof IdentityProviderInput>(
    key: K,
    value: IdentityProviderInput[K] | undefined,
  ) => {
    if (value !== undefined) input[key] = value;
  };
  set("kind", kind as ProviderKind | undefined);
  set("issuer", text("issuer"));
  set("tenant", text("tenant"));
  set("displayName", text("display-name"));
  set("clientId", text("client-id"));
  set("clientAuth", clientAuth as ClientAuthMethod | undefined);
  set("scopes", list(flags.scopes));
  set("jit", onOff(flags.jit, "jit"));
  set("trustEmail", onOff(flags["trust-email"], "trust-email"));
  set("satisfiesMfa", onOff(flags["satisfies-mfa"], "satisfies-mfa"));
  set("enabled", onOff(flags.enabled, "enabled"));
  set("allowPrivateNetwork", onOff(flags["allow-private-network"], "allow-private-network"));
  set("upstreamLogout", onOff(flags["upstream-logout"], "upstream-logout"));
  set("allowedDomains", list(flags.domains));
  set("allowedTenants", list(flags.tenants));
  set("apiUrl", text("api-url"));
  set("groupMapping", pairs(flags["group-map"], "group-map"));
  set("claimMapping", pairs(flags.claim, "claim"));
  if (flags["client-secret-stdin"]) input.clientSecret = await readSecret();
  return input;
}

function describe(p: IdentityProvider): string {
  const on = (b: boolean) => (b ? "on" : "off");
  return [
    `${p.displayName} (id ${p.id}, ${p.kind}${p.enabled ? "" : ", disabled"})`,
    `  issuer:        ${p.issuer}`,
    `  client id:     ${p.clientId} (${p.clientAuth}${p.hasClientSecret ? ", secret stored" : ""})`,
    `  redirect URI:  ${p.redirectUri}`,
    `  scopes:        ${p.scopes.join(" ")}`,
    `  jit ${on(p.jit)}, trust e-mail ${on(p.trustEmail)}, satisfies MFA ${on(p.satisfiesMfa)}, private network ${on(p.allowPrivateNetwork)}, upstream logout ${on(p.upstreamLogout)}`,
    ...(p.allowedDomains.length ? [`  domains:       ${p.allowedDomains.join(", ")}`] : []),
    ...(p.allowedTenants.length ? [`  tenants:       ${p.allowedTenants.join(", ")}`] : []),
    ...(Object.keys(p.groupMapping).length
      ? [
          `  group mapping: ${Object.entries(p.groupMapping)
            .map(([k, v]) => `${k} → ${v}`)
            .join(", ")}`,
        ]
      : []),
    ...(p.publicJwk ? [`  public key:    ${JSON.stringify(p.publicJwk)}`] : []),
  ].join("\n");
}

export async function runIdpCommand(
  ctx: Services,
  words: string[],
  flags: Record<string, string | boolean>,
  out: (text: string) => void,
): Promise<number> {
  const [, sub, id, ...rest] = words;
  if (rest.length > 0) throw new CliUsageError("too many arguments");
  const providers = ctx.federation.providers;
  const needsId = (): string => {
    if (!id) throw new CliUsageError(`idp ${sub} needs a provider id`);
    return id;
  };
  const show = (p: IdentityProvider) =>
    out(flags.json ? `${JSON.stringify(p, null, 2)}\n` : `${describe(p)}\n`);
  switch (sub) {
    case "add": {
      if (id) throw new CliUsageError("idp add takes options only");
      const provider = await providers.create(await inputFrom(flags), BY);
      if (flags.json) show(provider);
      else
        out(
          `Added ${provider.displayName} (id ${provider.id}).\nRegister this redirect URI at the provider: ${provider.redirectUri}\n${
            provider.publicJwk
              ? `and this public key (private_key_jwt): ${JSON.stringify(provider.publicJwk)}\n`
              : ""
          }`,
        );
      return 0;
    }
    case "list": {
      const all = await providers.list();
      if (flags.json) out(`${JSON.stringify(all, null, 2)}\n`);
      else
        out(
          `${table(all.map((p) => ({ id: p.id, kind: p.kind, displayName: p.displayName, issuer: p.issuer, enabled: p.enabled })))}\n`,
        );
      return 0;
    }
    case "show": {
      const provider = await providers.get(needsId());
      if (!provider) {
        process.stderr.write(`tessera: no identity provider with id ${id}\n`);
        return 1;
      }
      show(provider);
      return 0;
    }
    case "update": {
      const provider = await providers.update(needsId(), await inputFrom(flags), BY);
      if (flags.json) show(provider);
      else out(`Updated ${provider.displayName} (id ${provider.id})\n`);
      return 0;
    }
    case "remove": {
      await providers.delete(needsId(), BY);
      out(`Removed identity provider ${id}\n`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown command "idp ${sub ?? ""}"`.trim());
  }
}
