/**
 * The Cache API backend where the runtime has `caches` (Deno, workerd): entries, expiry on an
 * injected clock, clear, and page caching over it. Where it has none (Node, Bun): a clean
 * BackendUnavailableError, and page caching that still answers.
 */
import { cacheApi } from "../../adapters/cache-api.ts";
import { BackendUnavailableError, cachePage, createCache } from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { equal, ok, suite, type Suite, throws } from "./harness.ts";
import { storedThenServed } from "./stored-then-served.ts";

/** `globalThis.caches` where the runtime has one. */
const storage = (globalThis as { caches?: { delete(name: string): Promise<boolean> } }).caches;

/** workerd's CacheStorage cannot `delete` a cache; its caches end with the Miniflare instance that runs the suite. */
const workerd = globalThis.navigator?.userAgent === "Cloudflare-Workers";

/** Runs `use` with a Cache API cache under a fresh name, then deletes that cache where the runtime keeps it (Deno keeps it on disk). */
async function withCacheApi(use: (name: string, clock: ReturnType<typeof fakeClock>) => Promise<void>): Promise<void> {
  const name = `edgecache-portable-${crypto.randomUUID()}`;
  try {
    await use(name, fakeClock());
  } finally {
    if (!workerd) await storage?.delete(name);
  }
}

const available = suite("cache-api", (test) => {
  test("stores, counts, expires and clears entries in the runtime's own caches", () => withCacheApi(async (name, clock) => {
    const cache = createCache({ backend: cacheApi({ name, now: clock.now }), timeout: 60 });
    await cache.setMany({ greeting: { text: "hello" }, visits: 1 });
    await cache.set("forever", "kept", { timeout: null });
    equal([await cache.get("greeting"), await cache.incr("visits")], [{ text: "hello" }, 2]);
    clock.advance(61);
    equal(Object.fromEntries(await cache.getMany(["greeting", "visits", "forever"])), { forever: "kept" });
    await cache.clear();
    equal(await cache.has("forever"), false);
  }));

  test("cachePage over the Cache API: a miss is stored, then served from the cache", () => withCacheApi(async (name, clock) => {
    await storedThenServed(createCache({ backend: cacheApi({ name, now: clock.now }) }), clock.now);
  }));

  test("cachePage over the Cache API streams a large page's hit from the stored body, byte for byte, or a range of it", () => withCacheApi(async (name, clock) => {
    const writes: Promise<unknown>[] = [];
    const cache = createCache({ backend: cacheApi({ name, now: clock.now }) });
    const page = Uint8Array.from({ length: 200 * 1024 }, (_, i) => i % 253);
    const handler = cachePage(60, { cache, now: clock.now, waitUntil: (write) => void writes.push(write) })((_request: Request) => new Response(page));
    await (await handler(new Request("https://example.com/large"))).arrayBuffer();
    await Promise.all(writes.splice(0));
    const hit = await handler(new Request("https://example.com/large"));
    const body = new Uint8Array(await hit.arrayBuffer());
    equal([hit.headers.get("cache-status"), body.byteLength], ["edgecache; hit; ttl=60", page.byteLength]);
    ok(body.every((byte, i) => byte === page[i]), "the streamed body is the stored one");
    const ranged = await handler(new Request("https://example.com/large", { headers: { range: "bytes=100000-100099" } }));
    const slice = new Uint8Array(await ranged.arrayBuffer());
    equal([ranged.status, ranged.headers.get("content-range"), slice.byteLength], [206, `bytes 100000-100099/${page.byteLength}`, 100]);
    ok(slice.every((byte, i) => byte === page[100000 + i]), "the 206 holds the asked bytes of the stored body");
  }));
});

const unavailable = suite("cache-api", (test) => {
  test("cacheApi() reports the missing Cache API with a BackendUnavailableError", async () => {
    ok(storage === undefined, "this runtime has no globalThis.caches");
    await throws(() => cacheApi(), BackendUnavailableError, /Cache API/);
  });

  test("cachePage over an unavailable Cache API still answers and reports why", async () => {
    const heard: unknown[] = [];
    const handler = cachePage(60, { cache: () => createCache({ backend: cacheApi() }), onError: (error) => void heard.push(error) })((_request: Request) => new Response("page"));
    const response = await handler(new Request("https://example.com/"));
    equal([await response.text(), response.headers.get("cache-status")], ["page", "edgecache; fwd=miss; detail=no-cache"]);
    ok(heard.length === 1 && heard[0] instanceof BackendUnavailableError, "onError hears the BackendUnavailableError");
  });
});

/**
 * The Cache API suite for a runtime that has the Cache API (`true`) or must report it missing.
 *
 * @example
 * const suites = [...portableSuites, cacheApiSuite(runtime === "deno")];
 */
export function cacheApiSuite(runtimeHasCacheApi: boolean): Suite {
  return runtimeHasCacheApi ? available : unavailable;
}
