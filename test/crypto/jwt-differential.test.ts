/**
 * Differential property tests: `verifyJwt` (fast path on node:crypto) against `verifyJwtWithJose` (the jose
 * reference). For every generated token and option set, both must accept or both must refuse; when both
 * accept, they must return deep-equal headers and payloads; when both refuse, both must refuse with a
 * `TokenError` (never a stray exception).
 *
 * Generators: valid tokens with random claims and options; tokens mutated at the character, byte and
 * segment level; arbitrary header/payload byte strings re-signed with the real private keys; and hostile
 * strings. The clock is fixed through the `now` option. Outcomes are tallied so the suite can show that
 * the generators reach both verdicts.
 */
import { inspect, isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type JwsAlgorithm,
  MAX_JWT_LENGTH,
  signJwt,
  type VerifyJwtOptions,
  verifyJwt,
  verifyJwtWithJose,
} from "../../src/crypto/index.js";
import {
  ALGORITHMS,
  asyncOutcomeOf,
  b64u,
  makeKeys,
  type Outcome,
  outcomeOf,
  signRaw,
  type TestKeys,
} from "./jwt-helpers.js";

const NOW = 1_750_000_000;
const NOW_MS = NOW * 1000;
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const ISSUERS = ["https://issuer.example", "https://other.example", ""] as const;
const AUDIENCES = ["api", "web", "API"] as const;
const TYPS = ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt", "JWT", "jwt", "logout+jwt"];

let keys: TestKeys;
beforeAll(async () => {
  keys = await makeKeys();
});

// ---------------------------------------------------------------------------------------------- tallies

interface Tally {
  accepted: number;
  refused: number;
  reasons: Map<string, number>;
  /** Refusals where the two verifiers named different reasons (allowed; reported). */
  reasonMismatches: Map<string, number>;
}

const tallies = new Map<string, Tally>();

function tally(category: string): Tally {
  let t = tallies.get(category);
  if (t === undefined) {
    t = { accepted: 0, refused: 0, reasons: new Map(), reasonMismatches: new Map() };
    tallies.set(category, t);
  }
  return t;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

afterAll(() => {
  const lines = [...tallies].map(([category, t]) => {
    const reasons = [...t.reasons].map(([r, n]) => `${r}=${n}`).join(" ");
    const mismatches = [...t.reasonMismatches].map(([r, n]) => `${r}=${n}`).join(" ");
    return `  ${category}: ${t.accepted + t.refused} tokens, ${t.accepted} accepted, ${t.refused} refused [${reasons}]${mismatches ? ` reason differences: ${mismatches}` : ""}`;
  });
  console.log(`jwt differential outcomes:\n${lines.join("\n")}`);
});

// ----------------------------------------------------------------------------------------- comparison

function describeOutcome(o: Outcome): string {
  return o.ok
    ? "accepted"
    : `refused (${o.reason}: ${o.error instanceof Error ? o.error.message : String(o.error)})`;
}

async function compare(category: string, jwt: string, options: VerifyJwtOptions): Promise<Outcome> {
  const fast = outcomeOf(() => verifyJwt(jwt, options));
  const ref = await asyncOutcomeOf(() => verifyJwtWithJose(jwt, options));
  if (fast.ok !== ref.ok) {
    throw new Error(
      `verdicts differ for ${JSON.stringify(jwt)}\n  options: ${JSON.stringify({ ...options, keys: undefined, now: options.now?.() })}\n  verifyJwt: ${describeOutcome(fast)}\n  verifyJwtWithJose: ${describeOutcome(ref)}`,
    );
  }
  const t = tally(category);
  if (fast.ok && ref.ok) {
    // node:util's deep equality compares prototypes; vitest's toStrictEqual would also compare an own
    // "constructor" member, which a JSON payload may legitimately carry.
    if (
      !isDeepStrictEqual(fast.result.payload, ref.result.payload) ||
      !isDeepStrictEqual({ ...fast.result.header }, { ...ref.result.header })
    ) {
      throw new Error(
        `accepted with different results for ${JSON.stringify(jwt)}: ${inspect(fast.result)} vs ${inspect(ref.result)}`,
      );
    }
    t.accepted++;
  } else if (!fast.ok && !ref.ok) {
    expect(fast.reason, describeOutcome(fast)).not.toBe("not_a_token_error");
    expect(ref.reason, describeOutcome(ref)).not.toBe("not_a_token_error");
    t.refused++;
    bump(t.reasons, fast.reason);
    if (fast.reason !== ref.reason) bump(t.reasonMismatches, `${fast.reason}/${ref.reason}`);
  }
  return fast;
}

// ----------------------------------------------------------------------------------------- generators

const algArb = fc.constantFrom(...ALGORITHMS);

/** A NumericDate around now, with weight on the ±tolerance boundaries. */
const timeArb: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.integer({ min: -3, max: 3 }).map((d) => NOW + d), weight: 3 },
  {
    arbitrary: fc.constantFrom(-61, -60, -59, -31, -30, -29, 29, 30, 31, 59, 60, 61).map((d) => NOW + d),
    weight: 3,
  },
  { arbitrary: fc.integer({ min: -100_000, max: 100_000 }).map((d) => NOW + d), weight: 2 },
  { arbitrary: fc.constantFrom(0, -1, 2 ** 31, Number.MAX_SAFE_INTEGER, NOW + 0.5, NOW - 0.5), weight: 1 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 1 },
);

