/**
 * Fixed-duration load measurement, for what the per-op runner (`runner.ts`) cannot time: HTTP throughput
 * under concurrency, concurrent async work (sign-in), and latency while something else runs.
 *
 * - `LoadGenerator`: an HTTP client on a worker thread (`load-worker.ts`), so the server under test keeps the
 *   main thread's event loop to itself; it talks to 127.0.0.1 over keep-alive connections. `run` sends a
 *   command and resolves with the round's result; `onWindow` is called on the main thread when the worker
 *   opens and closes its measurement window (used to read event-loop utilisation and delay for exactly that
 *   span).
 * - `startLoops` / `runConcurrent`: `callers` async loops calling an operation back to back on this thread;
 *   `runConcurrent` counts the completions inside a fixed window, after a warm-up. A failing call fails it.
 * - `interleave`: rounds that alternate the order of the cases (A B, B A, …), so drift on a shared machine
 *   hits every case alike.
 * - Statistics: `median`, `summarizeSamples` (median, min, max, and the median of per-round ratios to a
 *   baseline: the paired ratio, robust to a noisy round).
 */
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";

/**
 * What a right answer says, beyond its status: a 200 whose body does not match `pattern` (a RegExp source,
 * tested on the body as UTF-8) is a wrong answer. Wrong answers are counted apart (`LoadResult.wrong`) and
 * never as completions, so a server answering quickly but wrongly gains no throughput from it.
 */
export interface AnswerCheck {
  /** E.g. `introspection says active: true`. */
  readonly description: string;
  readonly pattern: string;
}

/** Checks commonly needed by the suites. */
export const ANSWERS = {
  active: { description: "introspection answers active: true", pattern: '"active"\\s*:\\s*true' },
  accessToken: {
    description: "an access_token is present",
    pattern: '"access_token"\\s*:\\s*"[^"]+"',
  },
  sub: { description: "a sub claim is present", pattern: '"sub"\\s*:\\s*"[^"]+"' },
} as const satisfies Record<string, AnswerCheck>;

export type LoadCommand =
  | {
      type: "load";
      id: number;
      port: number;
      /** The raw HTTP/1.1 request, headers and blank line included. */
      request: string;
      connections: number;
      warmupMs: number;
      durationMs: number;
      /** The meaning every 200 answer must have (see `AnswerCheck`). */
      expect?: AnswerCheck;
    }
  | {
      type: "chain";
      id: number;
      port: number;
      /** Request line and headers, each ending in CRLF, without Content-Length and the blank line. */
      head: string;
      /** The form body, with `{{token}}` where each connection's current refresh token goes. */
      body: string;
      /** One starting refresh token per connection. */
      tokens: string[];
      warmupMs: number;
      durationMs: number;
      /**
       * Besides a new refresh token (different from the one presented: without one the chain breaks and the
       * round fails), the meaning every 200 answer must have.
       */
      expect?: AnswerCheck;
    }
  | {
      type: "probe";
      id: number;
      port: number;
      request: string;
      /** Idle connections available to the probe. */
      connections: number;
      ratePerSecond: number;
      warmupMs: number;
      durationMs: number;
    };

/** A command without its id (the generator numbers them). */
export type LoadSpec = DistributiveOmit<LoadCommand, "id">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoadResult {
  /** Right answers (load, chain) or probes sent (probe) inside the window; wrong answers are not counted. */
  requests: number;
  /** 200 answers of the round (warm-up included) whose meaning was wrong (see `AnswerCheck`). */
  wrong: number;
  /** The first wrong answer's body (truncated), to say what was wrong. */
  wrongSample?: string;
  windowMs: number;
  /** Every response of the round, warm-up included, by status code. */
  statuses: Record<string, number>;
  /** Probe ticks that found every connection busy (their request was not sent). */
  skipped: number;
  /** Latency of the window's requests, ms. */
  latencyMs: LatencySummary;
}

export type WorkerMessage =
  | { type: "window"; id: number; phase: "open" | "close" }
  | { type: "result"; id: number; result: LoadResult }
  | { type: "error"; id: number; message: string };

