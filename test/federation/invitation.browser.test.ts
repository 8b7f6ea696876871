/**
 * Accepting an invitation through an upstream identity provider, end to end in Chromium (Debian's, through
 * playwright-core): Tessera over HTTPS on 127.0.0.1 with the development mail outbox, and a real upstream
 * OpenID provider (panva's oidc-provider, its development login and consent pages) on loopback.
 *
 * The administrator invites through the admin API; the link is read from the outbox; the invitee presses
 * "Continue with {provider}" on the invitation page and signs in upstream. What is asserted is what the
 * database, the audit trail and the browser hold afterwards. Refusals: the invitation revoked, expired or used
 * before the round trip starts or while it is under way, an upstream account linked to someone else already, a
 * forged upstream answer, a replayed `state` — each leaves no account behind and, where the invitation itself
 * was fine, the invitation usable.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { IdentityProvider } from "../../src/federation/index.js";
import type { OutboxMailer } from "../../src/mail/index.js";
import { launchChromium } from "../helpers/chromium.js";
import { startTlsTessera, type TlsTessera } from "../helpers/tls-server.js";
import { type OidcUpstream, startOidcUpstream, type UpstreamAccount } from "./upstreams.js";

const PASSWORD = "correct horse battery staple 42";
const ADMIN_TOKEN = "invitation-browser-admin-token-0123456789";
const SESSION = "__Host-tessera_session";
const ADMIN = { actor: "test", authority: "admin" as const };

describe("accepting an invitation through an identity provider, in Chromium", () => {
  let tessera: TlsTessera;
  let browser: Browser;
  let upstream: OidcUpstream;
  let corp: IdentityProvider;
  let trusted: IdentityProvider;
  let research: { id: string };
  const contexts: BrowserContext[] = [];

  async function addOidcProvider(name: string, clientId: string, extra: Record<string, unknown> = {}) {
    const secret = `${clientId}-secret-0123456789`;
    const provider = await tessera.ctx.federation.providers.create(
      {
        displayName: name,
        issuer: upstream.issuer,
        clientId,
        clientSecret: secret,
        allowPrivateNetwork: true,
        scopes: ["openid", "email", "profile"],
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
    });
    return provider;
  }

  beforeAll(async () => {
    [tessera, browser, upstream] = await Promise.all([
      startTlsTessera({ env: { TESSERA_ADMIN_TOKEN: ADMIN_TOKEN } }),
      launchChromium(),
      startOidcUpstream(),
    ]);
    // Neither just-in-time provisioning nor trust in the upstream's e-mail: the invitation alone authorises.
    corp = await addOidcProvider("Corp SSO", "invite-corp", { jit: false, trustEmail: false });
    trusted = await addOidcProvider("Trusted SSO", "invite-trusted", { satisfiesMfa: true });
    research = await tessera.ctx.accounts.groups.create({ displayName: "Research" }, ADMIN);
  });

  afterEach(async () => {
    upstream.tamper = undefined;
    await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await browser?.close();
    await upstream?.close();
    await tessera?.close();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return { context, page };
  }

  async function adminApi(method: "POST" | "DELETE", path: string, data?: unknown) {
    const { context } = await newPage();
    return context.request.fetch(`${tessera.origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ...(data === undefined ? {} : { data }),
      ignoreHTTPSErrors: true,
    });
  }

  /** The administrator invites `email` through the admin API; the link comes from the development outbox. */
  async function invite(
    email: string,
    groups: string[] = [],
  ): Promise<{ id: string; link: string; token: string }> {
    const response = await adminApi("POST", "/admin/invitations", { email, groups });
    expect(response.status()).toBe(201);
    const { id } = (await response.json()) as { id: string };
    await tessera.ctx.onboarding.idle();
    const mail = (tessera.ctx.mailer as OutboxMailer).messages.filter((m) => m.to === email).at(-1);
    const link = new RegExp(
      `${tessera.origin.replaceAll(".", "\\.")}/invitations/accept\\?token=tsr_inv_[0-9A-Za-z]+`,
    ).exec(mail?.text ?? "")?.[0];
    if (!link) throw new Error(`no invitation link in the mail to ${email}`);
    return { id, link, token: new URL(link).searchParams.get("token")! };
  }

  const revoke = async (id: string) =>
    expect((await adminApi("DELETE", `/admin/invitations/${id}`)).status()).toBe(204);

  /** From the invitation page through the provider's button to the upstream's login page. */
  async function continueWith(page: Page, link: string, providerName: string) {
    expect((await page.goto(link))?.status()).toBe(200);
    await page.getByRole("button", { name: `Continue with ${providerName}` }).click();
    await page.waitForURL((u) => u.origin === upstream.issuer);
  }

  /** At the upstream's development pages: any login name (the account's `sub`), any password, then consent. */
  async function signInUpstream(page: Page, login: string, account: UpstreamAccount = {}) {
    upstream.accounts.set(login, account);
    await page.locator("input[name=login]").fill(login);
    await page.locator("input[name=password]").fill("whatever");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.waitForURL((u) => u.origin !== upstream.issuer || u.pathname.startsWith("/interaction/"));
    if (new URL(page.url()).origin === upstream.issuer) {
      await page.getByRole("button", { name: "Continue" }).click();
    }
    await page.waitForURL((u) => u.origin === tessera.origin);
  }

  const sessionCookie = async (context: BrowserContext) =>
    (await context.cookies(tessera.origin)).find((c) => c.name === SESSION);

  const heading = (page: Page) => page.getByRole("heading", { level: 1 }).textContent();

  const linksOf = (userId: string) =>
    tessera.ctx.storage.db
      .selectFrom("linked_identities")
      .selectAll()
      .where("user_id", "=", userId)
      .execute();

  const linksTo = (providerId: string, subject: string) =>
    tessera.ctx.storage.db
      .selectFrom("linked_identities")
      .selectAll()
      .where("provider_id", "=", providerId)
      .where("subject", "=", subject)
      .execute();

  async function failureReasons(): Promise<string[]> {
    await tessera.ctx.accounts.audit.flush();
    return (await tessera.ctx.accounts.audit.list({ type: "federation.signin", limit: 500 }))
      .filter((e) => e.outcome === "failure")
      .map((e) => String((e.details as { reason?: string }).reason));
  }

  const statusOf = async (id: string) => (await tessera.ctx.onboarding.invitations.get(id))?.status;

  it("admin invites → e-mail → Continue with the provider → signed in, with the invited address, groups and link", async () => {
    const { id, link, token } = await invite("ivy@example.test", [research.id]);
    const { context, page } = await newPage();
    const urls: string[] = [];
    page.on("request", (r) => urls.push(r.url()));

    const accept = await page.goto(link);
    expect(await heading(page)).toBe("Accept your invitation");
    // The page lets its provider forms lead to the upstream (Chrome applies form-action to the redirect).
    expect(accept?.headers()["content-security-policy"]).toContain(`form-action 'self' ${upstream.issuer}`);
    await page.getByRole("button", { name: "Continue with Corp SSO" }).click();
    await page.waitForURL((u) => u.origin === upstream.issuer);

    // Mid-way: the round trip's state holds the invitation only sealed; no URL and no cookie carries the token.
    const states = await tessera.ctx.storage.db
      .selectFrom("federation_states")
      .selectAll()
      .where("intent", "=", "invitation")
      .execute();
    expect(states).toHaveLength(1);
    expect(JSON.stringify(states[0])).not.toContain(token);
    expect(states[0]?.return_to).toBeNull();

    // The upstream's address differs from the invited one, and is not even verified: it does not matter.
    await signInUpstream(page, "ivy-upstream", {
      email: "ivy.private@elsewhere.example",
      email_verified: false,
      name: "Ivy Invited",
    });
    expect(new URL(page.url()).pathname).toBe("/account");
    expect(await sessionCookie(context)).toBeDefined();
    expect(urls.filter((u) => u !== link && u.includes(token))).toEqual([]);
    for (const origin of [tessera.origin, upstream.issuer]) {
      for (const cookie of await context.cookies(origin)) expect(cookie.value).not.toContain(token);
    }

    const [user, ...others] = await tessera.ctx.accounts.users.findByEmail("ivy@example.test");
    expect(others).toEqual([]);
    expect(user).toMatchObject({
      userName: "ivy@example.test",
      displayName: "Ivy Invited",
      hasPassword: false,
      active: true,
    });
    expect(user?.emails.map((e) => e.value)).toEqual(["ivy@example.test"]);
    expect(user?.groups.map((g) => g.displayName)).toEqual(["Research"]);
    expect(await tessera.ctx.accounts.users.findByEmail("ivy.private@elsewhere.example")).toEqual([]);
    expect((await linksOf(user!.id)).map((l) => [l.provider_id, l.subject])).toEqual([
      [corp.id, "ivy-upstream"],
    ]);
    expect(await tessera.ctx.onboarding.invitations.get(id)).toMatchObject({
      status: "accepted",
      userId: user!.id,
    });
    const session = await tessera.ctx.storage.db
      .selectFrom("sessions")
      .selectAll()
      .where("user_id", "=", user!.id)
      .executeTakeFirstOrThrow();
    expect(session.amr).toBe("fed");

    await tessera.ctx.accounts.audit.flush();
    const events = await tessera.ctx.accounts.audit.list({ userId: user!.id, limit: 50 });
    expect(events.find((e) => e.type === "invitation.accepted")?.details).toMatchObject({
      invitationId: id,
      method: "upstream",
    });
    expect(events.find((e) => e.type === "federation.linked")?.details).toMatchObject({
      providerId: corp.id,
      via: "invitation",
    });

    // The account page lists the provider, and the provider signs the user in from now on.
    await page.goto(`${tessera.origin}/account/linked`);
    expect(await page.getByRole("button", { name: "Remove Corp SSO" }).count()).toBe(1);
    const again = await newPage();
    await again.page.goto(`${tessera.origin}/login`);
    await again.page.getByRole("button", { name: "Continue with Corp SSO" }).click();
    await again.page.waitForURL((u) => u.origin === upstream.issuer);
    await signInUpstream(again.page, "ivy-upstream", { name: "Ivy Invited" });
    expect(new URL(again.page.url()).pathname).toBe("/account");
    expect(await sessionCookie(again.context)).toBeDefined();
  });

  it("follows the provider's MFA setting: an upstream that satisfies MFA gives amr fed … mfa", async () => {
    const { link } = await invite("milo@example.test");
    const { page } = await newPage();
    await continueWith(page, link, "Trusted SSO");
    await signInUpstream(page, "milo-upstream");
    expect(new URL(page.url()).pathname).toBe("/account");
    const [user] = await tessera.ctx.accounts.users.findByEmail("milo@example.test");
    expect((await linksOf(user!.id)).map((l) => l.provider_id)).toEqual([trusted.id]);
    const session = await tessera.ctx.storage.db
      .selectFrom("sessions")
      .selectAll()
      .where("user_id", "=", user!.id)
      .executeTakeFirstOrThrow();
    expect(session.amr.split(" ")).toEqual(["fed", "mfa"]);
  });

  describe("refusals", () => {
    it("an invitation revoked between the start and the callback: no account, no session", async () => {
      const { id, link } = await invite("rita@example.test");
      const { context, page } = await newPage();
      await continueWith(page, link, "Corp SSO");
      await revoke(id);
      await signInUpstream(page, "rita-upstream", { email: "rita@example.test", email_verified: true });
      expect(await heading(page)).toBe("Invitation not accepted");
      expect(await page.getByRole("main").textContent()).toContain("was withdrawn or has expired");
      expect(await sessionCookie(context)).toBeUndefined();
      expect(await tessera.ctx.accounts.users.findByEmail("rita@example.test")).toEqual([]);
      expect(await linksTo(corp.id, "rita-upstream")).toEqual([]);
      expect(await statusOf(id)).toBe("revoked");
      expect(await failureReasons()).toContain("invitation_invalid");
    });

    it("an invitation accepted meanwhile (with a password, elsewhere): no second account", async () => {
      const { id, link, token } = await invite("sam@example.test");
      const { context, page } = await newPage();
      await continueWith(page, link, "Corp SSO");
      const bySam = await tessera.ctx.onboarding.invitations.accept(
        token,
        { userName: "sam", password: PASSWORD },
        { ip: null, userAgent: null },
      );
      await signInUpstream(page, "sam-upstream");
      expect(await heading(page)).toBe("Invitation not accepted");
      expect(await sessionCookie(context)).toBeUndefined();
      expect((await tessera.ctx.accounts.users.findByEmail("sam@example.test")).map((u) => u.id)).toEqual([
        bySam.id,
      ]);
      expect(await linksTo(corp.id, "sam-upstream")).toEqual([]);
      expect(await linksOf(bySam.id)).toEqual([]);
      expect(await tessera.ctx.onboarding.invitations.get(id)).toMatchObject({
        status: "accepted",
        userId: bySam.id,
      });
    });

    it("an invitation revoked or expired before the start never reaches the upstream", async () => {
      const revoked = await invite("vera@example.test");
      const { context, page } = await newPage();
      const upstreamRequests: string[] = [];
      page.on("request", (r) => {
        if (r.url().startsWith(upstream.issuer)) upstreamRequests.push(r.url());
      });
      await page.goto(revoked.link);
      await revoke(revoked.id);
      await page.getByRole("button", { name: "Continue with Corp SSO" }).click();
      await page.waitForLoadState();
      expect(await heading(page)).toBe("Invitation not accepted");

      const expired = await invite("walt@example.test");
      await page.goto(expired.link);
      await tessera.ctx.storage.db
        .updateTable("invitations")
        .set({ expires_at: Date.now() - 1000 })
        .where("id", "=", expired.id)
        .execute();
      await page.getByRole("button", { name: "Continue with Corp SSO" }).click();
      await page.waitForLoadState();
      expect(await heading(page)).toBe("Invitation not accepted");
      expect(await statusOf(expired.id)).toBe("expired");

      // A token that was never issued, posted in the form (the page itself refuses to show such a link).
      const live = await invite("xena@example.test");
      await page.goto(live.link);
      await page
        .locator("form[action$='/start'] input[name=invitation]")
        .first()
        .evaluate(
          (input: { setAttribute(name: string, value: string): void }, forged) =>
            input.setAttribute("value", forged),
          `tsr_inv_${"A".repeat(43)}`,
        );
      await page.getByRole("button", { name: "Continue with Corp SSO" }).click();
      await page.waitForLoadState();
      expect(await heading(page)).toBe("Invitation not accepted");
      expect(await statusOf(live.id)).toBe("pending");

      expect(upstreamRequests).toEqual([]);
      expect(await sessionCookie(context)).toBeUndefined();
      for (const email of ["vera@example.test", "walt@example.test", "xena@example.test"]) {
        expect(await tessera.ctx.accounts.users.findByEmail(email)).toEqual([]);
      }
    });

    it("an upstream account linked to another account already: refused, and the invitation stays usable", async () => {
      const owner = await tessera.ctx.accounts.users.create({ userName: "owner", password: PASSWORD }, ADMIN);
      await tessera.ctx.federation.linking.link({
        userId: owner.id,
        providerId: corp.id,
        subject: "taken-upstream",
        email: null,
        via: "signed_in",
        actor: "test",
      });
      const { id, link } = await invite("tara@example.test", [research.id]);
      const { context, page } = await newPage();
      await continueWith(page, link, "Corp SSO");
      await signInUpstream(page, "taken-upstream", { email: "tara@example.test", email_verified: true });
      expect(await heading(page)).toBe("Invitation not accepted");
      expect(await page.getByRole("main").textContent()).toContain(
        "already signs in to another account here",
      );
      expect(await sessionCookie(context)).toBeUndefined();
      expect(await tessera.ctx.accounts.users.findByEmail("tara@example.test")).toEqual([]);
      expect((await linksTo(corp.id, "taken-upstream")).map((l) => l.user_id)).toEqual([owner.id]);
      expect(await statusOf(id)).toBe("pending");
      expect(await failureReasons()).toContain("invitation_already_linked");

      // The same link, with another upstream account (in a browser not signed in upstream), goes through.
      const retry = await newPage();
      await continueWith(retry.page, link, "Corp SSO");
      await signInUpstream(retry.page, "tara-upstream");
      expect(new URL(retry.page.url()).pathname).toBe("/account");
      const [tara] = await tessera.ctx.accounts.users.findByEmail("tara@example.test");
      expect((await linksOf(tara!.id)).map((l) => l.subject)).toEqual(["tara-upstream"]);
      expect(tara?.groups.map((g) => g.displayName)).toEqual(["Research"]);
      expect(await statusOf(id)).toBe("accepted");
    });

    it("a forged upstream answer (iss of another issuer) leaves the invitation unused", async () => {
      const { id, link } = await invite("uma@example.test");
      const { context, page } = await newPage();
      await continueWith(page, link, "Corp SSO");
      upstream.tamper = {
        location: (location) => {
          if (!location.startsWith(tessera.origin)) return location;
          const url = new URL(location);
          url.searchParams.set("iss", "https://other-idp.example");
          return url.href;
        },
      };
      await signInUpstream(page, "uma-upstream");
      upstream.tamper = undefined;
      expect(await heading(page)).toBe("Sign-in failed");
      expect(await sessionCookie(context)).toBeUndefined();
      expect(await tessera.ctx.accounts.users.findByEmail("uma@example.test")).toEqual([]);
      expect(await linksTo(corp.id, "uma-upstream")).toEqual([]);
      expect(await statusOf(id)).toBe("pending");
      expect(await failureReasons()).toContain("iss_mismatch");
    });

    it("a replayed callback (used state) creates nothing more", async () => {
      const { link } = await invite("quinn@example.test");
      const { page } = await newPage();
      const callbacks: string[] = [];
      page.on("request", (r) => {
        if (r.url().includes("/callback?")) callbacks.push(r.url());
      });
      await continueWith(page, link, "Corp SSO");
      await signInUpstream(page, "quinn-upstream");
      expect(new URL(page.url()).pathname).toBe("/account");
      expect(callbacks).toHaveLength(1);

      // Again in the same browser, and carried to another one: the state was used.
      const other = await newPage();
      for (const target of [page, other.page]) {
        await target.goto(callbacks[0]!);
        expect(await heading(target)).toBe("Sign-in failed");
      }
      expect(await sessionCookie(other.context)).toBeUndefined();
      expect(await tessera.ctx.accounts.users.findByEmail("quinn@example.test")).toHaveLength(1);
      expect(await linksTo(corp.id, "quinn-upstream")).toHaveLength(1);
      expect(await failureReasons()).toContain("state_unknown");
    });
  });
});
