/**
 * Security keys and passkeys in a real browser: Debian's Chromium through playwright-core, with a virtual CTAP2
 * authenticator from the DevTools protocol's WebAuthn domain (resident keys, user verification), against Tessera
 * over HTTPS (WebAuthn needs a secure context).
 *
 * The journey: sign in with the password, register a key from the account page (Tessera's page and scripts),
 * sign out, sign in with the password and the key as second factor, sign out, sign in with the passkey alone,
 * remove the key, and sign in with the password only.
 * Every ceremony runs through Tessera's own buttons and same-origin scripts, under the pages' CSP
 * (`script-src 'self'; connect-src 'self'`, nothing inline); a CSP violation fails the test.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/chromium.js";
import { startTlsTessera, type TlsTessera } from "../helpers/tls-server.js";

const PASSWORD = "correct horse battery staple 42";

describe("security keys and passkeys in Chromium", () => {
  let tessera: TlsTessera;
  let browser: Browser;

  beforeAll(async () => {
    [tessera, browser] = await Promise.all([startTlsTessera(), launchChromium()]);
    await tessera.ctx.accounts.users.create(
      { userName: "pat", displayName: "Pat Doe", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
  });
  afterAll(async () => {
    await browser?.close();
    await tessera?.close();
  });

  async function signInWithPassword(page: Page) {
    await page.goto(`${tessera.origin}/login`);
    await page.locator("#username").fill("pat");
    await page.locator("#password").fill(PASSWORD);
    await Promise.all([
      page.waitForNavigation(),
      page.getByRole("button", { name: "Sign in", exact: true }).click(),
    ]);
  }

  async function signOut(page: Page) {
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign out" }).click()]);
    expect(new URL(page.url()).pathname).toMatch(/^\/(login|logout)/);
  }

  it("registers a key, uses it after the password and as a passkey, then removes it", async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(`${page.url()} ${message.text()}`);
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "usb",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    // 1. Password only (no factor yet), then register a key from the account's security page.
    await signInWithPassword(page);
    expect(new URL(page.url()).pathname).toBe("/account");
    await page.goto(`${tessera.origin}/account/security`);
    await Promise.all([
      page.waitForURL("**/account/security/keys/new"),
      page.getByRole("link", { name: "Add a security key" }).click(),
    ]);
    await page.getByLabel("Name").fill("Test YubiKey");
    await Promise.all([
      page.waitForURL("**/account/security?done=key-added"),
      page.getByRole("button", { name: "Register key" }).click(),
    ]);
    expect(await page.getByRole("heading", { name: /Test YubiKey/ }).textContent()).toContain("Passkey");
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]?.isResidentCredential).toBe(true);
    expect(credentials[0]?.userHandle).toBe(
      Buffer.from((await tessera.ctx.accounts.users.findByUserName("pat"))!.id).toString("base64"),
    );
    // Tessera's own page ran its scripts under its CSP without a violation.
    expect(violations).toEqual([]);
    await signOut(page);

    // 2. The password now leads to the second factor; the key completes the sign-in.
    await signInWithPassword(page);
    expect(new URL(page.url()).pathname).toBe("/login/verify");
    await expect(page.locator("#webauthn-verify").count()).resolves.toBe(1);
    // The page's own script runs the ceremony (CSP: same-origin scripts and fetch only).
    await Promise.all([page.waitForURL("**/account"), page.locator("#webauthn-verify").click()]);
    expect(await page.locator(".session-user").textContent()).toContain("Pat Doe");
    const [session] = await tessera.ctx.accounts.sessions.list(
      (await tessera.ctx.accounts.users.findByUserName("pat"))!.id,
    );
    expect(session?.amr).toEqual(["pwd", "hwk", "user", "pin", "mfa"]);
    await signOut(page);

    // 3. Passwordless: the passkey alone (the authenticator verifies the user), no user name typed.
    await page.goto(`${tessera.origin}/login?return_to=%2Faccount%2Fsecurity`);
    await Promise.all([page.waitForURL("**/account/security"), page.locator("#passkey-sign-in").click()]);
    const passkeyEvents = await tessera.ctx.accounts.audit.list({ type: "signin.passkey" });
    expect(passkeyEvents).toHaveLength(1);
    expect(await page.locator(".session-user").textContent()).toContain("Pat Doe");

    // 4. Remove the key on the security page; the password alone signs in again.
    await Promise.all([
      page.waitForURL("**/account/security?done=key-removed"),
      page.getByRole("button", { name: "Remove Test YubiKey" }).click(),
    ]);
    expect(await page.getByRole("heading", { name: /Test YubiKey/ }).count()).toBe(0);
    expect(await page.getByText("You have no security key or passkey yet.").count()).toBe(1);
    await signOut(page);
    await signInWithPassword(page);
    expect(new URL(page.url()).pathname).toBe("/account");

    const removedEvents = await tessera.ctx.accounts.audit.list({ type: "mfa.webauthn_removed" });
    expect(removedEvents).toHaveLength(1);
    await context.close();
  });
});
