import { describe, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import { BackendUnavailableError } from "../src/errors.ts";
import { purgeTag } from "../src/tags.ts";
import { createCache } from "../src/cache.ts";
import { describeBackendConformance } from "./conformance/backend-conformance.ts";
import { fakeClock } from "./conformance/fake-clock.ts";
import { streamingMemory } from "./fixtures/streaming-memory.ts";

describeBackendConformance("memory", {
  fakeClock: true,
  getWithTtl: true,
  create() {
    const clock = fakeClock();
    return { backend: memory({ now: clock.now, maxEntries: 10_000 }), advance: clock.advance };
  },
});

describeBackendConformance("memory with streams (the test fixture for streamed pages)", {
  fakeClock: true,
  streams: true,
  create() {
    const clock = fakeClock();
    return { backend: streamingMemory({ now: clock.now, maxEntries: 10_000, chunkBytes: 2 }).backend, advance: clock.advance };
  },
});

const keysOf = async (backend: ReturnType<typeof memory>, keys: string[]) =>
  (await Promise.all(keys.map(async (key) => ((await backend.has!(key)) ? key : undefined)))).filter(Boolean);

describe("memory backend: Django's locmem culling and LRU", () => {
  const fill = async (cache: ReturnType<typeof createCache>, count: number) => {
    for (let i = 1; i < count; i++) await cache.set(`cull${i}`, "value", { timeout: 1000 });
  };

  it("49 distinct sets with maxEntries 30 leave 29 entries", async () => {
    const cache = createCache({ backend: memory({ maxEntries: 30 }) });
    await fill(cache, 50);
    const present = await cache.getMany(Array.from({ length: 49 }, (_, i) => `cull${i + 1}`));
    expect(present.size).toBe(29);
  });

  it("49 distinct sets with maxEntries 30 and cullFrequency 0 leave 19 entries", async () => {
    const cache = createCache({ backend: memory({ maxEntries: 30, cullFrequency: 0 }) });
    await fill(cache, 50);
    const present = await cache.getMany(Array.from({ length: 49 }, (_, i) => `cull${i + 1}`));
    expect(present.size).toBe(19);
  });

  it("culls at least one entry when size / cullFrequency rounds to 0", async () => {
    const backend = memory({ maxEntries: 2, cullFrequency: 5 });
    for (const key of ["a", "b", "c", "d"]) await backend.set(key, new Uint8Array([1]), null);
    expect(await keysOf(backend, ["a", "b", "c", "d"])).toEqual(["c", "d"]);
  });

  it("get, set, incr and the cache's has (which reads the entry, for its tags) refresh recency; the backend's has and touch do not", async () => {
    const backend = memory({ maxEntries: 3, cullFrequency: 3 });
    const cache = createCache({ backend });
    await cache.set("a", 1);
    await cache.set("b", 2);
    await cache.set("c", 3);
    await cache.has("a"); // order now b, c, a
    await cache.incr("b"); // c, a, b
    await backend.has!(":1:c");
    await cache.touch("c", { timeout: 100 }); // c stays least recent
    await cache.set("d", 4); // full: culls one (3 / 3) — the least recently used, c
    expect(await keysOf(backend, [":1:a", ":1:b", ":1:c", ":1:d"])).toEqual([":1:a", ":1:b", ":1:d"]);
    await cache.set("a", 10); // b, d, a
    await cache.set("e", 5); // culls b
    expect(await keysOf(backend, [":1:a", ":1:b", ":1:d", ":1:e"])).toEqual([":1:a", ":1:d", ":1:e"]);
  });

  it("a failed add neither refreshes recency nor culls", async () => {
    const backend = memory({ maxEntries: 2, cullFrequency: 2 });
    await backend.set("a", new Uint8Array([1]), null);
    await backend.set("b", new Uint8Array([1]), null);
    expect(await backend.add!("a", new Uint8Array([2]), null)).toBe(false);
    expect(await keysOf(backend, ["a", "b"])).toEqual(["a", "b"]);
    await backend.set("c", new Uint8Array([1]), null); // culls the least recent: a
    expect(await keysOf(backend, ["a", "b", "c"])).toEqual(["b", "c"]);
  });

  it("removes expired entries when it meets them", async () => {
    let now = 0;
    const backend = memory({ now: () => now, maxEntries: 2 });
    await backend.set("old", new Uint8Array([1]), 1);
    await backend.set("keep", new Uint8Array([1]), null);
    now = 5000;
    expect(await backend.get("old")).toBeUndefined();
    await backend.set("new", new Uint8Array([1]), null); // room without culling "keep"
    expect(await keysOf(backend, ["keep", "new"])).toEqual(["keep", "new"]);
  });

  it("evicts least recently used entries to stay within maxBytes", async () => {
    const backend = memory({ maxBytes: 100 });
    await backend.set("a", new Uint8Array(40), null);
    await backend.set("b", new Uint8Array(40), null);
    await backend.get("a");
    await backend.set("c", new Uint8Array(40), null); // over budget: b goes
    expect(await keysOf(backend, ["a", "b", "c"])).toEqual(["a", "c"]);
    await expect(backend.set("huge", new Uint8Array(200), null)).rejects.toThrow(/huge \(200 bytes\) does not fit, with its key, the store's 100-byte budget/);
    expect(await backend.has!("huge")).toBe(false);
    expect(await keysOf(backend, ["a", "c"])).toEqual(["a", "c"]);
  });

  it("refuses an entry over maxBytes without culling for it, and says so from add and setMany too", async () => {
    const backend = memory({ maxBytes: 100, maxEntries: 3 });
    for (const key of ["a", "b", "c"]) await backend.set(key, new Uint8Array(10), null); // full: a write would cull
    await expect(backend.add!("huge", new Uint8Array(200), null)).rejects.toThrow(BackendUnavailableError);
    expect(await backend.setMany!([["huge", new Uint8Array(200)], ["d", new Uint8Array(10)]], null)).toEqual(["huge"]);
    expect(await keysOf(backend, ["b", "c", "d", "huge"])).toEqual(["b", "c", "d"]); // one cull, for d
    await expect(backend.set("c", new Uint8Array(200), null)).rejects.toThrow(BackendUnavailableError);
    expect(await backend.has!("c")).toBe(false); // as memcached: no old value behind a failed write
    const cache = createCache({ backend, ignoreErrors: true, onError: () => {} });
    expect(await cache.add("big", new Uint8Array(200))).toBe(false);
  });

  it("sizes and culls a location's store by the first backend's options, whichever backend writes", async () => {
    const first = memory({ location: "sized-test", maxEntries: 10 });
    const second = memory({ location: "sized-test", maxEntries: 2, maxBytes: 5 });
    for (let i = 0; i < 10; i++) await second.set(`k${i}`, new Uint8Array(10), null);
    expect(await keysOf(first, Array.from({ length: 10 }, (_, i) => `k${i}`))).toHaveLength(10);
    await first.set("k10", new Uint8Array(1), null); // full at 10: Django's cull of a third first
    expect(await keysOf(first, Array.from({ length: 11 }, (_, i) => `k${i}`))).toHaveLength(8);
  });

  it("shares one store between backends with the same location, and isolates other names", async () => {
    const one = createCache({ backend: memory({ location: "shared-test" }) });
    const two = createCache({ backend: memory({ location: "shared-test" }) });
    const other = createCache({ backend: memory({ location: "other-test" }) });
    const unnamed = createCache({ backend: memory() });
    await one.set("k", "v");
    expect(await two.get("k")).toBe("v");
    expect(await other.get("k")).toBeUndefined();
    expect(await unnamed.get("k")).toBeUndefined();
  });

  it("is one store to edgecache through every backend over a location: a purge through one is seen through the others at once", async () => {
    const one = createCache({ backend: memory({ location: "purge-test" }) });
    const two = createCache({ backend: memory({ location: "purge-test" }) });
    await one.set("k", "v", { tags: ["t"] });
    expect(await two.get("k")).toBe("v"); // two now knows the tag's record
    await purgeTag("t", { cache: one });
    expect(await two.get("k")).toBeUndefined();
  });

  it("rejects bad options naming them", () => {
    expect(() => memory({ maxEntries: 1.5 })).toThrow(/options.maxEntries must be an integer/);
    expect(() => memory({ cullFrequency: -1 })).toThrow(/options.cullFrequency/);
    expect(() => memory({ maxBytes: 0 })).toThrow(/options.maxBytes/);
    expect(() => memory({ maxBytes: 1000.5 })).toThrow(/options.maxBytes must be a positive integer/);
    expect(() => memory({ maxEntries: 2 ** 27 })).toThrow(/options.maxEntries must be from 1 to 2 \*\* 24/);
    expect(() => memory({ location: 5 as unknown as string })).toThrow(/options.location/);
  });
});
