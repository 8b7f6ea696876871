/**
 * passwords/policy.ts and passwords/blocklist.ts: NIST SP 800-63B rules (NFKC, length in code points,
 * control characters, context words) against the real shipped blocklist, and the asset-path resolver on a
 * temporary copy of the source and compiled layouts.
 */
import { randomBytes, randomInt } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BLOCKLIST_ASSET,
  blocklistKey,
  blocklistSize,
  findPackageRoot,
  isBlocklisted,
  readBlocklist,
  resolveBlocklistPath,
} from "../../src/accounts/passwords/blocklist.js";
import {
  checkPassword,
  DEFAULT_PASSWORD_POLICY,
  normalizePassword,
  type PasswordCheck,
  type PasswordPolicy,
} from "../../src/accounts/passwords/policy.js";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY;

const withSecondFactor = (password: string, context?: string[]) =>
  checkPassword(password, { policy, hasSecondFactor: true, context });
const singleFactor = (password: string, context?: string[]) =>
  checkPassword(password, { policy, hasSecondFactor: false, context });

const reason = (check: PasswordCheck) => (check.ok ? "ok" : check.reason);

/** Random printable ASCII (letters, digits, punctuation, space), `length` characters. */
function randomPassword(length: number): string {
  const alphabet =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&()*+,-./:;<=>?@[]^_{|}~";
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

describe("shipped blocklist", () => {
  it("holds at least 100,000 distinct entries", () => {
    expect(blocklistSize()).toBeGreaterThanOrEqual(100_000);
  });

  it("is stored as the generator documents: non-empty keys, de-duplicated, sorted by code point", () => {
    const lines = gunzipSync(readFileSync(join(REPO_ROOT, BLOCKLIST_ASSET)))
      .toString("utf8")
      .split("\n");
    expect(lines.pop()).toBe(""); // trailing LF
    expect(lines.length).toBe(blocklistSize());
    expect(new Set(lines).size).toBe(lines.length);
    const misplaced = lines.filter(
      (line, i) => i > 0 && Buffer.compare(Buffer.from(lines[i - 1]!), Buffer.from(line)) !== -1,
    );
    expect(misplaced).toEqual([]);
    expect(lines.filter((line) => line === "" || blocklistKey(line) !== line)).toEqual([]);
  });

  it("knows well-known common passwords", () => {
    for (const password of ["password", "123456", "qwerty", "iloveyou", "password1", "letmein", "trustno1"]) {
      expect(isBlocklisted(password), password).toBe(true);
    }
  });

  it("compares case-insensitively and after NFKC", () => {
    expect(isBlocklisted("Password1")).toBe(true);
    expect(isBlocklisted("PASSWORD")).toBe(true);
    expect(isBlocklisted("ｐａｓｓｗｏｒｄ")).toBe(true); // full-width letters
    expect(isBlocklisted("①②③④⑤⑥")).toBe(true); // circled digits → 123456
    expect(isBlocklisted("ﬁsh1234")).toBe(true); // ﬁ ligature → fish1234
  });

  it("does not flag random strings", () => {
    for (let i = 0; i < 100; i++) expect(isBlocklisted(randomBytes(15).toString("base64url"))).toBe(false);
  });
});

describe("normalizePassword", () => {
  it("returns the NFKC form", () => {
    expect(normalizePassword("ｐａｓｓｗｏｒｄ")).toBe("password");
    expect(normalizePassword("ﬁ")).toBe("fi");
    expect(normalizePassword("e\u0301")).toBe("\u00e9"); // e + combining acute → é
    expect(normalizePassword("\u00e9")).toBe("\u00e9");
    expect(normalizePassword("Ⅻ")).toBe("XII");
  });

  it("keeps case (only the blocklist comparison lower-cases)", () => {
    expect(normalizePassword("CorrectHorse")).toBe("CorrectHorse");
  });
});

describe("checkPassword", () => {
  it("accepts random 20-character passwords and returns the normalised form", () => {
    for (let i = 0; i < 50; i++) {
      const password = randomPassword(20);
      expect(singleFactor(password)).toEqual({ ok: true, normalized: password });
      expect(withSecondFactor(password)).toEqual({ ok: true, normalized: password });
    }
  });

  it("returns the NFKC form as `normalized`", () => {
    expect(singleFactor("ｔｒｅｍｂｌｉｎｇ ｏｃｅａｎ ｍｏｔｈｓ")).toEqual({
      ok: true,
      normalized: "trembling ocean moths",
    });
  });

  it("refuses well-known common passwords with a friendly message", () => {
    for (const password of ["password", "iloveyou", "Password1", "PASSWORD1", "ｐａｓｓｗｏｒｄ"]) {
      const check = withSecondFactor(password);
      expect(check, password).toEqual({
        ok: false,
        reason: "blocklisted",
        message: "This password is too common: it appears in lists of breached passwords. Choose another.",
      });
    }
    // Long list entries are refused even where 15 characters are required.
    for (const password of ["passwordpassword", "qwertyuiopasdfgh", "endangeredspecies"]) {
      expect(reason(singleFactor(password)), password).toBe("blocklisted");
    }
  });

  it("checks the blocklist whatever the configured minimum", () => {
    const short: PasswordPolicy = { minLength: 6, minLengthWithoutSecondFactor: 6, maxLength: 64 };
    for (const password of ["123456", "qwerty", "①②③④⑤⑥"]) {
      expect(reason(checkPassword(password, { policy: short, hasSecondFactor: true })), password).toBe(
        "blocklisted",
      );
    }
  });

  it("refuses a ligature spelling of a listed password", () => {
    // "ﬁsh1234" is 7 code points as typed and "fish1234" (8, on the list) after NFKC.
    expect(reason(withSecondFactor("ﬁsh1234"))).toBe("blocklisted");
  });

  describe("length", () => {
    it("requires 8 code points with a second factor and 15 without", () => {
      const eight = "kq7#vz2m";
      expect(withSecondFactor(eight)).toEqual({ ok: true, normalized: eight });
      expect(withSecondFactor(eight.slice(0, 7))).toEqual({
        ok: false,
        reason: "too_short",
        message: "Use at least 8 characters.",
      });
      const fifteen = "kq7#vz2m pw9!xr";
      expect(singleFactor(fifteen)).toEqual({ ok: true, normalized: fifteen });
      expect(singleFactor(fifteen.slice(0, 14))).toEqual({
        ok: false,
        reason: "too_short",
        message: "Use at least 15 characters.",
      });
    });

    it("never asks less of single-factor accounts than of accounts with a second factor", () => {
      const odd: PasswordPolicy = { minLength: 12, minLengthWithoutSecondFactor: 10, maxLength: 64 };
      expect(reason(checkPassword("kq7#vz2mpw9", { policy: odd, hasSecondFactor: false }))).toBe("too_short");
      expect(reason(checkPassword("kq7#vz2mpw9!", { policy: odd, hasSecondFactor: false }))).toBe("ok");
    });

    it("counts code points, not UTF-16 units", () => {
      const emoji = "🦊🌵🎻🛶🧊🪁🦉🍄"; // 8 code points, 16 UTF-16 units
      expect(emoji.length).toBe(16);
      expect(withSecondFactor(emoji)).toEqual({ ok: true, normalized: emoji });
      expect(reason(withSecondFactor(emoji.slice(0, 14)))).toBe("too_short"); // 7 emoji, 14 units
      expect(reason(singleFactor(emoji.repeat(2).slice(0, 28)))).toBe("too_short"); // 14 emoji, 28 units
      expect(reason(singleFactor(emoji.repeat(2).slice(0, 30)))).toBe("ok"); // 15 emoji
    });

    it("counts after normalisation", () => {
      // ﬁ is one code point that NFKC turns into two: 7 raw, 8 normalised.
      expect(withSecondFactor("ﬁ#vz2mq")).toEqual({ ok: true, normalized: "fi#vz2mq" });
      // e + combining acute is two code points that NFKC composes into one: 8 raw, 7 normalised.
      expect(reason(withSecondFactor("kq7#vze\u0301"))).toBe("too_short");
    });

    it("accepts 64 characters and exactly maxLength, refuses maxLength + 1", () => {
      expect(reason(singleFactor(randomPassword(64)))).toBe("ok");
      const max = randomPassword(policy.maxLength);
      expect(singleFactor(max)).toEqual({ ok: true, normalized: max });
      expect(singleFactor(`${max}x`)).toEqual({
        ok: false,
        reason: "too_long",
        message: "Use at most 128 characters.",
      });
      const emoji = "🦊".repeat(policy.maxLength); // 128 code points, 256 UTF-16 units
      expect(reason(singleFactor(emoji))).toBe("ok");
      expect(reason(singleFactor(`${emoji}🦊`))).toBe("too_long");
    });

    it("judges the upper bound on the normalised length", () => {
      // Three conjoining jamo compose into one Hangul syllable: 384 raw code points, 128 normalised.
      const syllable = "\u1100\u1161\u11a8"; // 각
      expect(reason(singleFactor(syllable.repeat(128)))).toBe("ok");
      expect(reason(singleFactor(syllable.repeat(129)))).toBe("too_long");
      // U+FDFA expands to 18 code points: 8 of them are 144 after NFKC.
      expect(reason(singleFactor("\ufdfa".repeat(8)))).toBe("too_long");
    });

    it("refuses huge input as too long", () => {
      expect(reason(singleFactor("x".repeat(1_000_000)))).toBe("too_long");
      expect(reason(singleFactor("x".repeat(8 * policy.maxLength + 1)))).toBe("too_long");
    });
  });

  describe("characters", () => {
    it("allows spaces, punctuation, accents, emoji sequences and non-Latin scripts", () => {
      for (const password of [
        "correct horse battery staple",
        "  leading and trailing  ",
        "Ça ne se compare à rien, vraiment",
        "Пароль на русском языке 42",
        "👩\u200d👩\u200d👧 family of three 🏳️\u200d🌈",
        "日本語のパスワードはとても長い",
      ]) {
        expect(singleFactor(password), password).toEqual({
          ok: true,
          normalized: normalizePassword(password),
        });
      }
    });

    it("refuses control characters", () => {
      for (const control of ["\t", "\n", "\r", "\u0000", "\u001b", "\u007f", "\u0085", "\u009f"]) {
        const check = singleFactor(`trembling${control}ocean moths`);
        expect(check, JSON.stringify(control)).toEqual({
          ok: false,
          reason: "invalid_characters",
          message: "Passwords can't contain control characters such as tabs or line breaks. Spaces are fine.",
        });
      }
    });

    it("refuses lone surrogates", () => {
      expect(reason(singleFactor("trembling ocean \ud83e moths"))).toBe("invalid_characters");
      expect(reason(singleFactor("trembling ocean \udd8a moths"))).toBe("invalid_characters");
    });
  });

  describe("context words", () => {
    const context = ["alice.liddell", "aliceL", "bob"];

    it("refuses a password equal to or containing a context word, case-insensitively", () => {
      for (const password of [
        "alice.liddell2024!",
        "my ALICE.LIDDELL password",
        "ａｌｉｃｅ．ｌｉｄｄｅｌｌ is me", // full-width, equal after NFKC
        "AliceL-rabbit-hole-tea",
        "the aliceltown marmalade",
      ]) {
        expect(singleFactor(password, context), password).toEqual({
          ok: false,
          reason: "contains_context",
          message: "Don't use your user name or e-mail address in your password. Choose another.",
        });
      }
      expect(reason(singleFactor("alice.liddell@ex", ["alice.liddell@ex"]))).toBe("contains_context");
    });

    it("also refuses the word with its punctuation removed", () => {
      expect(reason(singleFactor("AliceLiddell rabbit hole", context))).toBe("contains_context");
      expect(reason(singleFactor("j0hn smith-rabbit!", ["john.smith"]))).toBe("ok");
      expect(reason(singleFactor("JohnSmith-rabbit!", ["john.smith"]))).toBe("contains_context");
    });

    it("ignores context words shorter than 4 characters", () => {
      expect(reason(singleFactor("bob the gardener likes tea", context))).toBe("ok");
      expect(reason(singleFactor("bob the gardener likes tea", ["gard"]))).toBe("contains_context");
      expect(reason(singleFactor("bob the gardener likes tea", ["", "  ", "b.o"]))).toBe("ok");
    });

    it("accepts passwords that share only part of a context word", () => {
      expect(reason(singleFactor("alice in wonderland tea party", context))).toBe("ok");
    });
  });
});

describe("asset resolution", () => {
  let root: string;
  const sample = ["hunter2", "letmein", "password"];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "tessera-blocklist-"));
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: "tessera", version: "0.0.0" }));
    mkdirSync(join(root, "assets"));
    writeFileSync(join(root, BLOCKLIST_ASSET), gzipSync(`${sample.join("\n")}\n`));
    // Compiled layout, with a package.json of another name on the way up (passed over).
    mkdirSync(join(root, "dist", "src", "accounts", "passwords"), { recursive: true });
    writeFileSync(join(root, "dist", "package.json"), JSON.stringify({ name: "not-tessera" }));
    writeFileSync(join(root, "dist", "src", "package.json"), "{ not json");
    // Source layout.
    mkdirSync(join(root, "src", "accounts", "passwords"), { recursive: true });
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("finds the asset from the compiled module's location", () => {
    const moduleUrl = pathToFileURL(join(root, "dist", "src", "accounts", "passwords", "blocklist.js"));
    const file = resolveBlocklistPath(moduleUrl);
    expect(file).toBe(join(root, "assets", "password-blocklist.txt.gz"));
    const entries = readBlocklist(file);
    expect(entries.size).toBe(sample.length);
    for (const key of sample) expect(entries.has(key), key).toBe(true);
    expect(entries.has("hunter3")).toBe(false);
  });

  it("finds the asset from the TypeScript source's location", () => {
    const moduleUrl = pathToFileURL(join(root, "src", "accounts", "passwords", "blocklist.ts")).href;
    expect(resolveBlocklistPath(moduleUrl)).toBe(join(root, "assets", "password-blocklist.txt.gz"));
  });

  it("loads the real list copied into the compiled layout", () => {
    const real = mkdtempSync(join(tmpdir(), "tessera-blocklist-real-"));
    try {
      writeFileSync(join(real, "package.json"), JSON.stringify({ name: "tessera" }));
      mkdirSync(join(real, "assets"));
      copyFileSync(join(REPO_ROOT, BLOCKLIST_ASSET), join(real, BLOCKLIST_ASSET));
      const dir = join(real, "dist", "src", "accounts", "passwords");
      mkdirSync(dir, { recursive: true });
      const entries = readBlocklist(resolveBlocklistPath(pathToFileURL(join(dir, "blocklist.js"))));
      expect(entries.size).toBe(blocklistSize());
      expect(entries.has("iloveyou")).toBe(true);
    } finally {
      rmSync(real, { recursive: true, force: true });
    }
  });

  it("resolves this repository's asset by default", () => {
    expect(resolveBlocklistPath()).toBe(join(REPO_ROOT, BLOCKLIST_ASSET));
    expect(findPackageRoot(join(REPO_ROOT, "src", "accounts", "passwords"))).toBe(REPO_ROOT);
  });

  it("fails loudly when there is no tessera package above the module", () => {
    const lonely = mkdtempSync(join(tmpdir(), "tessera-no-root-"));
    try {
      expect(() => resolveBlocklistPath(pathToFileURL(join(lonely, "blocklist.js")))).toThrow(
        /No package\.json named "tessera"/,
      );
    } finally {
      rmSync(lonely, { recursive: true, force: true });
    }
  });

  it("refuses a list that is not valid UTF-8", () => {
    const file = join(root, "latin1.txt.gz");
    writeFileSync(file, gzipSync(Buffer.from("caf\xe9\n", "latin1")));
    expect(() => readBlocklist(file)).toThrow(/not valid UTF-8/);
  });

  it("refuses an empty list instead of accepting every password", () => {
    const file = join(root, "empty.txt.gz");
    writeFileSync(file, gzipSync(""));
    expect(() => readBlocklist(file)).toThrow(/empty/);
  });
});
