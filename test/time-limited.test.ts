/**
 * `createCache({ timeoutMs })`: every backend call bounded in time, on fake timers, over a store
 * that can be made to hang (test/upstash/failures.test.ts freezes a real Redis behind it).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { memory } from "../adapters/memory.ts";
import type { Backend } from "../src/backend.ts";
import { createCache } from "../src/cache.ts";
import { BackendTimeoutError, BackendUnavailableError } from "../src/errors.ts";
import { cachePage } from "../src/page/cache-page.ts";
import { purgePage } from "../src/page/purge.ts";

/** A memory store posing as a store shared over the network, whose calls never answer while `hung`, counting the calls made. */
function hangingStore() {
  const store = memory();
  const state = { hung: false, calls: 0 };
  const backend = new Proxy(store, {
    get(target, property, receiver) {
      if (property === "capabilities") return { ...store.capabilities, shared: true, local: false, atomicAdd: false };
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function" || property === "close") return value;
      return (...args: unknown[]) => {
        state.calls++;
        return state.hung ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Backend;
  return { backend, state };
}

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe("createCache timeoutMs", () => {
  it("fails a call that takes longer with a BackendTimeoutError naming the backend, the limit and the operation", async () => {
    const { backend, state } = hangingStore();
    const cache = createCache({ backend, timeoutMs: 250 });
    await cache.set("k", "v");
    state.hung = true;
    let settled: unknown;
    const read = cache.get("k").then(() => (settled = "answered"), (error: unknown) => (settled = error));
    await vi.advanceTimersByTimeAsync(249);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await read;
    expect(settled).toBeInstanceOf(BackendTimeoutError);
    expect(settled).toBeInstanceOf(BackendUnavailableError);
    expect(String(settled)).toBe("BackendTimeoutError: the memory backend took longer than options.timeoutMs (250 ms) to get");
  });

  it("with ignoreErrors, turns a hung store into misses and failed writes reported to onError, and getOrSet still answers", async () => {
    const { backend, state } = hangingStore();
    const errors: string[] = [];
    const cache = createCache({ backend, timeoutMs: 100, ignoreErrors: true, onError: (error, operation) => errors.push(`${operation}: ${(error as Error).name}`) });
    state.hung = true;
    const calls = Promise.all([
      cache.get("k", { default: "fallback" }),
      cache.set("k", "v"),
      cache.getMany(["a", "b"]),
      cache.getOrSet("report", () => "computed", { collapseMs: 0 }),
    ]);
    await vi.advanceTimersByTimeAsync(300); // getOrSet: its read, then its add, then reading the winner's value
    expect(await calls).toEqual(["fallback", undefined, new Map(), "computed"]);
    expect(errors.sort()).toEqual(["get: BackendTimeoutError", "get: BackendTimeoutError", "get: BackendTimeoutError", "getMany: BackendTimeoutError", "getOrSet: BackendTimeoutError", "set: BackendTimeoutError"]);
  });

  it("leaves calls answered in time alone, and limits nothing by default", async () => {
    const { backend } = hangingStore();
    const cache = createCache({ backend, timeoutMs: 100 });
    await cache.set("k", "v");
    expect(await cache.get("k")).toBe("v");
    expect(await cache.getOrSet("other", () => 1)).toBe(1);
    expect(vi.getTimerCount()).toBe(0); // every timer went with its answer
    expect(createCache({ backend }).backend).toBe(backend);
  });

  it("names a bad timeoutMs", () => {
    expect(() => createCache({ timeoutMs: -5 })).toThrow(new TypeError("options.timeoutMs must be a number of 0 or more, got -5"));
    expect(() => createCache({ timeoutMs: "250" as never })).toThrow(new TypeError('options.timeoutMs must be a number of 0 or more, got "250"'));
  });

  it("counts toward page caching's circuit breaker: after three, pages skip the store at once", async () => {
    const { backend, state } = hangingStore();
    const errors: unknown[] = [];
    // The page's own limit (5 s) is far off: the cache's 100 ms runs out first.
    const page = cachePage(60, { cache: createCache({ backend, timeoutMs: 100 }), timeoutMs: 5000, onError: (error) => errors.push(error) })((_request: Request) => new Response("page"));
    state.hung = true;
    for (let i = 0; i < 3; i++) {
      const answer = page(new Request("https://example.com/"));
      await vi.advanceTimersByTimeAsync(100);
      expect((await answer).headers.get("cache-status")).toMatch(/^edgecache; fwd=miss/);
    }
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(errors.every((error) => error instanceof BackendTimeoutError)).toBe(true);
    const calls = state.calls;
    const skipped = page(new Request("https://example.com/"));
    await vi.advanceTimersByTimeAsync(100);
    expect((await skipped).headers.get("cache-status")).toBe("edgecache; fwd=miss; detail=store-down");
    expect(state.calls).toBe(calls);
  });

  it("ends a purgePage whose store hangs, with ignoreErrors too: the caller hears the purge failed", async () => {
    const calls: string[] = [];
    const backend: Backend = { ...memory(), delete: () => new Promise(() => {}) }; // its record is written, the page's removal hangs
    const cache = createCache({ backend, timeoutMs: 100, ignoreErrors: true, onError: () => {}, onBackendCall: (call) => void calls.push(call.operation) });
    let settled: unknown;
    const purging = purgePage("https://example.com/a", { cache }).then(() => (settled = "purged"), (error: unknown) => (settled = error));
    await vi.advanceTimersByTimeAsync(100);
    await purging;
    expect(settled).toBeInstanceOf(BackendTimeoutError);
    expect(calls).toContain("delete"); // and onBackendCall heard it
  });
});
