/**
 * The low-level cache on the memory backend, as every runtime must run it: the codec's value
 * types, Django's API, timeouts on an injected clock, counters, versions, the registry, errors,
 * and the tiered backend (memory in front of memory), with a BroadcastChannel bus where the
 * runtime has one.
 */
import { memory } from "../../adapters/memory.ts";
import { broadcastBus, tiered } from "../../adapters/tiered.ts";
import { BackendUnavailableError, caches, configureCaches, createCache, FactoryTimeoutError, InvalidCacheBackendError, KeyNotFoundError, purgeTag } from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { equal, ok, suite, throws } from "./harness.ts";

/**
 * The core suite.
 *
 * @example
 * await runTests([core], console.log);
 */
export default suite("core", (test) => {
  test("stores every supported value type and reads it back as the same type", async () => {
    const cache = createCache({ backend: memory() });
    const values: Record<string, unknown> = {
      null: null, true: true, float: -1.5, int: 42, negativeZero: -0, big: 2n ** 70n, small: -(2n ** 70n),
      text: "grüße 🌍", date: new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 7)), bytes: Uint8Array.of(0, 1, 255),
      nested: { list: [1, "two", [3]], map: new Map<unknown, unknown>([[1, new Set(["a"])], ["k", { deep: null }]]) },
    };
    ok((await cache.setMany(values)).length === 0, "every value is stored");
    equal(Object.fromEntries(await cache.getMany(Object.keys(values))), values);
    const buffer = await cache.getOrSet("buffer", Uint8Array.of(9, 8).buffer);
    ok(buffer instanceof ArrayBuffer, "an ArrayBuffer comes back as an ArrayBuffer");
    equal(new Uint8Array(buffer), Uint8Array.of(9, 8));
  });

  test("refuses values it cannot store faithfully, and bad arguments, with a TypeError", async () => {
    const cache = createCache({ backend: memory() });
    await throws(() => cache.set("k", undefined), TypeError, /undefined/);
    await throws(() => cache.set("k", { f: () => 1 }), TypeError, /Function/);
    await throws(() => cache.set("k", new (class Point {})()), TypeError, /Point/);
    await throws(() => cache.set("k", 1, { timeout: Number.NaN }), TypeError, /timeout/);
    await throws(() => cache.get(7 as unknown as string), TypeError, /key/);
    equal(await cache.has("k"), false, "nothing was stored");
  });

  test("add, getOrSet, has, delete, deleteMany and clear follow Django", async () => {
    const cache = createCache({ backend: memory() });
    equal(await cache.add("k", "first"), true);
    equal(await cache.add("k", "second"), false);
    equal(await cache.getOrSet("k", () => "computed"), "first");
    equal(await cache.getOrSet("fresh", async () => "computed"), "computed");
    await cache.set("nothing", null);
    equal([await cache.has("nothing"), await cache.get("nothing", { default: "d" }), await cache.get("absent", { default: "d" })], [true, null, "d"]);
    equal([await cache.delete("k"), await cache.delete("k")], [true, false]);
    await cache.deleteMany(["fresh", "absent"]);
    equal(await cache.has("fresh"), false);
    await cache.clear();
    equal(await cache.has("nothing"), false);
  });

  test("tagged values: purgeTag ends them, and after a soft purge getOrSet answers the old value while it recomputes", async () => {
    const clock = fakeClock();
    const cache = createCache({ backend: memory({ now: clock.now }), now: clock.now });
    await cache.set("price", 10, { tags: ["product:1"] });
    equal(await cache.getOrSet("stock", async () => 5, { tags: ["product:1", "stock"] }), 5);
    await purgeTag("stock", { cache, now: clock.now, soft: true });
    clock.advance(1);
    const refreshed: Promise<unknown>[] = [];
    equal(await cache.getOrSet("stock", async () => 4, { tags: ["product:1", "stock"], waitUntil: (work) => void refreshed.push(work) }), 5);
    await Promise.all(refreshed);
    equal(await cache.get("stock"), 4);
    await purgeTag("product:1", { cache, now: clock.now });
    clock.advance(1);
    equal(await cache.getMany(["price", "stock"]), new Map());
  });

  test("getOrSetMany computes only the missing keys, in one batch; getOrSet takes its timeout from the value and stops waiting at hardTimeoutMs", async () => {
    const clock = fakeClock();
    const cache = createCache({ backend: memory({ now: clock.now }), now: clock.now });
    await cache.set("b", "stored");
    const asked: string[][] = [];
    const batch = async (missing: string[]) => (asked.push(missing), Object.fromEntries(missing.map((key) => [key, `computed ${key}`])));
    equal(await cache.getOrSetMany(["a", "b", "c"], batch), new Map([["a", "computed a"], ["b", "stored"], ["c", "computed c"]]));
    equal(asked, [["a", "c"]]);
    await cache.getOrSet("token", async () => ({ expiresIn: 90 }), { timeout: (token) => token.expiresIn - 30 });
    clock.advance(59.9);
    equal(await cache.get("token"), { expiresIn: 90 });
    clock.advance(0.1);
    equal(await cache.get("token"), undefined);
    let finish!: (value: string) => void;
    const slow = () => new Promise<string>((resolve) => (finish = resolve));
    const behind: Promise<unknown>[] = [];
    await throws(() => cache.getOrSet("slow", slow, { hardTimeoutMs: 5, waitUntil: (work) => void behind.push(work) }), FactoryTimeoutError, /hardTimeoutMs \(5 ms\)/);
    finish("late");
    await Promise.all(behind);
    equal(await cache.get("slow"), "late");
  });

  test("timeouts follow the clock: default, per call, never, keep-nothing and touch", async () => {
    const clock = fakeClock();
    const cache = createCache({ backend: memory({ now: clock.now }), timeout: 60 });
    await cache.set("default", 1);
    await cache.set("short", 2, { timeout: 0.5 });
    await cache.set("forever", 3, { timeout: null });
    await cache.set("touched", 4, { timeout: 10 });
    await cache.set("zero", 5, { timeout: 0 });
    equal(await cache.has("zero"), false, "timeout 0 keeps nothing");
    equal(await cache.touch("touched", { timeout: 120 }), true);
    clock.advance(1);
    equal(await cache.get("short"), undefined, "a fractional timeout expires");
    clock.advance(60);
    equal(Object.fromEntries(await cache.getMany(["default", "forever", "touched"])), { forever: 3, touched: 4 });
  });

  test("incr and decr count atomically and raise KeyNotFoundError for a missing key", async () => {
    const cache = createCache({ backend: memory() });
    await cache.set("hits", 10);
    equal([await cache.incr("hits"), await cache.incr("hits", 5), await cache.decr("hits", 20)], [11, 16, -4]);
    await throws(() => cache.incr("missing"), KeyNotFoundError, /missing/);
    await Promise.all(Array.from({ length: 20 }, () => cache.incr("hits")));
    equal(await cache.get("hits"), 16);
  });

  test("key prefix, versions and a custom key function shape the backend key", async () => {
    const backend = memory();
    const cache = createCache({ backend, keyPrefix: "shop", version: 2 });
    equal(cache.makeKey("cart"), "shop:2:cart");
    await cache.set("cart", ["apple"]);
    equal(await cache.get("cart", { version: 1 }), undefined);
    equal(await cache.incrVersion("cart"), 3);
    equal([await cache.get("cart"), await cache.get("cart", { version: 3 })], [undefined, ["apple"]]);
    const flat = createCache({ backend, keyFunction: (key, prefix, version) => [prefix, key, version].join("/") });
    equal(flat.makeKey("cart", 7), "/cart/7");
  });

  test("memcached-unsafe keys are reported to onWarning", async () => {
    const warnings: string[] = [];
    const cache = createCache({ backend: memory(), onWarning: (message) => warnings.push(message) });
    await cache.set("has space", 1);
    await cache.set("x".repeat(300), 1);
    equal(warnings.length, 2, "one warning per unsafe key");
  });

  test("configureCaches names caches; an unknown alias is an InvalidCacheBackendError", async () => {
    configureCaches({ default: { backend: memory(), keyPrefix: "d" }, sessions: { backend: memory(), timeout: null } });
    equal(caches.default.makeKey("k"), "d:1:k");
    ok(caches.get("sessions") === caches.get("sessions"), "an alias is one cache");
    await throws(() => caches.get("nope"), InvalidCacheBackendError, /nope/);
    configureCaches({});
  });

  test("tiered: each isolate's near tier answers repeated reads, writes reach the far store, expiry stays exact", async () => {
    const clock = fakeClock();
    const far = memory({ now: clock.now });
    const isolate = () => createCache({ backend: tiered({ near: memory({ now: clock.now }), far, nearTimeout: 5 }) });
    const [a, b] = [isolate(), isolate()];
    await a.set("k", "one", { timeout: 3 });
    equal(await b.get("k"), "one");
    await a.set("k", "two", { timeout: 3 });
    equal([await a.get("k"), await b.get("k")], ["two", "one"]); // b answers from its near copy
    clock.advance(3);
    equal([await a.get("k"), await b.get("k")], [undefined, undefined]);
  });

  test("tiered with broadcastBus: a change drops the other isolate's near copy as soon as it hears, where the runtime has BroadcastChannel", async () => {
    if (typeof globalThis.BroadcastChannel !== "function") {
      await throws(() => broadcastBus(), BackendUnavailableError, /BroadcastChannel is not available/);
      return;
    }
    const far = memory();
    const name = `edgecache-portable-${Math.random()}`;
    const isolate = () => createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus: broadcastBus(name) }) });
    const [a, b] = [isolate(), isolate()];
    await createCache({ backend: far }).set("k", "one");
    equal(await b.get("k"), "one"); // kept near for a minute
    await a.set("k", "two");
    let seen: unknown;
    for (let attempt = 0; attempt < 200 && (seen = await b.get("k")) !== "two"; attempt++) await new Promise((resolve) => setTimeout(resolve, 5));
    equal(seen, "two");
    await Promise.all([a.close(), b.close()]);
  });
});
