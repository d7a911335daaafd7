/** Page writes: misses streamed to the client as they are stored, and store failures that stay misses. */
import { describe, expect, it, vi } from "vitest";
import { cachePage } from "../../src/page/cache-page.ts";
import { getCacheKey } from "../../src/page/keys.ts";
import { options, pageBench, read, twice, view } from "./setup.ts";

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

  it("keys the page of a request whose Host header names another host than its URL apart (Node's absolute-form targets)", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(async (request: Request) => new Response(`<a href="https://${request.headers.get("host")}/oauth">log in</a>`));
    const [, again] = await twice(handler, bench, new Request("https://example.com/login", { headers: { host: "evil.example" } }));
    expect(again.cacheStatus).toBe("edgecache; hit; ttl=60"); // stored, for that pair alone
    const victim = await read(handler(new Request("https://example.com/login", { headers: { host: "example.com" } })));
    expect([victim.cacheStatus, victim.body]).toEqual(["edgecache; fwd=uri-miss; stored", '<a href="https://example.com/oauth">log in</a>']);
    // The same host, told otherwise (case, the default port), or not told: the URL's own page.
    for (const host of ["EXAMPLE.com:443", undefined]) {
      const same = await read(handler(new Request("https://example.com/login", { headers: host ? { host } : {} })));
      expect([same.cacheStatus, same.body], host).toEqual(["edgecache; hit; ttl=60", victim.body]);
    }
  });

  it("never stores an event stream, nor makes a second subscriber wait for the first one's stream to end", async () => {
    const bench = pageBench();
    let calls = 0;
    const handler = cachePage(60, options(bench, { collapseMs: 60_000 }))(async (_request: Request) => {
      calls++;
      const events = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode("data: 1\n\n")) });
      return new Response(events, { headers: { "Content-Type": "text/event-stream; charset=utf-8" } });
    });
    const first = await handler(new Request("https://example.com/events"));
    expect([first.headers.get("cache-status"), first.headers.get("cache-control")]).toEqual(["edgecache; fwd=uri-miss; detail=event-stream", null]);
    const second = await handler(new Request("https://example.com/events")); // at once: there is no fill to wait for
    expect(calls).toBe(2);
    await Promise.all([first.body!.cancel(), second.body!.cancel()]);
  });

  it("lets the requests waiting for a fill go when the handler's response cannot be read (its body used)", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench, { collapseMs: 60_000 }))(async (_request: Request) => {
      const used = new Response("page");
      await used.text();
      return used;
    });
    await expect(handler(new Request("https://example.com/used"))).rejects.toThrow(TypeError);
    await expect(handler(new Request("https://example.com/used"))).rejects.toThrow(TypeError); // at once, not after collapseMs
  });

  it("lets the requests waiting for a stale page's fill go when the handler answers with no response at all", async () => {
    const bench = pageBench();
    let broken = false;
    const handler = cachePage(60, options(bench, { collapseMs: 60_000, staleIfError: 60 }))(async (_request: Request) =>
      broken ? (undefined as unknown as Response) : new Response("page"));
    await twice(handler, bench, "https://example.com/stale");
    bench.clock.advance(61);
    broken = true;
    await expect(handler(new Request("https://example.com/stale"))).rejects.toThrow(TypeError);
    await expect(handler(new Request("https://example.com/stale"))).rejects.toThrow(TypeError); // at once, not after collapseMs
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

  it("treats a page in a later format (a newer release's, during a rolling deploy) as a miss, neither reported nor deleted", async () => {
    const bench = pageBench();
    const handler = cachePage(60, options(bench))(view());
    await twice(handler, bench, "https://example.com/");
    const key = (await getCacheKey(new Request("https://example.com/"), { cache: bench.cache }))!;
    const later = Uint8Array.from([0x45, 0x50, 0x03, ...new Uint8Array(60)]); // "EP", version 3
    await bench.cache.set(key, later);
    const deletes = bench.calls.filter((call) => call === "delete").length;
    const unstored = cachePage(60, options(bench))(view({ headers: { "Cache-Control": "no-store" } })); // so nothing replaces it
    expect((await read(unstored(new Request("https://example.com/")))).cacheStatus).toMatch(/^edgecache; fwd=uri-miss/);
    expect(bench.errors).toEqual([]);
    expect(bench.calls.filter((call) => call === "delete")).toHaveLength(deletes);
    expect(await bench.cache.get(key)).toEqual(later);
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
