/**
 * The Worker behind `bench/workers.bench.ts`, run in workerd by Miniflare once per contender,
 * each in its own isolate: the `CONTENDER` binding names which Hono app it serves (Hono's own
 * `cache()` middleware, twice, or edgecache's `cachePage` middleware over the Cache API, with and
 * without Cache-Status and re-reading the generation token on every hit, or over Workers KV).
 * `GET /fill` stores the page once and waits for the write; `GET /round` then times `n` hits and
 * answers with the milliseconds they took and how often the page's handler has run (1: every
 * timed request was a hit).
 *
 * With the `MEMORY_CACHES` binding set, `caches` is replaced by an in-memory one before any app is
 * built, so a hit costs the middleware's own work and a `Response` built from stored bytes, without
 * Miniflare's cache service: the bench's measure of the middleware alone.
 *
 * Under valgrind (the bench's instruction counts) a hit takes about 50 times as long, so the
 * `CLOCK_SLOWDOWN` binding slows edgecache's clocks by as much: work done once a second (Age,
 * the Cache API adapter's generation check) then stays as rare per hit as at full speed.
 */
import { type ExecutionContext, Hono, type MiddlewareHandler } from "hono";
import { cache } from "hono/cache";
import { cacheApi } from "../../adapters/cache-api.ts";
import { type KvNamespaceLike, workersKv } from "../../adapters/workers-kv.ts";
import { cachePage } from "../../src/hono.ts";
import { createCache } from "../../src/index.ts";

/** The contenders, by the name their Worker is given; the first is the baseline. */
export const CONTENDERS = {
  "hono-cache": {
    label: "hono cache() (Cache API)",
    middleware: (kib: number) => cache({ cacheName: `hono-bench-${kib}`, wait: true, cacheControl: "max-age=3600" }),
  },
  // The baseline again, in an isolate of its own: how far apart two identical contenders read,
  // which is the noise every other ratio carries.
  "hono-cache-again": {
    label: "hono cache() again (A/A: the noise)",
    middleware: (kib: number) => cache({ cacheName: `hono-bench-again-${kib}`, wait: true, cacheControl: "max-age=3600" }),
  },
  "cache-api": {
    label: "cachePage, cache-api adapter",
    middleware: (kib: number, now: () => number) => cachePage(3600, { cache: createCache({ backend: cacheApi({ name: `edgecache-bench-${kib}`, now }) }), now }),
  },
  // Hono's middleware adds no Cache-Status; this row shows what that header costs.
  "cache-api-plain": {
    label: "  the same, cacheStatus: false",
    middleware: (kib: number, now: () => number) => cachePage(3600, { cache: createCache({ backend: cacheApi({ name: `edgecache-bench-plain-${kib}`, now }) }), cacheStatus: false, now }),
  },
  // At a request a second or fewer per isolate, every hit re-reads the adapter's generation token.
  "cache-api-recheck": {
    label: "  the same, token re-read every hit",
    middleware: (kib: number, now: () => number) => cachePage(3600, { cache: createCache({ backend: cacheApi({ name: `edgecache-bench-recheck-${kib}`, now, generationCheckMs: 0 }) }), now }),
  },
  "workers-kv": {
    label: "cachePage, workers-kv adapter",
    middleware: (kib: number, now: () => number, env: BenchEnv) => cachePage(3600, { cache: createCache({ backend: workersKv(env.CACHE_KV!, { now }), keyPrefix: `kib-${kib}` }), now }),
  },
} satisfies Record<string, { label: string; middleware: (kib: number, now: () => number, env: BenchEnv) => MiddlewareHandler<{ Bindings: BenchEnv }> }>;

/**
 * The bench Worker's bindings: which contender it runs, and the KV namespace (KV's only).
 *
 * @example
 * const env: BenchEnv = { CONTENDER: "workers-kv", CACHE_KV: kvNamespace };
 */
export interface BenchEnv {
  CONTENDER: keyof typeof CONTENDERS;
  CACHE_KV?: KvNamespaceLike;
  /** How many times slower than real time edgecache's clocks run. Default 1. */
  CLOCK_SLOWDOWN?: string;
  /** `"1"`: every contender's Cache API is an in-memory one (see `MemoryCache`). */
  MEMORY_CACHES?: string;
}

