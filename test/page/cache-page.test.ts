import { afterEach, describe, expect, it, vi } from "vitest";
import { createCache } from "../../src/cache.ts";
import { cacheControl, compose, varyOnCookie, varyOnHeaders } from "../../src/wrappers.ts";
import { cachePage, cacheSite, type SiteCacheOptions } from "../../src/page/cache-page.ts";
import { getCacheKey, learnCacheKey } from "../../src/page/keys.ts";
import { configureCaches } from "../../src/registry.ts";
import { type Bench, get, pageBench, read } from "./setup.ts";

/** A view that counts its calls and echoes what it was asked. */
function view(init: ResponseInit | ((request: Request) => ResponseInit) = {}) {
  const seen: Request[] = [];
  const handler = async (request: Request) => {
    seen.push(request);
    const responseInit = typeof init === "function" ? init(request) : init;
    return new Response(`page ${seen.length} for ${new URL(request.url).pathname}${new URL(request.url).search}`, responseInit);
  };
  return Object.assign(handler, { seen });
}

function options(bench: Bench, extra: SiteCacheOptions = {}): SiteCacheOptions {
  return { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, onError: (e) => bench.errors.push(e), ...extra };
}

async function twice(handler: (request: Request) => Promise<Response>, bench: Bench, first: Request | string, second: Request | string = first) {
  const a = await read(handler(typeof first === "string" ? new Request(first) : first));
  await bench.settle();
  const b = await read(handler(typeof second === "string" ? new Request(second) : second));
  await bench.settle();
  return [a, b] as const;
}

describe("cachePage: Django's fetch/update behaviour", () => {
  it("serves the second request from the cache with Cache-Status, Age and the same body", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench))(v);
    const [miss, hit] = await twice(handler, bench, "https://example.com/a");
    expect(miss.cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=60");
    expect(hit.body).toBe(miss.body);
    expect(hit.headers.get("age")).toBe("0");
    expect(v.seen).toHaveLength(1);
  });

  it("sets Expires and max-age like patch_response_headers, and counts Age from the stored time", async () => {
    const bench = pageBench();
    const handler = cachePage(2, options(bench))(view());
    const miss = await read(handler(new Request("https://example.com/")));
    await bench.settle();
    expect(miss.headers.get("cache-control")).toBe("max-age=2");
    expect(miss.headers.get("expires")).toBe(new Date(bench.clock.now() + 2000).toUTCString());
    bench.clock.advance(1);
    const hit = await read(handler(new Request("https://example.com/")));
    expect(hit.headers.get("age")).toBe("1");
    expect(hit.headers.get("expires")).toBe(miss.headers.get("expires"));
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=1");
    bench.clock.advance(1);
    expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
  });

  it("keys pages by query (order kept), host and scheme", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench))(v);
    for (const url of ["https://example.com/p?a=1&b=2", "https://example.com/p?b=2&a=1", "https://other.com/p?a=1&b=2", "http://example.com/p?a=1&b=2"]) {
      await read(handler(new Request(url)));
      await bench.settle();
    }
    expect(v.seen).toHaveLength(4);
    expect((await read(handler(new Request("https://example.com/p?b=2&a=1")))).cacheStatus).toMatch(/hit/);
  });

  it("normalises the query when asked: sorted, with utm_* dropped", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench, { query: { sort: true, ignore: [/^utm_/, "fbclid"] } }))(v);
    const [, hit] = await twice(handler, bench, "https://example.com/p?b=2&a=1&utm_source=x", "https://example.com/p?a=1&fbclid=9&b=2");
    expect(hit.cacheStatus).toMatch(/hit/);
    expect(v.seen).toHaveLength(1);
  });

  it("separates wrappers by keyPrefix and resolves a cache alias from the registry", async () => {
    const bench = pageBench();
    configureCaches({ pages: bench.cache });
    try {
      const v = view();
      const one = cachePage(60, options(bench, { cache: "pages", keyPrefix: "one" }))(v);
      const two = cachePage(60, options(bench, { cache: "pages", keyPrefix: "two" }))(v);
      await twice(one, bench, "https://example.com/");
      expect((await read(two(new Request("https://example.com/")))).cacheStatus).toMatch(/miss/);
      expect(v.seen).toHaveLength(2);
    } finally {
      configureCaches({});
    }
  });

  it("takes the cache from a function of the request and the handler's extra arguments", async () => {
    const bench = pageBench();
    const env = { PAGES: bench.cache };
    const handler = cachePage(60, options(bench, { cache: (_request, e: typeof env) => e.PAGES }))(async (_request: Request, e: typeof env, extra: string) => new Response(`${extra} ${e === env}`));
    const miss = await read(handler(new Request("https://example.com/"), env, "passed"));
    await bench.settle();
    expect(miss.body).toBe("passed true");
    expect((await read(handler(new Request("https://example.com/"), env, "x"))).cacheStatus).toMatch(/hit/);
  });
});

