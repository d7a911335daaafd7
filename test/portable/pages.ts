/**
 * Page caching and the view wrappers on each runtime's own fetch types, streams and crypto:
 * cachePage, cacheSite, cacheControl, neverCache, varyOnHeaders, varyOnCookie, conditionalGet and
 * compose. Time is a fake clock; cache writes are awaited through the `waitUntil` option.
 */
import { memory } from "../../adapters/memory.ts";
import {
  type Backend, cacheControl, cachePage, cacheSite, compose, conditionalGet, createCache, createConditionalGet,
  type EdgeCache, getCacheKey, type Handler, neverCache, type PageCacheOptions, purgeTag, varyOnCookie, varyOnHeaders,
} from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { equal, ok, suite } from "./harness.ts";

/** A fake clock, a memory cache on it, page options using both, and a client that waits for cache writes. */
function site() {
  const clock = fakeClock();
  const cache = createCache({ backend: memory({ now: clock.now }) });
  const writes: Promise<unknown>[] = [];
  const options: PageCacheOptions = { cache, now: clock.now, waitUntil: (write) => void writes.push(write) };
  const get = async (handler: Handler, path = "/", init: RequestInit = {}, ...args: unknown[]) => {
    const response = await handler(new Request(`https://example.com${path}`, init), ...args);
    const body = await response.text();
    await Promise.all(writes.splice(0));
    return { status: response.status, body, headers: response.headers, cacheStatus: response.headers.get("cache-status") };
  };
  return { clock, cache, options, get };
}

/** A handler answering `page <n>` on its n-th call. */
function counting(): Handler {
  let calls = 0;
  return () => new Response(`page ${++calls}`);
}

/**
 * The page caching and wrappers suite.
 *
 * @example
 * await runTests([pages], console.log);
 */
