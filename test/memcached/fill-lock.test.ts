/** Collapsing across processes on a real memcached (cachePage and getOrSet, misses and refreshes ahead of expiry): two clients stand in for two Node processes. */
import { expect, it } from "vitest";
import type { MemcachedBackend } from "../../adapters/memcached.ts";
import { cachePage, createCache } from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { useMemcachedServer } from "./helpers.ts";

const memcache = useMemcachedServer();

/** Work that counts its runs, says when it has begun (`entered`), and finishes once `open` is called, with `result()`. */
function gated<T>(result: () => T) {
  let runs = 0;
  let open!: () => void;
  let begun!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (begun = resolve));
  const run = async (): Promise<T> => {
    runs++;
    begun();
    await gate;
    return result();
  };
  return { run, open, entered, runs: () => runs };
}

it("runs the handler once when two processes miss the same page at once", async () => {
  let calls = 0;
  let open!: () => void;
  let entered!: () => void;
  let waiting!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const inHandler = new Promise<void>((resolve) => (entered = resolve));
  const secondClaimed = new Promise<void>((resolve) => (waiting = resolve));
  let claims = 0;
  const writes: Promise<unknown>[] = [];
  const aProcess = () => {
    const client = memcache.client();
    // Count fill-lock claims (memcached add), so the test knows when the second process waits.
    const counted: MemcachedBackend = Object.assign(Object.create(client) as MemcachedBackend, {
      add: async (...args: Parameters<NonNullable<MemcachedBackend["add"]>>) => {
        const taken = await client.add!(...args);
        if (++claims === 2) waiting();
        return taken;
      },
    });
    return cachePage(60, { cache: createCache({ backend: counted }), waitUntil: (write) => void writes.push(write) })(async (_request: Request) => {
      calls++;
      entered();
      await gate;
      return new Response("the report");
    });
  };
  const [one, two] = [aProcess(), aProcess()];
  const first = one(new Request("https://example.com/report"));
  await inHandler; // the first process holds the fill lock
  const second = two(new Request("https://example.com/report"));
  await secondClaimed; // the second found it taken and polls for the page
  open();
  expect(await (await first).text()).toBe("the report");
  await Promise.all(writes);
  const collapsed = await second;
  expect(collapsed.headers.get("cache-status")).toMatch(/^edgecache; hit; ttl=\d+; detail=collapsed$/);
  expect(await collapsed.text()).toBe("the report");
  expect(calls).toBe(1);
});

it("getOrSet computes a missing value once when two processes ask at once", async () => {
  const work = gated(() => ({ total: 42 }));
  let polling!: () => void;
  const secondPolls = new Promise<void>((resolve) => (polling = resolve));
  const waiter = hooked(memcache.client(), async (call) => {
    if (call === 2) polling(); // its first claim found the lock taken; this is a poll's
  });
  const [one, two] = [createCache({ backend: memcache.client() }), createCache({ backend: waiter.backend })];
  const first = one.getOrSet("report", work.run, { timeout: 60 });
  await work.entered; // the first holds the lock, computing
  const second = two.getOrSet("report", work.run, { timeout: 60 });
  await secondPolls; // the second polls memcached for the value
  work.open();
  expect(await Promise.all([first, second])).toEqual([{ total: 42 }, { total: 42 }]);
  expect(work.runs()).toBe(1);
  await Promise.all([one.close(), two.close()]);
});

it("getOrSet refreshes a value ahead of its expiry once when two processes find it due", async () => {
  const [one, two] = [createCache({ backend: hooked(memcache.client()).backend }), createCache({ backend: hooked(memcache.client()).backend })];
  await one.set("rates", "old", { timeout: 5 });
  const work = gated(() => "new");
  const refreshes: Array<Promise<unknown>> = [];
  const options = { timeout: 60, refreshAhead: 0.5, waitUntil: (refresh: Promise<unknown>) => void refreshes.push(refresh) };
  expect(await one.getOrSet("rates", work.run, options)).toBe("old"); // 5 s of 60 left, read with `mg rates v t`
  await work.entered; // the first process holds the lock
  expect(await two.getOrSet("rates", work.run, options)).toBe("old");
  await refreshes[1]; // the second found the lock taken and left the refresh to the first
  work.open();
  await refreshes[0];
  expect(work.runs()).toBe(1);
  expect(await two.get("rates")).toBe("new");
  expect(await two.backend.ttl!(two.makeKey("rates"))).toBeGreaterThan(55);
  await Promise.all([one.close(), two.close()]);
});