describe("timeouts: which one wins", () => {
  it("cachePage's timeout beats the response's max-age, even max-age=0, whose header is kept", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(cacheControl({ maxAge: 0 })(view()));
    const [miss, hit] = await twice(handler, bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBe("max-age=0");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it("statusTimeouts stores those statuses for their own time (negative caching), and leaves the others alone", async () => {
    const bench = pageBench();
    const handler = cachePage(600, options(bench, { statusTimeouts: { 404: 30 } }))(view((request) => ({ status: request.url.endsWith("/missing") ? 404 : 200 })));
    const [miss, hit] = await twice(handler, bench, "https://example.com/missing");
    expect([miss.status, miss.cacheStatus, miss.headers.get("cache-control")]).toEqual([404, "edgecache; fwd=uri-miss; stored", "max-age=30"]);
    expect([hit.status, hit.body, hit.cacheStatus]).toEqual([404, "page 1 for /missing", "edgecache; hit; ttl=30"]);
    expect((await twice(handler, bench, "https://example.com/found"))[1].cacheStatus).toBe("edgecache; hit; ttl=600");
    bench.clock.advance(31);
    expect((await read(handler(new Request("https://example.com/missing")))).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    expect(() => cachePage(60, { statusTimeouts: { abc: 1 } as never })).toThrow('options.statusTimeouts must be keyed by statuses (100-599), got "abc"');
    expect(() => cachePage(60, { statusTimeouts: { 404: -1 } })).toThrow("options.statusTimeouts[404] must be a number of 0 or more, got -1");
    expect(() => cachePage(60, { statusTimeouts: [30] as never })).toThrow("options.statusTimeouts must be an object of seconds by status, such as { 404: 30 }, got");
  });

  it("a larger max-age from the view is lowered to cachePage's timeout", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(cacheControl({ maxAge: 3600, public: true })(view()));
    const miss = await read(handler(new Request("https://example.com/")));
    expect(miss.headers.get("cache-control")).toBe("max-age=60, public");
  });

  it("cachePage(0) adds the headers and stores nothing", async () => {
    const bench = pageBench();
    const handler = cachePage(0, options(bench))(view());
    const [miss, again] = await twice(handler, bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBe("max-age=0");
    expect(miss.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=zero-timeout");
    expect(again.cacheStatus).toMatch(/miss/);
  });

  it("cacheSite uses max-age, then its seconds; max-age=0 is not cached and left untouched", async () => {
    const bench = pageBench();
    const site = cacheSite(options(bench, { seconds: 30 }));
    const plain = site(view());
    const [miss] = await twice(plain, bench, "https://example.com/plain");
    expect(miss.headers.get("cache-control")).toBe("max-age=30");
    const aged = site(cacheControl({ maxAge: 5 })(view()));
    const [, hit] = await twice(aged, bench, "https://example.com/aged");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=5");
    const zero = site(cacheControl({ maxAge: 0 })(view()));
    const [zeroMiss, zeroAgain] = await twice(zero, bench, "https://example.com/zero");
    expect(zeroMiss.headers.get("expires")).toBeNull();
    expect(zeroAgain.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=max-age-zero");
  });

  it("cachePage(null) falls back to max-age, then 600 s", async () => {
    const bench = pageBench();
    const miss = await read(cachePage(null, options(bench))(view())(new Request("https://example.com/")));
    expect(miss.headers.get("cache-control")).toBe("max-age=600");
  });
});

describe("what is stored", () => {
  it("passes other methods straight through, labelled fwd=method", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench))(v);
    const [a] = await twice(handler, bench, new Request("https://example.com/", { method: "POST" }), new Request("https://example.com/", { method: "POST" }));
    expect(a.cacheStatus).toBe("edgecache; fwd=method");
    expect(v.seen).toHaveLength(2);
    expect(bench.calls).toEqual([]);
  });

  it("stores only cacheable statuses; others get no caching headers", async () => {
    const bench = pageBench();
    const notFound = cachePage(60, options(bench))(view({ status: 404 }));
    const [miss, again] = await twice(notFound, bench, "https://example.com/missing");
    expect(miss.headers.get("cache-control")).toBeNull();
    expect(again.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=status");
    const configured = cachePage(60, options(bench, { cacheableStatuses: [200, 404] }))(view({ status: 404 }));
    const [, hit] = await twice(configured, bench, "https://example.com/gone");
    expect(hit.status).toBe(404);
    expect(hit.cacheStatus).toMatch(/hit/);
  });

  it("gives a 304 caching headers but never stores it", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(async () => new Response(null, { status: 304 }));
    const [miss, again] = await twice(handler, bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBe("max-age=60");
    expect(again.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=not-modified");
  });

  it("answers HEAD from a GET entry without a body, but never GET from a HEAD entry", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench))(v);
    await twice(handler, bench, "https://example.com/g", new Request("https://example.com/g", { method: "HEAD" }));
    const head = await handler(new Request("https://example.com/g", { method: "HEAD" }));
    expect(head.headers.get("cache-status")).toMatch(/hit/);
    expect(head.headers.get("content-length")).toBe(String("page 1 for /g".length));
    expect(await head.text()).toBe("");
    await twice(handler, bench, new Request("https://example.com/h", { method: "HEAD" }), "https://example.com/h");
    expect(v.seen.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(["GET /g", "HEAD /h", "GET /h"]);
  });

  it("stores a HEAD miss at once, without waiting for a body nobody reads", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench, { collapseMs: 60_000 }))(v); // the view sends a body even for HEAD
    const first = await handler(new Request("https://example.com/h", { method: "HEAD" }));
    expect(first.body).toBeNull();
    await bench.settle();
    const second = await read(handler(new Request("https://example.com/h", { method: "HEAD" })));
    expect(second.cacheStatus).toBe("edgecache; hit; ttl=60");
    expect(v.seen).toHaveLength(1);
  });

  it("answers If-None-Match and If-Modified-Since on hits with a 304, without the handler", async () => {
    const bench = pageBench();
    const v = view({ headers: { etag: '"v1"', "last-modified": "Sun, 17 Jul 2016 10:00:00 GMT", "content-language": "en" } });
    const handler = cachePage(60, options(bench))(v);
    await twice(handler, bench, "https://example.com/");
    const byEtag = await read(handler(new Request("https://example.com/", { headers: { "if-none-match": 'W/"v1"' } })));
    const byDate = await read(handler(new Request("https://example.com/", { headers: { "if-modified-since": "Sun, 17 Jul 2016 10:00:00 GMT" } })));
    for (const response of [byEtag, byDate]) {
      expect(response.status).toBe(304);
      expect(response.body).toBe("");
      expect(response.headers.get("etag")).toBe('"v1"');
      expect(response.headers.get("content-language")).toBeNull();
      expect(response.cacheStatus).toMatch(/hit/);
    }
    expect(v.seen).toHaveLength(1);
  });
});

