/**
 * API token format: `tsr_pat_` / `tsr_svc_` + 43 base62 characters + a 6-character CRC32 checksum.
 *
 * Every token the generator makes is well formed, and every single-character substitution or adjacent
 * transposition of a token is refused by the checksum alone: `authenticate` and `revokeLeaked` answer without
 * touching the database (a database stand-in that fails on any use proves it), and the leak report does not
 * count the value as a Tessera token.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ApiTokenKind,
  createApiTokens,
  isTesseraTokenShape,
  kindOfToken,
  PERSONAL_TOKEN_FORMAT,
  SERVICE_TOKEN_FORMAT,
} from "../../src/api-tokens/index.js";
import type { AuditLog } from "../../src/audit/audit-log.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../../src/crypto/index.js";
import { manualClock } from "../../src/lib/clock.js";
import type { RevocationFeed } from "../../src/revocation/index.js";
import type { ApiTokensRepository } from "../../src/storage/index.js";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const FORMATS = { personal: PERSONAL_TOKEN_FORMAT, service: SERVICE_TOKEN_FORMAT } as const;
const KINDS = Object.keys(FORMATS) as ApiTokenKind[];
const SHAPE = /^tsr_(pat|svc)_[0-9A-Za-z]{49}$/;

/** Any use of this repository is a failure: the format checks must answer before a query. */
function databaseThatMustNotBeUsed(): { repository: ApiTokensRepository; uses: string[] } {
  const uses: string[] = [];
  const repository = new Proxy(
    {},
    {
      get(_target, property) {
        uses.push(String(property));
        throw new Error(`database used: ${String(property)}`);
      },
    },
  ) as ApiTokensRepository;
  return { repository, uses };
}

function apiTokensWithoutDatabase() {
  const { repository, uses } = databaseThatMustNotBeUsed();
  const failing = () => Promise.reject(new Error("must not be called"));
  const tokens = createApiTokens({
    repository,
    clock: manualClock(),
    audit: { record: failing, list: failing, flush: failing, close: failing } as AuditLog,
    feed: { record: failing, read: failing, purgeExpired: failing, intervalMs: 500 } as RevocationFeed,
    maxLifetime: 0,
    isAdministrator: failing,
  });
  return { tokens, uses };
}

/** Every single-character substitution (with a base62 character or a few others) and adjacent transposition. */
function* mutationsOf(token: string): Generator<string> {
  const replacements = `${BASE62}_-.~+/= `;
  for (let i = 0; i < token.length; i++) {
    for (const c of replacements) {
      if (c !== token[i]) yield token.slice(0, i) + c + token.slice(i + 1);
    }
  }
  for (let i = 0; i + 1 < token.length; i++) {
    if (token[i] !== token[i + 1]) yield token.slice(0, i) + token[i + 1] + token[i] + token.slice(i + 2);
  }
}

/** A well-formed token whose body fast-check draws (so failures shrink and replay). */
const tokenArbitrary = fc
  .record({
    kind: fc.constantFrom(...KINDS),
    body: fc.string({ unit: fc.constantFrom(...BASE62), minLength: 43, maxLength: 43 }),
  })
  .map(({ kind, body }) => ({ kind, token: withChecksum(FORMATS[kind].prefix + body) }));

/** Appends the checksum (CRC32 of prefix + body, 6 base62 digits), computed independently of src/crypto. */
function withChecksum(body: string): string {
  let n = crc32(body);
  let out = "";
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return body + out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, "utf8")) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

