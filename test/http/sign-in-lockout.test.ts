/**
 * Throttling without lock-out: an attacker's failures from anywhere slow the account down for unknown browsers,
 * but a browser that signed in to the account before (its device cookie) keeps signing in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeviceCookies } from "../../src/accounts/device-cookies.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const DEVICE = "__Host-tessera_device";
const BY = { actor: "test", authority: "admin" as const };

describe("device cookies", () => {
  const cookies = createDeviceCookies(Buffer.alloc(32, 3));

  it("verify only for the account they were issued for, and refuse any change", () => {
    const value = cookies.issue("alice");
    expect(cookies.deviceOf(value, "alice")).toBe(value.split(".")[0]);
    expect(cookies.deviceOf(value, "bob")).toBeUndefined();
    expect(createDeviceCookies(Buffer.alloc(32, 4)).deviceOf(value, "alice")).toBeUndefined();
    for (let i = 0; i < value.length; i++) {
      const c = value[i] === "A" ? "B" : "A";
      expect(cookies.deviceOf(`${value.slice(0, i)}${c}${value.slice(i + 1)}`, "alice")).toBeUndefined();
    }
    for (const odd of [undefined, "", ".", "x.y", `${value}x`, value.replace(".", "")]) {
      expect(cookies.deviceOf(odd, "alice")).toBeUndefined();
    }
  });
});

describe.each(DIALECTS)("sign-in without lock-out on %s", (dialect) => {
  let t: TestApp;
  let count = 0;
  let ips = 0;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
  });
  afterAll(async () => {
    await t.close();
  });

  const browser = () => new PageClient(t.app, ISSUER, `198.51.100.${++ips}`);

  async function attempt(page: PageClient, userName: string, password: string) {
    await page.get("/login");
    return (await page.post("/login", { username: userName, password })).statusCode;
  }

  async function newUser() {
    count += 1;
    const userName = `victim${count}`;
    await t.ctx.accounts.users.create({ userName, password: PASSWORD }, BY);
    return userName;
  }

  /** Ten wrong passwords for the account, each from its own address (no per-address limit is reached). */
  async function attack(userName: string) {
    for (let i = 0; i < 10; i++)
      expect(await attempt(browser(), userName, "wrong guess 1234567")).not.toBe(303);
  }

  it("an attacker's failures do not keep out a browser that signed in before", async () => {
    const alice = await newUser();
    const home = browser();
    expect(await attempt(home, alice, PASSWORD)).toBe(303);
    expect(home.cookies.get(DEVICE)).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    await attack(alice);
    // An unknown browser, even with the right password, waits: the account is being guessed.
    expect(await attempt(browser(), alice, PASSWORD)).toBe(429);
    // The real user's browser does not.
    expect(await attempt(home, alice, PASSWORD)).toBe(303);
  });

  it("a forged device cookie, or one of another account, counts as none", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const bobs = browser();
    expect(await attempt(bobs, bob, PASSWORD)).toBe(303);
    await attack(alice);
    // Bob's cookie, presented for alice.
    expect(await attempt(bobs, alice, PASSWORD)).toBe(429);
    const forged = browser();
    forged.cookies.set(DEVICE, `${"A".repeat(22)}.${"B".repeat(43)}`);
    expect(await attempt(forged, alice, PASSWORD)).toBe(429);
  });

  it("failures made with a device cookie count against that device only", async () => {
    const alice = await newUser();
    const laptop = browser();
    const phone = browser();
    expect(await attempt(laptop, alice, PASSWORD)).toBe(303);
    expect(await attempt(phone, alice, PASSWORD)).toBe(303);
    for (let i = 0; i < 6; i++) await attempt(laptop, alice, "wrong guess 1234567");
    // The laptop's cookie is throttled like an account would be…
    expect(await attempt(laptop, alice, PASSWORD)).toBe(429);
    // …the phone and the account's shared counter are not.
    expect(await attempt(phone, alice, PASSWORD)).toBe(303);
    expect(await attempt(browser(), alice, PASSWORD)).toBe(303);
  });
});