describe("bypass", () => {
  const signedIn = (request: Request) => /(?:^|;\s*)sessionid=/.test(request.headers.get("cookie") ?? "");

  it("sends the requests it picks straight to the handler: nothing looked up, nothing stored", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench, { bypass: signedIn }))(v);
    const member = () => new Request("https://example.com/", { headers: { cookie: "theme=dark; sessionid=alice" } });
    const first = await read(handler(member()));
    await bench.settle();
    expect(first.cacheStatus).toBe("edgecache; fwd=bypass");
    expect(first.headers.get("cache-control")).toBeNull();
    const [stored, hit] = await twice(handler, bench, "https://example.com/");
    expect([stored.cacheStatus, hit.cacheStatus]).toEqual(["edgecache; fwd=uri-miss; stored", "edgecache; hit; ttl=60"]);
    const again = await read(handler(member()));
    expect([again.body, again.cacheStatus]).toEqual(["page 3 for /", "edgecache; fwd=bypass"]);
  });

  it("bypasses, and reports, when the function throws", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { bypass: () => { throw new Error("no session store"); } }))(view());
    const [first, second] = await twice(handler, bench, "https://example.com/");
    expect([first.cacheStatus, second.cacheStatus]).toEqual(["edgecache; fwd=bypass", "edgecache; fwd=bypass"]);
    expect(bench.errors.map(String)).toEqual(["Error: no session store", "Error: no session store"]);
  });

  it("names a bad bypass", () => {
    expect(() => cachePage(60, { bypass: true as never })).toThrow("options.bypass must be a function, got true");
  });
});

describe("targeted Cache-Control (RFC 9213)", () => {
  const targeted = { targetedCacheControl: ["Edgecache-Cache-Control", "CDN-Cache-Control"] };

  it("keeps a page for its CDN-Cache-Control lifetime while browsers keep its Cache-Control", async () => {
    const bench = pageBench();
    const v = view({ headers: { "cache-control": "max-age=60", "cdn-cache-control": "max-age=3600" } });
    const handler = cacheSite(options(bench, targeted))(v);
    const [miss, hit] = await twice(handler, bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBe("max-age=60");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=3600");
    bench.clock.advance(3599);
    expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; hit; ttl=1");
    expect(v.seen).toHaveLength(1);
  });

  it("obeys the first targeted field a response has, and only that one", async () => {
    const bench = pageBench();
    const handler = cacheSite(options(bench, targeted))(view({ headers: { "edgecache-cache-control": "max-age=10", "cdn-cache-control": "no-store", "cache-control": "private" } }));
    const [, hit] = await twice(handler, bench, "https://example.com/");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=10");
    expect(hit.headers.get("cache-control")).toBe("private, max-age=10"); // browsers are told what Cache-Control says
  });

  it("does not store what the targeted field keeps out of shared caches, whatever Cache-Control says", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, targeted))(view({ headers: { "cache-control": "public, max-age=600", "cdn-cache-control": "no-store" } }));
    const [miss, again] = await twice(handler, bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBe("public, max-age=600");
    expect(again.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=no-store");
  });

  it("reads stale directives and shareability from the targeted field", async () => {
    const bench = pageBench();
    const v = view({ headers: { "cdn-cache-control": "public, max-age=60, stale-while-revalidate=30" } });
    const handler = cacheSite(options(bench, targeted))(v);
    const auth = new Request("https://example.com/", { headers: { authorization: "Bearer alice" } });
    await twice(handler, bench, auth);
    bench.clock.advance(70);
    expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; hit; ttl=-10; detail=revalidating");
  });

  it("falls back to Cache-Control when the targeted field is absent or holds no directive, and ignores targeted fields unless asked", async () => {
    const bench = pageBench();
    const invalid = cacheSite(options(bench, targeted))(view({ headers: { "cdn-cache-control": ", ,", "cache-control": "max-age=5" } }));
    expect((await twice(invalid, bench, "https://example.com/a"))[1].cacheStatus).toBe("edgecache; hit; ttl=5");
    const untargeted = cacheSite(options(bench))(view({ headers: { "cdn-cache-control": "max-age=3600", "cache-control": "private" } }));
    expect((await twice(untargeted, bench, "https://example.com/b"))[1].cacheStatus).toBe("edgecache; fwd=uri-miss; detail=private");
  });

  it("names a bad targetedCacheControl", () => {
    expect(() => cacheSite({ targetedCacheControl: "CDN-Cache-Control" as never })).toThrow('options.targetedCacheControl must be an array of header names, got "CDN-Cache-Control"');
    expect(() => cacheSite({ targetedCacheControl: ["CDN Cache Control"] })).toThrow('options.targetedCacheControl[0] must be a header name, got "CDN Cache Control"');
  });
});

describe("range requests", () => {
  const ranged = (range: string, headers: Record<string, string> = {}, method = "GET") =>
    new Request("https://example.com/", { method, headers: { range, ...headers } });

  it("answers a Range request on a hit with a 206 of the stored page, without the handler", async () => {
    const bench = pageBench();
    const v = view({ headers: { etag: '"v1"' } });
    const handler = cachePage(60, options(bench))(v);
    await twice(handler, bench, "https://example.com/"); // "page 1 for /": 12 bytes
    const head = await read(handler(ranged("bytes=0-3")));
    expect(head.status).toBe(206);
    expect(head.body).toBe("page");
    expect(head.headers.get("content-range")).toBe("bytes 0-3/12");
    expect(head.headers.get("content-length")).toBe("4");
    expect(head.headers.get("etag")).toBe('"v1"');
    expect(head.cacheStatus).toBe("edgecache; hit; ttl=60");
    const tail = await read(handler(ranged("bytes=-3", { "if-range": '"v1"' })));
    expect([tail.status, tail.body]).toEqual([206, "r /"]);
    expect(v.seen).toHaveLength(1);
  });

  it("answers an unsatisfiable range on a hit with a 416, and a failed If-Range or a HEAD with the whole page", async () => {
    const bench = pageBench();
    const v = view({ headers: { etag: '"v1"' } });
    const handler = cachePage(60, options(bench))(v);
    await twice(handler, bench, "https://example.com/");
    const past = await read(handler(ranged("bytes=50-")));
    expect([past.status, past.headers.get("content-range"), past.cacheStatus]).toEqual([416, "bytes */12", "edgecache; hit; ttl=60"]);
    const changed = await read(handler(ranged("bytes=0-3", { "if-range": '"v0"' })));
    expect([changed.status, changed.body]).toEqual([200, "page 1 for /"]);
    const head = await read(handler(ranged("bytes=0-3", {}, "HEAD")));
    expect([head.status, head.body, head.headers.get("content-length")]).toEqual([200, "", "12"]);
    expect(v.seen).toHaveLength(1);
  });

  it("answers preconditions before Range: a matching If-None-Match gets a 304", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(view({ headers: { etag: '"v1"' } }));
    await twice(handler, bench, "https://example.com/");
    expect((await read(handler(ranged("bytes=0-3", { "if-none-match": '"v1"' })))).status).toBe(304);
  });

  it("leaves a Range request that misses to the handler, and stores none of its 206", async () => {
    const bench = pageBench();
    const v = view((request) => (request.headers.has("range") ? { status: 206, headers: { "content-range": "bytes 0-3/12" } } : {}));
    const handler = cachePage(60, options(bench))(v);
    const [partial, again] = await twice(handler, bench, ranged("bytes=0-3"), ranged("bytes=0-3"));
    expect(partial.status).toBe(206);
    expect(again.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=status");
    expect(v.seen.map((request) => request.headers.get("range"))).toEqual(["bytes=0-3", "bytes=0-3"]);
  });
});

