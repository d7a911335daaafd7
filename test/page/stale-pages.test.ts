/** Stale pages: stale-while-revalidate, stale-if-error, error backoff and refreshing ahead of expiry. */
import { describe, expect, it, vi } from "vitest";
import { createCache } from "../../src/cache.ts";
import { cachePage, cacheSite } from "../../src/page/cache-page.ts";
import { conditionalGet } from "../../src/wrappers.ts";
import { get, options, pageBench, read, twice, view } from "./setup.ts";

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

  it("keeps the stale page when its refresh fails with a 5xx it may stand in for, even one that may be stored", async () => {
    const bench = pageBench();
    let down = false;
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 30, staleIfError: 3600, statusTimeouts: { 503: 30 } }))(async (_request: Request) =>
      down ? new Response("maintenance", { status: 503 }) : new Response("good page"));
    await get(handler, bench, "https://example.com/");
    bench.clock.advance(61);
    down = true;
    const revalidating = await get(handler, bench, "https://example.com/");
    expect([revalidating.body, revalidating.cacheStatus]).toEqual(["good page", "edgecache; hit; ttl=-1; detail=revalidating"]);
    bench.clock.advance(6); // past errorBackoffMs
    const next = await get(handler, bench, "https://example.com/");
    expect([next.status, next.body]).toEqual([200, "good page"]);
  });

  it("answers HEAD requests from the HEAD page one of them stored while the GET page is stale, rather than running the handler for each", async () => {
    const bench = pageBench();
    const v = view();
    const handler = cachePage(60, options(bench, { staleIfError: 3600 }))(v);
    await get(handler, bench, "https://example.com/");
    bench.clock.advance(70); // the GET page is stale, kept for stale-if-error
    const heads = [];
    for (let i = 0; i < 3; i++) heads.push((await get(handler, bench, "https://example.com/", { method: "HEAD" })).cacheStatus);
    expect(heads).toEqual(["edgecache; fwd=stale; stored", "edgecache; hit; ttl=60", "edgecache; hit; ttl=60"]);
    expect(v.seen.map((request) => request.method)).toEqual(["GET", "HEAD"]);
  });

  it("never answers HEAD from a HEAD page older than the GET page", async () => {
    const bench = pageBench();
    let version = 1;
    const handler = cacheSite(options(bench, { staleIfError: 3600 }))(async (request: Request) =>
      new Response(request.method === "HEAD" ? null : "page", { headers: { etag: `"v${version}"`, "cache-control": `max-age=${request.method === "HEAD" ? 600 : 60}` } }));
    await get(handler, bench, "https://example.com/");
    bench.clock.advance(70);
    expect((await get(handler, bench, "https://example.com/", { method: "HEAD" })).headers.get("etag")).toBe('"v1"'); // a HEAD page, kept 10 minutes
    version = 2;
    bench.clock.advance(70);
    await get(handler, bench, "https://example.com/"); // the GET page, newer
    bench.clock.advance(70);
    const head = await get(handler, bench, "https://example.com/", { method: "HEAD" });
    expect(head.headers.get("etag")).toBe('"v2"');
  });

  it("lets go of a refresh's response that will not be stored, an endless event stream included, rather than read it for ever", async () => {
    const bench = pageBench();
    let streaming = false;
    let cancelled = false;
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 30 }))(async (_request: Request) => {
      if (!streaming) return new Response("page");
      const endless = new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(new TextEncoder().encode("data: tick\n\n")),
        cancel: () => void (cancelled = true),
      });
      return new Response(endless, { headers: { "content-type": "text/event-stream" } });
    });
    await get(handler, bench, "https://example.com/");
    bench.clock.advance(70);
    streaming = true;
    const revalidating = await get(handler, bench, "https://example.com/"); // settles only once the refresh has
    expect(revalidating.cacheStatus).toBe("edgecache; hit; ttl=-10; detail=revalidating");
    expect(cancelled).toBe(true);
  });

  it("drops the page a refresh answered 404 or 410 for, not to be stored: later requests get the handler's answer, not a page since deleted", async () => {
    const ways = [
      { option: { staleWhileRevalidate: 300 }, after: 61, status: "edgecache; hit; ttl=-1; detail=revalidating" },
      { option: { refreshAhead: 0.5 }, after: 31, status: "edgecache; hit; ttl=29; detail=refreshing" },
    ];
    for (const { option, after, status } of ways) {
      const bench = pageBench();
      let answer: () => Response = () => new Response("product 42");
      let renders = 0;
      const handler = cachePage(60, options(bench, option))(async (_request: Request) => (renders++, answer()));
      await get(handler, bench, "https://example.com/products/42");
      bench.clock.advance(after);
      answer = () => new Response("no such product", { status: 404 });
      const refreshing = await get(handler, bench, "https://example.com/products/42");
      expect([refreshing.body, refreshing.cacheStatus]).toEqual(["product 42", status]);
      const gone = await get(handler, bench, "https://example.com/products/42");
      expect([gone.status, gone.body, gone.cacheStatus]).toEqual([404, "no such product", "edgecache; fwd=uri-miss; detail=status"]);
      expect(renders).toBe(3); // one render per request from now on, not a refresh on each while a deleted page is served
    }
    const bench = pageBench();
    let status = 200;
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 300 }))(async (_request: Request) => new Response("page", { status }));
    await get(handler, bench, "https://example.com/retired");
    bench.clock.advance(61);
    status = 410;
    await get(handler, bench, "https://example.com/retired");
    expect((await get(handler, bench, "https://example.com/retired")).status).toBe(410);
  });

  it("keeps the page a visitor's own refresh answer is not stored for (a 401 for an expired token): it says nothing of everyone else's page", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 300 }))(async (request: Request) =>
      request.headers.has("authorization") ? new Response("token expired", { status: 401 }) : new Response("catalogue", { headers: { "cache-control": "public" } }));
    await get(handler, bench, "https://example.com/catalogue");
    bench.clock.advance(61);
    const visitor = await get(handler, bench, "https://example.com/catalogue", { headers: { authorization: "Bearer expired" } });
    expect([visitor.body, visitor.cacheStatus]).toEqual(["catalogue", "edgecache; hit; ttl=-1; detail=revalidating"]);
    expect((await get(handler, bench, "https://example.com/catalogue")).cacheStatus).toBe("edgecache; hit; ttl=-1; detail=revalidating");
  });

  it("drops a page kept for stale-if-error that its handler now answers 404 for: a later failure must not bring it back", async () => {
    const bench = pageBench();
    let answer = () => new Response("product 42");
    const handler = cachePage(60, options(bench, { staleIfError: 3600 }))(async (_request: Request) => answer());
    await get(handler, bench, "https://example.com/products/42");
    bench.clock.advance(61);
    answer = () => new Response("no such product", { status: 404 });
    expect((await get(handler, bench, "https://example.com/products/42")).cacheStatus).toBe("edgecache; fwd=stale; detail=status");
    answer = () => new Response("database down", { status: 503 });
    const failed = await get(handler, bench, "https://example.com/products/42");
    expect([failed.status, failed.body, failed.cacheStatus]).toEqual([503, "database down", "edgecache; fwd=uri-miss; detail=status"]);
  });

  it("drops only the page it found stale: one stored since (another process's miss) stays, and a store that fails to delete is reported, not taken for a failing handler", async () => {
    let failDeletes = false;
    const bench = pageBench((backend) => ({ ...backend, delete: (key: string) => (failDeletes ? Promise.reject(new Error("delete failed")) : backend.delete(key)) }));
    let answer = () => new Response("product 42");
    const handler = cachePage(60, options(bench, { staleWhileRevalidate: 300, staleIfError: 3600 }))(async (_request: Request) => answer());
    await get(handler, bench, "https://example.com/products/42");
    bench.clock.advance(61);
    answer = () => new Response("no such product", { status: 404 });
    failDeletes = true;
    await get(handler, bench, "https://example.com/products/42");
    expect(bench.errors.map(String)).toEqual(["Error: delete failed"]);
    failDeletes = false;
    // Not backing off as from a failed handler: the next request refreshes again, and drops it.
    await get(handler, bench, "https://example.com/products/42");
    expect((await get(handler, bench, "https://example.com/products/42")).status).toBe(404);

    // A page stored by another process while the refresh ran is not the one to drop.
    const other = pageBench();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let renders = 0;
    const slow = cachePage(60, options(other, { staleWhileRevalidate: 5 }))(async (_request: Request) =>
      ++renders === 1 ? new Response("v1") : held.then(() => new Response("gone", { status: 404 })));
    const elsewhere = cachePage(60, options(other, { staleWhileRevalidate: 5 }))(async (_request: Request) => new Response("v2"));
    await get(slow, other, "https://example.com/p");
    other.clock.advance(61);
    await read(slow(new Request("https://example.com/p"))); // its refresh waits
    other.clock.advance(10); // past stale-while-revalidate: a miss elsewhere stores v2
    await read(elsewhere(new Request("https://example.com/p")));
    await vi.waitFor(async () => expect((await read(elsewhere(new Request("https://example.com/p")))).cacheStatus).toBe("edgecache; hit; ttl=60"));
    release();
    await other.settle();
    expect((await read(elsewhere(new Request("https://example.com/p")))).cacheStatus).toBe("edgecache; hit; ttl=60"); // still there
  });

  it("refreshes a stale page in full when the request that found it was conditional or asked for a range", async () => {
    const bench = pageBench();
    const v = view({ headers: { etag: '"v1"' } });
    const handler = cachePage(10, options(bench, { staleWhileRevalidate: 300 }))(conditionalGet(v));
    await get(handler, bench, "https://example.com/");
    for (const headers of [{ "if-none-match": '"v1"' }, { range: "bytes=0-3" }] as Array<Record<string, string>>) {
      bench.clock.advance(20);
      await get(handler, bench, "https://example.com/", { headers });
      const seen = v.seen.at(-1)!;
      expect([seen.headers.has("if-none-match"), seen.headers.has("range")]).toEqual([false, false]);
      expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toBe("edgecache; hit; ttl=10");
    }
    expect(v.seen).toHaveLength(3);
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

  it("refreshes in the background with a request of its own, whose signal is not aborted when the request that found the page stale ends (Deno aborts it)", async () => {
    const bench = pageBench();
    let renders = 0;
    const handler = cachePage(10, options(bench, { staleWhileRevalidate: 30 }))(async (request: Request) => {
      await new Promise((resolve) => setTimeout(resolve, 10)); // an upstream fetch given request.signal
      if (request.signal.aborted) throw new Error("upstream fetch aborted");
      return new Response(`page ${++renders}`);
    });
    await get(handler, bench, "https://example.com/");
    bench.clock.advance(15);
    const client = new AbortController();
    const stale = await read(handler(new Request("https://example.com/", { signal: client.signal })));
    client.abort(); // the response was delivered: Deno.serve aborts the request's signal
    await bench.settle();
    expect(stale.cacheStatus).toBe("edgecache; hit; ttl=-5; detail=revalidating");
    expect([(await read(handler(new Request("https://example.com/")))).body, bench.errors]).toEqual(["page 2", []]);
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
    expect(scheduled).toBe(1); // the refresh, which carries the write of its result:
    await waited[0]; // whoever waits for it (a Worker's waitUntil, a test) waits for the store too
    expect((await read(handler(new Request("https://example.com/"), {}, ctx))).body).toBe("v2");
  });

  it("refreshes a stale page again once a refresh has been pending for collapseMs (its request may have ended)", async () => {
    const bench = pageBench();
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      const carried: Promise<unknown>[] = [];
      let calls = 0;
      const handler = cachePage(10, options(bench, { staleWhileRevalidate: 3600, collapseMs: 1000, waitUntil: (work) => void carried.push(work) }))(async (_request: Request) => {
        calls++;
        return calls === 2 ? new Promise<Response>(() => {}) : new Response(`v${calls}`); // the first refresh is lost with its request
      });
      await read(handler(new Request("https://example.com/")));
      await carried.pop();
      bench.clock.advance(15);
      expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toMatch(/detail=revalidating/);
      expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toMatch(/detail=revalidating/);
      expect(calls).toBe(2); // the lost refresh still counts as under way
      vi.advanceTimersByTime(1001);
      await read(handler(new Request("https://example.com/")));
      await carried.pop();
      expect(calls).toBe(3);
      expect((await read(handler(new Request("https://example.com/")))).body).toBe("v3");
    } finally {
      vi.useRealTimers();
    }
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
    expect([fresh.body, fresh.cacheStatus]).toEqual(["page 4", "edgecache; fwd=stale; stored"]);
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

  it("backs off for every cache over the store, as Workers' per-request caches are", async () => {
    const bench = pageBench();
    let calls = 0;
    const perRequest = () => createCache({ backend: { ...bench.backend, identity: bench.backend }, onWarning: () => {} });
    const handler = cachePage(10, options(bench, { cache: perRequest, staleIfError: 600 }))(async (_request: Request) =>
      ++calls === 1 ? new Response("page") : new Response("down", { status: 503 }));
    await twice(handler, bench, "https://example.com/");
    bench.clock.advance(20);
    for (let i = 0; i < 3; i++) expect((await read(handler(new Request("https://example.com/")))).cacheStatus).toMatch(/stale-if-error$/);
    expect(calls).toBe(2); // the fill, then one failure, through three caches of their own
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
