/**
 * Benchmark entry point (`npm run bench`, or `npm run bench -- jwt` to run only benchmarks whose name
 * contains a filter). Runs each selected benchmark, prints its Markdown report to stdout (progress goes to
 * stderr) and writes `bench/results/<name>.json` and `.md` at the repository root, wherever it is run from.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { accountsBenchmark } from "./accounts.js";
import { bffBenchmark } from "./bff.js";
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
  const resultsDir = join(root, "bench", "results");
  for (const benchmark of selected) {
    const started = Date.now();
    const report = await runBenchmark(benchmark, DEFAULT_RUN_OPTIONS);
    const [json, md] = await writeReport(report, resultsDir);
    process.stdout.write(`\n${toMarkdown(report)}\n`);
    DEFAULT_RUN_OPTIONS.log(
      `# ${benchmark.name}: ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${relative(root, json)} and ${relative(root, md)}`,
    );
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
