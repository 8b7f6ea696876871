/**
 * Builds `dist/` when a test in this run needs it and it is missing or stale, so CLI and end-to-end tests run the
 * real `tessera` binary (and `tessera/verify`, `tessera/bff` as a package consumer sees them) built from the
 * current sources, while a run of unit tests starts at once.
 *
 * - Which tests need `dist/`: a selected test file that mentions a `"dist/…"` path, imports from `examples/`
 *   (which import `tessera/…`, resolved to `dist/`) or imports `tessera/…`, itself or through a helper under
 *   `test/` (e.g. `test/helpers/cli.ts`). A new test that reaches `dist/` some other way must say `"dist/…"`.
 *   If the run's files cannot be told (Vitest's state API is experimental), every run counts as needing it.
 * - Stale: the fingerprint (path, size, mtime) of the build's inputs — the files `tsconfig.build.json` compiles,
 *   the tsconfig files, `package.json` and `package-lock.json` — differs from the one written to
 *   `dist/.build-stamp` after the last successful build. Any edit, touch, added or deleted source file counts;
 *   the fingerprint is taken before building, so an edit made while `tsc` runs triggers the next build.
 * - `TESSERA_TEST_SKIP_BUILD=1` never builds; `TESSERA_TEST_BUILD=1` checks staleness whatever the files.
 * - In watch mode a rerun that brings in a test needing `dist/` checks again.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { ensureBuilt as build } from "../scripts/build.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TEST_DIR = resolve(ROOT, "test");
/** `"dist/…"` (also `./`, `../`), `…/examples/…`, or a `tessera/…` package import. */
const DIST_MARKER = /["'`](?:\.{1,2}\/)*dist\/|\/examples\/|["'`]tessera\//;
/** Relative imports (`from "./x.js"`, `import("../x.js")`), followed to find helpers that use `dist/`. */
const RELATIVE_IMPORT = /(?:\bfrom|\bimport\s*\()\s*["'](\.{1,2}\/[^"']+)["']/g;

/** Whether `file`, or a module under `test/` it imports, uses `dist/`. */
function usesDist(file: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false;
  }
  if (DIST_MARKER.test(text)) return true;
  for (const [, specifier] of text.matchAll(RELATIVE_IMPORT)) {
    const target = resolve(dirname(file), specifier as string).replace(/\.js$/, ".ts");
    if (target.startsWith(TEST_DIR + sep) && usesDist(target, seen)) return true;
  }
  return false;
}

const ensureBuilt = () => build((line: string) => process.stderr.write(`global-setup: ${line}\n`));

function needsDist(files: readonly string[]): boolean {
  return files.some((file) => usesDist(resolve(ROOT, file)));
}

export default function setup(project: TestProject): void {
  if (process.env.TESSERA_TEST_SKIP_BUILD === "1") return;
  project.onTestsRerun((specs) => {
    if (process.env.TESSERA_TEST_BUILD === "1" || needsDist(specs.map((s) => s.moduleId))) ensureBuilt();
  });
  let files: string[] = [];
  try {
    files = project.vitest.state.getPaths();
  } catch {
    // Experimental API gone or changed: fall back to building when stale.
  }
  if (process.env.TESSERA_TEST_BUILD === "1" || files.length === 0 || needsDist(files)) ensureBuilt();
}