describe("where edgecache is stricter than Django (DESIGN.md's table)", () => {
  it("encodes varied header values without collisions: ab+c, a+bc, absent and empty all differ", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench))(varyOnHeaders("X-A", "X-B")(v));
    const variants: Array<Record<string, string>> = [{ "x-a": "ab", "x-b": "c" }, { "x-a": "a", "x-b": "bc" }, { "x-a": "", "x-b": "abc" }, { "x-b": "abc" }];
    const bodies = [];
    for (const headers of variants) {
      bodies.push((await read(handler(new Request("https://example.com/", { headers })))).body);
      await bench.settle();
    }
    expect(new Set(bodies).size).toBe(4);
    expect((await read(handler(new Request("https://example.com/", { headers: { "x-b": "abc" } })))).body).toBe(bodies[3]);
  });

  it("never stores Vary: *", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(varyOnHeaders("*")(view()));
    const [miss, again] = await twice(handler, bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBeNull();
    expect(again.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=vary-star");
  });

  it("varies on any request header, Content-Type included", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(varyOnHeaders("Content-Type")(view()));
    await twice(handler, bench, new Request("https://example.com/", { headers: { "content-type": "text/html" } }));
    const other = await read(handler(new Request("https://example.com/", { headers: { "content-type": "application/json" } })));
    expect(other.cacheStatus).toBe("edgecache; fwd=vary-miss; stored");
  });

  it.each(["private", "Private", "no-store", "NO-CACHE", 'no-cache="Set-Cookie"'])("parses Cache-Control %s as a directive, in any case, and does not store", async (cc) => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(view({ headers: { "cache-control": cc } }));
    const [miss, again] = await twice(handler, bench, "https://example.com/");
    expect(again.cacheStatus).toMatch(/fwd=uri-miss; detail=(private|no-store|no-cache)/);
    expect(miss.headers.get("cache-control")).toBe(cc);
  });

  it("does not store a response that sets a cookie unless allowed", async () => {
    const bench = pageBench();
    const setsCookie = view({ headers: { "set-cookie": "sessionid=secret" } });
    const [miss, again] = await twice(cachePage(60, options(bench))(setsCookie), bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBeNull();
    expect(again.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=set-cookie");
    const [, hit] = await twice(cachePage(60, options(bench, { allowSetCookie: true }))(setsCookie), bench, "https://example.com/allowed");
    expect(hit.cacheStatus).toMatch(/hit/);
  });

  it("with stripSetCookie, stores the page without its cookies and keeps them private to the client that was sent them", async () => {
    const bench = pageBench();
    const setsCookies = view(() => {
      const headers = new Headers({ "cache-control": "public" });
      headers.append("set-cookie", "sessionid=secret; HttpOnly");
      headers.append("set-cookie", "ab=b");
      return { headers };
    });
    const [miss, hit] = await twice(cachePage(60, options(bench, { stripSetCookie: true }))(setsCookies), bench, "https://example.com/");
    expect(miss.headers.getSetCookie()).toEqual(["sessionid=secret; HttpOnly", "ab=b"]);
    expect(miss.headers.get("cache-control")).toBe("max-age=60, private");
    expect(miss.cacheStatus).toBe("edgecache; fwd=uri-miss; stored; detail=set-cookie-stripped");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=60");
    expect(hit.headers.getSetCookie()).toEqual([]);
    expect(hit.headers.get("cache-control")).toBe("public, max-age=60");
    expect(hit.body).toBe(miss.body);
  });

  it("with stripSetCookie, never hands the cookies of the request that filled a page to the requests that waited for it", async () => {
    const bench = pageBench();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handler = cachePage(60, options(bench, { stripSetCookie: true }))(async (request: Request) => {
      await gate;
      return new Response("the same for everyone", { headers: { "set-cookie": `sessionid=${request.headers.get("x-user")}` } });
    });
    const responses = ["alice", "bob", "carol"].map((user) => handler(new Request("https://example.com/", { headers: { "x-user": user } })));
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    const [filled, ...waited] = await Promise.all(responses.map(read));
    expect(filled!.headers.getSetCookie()).toEqual(["sessionid=alice"]);
    for (const response of waited) {
      expect(response.cacheStatus).toBe("edgecache; hit; ttl=60; detail=collapsed");
      expect(response.headers.getSetCookie()).toEqual([]);
    }
  });

  it("with stripSetCookie and sendCacheHeaders: false, sends the handler's headers as they are and still stores no cookie", async () => {
    const bench = pageBench();
    const setsCookie = view({ headers: { "set-cookie": "sessionid=secret", "cache-control": "no-transform" } });
    const [miss, hit] = await twice(cachePage(60, options(bench, { stripSetCookie: true, sendCacheHeaders: false }))(setsCookie), bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBe("no-transform");
    expect(miss.headers.getSetCookie()).toEqual(["sessionid=secret"]);
    expect(hit.cacheStatus).toMatch(/^edgecache; hit/);
    expect(hit.headers.getSetCookie()).toEqual([]);
  });

  it("with stripSetCookie, keeps the cookies private on an answer it does not store", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { stripSetCookie: true, maxBodyBytes: 4 }))(view({ headers: { "set-cookie": "sessionid=secret", "content-length": "20" } }));
    const miss = await read(handler(new Request("https://example.com/")));
    expect(miss.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=too-large");
    expect(miss.headers.get("cache-control")).toBe("max-age=60, private");
  });

  it("bypasses requests with Authorization unless the response is explicitly shareable", async () => {
    const bench = pageBench();
    const auth = { authorization: "Bearer alice" };
    const privateView = view();
    const handler = cachePage(60, options(bench))(privateView);
    const [miss, again] = await twice(handler, bench, new Request("https://example.com/me", { headers: auth }), new Request("https://example.com/me", { headers: auth }));
    expect(miss.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=authorization");
    expect(again.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=authorization");
    for (const cc of ["public", "s-maxage=60", "must-revalidate"]) {
      const shareable = cachePage(60, options(bench))(view({ headers: { "cache-control": cc } }));
      const url = `https://example.com/${cc}`;
      const [, hit] = await twice(shareable, bench, new Request(url, { headers: auth }), new Request(url, { headers: { authorization: "Bearer bob" } }));
      expect(hit.cacheStatus, cc).toMatch(/hit/);
    }
  });

  it("never serves a page stored for an anonymous request to a request with Authorization", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench))(v);
    await twice(handler, bench, "https://example.com/", new Request("https://example.com/", { headers: { authorization: "Bearer x" } }));
    expect(v.seen).toHaveLength(2);
  });

  it("computes Age from the stored time even when the view set its own Expires", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(view({ headers: { expires: "Thu, 01 Jan 1970 00:00:00 GMT" } }));
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(7);
    expect((await read(handler(new Request("https://example.com/")))).headers.get("age")).toBe("7");
  });

  it("costs exactly one backend read per hit on a page that does not vary, two at most when it varies", async () => {
    const bench = pageBench();
    const plain = cachePage(60, options(bench))(view());
    await twice(plain, bench, "https://example.com/plain");
    bench.calls.length = 0;
    await read(plain(new Request("https://example.com/plain")));
    expect(bench.calls).toEqual(["get"]);

    const varying = cachePage(60, options(bench))(varyOnCookie(view()));
    await twice(varying, bench, new Request("https://example.com/v", { headers: { cookie: "a=1" } }));
    // A new isolate, nothing memoised: a new EdgeCache over the same store.
    const fresh = cachePage(60, { ...options(bench), cache: createCache({ backend: bench.backend, onWarning: () => {} }) })(varyOnCookie(view()));
    bench.calls.length = 0;
    expect((await read(fresh(new Request("https://example.com/v", { headers: { cookie: "a=1" } })))).cacheStatus).toMatch(/hit/);
    expect(bench.calls).toEqual(["get", "get"]);
    bench.calls.length = 0;
    await read(fresh(new Request("https://example.com/v", { headers: { cookie: "a=1" } })));
    expect(bench.calls).toEqual(["get"]); // the vary list is memoised
  });
});

