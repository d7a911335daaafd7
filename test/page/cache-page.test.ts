/** cachePage and cacheSite: Django's fetch/update behaviour, which timeout wins, what is stored, and where edgecache is stricter than Django. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCache } from "../../src/cache.ts";
import { cacheControl, varyOnCookie, varyOnHeaders } from "../../src/wrappers.ts";
import { cachePage, cacheSite } from "../../src/page/cache-page.ts";
import { getCacheKey, learnCacheKey } from "../../src/page/keys.ts";
import { configureCaches } from "../../src/registry.ts";
import { get, options, pageBench, read, twice, view } from "./setup.ts";
import { memory } from "../../adapters/memory.ts";
import { streamingMemory } from "../fixtures/streaming-memory.ts";
import { type Backend, identityNamed } from "../../src/backend.ts";

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
    // An empty query is none, as apps read it (and Django keys it): one page for /p and /p?.
    await get(handler, bench, "https://example.com/p");
    expect((await get(handler, bench, "https://example.com/p?")).cacheStatus).toMatch(/hit/);
  });

  it("normalises the query when asked: sorted, with utm_* dropped", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench, { query: { sort: true, ignore: [/^utm_/, "fbclid"] } }))(v);
    const [, hit] = await twice(handler, bench, "https://example.com/p?b=2&a=1&utm_source=x", "https://example.com/p?a=1&fbclid=9&b=2");
    expect(hit.cacheStatus).toMatch(/hit/);
    expect(v.seen).toHaveLength(1);
    // Values are kept as sent: é and è from a Latin-1 form are two pages, though both decode to U+FFFD.
    const [e, f] = await twice(handler, bench, "https://example.com/p?q=%E9", "https://example.com/p?q=%E8");
    expect([e.body, f.body]).toEqual(["page 2 for /p?q=%E9", "page 3 for /p?q=%E8"]);
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
  it("refuses an option name it does not know, naming the one meant, so a slip does not go unnoticed", () => {
    expect(() => cachePage(60, { staleWhileRevalidat: 5 } as never)).toThrow(new TypeError("options.staleWhileRevalidat is not an option of page caching (did you mean staleWhileRevalidate?)"));
    expect(() => cachePage(60, { seconds: 30 } as never)).toThrow(new TypeError("options.seconds is not an option of page caching"));
    expect(() => cacheSite({ secondz: 30 } as never)).toThrow("options.secondz is not an option of cacheSite (did you mean seconds?)");
    expect(() => createCache({ timout: 60 } as never)).toThrow(new TypeError("options.timout is not an option of createCache (did you mean timeout?)"));
  });

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

  it("stores nothing whose Cache-Control leaves a quote open: a private in a field joined after it would be hidden", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(async (_request: Request) => {
      const headers = new Headers({ "cache-control": 'max-age=60, ext="x' });
      headers.append("cache-control", "private"); // an auth layer's, for a signed-in visitor
      return new Response("account", { headers });
    });
    expect((await read(handler(new Request("https://example.com/account")))).cacheStatus).toBe("edgecache; fwd=uri-miss; detail=malformed-cache-control");
    // Whatever the later field holds: quotes there pair with the open one.
    const quoted = cachePage(60, options(bench))(async (_request: Request) => {
      const headers = new Headers({ "cache-control": 'max-age=60, ext="x' });
      headers.append("cache-control", 'private, no-cache="Set-Cookie"');
      return new Response("account", { headers });
    });
    expect((await read(quoted(new Request("https://example.com/account2")))).cacheStatus).toBe("edgecache; fwd=uri-miss; detail=malformed-cache-control");
  });

  it("stores nothing whose Cache-Control holds a member that is no directive, and sends it on as it came: a private or no-store may hide in it", async () => {
    for (const value of ["no-store; no-cache", "private; max-age=0", "max-age=60;private", "public private"]) {
      for (const wrap of [cachePage(60, options(pageBench())), cacheSite(options(pageBench()))]) {
        let renders = 0;
        const handler = wrap(async (request: Request) => new Response(`account of ${request.headers.get("cookie")} (${++renders})`, { headers: { "cache-control": value } }));
        const alice = await read(handler(new Request("https://example.com/account", { headers: { cookie: "sessionid=alice" } })));
        expect([alice.cacheStatus, alice.headers.get("cache-control")]).toEqual(["edgecache; fwd=uri-miss; detail=malformed-cache-control", value]);
        const bob = await read(handler(new Request("https://example.com/account", { headers: { cookie: "sessionid=bob" } })));
        expect(bob.body).toBe("account of sessionid=bob (2)");
      }
    }
    // In a CDN-Cache-Control field of its own too, which then governs (targetedCacheControl).
    const bench = pageBench();
    const targeted = cachePage(60, options(bench, { targetedCacheControl: ["cdn-cache-control"] }))(async (_request: Request) =>
      new Response("account", { headers: { "cdn-cache-control": "no-store; max-age=0", "cache-control": "public, max-age=600" } }));
    expect((await read(targeted(new Request("https://example.com/account")))).cacheStatus).toBe("edgecache; fwd=uri-miss; detail=malformed-cache-control");
  });

  it("refuses to store 206, 412 and 416: one client's Range or precondition would answer every plain GET", () => {
    expect(() => cachePage(60, { cacheableStatuses: [200, 206] })).toThrow("options.cacheableStatuses[1] cannot hold 206: a partial response answers one Range request");
    expect(() => cacheSite({ statusTimeouts: { 206: 60 } })).toThrow("options.statusTimeouts cannot hold 206");
    expect(() => cachePage(60, { cacheableStatuses: [412] })).toThrow("options.cacheableStatuses[0] cannot hold 412: a failed precondition answers one request's If-Match");
    expect(() => cacheSite({ statusTimeouts: { 404: 30, 416: 30 } })).toThrow("options.statusTimeouts cannot hold 416: an unsatisfiable range");
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

  it("answers HEAD from a stored HEAD page with the handler's Content-Length, never its empty body's", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(async () => new Response(null, { headers: { "content-length": "11" } }));
    const [miss, hit] = await twice(handler, bench, new Request("https://example.com/h", { method: "HEAD" }));
    expect([miss.headers.get("content-length"), hit.headers.get("content-length"), hit.cacheStatus]).toEqual(["11", "11", "edgecache; hit; ttl=60"]);
    // Without one from the handler, a hit sends none rather than a wrong 0.
    const unsized = cachePage(60, options(bench))(view());
    const [, bare] = await twice(unsized, bench, new Request("https://example.com/bare", { method: "HEAD" }));
    expect([bare.headers.get("content-length"), bare.cacheStatus]).toEqual([null, "edgecache; hit; ttl=60"]);
  });

  it("answers HEAD from a stored 204 without a Content-Length, which a 204 never has (RFC 9110 §8.6)", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { cacheableStatuses: [200, 204] }))(async (_request: Request) => new Response(null, { status: 204 }));
    await twice(handler, bench, "https://example.com/none");
    const head = await read(handler(new Request("https://example.com/none", { method: "HEAD" })));
    expect([head.status, head.cacheStatus, head.headers.get("content-length")]).toEqual([204, "edgecache; hit; ttl=60", null]);
  });

  it("answers If-None-Match and If-Modified-Since on hits with a 304, without the handler", async () => {
    const bench = pageBench();
    const v = view({ headers: { etag: '"v1"', "last-modified": "Sun, 17 Jul 2016 10:00:00 GMT", "content-language": "en" } });
    const handler = cachePage(60, options(bench))(v);
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(40);
    const byEtag = await read(handler(new Request("https://example.com/", { headers: { "if-none-match": 'W/"v1"' } })));
    const byDate = await read(handler(new Request("https://example.com/", { headers: { "if-modified-since": "Sun, 17 Jul 2016 10:00:00 GMT" } })));
    for (const response of [byEtag, byDate]) {
      expect(response.status).toBe(304);
      expect(response.body).toBe("");
      expect(response.headers.get("etag")).toBe('"v1"');
      expect(response.headers.get("content-language")).toBeNull();
      expect(response.cacheStatus).toMatch(/hit/);
      // Its age, as the 200 would have said: a client's copy is no fresher for being revalidated here.
      expect(response.headers.get("age")).toBe("40");
    }
    expect(v.seen).toHaveLength(1);
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
    // A member that names no header says as little as *: keyed without it, the page could reach anyone.
    const unknown = cachePage(60, options(bench))(view({ headers: { vary: 'Accept-Encoding, "Cookie"' } }));
    const [, unkeyed] = await twice(unknown, bench, "https://example.com/quoted");
    expect(unkeyed.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=vary-star");
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

  it("with allowSetCookie, still does not store a page that varies on Cookie and sets one for a request that had none: a new visitor's session (Django's rule)", async () => {
    const bench = pageBench();
    let sessions = 0;
    const welcome = async (request: Request) => {
      const headers = new Headers({ vary: "Cookie" });
      if (!request.headers.get("cookie")?.includes("sessionid=")) headers.set("set-cookie", `sessionid=visitor-${++sessions}`);
      return new Response("welcome", { headers });
    };
    const handler = cachePage(60, options(bench, { allowSetCookie: true }))(welcome);
    const first = await get(handler, bench, "https://example.com/");
    const second = await get(handler, bench, "https://example.com/");
    expect([first.cacheStatus, second.headers.get("set-cookie")]).toEqual(["edgecache; fwd=uri-miss; detail=set-cookie", "sessionid=visitor-2"]);
    // With varyCookies, a request without those cookies has no session, whatever else it sends.
    const keyed = cachePage(60, options(bench, { allowSetCookie: true, varyCookies: ["sessionid"] }))(welcome);
    const analyticsOnly = { headers: { cookie: "_ga=GA1.2.3" } };
    expect((await get(keyed, bench, "https://example.com/keyed", analyticsOnly)).cacheStatus).toBe("edgecache; fwd=uri-miss; detail=set-cookie");
    expect((await get(keyed, bench, "https://example.com/keyed", analyticsOnly)).cacheStatus).toBe("edgecache; fwd=uri-miss; detail=set-cookie");
    // Without Vary: Cookie, or for a request that had one, allowSetCookie stores it as before.
    const prefs = cachePage(60, options(bench, { allowSetCookie: true }))(async () => new Response("prefs", { headers: { vary: "Cookie", "set-cookie": "theme=dark" } }));
    const withCookie = { headers: { cookie: "sessionid=visitor-1" } };
    await get(prefs, bench, "https://example.com/prefs", withCookie);
    expect((await get(prefs, bench, "https://example.com/prefs", withCookie)).cacheStatus).toMatch(/^edgecache; hit/);
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

  it("takes over a fill that outlasts collapseMs (its request may have ended), so the requests after wait for the new one", async () => {
    const bench = pageBench();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      let calls = 0;
      let answer!: () => void;
      const handler = cachePage(60, options(bench, { collapseMs: 1000 }))((request: Request) => {
        calls++;
        if (calls === 1) return new Promise<Response>(() => {}); // a client that went away: its request ends, and its render with it
        return new Promise<Response>((resolve) => (answer = () => resolve(new Response(`page for ${new URL(request.url).pathname}`))));
      });
      void handler(new Request("https://example.com/"));
      const second = handler(new Request("https://example.com/"));
      await vi.advanceTimersByTimeAsync(1000);
      expect(calls).toBe(2);
      const third = handler(new Request("https://example.com/")); // waits for the second's fill, not the lost one
      await vi.advanceTimersByTimeAsync(0);
      answer();
      expect((await read(second)).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
      expect((await read(third)).cacheStatus).toBe("edgecache; hit; ttl=60; detail=collapsed");
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("lets the first request to find a fill overdue take it over at once, and the requests with it wait for that one", async () => {
    const bench = pageBench();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      let calls = 0;
      let answer!: () => void;
      const handler = cachePage(60, options(bench, { collapseMs: 1000 }))((_request: Request) => {
        calls++;
        if (calls === 1) return new Promise<Response>(() => {}); // its request ended, and its render with it
        return new Promise<Response>((resolve) => (answer = () => resolve(new Response("the page"))));
      });
      void handler(new Request("https://example.com/"));
      await vi.advanceTimersByTimeAsync(1500); // overdue before these come
      vi.spyOn(performance, "now").mockReturnValue(performance.now() + 1500);
      const later = Array.from({ length: 5 }, () => read(handler(new Request("https://example.com/"))));
      for (let ms = 0; ms < 20 && calls < 2; ms++) await vi.advanceTimersByTimeAsync(1);
      answer();
      const statuses = (await Promise.all(later)).map((response) => response.cacheStatus);
      expect(statuses).toEqual(["edgecache; fwd=uri-miss; stored", ...Array(4).fill("edgecache; hit; ttl=60; detail=collapsed")]);
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
      vi.restoreAllMocks();
    }
  });

  it("leaves no fill behind when the page it took over turns out to vary and is found fresh: later misses of it wait for nothing", async () => {
    const bench = pageBench();
    const page = (request: Request) => new Response(`page for ${request.headers.get("x-a")}`, { headers: { vary: "X-A" } });
    let first = true;
    const wedged = cachePage(60, options(bench, { collapseMs: 300 }))((request: Request) => {
      if (!first) return page(request);
      first = false;
      return new Promise<Response>(() => {}); // its request ended, and its render with it
    });
    const other = cachePage(60, options(bench))(page); // another route over the same pages
    const request = () => new Request("https://example.com/p", { headers: { "x-a": "1" } });
    void wedged(request());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const waiting = read(wedged(request())); // waits for the wedged fill of the base key
    await read(other(request())); // stores the vary index and the variant meanwhile
    await bench.settle();
    expect((await waiting).cacheStatus).toBe("edgecache; hit; ttl=60; detail=collapsed"); // found under the variant key
    await bench.backend.delete(bench.cache.makeKey((await getCacheKey(request(), { cache: bench.cache }))!)); // the variant goes (evicted)
    const started = performance.now();
    expect((await read(wedged(request()))).cacheStatus).toBe("edgecache; fwd=vary-miss; stored");
    expect(performance.now() - started).toBeLessThan(150); // not the 300 ms (collapseMs) of a fill left behind
  });

  it("collapses the first misses of a page that turns out to vary: each variant's waiters wait for one render of it", async () => {
    const bench = pageBench();
    const renders: Record<string, number> = {};
    const handler = cachePage(60, options(bench))(async (request: Request) => {
      const session = request.headers.get("cookie")!;
      renders[session] = (renders[session] ?? 0) + 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return new Response(`page for ${session}`, { headers: { vary: "Cookie" } });
    });
    const asks = ["sid=a", "sid=b", "sid=b", "sid=b", "sid=b", "sid=b"].map((cookie) => read(handler(new Request("https://example.com/me", { headers: { cookie } }))));
    const answers = await Promise.all(asks);
    expect(answers.map((answer) => answer.body)).toEqual(["page for sid=a", ...Array(5).fill("page for sid=b")]);
    expect(renders).toEqual({ "sid=a": 1, "sid=b": 1 });
  });

  it("has a request that took over an overdue first render, and found the page varies, wait for its variant's render under way rather than render it too", async () => {
    const store = memory();
    const [here, elsewhere]: Backend[] = [{ ...store, identity: identityNamed("this process") }, { ...store, identity: identityNamed("another process") }];
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const renders: string[] = [];
    const aProcess = (backend: Backend, name: string, firstMs: number) => {
      let first = true;
      return cachePage(60, { cache: createCache({ backend }), collapseMs: 100 })(async (request: Request) => {
        const session = request.headers.get("cookie")!;
        renders.push(`${name} ${session}`);
        await sleep(first ? ((first = false), firstMs) : 80);
        return new Response(`page for ${session}`, { headers: { vary: "Cookie" } });
      });
    };
    const [mine, theirs] = [aProcess(here!, "here", 400), aProcess(elsewhere!, "elsewhere", 20)];
    const ask = async (handler: typeof mine, cookie: string, at: number) => {
      await sleep(at);
      return (await handler(new Request("https://example.com/me", { headers: { cookie } }))).text();
    };
    const bodies = await Promise.all([
      ask(mine, "sid=p", 0), // this process's first render of the URL: slower than collapseMs
      ask(theirs, "sid=q", 0), // the other process stores the URL's vary index meanwhile
      ask(mine, "sid=c", 5), // waits on the first render, takes it over once overdue
      ask(mine, "sid=c", 50), // finds the index, and renders variant c
    ]);
    expect(bodies).toEqual(["page for sid=p", "page for sid=q", "page for sid=c", "page for sid=c"]);
    expect(renders.filter((render) => render === "here sid=c")).toHaveLength(1);
  });

  it("collapses the misses of caches made per request over one store (a Worker's binding): they share what is under way", async () => {
    const bench = pageBench();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handler = cachePage(60, { ...options(bench), cache: () => createCache({ backend: bench.backend }) })(async (_request: Request) => {
      calls++;
      await gate;
      return new Response("the page");
    });
    const answers = Array.from({ length: 5 }, () => read(handler(new Request("https://example.com/"))));
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    expect((await Promise.all(answers)).map((answer) => answer.body)).toEqual(Array(5).fill("the page"));
    expect(calls).toBe(1);
  });

  it("with stripSetCookie and sendCacheHeaders: false, adds no lifetime but still marks the cookies private, and stores none", async () => {
    const bench = pageBench();
    const setsCookie = view({ headers: { "set-cookie": "sessionid=secret", "cache-control": "public, no-transform" } });
    const [miss, hit] = await twice(cachePage(60, options(bench, { stripSetCookie: true, sendCacheHeaders: false }))(setsCookie), bench, "https://example.com/");
    expect(miss.headers.get("cache-control")).toBe("no-transform, private");
    expect(hit.headers.get("cache-control")).toBe("public, no-transform");
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

  it("shares a response to a request with Authorization only while its own lifetime says it is fresh", async () => {
    const bench = pageBench();
    const alice = { authorization: "Bearer alice" };
    const bob = { authorization: "Bearer bob" };
    // Shareable by s-maxage or must-revalidate, yet stale at once: other users must not get it.
    for (const cc of ["max-age=0, must-revalidate", "s-maxage=0", "max-age=600, s-maxage=0"]) {
      const v = view({ headers: { "cache-control": cc } });
      for (const handler of [cachePage(60, options(bench))(v), cacheSite(options(bench))(v)]) {
        const url = `https://example.com/${encodeURIComponent(cc)}`;
        const [miss, again] = await twice(handler, bench, new Request(url, { headers: alice }), new Request(url, { headers: bob }));
        expect(miss.cacheStatus, cc).toMatch(/detail=(authorization|max-age-zero)/);
        expect(again.cacheStatus, cc).not.toMatch(/hit/);
      }
    }
    // Kept for its own lifetime, not cachePage's longer timeout, and never served stale.
    const v = view({ headers: { "cache-control": "max-age=10, must-revalidate" } });
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 300 }))(v);
    const [, hit] = await twice(handler, bench, new Request("https://example.com/ten", { headers: alice }), new Request("https://example.com/ten", { headers: bob }));
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=10");
    bench.clock.advance(10);
    const later = await read(handler(new Request("https://example.com/ten", { headers: bob })));
    expect(later.cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    expect(later.headers.get("cache-control")).not.toMatch(/stale-while-revalidate/);
  });

  it("serves no page stale whose response said must-revalidate or proxy-revalidate", async () => {
    const bench = pageBench();
    for (const cc of ["must-revalidate", "proxy-revalidate"]) {
      const v = view({ headers: { "cache-control": cc } });
      const handler = cachePage(10, options(bench, { staleWhileRevalidate: 300, staleIfError: 300 }))(v);
      const url = `https://example.com/${cc}`;
      await twice(handler, bench, url);
      bench.clock.advance(11);
      expect((await read(handler(new Request(url)))).cacheStatus, cc).toBe("edgecache; fwd=uri-miss; stored");
      expect(v.seen, cc).toHaveLength(2);
    }
  });

  it("serves a page with s-maxage stale only as far as its own stale directives allow, whatever the options say", async () => {
    const bench = pageBench();
    const stale = { staleWhileRevalidate: 300, staleIfError: 300 };
    const strict = view({ headers: { "cache-control": "s-maxage=10" } });
    const strictPage = cachePage(10, options(bench, stale))(strict);
    await twice(strictPage, bench, "https://example.com/strict");
    bench.clock.advance(20);
    expect((await read(strictPage(new Request("https://example.com/strict")))).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    const lenient = cachePage(10, options(bench, stale))(view({ headers: { "cache-control": "s-maxage=10, stale-while-revalidate=30" } }));
    await twice(lenient, bench, "https://example.com/lenient");
    bench.clock.advance(20);
    expect((await read(lenient(new Request("https://example.com/lenient")))).cacheStatus).toBe("edgecache; hit; ttl=-10; detail=revalidating");
  });

  it("stores no Cache-Status a page cache inside it added: a hit tells of itself alone", async () => {
    const bench = pageBench();
    const inner = cachePage(60, options(bench, { keyPrefix: "inner" }))(view());
    const outer = cacheSite(options(bench, { keyPrefix: "outer" }))(inner);
    const [miss, hit] = await twice(outer, bench, "https://example.com/nested");
    expect(miss.cacheStatus).toBe("edgecache; fwd=uri-miss; stored, edgecache; fwd=uri-miss; stored");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it("keeps a page under cacheSite for what its lifetime has left, less the Age it arrived with from a cache upstream", async () => {
    const bench = pageBench();
    const aged = cacheSite(options(bench))(view({ headers: { "cache-control": "max-age=600", age: "590" } }));
    const [, hit] = await twice(aged, bench, "https://example.com/aged");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=10");
    // Its Age goes on from the one it arrived with (RFC 9111 §4.2.3), so a cache or browser
    // below keeps it no longer than the origin allowed either.
    expect(hit.headers.get("age")).toBe("590");
    bench.clock.advance(3);
    const later = await read(aged(new Request("https://example.com/aged")));
    expect([later.headers.get("age"), later.cacheStatus]).toEqual(["593", "edgecache; hit; ttl=7"]);
    // Its max-age still counts from when it was made: max-age less Age is the 7 s left.
    expect([later.headers.get("cache-control"), later.headers.get("expires")]).toEqual(["max-age=600", new Date(bench.clock.now() + 7000).toUTCString()]);
    const spent = cacheSite(options(bench))(view({ headers: { "cache-control": "max-age=60", age: "75" } }));
    expect((await twice(spent, bench, "https://example.com/spent"))[1].cacheStatus).toBe("edgecache; fwd=uri-miss; detail=max-age-zero");
  });

  it("gives a cachePage hit the Age its response arrived with, plus its time in the cache", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(view({ headers: { age: "30" } }));
    const [miss, hit] = await twice(handler, bench, "https://example.com/");
    expect([miss.headers.get("age"), hit.headers.get("age"), hit.cacheStatus]).toEqual(["30", "30", "edgecache; hit; ttl=60"]);
    // max-age counts from when it was made upstream, so max-age less Age is the timeout, here as below.
    expect([hit.headers.get("cache-control"), hit.headers.get("expires")]).toEqual(["max-age=90", new Date(bench.clock.now() + 60_000).toUTCString()]);
    // A timeout of 0 keeps max-age=0: a page not fresh here is not fresh below either.
    const none = await read(cachePage(0, options(bench))(view({ headers: { age: "30" } }))(new Request("https://example.com/none")));
    expect(none.headers.get("cache-control")).toBe("max-age=0");
  });

  it("keeps a page under cacheSite for its s-maxage, the shared caches' lifetime, over its max-age", async () => {
    const bench = pageBench();
    const handler = cacheSite(options(bench))(view({ headers: { "cache-control": "max-age=60, s-maxage=600" } }));
    const [, hit] = await twice(handler, bench, "https://example.com/");
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=600");
  });

  it("judges and keys a response by the request as it arrived, whatever the handler does to its headers", async () => {
    const bench = pageBench();
    // A proxy that drops the credentials before forwarding, and answers with the user's own data.
    const proxy = cachePage(60, options(bench))(async (request: Request) => {
      const user = request.headers.get("authorization") ?? request.headers.get("cookie") ?? "nobody";
      request.headers.delete("authorization");
      request.headers.delete("cookie");
      return new Response(`inbox of ${user}`, { headers: { vary: "Cookie" } });
    });
    const alice = await read(proxy(new Request("https://example.com/inbox", { headers: { authorization: "Bearer alice" } })));
    await bench.settle();
    expect(alice.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=authorization");
    const carol = await read(proxy(new Request("https://example.com/inbox", { headers: { cookie: "session=carol" } })));
    await bench.settle();
    expect(carol.cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    const anonymous = await read(proxy(new Request("https://example.com/inbox")));
    expect(anonymous.body).toBe("inbox of nobody");
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
    // A new isolate, nothing memoised: a cache over the same store, which an identity of its own hides from this isolate's memos.
    const fresh = cachePage(60, { ...options(bench), cache: createCache({ backend: { ...bench.backend, identity: {} }, onWarning: () => {} }) })(varyOnCookie(view()));
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
    // A name written with spaces around it is the same cookie to the app, and so to the key.
    await read(handler(new Request("https://example.com/", { headers: { cookie: "sessionid =e; _ga=1" } })));
    expect(v.seen).toHaveLength(3);
    expect((await read(handler(new Request("https://example.com/", { headers: { cookie: "_ga=3" } })))).body).toBe("page 4 for /");
    v.seen.length = 2;
    // Two cookies of one name: apps read the first, so their order tells visitors apart.
    await twice(handler, bench, new Request("https://example.com/", { headers: { cookie: "sessionid=c; sessionid=d" } }), new Request("https://example.com/", { headers: { cookie: "sessionid=d; sessionid=c" } }));
    expect(v.seen).toHaveLength(4);
  });

  it("keys by the whole Cookie header when a parser could find a named cookie where the key sees none", async () => {
    const bench = pageBench();
    // The app's parser trims with String.trim, as many do: "\u00a0sessionid" is its session cookie.
    const session = (request: Request) => request.headers.get("cookie")?.split(";").map((pair) => pair.split("=").map((part) => part.trim())).find(([name]) => name === "sessionid")?.[1];
    const handler = cachePage(60, options(bench, { varyCookies: ["sessionid"] }))(varyOnCookie(async (request: Request) => new Response(`signed in as ${session(request) ?? "nobody"}`)));
    const cookie = (value: string) => new Request("https://example.com/", { headers: { cookie: value } });
    for (const hidden of ["_ga=1; \u00a0sessionid=mallory", "_ga=1; \fsessionid=mallory", "_ga=1; sessionid; sessionid=mallory"]) {
      await read(handler(cookie(hidden)));
      await bench.settle();
      expect((await read(handler(cookie("_ga=2")))).body, hidden).toBe("signed in as nobody");
    }
    // A header every parser reads alike is still keyed by the named cookies only (an empty pair is none).
    const [first, second] = await twice(handler, bench, cookie("sessionid=a; _ga=1;"), cookie("_ga=2; sessionid=a"));
    expect([first.body, second.cacheStatus]).toEqual(["signed in as a", "edgecache; hit; ttl=60"]);
  });
});

describe("variant keys", () => {
  it("never equal the base key of another URL, whatever that URL ends with", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(varyOnHeaders("Accept-Language")(view()));
    const english = { headers: { "accept-language": "en" } };
    await twice(handler, bench, new Request("https://example.com/a", english));
    const variant = (await getCacheKey(new Request("https://example.com/a", english), { cache: bench.cache }))!;
    const hash = variant.slice(-64);
    // A URL ending in what follows /a in its variant key gets its own page, not /a's.
    const other = await read(handler(new Request(`https://example.com/a.v.${hash}`, english)));
    expect([other.body, other.cacheStatus]).toEqual([`page 2 for /a.v.${hash}`, "edgecache; fwd=uri-miss; stored"]);
  });
});

describe("keyParts", () => {
  it("keeps the parts apart from the URL: no URL reads as another URL with parts", async () => {
    const bench = pageBench();
    const v = view();
    // The groups a visitor is in: none ([]) is not the same as no header (undefined).
    const handler = cachePage(60, options(bench, { keyParts: (request) => request.headers.get("x-groups")?.split(",").filter(Boolean) }))(v);
    await twice(handler, bench, new Request("https://example.com/inbox?q=x", { headers: { "x-groups": "," } }));
    const other = await read(handler(new Request("https://example.com/inbox?q=x.[]")));
    expect([other.cacheStatus, other.body]).toEqual(["edgecache; fwd=uri-miss; stored", "page 2 for /inbox?q=x.[]"]);
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

describe("page caching over a cache with a serializer of its own", () => {
  const json = {
    encode: (value: unknown) => new TextEncoder().encode(JSON.stringify(value)),
    decode: (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
  };

  it.each([
    ["a plain backend", () => memory()],
    ["a backend with streams (the Cache API's layout)", () => streamingMemory({}).backend],
  ])("stores and serves pages, varying ones included, though the serializer cannot hold bytes (JSON), over %s", async (_label, backend) => {
    const errors: unknown[] = [];
    const writes: Array<Promise<unknown>> = [];
    const cache = createCache({ backend: backend(), serializer: json });
    let renders = 0;
    const handler = cachePage(60, { cache, waitUntil: (write) => void writes.push(write), onError: (error) => errors.push(error) })(
      async (request: Request) => new Response(`page ${++renders} for ${request.headers.get("accept-language")}`, { headers: { vary: "Accept-Language" } }));
    const ask = async (language: string) => {
      const response = await handler(new Request("https://example.com/p", { headers: { "accept-language": language } }));
      const body = await response.text();
      while (writes.length > 0) await Promise.all(writes.splice(0));
      return [body, response.headers.get("cache-status")];
    };
    expect(await ask("en")).toEqual(["page 1 for en", "edgecache; fwd=uri-miss; stored"]);
    expect(await ask("en")).toEqual(["page 1 for en", "edgecache; hit; ttl=60"]);
    expect(await ask("fr")).toEqual(["page 2 for fr", "edgecache; fwd=vary-miss; stored"]);
    expect(await ask("fr")).toEqual(["page 2 for fr", "edgecache; hit; ttl=60"]);
    expect(errors).toEqual([]);
  });

  it("finds a page that varies on nothing with getCacheKey and learnCacheKey, which read it as a page, not as a corrupt value", async () => {
    const errors: unknown[] = [];
    const writes: Array<Promise<unknown>> = [];
    const cache = createCache({ serializer: json, onError: (error) => errors.push(error) });
    const handler = cachePage(60, { cache, waitUntil: (write) => void writes.push(write) })(async (_request: Request) => new Response("the page"));
    await (await handler(new Request("https://example.com/p"))).text();
    await Promise.all(writes);
    const key = "page.GET.0:.https://example.com/p";
    expect(await getCacheKey(new Request("https://example.com/p"), { cache })).toBe(key);
    expect(await learnCacheKey(new Request("https://example.com/p"), new Response("the page"), { cache })).toBe(key);
    expect((await handler(new Request("https://example.com/p"))).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
    expect(errors).toEqual([]);
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
    expect(key).toMatch(/^page\.GET\.0:\.https:\/\/example\.com\/x"v\.[0-9a-f]{64}$/);
    expect(await getCacheKey(request, { cache })).toBe(key);
    expect(await getCacheKey(new Request("https://example.com/x", { headers: { cookie: "a=2" } }), { cache })).not.toBe(key);
  });

  it("gives no key for a response with Vary: * or a quoted member, and records nothing: no key can tell its visitors apart", async () => {
    const cache = createCache();
    const alice = new Request("https://example.com/x", { headers: { cookie: "sessionid=alice" } });
    for (const vary of ["*", '"Cookie"', "Accept-Language, *"]) {
      await expect(learnCacheKey(alice, new Response("alice's page", { headers: { vary } }), { cache })).rejects.toThrow(
        new TypeError(`response varies on * (Vary: ${vary}): no key can tell its variants apart, so it must not be cached`));
      expect(await getCacheKey(new Request("https://example.com/x", { headers: { cookie: "sessionid=bob" } }), { cache })).toBeUndefined();
    }
    // An index naming * that is there already (written by something else) gives no key either.
    await cache.set("page.GET.0:.https://example.com/y", { kind: "vary", vary: ["*"], epoch: "e" });
    expect(await getCacheKey(new Request("https://example.com/y"), { cache })).toBeUndefined();
  });

  it("keeps the vary list for 600 s unless told otherwise, as Django's CACHE_MIDDLEWARE_SECONDS, whatever the cache's own default", async () => {
    const bench = pageBench();
    const request = new Request("https://example.com/x", { headers: { cookie: "a=1" } });
    const key = await learnCacheKey(request, new Response("hi", { headers: { vary: "Cookie" } }), { cache: bench.cache, now: bench.clock.now });
    bench.clock.advance(599);
    expect(await getCacheKey(request, { cache: bench.cache })).toBe(key);
    bench.clock.advance(2);
    expect(await getCacheKey(request, { cache: bench.cache })).toBeUndefined();
  });

  it("gives a page that varies on nothing the URL's key itself, never overwriting what is stored there (Django keeps two keys)", async () => {
    const cache = createCache();
    const request = new Request("https://example.com/plain");
    const key = await learnCacheKey(request, new Response("hi"), { cache });
    expect(key).toBe("page.GET.0:.https://example.com/plain");
    expect(await cache.get(key)).toBeUndefined(); // nothing to record, nothing written
    await cache.set(key, "the page"); // as learnCacheKey's example does
    expect(await getCacheKey(request, { cache })).toBe(key);
    expect(await learnCacheKey(request, new Response("hi"), { cache })).toBe(key); // learnt again:
    expect(await cache.get(key)).toBe("the page"); // the page stays
    // A URL that varied before and no longer does: its index goes, and the page goes under the URL's key.
    await learnCacheKey(request, new Response("hi", { headers: { vary: "Cookie" } }), { cache });
    expect(await learnCacheKey(request, new Response("hi"), { cache })).toBe(key);
    expect(await getCacheKey(request, { cache })).toBeUndefined();
  });

  it("leaves cachePage's stored page a hit when learnCacheKey runs on its URL", async () => {
    const cache = createCache();
    const writes: Array<Promise<unknown>> = [];
    const handler = cachePage(60, { cache, waitUntil: (write) => void writes.push(write) })(async (_request: Request) => new Response("page"));
    await (await handler(new Request("https://example.com/p"))).text();
    await Promise.all(writes);
    await learnCacheKey(new Request("https://example.com/p"), new Response("page"), { cache });
    expect((await handler(new Request("https://example.com/p"))).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
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
