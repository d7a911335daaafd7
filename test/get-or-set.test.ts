/**
 * getOrSet across processes: on a store shared between processes with an atomic add, one process
 * computes a missing value while the others wait for it. Two EdgeCaches over one memory store
 * marked as shared stand in for two processes on one memcached (test/memcached/fill-lock.test.ts
 * runs the same on a real one).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { memory } from "../adapters/memory.ts";
import type { Backend } from "../src/backend.ts";
import { createCache } from "../src/cache.ts";
import { FactoryTimeoutError } from "../src/errors.ts";
import { fakeClock } from "./conformance/fake-clock.ts";

/** A store shared by "processes", counting lock attempts; `failAdds` makes every add fail. */
/** `backend` as another process reaches the same store: an identity of its own, so nothing this process has under way in memory is shared with it. */
const otherProcess = (backend: Backend): Backend => ({ ...backend, identity: {} });

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

describe("getOrSet in one isolate", () => {
  it("computes a missing value once for caches made per request over one store (a Worker's binding)", async () => {
    const backend = memory();
    const factory = slowFactory("the report");
    const calls = [createCache({ backend }), createCache({ backend })].map((cache) => cache.getOrSet("report", factory.compute));
    await vi.waitFor(() => expect(factory.calls()).toBe(1));
    factory.open();
    expect(await Promise.all(calls)).toEqual(["the report", "the report"]);
    expect(factory.calls()).toBe(1);
  });

  it("shares a computation only with caches that store as it does: one that ignores store errors gets its value, not another's error", async () => {
    const store = memory();
    const backend: Backend = { ...store, add: () => Promise.reject(new Error("store write failed")) };
    const factory = slowFactory("computed");
    const heard: string[] = [];
    const strict = createCache({ backend }).getOrSet("report", factory.compute);
    const lenient = createCache({ backend, ignoreErrors: true, onError: (error) => heard.push(String(error)) }).getOrSet("report", factory.compute);
    factory.open();
    await expect(strict).rejects.toThrow("store write failed");
    expect(await lenient).toBe("computed");
    expect(heard).toEqual(["Error: store write failed"]);
  });

  it("gives each caller that shares a computation a copy of its own, as a read would: one request changing its value never changes another's", async () => {
    const cache = createCache({ backend: memory() });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const compute = async () => { await gate; return { items: ["shared"], at: new Date(0) }; };
    const calls = [cache.getOrSet("basket", compute), cache.getOrSet("basket", compute), cache.getOrSet("basket", compute)] as const;
    open();
    const [first, second, third] = await Promise.all(calls);
    first.items.push("alice's item");
    second.items.push("bob's item");
    expect(third).toEqual({ items: ["shared"], at: new Date(0) });
    expect(second.items).toEqual(["shared", "bob's item"]);
    expect(await cache.get("basket")).toEqual({ items: ["shared"], at: new Date(0) });
  });

  it("gives each caller that shares a computation of bytes bytes of its own", async () => {
    const cache = createCache({ backend: memory() });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const compute = async () => { await gate; return Uint8Array.of(1, 2, 3); };
    const calls = [cache.getOrSet("bytes", compute), cache.getOrSet("bytes", compute), cache.getOrSet("bytes", compute)] as const;
    open();
    const [, second, third] = await Promise.all(calls);
    second[0] = 99;
    expect(third).toEqual(Uint8Array.of(1, 2, 3));
  });

  it("copies a value as it is when each computation ends: an object the factory returns again, changed since, is not the first computation's", async () => {
    const cache = createCache({ backend: memory() });
    const state = { version: 1 };
    const stampede = async () => {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const compute = async () => { await gate; return state; };
      const calls = [cache.getOrSet("state", compute), cache.getOrSet("state", compute)] as const;
      open();
      return (await Promise.all(calls))[1];
    };
    expect(await stampede()).toEqual({ version: 1 });
    state.version = 2;
    await cache.delete("state");
    expect(await stampede()).toEqual({ version: 2 });
  });

  it("gives a caller that took an overdue computation over a copy of its value when that comes first", async () => {
    const cache = createCache({ backend: memory() });
    let finish!: (value: { items: string[] }) => void;
    const overdue = cache.getOrSet("basket", () => new Promise<{ items: string[] }>((resolve) => (finish = resolve)), { collapseMs: 20 });
    let tookOver = false;
    const takeover = cache.getOrSet("basket", () => { tookOver = true; return new Promise<{ items: string[] }>(() => {}); }, { collapseMs: 20 });
    await vi.waitFor(() => expect(tookOver).toBe(true)); // past collapseMs, the second caller computes too
    finish({ items: ["shared"] });
    const [first, second] = await Promise.all([overdue, takeover]);
    first.items.push("alice's item");
    expect(second).toEqual({ items: ["shared"] });
  });

  it("shares a value it could not store as it is: there is no copy to give", async () => {
    const onError = vi.fn();
    const cache = createCache({ backend: memory(), onError });
    const handle = () => "not data";
    const compute = async () => handle;
    const timeout = (): number => { throw new Error("no timeout for this one"); }; // so it is neither stored nor refused
    const [a, b] = await Promise.all([cache.getOrSet("f", compute, { timeout }), cache.getOrSet("f", compute, { timeout })]);
    expect(a).toBe(handle);
    expect(b).toBe(handle);
    expect(onError).toHaveBeenCalledOnce();
  });

  it("takes an overdue computation over by reading the store first: its value may be there though its answer never comes", async () => {
    const cache = createCache({ backend: memory() });
    void cache.getOrSet("report", () => new Promise<string>(() => {}), { collapseMs: 20 }); // its request ended: it never answers
    let computed = 0;
    const waiting = cache.getOrSet("report", async () => `computed ${++computed}`, { collapseMs: 20 });
    await cache.set("report", "stored by the overdue computation"); // its write landed
    expect(await waiting).toBe("stored by the overdue computation");
    expect(computed).toBe(0);
  });
});

