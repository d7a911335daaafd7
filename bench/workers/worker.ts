/**
 * The Worker behind `bench/workers.bench.ts`, run in workerd by Miniflare. `GET /run` times
 * cache hits of one page through four Hono apps: Hono's own `cache()` middleware, and edgecache's
 * `cachePage` middleware over the Cache API (with and without Cache-Status, which Hono's does not
 * add) and over Workers KV. Each app's page is filled once,
 * then each is asked `n` times per round, the apps taking turns; the answer is each one's time per
 * round, the mean time per hit and how often its handler ran (1: every timed request was a hit).
 */
import { type ExecutionContext, Hono } from "hono";
import { cache } from "hono/cache";
import { cacheApi } from "../../adapters/cache-api.ts";
import { type KvNamespaceLike, workersKv } from "../../adapters/workers-kv.ts";
import { cachePage } from "../../src/hono.ts";
import { createCache } from "../../src/index.ts";

/**
 * The bench Worker's bindings.
 *
 * @example
 * const env: BenchEnv = { CACHE_KV: kvNamespace };
 */
export interface BenchEnv {
  CACHE_KV: KvNamespaceLike;
}

/**
 * One contender's figures, as `/run` reports them.
 *
 * @example
 * const row: Timing = { name: "hono cache()", nsPerHit: 412_000, roundMs: [123.6, 124.1], handlerRuns: 1 };
 */
export interface Timing {
  name: string;
  nsPerHit: number;
  /** Milliseconds for each round's `n` hits, in round order. */
  roundMs: number[];
  handlerRuns: number;
}

/** A page of about `kib` KiB. */
const page = (kib: number) => `<!doctype html><title>bench</title>${"<p>edgecache benchmark page</p>".repeat(Math.max(1, Math.round(kib * 32)))}`;

/** A Hono app serving one page through `middleware`, counting how often the page is rendered. */
function contender(name: string, html: string, middleware: Parameters<Hono<{ Bindings: BenchEnv }>["use"]>[1]) {
  const app = new Hono<{ Bindings: BenchEnv }>();
  const counter = { name, runs: 0, app, roundMs: [] as number[] };
  app.get("/page", middleware, (c) => {
    counter.runs++;
    return c.html(html);
  });
  return counter;
}

/**
 * The bench Worker.
 *
 * @example
 * const timings: Timing[] = await (await mf.dispatchFetch("http://bench/run?n=300&rounds=5&kib=2")).json();
 */
export default {
  async fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const n = Number(params.get("n") ?? 300);
    const rounds = Number(params.get("rounds") ?? 5);
    const kib = Number(params.get("kib") ?? 2);
    const html = page(kib);
    const contenders = [
      contender("hono cache() (Cache API)", html, cache({ cacheName: `hono-bench-${kib}`, wait: true, cacheControl: "max-age=3600" })),
      contender("cachePage, cache-api adapter", html, cachePage(3600, { cache: createCache({ backend: cacheApi({ name: `edgecache-bench-${kib}` }) }) })),
      // Hono's middleware adds no Cache-Status; this row shows what that header costs.
      contender("  the same, cacheStatus: false", html, cachePage(3600, { cache: createCache({ backend: cacheApi({ name: `edgecache-bench-plain-${kib}` }) }), cacheStatus: false })),
      contender("cachePage, workers-kv adapter", html, cachePage(3600, { cache: createCache({ backend: workersKv(env.CACHE_KV), keyPrefix: `kib-${kib}` }) })),
    ];
    // The fills' background writes are kept here and waited for, so no write is still running
    // (and taking CPU from the hits) when the timing starts.
    const writes: Array<Promise<unknown>> = [];
    const filling = { waitUntil: (write: Promise<unknown>) => writes.push(write), passThroughOnException: () => ctx.passThroughOnException(), props: ctx.props } as ExecutionContext;
    const hit = async (app: Hono<{ Bindings: BenchEnv }>, context = ctx): Promise<void> => {
      const response = await app.fetch(new Request("https://bench.example/page"), env, context);
      await response.arrayBuffer();
    };
    for (const { app } of contenders) await hit(app, filling);
    await Promise.all(writes);
    // Warm up with one untimed round: the JIT, and the allocator (a 1 MiB page allocates fresh
    // memory for its first few hundred reads, which would tax whichever contender came first).
    for (const { app } of contenders) for (let i = 0; i < n; i++) await hit(app);
    for (let round = 0; round < rounds; round++) {
      for (let turn = 0; turn < contenders.length; turn++) {
        const current = contenders[(round + turn) % contenders.length]!;
        const start = performance.now();
        for (let i = 0; i < n; i++) await hit(current.app);
        current.roundMs[round] = performance.now() - start;
      }
    }
    const timings: Timing[] = contenders.map(({ name, runs, roundMs }) => ({
      name,
      nsPerHit: (roundMs.reduce((sum, ms) => sum + ms, 0) * 1e6) / (n * rounds),
      roundMs,
      handlerRuns: runs,
    }));
    return Response.json(timings);
  },
};