const expArb = fc.oneof(
  { arbitrary: timeArb, weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: 100_000 }).map((d) => NOW + d), weight: 3 },
);
const pastArb = fc.oneof(
  { arbitrary: timeArb, weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: 100_000 }).map((d) => NOW - d), weight: 3 },
);

const stringishArb = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 6 }));
const issuerArb = fc.oneof(
  { arbitrary: fc.constantFrom(...ISSUERS), weight: 4 },
  { arbitrary: stringishArb, weight: 1 },
);
const audArb = fc.oneof(
  { arbitrary: fc.constantFrom(...AUDIENCES), weight: 4 },
  { arbitrary: stringishArb, weight: 1 },
);
const oddValueArb = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.constant([]), fc.constant({}));

const claimsArb = fc
  .record(
    {
      iss: fc.oneof({ arbitrary: issuerArb, weight: 6 }, { arbitrary: oddValueArb, weight: 1 }),
      aud: fc.oneof(
        { arbitrary: audArb, weight: 4 },
        { arbitrary: fc.array(audArb, { maxLength: 3 }), weight: 3 },
        { arbitrary: oddValueArb, weight: 1 },
      ),
      sub: fc.string({ maxLength: 10 }),
      jti: fc.string({ maxLength: 10 }),
      exp: fc.oneof({ arbitrary: expArb, weight: 15 }, { arbitrary: oddValueArb, weight: 1 }),
      nbf: fc.oneof({ arbitrary: pastArb, weight: 15 }, { arbitrary: oddValueArb, weight: 1 }),
      iat: fc.oneof({ arbitrary: pastArb, weight: 15 }, { arbitrary: oddValueArb, weight: 1 }),
      extra: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    },
    { requiredKeys: ["exp"] },
  )
  .map(({ extra, ...claims }) => ({ ...extra, ...claims }) as Record<string, unknown>);

interface OptionsInput {
  typ: string | undefined;
  issuer: string | string[] | undefined;
  audience: string | string[] | undefined;
  clockTolerance: number | undefined;
  algorithms: JwsAlgorithm[] | undefined;
  ms: number;
}

const optionsArb: fc.Arbitrary<OptionsInput> = fc.record({
  typ: fc.option(fc.constantFrom(...TYPS), { nil: undefined, freq: 2 }),
  issuer: fc.option(fc.oneof(issuerArb, fc.array(issuerArb, { maxLength: 3 })), { nil: undefined, freq: 2 }),
  audience: fc.option(fc.oneof(audArb, fc.array(audArb, { maxLength: 3 })), { nil: undefined, freq: 2 }),
  clockTolerance: fc.option(
    fc.oneof(fc.constantFrom(0, 1, 30, 59, 60), fc.double({ min: 0, max: 60, noNaN: true })),
    {
      nil: undefined,
      freq: 2,
    },
  ),
  algorithms: fc.option(fc.subarray([...ALGORITHMS], { minLength: 1 }), { nil: undefined, freq: 3 }),
  ms: fc.integer({ min: 0, max: 999 }),
});

