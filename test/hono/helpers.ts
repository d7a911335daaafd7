/** Shared set-up for the Hono middleware tests: a fake clock, a memory cache on it, counted handlers and a client. */
import type { Context, ExecutionContext } from "hono";
import { memory } from "../../adapters/memory.ts";
import { createCache, type EdgeCache, type PageCacheOptions } from "../../src/index.ts";
import { fakeClock, type FakeClock } from "../conformance/fake-clock.ts";

/** A fake clock, a private memory cache on it, and page options that use both. */
export interface Store {
  clock: FakeClock;
  cache: EdgeCache;
  options: PageCacheOptions & { cache: EdgeCache };
}

/**
 * A fresh cache per test, so no test sees another's pages.
 *
 * @example
 * const { clock, options } = store();
 * app.get("/", cachePage(60, options), handler);
 */
export function store(): Store {
  const clock = fakeClock();
  const cache = createCache({ backend: memory({ now: clock.now }) });
  return { clock, cache, options: { cache, now: clock.now } };
}

/** A Hono handler answering `<name> <n>` for its n-th call; `calls` counts them. */
export type Counted = ((c: Context) => Response) & { calls: number };

/**
 * A handler that counts its calls, optionally with response headers.
 *
 * @example
 * const page = counting("page", { "Cache-Control": "public" });
 * app.get("/", cachePage(60), page); // page.calls === 1 after a miss and a hit
 */
export function counting(name = "page", headers: Record<string, string> = {}): Counted {
  const handler = Object.assign((c: Context) => c.text(`${name} ${++handler.calls}`, 200, headers), { calls: 0 });
  return handler;
}

/** What a test looks at in a response, its body read. */
export interface Answer {
  status: number;
  body: string;
  headers: Headers;
  cacheStatus: string | null;
}

/** A Workers-like execution context that keeps what it is asked to wait for. */
export interface RecordingContext extends ExecutionContext {
  waited: Promise<unknown>[];
}

/**
 * An execution context whose `waitUntil` promises a test can await.
 *
 * @example
 * const ctx = executionContext();
 * await app.request("/", {}, env, ctx);
 * await Promise.all(ctx.waited);
 */
export function executionContext(): RecordingContext {
  const waited: Promise<unknown>[] = [];
  return { waited, waitUntil: (promise) => void waited.push(promise), passThroughOnException: () => {}, props: {} };
}

/** A Hono app of any env, as far as `client` needs it. */
export interface Requestable {
  request(input: string, init: RequestInit, env: object, ctx: ExecutionContext): Response | Promise<Response>;
}

/**
 * `app.request()` with a Workers-like execution context: reads the body, then waits for the cache
 * writes the request scheduled, so the next request sees them.
 *
 * @example
 * const get = client(app);
 * expect((await get("/")).cacheStatus).toMatch(/stored/);
 */
export function client(app: Requestable, env: object = {}): (path: string, init?: RequestInit) => Promise<Answer> {
  return async (path, init = {}) => {
    const ctx = executionContext();
    const response = await app.request(path, init, env, ctx);
    const body = await response.text();
    await Promise.all(ctx.waited);
    return { status: response.status, body, headers: response.headers, cacheStatus: response.headers.get("cache-status") };
  };
}