describe("Vary: Cookie without killing the hit rate", () => {
  it("keys on the named cookies only, so analytics cookies share the entry and sessions do not", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench, { varyCookies: ["sessionid"] }))(varyOnCookie(v));
    await twice(handler, bench, new Request("https://example.com/", { headers: { cookie: "sessionid=a; _ga=1" } }), new Request("https://example.com/", { headers: { cookie: "_ga=2; sessionid=a" } }));
    expect(v.seen).toHaveLength(1);
    await read(handler(new Request("https://example.com/", { headers: { cookie: "sessionid=b; _ga=1" } })));
    expect(v.seen).toHaveLength(2);
  });
});

describe("Vary: Accept-Encoding without a copy per spelling", () => {
  it("shares a variant between requests accepting the same codings, and keeps refusals apart", async () => {
    const bench = pageBench();
    const v = view({ headers: { vary: "Accept-Encoding" } });
    const handler = cachePage(60, options(bench))(v);
    const asking = (codings: string) => new Request("https://example.com/", { headers: { "accept-encoding": codings } });
    const [, firefox] = await twice(handler, bench, asking("gzip, deflate, br, zstd"), asking("zstd;q=1.0, BR, deflate,gzip"));
    expect([firefox.cacheStatus, v.seen]).toEqual(["edgecache; hit; ttl=60", [expect.any(Request)]]);
    const refusing = await read(handler(asking("gzip;q=0, deflate, br, zstd")));
    expect(refusing.cacheStatus).toBe("edgecache; fwd=vary-miss; stored");
  });
});

describe("streaming misses", () => {
  it("sends the first chunk before the handler has finished the body", async () => {
    const bench = pageBench();
    let finish!: () => void;
    const handler = cachePage(60, options(bench))(async (_request: Request) => new Response(new ReadableStream({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode("first "));
        await new Promise<void>((resolve) => (finish = resolve));
        controller.enqueue(new TextEncoder().encode("second"));
        controller.close();
      },
    })));
    const response = await handler(new Request("https://example.com/"));
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first ");
    finish();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("second");
    expect((await reader.read()).done).toBe(true);
    await bench.settle();
    expect((await read(handler(new Request("https://example.com/")))).body).toBe("first second");
  });

  it("does not store a body over maxBodyBytes, but still sends all of it", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { maxBodyBytes: 10 }))(async () => new Response("x".repeat(11)));
    const [miss, again] = await twice(handler, bench, "https://example.com/");
    expect(miss.body).toBe("x".repeat(11));
    expect(again.cacheStatus).toMatch(/miss/);
  });

  it("caches on the server only with sendCacheHeaders: false, leaving the handler's Cache-Control alone", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { sendCacheHeaders: false, staleWhileRevalidate: 30 }))(
      async (_request: Request) => new Response(`page ${bench.clock.now()}`, { headers: { "Cache-Control": "max-age=5" } }));
    const [miss, hit] = await twice(handler, bench, "https://example.com/");
    for (const answer of [miss, hit]) expect([answer.headers.get("cache-control"), answer.headers.get("expires")]).toEqual(["max-age=5", null]);
    expect([hit.body, hit.cacheStatus]).toEqual([miss.body, "edgecache; hit; ttl=60"]);
    bench.clock.advance(61);
    expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; hit; ttl=-1; detail=revalidating");
  });

  it("passes a body whose Content-Length is over maxBodyBytes straight through, saying why it is not stored", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { maxBodyBytes: 10 }))(async (_request: Request) => new Response("x".repeat(11), { headers: { "Content-Length": "11" } }));
    const miss = await read(handler(new Request("https://example.com/")));
    expect([miss.body, miss.cacheStatus, miss.headers.get("cache-control")]).toEqual(["x".repeat(11), "edgecache; fwd=uri-miss; detail=too-large", "max-age=60"]);
    await bench.settle();
    expect(bench.calls.filter((c) => c === "set")).toEqual([]);
    const head = await read(handler(new Request("https://example.com/", { method: "HEAD" })));
    expect(head.cacheStatus).toBe("edgecache; fwd=uri-miss; stored"); // a HEAD page stores no body
  });

  it("does not store a body the client abandoned", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(async (_request: Request) => new Response(new ReadableStream({
      pull(controller) { controller.enqueue(new Uint8Array(8)); },
    })));
    const response = await handler(new Request("https://example.com/"));
    await response.body!.getReader().cancel();
    await bench.settle();
    expect(bench.calls.filter((c) => c === "set")).toEqual([]);
  });
});

