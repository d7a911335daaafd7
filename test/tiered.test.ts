/** The tiered backend: memory in front of a shared store, each isolate with its own near tier. */
import { describe, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import { broadcastBus, type Invalidation, type InvalidationBus, tiered } from "../adapters/tiered.ts";
import type { Backend } from "../src/backend.ts";
import { createCache } from "../src/cache.ts";
import { BackendUnavailableError } from "../src/errors.ts";
import { cachePage } from "../src/page/cache-page.ts";
import { describeBackendConformance } from "./conformance/backend-conformance.ts";
import { fakeClock, type FakeClock } from "./conformance/fake-clock.ts";

describeBackendConformance("tiered (memory in front of memory)", {
  fakeClock: true,
  getWithTtl: true,
  create() {
    const clock = fakeClock();
    return { backend: tiered({ near: memory({ now: clock.now }), far: memory({ now: clock.now, maxEntries: 10_000 }) }), advance: clock.advance };
  },
});

/**
 * A far store shared by several isolates, counting the calls each operation makes of it; without
 * `getWithTtl` when `withTtl` is false, as a far store that reads TTLs apart from values.
 */
function sharedStore(clock: FakeClock, withTtl = true) {
  const store = memory({ now: clock.now, maxEntries: 10_000, location: `tiered-${Math.random()}` });
  const calls: string[] = [];
  let down = false;
  const far: Backend = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property === "getWithTtl" && !withTtl) return undefined;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        if (down) return Promise.reject(new Error("far store down"));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  /** One isolate: its own near tier over the shared far store. */
  const isolate = (nearTimeout?: number) => createCache({ backend: tiered({ near: memory({ now: clock.now }), far, nearTimeout }) });
  return { calls, far, isolate, setDown: (value: boolean) => void (down = value) };
}

