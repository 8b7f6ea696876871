/**
 * Blocklist of common and breached passwords (NIST SP 800-63B § 3.1.1.2).
 *
 * - The list ships in the repository as `assets/password-blocklist.txt.gz`: one key per line, built by
 *   `scripts/build-password-blocklist.mjs` from SecLists (see `assets/README.md` for source and licence).
 * - A key is `password.normalize("NFKC").toLowerCase()` (`blocklistKey`); the generator applies the same
 *   function, so "Password", "PASSWORD" and full-width "ｐａｓｓｗｏｒｄ" all meet the entry "password".
 * - Loaded once, lazily and synchronously, on the first look-up (or `blocklistSize`), then cached for the life
 *   of the process in a `Set`: each look-up is one hash-set probe, whatever the list's size or the entry's
 *   place in it.
 * - The asset is found from this module's own location: walk up from its directory to the first folder whose
 *   `package.json` is named `tessera`. This works alike for the TypeScript sources
 *   (`src/accounts/passwords/blocklist.ts`) and the compiled output (`dist/src/accounts/passwords/blocklist.js`).
 * - A missing or unreadable asset is an error at first use, never a silently empty list.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

/** The project's name in `package.json`: marks the folder that holds `assets/`. */
const PACKAGE_NAME = "tessera";
/** Path of the list, relative to the project folder. */
export const BLOCKLIST_ASSET = join("assets", "password-blocklist.txt.gz");

/** The form in which passwords are compared with the list. */
export function blocklistKey(password: string): string {
  return password.normalize("NFKC").toLowerCase();
}

/**
 * The nearest folder, from `startDir` upwards, holding a `package.json` whose `name` is `packageName`.
 * Folders with another package's (or an unreadable) `package.json` are passed over.
 */
export function findPackageRoot(startDir: string, packageName: string = PACKAGE_NAME): string {
  let dir = startDir;
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const manifest = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown };
        if (manifest.name === packageName) return dir;
      } catch {
        // Not a readable manifest: keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`No package.json named "${packageName}" in ${startDir} or any folder above it`);
    }
    dir = parent;
  }
}

/** Where the blocklist asset lives for a module at `moduleUrl` (defaults to this module). */
export function resolveBlocklistPath(moduleUrl: string | URL = import.meta.url): string {
  return join(findPackageRoot(dirname(fileURLToPath(moduleUrl))), BLOCKLIST_ASSET);
}

/** Reads a gzipped list (one key per line) into a set. */
export function readBlocklist(file: string): Set<string> {
  const text = gunzipSync(readFileSync(file)).toString("utf8");
  const entries = new Set<string>();
  for (const line of text.split("\n")) {
    if (line !== "") entries.add(line);
  }
  if (entries.size === 0) throw new Error(`Password blocklist ${file} is empty`);
  return entries;
}

let cached: Set<string> | undefined;

function blocklist(): Set<string> {
  cached ??= readBlocklist(resolveBlocklistPath());
  return cached;
}

/** True when the password, NFKC-normalised and lower-cased, is on the list. */
export function isBlocklisted(password: string): boolean {
  return blocklist().has(blocklistKey(password));
}

/** Number of distinct entries on the list (loads it if it is not loaded yet). */
export function blocklistSize(): number {
  return blocklist().size;
}