function toOptions(o: OptionsInput): VerifyJwtOptions {
  const options: VerifyJwtOptions = { keys: keys.resolver, now: () => NOW_MS + o.ms };
  if (o.typ !== undefined) options.typ = o.typ;
  if (o.issuer !== undefined) options.issuer = o.issuer;
  if (o.audience !== undefined) options.audience = o.audience;
  if (o.clockTolerance !== undefined) options.clockTolerance = o.clockTolerance;
  if (o.algorithms !== undefined) options.algorithms = o.algorithms;
  return options;
}

interface ValidSpec {
  alg: JwsAlgorithm;
  typ: string | undefined;
  claims: Record<string, unknown>;
  viaSignJwt: boolean;
}

const validSpecArb: fc.Arbitrary<ValidSpec> = fc.record({
  alg: algArb,
  typ: fc.option(fc.constantFrom(...TYPS), { nil: undefined, freq: 2 }),
  claims: claimsArb,
  viaSignJwt: fc.boolean(),
});

/** Options that mostly match the token's own header and claims (so valid tokens are often accepted). */
function optionsFor(spec: ValidSpec): fc.Arbitrary<OptionsInput> {
  const { claims } = spec;
  const choose = <T>(matching: T[], random: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
    fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 3 },
      ...(matching.length > 0 ? [{ arbitrary: fc.constantFrom(...matching), weight: 4 }] : []),
      { arbitrary: random, weight: 1 },
    );
  const typs =
    spec.typ === undefined
      ? []
      : [
          spec.typ,
          spec.typ.toUpperCase(),
          spec.typ.includes("/") ? spec.typ.split("/")[1]! : `application/${spec.typ}`,
        ];
  const issuers: (string | string[])[] =
    typeof claims.iss === "string" ? [claims.iss, ["https://x.example", claims.iss]] : [];
  const aud = claims.aud;
  const audiences: (string | string[])[] =
    typeof aud === "string"
      ? [aud, [aud, "zzz"]]
      : Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === "string")
        ? [aud[0] as string, ["zzz", aud[aud.length - 1] as string]]
        : [];
  return fc.record({
    typ: choose(typs, fc.constantFrom(...TYPS)),
    issuer: choose(issuers, fc.oneof(issuerArb, fc.array(issuerArb, { maxLength: 3 }))),
    audience: choose(audiences, fc.oneof(audArb, fc.array(audArb, { maxLength: 3 }))),
    clockTolerance: fc.option(
      fc.oneof(fc.constantFrom(0, 1, 30, 59, 60), fc.double({ min: 0, max: 60, noNaN: true })),
      {
        nil: undefined,
        freq: 2,
      },
    ),
    algorithms: choose<JwsAlgorithm[]>([[spec.alg]], fc.subarray([...ALGORITHMS], { minLength: 1 })),
    ms: fc.integer({ min: 0, max: 999 }),
  });
}

const validWithOptionsArb = validSpecArb.chain((spec) => fc.tuple(fc.constant(spec), optionsFor(spec)));

function buildValid(spec: ValidSpec): string {
  const key = keys[spec.alg];
  const exp = spec.claims.exp;
  const finiteTimes = ["exp", "nbf", "iat"].every((n) => {
    const v = spec.claims[n];
    return v === undefined || (typeof v === "number" && Number.isFinite(v));
  });
  if (spec.viaSignJwt && typeof exp === "number" && finiteTimes) {
    return signJwt(spec.claims, spec.typ === undefined ? { key } : { key, typ: spec.typ });
  }
  const header =
    spec.typ === undefined ? { alg: spec.alg, kid: key.kid } : { alg: spec.alg, kid: key.kid, typ: spec.typ };
  return signRaw(key, JSON.stringify(header), JSON.stringify(spec.claims));
}

