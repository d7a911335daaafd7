/**
 * `getOrSetMany`: the stored values of many keys, and the missing ones computed in one batch and
 * stored in one write. Backend calls are counted through `onBackendCall`; time is a fake clock.
 */
import { describe, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import { type Backend, type BackendCall, BackendUnavailableError, createCache, purgeTag } from "../src/index.ts";
import { fakeClock } from "./conformance/fake-clock.ts";

/** A cache on a fake clock, the backend operations it calls, and a batch "origin" that records what it was asked. */
function setup() {
  const clock = fakeClock();
  const calls: BackendCall[] = [];
  const cache = createCache({ backend: memory({ now: clock.now }), timeout: 60, now: clock.now, onBackendCall: (call) => calls.push(call) });
  const asked: string[][] = [];
  const products = async (ids: string[]) => {
    asked.push(ids);
    return new Map(ids.filter((id) => id !== "product:404").map((id) => [id, { id, name: `name of ${id}` }]));
  };
  const operations = () => calls.splice(0).map(({ operation }) => operation);
  return { clock, cache, asked, products, operations };
}

describe("getOrSetMany", () => {
  it("reads every key in one call, computes only the missing ones in one batch, and stores them in one write", async () => {
    const t = setup();
    await t.cache.set("product:2", { id: "product:2", name: "stored" });
    t.operations();
    const first = await t.cache.getOrSetMany(["product:1", "product:2", "product:3", "product:1"], t.products);
    expect([...first.keys()]).toEqual(["product:1", "product:2", "product:3"]); // in the order asked
    expect(first.get("product:2")).toEqual({ id: "product:2", name: "stored" });
    expect(first.get("product:3")).toEqual({ id: "product:3", name: "name of product:3" });
    expect(t.asked).toEqual([["product:1", "product:3"]]);
    expect(t.operations()).toEqual(["getMany", "setMany"]);
    const second = await t.cache.getOrSetMany(["product:1", "product:2", "product:3"], t.products);
    expect(second).toEqual(first);
    expect(t.asked).toHaveLength(1); // nothing missing: no computation
    expect(t.operations()).toEqual(["getMany"]);
  });

  it("leaves out, and stores nothing for, the keys the computation did not return; ignores keys it was not asked for", async () => {
    const t = setup();
    const found = await t.cache.getOrSetMany(["product:1", "product:404"], async () => ({ "product:1": 1, "product:9": 9 }));
    expect(found).toEqual(new Map([["product:1", 1]]));
    expect(await t.cache.getMany(["product:1", "product:404", "product:9"])).toEqual(new Map([["product:1", 1]]));
  });

  it("keeps the values for the timeout given, and stores nothing with 0", async () => {
    const t = setup();
    await t.cache.getOrSetMany(["a"], t.products, { timeout: 10 });
    await t.cache.getOrSetMany(["b"], t.products, { timeout: 0 });
    expect([...(await t.cache.getMany(["a", "b"])).keys()]).toEqual(["a"]);
    t.clock.advance(10);
    expect(await t.cache.getMany(["a"])).toEqual(new Map());
  });

  it("files the values under tags as of the computation's start, so a purge during it ends them", async () => {
    const t = setup();
    const purgedWhileComputing = async (ids: string[]) => {
      t.clock.advance(0.1);
      await purgeTag("catalogue", { cache: t.cache, now: t.clock.now });
      t.clock.advance(0.1);
      return t.products(ids);
    };
    expect((await t.cache.getOrSetMany(["product:1"], purgedWhileComputing, { tags: ["catalogue"] })).get("product:1")).toEqual({ id: "product:1", name: "name of product:1" });
    expect(await t.cache.getMany(["product:1"])).toEqual(new Map()); // it may hold what the purge was for
    await t.cache.getOrSetMany(["product:1"], t.products, { tags: ["catalogue"] });
    expect([...(await t.cache.getMany(["product:1"])).keys()]).toEqual(["product:1"]);
    t.clock.advance(1);
    await purgeTag("catalogue", { cache: t.cache, now: t.clock.now });
    t.clock.advance(0.001);
    expect(await t.cache.getMany(["product:1"])).toEqual(new Map());
  });

  it("keeps each value for the timeout a function of it gives, storing values with the same timeout together", async () => {
    const t = setup();
    const found = await t.cache.getOrSetMany(["a", "missing", "b"], async () => ({ a: 1, missing: null, b: 2 }), { timeout: (value) => (value === null ? 5 : 60) });
    expect(found).toEqual(new Map([["a", 1], ["missing", null], ["b", 2]]));
    expect(t.operations()).toEqual(["getMany", "setMany", "setMany"]); // one write per timeout
    t.clock.advance(5);
    expect([...(await t.cache.getMany(["a", "missing", "b"])).keys()]).toEqual(["a", "b"]);
    t.clock.advance(55);
    expect(await t.cache.getMany(["a", "b"])).toEqual(new Map());
  });

  it("files each value under the tags a function of it and its key gives, so one purge ends one value", async () => {
    const t = setup();
    await t.cache.getOrSetMany(["product:1", "product:2"], t.products, { tags: (product, key) => [key, `name:${product.name}`] });
    t.clock.advance(1);
    await purgeTag("product:1", { cache: t.cache, now: t.clock.now });
    t.clock.advance(0.001);
    expect([...(await t.cache.getMany(["product:1", "product:2"])).keys()]).toEqual(["product:2"]);
    await purgeTag("name:name of product:2", { cache: t.cache, now: t.clock.now });
    t.clock.advance(0.001);
    expect(await t.cache.getMany(["product:2"])).toEqual(new Map());
  });

  it("returns, without storing, a value whose timeout or tags cannot be had, and tells onError why", async () => {
    const errors: Array<[string, string]> = [];
    const cache = createCache({ backend: memory(), onError: (error, operation) => errors.push([operation, (error as Error).message]) });
    const compute = async () => ({ a: 1, b: 2, c: 3 });
    const timeout = (value: number) => (value === 2 ? ("soon" as never) : 60);
    const tags = (value: number) => {
      if (value === 3) throw new Error("no tags for 3");
      return ["numbers"];
    };
    expect(await cache.getOrSetMany(["a", "b", "c"], compute, { timeout, tags })).toEqual(new Map([["a", 1], ["b", 2], ["c", 3]]));
    expect([...(await cache.getMany(["a", "b", "c"])).keys()]).toEqual(["a"]);
    expect(errors).toEqual([
      ["getOrSetMany", 'the timeout options.timeout returned must be a finite number of seconds or null, got "soon"'],
      ["getOrSetMany", "no tags for 3"],
    ]);
  });

  it("returns the values the store did not keep, and tells onError their keys", async () => {
    const base = memory();
    // A store that keeps no value over 32 bytes, as memcached keeps none over its item size.
    const backend: Backend = {
      ...base,
      async setMany(entries, ttl) {
        const kept = entries.filter(([, bytes]) => bytes.byteLength <= 32);
        await base.setMany!(kept, ttl);
        return entries.filter((entry) => !kept.includes(entry)).map(([key]) => key);
      },
    };
    const errors: Array<[unknown, string]> = [];
    const cache = createCache({ backend, onError: (error, operation) => errors.push([error, operation]) });
    const found = await cache.getOrSetMany(["small", "large"], async () => ({ small: 1, large: "x".repeat(100) }));
    expect(found).toEqual(new Map<string, unknown>([["small", 1], ["large", "x".repeat(100)]]));
    expect([...(await cache.getMany(["small", "large"])).keys()]).toEqual(["small"]);
    expect(errors).toHaveLength(1);
    const [error, operation] = errors[0]!;
    expect(operation).toBe("getOrSetMany");
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toBe('getOrSetMany: the store did not keep 1 of 2 computed values ("large")');
  });

  it("names a compute that is not a function, or that returns neither a Map nor an object", async () => {
    const t = setup();
    await expect(t.cache.getOrSetMany(["a"], "nope" as never)).rejects.toThrow('compute must be a function, got "nope"');
    await expect(t.cache.getOrSetMany(["a"], async () => [1, 2] as never)).rejects.toThrow("compute must return a Map or an object of the values it found, got an array");
    await expect(t.cache.getOrSetMany(["a"], async () => null as never)).rejects.toThrow("compute must return a Map or an object of the values it found, got null");
  });
});
