/**
 * argon2id on a pool of low-priority worker threads.
 *
 * Why not libuv's thread pool (what `@node-rs/argon2`'s async calls use): on a small machine the hashing threads
 * take every core, and the event loop — which answers every other request — waits for a core behind them. The
 * benchmark showed `/healthz` p99 rising ~40× under a sign-in load that way.
 *
 * - Each worker lowers its own scheduling priority, so the event loop thread gets a core as soon as it has
 *   work and hashing uses what is left. On Linux it first takes nice 19 (`os.setPriority`; per thread), then
 *   asks for `SCHED_IDLE` with util-linux `chrt --idle --pid 0 <its thread id>` when `chrt` is installed
 *   (any user may lower a thread to `SCHED_IDLE`; Node has no call for it). Nice 19 alone is not enough: the
 *   kernel's fair scheduler (EEVDF) may let a running nice-19 thread finish its time slice before a waking
 *   nice-0 thread gets the core, a few milliseconds; a waking normal thread preempts a `SCHED_IDLE` thread at
 *   once, and a core running only `SCHED_IDLE` threads counts as idle when the kernel places a waking thread.
 *   Measured on 2 cores, two threads hashing back to back beside a bare `node:http` server probed at
 *   1000/s (two runs): `setTimeout(1)` lateness p99 0.5 ms idle, 1.7 ms at nice 19, 0.5 ms at `SCHED_IDLE`;
 *   `/healthz` p99 1.7–4× idle at nice 19, 0.9–1.05× at `SCHED_IDLE`; same hashing throughput. Without
 *   `chrt` (or off Linux) the workers stay at nice 19; `priority` tells which one applies.
 * - `threads` workers (default: one per core), each running one hash at a time with the synchronous binding;
 *   jobs queue in the pool and go to the least-loaded worker.
 * - Workers are started lazily, `unref`'d (they never keep the process alive) and restarted if one dies; a
 *   job whose worker died is rejected, never left hanging.
 * - Passwords cross the thread boundary by structured clone only; nothing is logged.
 */

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

export interface Argon2Options {
  algorithm: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  outputLen: number;
}

type Job =
  | { op: "hash"; password: string; options: Argon2Options }
  | { op: "verify"; hash: string; password: string };

interface Pending {
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** How a worker thread is scheduled: `idle` (`SCHED_IDLE`), `nice` (nice 19) or `normal` (neither took). */
export type HashThreadPriority = "idle" | "nice" | "normal";

// CommonJS, evaluated in the worker: no file to locate at run time (works from sources and from dist/).
// The first message reports the priority the thread ended up with, read back from the kernel (Linux).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const os = require("node:os");
const argon2 = require(workerData.argon2);
let priority = "normal";
try { os.setPriority(19); priority = "nice"; } catch {}
if (workerData.chrt) {
  try {
    const tid = fs.readlinkSync("/proc/thread-self").split("/").pop();
    require("node:child_process").execFileSync(workerData.chrt, ["--idle", "--pid", "0", tid], {
      stdio: "ignore",
      timeout: 5000,
    });
    const stat = fs.readFileSync("/proc/thread-self/stat", "utf8");
    // Field 41 (policy); the fields after the parenthesised command name start at field 3.
    if (stat.slice(stat.lastIndexOf(")") + 2).split(" ")[38] === "5") priority = "idle";
  } catch {}
}
parentPort.postMessage({ priority });
parentPort.on("message", (message) => {
  const { id, job } = message;
  try {
    const result = job.op === "hash"
      ? argon2.hashSync(job.password, job.options)
      : argon2.verifySync(job.hash, job.password);
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

export interface HashPool {
  hash(password: string, options: Argon2Options): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  readonly threads: number;
  /** The scheduling priority the most recently started worker reported; undefined before that. */
  readonly priority: HashThreadPriority | undefined;
  close(): Promise<void>;
}

const CHRT_PATHS = ["/usr/bin/chrt", "/bin/chrt", "/usr/sbin/chrt", "/sbin/chrt"];

/** util-linux `chrt`, at a fixed path (never looked up on PATH); undefined off Linux or when absent. */
function findChrt(): string | undefined {
  return process.platform === "linux" ? CHRT_PATHS.find((path) => existsSync(path)) : undefined;
}

export function createHashPool(options: { threads?: number; idlePriority?: boolean } = {}): HashPool {
  const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
  const argon2Path = createRequire(import.meta.url).resolve("@node-rs/argon2");
  const chrt = options.idlePriority === false ? undefined : findChrt();
  let priority: HashThreadPriority | undefined;
  const slots: (Slot | undefined)[] = new Array(threads).fill(undefined);
  let nextId = 1;
  let closed = false;

  function start(index: number): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2: argon2Path, chrt } });
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    type Message =
      | { id: number; result?: string | boolean; error?: string }
      | { priority: HashThreadPriority };
    worker.on("message", (message: Message) => {
      if ("priority" in message) {
        priority = message.priority;
        return;
      }
      const pending = slot.pending.get(message.id);
      if (!pending) return;
      slot.pending.delete(message.id);
      // Keep the process alive while work is outstanding, not otherwise.
      if (slot.pending.size === 0) worker.unref();
      if (message.error !== undefined) pending.reject(new Error(`argon2: ${message.error}`));
      else pending.resolve(message.result as string | boolean);
    });
    const fail = (error: Error) => {
      for (const pending of slot.pending.values()) pending.reject(error);
      slot.pending.clear();
      if (slots[index] === slot) slots[index] = undefined;
    };
    worker.on("error", fail);
    worker.on("exit", () => fail(new Error("argon2 worker exited")));
    slots[index] = slot;
    return slot;
  }

  function run(job: Job): Promise<string | boolean> {
    if (closed) return Promise.reject(new Error("hash pool is closed"));
    let best = 0;
    for (let i = 0; i < threads; i++) {
      const load = slots[i]?.pending.size ?? 0;
      if (load < (slots[best]?.pending.size ?? 0)) best = i;
      if (load === 0) {
        best = i;
        break;
      }
    }
    const slot = slots[best] ?? start(best);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, job });
    });
  }

  return {
    threads,
    get priority() {
      return priority;
    },
    hash: (password, argon2Options) =>
      run({ op: "hash", password, options: argon2Options }) as Promise<string>,
    verify: (hash, password) => run({ op: "verify", hash, password }) as Promise<boolean>,
    async close() {
      closed = true;
      await Promise.all(slots.map((slot) => slot?.worker.terminate()));
    },
  };
}
