/**
 * The circuit breaker: a store that stops answering is left alone for `circuitBreakMs` after three
 * time-outs in a row, so requests stop paying its time limit; then one request at a time tries it.
 * Deadlines run on fake timers and the breaker on the bench's fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createCache } from "../../src/cache.ts";
import { cachePage } from "../../src/page/cache-page.ts";
import type { PageCacheOptions } from "../../src/page/options.ts";
import { type Bench, counted, options, pageBench, read } from "./setup.ts";

const URL_A = "https://example.com/a";

/** A bench whose store (behind a connection, so with a time limit) stops answering while `hanging.on`. */
function hangingBench() {
  const hanging = { on: true };
  const stall = <T>(answer: () => Promise<T>): Promise<T> => (hanging.on ? new Promise<T>(() => {}) : answer());
  const bench = pageBench((backend) => ({
    ...backend,
    capabilities: { ...backend.capabilities, shared: true, local: false },
    get: (key) => stall(() => backend.get(key)),
    set: (key, value, ttl) => stall(() => backend.set(key, value, ttl)),
  }));
  return { bench, hanging };
}

/** The bench's options with a 20 ms time limit on store calls. */
const limited = (bench: Bench, extra: PageCacheOptions = {}): PageCacheOptions => options(bench, { timeoutMs: 20, ...extra });

/** Answer `url` through `handler`, moving the fake timers on until the answer and its writes are done. */
async function answer(handler: (request: Request) => Promise<Response>, bench: Bench, url = URL_A) {
  const answered = read(handler(new Request(url)));
  await vi.advanceTimersByTimeAsync(25); // the lookup's time limit
  const result = await answered;
  const writes = bench.settle();
  await vi.advanceTimersByTimeAsync(25); // the write's
  await writes;
  return result;
}

