/**
 * The pages' scripts: same-origin static files (the page CSP allows `script-src 'self'` only, no inline script).
 *
 * - `/assets/simplewebauthn-browser.js`: @simplewebauthn/browser's UMD bundle (global `SimpleWebAuthnBrowser`),
 *   read from node_modules (the package exports no path to it, so it is found beside the package's entry point).
 * - `/assets/webauthn-*.js`: Tessera's own, in `assets/js/` of the project folder (found from this module's
 *   location, so the sources and `dist/` both work), listed in assets/README.md.
 * - Read once, at first use; each carries a strong ETag (SHA-256 of its bytes): the URLs have no content hash,
 *   so browsers revalidate (`no-cache`) and a new release takes effect at once.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface PageScript {
  path: string;
  body: string;
  etag: string;
}

/** The URL paths of the scripts, for pages that include them. */
export const SCRIPT_PATHS = {
  simpleWebAuthn: "/assets/simplewebauthn-browser.js",
  common: "/assets/webauthn-common.js",
  register: "/assets/webauthn-register.js",
  verify: "/assets/webauthn-verify.js",
  stepUp: "/assets/webauthn-step-up.js",
  passkey: "/assets/webauthn-passkey.js",
} as const;

/** The project folder: the nearest one above this module holding `assets/js/`. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "assets", "js", "webauthn-verify.js"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("assets/js/ not found above the page-scripts module");
    dir = parent;
  }
}

function simpleWebAuthnBundle(): string {
  const entry = createRequire(import.meta.url).resolve("@simplewebauthn/browser");
  // <package>/script/index.js → <package>/dist/bundle/index.umd.min.js
  return join(dirname(entry), "..", "dist", "bundle", "index.umd.min.js");
}

function script(path: string, file: string): PageScript {
  const body = readFileSync(file, "utf8");
  return { path, body, etag: `"${createHash("sha256").update(body).digest("base64url")}"` };
}

let cached: PageScript[] | undefined;

export function pageScripts(): PageScript[] {
  if (cached) return cached;
  const own = join(projectRoot(), "assets", "js");
  cached = [
    script(SCRIPT_PATHS.simpleWebAuthn, simpleWebAuthnBundle()),
    script(SCRIPT_PATHS.common, join(own, "webauthn-common.js")),
    script(SCRIPT_PATHS.register, join(own, "webauthn-register.js")),
    script(SCRIPT_PATHS.verify, join(own, "webauthn-verify.js")),
    script(SCRIPT_PATHS.stepUp, join(own, "webauthn-step-up.js")),
    script(SCRIPT_PATHS.passkey, join(own, "webauthn-passkey.js")),
  ];
  return cached;
}
