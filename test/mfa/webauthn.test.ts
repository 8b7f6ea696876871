/**
 * WebAuthn security keys and passkeys (src/mfa/webauthn.ts) on both dialects, with a software authenticator
 * (test/helpers/webauthn-authenticator.ts) and a manual clock: registration, second factor, passwordless, and
 * one test per refusal.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AuditEventType } from "../../src/audit/audit-log.js";
import { MfaError } from "../../src/lib/errors.js";
import type { WebAuthn, WebAuthnJson } from "../../src/mfa/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import { SoftAuthenticator } from "../helpers/webauthn-authenticator.js";

const ISSUER = "https://id.example.test";
const RP_ID = "id.example.test";
const PASSWORD = "correct horse battery staple 42";
const ALLOWED_AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
const by = { actor: "test", ip: "192.0.2.1", userAgent: "vitest" };

function refusedWith(code: string) {
  return (error: unknown) => error instanceof MfaError && error.code === code;
}

describe.each(DIALECTS)("WebAuthn (%s)", (dialect) => {
  let t: TestApp;
  let pat: { id: string; userName: string; displayName: string | null };
  let sam: { id: string; userName: string; displayName: string | null };

  /** The service, with the clock one millisecond further before each call: audit events sort by call order. */
  const webauthn = (): WebAuthn =>
    new Proxy(t.ctx.mfa.webauthn, {
      get(target, name) {
        const method = target[name as keyof WebAuthn] as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          t.clock.advance(1);
          return method.apply(target, args);
        };
      },
    });
  const key = (options: Partial<SoftAuthenticator["options"]> = {}) =>
    new SoftAuthenticator({ origin: ISSUER, rpId: RP_ID, ...options });

  async function registered(user: { id: string; userName: string; displayName: string | null }, k = key()) {
    const options = await webauthn().registrationOptions(user);
    await webauthn().register(user.id, k.register(options), "My key", by);
    return k;
  }

  async function events(userId: string, type: AuditEventType) {
    return t.ctx.accounts.audit.list({ userId, type });
  }

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    const create = async (userName: string) => {
      const user = await t.ctx.accounts.users.create(
        { userName, displayName: `${userName} Doe`, password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      );
      return { id: user.id, userName: user.userName, displayName: user.displayName };
    };
    pat = await create("pat");
    sam = await create("sam");
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    for (const user of [pat, sam]) {
      for (const c of await t.ctx.mfa.webauthn.list(user.id))
        await t.ctx.mfa.webauthn.remove(user.id, c.id, by);
    }
  });

  it("offers registration options for the configured RP, excluding the user's keys", async () => {
    const first = await registered(pat);
    const options = await webauthn().registrationOptions(pat);
    expect(options.rp).toEqual({ name: "Tessera", id: RP_ID });
    expect(options.attestation).toBe("none");
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: "preferred",
      userVerification: "preferred",
    });
    expect((options.user as { id: string }).id).toBe(Buffer.from(pat.id).toString("base64url"));
    expect((options.excludeCredentials as { id: string }[]).map((c) => c.id)).toEqual([first.credentialId]);
    expect(options.timeout).toBe(300_000);
  });

  it("registers a key with its name, times and flags, and audits it", async () => {
    const k = key({ transports: ["usb", "nfc"] });
    const options = await webauthn().registrationOptions(pat);
    const credential = await webauthn().register(pat.id, k.register(options), "  Blue   key ", by);
    expect(credential).toMatchObject({
      id: k.credentialId,
      name: "Blue key",
      createdAt: t.clock.now(),
      lastUsedAt: null,
      deviceType: "singleDevice",
      backedUp: false,
      discoverable: true,
      transports: ["usb", "nfc"],
      aaguid: "00000000-0000-0000-0000-000000000000",
    });
    expect(await webauthn().list(pat.id)).toEqual([credential]);
    const [event] = await events(pat.id, "mfa.webauthn_registered");
    expect(event?.details).toMatchObject({ name: "Blue key", passkey: true });
    expect(await t.ctx.mfa.policy.factors(pat.id)).toMatchObject({ webauthn: 1 });
  });

  it("names a synced passkey without a name 'Passkey' and records it as backed up", async () => {
    const k = key({ synced: true, counterless: true, residentKey: true });
    const options = await webauthn().registrationOptions(sam);
    const credential = await webauthn().register(sam.id, k.register(options), "", by);
    expect(credential).toMatchObject({ name: "Passkey", deviceType: "multiDevice", backedUp: true });
  });

  it("authenticates a second factor, advancing the counter and the last-used time", async () => {
    const k = await registered(pat);
    t.clock.advance(60_000);
    const options = await webauthn().authenticationOptions(pat.id);
    expect(options.rpId).toBe(RP_ID);
    expect(options.userVerification).toBe("preferred");
    expect((options.allowCredentials as { id: string }[]).map((c) => c.id)).toEqual([k.credentialId]);
    const result = await webauthn().authenticate(k.assert(options), { userId: pat.id }, by);
    const usedAt = t.clock.now();
    expect(result).toEqual({ userId: pat.id, credentialId: k.credentialId, userVerified: true });
    const [stored] = await webauthn().list(pat.id);
    expect(stored?.lastUsedAt).toBe(usedAt);
    // Second use: the counter must go on increasing, and it does.
    const again = await webauthn().authenticationOptions(pat.id);
    expect(await webauthn().authenticate(k.assert(again), { userId: pat.id }, by)).toBeDefined();
  });

  it("accepts an authenticator without a counter (always 0) every time", async () => {
    const k = await registered(pat, key({ counterless: true }));
    for (let i = 0; i < 2; i++) {
      const options = await webauthn().authenticationOptions(pat.id);
      expect(await webauthn().authenticate(k.assert(options), { userId: pat.id }, by)).toBeDefined();
    }
  });

  it("refuses a counter that goes backwards and audits it as a cloned authenticator", async () => {
    const k = await registered(pat);
    const first = await webauthn().authenticationOptions(pat.id);
    expect(
      await webauthn().authenticate(k.assert(first, { counter: 7 }), { userId: pat.id }, by),
    ).toBeDefined();
    const second = await webauthn().authenticationOptions(pat.id);
    expect(
      await webauthn().authenticate(k.assert(second, { counter: 3 }), { userId: pat.id }, by),
    ).toBeUndefined();
    const [event] = await events(pat.id, "mfa.webauthn_counter_regression");
    expect(event?.outcome).toBe("failure");
    expect(event?.details).toMatchObject({ storedCounter: 7, receivedCounter: 3 });
  });

  it("refuses a repeated counter value (a replayed or cloned count)", async () => {
    const k = await registered(pat);
    const first = await webauthn().authenticationOptions(pat.id);
    expect(
      await webauthn().authenticate(k.assert(first, { counter: 4 }), { userId: pat.id }, by),
    ).toBeDefined();
    const second = await webauthn().authenticationOptions(pat.id);
    expect(
      await webauthn().authenticate(k.assert(second, { counter: 4 }), { userId: pat.id }, by),
    ).toBeUndefined();
    expect((await events(pat.id, "mfa.webauthn_counter_regression"))[0]?.details).toMatchObject({
      storedCounter: 4,
      receivedCounter: 4,
    });
  });

  it("refuses another user's credential as a second factor", async () => {
    const samsKey = await registered(sam);
    await registered(pat);
    const options = await webauthn().authenticationOptions(pat.id);
    expect(await webauthn().authenticate(samsKey.assert(options), { userId: pat.id }, by)).toBeUndefined();
    const [event] = await events(pat.id, "mfa.webauthn_failed");
    expect(event?.details).toMatchObject({ ceremony: "second_factor", reason: "wrong_user" });
  });

  it("uses a challenge once", async () => {
    const k = await registered(pat);
    const options = await webauthn().authenticationOptions(pat.id);
    expect(await webauthn().authenticate(k.assert(options), { userId: pat.id }, by)).toBeDefined();
    expect(await webauthn().authenticate(k.assert(options), { userId: pat.id }, by)).toBeUndefined();
    expect((await events(pat.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({ reason: "challenge" });
  });

  it("refuses a challenge issued for another user or another ceremony", async () => {
    const k = await registered(pat);
    await registered(sam);
    const forSam = await webauthn().authenticationOptions(sam.id);
    expect(await webauthn().authenticate(k.assert(forSam), { userId: pat.id }, by)).toBeUndefined();
    const passwordless = await webauthn().passwordlessOptions();
    expect(await webauthn().authenticate(k.assert(passwordless), { userId: pat.id }, by)).toBeUndefined();
    const registration = await webauthn().registrationOptions(pat);
    expect(
      await webauthn().authenticate(k.assert({ ...registration, rpId: RP_ID }), { userId: pat.id }, by),
    ).toBeUndefined();
  });

  it("refuses a challenge older than five minutes", async () => {
    const k = await registered(pat);
    const options = await webauthn().authenticationOptions(pat.id);
    t.clock.advance(5 * 60_000 + 1);
    expect(await webauthn().authenticate(k.assert(options), { userId: pat.id }, by)).toBeUndefined();
    expect((await events(pat.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({ reason: "challenge" });
    const registration = await webauthn().registrationOptions(pat);
    t.clock.advance(5 * 60_000 + 1);
    await expect(webauthn().register(pat.id, key().register(registration), "Late", by)).rejects.toSatisfy(
      refusedWith("webauthn_failed"),
    );
    // Expired challenges are purged.
    expect(await t.ctx.mfa.purgeExpired()).toBeGreaterThan(0);
  });

  it("refuses an assertion made for another origin", async () => {
    const k = await registered(pat);
    const options = await webauthn().authenticationOptions(pat.id);
    const phished = k.assert(options, { origin: "https://id.example.test.evil.example" });
    expect(await webauthn().authenticate(phished, { userId: pat.id }, by)).toBeUndefined();
    expect((await events(pat.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({ reason: "origin" });
  });

  it("refuses an assertion made for another RP ID", async () => {
    const k = await registered(pat);
    const options = await webauthn().authenticationOptions(pat.id);
    expect(
      await webauthn().authenticate(k.assert(options, { rpId: "example.test" }), { userId: pat.id }, by),
    ).toBeUndefined();
    expect((await events(pat.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({ reason: "rp_id" });
  });

  it("refuses a registration made for another origin or RP ID, and audits it", async () => {
    for (const overrides of [{ origin: "https://evil.example" }, { rpId: "evil.example" }]) {
      const options = await webauthn().registrationOptions(pat);
      await expect(
        webauthn().register(pat.id, key().register(options, overrides), "Evil", by),
      ).rejects.toSatisfy(refusedWith("webauthn_failed"));
    }
    const [rp, origin] = await events(pat.id, "mfa.webauthn_failed");
    expect(rp?.details).toMatchObject({ ceremony: "registration", reason: "rp_id" });
    expect(origin?.details).toMatchObject({ ceremony: "registration", reason: "origin" });
    expect(await webauthn().list(pat.id)).toEqual([]);
  });

  it("signs in without a password with a passkey, and names its user", async () => {
    const k = await registered(pat, key({ residentKey: true }));
    const options = await webauthn().passwordlessOptions();
    expect(options.userVerification).toBe("required");
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(await webauthn().authenticate(k.assert(options), {}, by)).toEqual({
      userId: pat.id,
      credentialId: k.credentialId,
      userVerified: true,
    });
  });

  it("requires user verification for passwordless sign-in, not for a second factor by default", async () => {
    const k = await registered(pat, key({ userVerification: false }));
    const passwordless = await webauthn().passwordlessOptions();
    expect(await webauthn().authenticate(k.assert(passwordless), {}, by)).toBeUndefined();
    expect((await events(pat.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({
      ceremony: "passwordless",
      reason: "user_verification",
    });
    const secondFactor = await webauthn().authenticationOptions(pat.id);
    expect(await webauthn().authenticate(k.assert(secondFactor), { userId: pat.id }, by)).toMatchObject({
      userVerified: false,
    });
  });

  it("refuses a passwordless assertion whose user handle names someone else", async () => {
    const k = await registered(pat);
    const options = await webauthn().passwordlessOptions();
    const response = k.assert(options, { userHandle: Buffer.from(sam.id).toString("base64url") });
    expect(await webauthn().authenticate(response, {}, by)).toBeUndefined();
    expect((await events(pat.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({
      reason: "user_handle",
    });
  });

  it("refuses an unknown credential and a malformed response, and audits both", async () => {
    const options = await webauthn().passwordlessOptions();
    expect(await webauthn().authenticate(key().assert(options), {}, by)).toBeUndefined();
    expect(
      await webauthn().authenticate({ id: "x", response: "nope" } as WebAuthnJson, {}, by),
    ).toBeUndefined();
    const anonymous = (await t.ctx.accounts.audit.list({ type: "mfa.webauthn_failed" })).filter(
      (e) => e.userId === null,
    );
    expect(anonymous.slice(0, 2).map((e) => e.details.reason)).toEqual(["challenge", "unknown_credential"]);
    await expect(
      webauthn().register(pat.id, { id: "x", response: { clientDataJSON: "!!" } }, "Bad", by),
    ).rejects.toSatisfy(refusedWith("webauthn_failed"));
    expect((await events(pat.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({
      ceremony: "registration",
      reason: "challenge",
    });
  });

  it("refuses a removed key", async () => {
    const k = await registered(pat);
    expect(await webauthn().remove(pat.id, k.credentialId, by)).toBe(true);
    expect((await events(pat.id, "mfa.webauthn_removed"))[0]?.details).toMatchObject({
      credentialId: k.credentialId.slice(0, 32),
    });
    await expect(webauthn().authenticationOptions(pat.id)).rejects.toSatisfy(refusedWith("factor_not_found"));
    const options = await webauthn().passwordlessOptions();
    expect(await webauthn().authenticate(k.assert(options), {}, by)).toBeUndefined();
    expect(await webauthn().remove(pat.id, k.credentialId, by)).toBe(false);
  });

  it("refuses to register a credential id that is already registered", async () => {
    const k = await registered(pat);
    const options = await webauthn().registrationOptions(sam);
    await expect(webauthn().register(sam.id, k.register(options), "Stolen id", by)).rejects.toSatisfy(
      refusedWith("webauthn_failed"),
    );
    expect((await events(sam.id, "mfa.webauthn_failed"))[0]?.details).toMatchObject({
      reason: "credential_exists",
    });
    expect(await webauthn().list(sam.id)).toEqual([]);
  });

  it("renames only the user's own key, and refuses empty or control-character names", async () => {
    const k = await registered(pat);
    expect(await webauthn().rename(pat.id, k.credentialId, "Office key", by)).toBe(true);
    expect((await webauthn().list(pat.id))[0]?.name).toBe("Office key");
    expect((await events(pat.id, "mfa.webauthn_renamed"))[0]?.details).toMatchObject({ name: "Office key" });
    expect(await webauthn().rename(sam.id, k.credentialId, "Mine now", by)).toBe(false);
    expect(await webauthn().remove(sam.id, k.credentialId, by)).toBe(false);
    await expect(webauthn().rename(pat.id, k.credentialId, "   ", by)).rejects.toSatisfy(
      refusedWith("invalid_request"),
    );
    await expect(webauthn().rename(pat.id, k.credentialId, "a\u202eb", by)).rejects.toSatisfy(
      refusedWith("invalid_request"),
    );
    await expect(webauthn().rename(pat.id, k.credentialId, "k".repeat(65), by)).rejects.toSatisfy(
      refusedWith("invalid_request"),
    );
    expect((await webauthn().list(pat.id))[0]?.name).toBe("Office key");
  });
});

describe.each(DIALECTS)("WebAuthn policy from the configuration (%s)", (dialect) => {
  let t: TestApp;
  let pat: { id: string; userName: string; displayName: string | null };
  const key = (options: Partial<SoftAuthenticator["options"]> = {}) =>
    new SoftAuthenticator({ origin: "https://login.example.test", rpId: "example.test", ...options });

  beforeAll(async () => {
    t = await createTestApp({
      dialect,
      env: {
        TESSERA_ISSUER: "https://id.example.test",
        TESSERA_WEBAUTHN_RP_ID: "example.test",
        TESSERA_WEBAUTHN_ORIGINS: "https://id.example.test, https://login.example.test",
        TESSERA_WEBAUTHN_USER_VERIFICATION: "required",
        TESSERA_WEBAUTHN_AAGUIDS: ALLOWED_AAGUID.toUpperCase(),
      },
    });
    const user = await t.ctx.accounts.users.create(
      { userName: "pat", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    pat = { id: user.id, userName: user.userName, displayName: user.displayName };
  });
  afterAll(async () => {
    await t?.close();
  });

  it("asks for direct attestation and refuses an authenticator model outside the allow-list", async () => {
    const options = await t.ctx.mfa.webauthn.registrationOptions(pat);
    expect(options.attestation).toBe("direct");
    expect(options.rp).toMatchObject({ id: "example.test" });
    await expect(
      t.ctx.mfa.webauthn.register(pat.id, key().register(options), "Unknown model", by),
    ).rejects.toSatisfy(refusedWith("authenticator_not_allowed"));
    const [event] = await t.ctx.accounts.audit.list({ userId: pat.id, type: "mfa.webauthn_failed" });
    expect(event?.details).toMatchObject({ reason: "aaguid_not_allowed" });
    expect(await t.ctx.mfa.webauthn.list(pat.id)).toEqual([]);
  });

  it("accepts an allowed model from any configured origin, and requires user verification", async () => {
    const k = key({ aaguid: ALLOWED_AAGUID });
    const options = await t.ctx.mfa.webauthn.registrationOptions(pat);
    expect(options.authenticatorSelection).toMatchObject({ userVerification: "required" });
    const credential = await t.ctx.mfa.webauthn.register(pat.id, k.register(options), "Approved", by);
    expect(credential.aaguid).toBe(ALLOWED_AAGUID);
    const first = await t.ctx.mfa.webauthn.authenticationOptions(pat.id);
    expect(first.userVerification).toBe("required");
    expect(
      await t.ctx.mfa.webauthn.authenticate(k.assert(first, { userVerified: false }), { userId: pat.id }, by),
    ).toBeUndefined();
    const second = await t.ctx.mfa.webauthn.authenticationOptions(pat.id);
    expect(
      await t.ctx.mfa.webauthn.authenticate(
        k.assert(second, { origin: "https://id.example.test" }),
        { userId: pat.id },
        by,
      ),
    ).toMatchObject({ userVerified: true });
  });

  it("refuses a registration without user verification when it is required", async () => {
    const options = await t.ctx.mfa.webauthn.registrationOptions(pat);
    await expect(
      t.ctx.mfa.webauthn.register(
        pat.id,
        key({ aaguid: ALLOWED_AAGUID }).register(options, { userVerified: false }),
        "No PIN",
        by,
      ),
    ).rejects.toSatisfy(refusedWith("webauthn_failed"));
  });
});
