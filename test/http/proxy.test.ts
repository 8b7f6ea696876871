import { describe, expect, it } from "vitest";
import { createTestApp } from "../helpers/app.js";

async function loggedAddress(trustProxy: string | undefined): Promise<string> {
  const t = await createTestApp({ env: trustProxy === undefined ? {} : { TESSERA_TRUST_PROXY: trustProxy } });
  try {
    await t.app.inject({
      url: "/healthz",
      remoteAddress: "127.0.0.1",
      headers: { "x-forwarded-for": "203.0.113.9" },
    });
    const line = t
      .logs()
      .split("\n")
      .find((l) => l.includes('"url":"/healthz"'));
    return (JSON.parse(line ?? "{}") as { req?: { remoteAddress?: string } }).req?.remoteAddress ?? "";
  } finally {
    await t.close();
  }
}

describe("trustProxy", () => {
  it("ignores X-Forwarded-For by default (a client cannot choose its own address)", async () => {
    expect(await loggedAddress(undefined)).toBe("127.0.0.1");
  });

  it("uses X-Forwarded-For from a trusted proxy address", async () => {
    expect(await loggedAddress("127.0.0.1")).toBe("203.0.113.9");
  });

  it("ignores X-Forwarded-For from an untrusted proxy address", async () => {
    expect(await loggedAddress("10.0.0.0/8")).toBe("127.0.0.1");
  });
});