describe("writes and failures", () => {
  it("carries writes through a ctx.waitUntil among the handler's arguments", async () => {
    const bench = pageBench();
    const { waitUntil: _w, ...rest } = options(bench);
    const handler = cachePage(60, rest)(async (_request: Request, _env: unknown, _ctx: unknown) => new Response("ok"));
    const ctx = { waited: [] as Promise<unknown>[], waitUntil(promise: Promise<unknown>) { this.waited.push(promise); } };
    await read(handler(new Request("https://example.com/"), {}, ctx));
    expect(ctx.waited).toHaveLength(1);
    await Promise.all(ctx.waited);
    expect((await read(handler(new Request("https://example.com/"), {}, ctx))).cacheStatus).toMatch(/hit/);
  });

  it("turns backend errors into misses reported to onError", async () => {
    const bench = pageBench((backend) => ({ ...backend, get: () => Promise.reject(new Error("store down")), set: () => Promise.reject(new Error("store down")) }));
    const handler = cachePage(60, options(bench))(view());
    const [a, b] = await twice(handler, bench, "https://example.com/");
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.cacheStatus).toBe("edgecache; fwd=miss; stored");
    expect(bench.errors.map((e) => (e as Error).message)).toEqual(["store down", "store down", "store down", "store down"]);
  });

  it("gives up on a backend slower than timeoutMs", async () => {
    const bench = pageBench((backend) => ({ ...backend, capabilities: { shared: true }, get: () => new Promise(() => {}) }));
    const handler = cachePage(60, options(bench, { timeoutMs: 20 }))(view());
    const started = performance.now();
    expect((await read(handler(new Request("https://example.com/")))).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(String(bench.errors[0])).toMatch(/took longer than 20 ms/);
  });

  it("sets no default time limit on a local store (the Cache API), yet applies an explicit timeoutMs to it", async () => {
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const local = pageBench((backend) => ({ ...backend, capabilities: { shared: true, local: true }, get: async (key) => (await gate, backend.get(key)) }));
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const answer = read(cachePage(60, options(local))(view())(new Request("https://example.com/")));
      await vi.advanceTimersByTimeAsync(5000); // far past the 1000 ms default of stores behind a connection
      release();
      expect((await answer).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
      expect(local.errors).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
    const hanging = pageBench((backend) => ({ ...backend, capabilities: { shared: true, local: true }, get: () => new Promise(() => {}) }));
    expect((await read(cachePage(60, options(hanging, { timeoutMs: 20 }))(view())(new Request("https://example.com/")))).status).toBe(200);
    expect(String(hanging.errors[0])).toMatch(/took longer than 20 ms/);
  });

  it("treats a corrupt or foreign entry as a miss, drops it and reports it", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(view());
    await twice(handler, bench, "https://example.com/");
    const key = (await getCacheKey(new Request("https://example.com/"), { cache: bench.cache }))!;
    await bench.cache.set(key, { kind: "page", status: "200" });
    expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toMatch(/miss/);
    expect(String(bench.errors[0])).toMatch(/not a stored page/);
  });

  it("runs the handler once for concurrent misses on the same page", async () => {
    const bench = pageBench();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const handler = cachePage(60, options(bench))(async (_request: Request) => {
      calls++;
      await gate;
      return new Response("slow page");
    });
    const responses = Array.from({ length: 5 }, () => handler(new Request("https://example.com/slow")));
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    const results = await Promise.all(responses.map(read));
    expect(calls).toBe(1);
    expect(results.map((r) => r.body)).toEqual(Array(5).fill("slow page"));
    expect(results.filter((r) => r.cacheStatus === "edgecache; hit; ttl=60; detail=collapsed")).toHaveLength(4);
  });
});

