/**
 * A small benchmark runner: measures ops/s of named groups of cases and writes JSON and Markdown reports.
 *
 * Why this shape: the bench machine has 2 cores and shares them with other work, so single long timings
 * drift. Each case is warmed up and its batch size calibrated to ~150 ms (and re-aimed after every round
 * from the median so far); then every group runs several
 * interleaved rounds (round-robin over its cases, starting one case later each round) so that machine
 * noise hits all cases of a group alike. Each batch is timed with `process.hrtime.bigint()`; a case reports
 * the median ops/s over the rounds, with min and max, and its ratio to the group's baseline.
 *
 * Cases may be sync or async (a case returning a thenable is awaited in its loop). A case a library cannot
 * run is declared `unsupported` with a reason: it is reported as a note, never as zero.
 *
 * A suite's `teardown` runs once its groups are done (also when one fails): it closes what `setup` opened
 * (servers, database pools, verifiers' pollers, worker threads), so the process exits after the results are
 * written. A suite reports answers that were fast but wrong in `failures`: they are flagged in the report.
 *
 * `TESSERA_BENCH_QUICK=1`: a smoke run (short warm-up and batches, one round; load suites shorten their
 * rounds through `loadRound`), to check that a suite runs, checks its answers and exits; its figures mean
 * nothing. `TESSERA_BENCH_RESULTS=<dir>` writes the reports there instead of bench/results.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { arch, cpus, loadavg, platform } from "node:os";
import { join } from "node:path";

export type BenchFn = () => unknown;

export interface BenchCase {
  readonly name: string;
  /** The operation measured; absent when `unsupported` is set. */
  readonly fn?: BenchFn;
  /** Why this case cannot run (e.g. the library lacks the algorithm). */
  readonly unsupported?: string;
}

export interface BenchGroup {
  /** E.g. `EdDSA sign`. */
  readonly name: string;
  /** Name of the case ratios are computed against. */
  readonly baseline: string;
  readonly cases: readonly BenchCase[];
}

/** A goal checked in every group that holds `case`: its median must reach `minRatio` of the baseline's. */
export interface BenchTarget {
  readonly case: string;
  readonly minRatio: number;
}

export interface BenchSuite {
  readonly groups: readonly BenchGroup[];
  /** Extra lines for the report (setup facts, caveats). */
  readonly notes?: readonly string[];
  /**
   * Measurements whose answers were wrong (e.g. introspection answering `active: false`): flagged in the
   * report; those answers were not counted as throughput.
   */
  readonly failures?: readonly string[];
  /** Closes everything `setup` opened; called after the groups ran, whether they succeeded or not. */
  teardown?(): Promise<void>;
}

export interface Benchmark {
  /** Short id, used for the filter argument and the result file names. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly target?: BenchTarget;
  /** Prepares keys, fixtures and sanity checks; throws if anything is wrong. */
  setup(): Promise<BenchSuite>;
}

export interface RunOptions {
  /** Minimum warm-up time per case before calibration ends. */
  readonly warmupMs: number;
  /** Target duration of one timed batch. */
  readonly batchMs: number;
  /** Interleaved rounds per group (odd, so the median is a real sample). */
  readonly rounds: number;
  /** Progress output (not the report). */
  readonly log: (line: string) => void;
}

/** `TESSERA_BENCH_QUICK=1`: a smoke run whose figures mean nothing (see the header). */
export const QUICK = process.env.TESSERA_BENCH_QUICK === "1";

export const DEFAULT_RUN_OPTIONS: RunOptions = {
  warmupMs: QUICK ? 30 : 400,
  batchMs: QUICK ? 20 : 150,
  rounds: QUICK ? 1 : 11,
  log: (line) => process.stderr.write(`${line}\n`),
};

export interface LoadRound {
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly rounds: number;
}

