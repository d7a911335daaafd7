/**
 * Page-cache hit latency inside workerd (Miniflare's local Cache API and KV): Hono's own
 * `cache()` middleware against edgecache's `cachePage` middleware on the Cache API adapter and
 * on the Workers KV adapter, as ratios from one run, for a small page (2 KiB) and a large one
 * (1 MiB, where streaming the stored body matters). The target: cachePage on the Cache API no
 * slower than Hono's middleware. Run alone with `npm run bench -- workers`.
 *
 * Each contender is its own Worker, so its own isolate, as each would be deployed: in one shared
 * isolate the edgecache contenders would run the same engine code with different backends
 * and options, and the mixed shapes would slow each other's inline caches and garbage collection,
 * a cost Hono's lone contender would not pay. The contenders take turns in rounds, and each ratio
 * is the median over rounds of the time against Hono's in the same round: a machine whose speed
 * drifts over seconds (a shared one) moves a whole round, not one contender. Hono's middleware
 * runs twice, in two isolates: how far apart the two read (the A/A row) is the noise that every
 * other ratio of the run carries. Each median comes with its 95% interval, bootstrapped over the
 * rounds: a contender whose interval holds 1.00 cannot be told apart from Hono's in that run.
 *
 * A third timing replaces `caches` in each isolate with an in-memory one: what is left of a hit is
 * the middleware's own work (Hono's router included) and a Response built from stored bytes, so it
 * shows what the middleware costs without the cache service that takes most of a real hit.
 *
 * What one isolate draws (heap layout, JIT choices) stays with it for the whole run, so the first
 * timing's intervals leave it out and its ratios move between runs by more than they admit. A
 * fourth timing gives Hono's middleware (twice) and cachePage on the Cache API workerd processes
 * of their own, made afresh six times, and shows the ratio of each repetition.
 *
 * Wall time on a shared machine moves by several percent between runs, so where valgrind is
 * installed the bench also counts the instructions workerd executes per 2 KiB hit (its whole
 * process, Miniflare's cache service included): each contender in its own workerd under
 * callgrind, counted over rounds of hits after a warm-up. Counts barely move between runs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare, type WorkerOptions } from "miniflare";
import { CONTENDERS, type Round } from "./workers/worker.ts";
import { machine } from "./lib.ts";

/** The page sizes timed, and hits per round for each. */
const SIZES = [
  { kib: 2, hitsPerRound: 100 },
  { kib: 1024, hitsPerRound: 50 },
];
/** A multiple of the number of contenders (6), so each takes every turn in the order equally often (24 for the four of `ALONE`). */
const ROUNDS = 42;
/** The timing in fresh processes: which contenders, how often each gets a new workerd, and its rounds (a multiple of 3, as `ROUNDS`). */
const FRESH = { contenders: ["hono-cache", "hono-cache-again", "cache-api"] as Array<keyof typeof CONTENDERS>, repetitions: 6, rounds: 21, hitsPerRound: 200 };
/** Instruction counts: rounds, hits per round, and how much slower a hit runs under valgrind. */
const COUNTED = { rounds: 3, hitsPerRound: 400, slowdown: 50 };

const bundle = await build({
  entryPoints: [fileURLToPath(new URL("./workers/worker.ts", import.meta.url))],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["node:*"], // lru-cache's optional diagnostics_channel import, which fails quietly without nodejs_compat
  write: false,
  logLevel: "error",
});
const names = Object.keys(CONTENDERS) as Array<keyof typeof CONTENDERS>;
/** The contenders timed without Miniflare's cache service: those over the Cache API, each reading the token once a second. */
const ALONE: Array<keyof typeof CONTENDERS> = ["hono-cache", "hono-cache-again", "cache-api", "cache-api-plain"];
/** The workerd binary Miniflare runs (the `workerd` package's default export). */
const workerd = (createRequire(import.meta.url)("workerd") as { default: string }).default;

/** One contender's Worker. */
const workerOptions = (name: keyof typeof CONTENDERS, bindings: Record<string, string> = {}): WorkerOptions => ({
  name,
  modules: [{ type: "ESModule", path: "bench-worker.mjs", contents: bundle.outputFiles[0]!.text }],
  compatibilityDate: "2026-04-26",
  bindings: { CONTENDER: name, ...bindings },
  kvNamespaces: ["CACHE_KV"],
});

/** Ask a bench Worker for `path`, failing on an error answer. */
async function ask(mf: Miniflare, name: string, path: string): Promise<Response> {
  const response = await (await mf.getWorker(name)).fetch(`http://bench.example${path}`);
  if (!response.ok) throw new Error(`the bench Worker answered ${response.status}: ${await response.text()}`);
  return response as unknown as Response;
}

