/** How pages are answered: range requests, bypass, targeted Cache-Control (RFC 9213), onOutcome and the Cache-Status options. */
import { describe, expect, it } from "vitest";
import { cacheControl, compose, conditionalGet, varyOnCookie } from "../../src/wrappers.ts";
import { cachePage, cacheSite } from "../../src/page/cache-page.ts";
import { options, pageBench, read, twice, view } from "./setup.ts";

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

describe("huge timeouts", () => {
  it("keeps the page, and sends max-age at most 2^31 and a Cache-Status ttl that is still a structured-field integer", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(1e300, options(bench))(v);
    const [miss, hit] = await twice(handler, bench, "https://example.com/");
    expect([miss.status, miss.headers.get("cache-control")]).toEqual([200, "max-age=2147483648"]);
    expect(hit.cacheStatus).toBe("edgecache; hit; ttl=999999999999999");
    expect(v.seen).toHaveLength(1);
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

  it("hears of the very request the wrapper was given, as onError does, when a stale page stands in for a failed render", async () => {
    const bench = pageBench();
    const outcomes: Request[] = [];
    const errors: Request[] = [];
    let failing = false;
    const handler = cachePage(60, options(bench, {
      staleIfError: 300,
      onOutcome: (_outcome, request) => void outcomes.push(request),
      onError: (_error, { request }) => void errors.push(request),
    }))(async (_request: Request) => {
      if (failing) throw new Error("database down");
      return new Response("page");
    });
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(61);
    failing = true;
    const request = new Request("https://example.com/");
    expect((await read(handler(request))).cacheStatus).toBe("edgecache; hit; ttl=-1; detail=stale-if-error");
    expect(outcomes.at(-1)).toBe(request);
    expect(errors).toEqual([request]);
    expect(errors[0]).toBe(request);
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

describe("preconditions on a hit of a page with no ETag or Last-Modified", () => {
  it("are left to the handler's answer, as Django's ConditionalGetMiddleware leaves them: no 412 from the cache", async () => {
    const bench = pageBench();
    const handler = cachePage(600, options(bench))(view());
    const ask = (headers: Record<string, string>) => read(handler(new Request("https://example.com/file", { headers })));
    expect((await ask({ "if-match": '"v1"' })).status).toBe(200); // the miss: the handler ignores it
    await bench.settle();
    for (const headers of [{ "if-match": '"v1"' }, { "if-match": "*" }, { "if-unmodified-since": "Sun, 06 Nov 1994 08:49:37 GMT" }, { "if-match": '"v1"', range: "bytes=0-3" }] as Array<Record<string, string>>) {
      const hit = await ask(headers);
      expect([hit.status, hit.cacheStatus], JSON.stringify(headers)).toEqual([headers.range ? 206 : 200, "edgecache; hit; ttl=600"]);
    }
  });

  it("so a conditionalGet outside the cache answers If-Match with the ETag it sent", async () => {
    const bench = pageBench();
    const handler = compose(conditionalGet)(cachePage(600, options(bench))(view()));
    const miss = await read(handler(new Request("https://example.com/file")));
    await bench.settle();
    const hit = await read(handler(new Request("https://example.com/file", { headers: { "if-match": miss.headers.get("etag")! } })));
    expect([hit.status, hit.cacheStatus]).toEqual([200, "edgecache; hit; ttl=600"]);
  });
});
