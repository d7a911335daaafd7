/** purgePage: a URL's cached pages go, GET and HEAD, every variant included, and stay gone. */
import { describe, expect, it, vi } from "vitest";
import { memory } from "../../adapters/memory.ts";
import type { Backend } from "../../src/backend.ts";
import { createCache } from "../../src/cache.ts";
import { cachePage, cacheSite } from "../../src/page/cache-page.ts";
import { getCacheKey, learnCacheKey } from "../../src/page/keys.ts";
import { purgePage } from "../../src/page/purge.ts";
import { type Bench, counted, get, heldFirstRender, pageBench, read } from "./setup.ts";

/** A cache over the bench's store as another isolate has it: an identity of its own hides this isolate's memos. */
const anotherIsolate = (bench: Bench) => createCache({ backend: { ...bench.backend, identity: {} }, onWarning: () => {} });

function wrap(bench: Bench, headers: Record<string, string> = {}, extra: Parameters<typeof cachePage>[1] = {}) {
  return cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, ...extra })(counted(headers));
}

describe("purgePage", () => {
  it("makes the next request for a purged page a miss, and leaves other pages alone", async () => {
    const bench = pageBench();
    const handler = wrap(bench);
    await get(handler, bench, "https://example.com/a");
    await get(handler, bench, "https://example.com/b");
    await purgePage("https://example.com/a", { cache: bench.cache, now: bench.clock.now });
    const a = await get(handler, bench, "https://example.com/a");
    const b = await get(handler, bench, "https://example.com/b");
    expect([a.body, a.cacheStatus]).toEqual(["/a 3", "edgecache; fwd=uri-miss; stored"]);
    expect([b.body, b.cacheStatus]).toEqual(["/b 2", "edgecache; hit; ttl=60"]);
  });

  it("purges every variant of a page that varies, and none comes back when the page is stored again", async () => {
    const bench = pageBench();
    const handler = wrap(bench, { vary: "Accept-Language" });
    const english = { headers: { "accept-language": "en" } };
    const french = { headers: { "accept-language": "fr" } };
    await get(handler, bench, "https://example.com/", english);
    await get(handler, bench, "https://example.com/", french);
    await purgePage(new URL("https://example.com/"), { cache: bench.cache, now: bench.clock.now });
    const refilled = await get(handler, bench, "https://example.com/", english);
    expect([refilled.body, refilled.cacheStatus]).toEqual(["/ 3", "edgecache; fwd=uri-miss; stored"]);
    // The French variant stored before the purge is not reachable through the new index.
    const afterwards = await get(handler, bench, "https://example.com/", french);
    expect([afterwards.body, afterwards.cacheStatus]).toEqual(["/ 4", "edgecache; fwd=vary-miss; stored"]);
    // Nor from another isolate (nothing memoised there).
    const elsewhere = wrap({ ...bench, cache: anotherIsolate(bench) }, { vary: "Accept-Language" });
    expect((await get(elsewhere, bench, "https://example.com/", french)).body).toBe("/ 4");
  });

  it.each([
    ["within tagCheckMs (a second)", {}, 1],
    ["at once with tagCheckMs: 0", { tagCheckMs: 0 }, 0],
  ])("reaches a varying page in an isolate that remembers its vary index %s", async (_label, extra, trustSeconds) => {
    const bench = pageBench();
    const here = wrap(bench, { vary: "Accept-Language" }, extra);
    const there = wrap({ ...bench, cache: anotherIsolate(bench) }, { vary: "Accept-Language" }, extra);
    const english = { headers: { "accept-language": "en" } };
    await get(here, bench, "https://example.com/", english);
    expect((await get(there, bench, "https://example.com/", english)).cacheStatus).toBe("edgecache; hit; ttl=60");
    await purgePage("https://example.com/", { cache: bench.cache, now: bench.clock.now });
    bench.clock.advance(trustSeconds / 2);
    if (trustSeconds > 0) expect((await get(there, bench, "https://example.com/", english)).cacheStatus).toMatch(/^edgecache; hit; /); // still trusts what it read
    bench.clock.advance(trustSeconds / 2);
    expect((await get(there, bench, "https://example.com/", english)).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
  });

  it("purges the HEAD page too, and reaches pages cached under a key prefix and a normalised query", async () => {
    const bench = pageBench();
    const keyed = { keyPrefix: "v2", query: { ignore: [/^utm_/] } };
    const handler = wrap(bench, {}, keyed);
    await get(handler, bench, "https://example.com/head-only", { method: "HEAD" });
    expect((await get(handler, bench, "https://example.com/head-only", { method: "HEAD" })).cacheStatus).toMatch(/^edgecache; hit/);
    await get(handler, bench, "https://example.com/p?utm_source=mail");
    await purgePage("https://example.com/head-only", { cache: bench.cache, now: bench.clock.now, ...keyed });
    await purgePage("https://example.com/p?utm_campaign=x", { cache: bench.cache, now: bench.clock.now, ...keyed });
    expect((await get(handler, bench, "https://example.com/head-only", { method: "HEAD" })).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    expect((await get(handler, bench, "https://example.com/p")).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
  });

  it.each([
    ["a page", {}],
    ["a page that varies", { vary: "Accept-Language" }],
  ])("does not store %s whose render was under way when the purge came", async (_label, headers) => {
    const bench = pageBench();
    const slow = heldFirstRender(headers);
    const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(slow.handler);
    const first = read(handler(new Request("https://example.com/article")));
    await slow.entered;
    bench.clock.advance(1);
    await purgePage("https://example.com/article", { cache: bench.cache, now: bench.clock.now });
    bench.clock.advance(1);
    slow.release();
    expect((await first).body).toBe("render 1");
    await bench.settle();
    const next = await get(handler, bench, "https://example.com/article");
    expect([next.body, next.cacheStatus]).toEqual(["render 2", expect.stringMatching(/^edgecache; fwd=(uri|vary)-miss; stored$/)]);
    expect((await get(handler, bench, "https://example.com/article")).cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it.each([
    ["a page", {}],
    ["a page that varies", { vary: "Accept-Language" }],
  ])("takes back %s stored by a render that looked for a purge just before one came", async (_label, headers) => {
    // The purge lands after the page's last look for one and before the page's first write.
    let purge: (() => Promise<void>) | undefined;
    const bench = pageBench((backend) => ({
      ...backend,
      async set(key, value, ttl) {
        const purgeNow = key.includes("example.com/article") && !key.includes("purged:") ? purge : undefined;
        purge = undefined;
        await purgeNow?.();
        return backend.set(key, value, ttl);
      },
    }));
    purge = () => purgePage("https://example.com/article", { cache: bench.cache, now: bench.clock.now });
    const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(counted(headers));
    expect((await get(handler, bench, "https://example.com/article")).body).toBe("/article 1");
    expect(purge).toBeUndefined(); // it came while the page was being written
    const next = await get(handler, bench, "https://example.com/article");
    expect([next.body, next.cacheStatus]).toEqual(["/article 2", "edgecache; fwd=uri-miss; stored"]);
  });

  it("takes back only its own page: one that a render begun after the purge stored meanwhile stays", async () => {
    // The purge lands as the first render writes; a second render begins after it, misses, and
    // stores its page before the first render looks for a purge again and takes its own back.
    const url = "https://example.com/article";
    let firstWritten = false;
    let purge: (() => Promise<void>) | undefined;
    let meanwhile: (() => Promise<unknown>) | undefined;
    const bench = pageBench((backend) => ({
      ...backend,
      async set(key, value, ttl) {
        const purgeNow = key.endsWith(url) && !key.includes("purged:") ? purge : undefined;
        purge = undefined;
        await purgeNow?.();
        await backend.set(key, value, ttl);
        if (purgeNow) firstWritten = true;
      },
      async get(key) {
        const now = firstWritten && key.includes("purged:page.GET") ? meanwhile : undefined;
        if (now) meanwhile = undefined;
        await now?.();
        return backend.get(key);
      },
    }));
    const options = { cache: bench.cache, now: bench.clock.now };
    const handler = cachePage(60, { ...options, waitUntil: bench.waitUntil })(counted());
    const secondWrites: Array<Promise<unknown>> = [];
    const second = cachePage(60, { ...options, waitUntil: (write) => void secondWrites.push(write) })(counted());
    purge = async () => {
      await purgePage(url, options);
      bench.clock.advance(1);
      expect((await read(second(new Request(url)))).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    };
    meanwhile = () => Promise.all(secondWrites);
    expect((await get(handler, bench, url)).body).toBe("/article 1");
    const next = await get(handler, bench, url);
    expect([next.body, next.cacheStatus]).toEqual(["/article 1", "edgecache; hit; ttl=60"]); // the second render's page
    expect(next.headers.get("age")).toBe("0");
  });

  it("never brings purged variants back through a vary index that a taken-back render wrote and another render read", async () => {
    // Render 1 stores the English variant. A purge lands while the French render writes, so that
    // render writes the old index back, then takes it back; a German render reads it in between.
    const url = "https://example.com/article";
    const language = (code: string) => new Request(url, { headers: { "accept-language": code } });
    let beforeWrite: ((key: string) => Promise<void>) | undefined;
    let aroundDelete: ((key: string, remove: () => Promise<boolean>) => Promise<boolean>) | undefined;
    const bench = pageBench((backend) => ({
      ...backend,
      async set(key, value, ttl) {
        await beforeWrite?.(key);
        return backend.set(key, value, ttl);
      },
      delete: (key) => (aroundDelete ? aroundDelete(key, () => backend.delete(key)) : backend.delete(key)),
    }));
    const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
    // English pages are kept 10 s, so their index (kept 20 s) does not outlast the French page: it is written again.
    const englishHandler = cachePage(10, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
    await get(englishHandler, bench, url, { headers: { "accept-language": "en" } });
    bench.clock.advance(1);
    let variantWrites = 0;
    let germanHasRead!: () => void;
    const germanRead = new Promise<void>((resolve) => (germanHasRead = resolve));
    let letGermanWrite!: () => void;
    const germanMayWrite = new Promise<void>((resolve) => (letGermanWrite = resolve));
    beforeWrite = async (key) => {
      if (!key.includes('"v.')) return;
      variantWrites++;
      if (variantWrites === 1) await purgePage(url, { cache: bench.cache, now: bench.clock.now }); // lands as French writes
      if (variantWrites === 2) {
        germanHasRead(); // German has read the index; it writes once French has taken it back
        await germanMayWrite;
      }
    };
    let baseDeletes = 0;
    let german: Promise<unknown> | undefined;
    aroundDelete = async (key, remove) => {
      if (key !== bench.cache.makeKey(`page.GET.0:.${url}`) || ++baseDeletes !== 2) return remove();
      german = read(handler(language("de"))); // French's take-back: German looks first
      await germanRead;
      const removed = await remove();
      letGermanWrite();
      return removed;
    };
    await read(handler(language("fr")));
    await expect.poll(() => german !== undefined).toBe(true);
    await german;
    await bench.settle();
    beforeWrite = aroundDelete = undefined;
    const english = await get(handler, bench, url, { headers: { "accept-language": "en" } });
    expect(english.body).not.toBe("/article 1"); // the purged render
  });

  it("takes the very options object a cacheSite was given, and refuses a name no wrapper knows", async () => {
    const bench = pageBench();
    const siteOptions = { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, keyPrefix: "site", seconds: 300 };
    const handler = cacheSite(siteOptions)(counted());
    await get(handler, bench, "https://example.com/a");
    await purgePage("https://example.com/a", siteOptions);
    expect((await get(handler, bench, "https://example.com/a")).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    await expect(purgePage("https://example.com/a", { ...siteOptions, keyprefix: "site" } as never)).rejects.toThrow("options.keyprefix is not an option of purgePage (did you mean keyPrefix?)");
  });

  it("keeps the variant key learnCacheKey gave after a purge: the next page stored there takes up its index", async () => {
    const bench = pageBench();
    const handler = wrap(bench, { vary: "Accept-Language" });
    const english = { headers: { "accept-language": "en" } };
    await get(handler, bench, "https://example.com/", english);
    await purgePage("https://example.com/", { cache: bench.cache, now: bench.clock.now });
    const request = new Request("https://example.com/", english);
    const learnt = await learnCacheKey(request, new Response("hi", { headers: { vary: "Accept-Language" } }), { cache: bench.cache, now: bench.clock.now });
    await get(handler, bench, "https://example.com/", { headers: { "accept-language": "fr" } });
    expect(await getCacheKey(request, { cache: bench.cache })).toBe(learnt);
  });

  it("keeps purged variants purged when learnCacheKey runs on an old index a render wrote back", async () => {
    const url = "https://example.com/article";
    const language = (code: string) => ({ headers: { "accept-language": code } });
    let beforeWrite: ((key: string) => Promise<void>) | undefined;
    let afterWrite: ((key: string) => Promise<void>) | undefined;
    const bench = pageBench((backend) => ({
      ...backend,
      async set(key, value, ttl) {
        await beforeWrite?.(key);
        const done = await backend.set(key, value, ttl);
        await afterWrite?.(key);
        return done;
      },
    }));
    const now = bench.clock.now;
    const handler = cachePage(60, { cache: bench.cache, now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
    // English pages are kept 10 s, so their index (kept 20 s) does not outlast the French page: it is written again.
    const englishHandler = cachePage(10, { cache: bench.cache, now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
    expect((await get(englishHandler, bench, url, language("en"))).body).toBe("/article 1"); // what the purge is for
    bench.clock.advance(1);
    const base = bench.cache.makeKey(`page.GET.0:.${url}`);
    let purged = false;
    let learnt = false;
    // A purge lands while the French render writes its variant, so it writes the old index back...
    beforeWrite = async (key) => {
      if (key.includes('"v.') && !purged) {
        purged = true;
        await purgePage(url, { cache: bench.cache, now });
      }
    };
    // ...and the app's learnCacheKey reads that index before the render takes it back.
    afterWrite = async (key) => {
      if (key === base && purged && !learnt) {
        learnt = true;
        await learnCacheKey(new Request(url, language("en")), new Response("x", { headers: { vary: "Accept-Language" } }), { cache: bench.cache, now });
      }
    };
    await get(handler, bench, url, language("fr"));
    beforeWrite = afterWrite = undefined;
    expect([purged, learnt]).toEqual([true, true]);
    bench.clock.advance(1);
    await get(handler, bench, url, language("de"));
    expect((await get(handler, bench, url, language("en"))).body).not.toBe("/article 1");
  });

  it("never brings purged variants back through a render begun just after the purge that read the index before the purge removed it", async () => {
    // The purge takes its time, then writes its record and removes the index. A German render begun
    // after that time finds no record yet, takes up the old index's epoch, and writes it back
    // once the purge has removed it: it must take it back, young as it is.
    const url = "https://example.com/article";
    const purge: { done?: Promise<void> } = {};
    let releasePurge!: () => void;
    const purgeMayWrite = new Promise<void>((resolve) => (releasePurge = resolve));
    let armed = false;
    const bench = pageBench((backend) => ({
      ...backend,
      async set(key, value, ttl) {
        if (armed && key.includes("purged:page.")) await purgeMayWrite;
        if (armed && key.includes('"v.')) {
          armed = false;
          releasePurge();
          await purge.done;
        }
        return backend.set(key, value, ttl);
      },
    }));
    const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
    const language = (code: string) => ({ headers: { "accept-language": code } });
    await get(handler, bench, url, language("en"));
    await get(handler, bench, url, language("fr"));
    bench.clock.advance(1);
    armed = true;
    purge.done = purgePage(url, { cache: bench.cache, now: bench.clock.now });
    await get(handler, bench, url, language("de"));
    await purge.done;
    bench.clock.advance(1);
    const french = await get(handler, bench, url, language("fr"));
    expect(french.cacheStatus).not.toMatch(/hit/);
  });

  it("never brings purged variants back through an old epoch that a render begun just after the purge wrote back and a later render read", async () => {
    // A French render begun just after the purge's time finds no purge record yet and takes up
    // the old index's epoch; it writes the index back once the purge has removed it. A German
    // render, begun after the purge, reads that index before the French one looks again: it must
    // not take up an epoch older than the purge, or the French take-back would leave it in place
    // (and its page stored under that epoch).
    const url = "https://example.com/article";
    let phase = "";
    const gate = () => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      let reach!: () => void;
      const reached = new Promise<void>((resolve) => (reach = resolve));
      return { opened, open, reached, reach };
    };
    const record = gate(), index = gate(), recheck = gate();
    const bench = pageBench((backend) => ({
      ...backend,
      async setMany(entries, ttl) {
        if (phase === "purging" && entries.some(([key]) => key.includes("purged:"))) {
          record.reach();
          await record.opened;
        }
        return backend.setMany!(entries, ttl);
      },
      async set(key, value, ttl) {
        if (phase === "french" && key === bench.cache.makeKey(`page.GET.0:.${url}`)) {
          index.reach();
          await index.opened;
          phase = "french looks again";
        }
        return backend.set(key, value, ttl);
      },
      async get(key) {
        if (phase === "french looks again" && key.includes("purged:")) {
          phase = "";
          recheck.reach();
          await recheck.opened;
        }
        return backend.get(key);
      },
    }));
    const isolate = (timeout = 60) => {
      const pending: Array<Promise<unknown>> = [];
      const cache = createCache({ backend: { ...bench.backend, identity: {} }, onWarning: () => {} });
      const handler = cachePage(timeout, { cache, now: bench.clock.now, waitUntil: (write) => void pending.push(write) })(counted({ vary: "Accept-Language" }));
      const ask = (code: string) => read(handler(new Request(url, { headers: { "accept-language": code } })));
      return { cache, ask, settle: () => Promise.all(pending) };
    };
    const english = isolate(10); // its index is kept 20 s: the French render, keeping its page a minute, writes it again
    expect((await english.ask("en")).cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
    await english.settle();
    bench.clock.advance(1);
    phase = "purging";
    const purged = purgePage(url, { cache: isolate().cache, now: bench.clock.now });
    await record.reached;
    bench.clock.advance(0.001);
    phase = "french";
    const french = isolate();
    await french.ask("fr");
    await index.reached;
    record.open();
    await purged;
    index.open();
    await recheck.reached;
    bench.clock.advance(0.001);
    const german = isolate(600); // keeping its pages longer than the French index lasts, so it writes it again
    await german.ask("de");
    await german.settle();
    recheck.open();
    await french.settle();
    bench.clock.advance(1);
    expect((await isolate().ask("en")).cacheStatus).not.toMatch(/hit/);
  });

  it("writes a URL's vary index once, not at every variant's first miss, while it outlasts the pages stored under it", async () => {
    const url = "https://example.com/article";
    let indexWrites = 0;
    const bench = pageBench((backend) => ({
      ...backend,
      set(key, value, ttl) {
        if (key.endsWith(`page.GET.0:.${url}`)) indexWrites++;
        return backend.set(key, value, ttl);
      },
    }));
    const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
    const ask = (code: string) => get(handler, bench, url, { headers: { "accept-language": code } });
    for (const code of ["en", "fr", "de"]) await ask(code);
    expect(indexWrites).toBe(1); // kept two minutes, twice as long as the pages
    bench.clock.advance(30);
    await ask("it");
    expect(indexWrites).toBe(1);
    bench.clock.advance(31);
    await ask("es"); // the index would go before this page: written again
    expect(indexWrites).toBe(2);
    for (const code of ["it", "es"]) expect((await ask(code)).cacheStatus).toMatch(/^edgecache; hit/);
  });

  it("counts the index's life as the cache's timeoutJitter may shorten it: a variant stored later is never left without its index", async () => {
    const url = "https://example.com/article";
    const bench = pageBench();
    const random = vi.spyOn(Math, "random").mockReturnValue(0.999); // the jitter takes off all it may
    try {
      const cache = createCache({ backend: bench.backend, timeoutJitter: 0.5, onWarning: () => {} });
      const handler = cachePage(60, { cache, now: bench.clock.now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
      const ask = (code: string) => get(handler, bench, url, { headers: { "accept-language": code } });
      await ask("en"); // its index kept two minutes less half: about 60 s
      bench.clock.advance(45);
      await ask("fr"); // kept a minute less half, about 30 s: past the index's end
      bench.clock.advance(16);
      expect((await ask("fr")).cacheStatus).toMatch(/^edgecache; hit/);
    } finally {
      random.mockRestore();
    }
  });

  it("forgets at once, in this isolate, a vary index whose read was in flight when the purge came", async () => {
    const url = "https://example.com/";
    let held: { reading: () => void; reply: Promise<void> } | undefined;
    const bench = pageBench((backend) => ({
      ...backend,
      async get(key) {
        const value = await backend.get(key); // the store answers now; the reply comes later
        if (held && key.endsWith(`page.GET.0:.${url}`)) {
          held.reading();
          await held.reply;
        }
        return value;
      },
    }));
    const handler = cachePage(60, { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil })(counted({ vary: "Accept-Language" }));
    const english = { headers: { "accept-language": "en" } };
    await get(handler, bench, url, english);
    bench.clock.advance(2); // what this isolate remembers of the index is no longer trusted
    let reading!: () => void;
    let reply!: () => void;
    const read = new Promise<void>((resolve) => (reading = resolve));
    held = { reading, reply: new Promise<void>((resolve) => (reply = resolve)) };
    const inFlight = get(handler, bench, url, english);
    await read;
    held = undefined;
    await purgePage(url, { cache: bench.cache, now: bench.clock.now });
    reply(); // the old index arrives after the purge
    await inFlight;
    expect((await get(handler, bench, url, english)).cacheStatus).not.toMatch(/hit/);
  });

  it("rejects when the store fails, with the cache's ignoreErrors too: the page may still be there", async () => {
    for (const failing of ["setMany", "delete"] as const) {
      const store = memory();
      const backend: Backend = { ...store, [failing]: () => Promise.reject(new Error("ECONNRESET")) };
      const cache = createCache({ backend, ignoreErrors: true, onError: () => {} });
      await expect(purgePage("https://example.com/a", { cache }), failing).rejects.toThrow(failing === "delete" ? "ECONNRESET" : "purgePage could not write to the");
    }
  });

  it("refuses a URL that is not one, naming the argument", async () => {
    await expect(purgePage("/relative")).rejects.toThrow('url must be an absolute URL string, a URL or a Request, got "/relative"');
    await expect(purgePage(42 as never)).rejects.toThrow("url must be an absolute URL string, a URL or a Request, got 42");
  });
});
