/**
 * argon2id on a pool of low-priority worker threads.
 *
 * Why not libuv's thread pool (what `@node-rs/argon2`'s async calls use): on a small machine the hashing threads
 * take every core, and the event loop — which answers every other request — waits for a core behind them. The
 * benchmark showed `/healthz` p99 rising ~40× under a sign-in load that way.
 *
 * - Each worker lowers its own scheduling priority (`os.setPriority(19)`; on Linux the nice value is per
 *   thread), so the event loop thread always wins a core when it has work, and hashing uses what is left.
 * - `threads` workers (default: one per core), each running one hash at a time with the synchronous binding;
 *   jobs queue in the pool and go to the least-loaded worker.
 * - Workers are started lazily, `unref`'d (they never keep the process alive) and restarted if one dies; a
 *   job whose worker died is rejected, never left hanging.
 * - Passwords cross the thread boundary by structured clone only; nothing is logged.
 */

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

// CommonJS, evaluated in the worker: no file to locate at run time (works from sources and from dist/).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const os = require("node:os");
const argon2 = require(workerData.argon2);
try { os.setPriority(19); } catch {}
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
  close(): Promise<void>;
}

export function createHashPool(options: { threads?: number } = {}): HashPool {
  const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
  const argon2Path = createRequire(import.meta.url).resolve("@node-rs/argon2");
  const slots: (Slot | undefined)[] = new Array(threads).fill(undefined);
  let nextId = 1;
  let closed = false;

  function start(index: number): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2: argon2Path } });
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on("message", (message: { id: number; result?: string | boolean; error?: string }) => {
      const pending = slot.pending.get(message.id);
      if (!pending) return;
      slot.pending.delete(message.id);
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
      slot.pending.set(id, { resolve, reject });
      // Keep the process alive while work is outstanding, not otherwise.
      slot.worker.ref();
      slot.worker.postMessage({ id, job });
    }).finally(() => {
      if (slot.pending.size === 0) slot.worker.unref();
    }) as Promise<string | boolean>;
  }

  return {
    threads,
    hash: (password, argon2Options) =>
      run({ op: "hash", password, options: argon2Options }) as Promise<string>,
    verify: (hash, password) => run({ op: "verify", hash, password }) as Promise<boolean>,
    async close() {
      closed = true;
      await Promise.all(slots.map((slot) => slot?.worker.terminate()));
    },
  };
}