/** Fill a contender's page, then run one untimed round (the JIT; the allocator, which a 1 MiB page taxes on its first reads). */
async function prepare(mf: Miniflare, name: string, kib: number, hits: number): Promise<void> {
  await (await ask(mf, name, `/fill?kib=${kib}`)).arrayBuffer();
  await (await ask(mf, name, `/round?kib=${kib}&n=${hits}`)).arrayBuffer();
}

/** The median of `values`. */
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Where the median of `values` would fall in 95% of runs like this one: a bootstrap over the
 * rounds (resampled 2000 times, with a fixed seed so the same rounds give the same interval).
 */
function medianInterval(values: number[]): [number, number] {
  let seed = 0x9e3779b9;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0; // mulberry32
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const medians = Array.from({ length: 2000 }, () => median(values.map(() => values[Math.floor(random() * values.length)]!))).sort((a, b) => a - b);
  return [medians[49]!, medians[1949]!];
}

/** One timing: which contenders, how many rounds, with which extra bindings. */
interface Timing {
  title: (size: string) => string;
  contenders: Array<keyof typeof CONTENDERS>;
  sizes: typeof SIZES;
  rounds: number;
  bindings?: Record<string, string>;
}

/** Hit latency: the contenders in one workerd, taking turns in rounds. Exits non-zero if any timed request missed. */
async function timeHits({ title, contenders, sizes, rounds, bindings }: Timing): Promise<void> {
  const mf = new Miniflare({ workers: contenders.map((name) => workerOptions(name, bindings)) });
  try {
    for (const { kib, hitsPerRound } of sizes) {
      for (const name of contenders) await prepare(mf, name, kib, hitsPerRound);
      const roundMs = contenders.map(() => [] as number[]);
      const handlerRuns = contenders.map(() => 0);
      for (let r = 0; r < rounds; r++) {
        for (let turn = 0; turn < contenders.length; turn++) {
          const index = (r + turn) % contenders.length;
          const round = (await (await ask(mf, contenders[index]!, `/round?kib=${kib}&n=${hitsPerRound}`)).json()) as Round;
          roundMs[index]![r] = round.ms;
          handlerRuns[index] = round.handlerRuns;
        }
      }
      console.log(`\n${title(kib < 1024 ? `${kib} KiB` : `${kib / 1024} MiB`)}, ${hitsPerRound * rounds} hits each (interleaved rounds, one isolate each)`);
      const baseline = roundMs[0]!;
      contenders.forEach((name, index) => {
        const ms = roundMs[index]!;
        const usPerHit = (ms.reduce((sum, each) => sum + each, 0) * 1000) / (hitsPerRound * rounds);
        const ratios = ms.map((each, r) => each / baseline[r]!);
        const [low, high] = medianInterval(ratios);
        const spread = index === 0 ? "baseline" : `95% interval ${low.toFixed(2)}–${high.toFixed(2)}`;
        const note = handlerRuns[index] === 1 ? "" : `  (handler ran ${handlerRuns[index]} times: not all hits)`;
        console.log(`  ${CONTENDERS[name].label.padEnd(36)} ${usPerHit.toFixed(1).padStart(8)} µs/hit  ${median(ratios).toFixed(2)}x  (${spread})${note}`);
      });
      if (handlerRuns.some((runs) => runs !== 1)) process.exitCode = 1;
    }
  } finally {
    await mf.dispose();
  }
}

/**
 * Hit latency with each contender in workerd processes of its own, made afresh for every
 * repetition: what one isolate or process draws (heap layout, JIT choices) stays with it for a
 * whole run of `timeHits`, so its interval leaves that out; here each repetition draws anew, and
 * the spread of the per-repetition ratios shows it. Rounds interleave within a repetition.
 */
