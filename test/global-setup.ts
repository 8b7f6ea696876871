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
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TEST_DIR = resolve(ROOT, "test");
const BUILD_CONFIG = "tsconfig.build.json";
const STAMP = resolve(ROOT, "dist", ".build-stamp");
/** The build's entry point that the CLI tests run; its absence means `dist/` is incomplete whatever the stamp. */
const BIN = resolve(ROOT, "dist", "src", "cli", "main.js");
/** Inputs besides the compiled files: `tsconfig.json` is extended by the build config; the lock pins `tsc`. */
const CONFIG_INPUTS = [BUILD_CONFIG, "tsconfig.json", "package.json", "package-lock.json"];

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

/** The files `tsc -p tsconfig.build.json` compiles, as TypeScript itself lists them (follows `extends`, globs). */
function compiledFiles(): string[] {
  // require, not import: an ESM import of this 9 MB CommonJS module costs ~0.5 s more (named-export scan).
  const ts = createRequire(import.meta.url)("typescript") as typeof import("typescript");
  const parsed = ts.getParsedCommandLineOfConfigFile(
    resolve(ROOT, BUILD_CONFIG),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(`${BUILD_CONFIG}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      },
    },
  );
  if (!parsed) throw new Error(`${BUILD_CONFIG} could not be read`);
  return parsed.fileNames;
}

function inputsFingerprint(): { fingerprint: string; count: number } {
  const files = [...compiledFiles(), ...CONFIG_INPUTS.map((f) => resolve(ROOT, f))];
  const lines = files
    .map((file) => {
      const name = relative(ROOT, file);
      try {
        const s = statSync(file);
        return `${name}\t${s.size}\t${s.mtimeMs}`;
      } catch {
        return `${name}\tmissing`;
      }
    })
    .sort();
  return { fingerprint: createHash("sha256").update(lines.join("\n")).digest("hex"), count: lines.length };
}

/** Builds `dist/` unless the stamp says it was built from exactly the current inputs. */
function ensureBuilt(): void {
  const { fingerprint, count } = inputsFingerprint();
  const stamp = existsSync(STAMP) ? readFileSync(STAMP, "utf8").trim() : "";
  if (stamp === fingerprint && existsSync(BIN)) return;
  const why = !existsSync(BIN) ? "missing" : stamp ? "older than its sources" : "not stamped";
  process.stderr.write(
    `global-setup: dist/ is ${why} (${count} inputs); building with tsc -p ${BUILD_CONFIG}\n`,
  );
  const started = Date.now();
  execFileSync(process.execPath, [resolve(ROOT, "node_modules/typescript/bin/tsc"), "-p", BUILD_CONFIG], {
    cwd: ROOT,
    stdio: "inherit",
  });
  // Written only after a successful build, with the fingerprint taken before it.
  writeFileSync(STAMP, `${fingerprint}\n`);
  process.stderr.write(`global-setup: dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

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