describe("stale pages", () => {
  it("a HEAD request that finds the GET page stale refreshes the GET page, with a GET request", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 30 }))(v);
    await get(handler, bench, "https://example.com/");
    bench.clock.advance(70);
    const head = await get(handler, bench, "https://example.com/", { method: "HEAD" });
    expect([head.body, head.cacheStatus]).toEqual(["", "edgecache; hit; ttl=-10; detail=revalidating"]);
    expect(v.seen.map((request) => request.method)).toEqual(["GET", "GET"]);
    const refreshed = await read(handler(new Request("https://example.com/")));
    expect([refreshed.body, refreshed.cacheStatus]).toEqual(["page 2 for /", "edgecache; hit; ttl=60"]);
  });

  it("refreshAhead: the first hit past that share of the page's life starts one background refresh and is still a hit", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(100, options(bench, { refreshAhead: 0.8 }))(v);
    await get(handler, bench, "https://example.com/");
    bench.clock.advance(79);
    expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; hit; ttl=21");
    bench.clock.advance(1);
    const ahead = await read(handler(new Request("https://example.com/")));
    expect([ahead.body, ahead.cacheStatus]).toEqual(["page 1 for /", "edgecache; hit; ttl=20; detail=refreshing"]);
    await bench.settle();
    const refreshed = await read(handler(new Request("https://example.com/")));
    expect([refreshed.body, refreshed.cacheStatus, v.seen.length]).toEqual(["page 2 for /", "edgecache; hit; ttl=100", 2]);
    expect(() => cachePage(60, { refreshAhead: 1 })).toThrow("options.refreshAhead must be a fraction of the page's lifetime between 0 and 1 (such as 0.8), got 1");
  });

  it("serves a stale page while one background request refreshes it (stale-while-revalidate)", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(10, options(bench, { staleWhileRevalidate: 30 }))(v);
    const miss = await read(handler(new Request("https://example.com/")));
    await bench.settle();
    expect(miss.headers.get("cache-control")).toBe("max-age=10, stale-while-revalidate=30");
    bench.clock.advance(15);
    const stale = await read(handler(new Request("https://example.com/")));
    expect(stale.body).toBe("page 1 for /");
    expect(stale.cacheStatus).toBe("edgecache; hit; ttl=-5; detail=revalidating");
    await bench.settle();
    const fresh = await read(handler(new Request("https://example.com/")));
    expect(fresh.body).toBe("page 2 for /");
    expect(fresh.cacheStatus).toBe("edgecache; hit; ttl=10");
  });

  it("carries the background refresh and its cache write through the handler's ctx.waitUntil", async () => {
    const bench = pageBench();
    const { waitUntil: _w, ...rest } = options(bench, { staleWhileRevalidate: 30 });
    let version = 0;
    const handler = cachePage(10, rest)(async (_request: Request, _env: unknown, _ctx: unknown) => new Response(`v${++version}`));
    const waited: Promise<unknown>[] = [];
    let scheduled = 0;
    const ctx = { waitUntil: (promise: Promise<unknown>) => void (scheduled++, waited.push(promise)) };
    const settle = async () => { while (waited.length) await Promise.all(waited.splice(0)); };
    await read(handler(new Request("https://example.com/"), {}, ctx));
    await settle();
    bench.clock.advance(15);
    scheduled = 0;
    expect((await read(handler(new Request("https://example.com/"), {}, ctx))).body).toBe("v1");
    await settle();
    expect(scheduled).toBe(2); // the refresh, and the write of its result
    expect((await read(handler(new Request("https://example.com/"), {}, ctx))).body).toBe("v2");
  });

  it("serves a stale page when the handler fails (stale-if-error)", async () => {
    const bench = pageBench();
    let failing = false;
    const handler = cachePage(10, options(bench))(async (_request: Request) => {
      if (failing) throw new Error("upstream down");
      return new Response("good page", { headers: { "cache-control": "stale-if-error=60" } });
    });
    await twice(handler, bench, "https://example.com/");
    failing = true;
    bench.clock.advance(20);
    const rescued = await read(handler(new Request("https://example.com/")));
    expect(rescued.body).toBe("good page");
    expect(rescued.cacheStatus).toBe("edgecache; hit; ttl=-10; detail=stale-if-error");
    bench.clock.advance(60);
    await expect(handler(new Request("https://example.com/"))).rejects.toThrow("upstream down");
  });

  it.each([
    ["throws", () => Promise.reject(new Error("upstream down"))],
    ["answers 503", () => Promise.resolve(new Response("down", { status: 503 }))],
  ])("backs off from a handler that %s: the stale page stands in without calling it for errorBackoffMs", async (_label, fail) => {
    const bench = pageBench();
    let state: "up" | "down" = "up";
    let calls = 0;
    const handler = cachePage(10, options(bench, { staleIfError: 600, errorBackoffMs: 2000 }))(async (_request: Request) => {
      calls++;
      return state === "up" ? new Response(`page ${calls}`) : fail();
    });
    await twice(handler, bench, "https://example.com/");
    state = "down";
    bench.clock.advance(20);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await read(handler(new Request("https://example.com/")))).cacheStatus);
    expect(statuses).toEqual(Array(3).fill("edgecache; hit; ttl=-10; detail=stale-if-error"));
    expect(calls).toBe(2); // the fill, then one failure: the next two requests did not call it
    bench.clock.advance(2);
    expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; hit; ttl=-12; detail=stale-if-error");
    expect(calls).toBe(3); // the backoff was over: tried again, failed again, backing off anew
    state = "up";
    bench.clock.advance(2);
    const fresh = await read(handler(new Request("https://example.com/")));
    expect([fresh.body, fresh.cacheStatus]).toEqual(["page 4", "edgecache; fwd=uri-miss; stored"]);
  });

  it("serves the stale page to the requests that waited for a render that failed, without calling the handler for each", async () => {
    const bench = pageBench();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handler = cachePage(10, options(bench, { staleIfError: 600 }))(async (_request: Request) => {
      if (++calls === 1) return new Response("page");
      await gate;
      return new Response("down", { status: 502 });
    });
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(20);
    const waiting = Array.from({ length: 3 }, () => handler(new Request("https://example.com/")));
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    const answers = await Promise.all(waiting.map(read));
    expect(answers.map((answer) => [answer.body, answer.cacheStatus])).toEqual(Array(3).fill(["page", "edgecache; hit; ttl=-10; detail=stale-if-error"]));
    expect(calls).toBe(2);
  });

  it("with errorBackoffMs: 0, calls a failing handler on every request", async () => {
    const bench = pageBench();
    let calls = 0;
    const handler = cachePage(10, options(bench, { staleIfError: 600, errorBackoffMs: 0 }))(async (_request: Request) =>
      ++calls === 1 ? new Response("page") : new Response("down", { status: 500 }));
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(20);
    for (let i = 0; i < 3; i++) await read(handler(new Request("https://example.com/")));
    expect(calls).toBe(4);
  });

  it("backs off from starting refreshes of a stale page after one failed", async () => {
    const bench = pageBench();
    let calls = 0;
    const handler = cachePage(10, options(bench, { staleWhileRevalidate: 600, errorBackoffMs: 3000 }))(async (_request: Request) => {
      if (++calls > 1) throw new Error("upstream down");
      return new Response("page");
    });
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(20);
    for (let i = 0; i < 3; i++) {
      expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; hit; ttl=-10; detail=revalidating");
      await bench.settle();
    }
    expect(calls).toBe(2);
    expect(bench.errors.map(String)).toEqual(["Error: upstream down"]);
    bench.clock.advance(3);
    await read(handler(new Request("https://example.com/")));
    await bench.settle();
    expect(calls).toBe(3);
  });

  it("names a bad errorBackoffMs", () => {
    expect(() => cachePage(60, { errorBackoffMs: -1 })).toThrow(/options.errorBackoffMs/);
  });
});

