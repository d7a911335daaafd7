/**
 * Page-cache hit latency inside workerd (Miniflare's local Cache API and KV): Hono's own
 * `cache()` middleware against edgecache's `cachePage` middleware on the Cache API adapter and
 * on the Workers KV adapter, as ratios from one run, for a small page (2 KiB) and a large one
 * (1 MiB, where streaming the stored body matters). The target: cachePage on the Cache API no
 * slower than Hono's middleware. Run alone with `npm run bench -- workers`.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import type { Timing } from "./workers/worker.ts";
import { machine } from "./lib.ts";

/** The page sizes measured, and hits per round for each. */
const SIZES = [
  { kib: 2, hitsPerRound: 300 },
  { kib: 1024, hitsPerRound: 200 },
];
/** A multiple of the number of contenders, so each takes every turn in the order equally often. */
const ROUNDS = 6;

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
    const baseline = timings[0]!.nsPerHit;
    for (const { name, nsPerHit, handlerRuns } of timings) {
      const note = handlerRuns === 1 ? "" : `  (handler ran ${handlerRuns} times: not all hits)`;
      console.log(`  ${name.padEnd(36)} ${(nsPerHit / 1000).toFixed(1).padStart(8)} µs/hit  ${(nsPerHit / baseline).toFixed(2)}x${note}`);
    }
    if (timings.some(({ handlerRuns }) => handlerRuns !== 1)) process.exitCode = 1;
  }
} finally {
  await mf.dispose();
}
