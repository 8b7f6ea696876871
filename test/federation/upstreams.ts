/**
 * Upstream identity providers for the federation tests, all listening on 127.0.0.1:
 *
 * - `startOidcUpstream`: panva's `oidc-provider` (a real, certified OpenID provider) over plain http, with its
 *   development login and consent pages (any login name; the account's claims come from `accounts`). Clients
 *   are added after start (`addClient`), once Tessera has said what redirect URI it wants.
 * - `startGitHubSimulation`: a small server shaped like GitHub: `/login/oauth/authorize` (answers at once with a
 *   code for the configured user), `/login/oauth/access_token` (code + PKCE + client secret), and the REST API's
 *   `GET /user` and `GET /user/emails`.
 */
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface UpstreamAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
}

/** A man in the middle of the browser's front channel: rewrites requests to, and redirects from, the upstream. */
export interface Tamper {
  /** Changes an incoming request's URL (path and query) before the provider sees it. */
  request?: (url: URL) => URL;
  /** Changes a redirect's `Location` as the browser receives it. */
  location?: (location: string) => string;
}

export interface OidcUpstream {
  issuer: string;
  provider: InstanceType<typeof Provider>;
  /** Set for one test, cleared after it. */
  tamper: Tamper | undefined;
  /** Claims per login name (the login name is the `sub`). */
  accounts: Map<string, UpstreamAccount>;
  addClient(metadata: Record<string, unknown>): void;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

export async function startOidcUpstream(): Promise<OidcUpstream> {
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = new Map<string, UpstreamAccount>();
  const clients = new Map<string, Record<string, unknown>>();
  const store = new Map<string, Record<string, unknown>>();
  class Adapter {
    constructor(private readonly model: string) {}
    async upsert(id: string, payload: Record<string, unknown>) {
      store.set(`${this.model}:${id}`, payload);
    }
    async find(id: string) {
      if (this.model === "Client") return clients.get(id);
      return store.get(`${this.model}:${id}`);
    }
    async findByUid(uid: string) {
      for (const [key, value] of store)
        if (key.startsWith(`${this.model}:`) && value.uid === uid) return value;
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async consume(id: string) {
      const value = store.get(`${this.model}:${id}`);
      if (value) value.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(`${this.model}:${id}`);
    }
    async revokeByGrantId() {}
  }
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    adapter: Adapter,
    jwks: {
      keys: [{ ...privateKey.export({ format: "jwk" }), kid: "upstream-rs256", alg: "RS256", use: "sig" }],
    },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    scopes: ["openid", "email", "profile", "groups"],
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "preferred_username"],
      groups: ["groups"],
    },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, ...(accounts.get(sub) ?? {}) }),
    }),
  } as never);
  const callback = provider.callback();
  const upstream = { tamper: undefined as Tamper | undefined };
  server.on("request", (req, res) => {
    const tamper = upstream.tamper;
    if (tamper?.request) {
      const url = tamper.request(new URL(req.url ?? "/", issuer));
      req.url = `${url.pathname}${url.search}`;
    }
    if (tamper?.location) {
      const rewrite = tamper.location;
      const setHeader = res.setHeader.bind(res);
      res.setHeader = ((name: string, value: number | string | readonly string[]) =>
        setHeader(
          name,
          name.toLowerCase() === "location" ? rewrite(String(value)) : value,
        )) as typeof res.setHeader;
    }
    callback(req, res);
  });
  return {
    issuer,
    provider,
    get tamper() {
      return upstream.tamper;
    },
    set tamper(value) {
      upstream.tamper = value;
    },
    accounts,
    addClient(metadata) {
      clients.set(String(metadata.client_id), metadata);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface GitHubSimulation {
  base: string;
  clientId: string;
  clientSecret: string;
  /** Who "signs in" at the authorize endpoint next. */
  user: GitHubUser;
  /** Requests the API received (path and bearer token presence), for assertions. */
  apiCalls: string[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of request) body += chunk;
  return body;
}

export async function startGitHubSimulation(user: GitHubUser): Promise<GitHubSimulation> {
  const codes = new Map<string, { challenge: string; redirectUri: string; user: GitHubUser }>();
  const tokens = new Map<string, GitHubUser>();
  const server = createServer();
  const port = await listen(server);
  const sim: GitHubSimulation = {
    base: `http://127.0.0.1:${port}`,
    clientId: "gh-client",
    clientSecret: "gh-secret-0123456789",
    user,
    apiCalls: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on("request", async (request, response) => {
    const url = new URL(request.url ?? "/", sim.base);
    const json = (status: number, body: unknown) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (url.pathname === "/login/oauth/authorize") {
      const q = url.searchParams;
      if (q.get("client_id") !== sim.clientId || q.get("code_challenge_method") !== "S256") {
        response.writeHead(400).end("bad request");
        return;
      }
      const code = randomBytes(16).toString("hex");
      codes.set(code, {
        challenge: q.get("code_challenge") ?? "",
        redirectUri: q.get("redirect_uri") ?? "",
        user: sim.user,
      });
      const back = new URL(q.get("redirect_uri") ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state") ?? "");
      response.writeHead(302, { location: back.href }).end();
      return;
    }
    if (url.pathname === "/login/oauth/access_token" && request.method === "POST") {
      const form = new URLSearchParams(await readBody(request));
      const grant = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      const verifier = form.get("code_verifier") ?? "";
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      if (
        !grant ||
        form.get("client_id") !== sim.clientId ||
        form.get("client_secret") !== sim.clientSecret ||
        grant.challenge !== challenge ||
        grant.redirectUri !== form.get("redirect_uri")
      ) {
        // As GitHub does: an error in a 200 answer.
        json(200, { error: "bad_verification_code" });
        return;
      }
      const token = `gho_${randomBytes(16).toString("hex")}`;
      tokens.set(token, grant.user);
      json(200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" });
      return;
    }
    const auth = request.headers.authorization ?? "";
    const who = tokens.get(auth.replace(/^Bearer /, ""));
    sim.apiCalls.push(`${url.pathname} ${who ? "authorized" : "anonymous"}`);
    if (!who) {
      json(401, { message: "Requires authentication" });
      return;
    }
    if (url.pathname === "/user") {
      json(200, { id: who.id, login: who.login, name: who.name, email: null });
      return;
    }
    if (url.pathname === "/user/emails") {
      json(
        200,
        who.emails.map((e) => ({ ...e, visibility: e.primary ? "private" : null })),
      );
      return;
    }
    json(404, { message: "Not Found" });
  });
  return sim;
}