describe("getOrSet across processes", () => {
  it("computes a missing value once: the other process waits for it and gets the same", async () => {
    const { backend, locks } = sharedStore();
    const [one, two] = [createCache({ backend }), createCache({ backend: otherProcess(backend) })];
    const factory = slowFactory("the report");
    const first = one.getOrSet("report", factory.compute);
    await vi.waitFor(() => expect(factory.calls()).toBe(1)); // the first holds the lock, computing
    const second = two.getOrSet("report", factory.compute);
    await vi.waitFor(() => expect(locks.length).toBeGreaterThanOrEqual(3)); // the second has found it locked, and polls
    factory.open();
    expect(await Promise.all([first, second])).toEqual(["the report", "the report"]);
    expect(factory.calls()).toBe(1);
    expect(locks.filter((key) => key === one.makeKey("lock.report")).length).toBeGreaterThanOrEqual(2);
    expect(await backend.get(one.makeKey("lock.report"))).toBeUndefined(); // freed once stored
  });

  it("reads once more after taking a free lock: the holder may have stored its value and let go of it since the miss", async () => {
    const { backend } = sharedStore();
    const one = createCache({ backend });
    let landed = false;
    const two = createCache({
      backend: {
        ...backend,
        get: async (key) => {
          const found = await backend.get(key);
          if (!landed && key === one.makeKey("report")) {
            landed = true;
            await one.set("report", "one's report"); // one stores its value, and lets go of its lock, just after two's read
          }
          return found;
        },
      },
    });
    let computed = 0;
    expect(await two.getOrSet("report", async () => `two's report ${++computed}`)).toBe("one's report");
    expect(computed).toBe(0);
  });

  it("has freed its lock when it answers, so a client closed right after cannot drop the release", async () => {
    const { backend } = sharedStore();
    let closed = false;
    const client: Backend = {
      ...backend,
      delete: async (key) => {
        await new Promise(setImmediate); // a round trip to the server
        if (closed) throw new Error("the client is closed");
        return backend.delete(key);
      },
      close: async () => void (closed = true),
    };
    const cache = createCache({ backend: client });
    expect(await cache.getOrSet("report", async () => "computed")).toBe("computed");
    await cache.close(); // a script's last call, or a Worker's per-request client
    expect(await backend.get(cache.makeKey("lock.report"))).toBeUndefined(); // others need not wait out its TTL
  });

  it("counts a failed read after taking the lock as a miss, and frees the lock", async () => {
    const { backend } = sharedStore();
    const cache = createCache({ backend });
    let reads = 0;
    const flaky: Backend = { ...backend, get: async (key) => (key === cache.makeKey("report") && ++reads === 2 ? Promise.reject(new Error("transient")) : backend.get(key)) };
    expect(await createCache({ backend: flaky }).getOrSet("report", async () => "computed")).toBe("computed");
    expect(await backend.get(cache.makeKey("lock.report"))).toBeUndefined();
  });

  it("takes over when the process holding the lock fails without storing a value", async () => {
    const { backend, locks } = sharedStore();
    const [one, two] = [createCache({ backend }), createCache({ backend: otherProcess(backend) })];
    let fail!: (error: Error) => void;
    const first = one.getOrSet("report", () => new Promise<string>((_, reject) => (fail = reject)));
    await vi.waitFor(() => expect(fail).toBeDefined()); // the first holds the lock, computing
    let computed = 0;
    const second = two.getOrSet("report", async () => `computed ${++computed}`);
    await vi.waitFor(() => expect(locks.length).toBeGreaterThanOrEqual(3)); // the second has found it locked, and polls
    expect(computed).toBe(0); // still waiting for the first
    fail(new Error("upstream down"));
    await expect(first).rejects.toThrow("upstream down");
    expect(await second).toBe("computed 1");
  });

  it("takes over from a holder that died: when its lock expires, one waiting process computes and the others get its value", async () => {
    const { backend } = sharedStore();
    await backend.add!(createCache().makeKey("lock.report"), new Uint8Array([1]), 1); // a process that died computing, its lock left for 1 s
    let computed = 0;
    const factory = async () => {
      computed++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return "report";
    };
    const processes = Array.from({ length: 4 }, () => createCache({ backend: otherProcess(backend) }));
    expect(await Promise.all(processes.map((cache) => cache.getOrSet("report", factory, { collapseMs: 1000 })))).toEqual(["report", "report", "report", "report"]);
    expect(computed).toBe(1);
  });

  it("takes a lock that lasts the whole wait on a store that may end entries up to a second early (memcached's whole seconds)", async () => {
    const { backend } = sharedStore();
    const ttls: Array<number | null> = [];
    const coarse: Backend = { ...backend, capabilities: { ...backend.capabilities!, ttlGranularityMs: 1000 }, add: (key, value, ttl) => (ttls.push(ttl), backend.add!(key, value, ttl)) };
    await createCache({ backend: coarse }).getOrSet("report", () => "report", { collapseMs: 5000 });
    expect(ttls[0]).toBe(6);
  });

  it("computes it too once collapseMs has passed without a value", async () => {
    const { backend } = sharedStore();
    const [one, two] = [createCache({ backend }), createCache({ backend: otherProcess(backend) })];
    const factory = slowFactory("slow");
    const first = one.getOrSet("report", factory.compute);
    await vi.waitFor(() => expect(factory.calls()).toBe(1)); // the first holds the lock, computing
    expect(await two.getOrSet("report", async () => "impatient", { collapseMs: 50 })).toBe("impatient");
    factory.open();
    expect(await first).toBe("impatient"); // add lost to the value already there: the winner's value
  });

  it("waits collapseMs and a second more (for a takeover of a dead holder's lock) of real time in all, the store's slow answers included", async () => {
    const { backend } = sharedStore();
    // Each read of the value takes 550 ms (of a stubbed performance.now) on this slow store.
    let elapsed = 0;
    const now = vi.spyOn(performance, "now").mockImplementation(() => elapsed);
    let reads = 0;
    const slow: Backend = {
      ...otherProcess(backend),
      get: async (key) => {
        if (key.endsWith(":report")) {
          reads++;
          elapsed += 550;
        }
        return backend.get(key);
      },
    };
    try {
      const factory = slowFactory("slow");
      const first = createCache({ backend }).getOrSet("report", factory.compute);
      await vi.waitFor(() => expect(factory.calls()).toBe(1)); // the first holds the lock, computing
      expect(await createCache({ backend: slow }).getOrSet("report", async () => "impatient", { collapseMs: 100 })).toBe("impatient");
      // Its first look, then two polls (the second begun 550 ms into the wait); none once 1100 ms have passed.
      expect(reads).toBe(3);
      factory.open();
      await first;
    } finally {
      now.mockRestore();
    }
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

  it("names a bad collapseMs or staleIfError", async () => {
    const cache = createCache({ backend: sharedStore().backend });
    await expect(cache.getOrSet("k", "v", { collapseMs: -1 })).rejects.toThrow("options.collapseMs must be a number of 0 or more, got -1");
    await expect(cache.getOrSet("k", "v", { staleIfError: Infinity })).rejects.toThrow("options.staleIfError must be a number of 0 or more, got Infinity");
  });
});

describe("getOrSet with staleIfError", () => {
  function setup() {
    const clock = fakeClock();
    const backend = memory({ now: clock.now });
    const errors: string[] = [];
    const cache = createCache({ backend, timeout: 60, now: clock.now, onError: (error, operation) => errors.push(`${operation}: ${String(error)}`) });
    let failing = false;
    let calls = 0;
    const compute = async () => {
      calls++;
      if (failing) throw new Error("upstream down");
      return { rates: calls };
    };
    return { clock, backend, cache, errors, compute, fail: () => void (failing = true), calls: () => calls };
  }

  it("after a failure answers the stale copy for errorBackoffMs (5 s) without computing, then computes again", async () => {
    const t = setup();
    const options = { staleIfError: 300 };
    await t.cache.getOrSet("rates", t.compute, options);
    t.clock.advance(61);
    t.fail();
    expect(await t.cache.getOrSet("rates", t.compute, options)).toEqual({ rates: 1 });
    t.clock.advance(4.9);
    expect(await t.cache.getOrSet("rates", t.compute, options)).toEqual({ rates: 1 });
    expect([t.calls(), t.errors.length]).toEqual([2, 1]); // the origin left alone
    t.clock.advance(0.1);
    expect(await t.cache.getOrSet("rates", t.compute, options)).toEqual({ rates: 1 });
    expect([t.calls(), t.errors.length]).toEqual([3, 2]);
    // errorBackoffMs: 0 computes every time.
    expect(await t.cache.getOrSet("rates", t.compute, { ...options, errorBackoffMs: 0 })).toEqual({ rates: 1 });
    expect(t.calls()).toBe(4);
    await expect(t.cache.getOrSet("rates", t.compute, { ...options, errorBackoffMs: -1 })).rejects.toThrow("options.errorBackoffMs");
  });

  it("backs off for every cache over the store, as Workers' per-request caches are", async () => {
    const t = setup();
    const options = { staleIfError: 300 };
    // Each request makes its cache over a new backend object that gives the store's identity.
    const perRequest = () => createCache({ backend: { ...t.backend, identity: t.backend }, timeout: 60, now: t.clock.now, onError: () => {} });
    await perRequest().getOrSet("rates", t.compute, options);
    t.clock.advance(61);
    t.fail();
    for (let i = 0; i < 3; i++) expect(await perRequest().getOrSet("rates", t.compute, options)).toEqual({ rates: 1 });
    expect(t.calls()).toBe(2); // the first computation, then one failure
  });

  it("returns the last value when computing its replacement fails within the window, and reports why", async () => {
    const t = setup();
    expect(await t.cache.getOrSet("rates", t.compute, { staleIfError: 300 })).toEqual({ rates: 1 });
    t.clock.advance(61);
    expect(await t.cache.get("rates")).toBeUndefined(); // the value itself expired on time
    t.fail();
    expect(await t.cache.getOrSet("rates", t.compute, { staleIfError: 300 })).toEqual({ rates: 1 });
    expect(t.errors).toEqual(["getOrSet: Error: upstream down"]);
    expect(await t.cache.has("rates")).toBe(false); // the copy is not the value
  });

  it("throws once the window has passed, or when no window was asked for", async () => {
    const t = setup();
    await t.cache.getOrSet("rates", t.compute, { staleIfError: 300 });
    await t.cache.getOrSet("plain", t.compute);
    t.clock.advance(61 + 300);
    t.fail();
    await expect(t.cache.getOrSet("rates", t.compute, { staleIfError: 300 })).rejects.toThrow("upstream down");
    t.clock.advance(-300);
    await expect(t.cache.getOrSet("plain", t.compute)).rejects.toThrow("upstream down");
  });

  it("keeps the copy beside the value only when asked, and refreshes it with each new value", async () => {
    const t = setup();
    await t.cache.getOrSet("plain", t.compute);
    expect(await t.backend.get(t.cache.makeKey("stale.plain"))).toBeUndefined();
    await t.cache.getOrSet("rates", t.compute, { staleIfError: 300 });
    t.clock.advance(61);
    expect(await t.cache.getOrSet("rates", t.compute, { staleIfError: 300 })).toEqual({ rates: 3 });
    t.clock.advance(61);
    t.fail();
    expect(await t.cache.getOrSet("rates", t.compute, { staleIfError: 300 })).toEqual({ rates: 3 });
  });
});

describe("getOrSet with refreshAhead", () => {
  /** A cache on a fake clock whose factory counts its calls, fails when told, and answers when let through (at once unless `held`). */
  function setup(backend?: Backend) {
    const clock = fakeClock();
    const store = backend ?? memory({ now: clock.now });
    const errors: string[] = [];
    const cache = createCache({ backend: store, timeout: 60, now: clock.now, onError: (error, operation) => errors.push(`${operation}: ${String(error)}`) });
    const refreshes: Array<Promise<unknown>> = [];
    let calls = 0;
    let failing = false;
    const compute = async () => {
      calls++;
      if (failing) throw new Error("upstream down");
      return { rates: calls };
    };
    const ask = () => cache.getOrSet("rates", compute, { refreshAhead: 0.8, waitUntil: (refresh) => void refreshes.push(refresh) });
    return { clock, store, cache, errors, refreshes, ask, fail: () => void (failing = true), calls: () => calls };
  }

  it("returns the value at once past that share of its timeout, and replaces it in the background once", async () => {
    const t = setup();
    expect(await t.ask()).toEqual({ rates: 1 });
    t.clock.advance(47); // 13 s of 60 left: not yet
    expect(await t.ask()).toEqual({ rates: 1 });
    expect(t.refreshes).toHaveLength(0);
    t.clock.advance(2); // 11 s left, under a fifth
    expect(await Promise.all([t.ask(), t.ask()])).toEqual([{ rates: 1 }, { rates: 1 }]);
    expect(t.refreshes).toHaveLength(1); // one refresh for both, carried by waitUntil
    await Promise.all(t.refreshes);
    expect(t.calls()).toBe(2);
    expect(await t.cache.get("rates")).toEqual({ rates: 2 });
    expect(await t.store.ttl!(t.cache.makeKey("rates"))).toBe(60); // a whole timeout again
    t.clock.advance(59); // the old value would have expired 11 s in: nobody waited for a miss
    expect(await t.cache.get("rates")).toEqual({ rates: 2 });
  });

  it("reports a failed refresh and keeps the value, starts none for errorBackoffMs (5 s), then tries again", async () => {
    const t = setup();
    await t.ask();
    t.clock.advance(50);
    t.fail();
    expect(await t.ask()).toEqual({ rates: 1 });
    await Promise.all(t.refreshes);
    expect(t.errors).toEqual(["getOrSet: Error: upstream down"]);
    expect(await t.cache.get("rates")).toEqual({ rates: 1 });
    t.clock.advance(4.9);
    expect(await t.ask()).toEqual({ rates: 1 });
    expect(t.refreshes).toHaveLength(1);
    t.clock.advance(0.1);
    await t.ask();
    expect(t.refreshes).toHaveLength(2);
  });

  it("starts another refresh once one has run for collapseMs (5 s): one whose request ended never finishes", async () => {
    const clock = fakeClock();
    const cache = createCache({ backend: memory({ now: clock.now }), timeout: 60, now: clock.now });
    await cache.set("rates", "old");
    clock.advance(50);
    let calls = 0;
    const compute = () => (++calls === 1 ? new Promise<string>(() => {}) : `new ${calls}`); // the first refresh's request ended
    const refreshes: Array<Promise<unknown>> = [];
    const ask = () => cache.getOrSet("rates", compute, { refreshAhead: 0.8, waitUntil: (refresh) => void refreshes.push(refresh) });
    expect(await ask()).toBe("old");
    clock.advance(4.9);
    expect(await ask()).toBe("old");
    expect(refreshes).toHaveLength(1);
    clock.advance(0.1);
    expect(await ask()).toBe("old");
    await refreshes[1];
    expect(await cache.get("rates")).toBe("new 2");
  });

  it("leaves the refresh to the process that holds the store's lock", async () => {
    const { backend, locks } = sharedStore();
    const [one, two] = [createCache({ backend }), createCache({ backend: otherProcess(backend) })];
    await one.set("report", "old", { timeout: 5 });
    const factory = slowFactory("new");
    const refreshes: Array<Promise<unknown>> = [];
    const options = { timeout: 60, refreshAhead: 0.5, waitUntil: (refresh: Promise<unknown>) => void refreshes.push(refresh) };
    expect(await one.getOrSet("report", factory.compute, options)).toBe("old"); // 5 s of 60 left
    await vi.waitFor(() => expect(factory.calls()).toBe(1)); // the first holds the lock, computing
    expect(await two.getOrSet("report", factory.compute, options)).toBe("old");
    await refreshes[1]; // the second found the lock taken and left it
    factory.open();
    await refreshes[0];
    expect(factory.calls()).toBe(1);
    expect(await two.get("report")).toBe("new");
    expect(locks.filter((key) => key === one.makeKey("lock.report"))).toHaveLength(2);
    expect(await backend.get(one.makeKey("lock.report"))).toBeUndefined(); // freed once stored
  });

  it("never refreshes a value that never expires", async () => {
    const t = setup();
    await t.cache.set("forever", "v", { timeout: null });
    expect(await t.cache.getOrSet("forever", () => "other", { refreshAhead: 0.5, timeout: null })).toBe("v");
    t.clock.advance(1e6);
    expect(await t.cache.getOrSet("forever", () => "other", { refreshAhead: 0.5, timeout: null })).toBe("v");
    expect(await t.cache.get("forever")).toBe("v");
  });

  it("names a bad refreshAhead or waitUntil, and a backend that cannot tell an entry's time left", async () => {
    const cache = createCache();
    await expect(cache.getOrSet("k", "v", { refreshAhead: 1 })).rejects.toThrow("options.refreshAhead must be a fraction of the timeout between 0 and 1 (such as 0.8), got 1");
    await expect(cache.getOrSet("k", "v", { waitUntil: "ctx" as never })).rejects.toThrow('options.waitUntil must be a function, got "ctx"');
    const { ttl: _ttl, getWithTtl: _getWithTtl, ...untimed } = memory();
    await expect(createCache({ backend: untimed }).getOrSet("k", "v", { refreshAhead: 0.8 })).rejects.toThrow(
      "options.refreshAhead needs a backend that tells how long an entry has left (getWithTtl or ttl); the memory backend has neither",
    );
  });
});

describe("deleting a value getOrSet keeps a stale copy of", () => {
  it("takes the copy too, so the deleted value never comes back when the factory fails", async () => {
    const clock = fakeClock();
    const backend = memory({ now: clock.now });
    const cache = createCache({ backend, timeout: 60 });
    const failing = () => Promise.reject(new Error("upstream down"));
    await cache.getOrSet("one", () => "secret 1", { staleIfError: 300 });
    await cache.getOrSet("two", () => "secret 2", { staleIfError: 300 });
    await cache.getOrSet("three", () => "kept", { staleIfError: 300 });
    expect(await cache.delete("one")).toBe(true);
    await cache.deleteMany(["two"]);
    clock.advance(61);
    await expect(cache.getOrSet("one", failing, { staleIfError: 300 })).rejects.toThrow("upstream down");
    await expect(cache.getOrSet("two", failing, { staleIfError: 300 })).rejects.toThrow("upstream down");
    expect(await cache.getOrSet("three", failing, { staleIfError: 300 })).toBe("kept");
    expect(await cache.delete("one")).toBe(false); // the answer is about the value alone
  });
});

describe("getOrSet with softTimeoutMs", () => {
  afterEach(() => void vi.useRealTimers());

  /** A cache on a fake clock holding an expired "rates" with a stale copy, and a factory that answers when let through. */
  async function setup() {
    const clock = fakeClock();
    const errors: string[] = [];
    const cache = createCache({ backend: memory({ now: clock.now }), timeout: 60, onError: (error, operation) => errors.push(`${operation}: ${String(error)}`) });
    const background: Array<Promise<unknown>> = [];
    const options = { staleIfError: 300, softTimeoutMs: 100, waitUntil: (work: Promise<unknown>) => void background.push(work) };
    await cache.getOrSet("rates", () => "old", options);
    clock.advance(61);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let calls = 0;
    let answer!: (value: string) => void;
    let fail!: (error: Error) => void;
    const slow = () => {
      calls++;
      return new Promise<string>((resolve, reject) => ((answer = resolve), (fail = reject)));
    };
    return { cache, errors, background, options, slow, answer: (value: string) => answer(value), fail: (error: Error) => fail(error), calls: () => calls };
  }

  it("answers with the stale copy once the computation has run that long, and stores its value behind the caller", async () => {
    const t = await setup();
    const first = t.cache.getOrSet("rates", t.slow, t.options);
    await vi.advanceTimersByTimeAsync(100);
    expect(await first).toBe("old");
    expect(await t.cache.getOrSet("rates", t.slow, t.options)).toBe("old"); // joins the running computation
    expect(t.calls()).toBe(1);
    expect(t.background).toHaveLength(1);
    t.answer("new");
    await Promise.all(t.background);
    expect(await t.cache.get("rates")).toBe("new");
  });

  it("gives each caller its own copy of the stale value: the first caller changing it changes nothing for those that come while the computation goes on", async () => {
    const clock = fakeClock();
    const cache = createCache({ backend: memory({ now: clock.now }), timeout: 60 });
    const options = { staleIfError: 300, softTimeoutMs: 100 };
    await cache.getOrSet("rates", () => ({ eur: [1.1] }), options);
    clock.advance(61);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const slow = () => new Promise<{ eur: number[] }>(() => {}); // still computing when the later callers come
    const first = cache.getOrSet("rates", slow, options);
    await vi.advanceTimersByTimeAsync(100);
    (await first).eur.push(99);
    const later = await cache.getOrSet("rates", slow, options);
    expect(later).toEqual({ eur: [1.1] });
    later.eur.push(42);
    expect(await cache.getOrSet("rates", slow, options)).toEqual({ eur: [1.1] });
  });

  it("fails the caller alone when the computation fails with no stale copy: nothing is left unhandled to crash the process", async () => {
    const unhandled: unknown[] = [];
    const listen = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", listen);
    try {
      const cache = createCache({ timeout: 60 });
      await expect(cache.getOrSet("never-stored", async () => Promise.reject(new Error("factory failed")), { staleIfError: 60, softTimeoutMs: 50 })).rejects.toThrow("factory failed");
      await new Promise((resolve) => setImmediate(resolve)); // where Node reports a rejection nobody handled
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", listen);
    }
  });

  it("waits as usual for a quicker computation, and where there is no stale copy", async () => {
    const t = await setup();
    const quick = t.cache.getOrSet("rates", t.slow, t.options);
    await vi.advanceTimersByTimeAsync(99);
    t.answer("new");
    expect(await quick).toBe("new");
    let settled = false;
    const uncopied = t.cache.getOrSet("never-stored", t.slow, t.options).then((value) => ((settled = true), value));
    await vi.advanceTimersByTimeAsync(1000);
    expect(settled).toBe(false);
    t.answer("first");
    expect(await uncopied).toBe("first");
    expect(t.background).toEqual([]);
  });

  it("reports a computation that fails behind the caller, and keeps the copy", async () => {
    const t = await setup();
    const first = t.cache.getOrSet("rates", t.slow, t.options);
    await vi.advanceTimersByTimeAsync(100);
    expect(await first).toBe("old");
    t.fail(new Error("upstream down"));
    await Promise.all(t.background);
    expect(t.errors).toEqual(["getOrSet: Error: upstream down"]);
    expect(await t.cache.getOrSet("rates", () => Promise.reject(new Error("still down")), { staleIfError: 300 })).toBe("old");
  });

  it("reports a value it cannot store behind the caller where there is no waitUntil to carry it (Node, Deno, Bun)", async () => {
    const t = await setup();
    const { waitUntil: _none, ...options } = t.options;
    class Rates {}
    let answer!: (value: unknown) => void;
    const first = t.cache.getOrSet<unknown>("rates", () => new Promise((resolve) => (answer = resolve)), options);
    await vi.advanceTimersByTimeAsync(100);
    expect(await first).toBe("old");
    answer(new Rates());
    await vi.advanceTimersByTimeAsync(0);
    expect(t.errors).toEqual([expect.stringMatching(/^getOrSet: TypeError: the value for key "rates": edgecache cannot store an instance of Rates/)]);
  });

  it("answers with the stale copy while waiting that long for another process's computation", async () => {
    const { backend } = sharedStore();
    const [one, two] = [createCache({ backend, timeout: 60 }), createCache({ backend: otherProcess(backend), timeout: 60 })];
    const options = { staleIfError: 300, softTimeoutMs: 100, collapseMs: 5000 };
    await one.getOrSet("rates", () => "old", options);
    await backend.delete(one.makeKey("rates")); // expired: only the stale copy is left
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const factory = slowFactory("new");
    const computing = one.getOrSet("rates", factory.compute, options); // takes the lock, computes slowly
    await vi.advanceTimersByTimeAsync(0);
    const waiting = two.getOrSet("rates", factory.compute, options); // finds the lock taken, polls
    await vi.advanceTimersByTimeAsync(100);
    expect(await waiting).toBe("old");
    expect(await computing).toBe("old"); // its own caller waited as long too
    factory.open();
    await vi.advanceTimersByTimeAsync(1000);
    expect(factory.calls()).toBe(1);
    expect(await two.get("rates")).toBe("new");
  });

  it("names a bad softTimeoutMs, and one without staleIfError", async () => {
    const cache = createCache();
    await expect(cache.getOrSet("k", "v", { staleIfError: 60, softTimeoutMs: -1 })).rejects.toThrow("options.softTimeoutMs must be a number of 0 or more, got -1");
    await expect(cache.getOrSet("k", "v", { softTimeoutMs: 100 })).rejects.toThrow(
      "options.softTimeoutMs needs options.staleIfError: without a stale copy there is nothing to answer with sooner",
    );
  });
});

describe("getOrSet with a timeout computed from the value", () => {
  /** A cache on a fake clock whose factory hands out tokens valid for `validFor` seconds. */
  function setup() {
    const clock = fakeClock();
    const store = memory({ now: clock.now });
    const errors: string[] = [];
    const cache = createCache({ backend: store, timeout: 60, now: clock.now, onError: (error, operation) => errors.push(`${operation}: ${String(error)}`) });
    let issued = 0;
    const token = (validFor: number) => async () => ({ token: `t${++issued}`, expiresIn: validFor });
    return { clock, store, cache, errors, token, issued: () => issued };
  }
  const untilJustBefore = ({ expiresIn }: { expiresIn: number }) => expiresIn - 30;

  it("keeps each value for the time its function gives, such as until just before a token expires", async () => {
    const t = setup();
    expect(await t.cache.getOrSet("token", t.token(3600), { timeout: untilJustBefore })).toEqual({ token: "t1", expiresIn: 3600 });
    expect(await t.store.ttl!(t.cache.makeKey("token"))).toBe(3570);
    t.clock.advance(3569);
    expect((await t.cache.getOrSet("token", t.token(3600), { timeout: untilJustBefore })).token).toBe("t1");
    t.clock.advance(1);
    expect((await t.cache.getOrSet("token", t.token(3600), { timeout: untilJustBefore })).token).toBe("t2");
  });

  it("stores nothing when the function gives 0, and returns the value", async () => {
    const t = setup();
    const errorsFor0s = ({ token }: { token: string }) => (token === "t1" ? 0 : 60);
    expect((await t.cache.getOrSet("token", t.token(10), { timeout: errorsFor0s })).token).toBe("t1");
    expect(await t.cache.has("token")).toBe(false);
    expect((await t.cache.getOrSet("token", t.token(10), { timeout: errorsFor0s })).token).toBe("t2");
    expect((await t.cache.getOrSet("token", t.token(10), { timeout: errorsFor0s })).token).toBe("t2");
  });

  it("returns the value without storing it when the function throws or gives no timeout, and onError hears why", async () => {
    const t = setup();
    const broken = () => {
      throw new Error("no expiry in the response");
    };
    expect((await t.cache.getOrSet("a", t.token(10), { timeout: broken })).token).toBe("t1");
    expect((await t.cache.getOrSet("b", t.token(10), { timeout: () => "1h" as never })).token).toBe("t2");
    expect(await t.cache.getMany(["a", "b"])).toEqual(new Map());
    expect(t.errors).toEqual([
      "getOrSet: Error: no expiry in the response",
      'getOrSet: TypeError: the timeout options.timeout returned must be a finite number of seconds or null, got "1h"',
    ]);
  });

  it("refreshes ahead by the found value's own timeout, and keeps a stale copy for its timeout plus staleIfError", async () => {
    const t = setup();
    const refreshes: Array<Promise<unknown>> = [];
    const options = { timeout: untilJustBefore, refreshAhead: 0.5, staleIfError: 100, waitUntil: (refresh: Promise<unknown>) => void refreshes.push(refresh) };
    await t.cache.getOrSet("token", t.token(130), options); // kept 100 s
    expect(await t.store.ttl!(t.cache.makeKey("stale.token"))).toBe(200);
    t.clock.advance(49);
    await t.cache.getOrSet("token", t.token(130), options);
    expect(refreshes).toHaveLength(0); // 51 s of 100 left
    t.clock.advance(1);
    await t.cache.getOrSet("token", t.token(130), options);
    await Promise.all(refreshes);
    expect(refreshes).toHaveLength(1);
    expect((await t.cache.get<{ token: string }>("token"))?.token).toBe("t2");
  });

  it("names a timeout that is not one", async () => {
    const t = setup();
    await expect(t.cache.getOrSet("k", "v", { timeout: "60" as never })).rejects.toThrow('options.timeout must be a finite number of seconds or null, got "60"');
  });
});

describe("getOrSet with hardTimeoutMs", () => {
  afterEach(() => void vi.useRealTimers());

  /** A cache whose factory answers (or fails) only when told, on fake timers. */
  function setup() {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const errors: string[] = [];
    const cache = createCache({ backend: memory(), timeout: 60, onError: (error, operation) => errors.push(`${operation}: ${String(error)}`) });
    const background: Array<Promise<unknown>> = [];
    let answer!: (value: string) => void;
    let fail!: (error: Error) => void;
    let calls = 0;
    const slow = () => {
      calls++;
      return new Promise<string>((resolve, reject) => ((answer = resolve), (fail = reject)));
    };
    const waitUntil = (work: Promise<unknown>) => void background.push(work);
    return { cache, errors, background, slow, waitUntil, answer: (value: string) => answer(value), fail: (error: Error) => fail(error), calls: () => calls };
  }

  it("stops waiting for a slow computation with a FactoryTimeoutError, and stores its value when it is done", async () => {
    const t = setup();
    const asked = t.cache.getOrSet("report", t.slow, { hardTimeoutMs: 2000, waitUntil: t.waitUntil }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1999);
    expect(t.background).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const error = await asked;
    expect(error).toBeInstanceOf(FactoryTimeoutError);
    expect(String(error)).toBe('FactoryTimeoutError: getOrSet("report"): the value took longer than options.hardTimeoutMs (2000 ms) to compute; it is stored when done');
    expect(t.background).toHaveLength(1); // the computation, carried on
    t.answer("the report");
    await Promise.all(t.background);
    expect(await t.cache.get("report")).toBe("the report");
    expect(t.calls()).toBe(1);
  });

  it("reports a computation that fails after the caller stopped waiting", async () => {
    const t = setup();
    const asked = t.cache.getOrSet("report", t.slow, { hardTimeoutMs: 100, waitUntil: t.waitUntil }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(100);
    expect(await asked).toBeInstanceOf(FactoryTimeoutError);
    t.fail(new Error("origin down"));
    await Promise.all(t.background);
    expect(t.errors).toEqual(["getOrSet: Error: origin down"]);
  });

  it("answers a fast computation as usual", async () => {
    const t = setup();
    const asked = t.cache.getOrSet("report", t.slow, { hardTimeoutMs: 2000 });
    await vi.advanceTimersByTimeAsync(10); // the read misses, the computation starts
    t.answer("quick");
    expect(await asked).toBe("quick");
  });

  it("must be longer than softTimeoutMs, and a number of ms", async () => {
    const t = setup();
    await expect(t.cache.getOrSet("k", "v", { staleIfError: 60, softTimeoutMs: 200, hardTimeoutMs: 200 })).rejects.toThrow("options.hardTimeoutMs (200) must be longer than options.softTimeoutMs (200)");
    await expect(t.cache.getOrSet("k", "v", { hardTimeoutMs: -1 })).rejects.toThrow("options.hardTimeoutMs must be a number of 0 or more, got -1");
  });
});

describe("getOrSet calls in one isolate", () => {
  afterEach(() => void vi.useRealTimers());

  it("share one computation, but for collapseMs at most: one whose request ended never finishes, and never wedges the key", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const cache = createCache({ backend: memory(), timeout: 60 });
    let calls = 0;
    const dropped = () => {
      calls++;
      return new Promise<string>(() => {}); // its request ended (a client went away): it never settles here
    };
    void cache.getOrSet("report", dropped, { collapseMs: 1000 });
    let answer!: (value: string) => void;
    const computed = () => {
      calls++;
      return new Promise<string>((resolve) => (answer = resolve));
    };
    const second = cache.getOrSet("report", computed, { collapseMs: 1000 });
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toBe(1); // still sharing the first
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2); // computed here now
    const third = cache.getOrSet("report", computed, { collapseMs: 1000 }); // shares the second's
    answer("fresh");
    expect([await second, await third, calls]).toEqual(["fresh", "fresh", 2]);
    expect(await cache.getOrSet("report", dropped)).toBe("fresh");
  });

  it("share a computation merely slower than collapseMs with a few takeovers, not one per caller, and all get the first value", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const cache = createCache({ backend: memory(), timeout: 60 });
    const started: number[] = [];
    const slow = async () => {
      const n = started.push(performance.now());
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return `computation ${n}`;
    };
    const callers = Array.from({ length: 8 }, () => cache.getOrSet("report", slow, { collapseMs: 300 }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(new Set(await Promise.all(callers))).toEqual(new Set(["computation 1"]));
    expect(started.map((at) => at - started[0]!)).toEqual([0, 300, 900]); // taken over after 300 ms, then after 600 more
  });

  it("fail the callers of a takeover whose computation fails, though the overdue one never answers, and leave the key free", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const cache = createCache({ backend: memory(), timeout: 60 });
    void cache.getOrSet("report", () => new Promise<string>(() => {}), { collapseMs: 100 }); // its request ended
    const failing = cache.getOrSet("report", () => Promise.reject(new Error("origin down")), { collapseMs: 100 });
    const failed = expect(failing).rejects.toThrow("origin down");
    await vi.advanceTimersByTimeAsync(100);
    await failed;
    expect(await cache.getOrSet("report", () => "back", { collapseMs: 100 })).toBe("back");
  });

  it("stop sharing a takeover once the overdue computation has answered, though the takeover's own never does", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const cache = createCache({ backend: memory(), timeout: 60 });
    let calls = 0;
    const compute = async () => {
      const n = ++calls;
      if (n === 2) return new Promise<string>(() => {}); // the takeover: its request ended
      await new Promise((resolve) => setTimeout(resolve, 300));
      return `v${n}`;
    };
    const first = cache.getOrSet("k", compute, { collapseMs: 100 });
    const second = cache.getOrSet("k", compute, { collapseMs: 100 });
    await vi.advanceTimersByTimeAsync(300);
    expect([await first, await second, calls]).toEqual(["v1", "v1", 2]);
    await cache.delete("k");
    const third = cache.getOrSet("k", compute, { collapseMs: 100 });
    await vi.advanceTimersByTimeAsync(300);
    expect([await third, calls]).toEqual(["v3", 3]);
  });

  it("share for collapseMs's default of 5 s when it is 0 (no lock)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const cache = createCache({ backend: memory(), timeout: 60 });
    void cache.getOrSet("report", () => new Promise<string>(() => {}), { collapseMs: 0 });
    let settled = false;
    const next = cache.getOrSet("report", () => "here", { collapseMs: 0 }).then((value) => ((settled = true), value));
    await vi.advanceTimersByTimeAsync(4999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await next).toBe("here");
  });
});
