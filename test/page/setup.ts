/** A page-caching test bench: a memory cache on a fake clock, writes awaited through waitUntil. */
import { memory } from "../../adapters/memory.ts";
import type { Backend } from "../../src/backend.ts";
import { createCache, type EdgeCache } from "../../src/cache.ts";
import { fakeClock, type FakeClock } from "../conformance/fake-clock.ts";

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