// Mutations.
const mutationCharArb = fc.oneof(
  { arbitrary: fc.constantFrom(...B64URL), weight: 8 },
  { arbitrary: fc.constantFrom(".", "=", "+", "/", " ", "\n", "%", "é", "\u0000"), weight: 1 },
);

type Mutation =
  | { kind: "flip" | "insert"; segment: number; at: number; char: string }
  | { kind: "delete"; segment: number; at: number }
  | { kind: "bitflip"; segment: number; at: number; bit: number }
  | { kind: "swap"; segment: number; other: ValidSpec }
  | { kind: "reorder"; order: [number, number, number] }
  /** Re-encode a segment non-canonically: change the unused low bits of its last character. */
  | { kind: "trailingBits"; segment: number; bits: number };

const positionArb = fc.nat({ max: 10_000 });
const segmentArb = fc.integer({ min: 0, max: 2 });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("trailingBits" as const),
      segment: segmentArb,
      bits: fc.integer({ min: 1, max: 15 }),
    }),
    weight: 4,
  },
  fc.record({
    kind: fc.constant("flip" as const),
    segment: segmentArb,
    at: positionArb,
    char: mutationCharArb,
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    segment: segmentArb,
    at: positionArb,
    char: mutationCharArb,
  }),
  fc.record({ kind: fc.constant("delete" as const), segment: segmentArb, at: positionArb }),
  fc.record({
    kind: fc.constant("bitflip" as const),
    segment: segmentArb,
    at: positionArb,
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant("swap" as const), segment: segmentArb, other: validSpecArb }),

  fc.record({
    kind: fc.constant("reorder" as const),
    order: fc.constantFrom<[number, number, number]>([1, 0, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0]),
  }),
);

function mutate(jwt: string, m: Mutation): string {
  const segments = jwt.split(".");
  if (m.kind === "reorder") return m.order.map((i) => segments[i] ?? "").join(".");
  const seg = segments[m.segment] ?? "";
  if (m.kind === "trailingBits") {
    // A segment of length 4n+2 leaves 4 unused bits in its last character, 4n+3 leaves 2.
    const unused = seg.length % 4 === 2 ? 4 : seg.length % 4 === 3 ? 2 : 0;
    const last = B64URL.indexOf(seg.at(-1) ?? "");
    if (unused === 0 || last < 0) return jwt;
    const changed = last ^ (m.bits & ((1 << unused) - 1));
    segments[m.segment] = seg.slice(0, -1) + B64URL[changed];
    return segments.join(".");
  }
  if (m.kind === "swap") {
    segments[m.segment] = buildValid(m.other).split(".")[m.segment] ?? "";
    return segments.join(".");
  }
  const at = seg.length === 0 ? 0 : m.at % (seg.length + (m.kind === "insert" ? 1 : 0));
  switch (m.kind) {
    case "flip":
      segments[m.segment] = seg.slice(0, at) + m.char + seg.slice(at + 1);
      break;
    case "insert":
      segments[m.segment] = seg.slice(0, at) + m.char + seg.slice(at);
      break;
    case "delete":
      segments[m.segment] = seg.slice(0, at) + seg.slice(at + 1);
      break;
    case "bitflip": {
      const bytes = Buffer.from(seg, "base64url");
      if (bytes.length > 0) bytes[m.at % bytes.length]! ^= 1 << m.bit;
      segments[m.segment] = bytes.toString("base64url");
      break;
    }
  }
  return segments.join(".");
}

// Arbitrary header / payload bytes, re-signed with a real key.
type Member = [string, string]; // name and raw JSON text of the value

function objectText(members: Member[]): string {
  return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
}

const jsonTextArb = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v));
const numberTextArb = (base: number) =>
  fc.constantFrom(
    `${base}`,
    `${base}.0`,
    `${base}e0`,
    `${base / 10}e1`,
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "0",
    `"${base}"`,
    "null",
    "true",
    "[]",
    "{}",
    `${base + 60}`,
    `${base - 60}`,
  );