/**
 * `client` with `hook` run before each of its `add` calls (fill locks are taken with `add`), and
 * `released` resolved once a `delete` (a lock let go) has completed.
 */
function hooked(client: MemcachedBackend, hook: (call: number) => Promise<void> = async () => {}) {
  let calls = 0;
  let released!: () => void;
  const lockLetGo = new Promise<void>((resolve) => (released = resolve));
  const backend: MemcachedBackend = Object.assign(Object.create(client) as MemcachedBackend, {
    identity: {}, // another process's: nothing under way in this one's memory is shared with it
    add: async (...args: Parameters<NonNullable<MemcachedBackend["add"]>>) => {
      await hook(++calls);
      return client.add!(...args);
    },
    delete: async (key: string) => {
      const existed = await client.delete(key);
      released();
      return existed;
    },
  });
  return { backend, lockLetGo };
}

it("does not run the handler again when the other process stores the page and lets go of its lock just before this one claims it", async () => {
  const render = gated(() => new Response("the report"));
  const handler = (_request: Request) => render.run();
  const writes: Promise<unknown>[] = [];
  const holder = hooked(memcache.client());
  const one = cachePage(60, { cache: createCache({ backend: holder.backend }), waitUntil: (write) => void writes.push(write) })(handler);
  const first = one(new Request("https://example.com/race"));
  // The second process's first claim finds the lock taken; before its next claim, the first
  // process finishes: its page is stored and its lock gone by the time that claim is made.
  const waiter = hooked(memcache.client(), async (call) => {
    if (call !== 2) return;
    render.open();
    await (await first).text();
    await Promise.all(writes);
    await holder.lockLetGo;
  });
  const two = cachePage(60, { cache: createCache({ backend: waiter.backend }) })(handler);
  await render.entered; // the first holds the lock
  const second = await two(new Request("https://example.com/race"));
  expect(second.headers.get("cache-status")).toMatch(/^edgecache; hit; ttl=\d+; detail=collapsed$/);
  expect(await second.text()).toBe("the report");
  expect(render.runs()).toBe(1);
});

it("does not refresh a stale page again when the other process refreshed it and let go of its lock just before this one claims it", async () => {
  const clock = fakeClock();
  let renders = 0;
  const refresh = gated(() => new Response("refreshed"));
  const handler = (_request: Request) => (++renders === 1 ? new Response("first") : refresh.run());
  const writes: Promise<unknown>[] = [];
  const options = { staleWhileRevalidate: 60, now: clock.now, waitUntil: (write: Promise<unknown>) => void writes.push(write) };
  const holder = hooked(memcache.client());
  const one = cachePage(1, { ...options, cache: createCache({ backend: holder.backend, now: clock.now }) })(handler);
  expect(await (await one(new Request("https://example.com/stale-race"))).text()).toBe("first");
  await Promise.all(writes.splice(0));
  clock.advance(2); // stale, within stale-while-revalidate
  const first = one(new Request("https://example.com/stale-race")); // refreshes it, holding the lock
  await refresh.entered;
  // The second process's claim is made only once the first has stored its refresh and let go.
  const waiter = hooked(memcache.client(), async () => {
    refresh.open();
    expect(await (await first).text()).toBe("first");
    await Promise.all(writes.splice(0));
    await holder.lockLetGo;
  });
  const two = cachePage(1, { ...options, cache: createCache({ backend: waiter.backend, now: clock.now }) })(handler);
  const second = await two(new Request("https://example.com/stale-race"));
  expect(second.headers.get("cache-status")).toMatch(/^edgecache; hit; ttl=-\d+; detail=revalidating$/);
  await Promise.all(writes.splice(0));
  expect(renders).toBe(2); // the first render and one refresh
});

