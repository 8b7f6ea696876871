/**
 * Benchmark entry point (`npm run bench`, or `npm run bench -- jwt` to run only benchmarks whose name
 * contains a filter). Runs each selected benchmark, prints its Markdown report to stdout (progress goes to
 * stderr) and writes `bench/results/<name>.json` and `.md` at the repository root, wherever it is run from
 * (or in `TESSERA_BENCH_RESULTS`, e.g. for a `TESSERA_BENCH_QUICK=1` smoke run: see runner.ts).
 *
 * Every suite closes what it opened (its `teardown`), so the process ends by itself once the results are
 * written. Should a handle still be open a few seconds later, the process lists what is left (so the leak can
 * be fixed), then exits with a non-zero code rather than hang.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { accountsBenchmark } from "./accounts.js";
import { bffBenchmark } from "./bff.js";
import { eventsBenchmark } from "./events.js";
import { jwtBenchmark } from "./jwt.js";
import { oauthBenchmark } from "./oauth.js";
import { type Benchmark, DEFAULT_RUN_OPTIONS, runBenchmark, toMarkdown, writeReport } from "./runner.js";
import { verifyBenchmark } from "./verify.js";

const BENCHMARKS: readonly Benchmark[] = [
  jwtBenchmark,
  accountsBenchmark,
  oauthBenchmark,
  verifyBenchmark,
  bffBenchmark,
  eventsBenchmark,
];

/** The directory holding package.json, searched upward from this file (bench/ or dist/bench/). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json not found above bench/");
    dir = parent;
  }
  return dir;
}

async function main(filters: readonly string[]): Promise<void> {
  const selected = BENCHMARKS.filter(
    (b) => filters.length === 0 || filters.some((f) => b.name.includes(f.toLowerCase())),
  );
  if (selected.length === 0) {
    throw new Error(
      `no benchmark matches ${filters.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`,
    );
  }
  const root = projectRoot();
  const resultsDir = process.env.TESSERA_BENCH_RESULTS
    ? resolve(process.env.TESSERA_BENCH_RESULTS)
    : join(root, "bench", "results");
  for (const benchmark of selected) {
    const started = Date.now();
    const report = await runBenchmark(benchmark, DEFAULT_RUN_OPTIONS);
    const [json, md] = await writeReport(report, resultsDir);
    process.stdout.write(`\n${toMarkdown(report)}\n`);
    if (report.failures.length > 0) process.exitCode = 1;
    DEFAULT_RUN_OPTIONS.log(
      `# ${benchmark.name}: ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${relative(root, json)} and ${relative(root, md)}`,
    );
  }
}

/** Seconds after the last report during which open handles are allowed to close by themselves. */
const LINGER_MS = 5000;

/** Sockets and servers still open, with their addresses (Node's undocumented handle list, best effort). */
function describeHandles(): string {
  const list = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const described = list.flatMap((handle) => {
    const h = handle as {
      constructor?: { name?: string };
      localPort?: number;
      remotePort?: number;
      address?: () => unknown;
      listening?: boolean;
    };
    const kind = h.constructor?.name ?? "?";
    if (kind === "Socket" && h.localPort !== undefined) return [`socket ${h.localPort}→${h.remotePort}`];
    if (kind === "Server" && h.listening) return [`server ${JSON.stringify(h.address?.())}`];
    return kind === "WriteStream" || kind === "ReadStream" ? [] : [kind];
  });
  return described.length === 0 ? "" : ` (${described.join("; ")})`;
}

function watchForLeaks(): void {
  setTimeout(() => {
    const left = process.getActiveResourcesInfo().filter((r) => r !== "Timeout");
    process.stderr.write(
      `bench: still running ${LINGER_MS / 1000} s after the last report; open handles: ${left.join(", ") || "none listed"}` +
        `${describeHandles()}. ` +
        "A suite's teardown left them open (fix it there); exiting.\n",
    );
    process.exit(process.exitCode || 3);
  }, LINGER_MS).unref();
}

main(process.argv.slice(2))
  .catch((error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  })
  .finally(watchForLeaks);
