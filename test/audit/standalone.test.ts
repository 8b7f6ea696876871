/**
 * The export verifier runs outside Tessera: `src/audit/verify.ts` and every module it imports reach nothing but
 * `jose` and `node:` built-ins (read from the sources, import by import).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms;

function reach(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const specifiers = [...readFileSync(file, "utf8").matchAll(IMPORT)].map((m) => m[1]!);
  seen.set(file, specifiers);
  for (const specifier of specifiers) {
    if (specifier.startsWith(".")) reach(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")), seen);
  }
  return seen;
}

describe("the standalone audit export verifier", () => {
  it("imports only jose, node: built-ins and its own sibling modules", () => {
    const graph = reach(resolve("src/audit/verify.ts"));
    const outside = [...graph.values()]
      .flat()
      .filter((s) => !s.startsWith("./") && s !== "jose" && !s.startsWith("node:"));
    expect(outside).toEqual([]);
    const files = [...graph.keys()].map((f) => f.slice(resolve("src/audit").length + 1)).sort();
    expect(files).toEqual([
      "chain-walk.ts",
      "record-hash.ts",
      "verify-checkpoint.ts",
      "verify-types.ts",
      "verify.ts",
    ]);
  });
});
