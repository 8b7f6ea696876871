/**
 * The load generator's thread (started by `load.ts`): a minimal HTTP/1.1 keep-alive client on raw TCP
 * sockets.
 *
 * Why raw sockets rather than `node:http`: on a 2-core machine the client shares the CPU with the server it
 * measures, and `http.request` costs the client several times what a small response costs Fastify; a lean
 * client keeps the measurement about the server. It sends one fixed request (bytes prepared by the caller)
 * per connection at a time (keep-alive, no pipelining) and reads each response by its `Content-Length`
 * (anything else, such as a chunked body, fails the round). Every response's status is counted; the caller
 * decides which statuses are acceptable.
 *
 * Two commands, each a round on fresh connections that are closed afterwards:
 * - `load`: closed loop, `connections` connections each sending the next request as soon as the previous
 *   answer is complete. After `warmupMs` a window of `durationMs` opens: completions inside it are counted
 *   and their latencies (send to last byte, `performance.now()`) kept.
 * - `probe`: open loop, one request every `1000 / ratePerSecond` ms on the first idle connection of the
 *   pool, whatever the answers do (so a stalled server cannot slow the probing down); requests sent inside
 *   the window count. A tick finding every connection busy counts as `skipped`.
 * The thread posts `window` messages when the window opens and closes (the server thread uses them to time
 * its own measurements), then the result.
 */
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { parentPort } from "node:worker_threads";
import type { LoadCommand, LoadResult, WorkerMessage } from "./load.js";

const HEADER_END = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

type OnResponse = (status: number, body: Buffer) => void;

/** One keep-alive connection with at most one request in flight. */
class Connection {
  private buffered: Buffer | undefined;
  private waiting: OnResponse | undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly onFailure: (error: Error) => void,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("the server closed a keep-alive connection")));
  }

  static open(port: number, onFailure: (error: Error) => void): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new Connection(socket, onFailure));
      });
    });
  }

  get busy(): boolean {
    return this.waiting !== undefined;
  }

  send(request: Buffer, onResponse: OnResponse): void {
    if (this.waiting !== undefined) throw new Error("a request is already in flight on this connection");
    this.waiting = onResponse;
    this.socket.write(request);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.onFailure(error);
  }

  private receive(chunk: Buffer): void {
    let buffer = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const headerEnd = buffer.indexOf(HEADER_END);
      if (headerEnd === -1) break;
      const head = buffer.toString("latin1", 0, headerEnd);
      const length = CONTENT_LENGTH.exec(head);
      if (length === null) {
        this.fail(new Error(`response without Content-Length: ${head.split("\r\n")[0]}`));
        return;
      }
      const total = headerEnd + HEADER_END.length + Number(length[1]);
      if (buffer.length < total) break;
      const status = Number(head.slice(9, 12));
      const body = buffer.subarray(headerEnd + HEADER_END.length, total);
      const done = this.waiting;
      this.waiting = undefined;
      if (done === undefined) {
        this.fail(new Error("a response arrived with no request in flight"));
        return;
      }
      buffer = buffer.subarray(total);
      done(status, body);
    }
    this.buffered = buffer.length === 0 ? undefined : buffer;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function post(message: WorkerMessage): void {
  parentPort?.postMessage(message);
}

/** Latencies in ms, sorted ascending. */
function summarize(latencies: number[]): LoadResult["latencyMs"] {
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies.length === 0
      ? Number.NaN
      : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1) };
}

async function openPool(
  port: number,
  size: number,
  onFailure: (error: Error) => void,
): Promise<Connection[]> {
  return Promise.all(Array.from({ length: size }, () => Connection.open(port, onFailure)));
}

/** Runs `body` with a pool; any connection failure rejects the round. Closes the pool in every case. */
async function withPool<T>(
  port: number,
  size: number,
  body: (pool: Connection[], failed: Promise<never>) => Promise<T>,
): Promise<T> {
  let reject: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, r) => {
    reject = r;
  });
  failed.catch(() => {});
  const pool = await openPool(port, size, (error) => reject(error));
  try {
    return await Promise.race([body(pool, failed), failed]);
  } finally {
    for (const connection of pool) connection.close();
  }
}

/**
 * A closed loop on `connections` connections: each sends its first request, then the request `next` derives
 * from each answer (`undefined` ends the round with an error). Completions inside the window are counted.
 */
