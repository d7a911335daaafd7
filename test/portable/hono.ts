/**
 * `edgecache/hono` on each runtime: the page and header middleware in a Hono app, answered
 * through `app.fetch` as the runtime's server would call it.
 */
import { Hono } from "hono";
import { memory } from "../../adapters/memory.ts";
import { cacheControl, cachePage, conditionalGet, neverCache, varyOnCookie } from "../../src/hono.ts";
import { createCache } from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { equal, suite } from "./harness.ts";

/** An app whose `/page` is cached for 60 s and whose `/live` is not, both counting renders. */
function app() {
  const clock = fakeClock();
  const writes: Promise<unknown>[] = [];
  const cache = createCache({ backend: memory({ now: clock.now }) });
  let renders = 0;
  const hono = new Hono()
    .use(conditionalGet)
    .get("/page", cachePage(60, { cache, now: clock.now, waitUntil: (write) => void writes.push(write) }), varyOnCookie, (c) => c.text(`page ${++renders}`))
    .get("/live", neverCache, cacheControl({ private: true }), (c) => c.text(`live ${++renders}`));
  const get = async (path: string, init: RequestInit = {}) => {
    const response = await hono.fetch(new Request(`https://example.com${path}`, init));
    const body = await response.text();
    await Promise.all(writes.splice(0));
    return { status: response.status, body, headers: response.headers, cacheStatus: response.headers.get("cache-status") };
  };
  return { clock, get };
}

/**
 * The Hono middleware suite.
 *
 * @example
 * await runTests([hono], console.log);
 */
export default suite("hono", (test) => {
  test("cachePage middleware renders a route once, then serves it from the cache per cookie", async () => {
    const { clock, get } = app();
    const miss = await get("/page", { headers: { cookie: "user=a" } });
    equal([miss.body, miss.cacheStatus, miss.headers.get("vary")], ["page 1", "edgecache; fwd=uri-miss; stored", "Cookie"]);
    clock.advance(5);
    const hit = await get("/page", { headers: { cookie: "user=a" } });
    equal([hit.body, hit.cacheStatus, hit.headers.get("age")], ["page 1", "edgecache; hit; ttl=55", "5"]);
    equal((await get("/page", { headers: { cookie: "user=b" } })).body, "page 2");
  });

  test("HEAD is answered from the cached GET page, and conditionalGet answers 304", async () => {
    const { get } = app();
    const { headers } = await get("/page");
    const head = await get("/page", { method: "HEAD" });
    equal([head.body, head.cacheStatus], ["", "edgecache; hit; ttl=60"]);
    const revalidated = await get("/page", { headers: { "If-None-Match": headers.get("etag") ?? "" } });
    equal([revalidated.status, revalidated.body], [304, ""]);
  });

  test("neverCache and cacheControl patch an uncached route's every response", async () => {
    const { get } = app();
    const live = await get("/live");
    equal([live.body, live.headers.get("cache-control"), live.cacheStatus],
      ["live 1", "private, max-age=0, no-cache, no-store, must-revalidate", null]);
    equal((await get("/live")).body, "live 2");
  });
});
