/**
 * Builds `dist/` once, so CLI and end-to-end tests run the real `tessera` binary.
 * `TESSERA_TEST_SKIP_BUILD=1` skips it when running unit tests that do not spawn the binary.
 */
import { execFileSync } from "node:child_process";

export default function setup(): void {
  if (process.env.TESSERA_TEST_SKIP_BUILD === "1") return;
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    stdio: "inherit",
  });
}
