/**
 * The shared benchmark harness: every benchmark measures its contenders in one run on one
 * machine and prints ratios against a baseline, never absolute pass/fail thresholds.
 * Measurement itself is mitata's (warm-up, outlier-resistant statistics).
 */
import os from "node:os";
import { measure } from "mitata";

/** One contender's figures. */
export interface Measured {
  name: string;
  /** Mean time per operation in nanoseconds. */
  avgNs: number;
  /** 99th percentile time per operation in nanoseconds. */
  p99Ns: number;
}

/**
 * Measure one operation (sync or async) with mitata.
 *
 * @example
 * const hit = await time("cachePage hit", () => handler(request));
 */
export async function time(name: string, operation: () => unknown): Promise<Measured> {
  const stats = await measure(operation, { min_cpu_time: 500 * 1e6 });
  return { name, avgNs: stats.avg, p99Ns: stats.p99 };
}

/**
 * Run `operation` from `concurrency` concurrent loops for `durationMs` and return operations per
 * second: the throughput figure for clients that pipeline or pool (memcached, HTTP).
 *
 * @example
 * const opsPerSecond = await throughput(50, 2000, () => client.get("k"));
 */
export async function throughput(concurrency: number, durationMs: number, operation: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await operation(); // warm-up
  let done = 0;
  const deadline = performance.now() + durationMs;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      await operation();
      done++;
    }
  }));
  return done / ((performance.now() - start) / 1000);
}

/** A line describing this machine, printed at the top of every benchmark. */
export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.arch()}`;
}

/**
 * Print a comparison table: each row's time and its ratio to the first row (the baseline).
 * A ratio above 1 means slower than the baseline.
 *
 * @example
 * report("memory get, 10k entries", [await time("lru-cache", ...), await time("edgecache memory", ...)]);
 */
export function report(title: string, rows: readonly Measured[]): void {
  const [baseline] = rows;
  if (!baseline) return;
  console.log(`\n${title}`);
  for (const row of rows) {
    const ratio = row.avgNs / baseline.avgNs;
    console.log(`  ${row.name.padEnd(36)} ${formatNs(row.avgNs).padStart(10)}/op  p99 ${formatNs(row.p99Ns).padStart(10)}  ${ratio.toFixed(2)}x`);
  }
}

/**
 * Print throughput figures (operations per second) with each row's ratio to the first row.
 * A ratio above 1 means more operations per second than the baseline.
 *
 * @example
 * reportThroughput("get, concurrency 50", [["memjs", 41000], ["edgecache", 98000]]);
 */
export function reportThroughput(title: string, rows: ReadonlyArray<readonly [string, number]>): void {
  const baseline = rows[0]?.[1];
  if (!baseline) return;
  console.log(`\n${title}`);
  for (const [name, opsPerSecond] of rows) {
    console.log(`  ${name.padEnd(36)} ${Math.round(opsPerSecond).toLocaleString("en-US").padStart(12)} ops/s  ${(opsPerSecond / baseline).toFixed(2)}x`);
  }
}

function formatNs(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}