/** Byte-level accidents applied after the JSON text is produced. */
type Twist = "none" | "bom" | "whitespace" | { at: number; bytes: readonly number[] };
const byteTwistArb: fc.Arbitrary<Twist> = fc.oneof(
  { arbitrary: fc.constant("none" as const), weight: 12 },
  { arbitrary: fc.constant("bom" as const), weight: 1 },
  { arbitrary: fc.constant("whitespace" as const), weight: 1 },
  {
    arbitrary: fc.record({
      at: positionArb,
      bytes: fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xc3, 0xa9]),
    }),
    weight: 2,
  },
);

function applyTwist(text: string, twist: Twist): Buffer {
  if (twist === "none") return Buffer.from(text, "utf8");
  if (twist === "bom") return Buffer.from(`\uFEFF${text}`, "utf8");
  if (twist === "whitespace") return Buffer.from(` \r\n\t${text}\n `, "utf8");
  const bytes = Buffer.from(text, "utf8");
  const at = twist.at % (bytes.length + 1);
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(twist.bytes), bytes.subarray(at)]);
}

interface Resigned {
  signer: JwsAlgorithm;
  header: Buffer;
  payload: Buffer;
}

const resignedArb: fc.Arbitrary<Resigned> = algArb.chain((signer) => {
  const headerAlgArb = fc.oneof(
    { arbitrary: fc.constant(JSON.stringify(signer)), weight: 8 },
    {
      arbitrary: fc.constantFrom(
        '"EdDSA"',
        '"ES256"',
        '"RS256"',
        '"none"',
        '"HS256"',
        '"eddsa"',
        "null",
        "1",
      ),
      weight: 1,
    },
  );
  const headerKidArb = fc.oneof(
    { arbitrary: fc.constant(JSON.stringify(keys[signer].kid)), weight: 8 },
    { arbitrary: fc.constantFrom(...ALGORITHMS).map((a) => JSON.stringify(keys[a].kid)), weight: 1 },
    { arbitrary: fc.constantFrom('""', '"x"', "null", "[]"), weight: 1 },
  );
  const extraHeaderArb = fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          "alg",
          "kid",
          "typ",
          "jwk",
          "jku",
          "x5u",
          "x5c",
          "crit",
          "b64",
          "cty",
          "__proto__",
          "Alg",
          "kid ",
        ),
        fc.string({ maxLength: 4 }),
      ),
      fc.oneof(
        jsonTextArb,
        headerAlgArb,
        headerKidArb,
        fc.constantFrom(...TYPS).map((t) => JSON.stringify(t)),
      ),
    ),
    { maxLength: 2 },
  );
  const headerTextArb = fc
    .record({
      alg: headerAlgArb,
      kid: headerKidArb,
      typ: fc.option(
        fc.oneof(
          fc.constantFrom(...TYPS).map((t) => JSON.stringify(t)),
          jsonTextArb,
        ),
        { nil: undefined, freq: 2 },
      ),
      extra: fc.oneof(
        { arbitrary: fc.constant([] as Member[]), weight: 4 },
        { arbitrary: extraHeaderArb, weight: 1 },
      ),
      order: fc.boolean(),
    })
    .map(({ alg, kid, typ, extra, order }) => {
      const members: Member[] = [
        ["alg", alg],
        ["kid", kid],
      ];
      if (typ !== undefined) members.push(["typ", typ]);
      if (order) members.reverse();
      return objectText([...members, ...extra]);
    });
  const headerArb = fc.oneof(
    { arbitrary: fc.tuple(headerTextArb, byteTwistArb).map(([t, tw]) => applyTwist(t, tw)), weight: 10 },
    { arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), weight: 1 },
  );

  const claimNameArb = fc.oneof(
    {
      arbitrary: fc.constantFrom(
        "exp",
        "nbf",
        "iat",
        "iss",
        "aud",
        "sub",
        "__proto__",
        "constructor",
        "toString",
      ),
      weight: 3,
    },
    { arbitrary: fc.string({ unit: "grapheme", maxLength: 5 }), weight: 1 },
  );
  const claimValueArb = fc.oneof(
    numberTextArb(NOW),
    fc.constantFrom(...ISSUERS, ...AUDIENCES).map((s) => JSON.stringify(s)),
    fc.array(fc.constantFrom(...AUDIENCES), { maxLength: 2 }).map((a) => JSON.stringify(a)),
    jsonTextArb,
    fc.string({ unit: "binary", maxLength: 6 }).map((s) => JSON.stringify(s)),
  );
  const payloadObjectArb = fc
    .record({
      exp: fc.option(
        fc.oneof(
          {
            arbitrary: fc.constantFrom(
              `${NOW + 30}`,
              `${NOW + 30}.0`,
              `${NOW + 30}e0`,
              `${(NOW + 30) / 10}e1`,
              "1e400",
            ),
            weight: 2,
          },
          { arbitrary: numberTextArb(NOW + 30), weight: 1 },
        ),
        { nil: undefined, freq: 8 },
      ),
      members: fc.array(fc.tuple(claimNameArb, claimValueArb), { maxLength: 3 }),
    })
    .map(({ exp, members }) => objectText(exp === undefined ? members : [["exp", exp], ...members]));
  const payloadTextArb = fc.oneof(
    { arbitrary: payloadObjectArb, weight: 10 },
    { arbitrary: jsonTextArb, weight: 1 },
    {
      arbitrary: fc.constantFrom(
        `[{"exp":${NOW + 60}}]`,
        `${NOW + 60}`,
        '"x"',
        "null",
        "",
        "{",
        "{}{}",
        `{"exp":${NOW + 60},}`,
      ),
      weight: 1,
    },
  );
  const payloadArb = fc.oneof(
    { arbitrary: fc.tuple(payloadTextArb, byteTwistArb).map(([t, tw]) => applyTwist(t, tw)), weight: 10 },
    { arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), weight: 1 },
  );
  return fc.record({ signer: fc.constant(signer), header: headerArb, payload: payloadArb });
});