describe("API token format", () => {
  it("every generated token is well formed for its kind and only its kind (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), (kind) => {
        const token = generateOpaqueToken(FORMATS[kind]);
        expect(token).toMatch(SHAPE);
        expect(token.startsWith(FORMATS[kind].prefix)).toBe(true);
        expect(kindOfToken(token)).toBe(kind);
        const other = kind === "personal" ? SERVICE_TOKEN_FORMAT : PERSONAL_TOKEN_FORMAT;
        expect(isWellFormedOpaqueToken(token, other)).toBe(false);
        expect(isTesseraTokenShape(token)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("the independent checksum agrees with the format check for any body (property)", () => {
    fc.assert(
      fc.property(tokenArbitrary, ({ kind, token }) => {
        expect(kindOfToken(token)).toBe(kind);
        expect(isTesseraTokenShape(token)).toBe(true);
      }),
    );
  });

  it("refuses every single-character substitution without a database call (property)", async () => {
    const { tokens, uses } = apiTokensWithoutDatabase();
    await fc.assert(
      fc.asyncProperty(
        tokenArbitrary,
        fc.nat(),
        fc.constantFrom(...`${BASE62}_-.~`),
        async ({ token }, at, replacement) => {
          const i = at % token.length;
          fc.pre(token[i] !== replacement);
          const mutated = token.slice(0, i) + replacement + token.slice(i + 1);
          expect(kindOfToken(mutated)).toBeUndefined();
          expect(isTesseraTokenShape(mutated)).toBe(false);
          expect(await tokens.authenticate(mutated, { ip: "192.0.2.1" })).toBeUndefined();
          expect(await tokens.revokeLeaked(mutated)).toBeUndefined();
        },
      ),
      { numRuns: 500 },
    );
    expect(uses).toEqual([]);
  });

  it("refuses every adjacent transposition without a database call (property)", async () => {
    const { tokens, uses } = apiTokensWithoutDatabase();
    await fc.assert(
      fc.asyncProperty(tokenArbitrary, fc.nat(), async ({ token }, at) => {
        const i = at % (token.length - 1);
        fc.pre(token[i] !== token[i + 1]);
        const mutated = token.slice(0, i) + token[i + 1] + token[i] + token.slice(i + 2);
        expect(kindOfToken(mutated)).toBeUndefined();
        expect(isTesseraTokenShape(mutated)).toBe(false);
        expect(await tokens.authenticate(mutated)).toBeUndefined();
        expect(await tokens.revokeLeaked(mutated)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
    expect(uses).toEqual([]);
  });

  it("refuses all mutations of generated tokens, exhaustively", () => {
    for (let round = 0; round < 20; round++) {
      for (const kind of KINDS) {
        const token = generateOpaqueToken(FORMATS[kind]);
        let count = 0;
        for (const mutated of mutationsOf(token)) {
          count += 1;
          if (kindOfToken(mutated) !== undefined || isTesseraTokenShape(mutated)) {
            expect.fail(`accepted a mutation of a ${kind} token: ${mutated}`);
          }
        }
        expect(count).toBeGreaterThan(token.length * 60);
      }
    }
  });

  it("refuses truncated, extended and re-prefixed tokens without a database call", async () => {
    const { tokens, uses } = apiTokensWithoutDatabase();
    const token = generateOpaqueToken(PERSONAL_TOKEN_FORMAT);
    const body = token.slice(PERSONAL_TOKEN_FORMAT.prefix.length);
    for (const value of [
      token.slice(0, -1),
      `${token}A`,
      ` ${token}`,
      `${token}\n`,
      token.toUpperCase(),
      `tsr_svc_${body}`,
      `tsr_adm_${body}`,
      body,
      generateOpaqueToken({ prefix: "tsr_adm_", checksum: true }),
      generateOpaqueToken({ prefix: "tsr_pat_" }),
      "",
    ]) {
      expect(kindOfToken(value)).toBeUndefined();
      expect(await tokens.authenticate(value)).toBeUndefined();
      expect(await tokens.revokeLeaked(value)).toBeUndefined();
    }
    expect(uses).toEqual([]);
    // The control: the well-formed token itself does reach the database.
    await expect(tokens.authenticate(token)).rejects.toThrow("database used");
    expect(uses).not.toEqual([]);
  });
});
