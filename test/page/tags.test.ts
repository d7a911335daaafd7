/** Cache tags: purgeTag ends every page filed under a tag, here and (within tagCheckMs) elsewhere, and never brings one back. */
import { describe, expect, it } from "vitest";
import { createCache } from "../../src/cache.ts";
import { sha256Hex } from "../../src/hash.ts";
import { cachePage } from "../../src/page/cache-page.ts";
import { purgeTag } from "../../src/tags.ts";
import { type Bench, counted, get, heldFirstRender, pageBench, read } from "./setup.ts";

type Options = NonNullable<Parameters<typeof cachePage>[1]>;

/** Pages tagged by their `id` query parameter (`product:<id>`), plus "catalogue". */
const byProduct: Options["tags"] = (request) => [`product:${new URL(request.url).searchParams.get("id")}`, "catalogue"];

function wrap(bench: Bench, options: Options = {}, headers: Record<string, string> = {}) {
  return cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, onError: (error) => bench.errors.push(error), ...options })(counted(headers));
}

describe("cache tags", () => {
  it("makes every page filed under a purged tag a miss, and leaves the others alone", async () => {
    const bench = pageBench();
    const handler = wrap(bench, { tags: byProduct });
    const untagged = wrap(bench);
    for (const url of ["https://example.com/p?id=1", "https://example.com/q?id=1", "https://example.com/p?id=2"]) await get(handler, bench, url);
    await get(untagged, bench, "https://example.com/about");
    await purgeTag("product:1", { cache: bench.cache, now: bench.clock.now });
    const p1 = await get(handler, bench, "https://example.com/p?id=1");
    expect([p1.body, p1.cacheStatus]).toEqual(["/p 4", "edgecache; fwd=stale; stored"]);
    expect((await get(handler, bench, "https://example.com/q?id=1")).cacheStatus).toBe("edgecache; fwd=stale; stored");
    expect((await get(handler, bench, "https://example.com/p?id=2")).cacheStatus).toBe("edgecache; hit; ttl=60");
    expect((await get(untagged, bench, "https://example.com/about")).cacheStatus).toBe("edgecache; hit; ttl=60");
    // Stored again after the purge, the page is good.
    expect((await get(handler, bench, "https://example.com/p?id=1")).body).toBe("/p 4");
    // One purge of a tag every page shares ends them all.
    await purgeTag(["catalogue"], { cache: bench.cache, now: bench.clock.now });
    expect((await get(handler, bench, "https://example.com/p?id=2")).cacheStatus).toBe("edgecache; fwd=stale; stored");
    expect(bench.errors).toEqual([]);
  });

  it("takes tags from a function of the response, and a page without tags stays untagged", async () => {
    const bench = pageBench();
    const handler = cachePage(60, {
      cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil,
      tags: (_request, response) => response.headers.get("x-tags")?.split(" "),
    })(async (request) => new Response(`${Math.random()}`, { headers: request.url.endsWith("tagged") ? { "x-tags": "a b" } : {} }));
    const tagged = await get(handler, bench, "https://example.com/tagged");
    const plain = await get(handler, bench, "https://example.com/plain");
    await purgeTag("b", { cache: bench.cache, now: bench.clock.now });
    expect((await get(handler, bench, "https://example.com/tagged")).body).not.toBe(tagged.body);
    expect((await get(handler, bench, "https://example.com/plain")).body).toBe(plain.body);
  });

  it("ends the page of a render that was under way when the purge came", async () => {
    const bench = pageBench();
    const slow = heldFirstRender();
    const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, tags: ["news"] })(slow.handler);
    const first = read(handler(new Request("https://example.com/news")));
    await slow.entered;
    bench.clock.advance(1);
    await purgeTag("news", { cache: bench.cache, now: bench.clock.now });
    bench.clock.advance(1); // the handler answers after the purge, too
    slow.release();
    expect((await first).body).toBe("render 1");
    await bench.settle();
    bench.clock.advance(1);
    const next = await get(handler, bench, "https://example.com/news");
    expect([next.body, next.cacheStatus]).toEqual(["render 2", "edgecache; fwd=stale; stored"]);
    expect((await get(handler, bench, "https://example.com/news")).cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it("reaches another isolate once its tagCheckMs is up, and at once with tagCheckMs 0", async () => {
    const bench = pageBench();
    const here = wrap(bench, { tags: ["t"] });
    // Another isolate: its own backend and cache over the same store, and an identity of its own, so nothing it remembers is shared.
    const elsewhere = { ...bench, cache: createCache({ backend: { ...bench.backend, identity: {} }, onWarning: () => {} }) };
    const there = wrap(elsewhere, { tags: ["t"] });
    const eager = wrap(elsewhere, { tags: ["t"], tagCheckMs: 0, keyPrefix: "eager" });
    await get(here, bench, "https://example.com/");
    await get(eager, bench, "https://example.com/");
    expect((await get(there, bench, "https://example.com/")).cacheStatus).toBe("edgecache; hit; ttl=60");
    await purgeTag("t", { cache: bench.cache, now: bench.clock.now });
    bench.clock.advance(0.5);
    // The other isolate read the tag's record half a second ago: it still trusts it...
    expect((await get(there, bench, "https://example.com/")).body).toBe("/ 1");
    // ...unless it trusts nothing it read.
    expect((await get(eager, bench, "https://example.com/")).cacheStatus).toBe("edgecache; fwd=stale; stored");
    bench.clock.advance(0.5);
    expect((await get(there, bench, "https://example.com/")).cacheStatus).toBe("edgecache; fwd=stale; stored");
    // The page it stored after the purge is good everywhere.
    expect((await get(here, bench, "https://example.com/")).cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it("treats a tag record the store lost as a purge, so old pages never come back", async () => {
    const bench = pageBench();
    const handler = wrap(bench, { tags: ["evicted"] });
    await get(handler, bench, "https://example.com/a");
    await get(handler, bench, "https://example.com/b");
    await bench.cache.delete("tag:evicted");
    bench.clock.advance(1);
    expect((await get(handler, bench, "https://example.com/a")).cacheStatus).toBe("edgecache; fwd=stale; stored");
    // Refilling /a wrote a new record, newer than /b's page: /b is not served either.
    expect((await get(handler, bench, "https://example.com/b")).cacheStatus).toBe("edgecache; fwd=stale; stored");
    expect((await get(handler, bench, "https://example.com/a")).cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it("purges every variant of a varying page, and its HEAD page", async () => {
    const bench = pageBench();
    const handler = wrap(bench, { tags: ["home"] }, { vary: "Accept-Language" });
    const english = { headers: { "accept-language": "en" } };
    const french = { headers: { "accept-language": "fr" } };
    await get(handler, bench, "https://example.com/", english);
    await get(handler, bench, "https://example.com/", french);
    await get(handler, bench, "https://example.com/head", { method: "HEAD" });
    await purgeTag("home", { cache: bench.cache, now: bench.clock.now });
    expect((await get(handler, bench, "https://example.com/", english)).cacheStatus).toBe("edgecache; fwd=stale; stored");
    expect((await get(handler, bench, "https://example.com/", french)).cacheStatus).toBe("edgecache; fwd=stale; stored");
    expect((await get(handler, bench, "https://example.com/head", { method: "HEAD" })).cacheStatus).toBe("edgecache; fwd=stale; stored");
  });

  it("files tags that no store would take as a key under their hash", async () => {
    const bench = pageBench();
    const tag = `ümlaut tag with spaces ${"x".repeat(200)}`;
    const handler = wrap(bench, { tags: [tag, "plain"] });
    await get(handler, bench, "https://example.com/");
    expect(await bench.cache.get("tag:plain")).toEqual([expect.any(Number), expect.any(Number)]); // a paired record: its soft purge record is beside it
    expect(await bench.cache.get(`tag#${await sha256Hex(tag)}`)).toEqual([expect.any(Number), expect.any(Number)]);
    await purgeTag(tag, { cache: bench.cache, now: bench.clock.now });
    expect((await get(handler, bench, "https://example.com/")).cacheStatus).toBe("edgecache; fwd=stale; stored");
  });

  it("does not store a page whose tags function throws or returns bad tags, and says why", async () => {
    const bench = pageBench();
    const throwing = wrap(bench, { tags: () => { throw new Error("no tags today"); } });
    const bad = wrap(bench, { tags: () => ["ok", ""], keyPrefix: "bad" });
    for (const handler of [throwing, bad]) {
      const first = await get(handler, bench, "https://example.com/");
      expect(first.cacheStatus).toBe("edgecache; fwd=uri-miss; detail=tags-failed");
      expect((await get(handler, bench, "https://example.com/")).cacheStatus).toBe("edgecache; fwd=uri-miss; detail=tags-failed");
    }
    expect(bench.errors.map(String)).toEqual([
      "Error: no tags today", "Error: no tags today",
      'TypeError: the tags options.tags returned[1] must be a non-empty string of at most 1024 characters without control characters, got ""',
      'TypeError: the tags options.tags returned[1] must be a non-empty string of at most 1024 characters without control characters, got ""',
    ]);
  });

  it("serves no purged page as stale, and a store that fails the tag check gives a miss, reported", async () => {
    const bench = pageBench();
    const handler = wrap(bench, { tags: ["t"], staleIfError: 600 });
    await get(handler, bench, "https://example.com/");
    await purgeTag("t", { cache: bench.cache, now: bench.clock.now });
    bench.clock.advance(61);
    const failing = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, tags: ["t"], staleIfError: 600 })(async () => new Response("down", { status: 503 }));
    expect((await get(failing, bench, "https://example.com/")).body).toBe("down");

    let down = false;
    const broken = pageBench((backend) => new Proxy(backend, {
      get: (target, property, receiver) => (property === "getMany" ? (keys: string[]) => (down ? Promise.reject(new Error("store down")) : target.getMany!(keys)) : Reflect.get(target, property, receiver) as unknown),
    }));
    const page = wrap(broken, { tags: ["t"] });
    await get(page, broken, "https://example.com/");
    broken.clock.advance(1); // past tagCheckMs: the record the write made is read again
    down = true;
    const miss = await get(page, broken, "https://example.com/");
    expect([miss.body, miss.cacheStatus]).toEqual(["/ 2", "edgecache; fwd=miss; stored"]);
    // The lookup's tag check failed, then the write's: both heard, neither an error page.
    expect(broken.errors.map(String)).toEqual(["Error: store down", "Error: store down"]);
  });

  describe("soft purges", () => {
    it("make a page stale from the purge: served while one request refreshes it, within its stale-while-revalidate window", async () => {
      const bench = pageBench();
      const handler = wrap(bench, { tags: ["t"], staleWhileRevalidate: 300 });
      await get(handler, bench, "https://example.com/");
      bench.clock.advance(10);
      await purgeTag("t", { cache: bench.cache, now: bench.clock.now, soft: true });
      bench.clock.advance(1);
      const stale = await get(handler, bench, "https://example.com/");
      expect([stale.body, stale.cacheStatus]).toEqual(["/ 1", "edgecache; hit; ttl=-1; detail=revalidating"]);
      const fresh = await get(handler, bench, "https://example.com/");
      expect([fresh.body, fresh.cacheStatus]).toEqual(["/ 2", "edgecache; hit; ttl=60"]);
    });

    it("make a page without a stale window a miss, and serve it when the handler fails within its stale-if-error window", async () => {
      const bench = pageBench();
      let failing = false;
      const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, tags: ["t"], staleIfError: 600 })(
        async (_request: Request) => (failing ? new Response("down", { status: 503 }) : new Response("page")));
      const plain = wrap(bench, { tags: ["t"], keyPrefix: "plain" });
      await get(handler, bench, "https://example.com/");
      await get(plain, bench, "https://example.com/");
      bench.clock.advance(1);
      await purgeTag("t", { cache: bench.cache, now: bench.clock.now, soft: true });
      bench.clock.advance(1);
      expect((await get(plain, bench, "https://example.com/")).cacheStatus).toBe("edgecache; fwd=stale; stored");
      failing = true;
      const stale = await get(handler, bench, "https://example.com/");
      expect([stale.status, stale.body, stale.cacheStatus]).toEqual([200, "page", "edgecache; hit; ttl=-1; detail=stale-if-error"]);
    });

    it("give way to a hard purge, and end the pages of a tag that has no record", async () => {
      const bench = pageBench();
      const handler = wrap(bench, { tags: ["t"], staleWhileRevalidate: 300 });
      const lost = wrap(bench, { tags: ["lost"], staleWhileRevalidate: 300 });
      await get(handler, bench, "https://example.com/");
      await get(lost, bench, "https://example.com/lost");
      bench.clock.advance(1);
      await purgeTag("t", { cache: bench.cache, now: bench.clock.now, soft: true });
      await purgeTag("t", { cache: bench.cache, now: bench.clock.now });
      await bench.cache.delete("tag:lost");
      await purgeTag("lost", { cache: bench.cache, now: bench.clock.now, soft: true });
      bench.clock.advance(1);
      expect((await get(handler, bench, "https://example.com/")).cacheStatus).toBe("edgecache; fwd=stale; stored");
      expect((await get(lost, bench, "https://example.com/lost")).cacheStatus).toBe("edgecache; fwd=stale; stored");
      // A page made after a soft purge is fresh.
      await purgeTag("t", { cache: bench.cache, now: bench.clock.now, soft: true });
      bench.clock.advance(1);
      expect((await get(handler, bench, "https://example.com/other")).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
      expect((await get(handler, bench, "https://example.com/other")).cacheStatus).toBe("edgecache; hit; ttl=60");
    });
  });

  it("sends the tags downstream in tagHeader, on the miss and on hits, as each CDN splits them", async () => {
    const bench = pageBench();
    const cloudflare = wrap(bench, { tags: byProduct, tagHeader: "Cache-Tag" });
    const fastly = wrap(bench, { tags: byProduct, tagHeader: "Surrogate-Key", keyPrefix: "fastly" });
    const untagged = wrap(bench, { tagHeader: "Cache-Tag", keyPrefix: "none" });
    for (let i = 0; i < 2; i++) {
      expect((await get(cloudflare, bench, "https://example.com/p?id=1")).headers.get("cache-tag")).toBe("product:1,catalogue");
      expect((await get(fastly, bench, "https://example.com/p?id=1")).headers.get("surrogate-key")).toBe("product:1 catalogue");
      expect((await get(untagged, bench, "https://example.com/p?id=1")).headers.has("cache-tag")).toBe(false);
    }
    const spaced = wrap(bench, { tags: () => ["two words"], tagHeader: "Surrogate-Key", keyPrefix: "spaced" });
    expect((await get(spaced, bench, "https://example.com/")).cacheStatus).toBe("edgecache; fwd=uri-miss; detail=tags-failed");
    expect(String(bench.errors[0])).toBe('TypeError: the tags options.tags returned[0] must hold no commas or whitespace, as options.tagHeader sends it in a header, got "two words"');
  });

  it("refuses bad tags and options, naming them, and fails loudly when the purge cannot be written", async () => {
    const bench = pageBench();
    expect(() => cachePage(60, { tags: "a" as never })).toThrow('options.tags must be an array of tags or a function, got "a"');
    expect(() => cachePage(60, { tags: ["a\nb"] })).toThrow('options.tags[0] must be a non-empty string of at most 1024 characters without control characters, got "a\\nb"');
    expect(() => cachePage(60, { tagCheckMs: -1 })).toThrow("options.tagCheckMs must be a number of 0 or more, got -1");
    expect(() => cachePage(60, { tagHeader: "Cache Tag" })).toThrow('options.tagHeader must be a header name or false, got "Cache Tag"');
    expect(() => cachePage(60, { tags: ["a,b"], tagHeader: "Cache-Tag" })).toThrow('options.tags[0] must hold no commas or whitespace, as options.tagHeader sends it in a header, got "a,b"');
    await expect(purgeTag("", { cache: bench.cache })).rejects.toThrow("tags[0] must be a non-empty string");
    await expect(purgeTag([42 as never], { cache: bench.cache })).rejects.toThrow("tags[0] must be a non-empty string of at most 1024 characters without control characters, got 42");
    await expect(purgeTag("a", { cache: bench.cache, soft: "yes" as never })).rejects.toThrow('options.soft must be true or false, got "yes"');
    await expect(purgeTag("a", { cache: () => bench.cache } as never)).rejects.toThrow("options.cache must be an EdgeCache or an alias (purgeTag has no request to call a selector function with)");
    const failing = createCache({
      backend: new Proxy(bench.backend, { get: (target, property, receiver) => (property === "setMany" ? () => Promise.reject(new Error("down")) : Reflect.get(target, property, receiver) as unknown) }),
      ignoreErrors: true,
      onWarning: () => {},
    });
    await expect(purgeTag(["a", "b"], { cache: failing })).rejects.toThrow("purgeTag could not write to the memory backend, so these tags were not purged there: a, b");
  });
});
