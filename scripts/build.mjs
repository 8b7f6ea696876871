#!/usr/bin/env node
/**
 * Builds `dist/` (`tsc -p tsconfig.build.json`) only when it is missing or stale, so `npm start`, `npm run
 * tessera` and the tests that run the built package start in about a second when nothing changed.
 *
 * Stale: the fingerprint (path, size, mtime) of the build's inputs — the files `tsconfig.build.json` compiles (as
 * TypeScript lists them), the tsconfig files, `package.json` and `package-lock.json` — differs from the one
 * written to `dist/.build-stamp` after the last successful build. The fingerprint is taken before building, so an
 * edit made while `tsc` runs triggers the next build.
 *
 * Run as a script (`node scripts/build.mjs`, also npm's `prepare` after `npm install`) or imported
 * (`ensureBuilt()`, test/global-setup.ts). Without TypeScript installed (a production install that omitted
 * devDependencies) there is nothing to build with: it says so and leaves `dist/` as it is.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BUILD_CONFIG = "tsconfig.build.json";
const STAMP = resolve(ROOT, "dist", ".build-stamp");
/** The build's entry point; its absence means `dist/` is incomplete whatever the stamp says. */
const BIN = resolve(ROOT, "dist", "src", "cli", "main.js");
/** Inputs besides the compiled files: `tsconfig.json` is extended by the build config; the lock pins `tsc`. */
const CONFIG_INPUTS = [BUILD_CONFIG, "tsconfig.json", "package.json", "package-lock.json"];

function typescript() {
  try {
    // require, not import: an ESM import of this 9 MB CommonJS module costs ~0.5 s more (named-export scan).
    return createRequire(import.meta.url)("typescript");
  } catch {
    return undefined;
  }
}

/** The files `tsc -p tsconfig.build.json` compiles, as TypeScript itself lists them (follows `extends`, globs). */
function compiledFiles(ts) {
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

function inputsFingerprint(ts) {
  const files = [...compiledFiles(ts), ...CONFIG_INPUTS.map((f) => resolve(ROOT, f))];
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
export function ensureBuilt(log = (line) => process.stderr.write(`${line}\n`)) {
  const ts = typescript();
  if (!ts) {
    if (!existsSync(BIN)) throw new Error("dist/ is missing and TypeScript is not installed to build it");
    return;
  }
  const { fingerprint, count } = inputsFingerprint(ts);
  const stamp = existsSync(STAMP) ? readFileSync(STAMP, "utf8").trim() : "";
  if (stamp === fingerprint && existsSync(BIN)) return;
  const why = !existsSync(BIN) ? "missing" : stamp ? "older than its sources" : "not stamped";
  log(`build: dist/ is ${why} (${count} inputs); building with tsc -p ${BUILD_CONFIG}`);
  const started = Date.now();
  execFileSync(process.execPath, [resolve(ROOT, "node_modules/typescript/bin/tsc"), "-p", BUILD_CONFIG], {
    cwd: ROOT,
    stdio: "inherit",
  });
  // Written only after a successful build, with the fingerprint taken before it.
  writeFileSync(STAMP, `${fingerprint}\n`);
  log(`build: dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    ensureBuilt();
  } catch (error) {
    process.stderr.write(`build failed: ${error.message}\n`);
    process.exit(1);
  }
}
