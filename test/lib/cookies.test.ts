import fc from "fast-check";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { appendSetCookie } from "../../src/http/web/cookies.js";
import { clearCookie, readCookie, serializeCookie } from "../../src/lib/cookies.js";

const NAME = /^[A-Za-z0-9_-]{1,20}$/;
const name = fc.stringMatching(NAME);
const value = fc.stringMatching(/^[A-Za-z0-9_-]{0,64}$/);

describe("cookie helpers", () => {
  it("writes the attributes asked for, HttpOnly unless turned off", () => {
    expect(serializeCookie("__Host-s", "abc", { secure: true, sameSite: "Lax" })).toBe(
      "__Host-s=abc; Path=/; SameSite=Lax; HttpOnly; Secure",
    );
    expect(
      serializeCookie("s", "abc", { secure: false, sameSite: "Strict", maxAge: 60, httpOnly: false }),
    ).toBe("s=abc; Path=/; SameSite=Strict; Max-Age=60");
    expect(clearCookie("s", { secure: true, sameSite: "Lax" })).toBe(
      "s=; Path=/; SameSite=Lax; HttpOnly; Secure; Max-Age=0",
    );
  });

  it("reads back any name and value it wrote, among other cookies in any order (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, value), { selector: ([n]) => n, minLength: 1, maxLength: 6 }),
        fc.nat(),
        (pairs, pick) => {
          const header = pairs.map(([n, v]) => `${n}=${v}`).join("; ");
          const [n, v] = pairs[pick % pairs.length] as [string, string];
          expect(readCookie(header, n)).toBe(v);
        },
      ),
    );
  });

  it("takes the first of two cookies with one name, and never matches a name by prefix or suffix", () => {
    expect(readCookie("s=first; s=second", "s")).toBe("first");
    expect(readCookie("xs=1; sx=2;s=3", "s")).toBe("3");
    expect(readCookie("session=1", "s")).toBeUndefined();
    expect(readCookie("s", "s")).toBeUndefined();
    expect(readCookie(undefined, "s")).toBeUndefined();
    expect(readCookie(" s = v ;", "s")).toBe("v");
  });

  it("skips parts without '=' wherever they are, and a value may hold '='", () => {
    expect(readCookie("flag; other; s=1", "s")).toBe("1");
    expect(readCookie("a=1; flag; s=x=y; t=2", "s")).toBe("x=y");
    expect(readCookie("a; b; c", "s")).toBeUndefined();
    expect(readCookie(`${"x;".repeat(5000)}s=deep`, "s")).toBe("deep");
    expect(readCookie("s;=v", "s")).toBeUndefined();
  });

  it("agrees with a split-based reader on arbitrary headers (property)", () => {
    const reference = (header: string, name: string) => {
      for (const part of header.split(";")) {
        const eq = part.indexOf("=");
        if (eq >= 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
      }
      return undefined;
    };
    const piece = fc.constantFrom("s", "t", "=", ";", " ", "v", "s=", "=s", ";s");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.constantFrom("s", "t"), (pieces, name) => {
        const header = pieces.join("");
        expect(readCookie(header, name)).toBe(reference(header, name));
      }),
      { numRuns: 2000 },
    );
  });

  it("sends one Set-Cookie per cookie: a later write for the same name replaces the earlier one", async () => {
    const app = Fastify();
    app.get("/", async (_request, reply) => {
      appendSetCookie(reply, "a", serializeCookie("a", "1", { secure: true, sameSite: "Lax" }));
      appendSetCookie(reply, "ab", serializeCookie("ab", "x", { secure: true, sameSite: "Lax" }));
      appendSetCookie(reply, "a", clearCookie("a", { secure: true, sameSite: "Lax" }));
      return "ok";
    });
    const res = await app.inject({ url: "/" });
    expect(res.headers["set-cookie"]).toEqual([
      "ab=x; Path=/; SameSite=Lax; HttpOnly; Secure",
      "a=; Path=/; SameSite=Lax; HttpOnly; Secure; Max-Age=0",
    ]);
    // And across requests nothing accumulates (the header array is per reply).
    const again = await app.inject({ url: "/" });
    expect(again.headers["set-cookie"]).toHaveLength(2);
    await app.close();
  });
});
