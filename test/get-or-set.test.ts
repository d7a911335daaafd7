/**
 * getOrSet across processes: on a store shared between processes with an atomic add, one process
 * computes a missing value while the others wait for it. Two EdgeCaches over one memory store
 * marked as shared stand in for two processes on one memcached (test/memcached/fill-lock.test.ts
 * runs the same on a real one).
 */
import { describe, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import type { Backend } from "../src/backend.ts";
import { createCache } from "../src/cache.ts";

/** A store shared by "processes", counting lock attempts; `failAdds` makes every add fail. */
function sharedStore(options: { atomicAdd?: boolean; failAdds?: boolean } = {}) {
  const store = memory();
  const locks: string[] = [];
  const backend: Backend = {
    ...store,
    capabilities: { ...store.capabilities, shared: true, atomicAdd: options.atomicAdd ?? true },
    add: async (key, value, ttl) => {
      if (key.includes("lock.")) locks.push(key);
      if (options.failAdds && key.includes("lock.")) throw new Error("add refused");
      return store.add!(key, value, ttl);
    },
  };
  return { backend, locks };
}

/** A factory that counts its calls and answers once `open` is called. */
function slowFactory(result: string) {
  let calls = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { compute: async () => { calls++; await gate; return result; }, open, calls: () => calls };
}

describe("getOrSet across processes", () => {
  it("computes a missing value once: the other process waits for it and gets the same", async () => {
    const { backend, locks } = sharedStore();
    const [one, two] = [createCache({ backend }), createCache({ backend })];
    const factory = slowFactory("the report");
    const first = one.getOrSet("report", factory.compute);
    await new Promise((resolve) => setTimeout(resolve, 5)); // the first holds the lock, computing
    const second = two.getOrSet("report", factory.compute);
    await new Promise((resolve) => setTimeout(resolve, 30)); // the second has found it locked and polls
    factory.open();
    expect(await Promise.all([first, second])).toEqual(["the report", "the report"]);
    expect(factory.calls()).toBe(1);
    expect(locks.filter((key) => key === one.makeKey("lock.report")).length).toBeGreaterThanOrEqual(2);
    expect(await backend.get(one.makeKey("lock.report"))).toBeUndefined(); // freed once stored
  });

  it("takes over when the process holding the lock fails without storing a value", async () => {
    const { backend } = sharedStore();
    const [one, two] = [createCache({ backend }), createCache({ backend })];
    let fail!: (error: Error) => void;
    const first = one.getOrSet("report", () => new Promise<string>((_, reject) => (fail = reject)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    let computed = 0;
    const second = two.getOrSet("report", async () => `computed ${++computed}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(computed).toBe(0); // still waiting for the first
    fail(new Error("upstream down"));
    await expect(first).rejects.toThrow("upstream down");
    expect(await second).toBe("computed 1");
  });

  it("computes it too once collapseMs has passed without a value", async () => {
    const { backend } = sharedStore();
    const [one, two] = [createCache({ backend }), createCache({ backend })];
    const factory = slowFactory("slow");
    const first = one.getOrSet("report", factory.compute);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await two.getOrSet("report", async () => "impatient", { collapseMs: 50 })).toBe("impatient");
    factory.open();
    expect(await first).toBe("impatient"); // add lost to the value already there: the winner's value
  });

  it("takes no lock with collapseMs: 0, nor on a store without an atomic add", async () => {
    for (const [store, options] of [[sharedStore(), { collapseMs: 0 }], [sharedStore({ atomicAdd: false }), {}]] as const) {
      const cache = createCache({ backend: store.backend });
      expect(await cache.getOrSet("k", () => "v", options)).toBe("v");
      expect(store.locks).toEqual([]);
    }
  });

  it("goes ahead without the lock, and reports it, when the store cannot take it", async () => {
    const { backend } = sharedStore({ failAdds: true });
    const reported: string[] = [];
    const cache = createCache({ backend, onError: (error, operation) => reported.push(`${operation}: ${String(error)}`) });
    expect(await cache.getOrSet("k", () => "v")).toBe("v");
    expect(reported).toEqual(["getOrSet: Error: add refused"]);
  });

  it("names a bad collapseMs", async () => {
    const cache = createCache({ backend: sharedStore().backend });
    await expect(cache.getOrSet("k", "v", { collapseMs: -1 })).rejects.toThrow("options.collapseMs must be a number of milliseconds of 0 or more, got -1");
  });
});
