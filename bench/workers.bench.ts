/**
 * Page-cache hit latency inside workerd (Miniflare's local Cache API and KV): Hono's own
 * `cache()` middleware against edgecache's `cachePage` middleware on the Cache API adapter and
 * on the Workers KV adapter, as ratios from one run. The target: cachePage on the Cache API no
 * slower than Hono's middleware. Run alone with `npm run bench -- workers`.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import type { Timing } from "./workers/worker.ts";
import { machine } from "./lib.ts";

const HITS_PER_ROUND = 300;
const ROUNDS = 5;

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
  const response = await mf.dispatchFetch(`http://bench.example/run?n=${HITS_PER_ROUND}&rounds=${ROUNDS}`);
  if (!response.ok) throw new Error(`the bench Worker answered ${response.status}: ${await response.text()}`);
  const timings = (await response.json()) as Timing[];
  console.log(`workerd (Miniflare) on ${machine()}`);
  console.log(`\ncache hit, one 2 KiB page, ${HITS_PER_ROUND * ROUNDS} hits each (interleaved rounds)`);
  const baseline = timings[0]!.nsPerHit;
  for (const { name, nsPerHit, handlerRuns } of timings) {
    const note = handlerRuns === 1 ? "" : `  (handler ran ${handlerRuns} times: not all hits)`;
    console.log(`  ${name.padEnd(36)} ${(nsPerHit / 1000).toFixed(1).padStart(8)} µs/hit  ${(nsPerHit / baseline).toFixed(2)}x${note}`);
  }
  if (timings.some(({ handlerRuns }) => handlerRuns !== 1)) process.exitCode = 1;
} finally {
  await mf.dispose();
}