/** A load suite's round settings: `full`, or a short single round under `TESSERA_BENCH_QUICK=1`. */
export function loadRound(full: LoadRound): LoadRound {
  return QUICK ? { warmupMs: 100, durationMs: 300, rounds: 1 } : full;
}

export interface CaseResult {
  name: string;
  supported: boolean;
  unsupported?: string;
  async?: boolean;
  /** Operations per timed batch, in round order. */
  batchSizes?: number[];
  medianOps?: number;
  minOps?: number;
  maxOps?: number;
  /** Median ops/s divided by the baseline's median ops/s. */
  ratio?: number;
  /** Median over rounds of (this case's ops/s ÷ the baseline's ops/s in the same round). */
  pairedRatio?: number;
  /** ops/s of each round, in round order. */
  samples?: number[];
}

export interface GroupResult {
  name: string;
  baseline: string;
  cases: CaseResult[];
}

export interface TargetCheck {
  group: string;
  case: string;
  ratio: number;
  minRatio: number;
  met: boolean;
}

export interface BenchReport {
  name: string;
  title: string;
  description: string;
  date: string;
  node: string;
  v8: string;
  platform: string;
  cpu: { model: string; cores: number };
  /** 1-minute load average before and after the run: other work on the machine shows here. */
  loadAverage: { start: number; end: number };
  settings: { warmupMs: number; batchMs: number; rounds: number };
  groups: GroupResult[];
  target?: BenchTarget;
  targetChecks: TargetCheck[];
  /** Wrong answers seen by the suite's checks (empty when every answer meant what it should). */
  failures: string[];
  /** Present (true) for a `TESSERA_BENCH_QUICK=1` smoke run. */
  quick?: boolean;
  notes: string[];
}

/** Keeps results alive so no engine could drop the measured calls as dead code. */
let sink: unknown;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

interface Runnable {
  readonly name: string;
  readonly fn: BenchFn;
  readonly async: boolean;
}

/** Runs `fn` `n` times and returns the elapsed nanoseconds. */
async function timeBatch(runnable: Runnable, n: number): Promise<bigint> {
  const { fn } = runnable;
  if (runnable.async) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink = await fn();
    return process.hrtime.bigint() - start;
  }
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink = fn();
  return process.hrtime.bigint() - start;
}

