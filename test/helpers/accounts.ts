/** Builds the accounts domain on a real test database, with a manual clock and the development outbox. */
import { Writable } from "node:stream";
import {
  type Accounts,
  type Argon2Parameters,
  createAccounts,
  createMemoryThrottle,
  OWASP_ARGON2,
} from "../../src/accounts/index.js";
import { manualClock } from "../../src/lib/clock.js";
import { createOutboxMailer, type OutboxMailer } from "../../src/mail/index.js";
import { createLogger } from "../../src/observability/log.js";
import type { DialectName, Storage } from "../../src/storage/index.js";
import { openTestStorage } from "./databases.js";

export const STRONG_PASSWORD = "correct horse battery staple 42";

export interface TestAccounts {
  accounts: Accounts;
  storage: Storage;
  clock: ReturnType<typeof manualClock>;
  outbox: OutboxMailer;
  /** Another `Accounts` over the same database with different argon2 parameters (rehash tests). */
  withArgon2(parameters: Argon2Parameters): Accounts;
  close(): Promise<void>;
}

export async function createTestAccounts(dialect: DialectName): Promise<TestAccounts> {
  const storage = await openTestStorage(dialect);
  const clock = manualClock(Date.UTC(2026, 10, 29, 9, 0, 0));
  const log = createLogger({
    level: "silent",
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const outbox = createOutboxMailer({ from: "Tessera <no-reply@test>", log, logBodies: false });
  const build = (argon2: Argon2Parameters) =>
    createAccounts({
      storage,
      ...(storage.backgroundWriter ? { backgroundWriter: storage.backgroundWriter } : {}),
      clock,
      log,
      mailer: outbox,
      throttle: createMemoryThrottle({ clock }),
      issuer: "https://id.example.test",
      argon2,
      passwordPolicy: { minLength: 8, minLengthWithoutSecondFactor: 15, maxLength: 128 },
      sessionPolicy: { idleTimeout: 1800, lifetime: 36000, rememberLifetime: 1209600 },
      passwordResetTtl: 900,
    });
  const accounts = build(OWASP_ARGON2);
  return {
    accounts,
    storage,
    clock,
    outbox,
    withArgon2: build,
    close: async () => {
      await accounts.close();
      await storage.close();
    },
  };
}
