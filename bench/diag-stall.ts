import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { loadConfig } from "../src/config/index.js";
import { createMasterKey } from "../src/crypto/master-key.js";
import { createLogger } from "../src/observability/log.js";
import { createContext } from "../src/server/context.js";

const dir = mkdtempSync(join(tmpdir(), "diag-"));
const config = loadConfig({
  env: {
    NODE_ENV: "test",
    DATABASE_URL: join(dir, "t.db"),
    LOG_LEVEL: "silent",
    HOST: "127.0.0.1",
    PORT: "0",
    TESSERA_KEY_ROTATION_INTERVAL: "0",
  },
});
const ctx = await createContext(config, {
  log: createLogger({ level: "silent" }),
  masterKey: createMasterKey(Buffer.alloc(32, 7)),
});
const { accounts } = ctx;
const PASSWORD = "correct horse battery staple 42";
const users = [];
for (let i = 0; i < 8; i++)
  users.push(await accounts.users.create({ userName: `u${i}`, password: PASSWORD }, { actor: "cli" }));
const mode = process.argv[2] ?? "signin";
const hashes = await Promise.all(users.map((u) => accounts.users.passwordHash(u.id)));
// stall detector
const gaps: number[] = [];
let last = performance.now();
const tick = () => {
  const now = performance.now();
  gaps.push(now - last);
  last = now;
  if (!stop) setTimeout(tick, 0);
};
setTimeout(tick, 0);
let stop = false;
let n = 0;
const loops = users.map(async (u, i) => {
  while (!stop) {
    if (mode === "signin")
      await accounts.signIn.signIn({
        userName: u.userName,
        password: PASSWORD,
        ip: `10.0.0.${i}`,
        userAgent: null,
      });
    else await accounts.hasher.verify(hashes[i]!, PASSWORD);
    n++;
  }
});
await new Promise((r) => setTimeout(r, 6000));
stop = true;
await Promise.all(loops);
gaps.sort((a, b) => a - b);
const q = (p: number) => gaps[Math.floor(p * (gaps.length - 1))]!.toFixed(2);
console.log(
  mode,
  "ops",
  n,
  "ticks",
  gaps.length,
  "p50",
  q(0.5),
  "p99",
  q(0.99),
  "p99.9",
  q(0.999),
  "max",
  q(1),
  ">2ms",
  gaps.filter((g) => g > 2).length,
);
await ctx.close();