/** Lets timers, pending promises and I/O run between batches, outside any timing. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Warms a case up for at least `warmupMs`, then returns the batch size that takes about `batchMs`. */
async function warmUpAndCalibrate(runnable: Runnable, options: RunOptions): Promise<number> {
  const minSampleMs = 25;
  let n = 1;
  let spentMs = 0;
  for (;;) {
    const ms = Number(await timeBatch(runnable, n)) / 1e6;
    spentMs += ms;
    await yieldToEventLoop();
    if (ms >= minSampleMs && spentMs >= options.warmupMs) {
      return Math.max(1, Math.round((n * options.batchMs) / ms));
    }
    n = ms < minSampleMs ? n * 2 : Math.max(1, Math.round((n * 50) / ms));
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function runGroup(group: BenchGroup, options: RunOptions): Promise<GroupResult> {
  const names = new Set(group.cases.map((c) => c.name));
  if (names.size !== group.cases.length) throw new Error(`${group.name}: duplicate case names`);
  const baselineCase = group.cases.find((c) => c.name === group.baseline);
  if (baselineCase?.fn === undefined) throw new Error(`${group.name}: baseline ${group.baseline} must run`);

  const runnables: Runnable[] = [];
  for (const c of group.cases) {
    if (c.fn === undefined) continue;
    // One call up front tells sync from async and surfaces errors before any timing.
    const first = c.fn();
    const async = isThenable(first);
    if (async) await first;
    runnables.push({ name: c.name, fn: c.fn, async });
  }

  const batchSizes = new Map<string, number>();
  for (const r of runnables) batchSizes.set(r.name, await warmUpAndCalibrate(r, options));

  const samples = new Map<string, number[]>(runnables.map((r) => [r.name, []]));
  const batches = new Map<string, number[]>(runnables.map((r) => [r.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < runnables.length; i++) {
      const r = runnables[(round + i) % runnables.length]!;
      const n = batchSizes.get(r.name)!;
      const ns = await timeBatch(r, n);
      batches.get(r.name)!.push(n);
      const caseSamples = samples.get(r.name)!;
      caseSamples.push((n * 1e9) / Number(ns));
      // Calibration can happen in a noisy moment: keep later batches near `batchMs` from the median so far.
      batchSizes.set(r.name, Math.max(1, Math.round((median(caseSamples) * options.batchMs) / 1e3)));
      await yieldToEventLoop();
    }
  }

  const baselineSamples = samples.get(group.baseline)!;
  const baselineMedian = median(baselineSamples);
  const cases: CaseResult[] = group.cases.map((c) => {
    const s = samples.get(c.name);
    const runnable = runnables.find((r) => r.name === c.name);
    if (s === undefined || runnable === undefined) {
      return { name: c.name, supported: false, unsupported: c.unsupported ?? "not run" };
    }
    const medianOps = median(s);
    return {
      name: c.name,
      supported: true,
      async: runnable.async,
      batchSizes: batches.get(c.name)!,
      medianOps,
      minOps: Math.min(...s),
      maxOps: Math.max(...s),
      ratio: medianOps / baselineMedian,
      pairedRatio: median(s.map((ops, i) => ops / baselineSamples[i]!)),
      samples: s,
    };
  });
  return { name: group.name, baseline: group.baseline, cases };
}

function checkTarget(groups: readonly GroupResult[], target: BenchTarget | undefined): TargetCheck[] {
  if (target === undefined) return [];
  const checks: TargetCheck[] = [];
  for (const group of groups) {
    const c = group.cases.find((x) => x.name === target.case);
    if (c?.ratio === undefined) continue;
    checks.push({
      group: group.name,
      case: c.name,
      ratio: c.ratio,
      minRatio: target.minRatio,
      met: c.ratio >= target.minRatio,
    });
  }
  return checks;
}

/** Runs every group of a benchmark, one after another. */
export async function runBenchmark(
  benchmark: Benchmark,
  options: RunOptions = DEFAULT_RUN_OPTIONS,
): Promise<BenchReport> {
  options.log(`# ${benchmark.name}: setting up`);
  const loadAtStart = loadavg()[0]!;
  const suite = await benchmark.setup();
  const groups: GroupResult[] = [];
  try {
    for (const group of suite.groups) {
      const started = Date.now();
      const result = await runGroup(group, options);
      groups.push(result);
      const summary = result.cases
        .filter((c) => c.medianOps !== undefined)
        .map((c) => `${c.name} ${formatOps(c.medianOps!)}`)
        .join(", ");
      options.log(`  ${group.name} (${((Date.now() - started) / 1000).toFixed(1)} s): ${summary}`);
    }
  } finally {
    await suite.teardown?.();
  }
  const failures = [...(suite.failures ?? [])];
  for (const failure of failures) options.log(`  WRONG ANSWERS: ${failure}`);
  const cpu = cpus();
  return {
    name: benchmark.name,
    title: benchmark.title,
    description: benchmark.description,
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${arch()}`,
    cpu: { model: cpu[0]?.model.trim() ?? "unknown", cores: cpu.length },
    loadAverage: { start: round2(loadAtStart), end: round2(loadavg()[0]!) },
    settings: { warmupMs: options.warmupMs, batchMs: options.batchMs, rounds: options.rounds },
    groups,
    ...(benchmark.target === undefined ? {} : { target: benchmark.target }),
    targetChecks: checkTarget(groups, benchmark.target),
    failures,
    ...(QUICK ? { quick: true } : {}),
    notes: [...(suite.notes ?? [])],
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function formatOps(ops: number): string {
  return Math.round(ops).toLocaleString("en-US");
}

function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

/** One line per target check, e.g. `- EdDSA sign: tessera at 97.1% of raw node:crypto (target ≥ 85%): met`. */
export function targetLines(report: BenchReport): string[] {
  return report.targetChecks.map((check) => {
    const baseline = report.groups.find((g) => g.name === check.group)?.baseline ?? "baseline";
    const verdict = check.met ? "met" : "**NOT MET**";
    return `- ${check.group}: ${check.case} at ${formatPercent(check.ratio)} of ${baseline} (target ≥ ${formatPercent(check.minRatio)}): ${verdict}`;
  });
}

/** The results table: one row per supported case; unsupported cases become notes under it. */
export function markdownTable(report: BenchReport): string {
  const rows = [
    "| Benchmark | Case | ops/s (median) | min – max ops/s | % of baseline |",
    "| --- | --- | ---: | ---: | ---: |",
  ];
  for (const group of report.groups) {
    for (const c of group.cases) {
      if (!c.supported) continue;
      const pct = c.name === group.baseline ? "100% (baseline)" : formatPercent(c.ratio!);
      rows.push(
        `| ${group.name} | ${c.name} | ${formatOps(c.medianOps!)} | ${formatOps(c.minOps!)} – ${formatOps(c.maxOps!)} | ${pct} |`,
      );
    }
  }
  return rows.join("\n");
}

function unsupportedLines(report: BenchReport): string[] {
  const lines: string[] = [];
  for (const group of report.groups) {
    for (const c of group.cases) {
      if (!c.supported) lines.push(`- ${group.name} / ${c.name}: not supported (${c.unsupported}); omitted.`);
    }
  }
  return lines;
}

export function toMarkdown(report: BenchReport): string {
  const { settings } = report;
  const parts = [
    `# ${report.title}`,
    "",
    report.description,
    "",
    `- Date: ${report.date}`,
    `- Node ${report.node} (V8 ${report.v8}), ${report.platform}`,
    `- CPU: ${report.cpu.model} × ${report.cpu.cores}; 1-minute load average ${report.loadAverage.start} at ` +
      `start, ${report.loadAverage.end} at end (well above 1 means other work competed for the cores)`,
    `- Method: warm-up ≥ ${settings.warmupMs} ms per case, then ${settings.rounds} interleaved rounds ` +
      `(round-robin over each group's cases), each a batch of ~${settings.batchMs} ms timed with ` +
      "`process.hrtime.bigint()`; median ops/s, min – max over the rounds.",
    "",
    markdownTable(report),
  ];
  if (report.quick === true) {
    parts.splice(2, 0, "**Smoke run (TESSERA_BENCH_QUICK=1): the figures mean nothing.**", "");
  }
  if (report.failures.length > 0) {
    parts.push(
      "",
      "## WRONG ANSWERS: these measurements are not valid",
      "",
      "Answers with the right status but the wrong meaning were counted as errors, not as throughput:",
      "",
      ...report.failures.map((f) => `- ${f}`),
    );
  }
  const unsupported = unsupportedLines(report);
  if (unsupported.length > 0) parts.push("", ...unsupported);
  if (report.target !== undefined) {
    parts.push(
      "",
      `## Target: ${report.target.case} ≥ ${formatPercent(report.target.minRatio)} of the baseline`,
      "",
      ...targetLines(report),
    );
  }
  if (report.notes.length > 0) parts.push("", "## Notes", "", ...report.notes.map((n) => `- ${n}`));
  return `${parts.join("\n")}\n`;
}

/** Writes `<dir>/<name>.json` and `<dir>/<name>.md`; returns their paths. */
export async function writeReport(report: BenchReport, dir: string): Promise<[string, string]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${report.name}.json`);
  const md = join(dir, `${report.name}.md`);
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(md, toMarkdown(report));
  return [json, md];
}

/** Only so the sink is observably used. */
export function benchSink(): unknown {
  return sink;
}