describe("onOutcome", () => {
  it("hears how each request was answered, once, even without Cache-Status, and a throwing hook changes nothing", async () => {
    const bench = pageBench();
    const heard: unknown[] = [];
    const handler = cachePage(60, options(bench, {
      cacheStatus: false,
      onOutcome: (outcome, request) => {
        heard.push([request.method, outcome]);
        throw new Error("metrics down");
      },
    }))(view((request): ResponseInit => ({ headers: request.url.endsWith("/login") ? { "set-cookie": "a=1", etag: '"x"' } : { etag: '"x"' } })));
    await twice(handler, bench, "https://example.com/");
    await read(handler(new Request("https://example.com/", { headers: { "if-none-match": '"x"' } })));
    await read(handler(new Request("https://example.com/", { method: "POST" })));
    const login = await read(handler(new Request("https://example.com/login")));
    expect(login.status).toBe(200);
    expect(heard).toEqual([
      ["GET", { hit: false, fwd: "uri-miss", stored: true }],
      ["GET", { hit: true, ttl: 60, detail: undefined }],
      ["GET", { hit: true, ttl: 60, detail: undefined }], // answered with a 304, reported once
      ["POST", { hit: false, fwd: "method" }],
      ["GET", { hit: false, fwd: "uri-miss", detail: "set-cookie" }],
    ]);
  });

  it("does not count a background refresh as a request", async () => {
    const bench = pageBench();
    const heard: string[] = [];
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 30, onOutcome: (outcome) => heard.push(outcome.hit ? `hit ${outcome.detail ?? ""}` : `fwd=${outcome.fwd}`) }))(view());
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(70);
    await read(handler(new Request("https://example.com/")));
    await bench.settle();
    expect(heard).toEqual(["fwd=uri-miss", "hit ", "hit revalidating"]);
  });
});

describe("Cache-Status options and arguments", () => {
  it("renames or removes the header", async () => {
    const bench = pageBench();
    const renamed = await read(cachePage(60, options(bench, { cacheStatus: "X-Cache", cacheName: "edge" }))(view())(new Request("https://example.com/a")));
    expect(renamed.headers.get("x-cache")).toBe("edge; fwd=uri-miss; stored");
    const off = await read(cachePage(60, options(bench, { cacheStatus: false }))(view())(new Request("https://example.com/b")));
    expect(off.cacheStatus).toBeNull();
  });

  it("rejects bad arguments when the wrapper is built, naming them", () => {
    expect(() => cachePage("60" as never)).toThrow(/timeout must be a finite number/);
    expect(() => cachePage(60, { maxBodyBytes: -1 })).toThrow(/options.maxBodyBytes/);
    expect(() => cachePage(60, { cacheStatus: "bad header" })).toThrow(/options.cacheStatus/);
    expect(() => cachePage(60, { cache: 5 as never })).toThrow(/options.cache must be/);
    expect(() => cachePage(60, { query: { ignore: [5 as never] } })).toThrow(/options.query.ignore/);
    expect(() => cacheSite({ seconds: NaN })).toThrow(/options.seconds/);
    expect(() => cachePage(60, { allowSetCookie: "yes" as never })).toThrow('options.allowSetCookie must be true or false, got "yes"');
    expect(() => cachePage(60, { stripSetCookie: 1 as never })).toThrow("options.stripSetCookie must be true or false, got 1");
    expect(() => cachePage(60, { allowSetCookie: true, stripSetCookie: true })).toThrow("options.allowSetCookie and options.stripSetCookie cannot both be true");
    expect(() => cachePage(60, { sendCacheHeaders: 0 as never })).toThrow("options.sendCacheHeaders must be true or false, got 0");
  });

  it("composes with the other wrappers, outermost first", async () => {
    const bench = pageBench();
    const handler = compose(cachePage(60, options(bench)), varyOnCookie, cacheControl({ public: true }))(view());
    const miss = await read(handler(new Request("https://example.com/")));
    expect(miss.headers.get("vary")).toBe("Cookie");
    expect(miss.headers.get("cache-control")).toBe("public, max-age=60");
  });
});

describe("getCacheKey and learnCacheKey", () => {
  afterEach(() => configureCaches({}));

  it("learns the vary list under the URL's key and returns the page key; getCacheKey finds it again", async () => {
    const cache = createCache();
    const request = new Request("https://example.com/x", { headers: { cookie: "a=1" } });
    const response = new Response("hi", { headers: { vary: "Cookie" } });
    expect(await getCacheKey(request, { cache })).toBeUndefined();
    const key = await learnCacheKey(request, response, { cache, timeout: 60 });
    expect(key).toMatch(/^page\.GET\.0:\.https:\/\/example\.com\/x\.v\.[0-9a-f]{64}$/);
    expect(await getCacheKey(request, { cache })).toBe(key);
    expect(await getCacheKey(new Request("https://example.com/x", { headers: { cookie: "a=2" } }), { cache })).not.toBe(key);
  });

  it("keeps long URLs within memcached's key limit by hashing them, variant keys included", async () => {
    const cache = createCache();
    const request = new Request(`https://example.com/${"long/".repeat(60)}`);
    const key = await learnCacheKey(request, new Response("hi"), { cache, keyPrefix: "p" });
    expect(key).toMatch(/^page\.GET\.#[0-9a-f]{64}$/);
    for (let length = 100; length < 200; length++) {
      const url = `https://example.com/${"x".repeat(length)}`;
      const variant = await learnCacheKey(new Request(url), new Response("hi", { headers: { vary: "Cookie" } }), { cache });
      expect(cache.makeKey(variant).length, url).toBeLessThanOrEqual(230);
    }
  });
});
