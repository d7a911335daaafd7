/** A page-caching test bench: a memory cache on a fake clock, writes awaited through waitUntil. */
import { memory } from "../../adapters/memory.ts";
import type { Backend } from "../../src/backend.ts";
import { createCache, type EdgeCache } from "../../src/cache.ts";
import { fakeClock, type FakeClock } from "../conformance/fake-clock.ts";
import type { SiteCacheOptions } from "../../src/page/cache-page.ts";

export interface Bench {
  clock: FakeClock;
  cache: EdgeCache;
  backend: Backend;
  /** Every backend call, by operation name. */
  calls: string[];
  errors: unknown[];
  waitUntil: (promise: Promise<unknown>) => void;
  /** Wait for every cache write scheduled so far. */
  settle: () => Promise<void>;
}

/**
 * A fresh cache for page tests: memory backend on a fake clock, every backend call recorded.
 *
 * @example
 * const bench = pageBench();
 * const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(view);
 */
export function pageBench(wrap: (backend: Backend) => Backend = (b) => b): Bench {
  const clock = fakeClock();
  const calls: string[] = [];
  const inner = wrap(memory({ now: clock.now, maxEntries: 10_000 }));
  const backend = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const pending: Promise<unknown>[] = [];
  return {
    clock,
    backend,
    calls,
    errors: [],
    cache: createCache({ backend, onWarning: () => {} }),
    waitUntil: (promise) => void pending.push(promise),
    settle: async () => {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}

/** Read a response fully and return its Cache-Status and body text. */
export async function read(response: Response | Promise<Response>): Promise<{ status: number; cacheStatus: string | null; body: string; headers: Headers }> {
  const r = await response;
  return { status: r.status, cacheStatus: r.headers.get("cache-status"), body: await r.text(), headers: r.headers };
}

/**
 * A handler answering `<path> <n>` for its n-th call, with `headers`.
 *
 * @example
 * const handler = cachePage(60, options)(counted()); // "/a 1", then "/a 1" from the cache
 */
export function counted(headers: Record<string, string> = {}): (request: Request) => Promise<Response> {
  let calls = 0;
  return async (request: Request) => new Response(`${new URL(request.url).pathname} ${++calls}`, { headers });
}

/**
 * GET (or `init`'s method) `url` through `handler`, read the answer, then wait for the cache writes.
 *
 * @example
 * const { body, cacheStatus } = await get(handler, bench, "https://example.com/a");
 */
export async function get(handler: (request: Request) => Promise<Response>, bench: Bench, url: string, init?: RequestInit) {
  const answer = await read(handler(new Request(url, init)));
  await bench.settle();
  return answer;
}

/**
 * A handler answering `render <n>` for its n-th call, whose first render waits until `release()`
 * once it has begun (`entered`): a render that is under way while a test purges.
 *
 * @example
 * const slow = heldFirstRender();
 * const first = read(cachePage(60, options)(slow.handler)(request));
 * await slow.entered; await purgePage(url, options); slow.release();
 */
export function heldFirstRender(headers: Record<string, string> = {}) {
  let entered!: () => void;
  let release!: () => void;
  const inHandler = new Promise<void>((resolve) => (entered = resolve));
  const rendering = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  const handler = async (_request: Request) => {
    const call = ++calls;
    if (call === 1) {
      entered();
      await rendering; // it has read the old content when the purge lands
    }
    return new Response(`render ${call}`, { headers });
  };
  return { handler, entered: inHandler, release };
}

/**
 * A view that counts its calls and echoes what it was asked.
 *
 * @example
 * const handler = cachePage(60, options(bench))(view({ headers: { "cache-control": "max-age=30" } }));
 */
export function view(init: ResponseInit | ((request: Request) => ResponseInit) = {}) {
  const seen: Request[] = [];
  const handler = async (request: Request) => {
    seen.push(request);
    const responseInit = typeof init === "function" ? init(request) : init;
    return new Response(`page ${seen.length} for ${new URL(request.url).pathname}${new URL(request.url).search}`, responseInit);
  };
  return Object.assign(handler, { seen });
}

/**
 * Page-caching options over `bench`: its cache, clock, waitUntil and error list, plus `extra`.
 *
 * @example
 * const handler = cacheSite(options(bench, { seconds: 30 }))(view());
 */
export function options(bench: Bench, extra: SiteCacheOptions = {}): SiteCacheOptions {
  return { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, onError: (e) => bench.errors.push(e), ...extra };
}

/**
 * Ask `handler` for `first` then `second` (default: the same), letting each answer's writes finish.
 *
 * @example
 * const [miss, hit] = await twice(handler, bench, "https://example.com/a");
 */
export async function twice(handler: (request: Request) => Promise<Response>, bench: Bench, first: Request | string, second: Request | string = first) {
  const a = await read(handler(typeof first === "string" ? new Request(first) : first));
  await bench.settle();
  const b = await read(handler(typeof second === "string" ? new Request(second) : second));
  await bench.settle();
  return [a, b] as const;
}
