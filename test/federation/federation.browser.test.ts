/**
 * Sign-in with another identity provider, end to end in Chromium (Debian's, through playwright-core): Tessera
 * over HTTPS on 127.0.0.1, a real upstream OpenID provider (panva's oidc-provider, its development login and
 * consent pages) and a GitHub-shaped OAuth 2.0 server, both on loopback (allowed per provider by
 * `allowPrivateNetwork`). What is asserted is what the database, the audit trail and the browser's cookies hold
 * afterwards, not what Tessera says about itself.
 *
 * Tampering (a wrong or missing `iss`, a changed `nonce`, a replayed `state`, a callback carried to another
 * browser) is done by intercepting the browser's own navigations, the way a network attacker or a mixed-up
 * client would present them.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdentityProvider } from "../../src/federation/index.js";
import { launchChromium } from "../helpers/chromium.js";
import { startTlsTessera, type TlsTessera } from "../helpers/tls-server.js";
import {
  type GitHubSimulation,
  type OidcUpstream,
  startGitHubSimulation,
  startOidcUpstream,
  type Tamper,
} from "./upstreams.js";

const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";
const ADMIN = { actor: "test", authority: "admin" as const };

describe("federated sign-in in Chromium", () => {
  let tessera: TlsTessera;
  let browser: Browser;
  let upstream: OidcUpstream;
  let github: GitHubSimulation;
  let app: Server;
  let appOrigin: string;
  let corp: IdentityProvider;
  let trusted: IdentityProvider;
  let gh: IdentityProvider;
  const contexts: BrowserContext[] = [];

  async function addOidcProvider(
    name: string,
    clientId: string,
    extra: Record<string, unknown>,
    clientExtra: Record<string, unknown> = {},
  ) {
    const secret = `${clientId}-secret-0123456789`;
    const provider = await tessera.ctx.federation.providers.create(
      {
        displayName: name,
        issuer: upstream.issuer,
        clientId,
        clientSecret: secret,
        allowPrivateNetwork: true,
        scopes: ["openid", "email", "profile", "groups"],
        ...extra,
      },
      ADMIN,
    );
    upstream.addClient({
      client_id: clientId,
      client_secret: secret,
      redirect_uris: [provider.redirectUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
      ...clientExtra,
    });
    return provider;
  }

  beforeAll(async () => {
    [tessera, browser, upstream] = await Promise.all([
      startTlsTessera(),
      launchChromium(),
      startOidcUpstream(),
    ]);
    github = await startGitHubSimulation({
      id: 583231,
      login: "octocat",
      name: "The Octocat",
      emails: [{ email: "octocat@github.example", primary: true, verified: true }],
    });
    app = createServer((_req, res) =>
      res.writeHead(200, { "content-type": "text/plain" }).end("app callback"),
    );
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const accounts = tessera.ctx.accounts;
    await accounts.groups.create({ displayName: "Engineering" }, ADMIN);
    await accounts.groups.create({ displayName: "tessera-admins" }, ADMIN);
    corp = await addOidcProvider("Corp SSO", "tessera-corp", {
      jit: true,
      trustEmail: true,
      groupMapping: { engineers: "Engineering", admins: "tessera-admins" },
    });
    trusted = await addOidcProvider("Trusted SSO", "tessera-trusted", { satisfiesMfa: true });
    gh = await tessera.ctx.federation.providers.create(
      {
        kind: "github",
        issuer: github.base,
        apiUrl: github.base,
        clientId: github.clientId,
        clientSecret: github.clientSecret,
        allowPrivateNetwork: true,
        jit: true,
        trustEmail: true,
      },
      ADMIN,
    );
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await upstream?.close();
    await github?.close();
    await new Promise((resolve) => app?.close(resolve));
    await tessera?.close();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return { context, page };
  }

  /** At the upstream's development pages: any login name (the account), any password, then consent. */
  async function signInUpstream(page: Page, login: string) {
    await page.waitForURL((u) => u.origin === upstream.issuer);
    await page.locator("input[name=login]").fill(login);
    await page.locator("input[name=password]").fill("whatever");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.waitForURL((u) => u.origin !== upstream.issuer || u.pathname.startsWith("/interaction/"));
    if (new URL(page.url()).origin === upstream.issuer) {
      await page.getByRole("button", { name: "Continue" }).click();
    }
    // Redirects are followed before a URL commits: this is where the browser ended up (a refused callback
    // stays on its own URL, with the "Sign-in failed" page).
    await page.waitForURL((u) => u.origin === tessera.origin);
  }

  /** From Tessera's sign-in page through the provider's button and the upstream's pages. */
  async function federatedSignIn(page: Page, providerName: string, login: string, start = "/login") {
    await page.goto(`${tessera.origin}${start}`);
    await page.getByRole("button", { name: `Continue with ${providerName}` }).click();
    await signInUpstream(page, login);
  }

  const sessionCookie = async (context: BrowserContext) =>
    (await context.cookies(tessera.origin)).find((c) => c.name === SESSION);

  async function linksOf(userId: string) {
    return tessera.ctx.storage.db
      .selectFrom("linked_identities")
      .selectAll()
      .where("user_id", "=", userId)
      .execute();
  }

  async function latestSession(userId: string) {
    return tessera.ctx.storage.db
      .selectFrom("sessions")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .executeTakeFirst();
  }

  async function auditReasons(): Promise<string[]> {
    await tessera.ctx.accounts.audit.flush();
    return (await tessera.ctx.accounts.audit.list({ type: "federation.signin", limit: 500 }))
      .filter((e) => e.outcome === "failure")
      .map((e) => String((e.details as { reason?: string }).reason));
  }

  it("links a provider from the account page after a recent sign-in", async () => {
    const frank = await tessera.ctx.accounts.users.create({ userName: "frank", password: PASSWORD }, ADMIN);
    upstream.accounts.set("frank-upstream", { name: "Frank" });
    const { page } = await newPage();
    await page.goto(`${tessera.origin}/login`);
    await page.locator("#username").fill("frank");
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${tessera.origin}/account`);
    await page.getByRole("link", { name: "Linked sign-in providers" }).click();
    await page.getByRole("button", { name: "Link Trusted SSO" }).click();
    await signInUpstream(page, "frank-upstream");
    expect(page.url()).toBe(`${tessera.origin}/account/linked?done=linked`);
    expect(await page.getByText("The provider is linked to your account.").count()).toBe(1);
    expect((await linksOf(frank.id)).map((l) => [l.provider_id, l.subject])).toEqual([
      [trusted.id, "frank-upstream"],
    ]);
  });

  it("signs out at the upstream too when the provider asks for it", async () => {
    const logoutSso = await addOidcProvider(
      "Logout SSO",
      "tessera-logout",
      { jit: true, upstreamLogout: true },
      { post_logout_redirect_uris: [`${tessera.origin}/federation/signed-out`] },
    );
    upstream.accounts.set("gina-upstream", { preferred_username: "gina" });
    const { context, page } = await newPage();
    await federatedSignIn(page, logoutSso.displayName, "gina-upstream");
    expect(new URL(page.url()).pathname).toBe("/account");
    await page.getByRole("button", { name: "Sign out" }).click();
    // Tessera's session is over, and the browser moves on to the upstream's end_session_endpoint.
    await page.waitForURL((u) => u.origin === upstream.issuer);
    expect(new URL(page.url()).pathname).toMatch(/^\/session\/end/);
    expect(await sessionCookie(context)).toBeUndefined();
  });

  it("shows one button per enabled provider, named after it", async () => {
    const { page } = await newPage();
    await page.goto(`${tessera.origin}/login`);
    for (const name of ["Corp SSO", "Trusted SSO", "GitHub"]) {
      await expect(page.getByRole("button", { name: `Continue with ${name}` }).count()).resolves.toBe(1);
    }
  });

  it("routes a work e-mail to the provider that holds its domain (home-realm discovery)", async () => {
    await tessera.ctx.federation.providers.update(corp.id, { allowedDomains: ["hrd.example"] }, ADMIN);
    try {
      upstream.accounts.set("hollis-upstream", {
        email: "hollis@hrd.example",
        email_verified: true,
        name: "Hollis Upstream",
        preferred_username: "hollis",
      });
      const { page } = await newPage();
      await page.goto(`${tessera.origin}/login`);
      await page.getByLabel("Work e-mail").fill("Hollis@HRD.example");
      await page.getByRole("button", { name: "Continue with work e-mail" }).click();
      // Straight to the upstream that holds the domain, then back signed in.
      await signInUpstream(page, "hollis-upstream");
      expect(new URL(page.url()).pathname).toBe("/account");
      const hollis = await tessera.ctx.accounts.users.findByUserName("hollis");
      expect(hollis).toBeDefined();
      expect((await linksOf(hollis!.id)).map((l) => [l.provider_id, l.subject])).toEqual([
        [corp.id, "hollis-upstream"],
      ]);

      // A domain no provider holds: the password form, with the address as the user name, no upstream visit.
      const other = await newPage();
      await other.page.goto(`${tessera.origin}/login`);
      await other.page.getByLabel("Work e-mail").fill("erin@elsewhere.example");
      await other.page.getByRole("button", { name: "Continue with work e-mail" }).click();
      await other.page.waitForURL((u) => u.pathname === "/login" && u.searchParams.has("login_hint"));
      expect(new URL(other.page.url()).origin).toBe(tessera.origin);
      await expect(other.page.getByLabel("User name").inputValue()).resolves.toBe("erin@elsewhere.example");
    } finally {
      await tessera.ctx.federation.providers.update(corp.id, { allowedDomains: [] }, ADMIN);
    }
  });

  it("provisions an account just in time, maps groups, and never confers the administrator right", async () => {
    // A local "alice" already exists: the new account must not become hers.
    const local = await tessera.ctx.accounts.users.create({ userName: "alice", password: PASSWORD }, ADMIN);
    upstream.accounts.set("alice-upstream", {
      email: "alice@corp.example",
      email_verified: true,
      name: "Alice Upstream",
      preferred_username: "alice",
      groups: ["engineers", "admins"],
    });
    const { context, page } = await newPage();
    await federatedSignIn(page, "Corp SSO", "alice-upstream");
    expect(new URL(page.url()).pathname).toBe("/account");
    expect(await page.getByText("Signed in as Alice Upstream").count()).toBeGreaterThan(0);
    expect(await sessionCookie(context)).toBeDefined();

    const user = await tessera.ctx.accounts.users.findByUserName("alice-2");
    expect(user).toBeDefined();
    expect(user?.id).not.toBe(local.id);
    expect(user?.hasPassword).toBe(false);
    expect(user?.emails).toEqual([{ value: "alice@corp.example", type: "work", primary: true }]);
    expect(user?.groups.map((g) => g.displayName).sort()).toEqual(["Engineering", "tessera-admins"]);
    // Group mapping reached the group named like the old administrators group, not the right itself.
    expect(await tessera.ctx.accounts.administrators.isAdministrator(user!.id)).toBe(false);
    expect((await linksOf(user!.id)).map((l) => [l.provider_id, l.subject])).toEqual([
      [corp.id, "alice-upstream"],
    ]);
    expect((await latestSession(user!.id))?.amr).toBe("fed");
    expect(await linksOf(local.id)).toEqual([]);

    // The next sign-in refreshes the groups from the upstream.
    upstream.accounts.set("alice-upstream", {
      ...upstream.accounts.get("alice-upstream"),
      groups: ["engineers"],
    });
    const second = await newPage();
    await federatedSignIn(second.page, "Corp SSO", "alice-upstream");
    const after = await tessera.ctx.accounts.users.get(user!.id);
    expect(after?.groups.map((g) => g.displayName)).toEqual(["Engineering"]);
  });

  it("keeps a pending authorization request across the upstream round trip", async () => {
    upstream.accounts.set("bob-upstream", { email: "bob@corp.example", email_verified: true, name: "Bob" });
    const { client } = await tessera.ctx.oauth.clients.create({
      name: "Wiki",
      redirectUris: [`${appOrigin}/callback`],
      scope: "openid profile",
      firstParty: true,
      authMethod: "none",
    });
    const { page } = await newPage();
    const authorize = new URLSearchParams({
      response_type: "code",
      client_id: client.id,
      redirect_uri: `${appOrigin}/callback`,
      scope: "openid",
      state: "app-state-1",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    });
    await page.goto(`${tessera.origin}/authorize?${authorize}`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.getByRole("button", { name: "Continue with Corp SSO" }).click();
    await page.waitForURL((u) => u.origin === upstream.issuer);
    await page.locator("input[name=login]").fill("bob-upstream");
    await page.locator("input[name=password]").fill("whatever");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(`${appOrigin}/callback**`);
    const back = new URL(page.url());
    expect(back.searchParams.get("state")).toBe("app-state-1");
    expect(back.searchParams.get("code")).toBeTruthy();
  });

  it("links an existing account only after its owner signs in to it; an unverified e-mail links nothing", async () => {
    const pat = await tessera.ctx.accounts.users.create(
      {
        userName: "pat",
        password: PASSWORD,
        emails: [{ value: "pat@example.com", type: "work", primary: true }],
      },
      ADMIN,
    );
    // The upstream claims Pat's address but does not vouch for it.
    upstream.accounts.set("pat-upstream", {
      email: "pat@example.com",
      email_verified: false,
      name: "Pat Elsewhere",
    });
    const { context, page } = await newPage();
    await federatedSignIn(page, "Corp SSO", "pat-upstream");
    expect(new URL(page.url()).pathname).toBe("/federation/link");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Link your Corp SSO account");
    // Refused so far: no link, no session, no account made.
    expect(await linksOf(pat.id)).toEqual([]);
    expect(await sessionCookie(context)).toBeUndefined();
    expect(await tessera.ctx.accounts.users.findByEmail("pat@example.com")).toHaveLength(1);

    // Proof of ownership: Pat signs in to the Tessera account, then confirms.
    await page.getByRole("link", { name: "Sign in to link your account" }).click();
    await page.locator("#username").fill("pat");
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${tessera.origin}/federation/link/complete`);
    await page.getByRole("button", { name: "Link accounts" }).click();
    await page.waitForURL(`${tessera.origin}/account/linked**`);
    expect((await linksOf(pat.id)).map((l) => l.provider_id)).toEqual([corp.id]);

    // From now on the upstream signs Pat in directly.
    const fresh = await newPage();
    await federatedSignIn(fresh.page, "Corp SSO", "pat-upstream");
    expect(new URL(fresh.page.url()).pathname).toBe("/account");
    expect((await latestSession(pat.id))?.amr).toBe("fed");
  });

  it("links by a verified e-mail only for a trusted provider, and never to an administrator", async () => {
    const dana = await tessera.ctx.accounts.users.create(
      {
        userName: "dana",
        password: PASSWORD,
        emails: [{ value: "dana@corp.example", type: null, primary: true }],
      },
      ADMIN,
    );
    upstream.accounts.set("dana-upstream", { email: "dana@corp.example", email_verified: true });
    const one = await newPage();
    await federatedSignIn(one.page, "Corp SSO", "dana-upstream");
    expect(new URL(one.page.url()).pathname).toBe("/account");
    expect((await linksOf(dana.id)).map((l) => l.subject)).toEqual(["dana-upstream"]);

    // The same verified address, but through a provider not trusted for e-mail: no link.
    const danaTwo = await newPage();
    await federatedSignIn(danaTwo.page, "Trusted SSO", "dana-upstream");
    expect(new URL(danaTwo.page.url()).pathname).toBe("/federation/link");
    expect((await linksOf(dana.id)).map((l) => l.provider_id)).toEqual([corp.id]);

    const root = await tessera.ctx.accounts.users.create(
      {
        userName: "root",
        password: PASSWORD,
        emails: [{ value: "root@corp.example", type: null, primary: true }],
      },
      ADMIN,
    );
    await tessera.ctx.accounts.administrators.grant(root.id, ADMIN);
    upstream.accounts.set("root-upstream", { email: "root@corp.example", email_verified: true });
    const two = await newPage();
    await federatedSignIn(two.page, "Corp SSO", "root-upstream");
    expect(new URL(two.page.url()).pathname).toBe("/federation/link");
    expect(await linksOf(root.id)).toEqual([]);
    expect(await sessionCookie(two.context)).toBeUndefined();
  });

  describe("refuses a forged or mixed-up upstream response", () => {
    async function tamperedSignIn(
      tamper: Tamper,
      login: string,
    ): Promise<{ page: Page; context: BrowserContext }> {
      upstream.accounts.set(login, { email: `${login}@corp.example`, email_verified: true });
      const { context, page } = await newPage();
      upstream.tamper = tamper;
      try {
        await federatedSignIn(page, "Corp SSO", login);
      } finally {
        upstream.tamper = undefined;
      }
      return { page, context };
    }

    /** Rewrites the authorization response on its way from the upstream to Tessera's callback. */
    const callbackRewrite = (change: (url: URL) => void): Tamper => ({
      location: (location) => {
        if (!location.startsWith(tessera.origin)) return location;
        const url = new URL(location);
        change(url);
        return url.href;
      },
    });

    async function expectRefused(page: Page, context: BrowserContext, reason: string) {
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Sign-in failed");
      expect(await sessionCookie(context)).toBeUndefined();
      expect(await auditReasons()).toContain(reason);
    }

    it("a response whose iss names another issuer (RFC 9207 mix-up)", async () => {
      const { page, context } = await tamperedSignIn(
        callbackRewrite((url) => url.searchParams.set("iss", "https://other-idp.example")),
        "iss-wrong",
      );
      await expectRefused(page, context, "iss_mismatch");
      expect(await tessera.ctx.accounts.users.findByEmail("iss-wrong@corp.example")).toEqual([]);
    });

    it("a response without iss from a provider that advertises it", async () => {
      const { page, context } = await tamperedSignIn(
        callbackRewrite((url) => url.searchParams.delete("iss")),
        "iss-missing",
      );
      await expectRefused(page, context, "iss_missing");
    });

    it("an ID token whose nonce is not the one Tessera sent", async () => {
      const { page, context } = await tamperedSignIn(
        {
          request: (url) => {
            if (url.pathname === "/auth" && url.searchParams.has("nonce")) {
              url.searchParams.set("nonce", "attacker-chosen-nonce");
            }
            return url;
          },
        },
        "nonce-wrong",
      );
      await expectRefused(page, context, "response_refused");
      const refusals = tessera
        .logs()
        .split("\n")
        .filter((l) => l.includes("federated sign-in refused"));
      expect(refusals.some((l) => l.includes('ID Token \\"nonce\\" claim'))).toBe(true);
      expect(await tessera.ctx.accounts.users.findByEmail("nonce-wrong@corp.example")).toEqual([]);
    });

    it("a replayed state, and a callback carried to another browser", async () => {
      upstream.accounts.set("replay", { email: "replay@corp.example", email_verified: true });
      const { page } = await newPage();
      const callbacks: string[] = [];
      page.on("request", (r) => {
        if (r.url().includes("/callback?")) callbacks.push(r.url());
      });
      await federatedSignIn(page, "Corp SSO", "replay");
      expect(new URL(page.url()).pathname).toBe("/account");
      expect(callbacks).toHaveLength(1);
      // The same answer again, in the same browser: the state was used.
      await page.goto(callbacks[0]!);
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Sign-in failed");
      expect(await auditReasons()).toContain("state_unknown");

      // A fresh answer, taken on its way and opened in another browser (login CSRF).
      let stolen: string | undefined;
      upstream.tamper = {
        location: (location) => {
          if (!location.startsWith(tessera.origin)) return location;
          stolen = location;
          return `${upstream.issuer}/stolen`;
        },
      };
      const victim = await newPage();
      try {
        await victim.page.goto(`${tessera.origin}/login`);
        await victim.page.getByRole("button", { name: "Continue with Corp SSO" }).click();
        await victim.page.locator("input[name=login]").fill("replay");
        await victim.page.locator("input[name=password]").fill("whatever");
        await victim.page.getByRole("button", { name: "Sign-in" }).click();
        await victim.page.getByRole("button", { name: "Continue" }).click();
        await expect.poll(() => stolen).toBeDefined();
      } finally {
        upstream.tamper = undefined;
      }
      const other = await newPage();
      await other.page.goto(stolen!);
      expect(await other.page.getByRole("heading", { level: 1 }).textContent()).toBe("Sign-in failed");
      expect(await sessionCookie(other.context)).toBeUndefined();
      expect(await auditReasons()).toContain("browser_mismatch");
    });
  });

  it("signs in through a GitHub-shaped OAuth 2.0 provider with its user and e-mail API", async () => {
    const { page } = await newPage();
    await page.goto(`${tessera.origin}/login`);
    await page.getByRole("button", { name: "Continue with GitHub" }).click();
    await page.waitForURL(`${tessera.origin}/account`);
    const user = await tessera.ctx.accounts.users.findByUserName("octocat");
    expect(user?.displayName).toBe("The Octocat");
    expect(user?.emails.map((e) => e.value)).toEqual(["octocat@github.example"]);
    expect((await linksOf(user!.id)).map((l) => [l.provider_id, l.subject])).toEqual([[gh.id, "583231"]]);
    expect(github.apiCalls).toEqual(["/user authorized", "/user/emails authorized"]);

    // Another GitHub account with an unverified primary address: JIT still works, the address is not kept.
    github.user = {
      id: 99,
      login: "mona",
      name: null,
      emails: [{ email: "dana@corp.example", primary: true, verified: false }],
    };
    const second = await newPage();
    await second.page.goto(`${tessera.origin}/login`);
    await second.page.getByRole("button", { name: "Continue with GitHub" }).click();
    await second.page.waitForURL((u) => u.origin === tessera.origin && !u.pathname.includes("callback"));
    // dana@corp.example belongs to someone here: no account is made on an unverified claim; linking needs proof.
    expect(new URL(second.page.url()).pathname).toBe("/federation/link");
    expect(await tessera.ctx.accounts.users.findByUserName("mona")).toBeUndefined();
  });

  it("removes a linked provider, but never the last way to sign in", async () => {
    upstream.accounts.set("carol-upstream", {
      email: "carol@corp.example",
      email_verified: true,
      preferred_username: "carol",
    });
    const { page } = await newPage();
    await federatedSignIn(page, "Corp SSO", "carol-upstream");
    const carol = await tessera.ctx.accounts.users.findByUserName("carol");
    expect(carol?.hasPassword).toBe(false);
    await page.goto(`${tessera.origin}/account/linked`);
    await page.getByRole("button", { name: "Remove Corp SSO" }).click();
    expect(await page.getByRole("alert").textContent()).toContain("only way to sign in");
    expect(await linksOf(carol!.id)).toHaveLength(1);

    // With a password set, the link can go.
    await tessera.ctx.accounts.users.setPassword(carol!.id, PASSWORD, ADMIN);
    await page.goto(`${tessera.origin}/account/linked`);
    await page.getByRole("button", { name: "Remove Corp SSO" }).click();
    await page.waitForURL(`${tessera.origin}/account/linked?done=unlinked`);
    expect(await page.getByText("No provider is linked to your account.").count()).toBe(1);
    expect(await linksOf(carol!.id)).toEqual([]);
    await tessera.ctx.accounts.audit.flush();
    const types = (await tessera.ctx.accounts.audit.list({ userId: carol!.id, limit: 50 })).map(
      (e) => e.type,
    );
    expect(types).toEqual(
      expect.arrayContaining(["federation.provisioned", "federation.linked", "federation.unlinked"]),
    );
  });

  it("asks for Tessera's second factor unless the provider satisfies MFA", async () => {
    const erin = await tessera.ctx.accounts.users.create({ userName: "erin", password: PASSWORD }, ADMIN);
    await tessera.ctx.mfa.policy.setRequired(erin.id, true);
    for (const provider of [corp, trusted]) {
      await tessera.ctx.federation.linking.link({
        userId: erin.id,
        providerId: provider.id,
        subject: "erin-upstream",
        email: null,
        via: "signed_in",
        actor: "test",
      });
    }
    upstream.accounts.set("erin-upstream", { name: "Erin" });

    const plain = await newPage();
    await federatedSignIn(plain.page, "Corp SSO", "erin-upstream");
    expect(new URL(plain.page.url()).pathname).toBe("/login/enrol");
    expect(await sessionCookie(plain.context)).toBeUndefined();

    const strong = await newPage();
    await federatedSignIn(strong.page, "Trusted SSO", "erin-upstream");
    expect(new URL(strong.page.url()).pathname).toBe("/account");
    expect(await sessionCookie(strong.context)).toBeDefined();
    expect((await latestSession(erin.id))?.amr.split(" ")).toEqual(["fed", "mfa"]);
  });
});