export default suite("pages", (test) => {
  test("cachePage stores a miss, then serves hits with Age and ttl on the clock until the timeout", async () => {
    const { clock, options, get } = site();
    const handler = cachePage(60, options)(counting());
    const miss = await get(handler);
    equal([miss.body, miss.cacheStatus, miss.headers.get("cache-control")], ["page 1", "edgecache; fwd=uri-miss; stored", "max-age=60"]);
    clock.advance(10);
    const hit = await get(handler);
    equal([hit.body, hit.cacheStatus, hit.headers.get("age")], ["page 1", "edgecache; hit; ttl=50", "10"]);
    clock.advance(51);
    equal((await get(handler)).body, "page 2");
  });

  test("HEAD is answered from the GET page without a body; POST is never cached", async () => {
    const { options, get } = site();
    const handler = cachePage(60, options)(counting());
    await get(handler);
    const head = await get(handler, "/", { method: "HEAD" });
    equal([head.body, head.headers.get("content-length"), head.cacheStatus], ["", "6", "edgecache; hit; ttl=60"]);
    const post = await get(handler, "/", { method: "POST" });
    equal([post.body, post.cacheStatus], ["page 2", "edgecache; fwd=method"]);
  });

  test("a page varying on Cookie is kept once per cookie", async () => {
    const { options, get } = site();
    const handler = compose(cachePage(60, options), varyOnCookie)(counting());
    const as = (cookie: string) => get(handler, "/", { headers: { cookie } });
    equal((await as("user=a")).cacheStatus, "edgecache; fwd=uri-miss; stored");
    equal((await as("user=b")).cacheStatus, "edgecache; fwd=vary-miss; stored");
    equal([(await as("user=a")).body, (await as("user=b")).body], ["page 1", "page 2"]);
  });

  test("Set-Cookie, private, Vary: *, Authorization and non-200 responses are not stored", async () => {
    const cases: Array<[detail: string, init: ResponseInit, request?: RequestInit]> = [
      ["set-cookie", { headers: { "Set-Cookie": "id=1" } }],
      ["private", { headers: { "Cache-Control": "private" } }],
      ["vary-star", { headers: { Vary: "*" } }],
      ["authorization", {}, { headers: { Authorization: "Bearer t" } }],
      ["status", { status: 404 }],
    ];
    for (const [detail, init, requestInit] of cases) {
      const { options, get } = site();
      const handler = cachePage(60, options)(() => new Response("x", init));
      await get(handler, "/", requestInit);
      equal((await get(handler, "/", requestInit)).cacheStatus, `edgecache; fwd=uri-miss; detail=${detail}`, detail);
    }
    const { options, get } = site();
    const shared = cachePage(60, options)(() => new Response("x", { headers: { "Cache-Control": "public" } }));
    const authorized = { headers: { Authorization: "Bearer t" } };
    await get(shared, "/", authorized);
    equal((await get(shared, "/", authorized)).cacheStatus, "edgecache; hit; ttl=60", "a public response is shareable");
  });

  test("cacheSite keeps a page for its max-age, not at all for max-age=0, else for `seconds`", async () => {
    const { options, get } = site();
    const maxAge: Record<string, string> = { "/short": "max-age=5", "/zero": "max-age=0" };
    const handler = cacheSite({ ...options, seconds: 100 })((request) =>
      new Response("x", { headers: { "Cache-Control": maxAge[new URL(request.url).pathname] ?? "public" } }));
    const second: Array<string | null> = [];
    for (const path of ["/short", "/zero", "/plain"]) {
      await get(handler, path);
      second.push((await get(handler, path)).cacheStatus);
    }
    equal(second, ["edgecache; hit; ttl=5", "edgecache; fwd=uri-miss; detail=max-age-zero", "edgecache; hit; ttl=100"]);
  });

  test("a streamed body reaches the client on the miss and is stored whole", async () => {
    const { options, get } = site();
    const encoder = new TextEncoder();
    const handler = cachePage(60, options)(() => new Response(new ReadableStream({
      start(controller) {
        for (const chunk of ["one ", "two ", "three"]) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    })));
    equal((await get(handler)).body, "one two three");
    const hit = await get(handler);
    equal([hit.body, hit.cacheStatus], ["one two three", "edgecache; hit; ttl=60"]);
  });

  test("conditionalGet under cachePage: the stored ETag answers 304 from the cache", async () => {
    const { options, get } = site();
    const handler = compose(cachePage(60, options), conditionalGet)(counting());
    const etag = (await get(handler)).headers.get("etag");
    ok(etag, "the miss carries an ETag");
    const revalidated = await get(handler, "/", { headers: { "If-None-Match": etag } });
    equal([revalidated.status, revalidated.body, revalidated.cacheStatus], [304, "", "edgecache; hit; ttl=60"]);
  });

  test("stale-while-revalidate serves the stale page once while one request refreshes it", async () => {
    const { clock, options, get } = site();
    const handler = cachePage(60, { ...options, staleWhileRevalidate: 30 })(counting());
    await get(handler);
    clock.advance(70);
    const stale = await get(handler);
    equal([stale.body, stale.cacheStatus], ["page 1", "edgecache; hit; ttl=-10; detail=revalidating"]);
    equal((await get(handler)).body, "page 2");
  });

  test("a failing backend is a miss: the handler answers and onError hears it", async () => {
    const { options, get } = site();
    const fail = () => Promise.reject(new Error("store down"));
    const broken: Backend = { name: "broken", get: fail, set: fail, delete: fail };
    const heard: string[] = [];
    const handler = cachePage(60, { ...options, cache: createCache({ backend: broken }), onError: (_, { operation }) => void heard.push(operation) })(counting());
    equal([(await get(handler)).body, (await get(handler)).body], ["page 1", "page 2"]);
    equal(heard, ["lookup", "store", "lookup", "store"]);
  });

  test("the cache comes from the handler's arguments, ctx.waitUntil carries the write, and getCacheKey purges", async () => {
    const { clock, cache, get } = site();
    const writes: Promise<unknown>[] = [];
    const env = { PAGES: cache };
    const ctx = { waitUntil: (write: Promise<unknown>) => void writes.push(write) };
    const seen: unknown[] = [];
    const handler = cachePage(60, { cache: (_request, env: { PAGES: EdgeCache }) => env.PAGES, now: clock.now, query: { ignore: [/^utm_/] } })(
      (_request: Request, ...args: unknown[]) => (seen.push(args), new Response("page")));
    await get(handler, "/?utm_source=mail", {}, env, ctx);
    await Promise.all(writes);
    equal(seen, [[env, ctx]], "the handler gets env and ctx");
    equal((await get(handler, "/", {}, env, ctx)).cacheStatus, "edgecache; hit; ttl=60", "utm_ parameters are not part of the key");
    const key = await getCacheKey(new Request("https://example.com/"), { cache, query: { ignore: [/^utm_/] } });
    ok(key !== undefined && (await cache.delete(key)), "the page is found by its key and purged");
    equal((await get(handler, "/", {}, env, ctx)).cacheStatus, "edgecache; fwd=uri-miss; stored");
  });

  test("purgeTag ends the pages filed under a tag (a long one hashed with this runtime's crypto) and no others", async () => {
    const { clock, cache, options, get } = site();
    const long = `collection ${"x".repeat(200)}`;
    const tagged = cachePage(60, { ...options, tags: (request) => [long, new URL(request.url).pathname] })(counting());
    await get(tagged, "/a");
    await get(tagged, "/b");
    clock.advance(1);
    await purgeTag("/a", { cache, now: clock.now });
    clock.advance(1);
    equal([(await get(tagged, "/a")).cacheStatus, (await get(tagged, "/b")).cacheStatus], ["edgecache; fwd=stale; stored", "edgecache; hit; ttl=58"]);
    await purgeTag(long, { cache, now: clock.now });
    clock.advance(1);
    equal([(await get(tagged, "/a")).body, (await get(tagged, "/b")).body], ["page 4", "page 5"]);
  });

  test("cacheControl, neverCache and the vary wrappers patch every response; compose is outermost first", async () => {
    const env = { greeting: "hi" };
    const handler = compose(cacheControl({ private: true }), cacheControl({ public: true, maxAge: 60 }), varyOnHeaders("Accept-Language"), varyOnCookie)(
      (_request: Request, e: typeof env) => new Response(e.greeting, { headers: { "Cache-Control": "max-age=30" } }));
    const response = await handler(new Request("https://example.com/"), env);
    equal([await response.text(), response.headers.get("cache-control"), response.headers.get("vary")],
      ["hi", "max-age=30, private", "Cookie, Accept-Language"]);
    const never = await neverCache((_request: Request) => new Response("x", { headers: { "Cache-Control": "public" } }))(new Request("https://example.com/"));
    equal(never.headers.get("cache-control"), "max-age=0, no-cache, no-store, must-revalidate, private");
  });

  test("conditionalGet tags bodies with their SHA-256 and answers 304; POST and bodies over the cap pass untagged", async () => {
    const hello = (_request: Request) => new Response("hello");
    const sha = '"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"';
    const at = (init: RequestInit = {}) => new Request("https://example.com/", init);
    equal((await conditionalGet(hello)(at())).headers.get("etag"), sha);
    equal((await conditionalGet(hello)(at({ headers: { "If-None-Match": sha } }))).status, 304);
    equal((await conditionalGet(hello)(at({ method: "POST" }))).headers.has("etag"), false);
    const capped = await createConditionalGet({ maxEtagBytes: 4 })(hello)(at());
    equal([capped.headers.has("etag"), await capped.text()], [false, "hello"]);
  });
});
