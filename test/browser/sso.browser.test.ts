/**
 * Single sign-on in a real browser (Debian's Chromium through playwright-core): two relying parties built on
 * openid-client, one sign-in through Tessera's real pages (consent for the first app, none for the
 * first-party second one), then RP-initiated logout, which also reaches the second app by back-channel.
 * Tessera runs over HTTPS; the apps are plain HTTP on 127.0.0.1 (loopback redirect URIs).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as oidc from "openid-client";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/chromium.js";
import { injectFetch } from "../helpers/oauth.js";
import { startTlsTessera, type TlsTessera } from "../helpers/tls-server.js";

const PASSWORD = "correct horse battery staple 42";

interface RelyingParty {
  name: string;
  origin: string;
  server: Server;
  /** Logout tokens received on the back channel. */
  logoutTokens: string[];
  idToken?: string;
}

async function startRelyingParty(
  tessera: TlsTessera,
  name: string,
  options: { firstParty: boolean },
): Promise<RelyingParty> {
  const rp: RelyingParty = { name, origin: "", server: createServer(), logoutTokens: [] };
  await new Promise<void>((resolve) => rp.server.listen(0, "127.0.0.1", resolve));
  rp.origin = `http://127.0.0.1:${(rp.server.address() as AddressInfo).port}`;
  const { client, secret } = await tessera.ctx.oauth.clients.create({
    name,
    redirectUris: [`${rp.origin}/callback`],
    postLogoutRedirectUris: [`${rp.origin}/bye`],
    backchannelLogoutUri: `${rp.origin}/backchannel`,
    scope: "openid profile",
    firstParty: options.firstParty,
  });
  // openid-client talks to Tessera in-process (the test certificate is self-signed); the browser uses HTTPS.
  const config = await oidc.discovery(
    new URL(tessera.origin),
    client.id,
    {},
    oidc.ClientSecretBasic(secret as string),
    {
      [oidc.customFetch]: injectFetch(tessera.app),
      execute: [oidc.allowInsecureRequests],
    },
  );
  let pending: { verifier: string; state: string; nonce: string } | undefined;
  const html = (res: ServerResponse, body: string) =>
    res
      .writeHead(200, { "content-type": "text/html; charset=utf-8" })
      .end(`<!doctype html><title>${name}</title>${body}`);
  rp.server.on("request", async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", rp.origin);
    try {
      if (url.pathname === "/login") {
        pending = {
          verifier: oidc.randomPKCECodeVerifier(),
          state: oidc.randomState(),
          nonce: oidc.randomNonce(),
        };
        const target = oidc.buildAuthorizationUrl(config, {
          redirect_uri: `${rp.origin}/callback`,
          scope: "openid profile",
          code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
          code_challenge_method: "S256",
          state: pending.state,
          nonce: pending.nonce,
        });
        res.writeHead(302, { location: target.href }).end();
      } else if (url.pathname === "/callback") {
        const tokens = await oidc.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: pending?.verifier,
          expectedState: pending?.state,
          expectedNonce: pending?.nonce,
        });
        rp.idToken = tokens.id_token;
        html(res, `<h1 id="who">Signed in as ${tokens.claims()?.preferred_username}</h1>`);
      } else if (url.pathname === "/logout") {
        const target = oidc.buildEndSessionUrl(config, {
          id_token_hint: rp.idToken as string,
          post_logout_redirect_uri: `${rp.origin}/bye`,
          state: "bye-state",
        });
        res.writeHead(302, { location: target.href }).end();
      } else if (url.pathname === "/bye") {
        html(res, `<h1 id="bye">Signed out (state ${url.searchParams.get("state")})</h1>`);
      } else if (url.pathname === "/backchannel" && req.method === "POST") {
        let body = "";
        for await (const chunk of req) body += chunk;
        rp.logoutTokens.push(new URLSearchParams(body).get("logout_token") ?? "");
        res.writeHead(200).end();
      } else {
        res.writeHead(404).end();
      }
    } catch (error) {
      process.stderr.write(
        `RP ERROR ${String(error)} ${JSON.stringify((error as { cause?: unknown }).cause ?? "")}\n`,
      );
      res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    }
  });
  return rp;
}

describe("single sign-on in Chromium", () => {
  let tessera: TlsTessera;
  let browser: Browser;
  let first: RelyingParty;
  let second: RelyingParty;

  beforeAll(async () => {
    // The apps (back-channel logout receivers) are on loopback, which outbound requests reach only when allowed.
    [tessera, browser] = await Promise.all([
      startTlsTessera({ env: { TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1/32" } }),
      launchChromium(),
    ]);
    await tessera.ctx.accounts.users.create(
      { userName: "pat", displayName: "Pat Doe", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    first = await startRelyingParty(tessera, "Expenses", { firstParty: false });
    second = await startRelyingParty(tessera, "Wiki", { firstParty: true });
  });

  afterAll(async () => {
    await browser?.close();
    for (const rp of [first, second]) await new Promise((resolve) => rp?.server.close(resolve));
    await tessera?.close();
  });

  it("signs in once for two applications, then logs out of both", async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const visited: string[] = [];
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) visited.push(frame.url());
    });
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });

    page.setDefaultTimeout(10_000);
    // 1. The first app sends the browser to Tessera: sign in, then consent.
    await page.goto(`${first.origin}/login`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.locator("#username").fill("pat");
    await page.locator("#password").fill(PASSWORD);
    await Promise.all([
      page.waitForURL(/\/authorize\/continue/),
      page.getByRole("button", { name: "Sign in", exact: true }).click(),
    ]);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toContain("Allow Expenses?");
    await Promise.all([
      page.waitForURL(`${first.origin}/callback**`),
      page.getByRole("button", { name: "Allow" }).click(),
    ]);
    expect(await page.locator("#who").textContent()).toBe("Signed in as pat");

    // 2. The second app: no sign-in form, no consent (first party): straight back with a code.
    const before = visited.length;
    await page.goto(`${second.origin}/login`);
    await page.waitForURL(`${second.origin}/callback**`);
    expect(await page.locator("#who").textContent()).toBe("Signed in as pat");
    const hops = visited.slice(before).map((u) => new URL(u));
    expect(hops.some((u) => u.pathname === "/login" && u.origin === tessera.origin)).toBe(false);

    // 3. RP-initiated logout from the first app: back to its page with the state, Tessera's cookie gone.
    await page.goto(`${first.origin}/logout`);
    await page.waitForURL(`${first.origin}/bye**`);
    expect(await page.locator("#bye").textContent()).toBe("Signed out (state bye-state)");
    const cookies = await context.cookies(tessera.origin);
    expect(cookies.find((c) => c.name === "__Host-tessera_session")).toBeUndefined();

    // The second app heard of it on the back channel.
    await tessera.ctx.oauth.logout.idle();
    expect(second.logoutTokens).toHaveLength(1);
    const claims = JSON.parse(
      Buffer.from(second.logoutTokens[0]?.split(".")[1] ?? "", "base64url").toString(),
    );
    expect(claims.events).toHaveProperty(["http://schemas.openid.net/event/backchannel-logout"]);

    // 4. Signing in to the second app now asks for the password again.
    await page.goto(`${second.origin}/login`);
    expect(new URL(page.url()).origin).toBe(tessera.origin);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(violations).toEqual([]);
    await context.close();
  });
});
