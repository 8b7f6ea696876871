import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/lib/error-codes.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("error codes", () => {
  const documented = [...readFileSync("docs/errors.md", "utf8").matchAll(/^\| `([a-z_]+)` \|/gm)].map(
    (m) => m[1],
  );

  it("docs/errors.md lists exactly the codes in src/lib/error-codes.ts", () => {
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("every error code the code answers with is a listed one", () => {
    const used = new Set<string>();
    for (const file of sourceFiles("src")) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:\bcode|\berror): "([a-z_]+)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/new KeyError\(\s*"([a-z_]+)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/new OAuthError\(\s*"([a-z_]+)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/new (?:Mfa|ApiToken|Account)Error\(\s*"([a-z_]+)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/fail\(\s*"([a-z_]+)"/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(5);
    for (const code of used)
      expect(Object.keys(ERROR_CODES), `code "${code}" is not in ERROR_CODES`).toContain(code);
  });
});