describe("tiered backend", () => {
  it("answers repeated reads from the near tier: the far store is read once per nearTimeout", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    await shared.isolate().set("greeting", "hello", { timeout: 60 });
    const reader = shared.isolate();
    shared.calls.length = 0;
    for (let i = 0; i < 5; i++) expect(await reader.get("greeting")).toBe("hello");
    expect(shared.calls).toEqual(["getWithTtl"]);
    clock.advance(5);
    expect(await reader.get("greeting")).toBe("hello");
    expect(shared.calls).toEqual(["getWithTtl", "getWithTtl"]);
  });

  it("sees a change made by another isolate within nearTimeout, and its own changes at once", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    const [a, b] = [shared.isolate(2), shared.isolate(2)];
    await a.set("k", "one");
    expect(await b.get("k")).toBe("one");
    await a.set("k", "two");
    expect(await a.get("k")).toBe("two");
    expect(await b.get("k")).toBe("one"); // b's near copy, up to 2 s old
    clock.advance(2);
    expect(await b.get("k")).toBe("two");
    await a.set("k", "three");
    await b.delete("k");
    expect(await b.get("k")).toBeUndefined();
    expect(await a.get("k")).toBe("three"); // a's near copy
    clock.advance(2);
    expect(await a.get("k")).toBeUndefined();
  });

  it("keeps the far store's atomic add and increment, dropping near copies it cannot know", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    const [a, b] = [shared.isolate(), shared.isolate()];
    const added = await Promise.all([a.add("lock", "a"), b.add("lock", "b")]);
    expect(added.sort()).toEqual([false, true]);
    expect(await a.get("lock")).toBe(await b.get("lock"));

    await a.set("visits", 1);
    expect(await b.get("visits")).toBe(1);
    expect(await Promise.all([a.incr("visits"), b.incr("visits")])).toEqual(expect.arrayContaining([2, 3]));
    expect([await a.get("visits"), await b.get("visits")]).toEqual([3, 3]);
  });

  it("never keeps a value near that the far store failed to take, and answers from near while the far store is down", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    const cache = shared.isolate();
    await cache.set("kept", "near and far");
    shared.setDown(true);
    expect(await cache.get("kept")).toBe("near and far");
    await expect(cache.set("lost", "value")).rejects.toThrow("far store down");
    await expect(cache.get("lost")).rejects.toThrow("far store down");
    shared.setDown(false);
    expect(await cache.get("lost")).toBeUndefined();
  });

  it("reads and writes a value its near store refuses (over memory's maxBytes) through the far tier alone", async () => {
    const far = memory();
    const backend = tiered({ near: memory({ maxBytes: 100 }), far });
    await far.set("read", new Uint8Array(500), 60);
    expect((await backend.get("read"))?.byteLength).toBe(500);
    await backend.set("small", new Uint8Array(10), 60);
    await backend.set("small", new Uint8Array(500), 60); // the near copy of the old value goes
    expect((await backend.get("small"))?.byteLength).toBe(500);
    expect((await far.get("small"))?.byteLength).toBe(500);
    // A near store that fails otherwise fails the call: its copies could no longer be trusted.
    const broken = tiered({ near: { ...memory(), set: () => Promise.reject(new TypeError("near store bug")) }, far });
    await expect(broken.get("read")).rejects.toThrow("near store bug");
  });

  it("drops its near copies, and tells the others to, when the far store's clear fails, which may have removed part of it", async () => {
    const store = memory();
    const published: Invalidation[] = [];
    const bus: InvalidationBus = { join: () => ({ publish: (message) => void published.push(message), leave: () => {} }) };
    const far: Backend = { ...store, clear: () => Promise.reject(new BackendUnavailableError("the scan ran out of time")) };
    const cache = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus }) });
    await cache.set("k", "v");
    await store.delete(cache.makeKey("k")); // the part the failed clear removed
    await expect(cache.clear()).rejects.toThrow("the scan ran out of time");
    expect(published.at(-1)).toEqual({ all: true });
    expect(await cache.get("k")).toBeUndefined();
  });

  it("drops its near copies when the far store's setMany fails, which may have written them before failing", async () => {
    const clock = fakeClock();
    const store = memory({ now: clock.now });
    const far: Backend = { ...store, name: "late-replies", setMany: async (entries, ttl) => {
      await store.setMany!(entries, ttl);
      throw new Error("reply timed out"); // written, but the answer never came
    } };
    const cache = createCache({ backend: tiered({ near: memory({ now: clock.now }), far }) });
    await cache.set("k", "old");
    expect(await cache.get("k")).toBe("old");
    await expect(cache.setMany([["k", "new"]])).rejects.toThrow("reply timed out");
    expect(await cache.get("k")).toBe("new");
  });

  it("reads several keys with one far call each for those not near, or one getMany where the far store reads TTLs apart", async () => {
    for (const [withTtl, farCalls] of [[true, ["getWithTtl", "getWithTtl", "getWithTtl"]], [false, ["getMany", "ttl", "ttl", "ttl"]]] as const) {
      const clock = fakeClock();
      const shared = sharedStore(clock, withTtl);
      await shared.isolate().setMany({ a: 1, b: 2, c: 3 });
      const reader = shared.isolate();
      expect(await reader.get("a")).toBe(1);
      shared.calls.length = 0;
      expect(Object.fromEntries(await reader.getMany(["a", "b", "c", "d"]))).toEqual({ a: 1, b: 2, c: 3 });
      expect(shared.calls.sort()).toEqual(farCalls); // b, c and d, not a
      shared.calls.length = 0;
      expect(Object.fromEntries(await reader.getMany(["a", "b", "c"]))).toEqual({ a: 1, b: 2, c: 3 });
      expect(shared.calls).toEqual([]);
    }
  });

  it("tells a value's time left in the far store from its near copy, so getOrSet's refreshAhead makes no far call on a near hit", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    await shared.isolate().set("rates", "old", { timeout: 60 });
    const reader = shared.isolate();
    const backend = reader.backend;
    expect((await backend.getWithTtl!(reader.makeKey("rates")))?.ttl).toBe(60); // read far, kept near
    clock.advance(2);
    shared.calls.length = 0;
    expect((await backend.getWithTtl!(reader.makeKey("rates")))?.ttl).toBe(58); // the near copy's 3 s + 55
    const refreshes: Array<Promise<unknown>> = [];
    const options = { timeout: 60, refreshAhead: 0.8, waitUntil: (refresh: Promise<unknown>) => void refreshes.push(refresh) };
    expect(await reader.getOrSet("rates", () => "new", options)).toBe("old");
    expect(shared.calls).toEqual([]);
    clock.advance(47.5); // 10.5 s left: due, and the near copy has gone, so this read is far
    expect(await reader.getOrSet("rates", () => "new", options)).toBe("old");
    await Promise.all(refreshes);
    expect(refreshes).toHaveLength(1);
    expect(await reader.get("rates")).toBe("new");
    expect(await shared.isolate().get("rates")).toBe("new"); // replaced in the far store
  });

  it("keeps no near copy past the entry's expiry in the far store", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    await shared.isolate().set("short", "lived", { timeout: 3 });
    const reader = shared.isolate(60);
    clock.advance(2);
    expect(await reader.get("short")).toBe("lived"); // kept near for the 1 s it has left
    clock.advance(1);
    expect(await reader.get("short")).toBeUndefined();
  });

  it("serves cached pages from the near tier, and they still turn stale on time", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    const pages = shared.isolate();
    let renders = 0;
    const writes: Promise<unknown>[] = [];
    const handler = cachePage(10, { cache: pages, now: clock.now, waitUntil: (write) => writes.push(write) })(async (_request: Request) => new Response(`render ${++renders}`));
    const get = async () => {
      const response = await handler(new Request("https://example.com/"));
      const body = await response.text();
      await Promise.all(writes.splice(0));
      return [body, response.headers.get("cache-status")];
    };
    expect(await get()).toEqual(["render 1", "edgecache; fwd=uri-miss; stored"]);
    shared.calls.length = 0;
    expect(await get()).toEqual(["render 1", "edgecache; hit; ttl=10"]);
    expect(shared.calls).toEqual([]);
    clock.advance(10);
    expect(await get()).toEqual(["render 2", "edgecache; fwd=uri-miss; stored"]);
  });

  it("onRead hears which tier answered each key: near copies, far hits and misses, for the near tier's hit ratio", async () => {
    const clock = fakeClock();
    const reads: string[] = [];
    const far = memory({ now: clock.now });
    const throwing = tiered({ near: memory({ now: clock.now }), far, onRead: () => { throw new Error("metrics down"); } });
    const cache = createCache({ backend: tiered({ near: memory({ now: clock.now }), far, onRead: ({ key, tier, hit }) => reads.push(`${key} ${tier} ${hit ? "hit" : "miss"}`) }) });
    await far.set(":1:a", new TextEncoder().encode("1"), 60);
    expect(await cache.get("a")).toBe(1);
    expect(await cache.get("a")).toBe(1);
    expect(await cache.getMany(["a", "b"])).toEqual(new Map([["a", 1]]));
    expect(await cache.getOrSet("a", 2, { timeout: 60, refreshAhead: 0.5 })).toBe(1);
    expect(await cache.has("b")).toBe(false);
    expect(reads).toEqual([":1:a far hit", ":1:a near hit", ":1:a near hit", ":1:b far miss", ":1:a near hit", ":1:b far miss"]);
    expect(await throwing.get(":1:a")).toEqual(new TextEncoder().encode("1"));
    expect(() => tiered({ near: memory(), far: memory(), onRead: "log" as never })).toThrow('options.onRead must be a function, got "log"');
  });

  it("refuses what is not a backend, and a negative nearTimeout, naming them", () => {
    expect(() => tiered({ near: memory(), far: undefined as unknown as Backend })).toThrow(/options\.far must be a backend/);
    expect(() => tiered({ near: {} as Backend, far: memory() })).toThrow(/options\.near must be a backend/);
    expect(() => tiered({ near: memory(), far: memory(), nearTimeout: -1 })).toThrow("options.nearTimeout must be a number of 0 or more, got -1");
  });
});

