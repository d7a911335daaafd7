/** The Cache API backend's own behaviour, inside workerd against miniflare's Cache API. */
import { describe, expect, it, vi } from "vitest";
import { cacheApi, type CacheLike } from "../../adapters/cache-api.ts";
import { BackendUnavailableError, cachePage, createCache, purgeTag } from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => value && new TextDecoder().decode(value);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A page handler as a Worker calls it. */
type Page = (request: Request, env: unknown, ctx: { waitUntil(promise: Promise<unknown>): void }) => Response;

let names = 0;
/** A cache no other test uses. */
const freshName = (): string => `cache-api-test-${++names}`;

/** A named cache, recording the URLs put into it and each read of the generation token. */
async function recording(name: string): Promise<{ cache: CacheLike; urls: string[]; tokenReads: string[] }> {
  const cache = await caches.open(name);
  const urls: string[] = [];
  const tokenReads: string[] = [];
  return {
    urls,
    tokenReads,
    cache: {
      match: (url) => {
        if (url.endsWith("/generation")) tokenReads.push(url);
        return cache.match(url);
      },
      put: (url, response) => {
        urls.push(url);
        return cache.put(url, response);
      },
      delete: (url) => cache.delete(url),
    },
  };
}

describe("cache-api backend", () => {
  it("declares that it is shared but per data centre and local to the runtime, without atomic add or increment", () => {
    expect(cacheApi().capabilities).toEqual({ atomicAdd: false, atomicIncrement: false, consistent: false, shared: true, local: true, writeSpacingMs: 0, ttlGranularityMs: 0 });
  });

  it("keeps tagged values: purgeTag ends them, and a soft purge lets getOrSet answer while it recomputes", async () => {
    const clock = fakeClock();
    const cache = createCache({ backend: cacheApi({ name: freshName(), now: clock.now }), now: clock.now });
    await cache.set("price", 10, { tags: ["product:1"] });
    expect(await cache.getOrSet("stock", async () => 5, { tags: ["product:1"] })).toBe(5);
    await purgeTag("product:1", { cache, now: clock.now, soft: true });
    clock.advance(1);
    const refreshed: Promise<unknown>[] = [];
    expect(await cache.getOrSet("stock", async () => 4, { tags: ["product:1"], waitUntil: (work) => void refreshed.push(work) })).toBe(5);
    await Promise.all(refreshed);
    expect([await cache.get("price"), await cache.get("stock")]).toEqual([undefined, 4]);
    await purgeTag("product:1", { cache, now: clock.now });
    clock.advance(1);
    expect(await cache.getMany(["price", "stock"])).toEqual(new Map());
  });

  it("expires entries by their stored time, in real time too", async () => {
    const backend = cacheApi({ name: freshName() });
    await backend.set("short", bytes("v"), 0.5);
    await backend.set("forever", bytes("v"), null);
    expect(text(await backend.get("short"))).toBe("v");
    await sleep(600);
    expect(await backend.get("short")).toBeUndefined();
    expect(text(await backend.get("forever"))).toBe("v");
  });

  it("enforces the stored time even where the Cache API would keep the entry (as Deno does)", async () => {
    const clock = fakeClock();
    const backend = cacheApi({ name: freshName(), now: clock.now });
    await backend.set("k", bytes("v"), 10);
    clock.advance(10);
    expect(await backend.get("k")).toBeUndefined();
  });

  it("stores entries under synthetic URLs on its private origin only, hashing long keys", async () => {
    const name = freshName();
    const { cache, urls } = await recording(name);
    const backend = cacheApi({ cache });
    await backend.set("https://example.com/page", bytes("v"), 60);
    await backend.set("x".repeat(2000), bytes("long"), 60);
    expect(urls.every((url) => url.startsWith("https://edgecache.invalid/"))).toBe(true);
    expect(urls.at(-2)).toMatch(/\/k:https%3A%2F%2Fexample\.com%2Fpage$/);
    expect(urls.at(-1)).toMatch(/\/h:[0-9a-f]{64}$/);
    expect(await (await caches.open(name)).match("https://example.com/page")).toBeUndefined();
    expect(text(await backend.get("x".repeat(2000)))).toBe("long");
  });

  it("reads a response at one of its URLs without its entry header (another writer's) as a miss", async () => {
    const name = freshName();
    const { cache, urls } = await recording(name);
    const backend = cacheApi({ cache });
    await backend.set("k", bytes("v"), 60);
    await (await caches.open(name)).put(urls.at(-1)!, new Response("not ours", { headers: { "cache-control": "max-age=60" } }));
    expect(await backend.get("k")).toBeUndefined();
    expect(await backend.streams!.get("k")).toBeUndefined();
  });

  it("reads an entry header it did not write (a head that is not base64, a length or expiry that is no number) as a miss", async () => {
    const name = freshName();
    const { cache, urls } = await recording(name);
    const backend = cacheApi({ cache });
    await backend.streams!.set("k", bytes("head"), bytes("body"), 60);
    const stored = (await (await caches.open(name)).match(urls.at(-1)!))!;
    const [generation] = stored.headers.get("x-edgecache")!.split(",");
    await stored.arrayBuffer();
    for (const header of [`${generation},,4,not base64!`, `${generation},,four,aGVhZA==`, `${generation},soon,4,aGVhZA==`, `${generation},,-1,`]) {
      await (await caches.open(name)).put(urls.at(-1)!, new Response("body", { headers: { "cache-control": "max-age=60", "x-edgecache": header } }));
      expect(await backend.get("k"), header).toBeUndefined();
      expect(await backend.streams!.get("k"), header).toBeUndefined();
    }
  });

  it("does not leave a call waiting for good on a read of the token that another request began and then dropped", async () => {
    const name = freshName();
    const { cache } = await recording(name);
    let dropFirst = true;
    const dropping: CacheLike = {
      ...cache,
      match: (url) => {
        if (url.endsWith("/generation") && dropFirst) {
          dropFirst = false;
          return new Promise(() => {}); // the request that began it ended: it never settles
        }
        return cache.match(url);
      },
    };
    const backend = cacheApi({ cache: dropping });
    void backend.get("k"); // the first request's read, dropped
    vi.useFakeTimers();
    try {
      const next = backend.get("k");
      await vi.advanceTimersByTimeAsync(1000);
      expect(await next).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
    await backend.set("k", bytes("v"), 60);
    expect(text(await backend.get("k"))).toBe("v");
  });

  it("hands out the same head bytes on every read of a streamed entry, decoded once", async () => {
    const backend = cacheApi({ name: freshName() });
    await backend.streams!.set("page", bytes("the head"), bytes("the body"), 60);
    const first = (await backend.streams!.get("page"))!;
    const second = (await backend.streams!.get("page"))!;
    expect(text(first.head)).toBe("the head");
    expect(second.head).toBe(first.head);
    expect(await new Response(second.body).text()).toBe("the body");
    await first.body.cancel();
  });

  it("uses a given cache, such as caches.default, through the custom origin", async () => {
    const backend = cacheApi({ cache: caches.default, origin: "https://private.example" });
    await backend.set("k", bytes("v"), 60);
    expect(text(await backend.get("k"))).toBe("v");
  });

  describe("clear", () => {
    it("hides every entry from this and from new backends over the cache", async () => {
      const name = freshName();
      const backend = cacheApi({ name });
      await backend.set("a", bytes("a"), null);
      await backend.clear!();
      expect(await backend.get("a")).toBeUndefined();
      expect(await cacheApi({ name }).get("a")).toBeUndefined();
      await backend.set("b", bytes("b"), null);
      expect(text(await cacheApi({ name }).get("b"))).toBe("b");
    });

    it("reaches other backends over the cache within a second", async () => {
      const clock = fakeClock();
      const name = freshName();
      const one = cacheApi({ name, now: clock.now });
      const other = cacheApi({ name, now: clock.now });
      await one.set("a", bytes("a"), null);
      expect(text(await other.get("a"))).toBe("a");
      await one.clear!();
      clock.advance(1);
      expect(await other.get("a")).toBeUndefined();
    });

    it("never brings old entries back when the generation is evicted", async () => {
      const name = freshName();
      const clock = fakeClock();
      const backend = cacheApi({ name, now: clock.now });
      await backend.set("a", bytes("a"), null);
      await (await caches.open(name)).delete("https://edgecache.invalid/generation");
      clock.advance(1);
      expect(await backend.get("a")).toBeUndefined();
    });

    it("reads the token again only once generationCheckMs has passed", async () => {
      const clock = fakeClock();
      const { cache, tokenReads } = await recording(freshName());
      const backend = cacheApi({ cache, now: clock.now, generationCheckMs: 5000 });
      await backend.set("a", bytes("a"), null);
      clock.advance(4);
      await backend.get("a");
      expect(tokenReads).toHaveLength(1);
      clock.advance(1);
      await backend.get("a");
      expect(tokenReads).toHaveLength(2);
    });

    it("shares the token it read among backends over the same cache, as Workers make one per request", async () => {
      const clock = fakeClock();
      const { cache, tokenReads } = await recording(freshName());
      await cacheApi({ cache, now: clock.now }).set("a", bytes("a"), null);
      for (let request = 0; request < 5; request++) expect(text(await cacheApi({ cache, now: clock.now }).get("a"))).toBe("a");
      expect(tokenReads).toHaveLength(1);
      await cacheApi({ cache, now: clock.now }).clear!();
      expect(await cacheApi({ cache, now: clock.now }).get("a")).toBeUndefined(); // seen at once by the next request's backend
    });

    it("is not undone by another backend's read of the token begun while the clear was writing it", async () => {
      const clock = fakeClock();
      const opened = await caches.open(freshName());
      let tokenWritten!: () => void;
      const writing = new Promise<void>((resolve) => (tokenWritten = resolve));
      let holdTokenWrite = false;
      // The clear's write of the new token lands only once the other backend has read the old one.
      const cache: CacheLike = {
        match: (url) => opened.match(url),
        put: async (url, response) => {
          if (holdTokenWrite && url.endsWith("/generation")) await writing;
          return opened.put(url, response);
        },
        delete: (url) => opened.delete(url),
      };
      const one = createCache({ backend: cacheApi({ cache, now: clock.now }) });
      const other = createCache({ backend: cacheApi({ cache, now: clock.now }) }); // another request's
      await one.set("k", "before");
      clock.advance(1); // the token is due for a re-check
      holdTokenWrite = true;
      const clearing = one.clear();
      expect(await other.get("k")).toBe("before"); // read alongside the clear: either answer is fair
      tokenWritten();
      await clearing;
      expect([await one.get("k"), await other.get("k")]).toEqual([undefined, undefined]);
      await other.set("k", "after");
      clock.advance(1);
      expect(await one.get("k")).toBe("after"); // written in the new generation, not the old one
    });

    it("names one store per cache name and origin, or per cache object given", async () => {
      const name = freshName();
      expect(cacheApi({ name }).identity).toBe(cacheApi({ name }).identity);
      expect(cacheApi({ name }).identity).not.toBe(cacheApi({ name: freshName() }).identity);
      expect(cacheApi({ name }).identity).not.toBe(cacheApi({ name, origin: "https://private.example" }).identity);
      const cache = await caches.open(name);
      expect(cacheApi({ cache }).identity).toBe(cacheApi({ cache }).identity);
      expect(cacheApi({ cache }).identity).not.toBe(cacheApi({ cache: await caches.open(freshName()) }).identity);
      expect(cacheApi({ cache: caches.open(name) }).identity).toBeUndefined(); // a promise names nothing: each backend is its own
    });

    it("refuses a generationCheckMs that is not a number of 0 or more, naming it", () => {
      expect(() => cacheApi({ generationCheckMs: -1 })).toThrow("options.generationCheckMs must be a number of 0 or more, got -1");
    });

    it("checks the generation alongside the entry's read, not before it", async () => {
      const clock = fakeClock();
      const name = freshName();
      const store = await caches.open(name);
      let releaseGeneration = (): void => {};
      let holdGeneration = false;
      const matched: string[] = [];
      const cache: CacheLike = {
        match: async (url) => {
          matched.push(url.endsWith("/generation") ? "generation" : "entry");
          if (url.endsWith("/generation") && holdGeneration) await new Promise<void>((resolve) => (releaseGeneration = resolve));
          return store.match(url);
        },
        put: (url, response) => store.put(url, response),
        delete: (url) => store.delete(url),
      };
      const backend = cacheApi({ cache, now: clock.now });
      await backend.set("a", bytes("a"), null);
      clock.advance(1); // the generation is due for a re-check
      holdGeneration = true;
      matched.length = 0;
      const read = backend.get("a");
      await vi.waitFor(() => expect(matched).toEqual(["generation", "entry"]));
      releaseGeneration();
      expect(text(await read)).toBe("a");
    });

    it("shares one generation among concurrent first calls", async () => {
      const backend = cacheApi({ name: freshName() });
      await Promise.all(["a", "b", "c"].map((key) => backend.set(key, bytes(key), null)));
      expect((await Promise.all(["a", "b", "c"].map((key) => backend.get(key)))).map(text)).toEqual(["a", "b", "c"]);
    });
  });

  it("page caching streams a large page's hit from the stored body, byte for byte", async () => {
    const cache = createCache({ backend: cacheApi({ name: freshName() }) });
    const body = Uint8Array.from({ length: 300 * 1024 }, (_, i) => i % 251);
    const handler = cachePage(30, { cache })<Page>(() => new Response(body, { headers: { "content-type": "application/octet-stream" } }));
    const waits: Promise<unknown>[] = [];
    const ctx = { waitUntil: (promise: Promise<unknown>) => waits.push(promise) };
    await (await handler(new Request("https://example.com/large"), {}, ctx)).arrayBuffer();
    await Promise.all(waits);
    const hit = await handler(new Request("https://example.com/large"), {}, ctx);
    expect(hit.headers.get("cache-status")).toBe("edgecache; hit; ttl=30");
    expect(new Uint8Array(await hit.arrayBuffer())).toEqual(body);
    const head = await handler(new Request("https://example.com/large", { method: "HEAD" }), {}, ctx);
    expect(head.headers.get("content-length")).toBe(String(body.byteLength));
  });

  it("page caching serves a page whose headers workerd takes though other runtimes would not (a value beyond Latin-1)", async () => {
    const cache = createCache({ backend: cacheApi({ name: freshName() }) });
    const errors: unknown[] = [];
    const handler = cachePage(30, { cache, onError: (error) => errors.push(error) })<Page>(() => new Response("report", { headers: { "content-disposition": "attachment; filename=日本.pdf" } }));
    const waits: Promise<unknown>[] = [];
    const ctx = { waitUntil: (promise: Promise<unknown>) => waits.push(promise) };
    await (await handler(new Request("https://example.com/report"), {}, ctx)).arrayBuffer();
    await Promise.all(waits);
    const hit = await handler(new Request("https://example.com/report"), {}, ctx);
    expect([hit.headers.get("cache-status"), hit.headers.get("content-disposition"), await hit.text()]).toEqual(["edgecache; hit; ttl=30", "attachment; filename=日本.pdf", "report"]);
    expect(errors).toEqual([]);
  });

  it("page caching tells onError, once, that without ctx (no waitUntil) nothing it writes outlives the response on Workers", async () => {
    const errors: Array<[string, string]> = [];
    const wrapped = cachePage(60, { cache: createCache({ backend: cacheApi({ name: freshName() }) }), onError: (error, { operation }) => errors.push([operation, String(error)]) })((_request: Request) => new Response("page"));
    for (let i = 0; i < 2; i++) await (await wrapped(new Request("https://example.com/no-ctx"))).text(); // the fetch handler's env and ctx not passed on
    expect(errors).toEqual([["store", expect.stringContaining("Error: page caching on Workers has no waitUntil to carry its cache writes past the response, so none is ever stored")]]);
    // The isolate's own memory is written before the response ends: nothing to say, and a hit follows.
    const inIsolate = cachePage(60, { cache: createCache(), onError: (error, { operation }) => errors.push([operation, String(error)]) })((_request: Request) => new Response("page"));
    await (await inIsolate(new Request("https://example.com/no-ctx-memory"))).text();
    expect((await inIsolate(new Request("https://example.com/no-ctx-memory"))).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
    expect(errors).toHaveLength(1);
  });

  it("keeps put's constraints from callers: HEAD requests, 206 responses and Vary: * never throw", async () => {
    const errors: unknown[] = [];
    const cache = createCache({ backend: cacheApi({ name: freshName() }) });
    const wrap = cachePage(60, { cache, onError: (error) => errors.push(error) });
    const waits: Promise<unknown>[] = [];
    const ctx = { waitUntil: (promise: Promise<unknown>) => waits.push(promise) };
    const ok = wrap<Page>(() => new Response("ok"));
    const partial = wrap<Page>(() => new Response("part", { status: 206, headers: { "content-range": "bytes 0-3/10" } }));
    const star = wrap<Page>(() => new Response("any", { headers: { vary: "*" } }));
    const head = await ok(new Request("https://example.com/h", { method: "HEAD" }), {}, ctx);
    const answers = [head, await partial(new Request("https://example.com/p"), {}, ctx), await star(new Request("https://example.com/s"), {}, ctx)];
    await Promise.all(answers.map((response) => response.arrayBuffer()));
    await Promise.all(waits);
    expect(answers.map((response) => response.status)).toEqual([200, 206, 200]);
    expect(errors).toEqual([]);
    const again = await ok(new Request("https://example.com/h", { method: "HEAD" }), {}, ctx);
    expect(again.headers.get("cache-status")).toMatch(/hit/);
  });

  describe("where there is no Cache API", () => {
    it("throws a BackendUnavailableError saying so, unless a cache is given", () => {
      vi.stubGlobal("caches", undefined);
      try {
        expect(() => cacheApi()).toThrow(BackendUnavailableError);
        expect(() => cacheApi()).toThrow(/globalThis.caches\) is not available/);
        const given: CacheLike = { match: async () => undefined, put: async () => {}, delete: async () => false };
        expect(cacheApi({ cache: given }).name).toBe("cache-api");
      } finally {
        vi.unstubAllGlobals();
      }
    });
  });

  it.each([
    ["a non-http origin", { origin: "ftp://x" }, /options.origin must be an http\(s\) origin/],
    ["an origin with a path", { origin: "https://x.example/path" }, /options.origin must be an http\(s\) origin/],
    ["a name that is not a string", { name: 5 as unknown as string }, /options.name must be a string/],
  ])("rejects %s", (_label, options, message) => {
    expect(() => cacheApi(options)).toThrow(message);
  });
});