it("getOrSet does not refresh a value again when the other process refreshed it and let go of its lock just before this one claims it", async () => {
  const holder = hooked(memcache.client());
  const one = createCache({ backend: holder.backend });
  await one.set("rates", "old", { timeout: 5 });
  const work = gated(() => "new");
  const refreshes: Array<Promise<unknown>> = [];
  const options = { timeout: 60, refreshAhead: 0.5, waitUntil: (refresh: Promise<unknown>) => void refreshes.push(refresh) };
  expect(await one.getOrSet("rates", work.run, options)).toBe("old"); // due: the first process refreshes it, holding the lock
  await work.entered;
  // The second process's claim is made only once the first has stored the new value and let go.
  const waiter = hooked(memcache.client(), async () => {
    work.open();
    await refreshes[0];
    await holder.lockLetGo;
  });
  const two = createCache({ backend: waiter.backend });
  expect(await two.getOrSet("rates", work.run, options)).toBe("old");
  await refreshes[1];
  expect(work.runs()).toBe(1);
  expect(await two.get("rates")).toBe("new");
});

it("getOrSet does not compute again when the other process stores the value and lets go of its lock just before this one claims it", async () => {
  const work = gated(() => ({ total: 42 }));
  const holder = hooked(memcache.client());
  const first = createCache({ backend: holder.backend }).getOrSet("race", work.run, { timeout: 60 });
  const waiter = hooked(memcache.client(), async (call) => {
    if (call !== 2) return;
    work.open();
    await first;
    await holder.lockLetGo;
  });
  await work.entered; // the first holds the lock
  expect(await createCache({ backend: waiter.backend }).getOrSet("race", work.run, { timeout: 60 })).toEqual({ total: 42 });
  expect(work.runs()).toBe(1);
});

it("asks a dead origin once for the requests that waited on its failed render, answering them all with the stale page", async () => {
  const clock = fakeClock();
  let down = false;
  let calls = 0;
  const handler = cachePage(60, { cache: createCache({ backend: memcache.client() }), now: clock.now, staleIfError: 3600, errorBackoffMs: 5000 })(async (_request: Request) => {
    if (!down) return new Response("page");
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 50));
    throw new Error("origin down");
  });
  const url = `https://example.com/dead-origin-${Math.random()}`;
  await (await handler(new Request(url))).text();
  await new Promise((resolve) => setTimeout(resolve, 100)); // its write
  clock.advance(61);
  down = true;
  const answers = await Promise.all(Array.from({ length: 8 }, async () => {
    const response = await handler(new Request(url));
    return [await response.text(), response.headers.get("cache-status")?.replace(/ttl=-?\d+; /, "")];
  }));
  expect(calls).toBe(1);
  expect(answers).toEqual(Array.from({ length: 8 }, () => ["page", "edgecache; hit; detail=stale-if-error"]));
});

it("renders each variant once in a first wave of a page that turns out to vary, across processes, and leaves no lock behind", async () => {
  const backend = memcache.client();
  const renders: Record<string, number> = {};
  const aProcess = () => cachePage(60, { cache: createCache({ backend: memcache.client() }) })(async (request: Request) => {
    const session = request.headers.get("cookie")!;
    renders[session] = (renders[session] ?? 0) + 1;
    await new Promise((resolve) => setTimeout(resolve, 100));
    return new Response(`page for ${session}`, { headers: { vary: "Cookie" } });
  });
  const processes = [aProcess(), aProcess()];
  const url = `https://example.com/varies-${Math.random()}`;
  const asks = processes.flatMap((handler) => ["sid=a", "sid=b", "sid=b", "sid=b"].map(async (cookie) => (await handler(new Request(url, { headers: { cookie } }))).text()));
  expect((await Promise.all(asks)).filter((body) => body === "page for sid=b")).toHaveLength(6);
  expect(renders).toEqual({ "sid=a": 1, "sid=b": 1 });
  await new Promise((resolve) => setTimeout(resolve, 100)); // the writes and lock releases
  expect(await backend.get(`:1:lock.page.GET.0:.${url}`)).toBeUndefined();
});
