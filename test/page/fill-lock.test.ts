/**
 * Collapsing across processes: on a store shared between processes with an atomic add, one
 * process fills a missing or stale page while the others wait for it. Two EdgeCaches over one
 * memory store marked as shared stand in for two processes on one memcached.
 */
import { describe, expect, it } from "vitest";
import { memory } from "../../adapters/memory.ts";
import type { Backend } from "../../src/backend.ts";
import { createCache, type EdgeCache } from "../../src/cache.ts";
import { cachePage, cacheSite } from "../../src/page/cache-page.ts";
import { pollPause } from "../../src/locks.ts";
import type { PageCacheOptions } from "../../src/page/options.ts";
import { fakeClock } from "../conformance/fake-clock.ts";

const URL = "https://example.com/report";

function processes(capabilities: Partial<NonNullable<Backend["capabilities"]>> = { shared: true }, slowDeletes = false) {
  const clock = fakeClock();
  const store = memory({ now: clock.now });
  const adds: string[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const backend: Backend = {
    ...store,
    capabilities: { ...store.capabilities, ...capabilities },
    add: async (key, value, ttl) => {
      const added = await store.add!(key, value, ttl);
      adds.push(key);
      for (const waiter of waiters.filter(({ count }) => adds.length >= count)) waiter.resolve();
      return added;
    },
    // A store over the network: a delete answers a little later.
    delete: async (key) => (slowDeletes && (await new Promise((resolve) => setTimeout(resolve, 5))), store.delete(key)),
  };
  const pending: Promise<unknown>[] = [];
  const errors: unknown[] = [];
  let calls = 0;
  let respond: () => Promise<Response> = async () => new Response(`page ${calls}`);
  const wrap = (cache: EdgeCache, extra: PageCacheOptions = {}) =>
    cachePage(60, { cache, now: clock.now, waitUntil: (p) => void pending.push(p), onError: (e) => errors.push(e), ...extra })((_request: Request) => {
      calls++;
      return respond();
    });
  return {
    clock, adds, errors,
    one: createCache({ backend }),
    two: createCache({ backend }),
    wrap,
    calls: () => calls,
    /** Resolves once `count` fill-lock claims (taken or not) have been answered. */
    claims: (count: number) => new Promise<void>((resolve) => (adds.length >= count ? resolve() : waiters.push({ count, resolve }))),
    respondWith: (next: () => Promise<Response>) => void (respond = next),
    settle: async () => {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}

/** A response that waits for `open()`. */
function gated() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { open, respond: async () => (await gate, new Response("the page")) };
}

describe("collapsing across processes (shared stores with an atomic add)", () => {
  it("runs the handler once for misses in two processes; the second gets the first's page", async () => {
    const p = processes();
    const gate = gated();
    p.respondWith(gate.respond);
    const first = p.wrap(p.one)(new Request(URL));
    await p.claims(1); // the first process holds the lock
    const second = p.wrap(p.two)(new Request(URL));
    await p.claims(2); // the second found it taken, and polls
    expect(p.calls()).toBe(1);
    gate.open();
    expect(await (await first).text()).toBe("the page");
    await p.settle();
    const collapsed = await second;
    expect(collapsed.headers.get("cache-status")).toBe("edgecache; hit; ttl=60; detail=collapsed");
    expect(await collapsed.text()).toBe("the page");
    expect(p.calls()).toBe(1);
    expect(await p.one.has(`lock.page.GET.0:.${URL}`)).toBe(false); // freed once the page was stored
  });

  it("frees the lock when a fill fails, and a waiting process fills the page instead", async () => {
    const p = processes();
    let failNow!: () => void;
    p.respondWith(() => new Promise((_, reject) => (failNow = () => reject(new Error("upstream down")))));
    const first = p.wrap(p.one)(new Request(URL));
    await p.claims(1);
    const second = p.wrap(p.two)(new Request(URL));
    await p.claims(2);
    p.respondWith(async () => new Response("filled by the second"));
    failNow();
    await expect(first).rejects.toThrow("upstream down");
    const filled = await second;
    expect(filled.headers.get("cache-status")).toBe("edgecache; fwd=uri-miss; stored");
    expect(await filled.text()).toBe("filled by the second");
    expect(p.calls()).toBe(2);
  });

  it("stops waiting after collapseMs and fills the page itself", async () => {
    const p = processes();
    await p.one.add(`lock.page.GET.0:.${URL}`, 1, { timeout: 600 }); // a lock whose holder died
    const response = await p.wrap(p.two, { collapseMs: 100 })(new Request(URL));
    expect(response.headers.get("cache-status")).toBe("edgecache; fwd=uri-miss; stored");
    expect(p.calls()).toBe(1);
  });

  it("refreshes a stale page in one process only", async () => {
    const p = processes();
    const options = { staleWhileRevalidate: 30 };
    await (await p.wrap(p.one, options)(new Request(URL))).text();
    await p.settle();
    p.clock.advance(61);
    const gate = gated();
    p.respondWith(gate.respond);
    const [a, b] = await Promise.all([p.wrap(p.one, options)(new Request(URL)), p.wrap(p.two, options)(new Request(URL))]);
    expect([a.headers.get("cache-status"), b.headers.get("cache-status")]).toEqual([
      "edgecache; hit; ttl=-1; detail=revalidating",
      "edgecache; hit; ttl=-1; detail=revalidating",
    ]);
    gate.open();
    await p.settle();
    expect(p.calls()).toBe(2); // the first fill and one refresh
  });

  it("carries a refresh's store and the release of its lock with the refresh: once that settles, both are done", async () => {
    const p = processes({ shared: true }, true);
    const carried: Promise<unknown>[] = [];
    const handler = p.wrap(p.one, { staleWhileRevalidate: 30, waitUntil: (work) => void carried.push(work) });
    await (await handler(new Request(URL))).text();
    await Promise.all(carried.splice(0));
    p.clock.advance(61);
    await (await handler(new Request(URL))).text();
    expect(carried).toHaveLength(1); // the refresh
    await carried[0];
    expect(await p.one.get("lock.page.GET.0:.https://example.com/report")).toBeUndefined();
    expect((await handler(new Request(URL))).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
  });

  it("renders at once inside another layer over the same store and key (cachePage within cacheSite), whose lock is held for it", async () => {
    const p = processes();
    const site = cacheSite({ cache: p.one, now: p.clock.now, onError: (e) => p.errors.push(e) });
    const response = await site(p.wrap(p.one))(new Request(URL));
    expect(await response.text()).toBe("page 1");
    expect(p.adds.filter((key) => key.includes("lock."))).toHaveLength(1); // the outer layer's claim: the inner one neither claims nor polls
    await p.settle();
    expect((await site(p.wrap(p.one))(new Request(URL))).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
    expect(p.calls()).toBe(1);
    expect(p.errors).toEqual([]);
  });

  it("still collapses one layer given the same Request object twice at once (a warm-up, a fan-out): that is no nesting", async () => {
    const p = processes();
    const gate = gated();
    p.respondWith(gate.respond);
    const handler = p.wrap(p.one);
    const request = new Request(URL);
    const first = handler(request);
    await p.claims(1);
    const second = handler(request);
    gate.open();
    expect(await (await first).text()).toBe("the page");
    await p.settle();
    expect((await second).headers.get("cache-status")).toBe("edgecache; hit; ttl=60; detail=collapsed");
    expect(p.calls()).toBe(1);
  });

  it("refreshes a stale page inside another layer over the same store and key: the inner one renders for the outer one's refresh", async () => {
    const p = processes();
    const carried: Promise<unknown>[] = [];
    const options = { staleWhileRevalidate: 300, waitUntil: (work: Promise<unknown>) => void carried.push(work) };
    const site = cacheSite({ cache: p.one, now: p.clock.now, ...options });
    const handler = site(p.wrap(p.one, options));
    await (await handler(new Request(URL))).text();
    await Promise.all(carried.splice(0));
    p.clock.advance(90);
    expect((await handler(new Request(URL))).headers.get("cache-status")).toBe("edgecache; hit; ttl=-30; detail=revalidating");
    while (carried.length > 0) await Promise.all(carried.splice(0));
    expect(p.calls()).toBe(2);
    expect(await (await handler(new Request(URL))).text()).toBe("page 2");
  });

  it("frees a lock it took when its look for the page just after fails, as no fill is left to free it", async () => {
    const store = memory();
    let claims = 0;
    let failGets = false;
    const cache = createCache({
      backend: {
        ...store,
        capabilities: { ...store.capabilities, shared: true },
        get: async (key) => {
          if (failGets) throw new Error("store down");
          return store.get(key);
        },
        add: async (key, value, ttl) => {
          const added = await store.add!(key, value, ttl);
          if (key.includes("lock.") && ++claims === 1) await store.delete(key); // the holder lets go, without a page
          if (key.includes("lock.") && claims === 2) failGets = added; // the next look fails
          return added;
        },
      },
    });
    const lock = cache.makeKey(`lock.page.GET.0:.${URL}`);
    await store.add!(lock, new Uint8Array(1), 5); // another process is filling the page
    const errors: unknown[] = [];
    const answer = await cachePage(60, { cache, onError: (error) => errors.push(error) })((_request: Request) => new Response("the report"))(new Request(URL));
    expect([answer.status, await answer.text()]).toEqual([200, "the report"]);
    failGets = false;
    await expect.poll(() => store.get(lock)).toBeUndefined();
    expect(errors.map(String)).toContain("Error: store down");
  });

  it("spreads the waiting processes' polls: 10 ms doubling to 200 ms, each between half and all of it", () => {
    const ceilings = [10, 20, 40, 80, 160, 200, 200];
    expect(ceilings.map((_, attempt) => pollPause(attempt, () => 0))).toEqual(ceilings.map((ceiling) => ceiling / 2));
    expect(ceilings.map((_, attempt) => pollPause(attempt, () => 0.999999))).toEqual(ceilings.map((ceiling) => expect.closeTo(ceiling, 3)));
    const first = Array.from({ length: 50 }, () => pollPause(0));
    expect(new Set(first).size).toBeGreaterThan(1);
    expect(first.every((pause) => pause >= 5 && pause <= 10)).toBe(true);
  });

  it.each([
    ["an in-isolate store", { shared: false }],
    ["a shared store without an atomic add (Workers KV, the Cache API)", { shared: true, atomicAdd: false }],
  ])("takes no lock on %s", async (_label, capabilities) => {
    const p = processes(capabilities);
    await (await p.wrap(p.one)(new Request(URL))).text();
    expect(p.adds).toEqual([]);
  });
});