const backendCalls = (bench: Bench) => bench.calls.filter((call) => call === "get" || call === "set").length;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("the circuit breaker", () => {
  it("leaves a store that stopped answering alone after three time-outs, then lets one request try it", async () => {
    const { bench, hanging } = hangingBench();
    const handler = cachePage(60, limited(bench))(counted());

    // Two requests: each lookup times out, and so does the first one's write.
    expect((await answer(handler, bench)).cacheStatus).toBe("edgecache; fwd=miss; stored");
    expect((await answer(handler, bench)).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
    expect(bench.errors.map(String)).toEqual([
      "BackendTimeoutError: the memory backend took longer than 20 ms",
      "BackendTimeoutError: the memory backend took longer than 20 ms",
      "BackendTimeoutError: the memory backend took longer than 20 ms again: page caching leaves it alone for 5000 ms",
    ]);

    // While the break lasts, requests skip the store: no call, no wait, no error.
    const calls = backendCalls(bench);
    const skipped = await read(handler(new Request(URL_A)));
    expect(skipped).toMatchObject({ status: 200, body: "/a 3", cacheStatus: "edgecache; fwd=miss; detail=store-down" });
    expect(backendCalls(bench)).toBe(calls);
    expect(bench.errors).toHaveLength(3);

    // The store answers again; once the break is over, the next request uses it and closes the breaker.
    hanging.on = false;
    bench.clock.advance(5);
    expect((await answer(handler, bench)).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    expect(await answer(handler, bench)).toMatchObject({ body: "/a 4", cacheStatus: "edgecache; hit; ttl=60" });
  });

  it("keeps the others away while one request tries the store, and doubles the break when that try times out", async () => {
    const { bench } = hangingBench();
    const handler = cachePage(60, limited(bench))(counted());
    await answer(handler, bench);
    await answer(handler, bench); // the third time-out: a 5 s break
    bench.clock.advance(5);

    const calls = backendCalls(bench);
    const trial = read(handler(new Request(URL_A)));
    expect((await read(handler(new Request(URL_A)))).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
    expect(backendCalls(bench)).toBe(calls + 1); // the trial's lookup only
    await vi.advanceTimersByTimeAsync(25);
    expect((await trial).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
    expect(String(bench.errors.at(-1))).toMatch(/again: page caching leaves it alone for 10000 ms$/);

    bench.clock.advance(9.999);
    expect((await read(handler(new Request(URL_A)))).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
    expect(backendCalls(bench)).toBe(calls + 1);
    bench.clock.advance(0.001);
    const next = read(handler(new Request(URL_A)));
    await vi.advanceTimersByTimeAsync(25);
    await next;
    expect(backendCalls(bench)).toBe(calls + 2); // the next trial
  });

  it("lets another request try the store when the trial is dropped, as Workers drop an ended request's calls and timers", async () => {
    const { bench, hanging } = hangingBench();
    const handler = cachePage(60, limited(bench))(counted());
    await answer(handler, bench);
    await answer(handler, bench); // the third time-out: a 5 s break
    bench.clock.advance(5);

    const calls = backendCalls(bench);
    void handler(new Request(URL_A)); // the trial: its lookup is out...
    vi.clearAllTimers(); // ...and its request ends, taking the lookup's time limit with it
    hanging.on = false;
    expect((await read(handler(new Request(URL_A)))).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
    bench.clock.advance(0.039);
    expect((await read(handler(new Request(URL_A)))).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
    expect(backendCalls(bench)).toBe(calls + 1);

    // Twice the time limit on: the trial was dropped, so the next request tries the store, which answers.
    bench.clock.advance(0.001);
    expect((await answer(handler, bench)).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    expect(await answer(handler, bench)).toMatchObject({ cacheStatus: "edgecache; hit; ttl=60" });
  });

  it("is shared by every wrapper over the same store", async () => {
    const { bench } = hangingBench();
    const handler = cachePage(60, limited(bench))(counted());
    await answer(handler, bench);
    await answer(handler, bench);
    const other = cachePage(300, limited(bench, { keyPrefix: "other" }))(counted());
    expect((await read(other(new Request("https://example.com/b")))).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
  });

  it("is shared by backend objects that give one identity, as Workers' per-request backends over one pool do", async () => {
    const { bench } = hangingBench();
    const pool = {};
    // Each request makes its cache over a new backend object reaching the same store.
    const perRequest = () => createCache({ backend: { ...bench.backend, identity: pool }, onWarning: () => {} });
    const handler = cachePage(60, limited(bench, { cache: perRequest }))(counted());
    await answer(handler, bench);
    await answer(handler, bench); // the third time-out, each through a backend of its own
    const calls = backendCalls(bench);
    expect((await read(handler(new Request(URL_A)))).cacheStatus).toBe("edgecache; fwd=miss; detail=store-down");
    expect(backendCalls(bench)).toBe(calls);
  });

  it("never opens on errors: a store that answers, even with a failure, costs a request little", async () => {
    const bench = pageBench((backend) => ({ ...backend, capabilities: { shared: true }, get: () => Promise.reject(new Error("refused")) }));
    const handler = cachePage(60, limited(bench))(counted());
    for (let i = 0; i < 5; i++) expect((await answer(handler, bench)).cacheStatus).toBe("edgecache; fwd=miss; stored");
    expect(bench.calls.filter((call) => call === "get")).toHaveLength(10); // each lookup and each write's purge check
  });

  it("never opens with circuitBreakMs: 0", async () => {
    const { bench } = hangingBench();
    const handler = cachePage(60, limited(bench, { circuitBreakMs: 0 }))(counted());
    for (let i = 0; i < 4; i++) expect((await answer(handler, bench)).cacheStatus).toBe("edgecache; fwd=miss; stored");
    expect(bench.errors.map(String).every((error) => error.endsWith("took longer than 20 ms"))).toBe(true);
    expect(bench.errors).toHaveLength(8);
  });

  it("limits each of a store's calls, not the few a page's store makes in a row: a store answering each in time is never taken for down", async () => {
    const late = <T>(answer: () => Promise<T>, ms: number): Promise<T> => new Promise<T>((resolve) => setTimeout(resolve, ms)).then(answer);
    const bench = pageBench((backend) => ({
      ...backend,
      capabilities: { ...backend.capabilities, shared: true, local: false },
      get: (key) => late(() => backend.get(key), 15),
      getMany: (keys) => late(() => backend.getMany!(keys), 15),
      set: (key, value, ttl) => late(() => backend.set(key, value, ttl), 15),
      add: (key, value, ttl) => late(() => backend.add!(key, value, ttl), 15),
    }));
    const handler = cachePage(60, limited(bench, { tags: () => ["catalogue"] }))(counted()); // a new tag: its record read, written, read again
    for (const path of ["/a", "/b", "/c", "/d"]) {
      const answered = read(handler(new Request(`https://example.com${path}`)));
      await vi.advanceTimersByTimeAsync(40); // the look and the fill lock's claim
      expect((await answered).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
      const writes = bench.settle();
      await vi.advanceTimersByTimeAsync(200); // five calls or so, 15 ms each
      await writes;
    }
    expect(bench.errors).toEqual([]);
    const hit = read(handler(new Request("https://example.com/a")));
    await vi.advanceTimersByTimeAsync(40);
    expect((await hit).cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it("gives a write the time the store holds writes back by design (writeSpacingMs, KV's second between writes of a key) on top of timeoutMs", async () => {
    const bench = pageBench((backend) => ({
      ...backend,
      capabilities: { ...backend.capabilities, shared: true, local: false, writeSpacingMs: 100 },
      set: (key, value, ttl) => new Promise<void>((resolve) => setTimeout(resolve, 90)).then(() => backend.set(key, value, ttl)),
    }));
    const handler = cachePage(60, limited(bench))(counted());
    const answered = read(handler(new Request(URL_A)));
    expect((await answered).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    const writes = bench.settle();
    await vi.advanceTimersByTimeAsync(100);
    await writes;
    expect(bench.errors).toEqual([]);
    expect((await read(handler(new Request(URL_A)))).cacheStatus).toBe("edgecache; hit; ttl=60");
    const values = createCache({ backend: bench.backend, timeoutMs: 20 });
    const set = values.set("k", "v");
    await vi.advanceTimersByTimeAsync(100);
    await set;
    expect(await values.get("k")).toBe("v");
  });

  it("refuses a circuitBreakMs that is not a non-negative number, naming it", () => {
    expect(() => cachePage(60, { circuitBreakMs: -1 })).toThrow(/options\.circuitBreakMs/);
    expect(() => cachePage(60, { circuitBreakMs: "5s" as unknown as number })).toThrow(/options\.circuitBreakMs/);
  });
});