// Hostile strings.
const b64SegmentArb = fc.string({ unit: fc.constantFrom(...B64URL), maxLength: 120 });
const hostileArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(...B64URL, "."), maxLength: 200 }),
  fc.array(b64SegmentArb, { minLength: 1, maxLength: 5 }).map((s) => s.join(".")),
  fc.tuple(b64SegmentArb, b64SegmentArb, b64SegmentArb).map((s) => s.join(".")),
  // A real header (so key resolution is reached) with random payload and signature segments.
  fc
    .tuple(algArb, b64SegmentArb, b64SegmentArb)
    .map(([alg, p, s]) => `${b64u(JSON.stringify({ alg, kid: keys[alg].kid }))}.${p}.${s}`),
  // A real header and JSON payload with a random signature of a plausible length.
  fc
    .tuple(algArb, fc.uint8Array({ minLength: 60, maxLength: 260 }))
    .map(
      ([alg, sig]) =>
        `${b64u(JSON.stringify({ alg, kid: keys[alg].kid }))}.${b64u(JSON.stringify({ exp: NOW + 60 }))}.${b64u(sig)}`,
    ),
  fc.constantFrom(
    "",
    ".",
    "..",
    "...",
    "a.b.c",
    "x".repeat(MAX_JWT_LENGTH + 1),
    `${"A".repeat(MAX_JWT_LENGTH)}.B.C`,
  ),
);

// ----------------------------------------------------------------------------------------------- tests

const RUNS = { valid: 1500, satisfied: 500, mutated: 1500, resigned: 2000, hostile: 1000 };

function expectBothVerdicts(category: string, minAccepted: number, minRefused: number): void {
  const t = tally(category);
  expect(t.accepted, `${category} accepted`).toBeGreaterThanOrEqual(minAccepted);
  expect(t.refused, `${category} refused`).toBeGreaterThanOrEqual(minRefused);
}