/**
 * What `/round` answers.
 *
 * @example
 * const { ms, handlerRuns }: Round = await (await worker.fetch("http://bench/round?kib=2&n=150")).json();
 */
export interface Round {
  ms: number;
  handlerRuns: number;
}

/** A page of about `kib` KiB. */
const page = (kib: number) => `<!doctype html><title>bench</title>${"<p>edgecache benchmark page</p>".repeat(Math.max(1, Math.round(kib * 32)))}`;

/**
 * A Web `Cache` kept in the isolate's memory: `match` answers with a new `Response` over the stored
 * bytes, as a runtime's cache does over its own storage, minus the storage.
 */
class MemoryCache {
  private readonly entries = new Map<string, { body: Uint8Array<ArrayBuffer>; status: number; headers: Array<[string, string]> }>();

  match(request: RequestInfo): Promise<Response | undefined> {
    const entry = this.entries.get(typeof request === "string" ? request : request.url);
    return Promise.resolve(entry && new Response(entry.body, { status: entry.status, headers: entry.headers }));
  }

  async put(request: RequestInfo, response: Response): Promise<void> {
    const body = new Uint8Array(await response.arrayBuffer());
    this.entries.set(typeof request === "string" ? request : request.url, { body, status: response.status, headers: [...response.headers] });
  }

  delete(request: RequestInfo): Promise<boolean> {
    return Promise.resolve(this.entries.delete(typeof request === "string" ? request : request.url));
  }
}

class MemoryCaches {
  private readonly named = new Map<string, MemoryCache>();
  readonly default = new MemoryCache();

  open(name: string): Promise<MemoryCache> {
    let cache = this.named.get(name);
    if (!cache) this.named.set(name, (cache = new MemoryCache()));
    return Promise.resolve(cache);
  }
}

/** Replace `caches` with in-memory caches, once per isolate. */
function useMemoryCaches(): void {
  if ((globalThis as { caches?: unknown }).caches instanceof MemoryCaches) return;
  Object.defineProperty(globalThis, "caches", { configurable: true, value: new MemoryCaches() });
}

/** This isolate's app for each page size, and how often it has rendered the page. */
const apps = new Map<number, { app: Hono<{ Bindings: BenchEnv }>; runs: number }>();

/** A clock `slowdown` times slower than `Date.now`, starting from now. */
function slowClock(slowdown: number): () => number {
  const start = Date.now();
  return () => start + (Date.now() - start) / slowdown;
}

function appFor(kib: number, env: BenchEnv) {
  let served = apps.get(kib);
  if (!served) {
    if (env.MEMORY_CACHES === "1") useMemoryCaches();
    const html = page(kib);
    const slowdown = Number(env.CLOCK_SLOWDOWN ?? 1);
    const app = new Hono<{ Bindings: BenchEnv }>();
    const counted = { app, runs: 0 };
    app.get("/page", CONTENDERS[env.CONTENDER].middleware(kib, slowdown === 1 ? Date.now : slowClock(slowdown), env), (c) => {
      counted.runs++;
      return c.html(html);
    });
    apps.set(kib, (served = counted));
  }
  return served;
}

/**
 * The bench Worker.
 *
 * @example
 * await mf.getWorker("cache-api").then((worker) => worker.fetch("http://bench/fill?kib=2"));
 */
export default {
  async fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const kib = Number(params.get("kib") ?? 2);
    const served = appFor(kib, env);
    const hit = async (context: ExecutionContext): Promise<void> => {
      const response = await served.app.fetch(new Request("https://bench.example/page"), env, context);
      await response.arrayBuffer();
    };
    if (new URL(request.url).pathname === "/fill") {
      // The fill's background write is kept and waited for, so no write is still running (and
      // taking CPU from the hits) when the timing starts.
      const writes: Array<Promise<unknown>> = [];
      await hit({ waitUntil: (write: Promise<unknown>) => writes.push(write), passThroughOnException: () => ctx.passThroughOnException(), props: ctx.props } as ExecutionContext);
      await Promise.all(writes);
      return new Response(null, { status: 204 });
    }
    const n = Number(params.get("n") ?? 100);
    const start = performance.now();
    for (let i = 0; i < n; i++) await hit(ctx);
    const round: Round = { ms: performance.now() - start, handlerRuns: served.runs };
    return Response.json(round);
  },
};