describe("tiered with an invalidation bus", () => {
  /** Two isolates over one far store, near copies kept a minute, each on its own BroadcastChannel of one name. */
  function connected() {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    const name = `edgecache-test-${Math.random()}`;
    const isolate = () => createCache({ backend: tiered({ near: memory({ now: clock.now }), far: shared.far, nearTimeout: 60, bus: broadcastBus(name) }) });
    return { shared, a: isolate(), b: isolate() };
  }

  it("drops the other isolates' near copies of what one changes, as soon as they hear of it", async () => {
    const { shared, a, b } = connected();
    await createCache({ backend: shared.far }).setMany({ k: "one", n: 1, gone: "soon" }); // straight to the far store: no message
    expect([await b.get("k"), await b.get("n"), await b.get("gone")]).toEqual(["one", 1, "soon"]); // kept near for a minute
    await a.set("k", "two");
    await a.incr("n");
    await a.delete("gone");
    await expect.poll(() => b.get("k")).toBe("two");
    await expect.poll(() => b.get("n")).toBe(2);
    await expect.poll(() => b.get("gone")).toBeUndefined();
    await a.clear();
    await expect.poll(() => b.get("n")).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it("reaches the other tiered backends on the same bus object in this thread at once", async () => {
    const clock = fakeClock();
    const shared = sharedStore(clock);
    const bus = broadcastBus(`edgecache-test-${Math.random()}`);
    const [a, b] = [0, 1].map(() => createCache({ backend: tiered({ near: memory({ now: clock.now }), far: shared.far, nearTimeout: 60, bus }) }));
    await a!.set("k", "one");
    expect(await b!.get("k")).toBe("one");
    await a!.set("k", "two");
    expect(await b!.get("k")).toBe("two"); // no wait: delivered as it was published
    await Promise.all([a!.close(), b!.close()]);
  });

  it("keeps nothing near from a far read that the bus spoke of while it ran (its key only), and shrugs off a bus that fails", async () => {
    const store = memory();
    let reads = 0;
    let entered!: () => void;
    let release!: () => void;
    let inRead = new Promise<void>((resolve) => (entered = resolve));
    let gate = new Promise<void>((resolve) => (release = resolve));
    const far: Backend = { ...store, getWithTtl: async (key) => { reads++; entered(); await gate; return store.getWithTtl!(key); } };
    let hear!: (message: Invalidation) => void;
    let publishes = 0;
    const bus: InvalidationBus = {
      join: (listener) => ((hear = listener), { publish: () => { publishes++; throw new Error("bus down"); }, leave: () => {} }),
    };
    const cache = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus }) });
    await createCache({ backend: store }).set("k", "one");
    const reading = cache.get("k");
    await inRead;
    hear({ keys: [cache.makeKey("k")] }); // heard while the far read runs
    release();
    expect(await reading).toBe("one");
    inRead = new Promise<void>((resolve) => (entered = resolve));
    gate = new Promise<void>((resolve) => (release = resolve));
    const again = cache.get("k");
    await inRead;
    hear({ keys: [cache.makeKey("other")] }); // about another key: this read keeps its copy
    release();
    expect(await again).toBe("one");
    expect(reads).toBe(2); // read far again: the first kept no near copy
    expect(await cache.get("k")).toBe("one");
    expect(reads).toBe(2); // the second did
    await cache.set("k", "two"); // the bus throws: the write still stands
    expect(publishes).toBe(1);
    expect(await cache.get("k")).toBe("two");
  });

  it.each(["set", "add", "setMany"] as const)("keeps nothing near from its own %s when another process's change of the key is heard before the far store answers", async (write) => {
    const store = memory();
    let entered!: () => void;
    let release!: () => void;
    const landed = new Promise<void>((resolve) => (entered = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The far store takes the write at once, and its answer is slow to come back (HTTP).
    const slowly = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
      const result = await call(...args);
      entered();
      await gate;
      return result;
    };
    const far: Backend = { ...store, set: slowly(store.set.bind(store)), add: slowly(store.add!.bind(store)), setMany: slowly(store.setMany!.bind(store)) };
    let hear!: (message: Invalidation) => void;
    const bus: InvalidationBus = { join: (listener) => ((hear = listener), { publish: () => {}, leave: () => {} }) };
    const cache = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus }) });
    const writing = write === "set" ? cache.set("k", "mine") : write === "add" ? cache.add("k", "mine") : cache.setMany({ k: "mine" });
    await landed;
    await createCache({ backend: store }).set("k", "theirs"); // another process's write lands after this one's,
    hear({ keys: [cache.makeKey("k")] }); // and its announcement comes before this one's answer
    release();
    await writing;
    expect(await cache.get("k")).toBe("theirs");
  });

  it.each(["set", "delete"] as const)("keeps nothing near from a far read under way while the backend itself does a %s of its key", async (change) => {
    const store = memory();
    let entered!: () => void;
    let release!: () => void;
    const inRead = new Promise<void>((resolve) => (entered = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The far store answers the read at once, and the answer is slow to come back (HTTP).
    const far: Backend = { ...store, getWithTtl: async (key) => { const entry = await store.getWithTtl!(key); entered(); await gate; return entry; } };
    const cache = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60 }) });
    await createCache({ backend: store }).set("k", "old");
    const reading = cache.get("k");
    await inRead;
    if (change === "set") await cache.set("k", "new");
    else await cache.delete("k");
    release();
    expect(await reading).toBe("old"); // read before the change: fine to answer, not to keep
    expect(await cache.get("k")).toBe(change === "set" ? "new" : undefined);
  });

  it("names a bad bus or bus name", () => {
    expect(() => tiered({ near: memory(), far: memory(), bus: {} as never })).toThrow(new TypeError("options.bus must be an invalidation bus (with join), such as broadcastBus(), got an object (Object)"));
    expect(() => broadcastBus("")).toThrow(new TypeError('name must be a non-empty string, got ""'));
    const saved = globalThis.BroadcastChannel;
    try {
      Object.defineProperty(globalThis, "BroadcastChannel", { configurable: true, writable: true, value: undefined });
      expect(() => broadcastBus()).toThrow(BackendUnavailableError);
    } finally {
      Object.defineProperty(globalThis, "BroadcastChannel", { configurable: true, writable: true, value: saved });
    }
  });
});

describe("tiered over a store that counts expiry coarsely", () => {
  it("keeps near copies shorter by the far store's ttlGranularityMs (memcached's whole seconds), so none outlives its far entry", async () => {
    const clock = fakeClock();
    const near = memory({ now: clock.now, location: `tiered-near-${Math.random()}` });
    const store = memory({ now: clock.now, location: `tiered-far-${Math.random()}` });
    const far: Backend = { ...store, capabilities: { ...store.capabilities, shared: true, ttlGranularityMs: 1000 } };
    const backend = tiered({ near, far, nearTimeout: 30 });
    await backend.set("k", new Uint8Array([1]), 2);
    await backend.set("brief", new Uint8Array([2]), 0.5);
    expect(await near.ttl!("k")).toBe(1);
    expect(await near.get("brief")).toBeUndefined(); // less than the far store's step: kept far only
    expect(await backend.get("brief")).toEqual(new Uint8Array([2]));
    expect(await near.get("brief")).toBeUndefined();
    clock.advance(1.5);
    expect(await near.get("k")).toBeUndefined();
  });
});
