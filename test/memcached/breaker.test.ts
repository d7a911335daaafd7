/** Page caching's circuit breaker over a real memcached whose process is frozen (SIGSTOP). */
import { expect, it } from "vitest";
import { cachePage, createCache } from "../../src/index.ts";
import { BackendTimeoutError } from "../../src/errors.ts";
import { useMemcachedServer } from "./helpers.ts";

const memcache = useMemcachedServer();

it("leaves a frozen memcached alone after three calls the adapter gave up on (its own time limit, shorter than page caching's)", async () => {
  const errors: unknown[] = [];
  const backend = memcache.client({ timeoutMs: 100, retryDelayMs: 0 });
  const handler = cachePage(60, { cache: createCache({ backend }), timeoutMs: 1000, onError: (error) => errors.push(error) })(
    async (request: Request) => new Response(`page for ${new URL(request.url).pathname}`));
  const get = async (path: string) => (await handler(new Request(`https://example.com${path}`))).headers.get("cache-status");
  await memcache.server().freeze();
  try {
    for (const path of ["/a", "/b", "/c"]) await get(path); // each lookup waits the adapter's 100 ms, and fails
    expect(errors.slice(0, 3).every((error) => error instanceof BackendTimeoutError)).toBe(true);
    const started = performance.now();
    expect(await get("/d")).toBe("edgecache; fwd=miss; detail=store-down");
    expect(performance.now() - started).toBeLessThan(50); // the store is not called
  } finally {
    memcache.server().thaw();
  }
});
