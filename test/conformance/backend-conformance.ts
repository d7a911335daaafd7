/**
 * The shared backend conformance suite: Django's low-level cache semantics, run through EdgeCache
 * against a real backend. Every adapter re-runs it:
 *
 *   describeBackendConformance("memcached", { create: async () => ({ backend, advance, dispose }) });
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.ts";
import { type CacheOptions, createCache, type EdgeCache } from "../../src/cache.ts";
import { CorruptEntryError, InvalidCacheKeyError, KeyNotFoundError } from "../../src/errors.ts";

/**
 * One freshly created, empty backend and the means to move its time forward. Tests that must
 * operate on an entry before it expires give it 2 s, never 1 s: memcached's clock ticks once a
 * second, so a 1 s entry can expire milliseconds after it is set.
 */
export interface ConformanceTarget {
  backend: Backend;
  /**
   * Let `seconds` pass for the backend: advance a fake clock, or wait in real time for a server
   * (adding whatever slack its clock granularity needs).
   */
  advance(seconds: number): Promise<void> | void;
  /** Stop servers, close clients. */
  dispose?(): Promise<void>;
}

export interface ConformanceOptions {
  create(): Promise<ConformanceTarget> | ConformanceTarget;
  /** The target's clock is fake, so long timeouts (300 s, 30 days) can be checked. Default false. */
  fakeClock?: boolean;
  /** The backend keeps nothing (dummy): check Django's dummy semantics instead. Default false. */
  storesNothing?: boolean;
  /** Counters may go below zero (memcached clamps at 0). Default true. */
  negativeCounters?: boolean;
  /** Increments are atomic across clients (false for Workers KV). Default true. */
  atomicIncrement?: boolean;
  /** The backend rejects memcached-unsafe keys with InvalidCacheKeyError instead of warning. Default false. */
  strictKeys?: boolean;
  /** The backend offers `streams` (the Cache API), checked by its own tests. Default false. */
  streams?: boolean;
  /** The backend offers `getWithTtl` (KV, the Cache API, memcached). Default false. */
  getWithTtl?: boolean;
}

/**
 * Register the conformance tests for one backend.
 *
 * @example
 * describeBackendConformance("memory", { fakeClock: true, create: () => { const clock = fakeClock(); return { backend: memory({ now: clock.now }), advance: clock.advance } } });
 */
