/**
 * Where the master key comes from.
 *
 * - `TESSERA_MASTER_KEY` when set (production requires it; `config/load.ts` enforces that).
 * - Otherwise, in development and tests, `<dataDir>/master.key`, generated on first start with mode 0600
 *   and a loud warning: losing that file makes every sealed secret unreadable, and instances sharing a
 *   PostgreSQL database must share one master key.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/index.js";
import { createMasterKey, generateMasterKeyText, type MasterKey, parseMasterKey } from "../crypto/index.js";
import { ConfigError } from "../lib/errors.js";
import type { Logger } from "../observability/log.js";

export function loadMasterKey(config: Config, log: Logger): MasterKey {
  if (config.masterKey !== undefined) {
    const raw = parseMasterKey(config.masterKey);
    if (raw === undefined) {
      throw new ConfigError(
        "Invalid TESSERA_MASTER_KEY = (hidden): must be 32 bytes as 64 hex or 43 base64url characters.",
      );
    }
    return createMasterKey(raw);
  }
  const path = join(config.dataDir, "master.key");
  if (!existsSync(path)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(path, `${generateMasterKeyText()}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
    log.warn(
      { path },
      "GENERATED A DEVELOPMENT MASTER KEY. Set TESSERA_MASTER_KEY in production: this file is the only key to the sealed signing keys.",
    );
  } else {
    log.warn({ path }, "Using the development master key file; set TESSERA_MASTER_KEY in production.");
  }
  const raw = parseMasterKey(readFileSync(path, "utf8"));
  if (raw === undefined)
    throw new ConfigError(`The master key file ${path} is corrupt (expected 32 bytes, base64url or hex).`);
  return createMasterKey(raw);
}