interface Pending {
  resolve: (result: LoadResult) => void;
  reject: (error: Error) => void;
  onWindow: ((phase: "open" | "close") => void) | undefined;
}

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly worker: Worker) {
    worker.on("message", (message: WorkerMessage) => {
      const entry = this.pending.get(message.id);
      if (entry === undefined) return;
      if (message.type === "window") {
        entry.onWindow?.(message.phase);
        return;
      }
      this.pending.delete(message.id);
      if (message.type === "result") entry.resolve(message.result);
      else entry.reject(new Error(`load generator: ${message.message}`));
    });
    worker.on("error", (error) => this.failAll(error));
    worker.on("exit", (code) => this.failAll(new Error(`load generator exited with code ${code}`)));
  }

  static async start(): Promise<LoadGenerator> {
    const worker = new Worker(new URL("./load-worker.js", import.meta.url));
    await new Promise<void>((resolve, reject) => {
      worker.once("online", resolve);
      worker.once("error", reject);
    });
    return new LoadGenerator(worker);
  }

  run(spec: LoadSpec, onWindow?: (phase: "open" | "close") => void): Promise<LoadResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onWindow });
      this.worker.postMessage({ ...spec, id });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private failAll(error: Error): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }
}

/**
 * `undefined` when every answer of `result` was right; otherwise a line saying how many were wrong and how,
 * for the report (a phase with wrong answers must be flagged, not counted as throughput).
 */
export function wrongAnswers(
  label: string,
  result: LoadResult,
  check: AnswerCheck | undefined,
): string | undefined {
  if (result.wrong === 0) return undefined;
  const total = Object.values(result.statuses).reduce((sum, n) => sum + n, 0);
  return (
    `${label}: ${result.wrong} of ${total} answers wrong (expected: ${check?.description ?? "a new refresh token"})` +
    (result.wrongSample === undefined ? "" : `; first: ${JSON.stringify(result.wrongSample)}`)
  );
}

/** A raw GET request for the load generator. */
export function rawGet(port: number, path: string, headers: Record<string, string> = {}): string {
  const lines = [`GET ${path} HTTP/1.1`, `host: 127.0.0.1:${port}`, "accept: application/json"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Loops {
  /** Calls completed so far. */
  readonly completions: number;
  /** Stops starting new calls; resolves when every loop has finished, rejects with a call's error. */
  stop(): Promise<void>;
}

/**
 * Starts `callers` loops on this thread, each awaiting `operation(caller)` back to back. The first failing
 * call stops every loop; its error is thrown by `stop()`.
 */
export function startLoops(callers: number, operation: (caller: number) => Promise<unknown>): Loops {
  let stopped = false;
  let completions = 0;
  const loops = Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      while (!stopped) {
        await operation(caller);
        completions++;
      }
    }),
  );
  loops.catch(() => {
    stopped = true;
  });
  return {
    get completions() {
      return completions;
    },
    async stop() {
      stopped = true;
      await loops;
    },
  };
}

/**
 * `callers` loops (`startLoops`); returns the completions per second inside a window of `durationMs` that
 * opens after `warmupMs`. Calls in flight when the window closes finish but do not count.
 */
export async function runConcurrent(
  callers: number,
  operation: (caller: number) => Promise<unknown>,
  options: { warmupMs: number; durationMs: number },
): Promise<{ completions: number; windowMs: number; perSecond: number }> {
  const loops = startLoops(callers, operation);
  try {
    await sleep(options.warmupMs);
    const before = loops.completions;
    const start = performance.now();
    await sleep(options.durationMs);
    const completions = loops.completions - before;
    const windowMs = performance.now() - start;
    return { completions, windowMs, perSecond: (completions * 1000) / windowMs };
  } finally {
    await loops.stop();
  }
}

/**
 * Runs `measure` for every case in every round, rotating the order by one each round. Returns each case's
 * samples in round order.
 */
export async function interleave<T>(
  cases: readonly string[],
  rounds: number,
  measure: (name: string, round: number) => Promise<T>,
): Promise<Map<string, T[]>> {
  const samples = new Map<string, T[]>(cases.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const name = cases[(round + i) % cases.length]!;
      samples.get(name)!.push(await measure(name, round));
    }
  }
  return samples;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface SampleSummary {
  median: number;
  min: number;
  max: number;
  /** Median over rounds of (sample ÷ the baseline's sample in the same round); 1 for the baseline. */
  pairedRatio: number;
  samples: number[];
}

export function summarizeSamples(samples: readonly number[], baseline: readonly number[]): SampleSummary {
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    pairedRatio: median(samples.map((value, i) => value / baseline[i]!)),
    samples: [...samples],
  };
}