export function describeBackendConformance(name: string, options: ConformanceOptions): void {
  describe(`backend conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let warnings: string[];
    let errors: unknown[];
    let cache: EdgeCache;
    const make = (extra: CacheOptions = {}): EdgeCache =>
      createCache({ backend: target.backend, onWarning: (m) => warnings.push(m), onError: (e) => errors.push(e), ...extra });

    beforeEach(async () => {
      target = await options.create();
      warnings = [];
      errors = [];
      cache = make();
    });
    afterEach(async () => {
      await target.dispose?.();
    });

    describe("arguments", () => {
      it.each([
        ["a number key", () => cache.set(1 as unknown as string, "v"), /key must be a string/],
        ["a NaN timeout", () => cache.set("k", "v", { timeout: NaN }), /timeout must be a finite number/],
        ["an Infinity timeout", () => cache.set("k", "v", { timeout: Infinity }), /timeout must be a finite number/],
        ["a string timeout", () => cache.set("k", "v", { timeout: "10" as unknown as number }), /timeout must be a finite number/],
        ["a fractional version", () => cache.set("k", "v", { version: 1.5 }), /version must be an integer/],
        ["a string delta", () => cache.incr("k", "2" as unknown as number), /delta must be an integer/],
        ["an undefined value", () => cache.set("k", undefined), /cannot store undefined/],
        ["a function value", () => cache.set("k", { f: () => 1 }), /cannot store a Function/],
        ["a symbol value", () => cache.set("k", [Symbol("s")]), /cannot store a symbol/],
        ["a class instance", () => cache.set("k", new (class Point { x = 1 })()), /^value: edgecache cannot store an instance of Point/],
        ["text with a lone surrogate", () => cache.set("k", { label: "\uD800" }), /^value: edgecache cannot store a string with a lone UTF-16 surrogate/],
        ["a bad value in setMany", () => cache.setMany([["k", 1], ["j", new Date(NaN), Symbol("s")] as never]), /entries must hold \[key, value\] pairs/],
        ["a value setMany cannot store", () => cache.setMany([["k", 1], ["j", () => 1]]), /^the value of entries\[1\]: edgecache cannot store a Function/],
        ["a value getOrSet cannot store", () => cache.getOrSet("k", new WeakMap()), /^the value for key "k": edgecache cannot store a WeakMap/],
        ["a circular value", () => cache.set("k", circular()), /cannot store this value: .*circular/],
        ["a value nested too deep to read back", () => cache.set("k", nested(200_000)), /cannot store a value nested more than 500 levels deep/],
        ["a key cut inside a character", () => cache.set("session:\uD83D", "v"), /key must be well-formed text/],
        ["a positional timeout (Django's)", () => cache.set("k", "v", 5 as never), /^options must be a plain object, got 5 \(Django's positional timeout goes in the options: \{ timeout: 5 \}\)$/],
        ["a positional never-expire timeout in getOrSet", () => cache.getOrSet("k", "v", null as never), /^options must be a plain object, got null \(Django's positional timeout goes in the options: \{ timeout: null \}\)$/],
        ["a positional default in get", () => cache.get("k", "fallback" as never), /\(Django's positional default goes in the options: \{ default: "fallback" \}\)$/],
        ["a misspelt option", () => cache.set("k", "v", { timout: 5 } as never), /^options.timout is not an option of set \(did you mean timeout\?\)$/],
        ["an option of another call", () => cache.get("k", { timeout: 5 } as never), /^options.timeout is not an option of get$/],
        ["a positional list default in get", () => cache.get("k", [] as never), /^options must be a plain object, got an array \(Django's positional default goes in the options: \{ default: … \}\)$/],
        ["a positional version in delete", () => cache.delete("k", 2 as never), /\(Django's positional version goes in the options: \{ version: 2 \}\)$/],
        ["a number key in getMany", () => cache.getMany(["k", 1 as unknown as string]), /keys\[1\] must be a string/],
        ["a number key in setMany", () => cache.setMany([["k", 1], [2 as unknown as string, 2]]), /the key of entries\[1\] must be a string/],
      ])("rejects %s with a TypeError and writes nothing", async (_label, call, message) => {
        await expect(call()).rejects.toThrow(TypeError);
        await expect(call()).rejects.toThrow(message);
        expect(await cache.has("k")).toBe(false);
      });

      it("rejects a bad value in setMany before writing any of the entries", async () => {
        await expect(cache.setMany({ a: 1, b: undefined })).rejects.toThrow(TypeError);
        expect(await cache.has("a")).toBe(false);
      });

      it("rejects a bad default timeout when the cache is created", () => {
        expect(() => make({ timeout: NaN })).toThrow(/options.timeout/);
        expect(() => make({ version: 1.1 })).toThrow(/options.version/);
      });
    });

    if (options.storesNothing) {
      describeDummy();
      return;
    }
    describeStorage();

    function describeDummy(): void {
      it("follows Django's dummy semantics", async () => {
        await cache.set("k", "v");
        expect(await cache.get("k")).toBeUndefined();
        expect(await cache.get("k", { default: "d" })).toBe("d");
        expect(await cache.add("k", "v")).toBe(true);
        expect(await cache.has("k")).toBe(false);
        expect(await cache.delete("k")).toBe(false);
        expect(await cache.touch("k")).toBe(false);
        expect(await cache.getOrSet("k", "default")).toBe("default");
        expect(await cache.getMany(["k"])).toEqual(new Map());
        expect(await cache.setMany({ a: 1 })).toEqual([]);
        await expect(cache.incr("k")).rejects.toThrow(KeyNotFoundError);
        await expect(cache.decr("k")).rejects.toThrow(KeyNotFoundError);
        await expect(cache.incrVersion("k")).rejects.toThrow(KeyNotFoundError);
        await cache.clear();
      });

      it("still warns about keys memcached would refuse", async () => {
        await cache.get("has space");
        expect(warnings).toHaveLength(1);
      });
    }

    function describeStorage(): void {
      describe("get and set", () => {
        it("round-trips every supported value type exactly", async () => {
          const values: Record<string, unknown> = {
            null: null, true: true, false: false, int: 42, negative: -7, float: 1.5, negativeZero: -0,
            big: 2n ** 80n, smallBig: 3n, string: "héllo ✓", empty: "", date: new Date(1_700_000_000_123),
            bytes: new Uint8Array([0, 1, 255]), buffer: Uint8Array.of(9, 8).buffer, array: [1, "two", [3]],
            object: { a: { b: [1, { c: null }] } }, map: new Map<unknown, unknown>([[1, "one"], ["k", new Set([2])]]),
            set: new Set(["a", 1]), nan: NaN, huge: Number.MAX_SAFE_INTEGER * 4,
          };
          for (const [key, value] of Object.entries(values)) await cache.set(key, value);
          for (const [key, value] of Object.entries(values)) {
            const got = await cache.get(key);
            expect(got, key).toEqual(value);
            expect(Object.prototype.toString.call(got), key).toBe(Object.prototype.toString.call(value));
          }
          expect(Object.is(await cache.get("negativeZero"), -0)).toBe(true);
        });

        it("gives back object keys and Map entries in the order they were stored", async () => {
          await cache.set("ordered", { zebra: 1, apple: 2, mango: { y: 1, b: 2 }, map: new Map([["b", 1], ["a", 2]]) });
          const got = (await cache.get<{ mango: object; map: Map<string, number> }>("ordered"))!;
          expect(Object.keys(got)).toEqual(["zebra", "apple", "mango", "map"]);
          expect(Object.keys(got.mango)).toEqual(["y", "b"]);
          expect([...got.map.keys()]).toEqual(["b", "a"]);
        });

        it("returns undefined, or the default, for a missing key", async () => {
          expect(await cache.get("missing")).toBeUndefined();
          expect(await cache.get("missing", { default: "fallback" })).toBe("fallback");
        });

        it("returns a stored null rather than the default", async () => {
          await cache.set("nothing", null);
          expect(await cache.get("nothing", { default: "fallback" })).toBeNull();
        });

        it("overwrites an existing value", async () => {
          await cache.set("k", "one");
          await cache.set("k", { two: 2 });
          expect(await cache.get("k")).toEqual({ two: 2 });
        });

        it("isolates what it stores from later mutation of the value, and of what get returned", async () => {
          const value = { list: [1], bytes: new Uint8Array([1]) };
          await cache.set("k", value);
          value.list.push(2);
          value.bytes[0] = 99;
          const got = (await cache.get<typeof value>("k"))!;
          got.list.push(3);
          got.bytes[0] = 77;
          expect(await cache.get("k")).toEqual({ list: [1], bytes: new Uint8Array([1]) });
        });

        it("treats corrupt bytes as a miss, drops the entry and reports it", async () => {
          await target.backend.set(cache.makeKey("k"), new TextEncoder().encode("\u00ffnot a value"), null);
          expect(await cache.get("k", { default: "d" })).toBe("d");
          expect(errors[0]).toBeInstanceOf(CorruptEntryError);
          await expect.poll(() => target.backend.get(cache.makeKey("k"))).toBeUndefined();
        });

        it("reads corrupt bytes as missing in has and incrVersion, as get does, and drops them in add, which fails", async () => {
          const corrupt = new TextEncoder().encode("\u00ffnot a value");
          await target.backend.set(cache.makeKey("k"), corrupt, null);
          expect(await cache.has("k")).toBe(false);
          await expect.poll(() => target.backend.get(cache.makeKey("k"))).toBeUndefined(); // dropped, as get drops it
          await target.backend.set(cache.makeKey("k"), corrupt, null);
          await expect(cache.incrVersion("k")).rejects.toThrow(KeyNotFoundError);
          expect(await target.backend.get(cache.makeKey("k", 2))).toBeUndefined();
          await expect.poll(() => target.backend.get(cache.makeKey("k"))).toBeUndefined();
          await target.backend.set(cache.makeKey("k"), corrupt, null);
          // Taken, and dropped: two adds replacing it could both be told they added.
          expect(await cache.add("k", "v")).toBe(false);
          await expect.poll(() => target.backend.get(cache.makeKey("k"))).toBeUndefined();
          expect(await cache.add("k", "v")).toBe(true);
          expect(await cache.get("k")).toBe("v");
          expect(errors.length).toBeGreaterThan(0);
          expect(errors.every((error) => error instanceof CorruptEntryError)).toBe(true);
        });
      });

      describe("timeouts", () => {
        it("keeps nothing for a timeout of 0 or less", async () => {
          await cache.set("k", "old");
          await cache.set("k", "v", { timeout: 0 });
          expect(await cache.has("k")).toBe(false);
          await cache.set("k", "v", { timeout: -5 });
          expect(await cache.has("k")).toBe(false);
          expect(await cache.add("k", "v", { timeout: 0 })).toBe(true);
          expect(await cache.has("k")).toBe(false);
        });

        it("expires an entry after its (fractional) timeout", async () => {
          await cache.set("short", "v", { timeout: 1.5 });
          await cache.set("long", "v", { timeout: 60 });
          await target.advance(1.5);
          expect(await cache.get("short")).toBeUndefined();
          expect(await cache.has("short")).toBe(false);
          expect(await cache.get("long")).toBe("v");
        });

        if (options.getWithTtl) {
          it("getWithTtl reads what get and ttl read, in one call", async () => {
            await cache.set("k", "v", { timeout: 60 });
            await cache.set("forever", "v", { timeout: null });
            const read = (key: string) => target.backend.getWithTtl!(cache.makeKey(key));
            const entry = await read("k");
            expect(entry?.value).toEqual(await target.backend.get(cache.makeKey("k")));
            expect(entry?.ttl).toBeGreaterThan(55);
            expect(entry?.ttl).toBeLessThanOrEqual(60);
            expect((await read("forever"))?.ttl).toBeNull();
            expect(await read("missing")).toBeUndefined();
          });
        }

        it("keeps a value whose timeout is over 2^31 s (68 years), as one that never expires", async () => {
          await cache.set("ages", "v", { timeout: 1e300 });
          await cache.set("decades", "v", { timeout: 2 ** 31 + 1 });
          expect([await cache.get("ages"), await cache.get("decades")]).toEqual(["v", "v"]);
          if (target.backend.ttl) expect(await target.backend.ttl(cache.makeKey("ages"))).toBeNull();
        });

        it("lets add store over an expired entry", async () => {
          await cache.set("k", "old", { timeout: 1 });
          await target.advance(1);
          expect(await cache.add("k", "new")).toBe(true);
          expect(await cache.get("k")).toBe("new");
        });

        if (options.fakeClock) {
          it("uses the default timeout of 300 s, and never expires null", async () => {
            await cache.set("default", "v");
            await cache.set("forever", "v", { timeout: null });
            await target.advance(299);
            expect(await cache.get("default")).toBe("v");
            await target.advance(2);
            expect(await cache.get("default")).toBeUndefined();
            await target.advance(60 * 86400);
            expect(await cache.get("forever")).toBe("v");
          });

          it("takes its default timeout from the options", async () => {
            const short = make({ timeout: 10 });
            await short.set("k", "v");
            await target.advance(11);
            expect(await short.get("k")).toBeUndefined();
          });
        }
      });

      describe("add and getOrSet", () => {
        it("adds only when the key is missing", async () => {
          expect(await cache.add("k", "first")).toBe(true);
          expect(await cache.add("k", "second")).toBe(false);
          expect(await cache.get("k")).toBe("first");
        });

        it("getOrSet returns the cached value, or stores a value or a factory's result", async () => {
          expect(await cache.getOrSet("v", "plain")).toBe("plain");
          expect(await cache.getOrSet("v", "other")).toBe("plain");
          expect(await cache.getOrSet("sync", () => 1)).toBe(1);
          expect(await cache.getOrSet("async", async () => ({ ok: true }))).toEqual({ ok: true });
          expect(await cache.get("async")).toEqual({ ok: true });
        });

        it("getOrSet stores null when the factory returns it", async () => {
          expect(await cache.getOrSet("n", () => null)).toBeNull();
          expect(await cache.get("n", { default: "d" })).toBeNull();
        });

        it("getOrSet returns the winner's value when a concurrent writer got there first", async () => {
          const other = make();
          const result = await cache.getOrSet("race", async () => {
            await other.set("race", "winner");
            return "loser";
          });
          expect(result).toBe("winner");
          expect(await cache.get("race")).toBe("winner");
        });

        it("getOrSet with a timeout of 0 returns the value and keeps nothing", async () => {
          expect(await cache.getOrSet("k", "v", { timeout: 0 })).toBe("v");
          expect(await cache.has("k")).toBe(false);
        });

        it("getOrSet runs one factory for concurrent callers in this isolate", async () => {
          let calls = 0;
          const factory = async () => {
            calls++;
            await new Promise((resolve) => setTimeout(resolve, 5));
            return "computed";
          };
          const results = await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet("herd", factory)));
          expect(results).toEqual(Array(10).fill("computed"));
          expect(calls).toBe(1);
        });

        it("getOrSet answers a value due for refreshAhead at once and replaces it in the background", async () => {
          await cache.set("rates", "old", { timeout: 5 });
          const refreshes: Array<Promise<unknown>> = [];
          const options = { timeout: 60, refreshAhead: 0.5, waitUntil: (refresh: Promise<unknown>) => void refreshes.push(refresh) };
          expect(await cache.getOrSet("rates", () => "new", options)).toBe("old"); // 5 s of 60 left
          expect(refreshes).toHaveLength(1);
          await refreshes[0];
          expect(errors).toEqual([]);
          expect(await cache.get("rates")).toBe("new");
          expect(await cache.getOrSet("rates", () => "newer", options)).toBe("new"); // a whole timeout left
          expect(refreshes).toHaveLength(1);
        });
      });

      describe("many at once", () => {
        it("getMany returns only the present keys, nulls included", async () => {
          await cache.setMany({ a: 1, b: null });
          const found = await cache.getMany(["a", "b", "c"][Symbol.iterator]());
          expect(found).toEqual(new Map<string, unknown>([["a", 1], ["b", null]]));
          expect(await cache.getMany([])).toEqual(new Map());
        });

        it("setMany accepts an object or pairs, applies the timeout and returns no failures", async () => {
          expect(await cache.setMany({ x: "1", y: [2] })).toEqual([]);
          expect(await cache.setMany(new Map([["z", 3]]), { timeout: 2 })).toEqual([]);
          expect(await cache.setMany({})).toEqual([]);
          expect(await cache.getMany(["x", "y", "z"])).toEqual(new Map<string, unknown>([["x", "1"], ["y", [2]], ["z", 3]]));
          await target.advance(2);
          expect(await cache.has("z")).toBe(false);
          expect(await cache.has("x")).toBe(true);
        });

        it("deleteMany removes the keys and accepts an empty list", async () => {
          await cache.setMany({ a: 1, b: 2, c: 3 });
          await cache.deleteMany(["a", "b", "missing"]);
          await cache.deleteMany([]);
          expect([...(await cache.getMany(["a", "b", "c"])).keys()]).toEqual(["c"]);
        });
      });

      describe("delete, has, clear, touch", () => {
        it("delete reports whether the key existed", async () => {
          await cache.set("k", 1);
          expect(await cache.delete("k")).toBe(true);
          expect(await cache.delete("k")).toBe(false);
          expect(await cache.get("k")).toBeUndefined();
        });

        it("has counts a stored null", async () => {
          await cache.set("n", null);
          expect(await cache.has("n")).toBe(true);
          expect(await cache.has("missing")).toBe(false);
        });

        it("clear removes every entry", async () => {
          await cache.setMany({ a: 1, b: 2 });
          await cache.clear();
          expect(await cache.getMany(["a", "b"])).toEqual(new Map());
        });

        it("touch gives an existing entry a new timeout and reports whether it existed", async () => {
          await cache.set("k", "v", { timeout: 2 });
          expect(await cache.touch("k", { timeout: 60 })).toBe(true);
          await target.advance(2);
          expect(await cache.get("k")).toBe("v");
          expect(await cache.touch("missing")).toBe(false);
        });

        it("touch with null makes an entry permanent, and with 0 removes it", async () => {
          await cache.set("k", "v", { timeout: 2 });
          expect(await cache.touch("k", { timeout: null })).toBe(true);
          await target.advance(2);
          expect(await cache.get("k")).toBe("v");
          expect(await cache.touch("k", { timeout: 0 })).toBe(true);
          expect(await cache.has("k")).toBe(false);
        });
      });

      describe("incr and decr", () => {
        it("adds and subtracts, returning the new value", async () => {
          await cache.set("n", 10);
          expect(await cache.incr("n")).toBe(11);
          expect(await cache.incr("n", 5)).toBe(16);
          expect(await cache.decr("n")).toBe(15);
          expect(await cache.decr("n", 5)).toBe(10);
          expect(await cache.get("n")).toBe(10);
        });

        if (options.negativeCounters !== false) {
          it("goes below zero", async () => {
            await cache.set("n", 1);
            expect(await cache.decr("n", 3)).toBe(-2);
            expect(await cache.incr("n", -1)).toBe(-3);
          });
        }

        it("raises KeyNotFoundError with the made key for a missing key", async () => {
          await expect(cache.incr("missing")).rejects.toThrow(KeyNotFoundError);
          await expect(cache.decr("missing")).rejects.toThrow("Key ':1:missing' not found");
        });

        it("raises a TypeError for a value that is not an integer", async () => {
          await cache.set("s", "abc");
          await expect(cache.incr("s")).rejects.toThrow(TypeError);
          expect(await cache.get("s")).toBe("abc");
        });

        it("keeps the existing expiry", async () => {
          await cache.set("n", 1, { timeout: 2 });
          await cache.incr("n");
          await target.advance(2);
          expect(await cache.has("n")).toBe(false);
        });

        if (options.atomicIncrement !== false) {
          it("is atomic: concurrent increments end at the exact sum", async () => {
            expect(target.backend.capabilities?.atomicIncrement).toBe(true);
            await cache.set("counter", 0);
            await Promise.all(Array.from({ length: 200 }, (_, i) => cache.incr("counter", (i % 3) + 1)));
            expect(await cache.get("counter")).toBe(Array.from({ length: 200 }, (_, i) => (i % 3) + 1).reduce((a, b) => a + b));
          });
        }
      });

      describe("keys and versions", () => {
        it("makes Django's default keys", () => {
          expect(cache.makeKey("k")).toBe(":1:k");
          expect(make({ keyPrefix: "p", version: 3 }).makeKey("k")).toBe("p:3:k");
          expect(cache.makeKey("k", 7)).toBe(":1:k".replace("1", "7"));
        });

        it("uses a custom key function", async () => {
          const custom = make({ keyFunction: (key, prefix, version) => `CUSTOM-${[prefix, version, key].join("-")}` });
          expect(custom.makeKey("k")).toBe("CUSTOM--1-k");
          await custom.set("k", "v");
          expect(await custom.get("k")).toBe("v");
          expect(await cache.get("k")).toBeUndefined();
        });

        it("separates key prefixes and versions", async () => {
          const prefixed = make({ keyPrefix: "other" });
          const v2 = make({ version: 2 });
          await cache.set("k", "plain");
          await prefixed.set("k", "prefixed");
          await v2.set("k", "v2");
          expect(await cache.get("k")).toBe("plain");
          expect(await prefixed.get("k")).toBe("prefixed");
          expect(await v2.get("k")).toBe("v2");
          expect(await cache.get("k", { version: 2 })).toBe("v2");
        });

        it("incrVersion and decrVersion move the value and return the new version", async () => {
          await cache.set("k", null);
          expect(await cache.incrVersion("k")).toBe(2);
          expect(await cache.has("k")).toBe(false);
          expect(await cache.get("k", { version: 2, default: "d" })).toBeNull();
          expect(await cache.decrVersion("k", 1, { version: 2 })).toBe(1);
          expect(await cache.get("k", { default: "d" })).toBeNull();
          await expect(cache.incrVersion("missing")).rejects.toThrow("Key 'missing' not found");
        });

        if (options.strictKeys) {
          it("rejects keys memcached would refuse with InvalidCacheKeyError before sending anything", async () => {
            await expect(cache.set("x".repeat(250), 1)).rejects.toThrow(InvalidCacheKeyError);
            await expect(cache.get("has space")).rejects.toThrow(InvalidCacheKeyError);
            await expect(cache.has(`ctrl\u0001`)).rejects.toThrow(InvalidCacheKeyError);
          });
        } else {
          it("warns about keys memcached would refuse (both messages can fire)", async () => {
            await cache.set("x".repeat(250), 1);
            await cache.set("has space", 1);
            await cache.set(`${"y".repeat(250)}\t`, 1);
            await cache.set("\u{1F600}".repeat(247), 1); // 250 code points made (Python's len), 497 UTF-16 units: no warning
            await cache.set("\u{1F600}".repeat(248), 1);
            expect(warnings).toEqual([
              `Cache key will cause errors if used with memcached: ':1:${"x".repeat(250)}' (longer than 250)`,
              "Cache key contains characters that will cause errors if used with memcached: ':1:has space'",
              `Cache key will cause errors if used with memcached: ':1:${"y".repeat(250)}\\t' (longer than 250)`,
              `Cache key contains characters that will cause errors if used with memcached: ':1:${"y".repeat(250)}\\t'`,
              `Cache key will cause errors if used with memcached: ':1:${"\u{1F600}".repeat(248)}' (longer than 250)`,
            ]);
            expect(await cache.get("has space")).toBe(1);
          });
        }
      });

      it(options.streams ? "offers streams" : "offers no streams, so pages are read as plain values", () => {
        expect(target.backend.streams !== undefined).toBe(options.streams ?? false);
      });

      if (options.streams) describe("streams", () => {
        const bytes = (...values: number[]) => Uint8Array.from(values);
        const streams = () => target.backend.streams!;
        const readBody = async (body: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(body).arrayBuffer());

        it("stores a head and a body as the one value get returns", async () => {
          await streams().set("s", bytes(1, 2), bytes(3, 4, 5), 60);
          expect(await target.backend.get("s")).toEqual(bytes(1, 2, 3, 4, 5));
          const entry = (await streams().get("s"))!;
          expect(entry.length).toBe(5);
          expect(await readBody(entry.body)).toEqual(entry.head.byteLength === 2 ? bytes(3, 4, 5) : bytes(1, 2, 3, 4, 5).subarray(entry.head.byteLength));
        });

        it("reads a plain value as an empty head and the value as the body", async () => {
          await target.backend.set("p", bytes(7, 8, 9), 60);
          const entry = (await streams().get("p"))!;
          expect(entry.length).toBe(3);
          expect([...entry.head, ...(await readBody(entry.body))]).toEqual([7, 8, 9]);
        });

        it("reports missing and expired entries as undefined", async () => {
          expect(await streams().get("missing")).toBeUndefined();
          await streams().set("short", bytes(1), bytes(2), 2);
          await target.advance(3);
          expect(await streams().get("short")).toBeUndefined();
          expect(await target.backend.get("short")).toBeUndefined();
        });
      });
    }
  });
}

/** An object that holds itself. */
function circular(): object {
  const value: { self?: object } = {};
  value.self = value;
  return value;
}

/** Arrays nested `depth` deep. */
function nested(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}
