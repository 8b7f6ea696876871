/**
 * Where the audit log's batches are written, and what that costs the event loop under password sign-in load.
 * A step of the accounts benchmark (`TESSERA_BENCH_STEPS=audit npm run bench -- accounts`).
 *
 * In one process, over one SQLite file in a temporary folder: three `Accounts` instances that differ only in
 * where their audit log writes — the storage's background writer (a second connection in a worker thread:
 * what Tessera does on SQLite), Kysely on the event loop (what it did before), and nowhere (a writer that
 * drops the rows: the bound on what any audit placement can achieve). Each runs 8 concurrent sign-in loops
 * through `accounts.signIn.signIn` in turn, interleaved with idle rounds. A worker thread sends the event loop
 * a message every millisecond over a MessagePort and times the answer: the event loop's responsiveness
 * without HTTP in the way (the `/healthz` probe of step 3 measures the same through the network stack).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { MessageChannel, Worker } from "node:worker_threads";
import { type Accounts, createAccounts, createMemoryThrottle, OWASP_ARGON2 } from "../src/accounts/index.js";
import { systemClock } from "../src/lib/clock.js";
import { createOutboxMailer } from "../src/mail/index.js";
import { createLogger } from "../src/observability/log.js";
import { type BackgroundWriter, migrateToLatest, openStorage } from "../src/storage/index.js";
import { median } from "./load.js";

const ROUNDS = 8;
const ROUND_MS = 2000;
const WARMUP_MS = 300;
const LOOPS = 8;
const PASSWORD = "correct horse battery staple 42";

const IDLE = "idle";
const BACKGROUND = "background writer";
const EVENT_LOOP = "Kysely on the event loop";
const NOWHERE = "no audit writes";
const MODES = [IDLE, BACKGROUND, EVENT_LOOP, NOWHERE] as const;
type Mode = (typeof MODES)[number];

// Answers its pings at once; records round trips only between "start" and "stop".
const PROBE_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const port = workerData.port;
const sent = new Map();
let samples = [];
let recording = false;
let next = 0;
port.on("message", (id) => {
  const at = sent.get(id);
  if (at === undefined) return;
  sent.delete(id);
  if (recording) samples.push(performance.now() - at);
});
const timer = setInterval(() => {
  const id = next++;
  sent.set(id, performance.now());
  port.postMessage(id);
}, 1);
parentPort.on("message", (command) => {
  if (command === "start") {
    samples = [];
    recording = true;
  } else if (command === "stop") {
    recording = false;
    parentPort.postMessage(samples);
  } else {
    clearInterval(timer);
    port.close();
    parentPort.close();
  }
});
`;

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
}

export async function measureAuditWrites(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-audit-"));
  const storage = await openStorage(join(dir, "tessera.db"));
  const instances = new Map<Mode, Accounts>();
  const { port1, port2 } = new MessageChannel();
  const probe = new Worker(PROBE_SOURCE, { eval: true, workerData: { port: port2 }, transferList: [port2] });
  try {
    await migrateToLatest(storage);
    if (!storage.backgroundWriter) throw new Error("no background writer on a SQLite file");
    const log = createLogger({
      level: "silent",
      destination: new Writable({ write: (_c, _e, done) => done() }),
    });
    const dropRows: BackgroundWriter = { write: async () => true };
    const writers: Record<Exclude<Mode, typeof IDLE>, BackgroundWriter | undefined> = {
      [BACKGROUND]: storage.backgroundWriter,
      [EVENT_LOOP]: undefined,
      [NOWHERE]: dropRows,
    };
    for (const [mode, writer] of Object.entries(writers) as [Mode, BackgroundWriter | undefined][]) {
      instances.set(
        mode,
        createAccounts({
          storage,
          ...(writer ? { backgroundWriter: writer } : {}),
          clock: systemClock,
          log,
          mailer: createOutboxMailer({ from: "Bench <bench@localhost>", log, logBodies: false }),
          throttle: createMemoryThrottle({ clock: systemClock }),
          issuer: "http://localhost",
          argon2: OWASP_ARGON2,
          passwordPolicy: { minLength: 8, minLengthWithoutSecondFactor: 15, maxLength: 128 },
          sessionPolicy: { idleTimeout: 1800, lifetime: 36000, rememberLifetime: 1209600 },
          passwordResetTtl: 900,
        }),
      );
    }
    const first = instances.get(BACKGROUND)!;
    for (let i = 0; i < LOOPS; i++) {
      await first.users.create(
        { userName: `audit-bench-${i}`, displayName: `Audit Bench ${i}`, password: PASSWORD },
        { actor: "cli", authority: "admin" as const },
      );
    }
    port1.on("message", (id) => port1.postMessage(id));
    const collect = (): Promise<number[]> =>
      new Promise((resolve) => {
        probe.once("message", resolve);
        probe.postMessage("stop");
      });

    const p99s = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
    const rates = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
    const audited = new Map<Mode, number>(MODES.map((m) => [m, 0]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of MODES) {
        const accounts = instances.get(mode);
        let stop = false;
        let signIns = 0;
        const loops = accounts
          ? Array.from({ length: LOOPS }, async (_, i) => {
              while (!stop) {
                await accounts.signIn.signIn({
                  userName: `audit-bench-${i}`,
                  password: PASSWORD,
                  ip: `198.51.100.${i + 1}`,
                  userAgent: "bench",
                });
                signIns++;
              }
            })
          : [];
        await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
        signIns = 0;
        probe.postMessage("start");
        await new Promise((resolve) => setTimeout(resolve, ROUND_MS));
        const samples = await collect();
        const counted = signIns;
        stop = true;
        await Promise.all(loops);
        p99s.get(mode)!.push(p99(samples));
        rates.get(mode)!.push((counted * 1000) / ROUND_MS);
        audited.set(mode, audited.get(mode)! + counted);
      }
    }
    for (const accounts of instances.values()) await accounts.audit.flush();
    // Every sign-in of the two modes that write was audited (the background writer's included).
    const rows = Number(
      (
        await storage.db
          .selectFrom("audit_events")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("type", "=", "signin.password")
          .executeTakeFirstOrThrow()
      ).n,
    );
    if (rows < audited.get(BACKGROUND)! + audited.get(EVENT_LOOP)!) {
      throw new Error(`audit rows ${rows} < sign-ins audited by the two writing modes`);
    }

    const idle = p99s.get(IDLE)!;
    const ratio = (mode: Mode) => median(p99s.get(mode)!.map((value, i) => value / idle[i]!));
    const fmt = (values: number[]) => values.map((v) => v.toFixed(2)).join(", ");
    const line = (mode: Mode) =>
      `${mode} ${median(p99s.get(mode)!).toFixed(2)} ms (**${ratio(mode).toFixed(2)}× idle**; ` +
      `${median(rates.get(mode)!).toFixed(0)} sign-ins/s; per round ${fmt(p99s.get(mode)!)})`;
    return [
      `**4. Where audit events are written** (in-process: 3 \`Accounts\` over one SQLite file, each running ` +
        `${LOOPS} sign-in loops in turn, ${ROUNDS} interleaved rounds of ${ROUND_MS / 1000} s with idle ones; ` +
        `the event loop answers a MessagePort ping from a worker thread every 1 ms): p99 round trip idle ` +
        `${median(idle).toFixed(2)} ms (per round ${fmt(idle)}); ${line(BACKGROUND)}; ${line(EVENT_LOOP)}; ` +
        `${line(NOWHERE)}. Ratios are medians of per-round ratios to the idle round before. The background ` +
        "writer is what Tessera does on SQLite; the event-loop case is the audit log's batch INSERT on the " +
        "main connection (what it did before); no audit writes is the bound for any placement.",
    ];
  } finally {
    probe.postMessage("exit");
    for (const accounts of instances.values()) await accounts.close();
    port1.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