describe("verifyJwt and verifyJwtWithJose agree", () => {
  it("on valid tokens with random claims, typ and options", async () => {
    await fc.assert(
      fc.asyncProperty(validWithOptionsArb, async ([spec, o]) => {
        await compare("valid", buildValid(spec), toOptions(o));
      }),
      { numRuns: RUNS.valid },
    );
    expectBothVerdicts("valid", RUNS.valid * 0.1, RUNS.valid * 0.1);
  });

  it("on valid tokens whose options are derived from their claims: both accept, with the signed claims", async () => {
    const satisfiedArb = fc.record({
      alg: algArb,
      typ: fc.constantFrom(...TYPS),
      iss: issuerArb,
      aud: fc.oneof(audArb, fc.array(audArb, { minLength: 1, maxLength: 3 })),
      tolerance: fc.integer({ min: 0, max: 60 }),
      expAhead: fc.integer({ min: 1, max: 10_000 }),
      nbfAhead: fc.integer({ min: -10_000, max: 0 }),
      ms: fc.integer({ min: 0, max: 999 }),
      extra: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(satisfiedArb, async (s) => {
        // Within the tolerance on both sides: exp may be up to `tolerance` seconds in the past, nbf ahead.
        const claims = {
          ...s.extra,
          iss: s.iss,
          aud: s.aud,
          exp: NOW - s.tolerance + s.expAhead,
          nbf: NOW + s.tolerance + s.nbfAhead,
        };
        const jwt = signRaw(
          keys[s.alg],
          JSON.stringify({ alg: s.alg, kid: keys[s.alg].kid, typ: s.typ }),
          JSON.stringify(claims),
        );
        const audience = Array.isArray(s.aud) ? s.aud[s.aud.length - 1]! : s.aud;
        const options: VerifyJwtOptions = {
          keys: keys.resolver,
          now: () => NOW_MS + s.ms,
          typ: s.typ.toUpperCase(),
          issuer: [s.iss, "https://unrelated.example"],
          audience,
          clockTolerance: s.tolerance,
        };
        const outcome = await compare("satisfied", jwt, options);
        expect(outcome.ok).toBe(true);
        if (outcome.ok) expect(outcome.result.payload).toStrictEqual(JSON.parse(JSON.stringify(claims)));
      }),
      { numRuns: RUNS.satisfied },
    );
    expectBothVerdicts("satisfied", RUNS.satisfied, 0);
  });

  it("on mutated tokens (characters, bits, swapped and reordered segments)", async () => {
    await fc.assert(
      fc.asyncProperty(
        validWithOptionsArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        async ([spec, o], mutations) => {
          const jwt = mutations.reduce(mutate, buildValid(spec));
          await compare("mutated", jwt, toOptions(o));
        },
      ),
      { numRuns: RUNS.mutated },
    );
    expectBothVerdicts("mutated", 10, RUNS.mutated * 0.5);
  });

  it("on arbitrary header and payload bytes re-signed with the real keys", async () => {
    await fc.assert(
      fc.asyncProperty(resignedArb, optionsArb, async (r, o) => {
        const jwt = signRaw(keys[r.signer], r.header, r.payload);
        // Keep options loose two times in three so payload-level differences are reached, not masked by iss/aud.
        const loose = o.ms % 3 !== 0;
        await compare(
          "resigned",
          jwt,
          toOptions(loose ? { ...o, typ: undefined, issuer: undefined, audience: undefined } : o),
        );
      }),
      { numRuns: RUNS.resigned },
    );
    expectBothVerdicts("resigned", RUNS.resigned * 0.03, RUNS.resigned * 0.3);
  });

  it("on hostile strings (random text, random base64url segments, real headers with random bodies)", async () => {
    await fc.assert(
      fc.asyncProperty(hostileArb, optionsArb, async (jwt, o) => {
        const outcome = await compare("hostile", jwt, toOptions(o));
        expect(outcome.ok).toBe(false);
      }),
      { numRuns: RUNS.hostile },
    );
    expectBothVerdicts("hostile", 0, RUNS.hostile);
  });

  it("over all categories: at least 3000 tokens, with both verdicts well represented", () => {
    let accepted = 0;
    let refused = 0;
    for (const t of tallies.values()) {
      accepted += t.accepted;
      refused += t.refused;
    }
    expect(accepted + refused).toBeGreaterThanOrEqual(3000);
    expect(accepted).toBeGreaterThanOrEqual(500);
    expect(refused).toBeGreaterThanOrEqual(1500);
  });
});