async function timeFreshProcesses(): Promise<void> {
  const { contenders, repetitions, rounds, hitsPerRound } = FRESH;
  const medians = contenders.map(() => [] as number[]);
  for (let p = 0; p < repetitions; p++) {
    const instances = contenders.map((name) => new Miniflare({ workers: [workerOptions(name)] }));
    try {
      for (const [i, name] of contenders.entries()) await prepare(instances[i]!, name, 2, hitsPerRound);
      const usPerHit = contenders.map(() => [] as number[]);
      for (let r = 0; r < rounds; r++) {
        for (let turn = 0; turn < contenders.length; turn++) {
          const i = (r + turn) % contenders.length;
          const round = (await (await ask(instances[i]!, contenders[i]!, `/round?kib=2&n=${hitsPerRound}`)).json()) as Round;
          if (round.handlerRuns !== 1) process.exitCode = 1;
          usPerHit[i]!.push((round.ms * 1000) / hitsPerRound);
        }
      }
      usPerHit.forEach((each, i) => medians[i]!.push(median(each)));
    } finally {
      await Promise.all(instances.map((mf) => mf.dispose()));
    }
  }
  console.log(`\ncache hit, one 2 KiB page, each contender in a workerd process of its own, made afresh ${repetitions} times (${rounds} interleaved rounds of ${hitsPerRound} hits each time)`);
  contenders.forEach((name, i) => {
    const ratios = medians[i]!.map((us, p) => us / medians[0]![p]!);
    const spread = i === 0 ? "baseline" : `per repetition ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
    const mean = medians[i]!.reduce((sum, us) => sum + us, 0) / repetitions;
    console.log(`  ${CONTENDERS[name].label.padEnd(36)} ${mean.toFixed(1).padStart(8)} µs/hit  ${median(ratios).toFixed(2)}x  (${spread})`);
  });
}

/**
 * Instructions per 2 KiB hit: each contender in its own workerd under callgrind, all at once
 * (the counts do not depend on what else runs), each round's count taken with callgrind_control.
 */
async function countInstructions(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "edgecache-callgrind-"));
  const wrapper = join(dir, "workerd");
  writeFileSync(wrapper, `#!/bin/sh\nexec valgrind -q --tool=callgrind --callgrind-out-file=${dir}/cg.%p --dump-instr=no "${workerd}" "$@"\n`);
  chmodSync(wrapper, 0o755);
  const previous = process.env.MINIFLARE_WORKERD_PATH;
  process.env.MINIFLARE_WORKERD_PATH = wrapper;
  const instances: Array<{ name: keyof typeof CONTENDERS; mf: Miniflare; pid: string }> = [];
  try {
    for (const name of names) {
      const mf = new Miniflare({ workers: [workerOptions(name, { CLOCK_SLOWDOWN: String(COUNTED.slowdown) })] });
      await mf.ready;
      instances.push({ name, mf, pid: execFileSync("pgrep", ["-n", "-f", wrapper.replace(/\/workerd$/, "")]).toString().trim() });
    }
    /** Instructions the process has executed since its counters were last zeroed. */
    const executed = (pid: string): number => {
      for (const file of readdirSync(dir)) if (file.startsWith(`cg.${pid}`)) rmSync(join(dir, file));
      execFileSync("callgrind_control", ["--dump", pid], { stdio: "ignore" });
      return readdirSync(dir)
        .filter((file) => file.startsWith(`cg.${pid}`))
        .reduce((sum, file) => sum + Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, file), "utf8"))?.[1] ?? 0), 0);
    };
    const counts = await Promise.all(instances.map(async ({ name, mf, pid }) => {
      await prepare(mf, name, 2, COUNTED.hitsPerRound);
      const perHit: number[] = [];
      for (let r = 0; r < COUNTED.rounds; r++) {
        execFileSync("callgrind_control", ["--zero", pid], { stdio: "ignore" });
        const round = (await (await ask(mf, name, `/round?kib=2&n=${COUNTED.hitsPerRound}`)).json()) as Round;
        if (round.handlerRuns !== 1) process.exitCode = 1;
        perHit.push(executed(pid) / COUNTED.hitsPerRound);
      }
      return perHit;
    }));
    console.log(`\ninstructions per hit, one 2 KiB page, ${COUNTED.rounds} rounds of ${COUNTED.hitsPerRound} hits each (valgrind callgrind, one workerd each)`);
    names.forEach((name, index) => {
      const perHit = counts[index]!;
      const lowest = Math.min(...perHit) / Math.min(...counts[0]!);
      console.log(`  ${CONTENDERS[name].label.padEnd(36)} ${(median(perHit) / 1000).toFixed(0).padStart(6)}k/hit  ${(median(perHit) / median(counts[0]!)).toFixed(2)}x  (lowest rounds ${lowest.toFixed(2)}x)`);
    });
  } finally {
    await Promise.all(instances.map(({ mf }) => mf.dispose()));
    if (previous === undefined) delete process.env.MINIFLARE_WORKERD_PATH;
    else process.env.MINIFLARE_WORKERD_PATH = previous;
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`workerd (Miniflare) on ${machine()}`);
await timeHits({ title: (size) => `cache hit, one ${size} page`, contenders: names, sizes: SIZES, rounds: ROUNDS });
await timeHits({
  title: (size) => `the middleware alone: cache hit, one ${size} page, an in-memory Cache in place of Miniflare's`,
  contenders: ALONE,
  sizes: [{ kib: 2, hitsPerRound: 2000 }],
  rounds: 24,
  bindings: { MEMORY_CACHES: "1" },
});
await timeFreshProcesses();
if (spawnSync("valgrind", ["--version"]).status === 0) await countInstructions();
else console.log("\ninstructions per hit: skipped, valgrind is not installed (apt-get install valgrind)");
