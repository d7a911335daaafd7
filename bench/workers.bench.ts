/**
 * Page-cache hit latency inside workerd (Miniflare's local Cache API and KV): Hono's own
 * `cache()` middleware against edgecache's `cachePage` middleware on the Cache API adapter and
 * on the Workers KV adapter, as ratios from one run, for a small page (2 KiB) and a large one
 * (1 MiB, where streaming the stored body matters). The target: cachePage on the Cache API no
 * slower than Hono's middleware. Run alone with `npm run bench -- workers`.
 *
 * The contenders take turns in rounds, and each ratio is the median over rounds of the time
 * against Hono's in the same round: a machine whose speed drifts over seconds (a shared one)
 * moves a whole round, not one contender.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import type { Timing } from "./workers/worker.ts";
import { machine } from "./lib.ts";

/** The page sizes measured, and hits per round for each. */
const SIZES = [
  { kib: 2, hitsPerRound: 150 },
  { kib: 1024, hitsPerRound: 100 },
];
/** A multiple of the number of contenders (4), so each takes every turn in the order equally often. */
const ROUNDS = 12;

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
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "bench-worker.mjs", contents: bundle.outputFiles[0]!.text }],
  compatibilityDate: "2026-04-26",
  kvNamespaces: ["CACHE_KV"],
});
try {
  console.log(`workerd (Miniflare) on ${machine()}`);
  for (const { kib, hitsPerRound } of SIZES) {
    const response = await mf.dispatchFetch(`http://bench.example/run?n=${hitsPerRound}&rounds=${ROUNDS}&kib=${kib}`);
    if (!response.ok) throw new Error(`the bench Worker answered ${response.status}: ${await response.text()}`);
    const timings = (await response.json()) as Timing[];
    console.log(`\ncache hit, one ${kib < 1024 ? `${kib} KiB` : `${kib / 1024} MiB`} page, ${hitsPerRound * ROUNDS} hits each (interleaved rounds)`);
    const baseline = timings[0]!.roundMs;
    for (const { name, nsPerHit, roundMs, handlerRuns } of timings) {
      const ratios = roundMs.map((ms, round) => ms / baseline[round]!).sort((a, b) => a - b);
      const middle = ratios[Math.floor(ratios.length / 2)]!;
      const spread = `rounds ${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}`;
      const note = handlerRuns === 1 ? "" : `  (handler ran ${handlerRuns} times: not all hits)`;
      console.log(`  ${name.padEnd(32)} ${(nsPerHit / 1000).toFixed(1).padStart(8)} µs/hit  ${middle.toFixed(2)}x  (${spread})${note}`);
    }
    if (timings.some(({ handlerRuns }) => handlerRuns !== 1)) process.exitCode = 1;
  }
} finally {
  await mf.dispose();
}