async function closedLoop(
  command: { id: number; port: number; warmupMs: number; durationMs: number },
  first: readonly Buffer[],
  next: (status: number, body: Buffer, previous: Buffer) => Buffer | Error,
  right: (status: number, body: Buffer, previous: Buffer) => boolean,
): Promise<LoadResult> {
  return withPool(command.port, first.length, async (pool, failed) => {
    const statuses: Record<string, number> = {};
    const latencies: number[] = [];
    let wrong = 0;
    let wrongSample: string | undefined;
    let counting = false;
    let stopping = false;
    let inFlight = 0;
    let broken: Error | undefined;
    let drained: () => void = () => {};
    const allDrained = new Promise<void>((resolve) => {
      drained = resolve;
    });
    const fire = (connection: Connection, request: Buffer): void => {
      const sent = performance.now();
      inFlight++;
      connection.send(request, (status, body) => {
        const now = performance.now();
        inFlight--;
        statuses[status] = (statuses[status] ?? 0) + 1;
        const isRight = status !== 200 || right(status, body, request);
        if (!isRight) {
          wrong++;
          wrongSample ??= body.toString("utf8").slice(0, 300);
        }
        const following = next(status, body, request);
        if (following instanceof Error) broken ??= following;
        else if (counting && isRight) latencies.push(now - sent);
        if (!stopping && !(following instanceof Error)) fire(connection, following);
        else if (inFlight === 0) drained();
      });
    };
    for (const [i, connection] of pool.entries()) fire(connection, first[i] as Buffer);
    await sleep(command.warmupMs);
    post({ type: "window", id: command.id, phase: "open" });
    const start = performance.now();
    counting = true;
    await sleep(command.durationMs);
    counting = false;
    const end = performance.now();
    post({ type: "window", id: command.id, phase: "close" });
    stopping = true;
    if (inFlight > 0) await Promise.race([allDrained, failed]);
    if (broken) throw broken;
    return {
      requests: latencies.length,
      windowMs: end - start,
      statuses,
      wrong,
      ...(wrongSample === undefined ? {} : { wrongSample }),
      skipped: 0,
      latencyMs: summarize(latencies),
    };
  });
}

/** `load`: every connection sends the same request again and again. */
function runLoad(command: Extract<LoadCommand, { type: "load" }>): Promise<LoadResult> {
  const request = Buffer.from(command.request, "latin1");
  const expected = command.expect === undefined ? undefined : new RegExp(command.expect.pattern);
  return closedLoop(
    command,
    Array.from({ length: command.connections }, () => request),
    (_status, _body, previous) => previous,
    (_status, body) => expected === undefined || expected.test(body.toString("utf8")),
  );
}

async function runProbe(command: Extract<LoadCommand, { type: "probe" }>): Promise<LoadResult> {
  const request = Buffer.from(command.request, "latin1");
  return withPool(command.port, command.connections, async (pool, failed) => {
    const statuses: Record<string, number> = {};
    const latencies: number[] = [];
    const interval = 1000 / command.ratePerSecond;
    const windowStart = performance.now() + command.warmupMs;
    const windowEnd = windowStart + command.durationMs;
    let skipped = 0;
    let inFlight = 0;
    let next = performance.now();
    let opened = false;
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const tick = (): void => {
      const now = performance.now();
      if (!opened && now >= windowStart) {
        opened = true;
        post({ type: "window", id: command.id, phase: "open" });
      }
      if (now >= windowEnd) {
        post({ type: "window", id: command.id, phase: "close" });
        if (inFlight === 0) resolveDone();
        next = Number.POSITIVE_INFINITY;
        return;
      }
      while (next <= now) {
        next += interval;
        const connection = pool.find((c) => !c.busy);
        const counted = now >= windowStart;
        if (connection === undefined) {
          if (counted) skipped++;
          continue;
        }
        const sent = performance.now();
        inFlight++;
        connection.send(request, (status) => {
          const received = performance.now();
          inFlight--;
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (counted) latencies.push(received - sent);
          if (next === Number.POSITIVE_INFINITY && inFlight === 0) resolveDone();
        });
      }
      setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
    await Promise.race([done, failed]);
    return {
      requests: latencies.length,
      windowMs: command.durationMs,
      statuses,
      wrong: 0,
      skipped,
      latencyMs: summarize(latencies),
    };
  });
}

const REFRESH_TOKEN = /"refresh_token":"([^"]+)"/;

/**
 * `chain`: closed loop like `load`, but each connection carries its own refresh token: the request body is
 * the template with `{{token}}` replaced, and each 200 answer's `refresh_token` is the next request's.
 */
function runChain(command: Extract<LoadCommand, { type: "chain" }>): Promise<LoadResult> {
  /** The refresh token each request presents, by the request's bytes. */
  const presented = new WeakMap<Buffer, string>();
  const build = (token: string): Buffer => {
    const body = command.body.replace("{{token}}", encodeURIComponent(token));
    const request = Buffer.from(
      `${command.head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      "latin1",
    );
    presented.set(request, token);
    return request;
  };
  const expected = command.expect === undefined ? undefined : new RegExp(command.expect.pattern);
  return closedLoop(
    command,
    command.tokens.map(build),
    (status, body) => {
      const token = status === 200 ? REFRESH_TOKEN.exec(body.toString("utf8"))?.[1] : undefined;
      return token === undefined
        ? new Error(`chain broken: ${status} ${body.toString("utf8").slice(0, 200)}`)
        : build(token);
    },
    // Right: a refresh token that is not the one presented (rotation), and what `expect` asks for.
    (_status, body, previous) => {
      const text = body.toString("utf8");
      const token = REFRESH_TOKEN.exec(text)?.[1];
      return (
        token !== undefined &&
        token !== presented.get(previous) &&
        (expected === undefined || expected.test(text))
      );
    },
  );
}

parentPort?.on("message", (command: LoadCommand) => {
  const run =
    command.type === "load"
      ? runLoad(command)
      : command.type === "chain"
        ? runChain(command)
        : runProbe(command);
  run.then(
    (result) => post({ type: "result", id: command.id, result }),
    (error: unknown) =>
      post({
        type: "error",
        id: command.id,
        message: error instanceof Error ? error.message : String(error),
      }),
  );
});
