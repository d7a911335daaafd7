/** Page caching over Upstash: pages shared between isolates, and failures that stay misses; tagged values purged across isolates. */
import { describe, expect, it } from "vitest";
import { upstash, type UpstashOptions } from "../../adapters/upstash.ts";
import { createCache } from "../../src/cache.ts";
import { BackendUnavailableError } from "../../src/errors.ts";
import { cachePage } from "../../src/page/cache-page.ts";
import { purgeTag } from "../../src/tags.ts";
import type { PageCacheOptions, PageErrorContext } from "../../src/page/options.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { freshPrefix, useUpstashStack } from "./stack.ts";

const stack = useUpstashStack("test");

/** One isolate's view: its own client and cache over the shared database, and a counting handler. */
function isolate(backend: UpstashOptions, pageOptions: PageCacheOptions = {}) {
  const rendered: string[] = [];
  const errors: Array<[unknown, PageErrorContext["operation"]]> = [];
  const writes: Promise<unknown>[] = [];
  const handler = cachePage(60, {
    cache: createCache({ backend: upstash(backend) }),
    waitUntil: (write) => writes.push(write),
    onError: (error, { operation }) => errors.push([error, operation]),
    ...pageOptions,
  })(async (request: Request) => {
    const { pathname } = new URL(request.url);
    rendered.push(pathname);
    if (pathname === "/logo.png") return new Response(Uint8Array.from({ length: 4096 }, (_, i) => (i * 31) % 256), { headers: { "content-type": "image/png" } });
    return new Response(`<h1>${pathname}</h1>`, { headers: { "content-type": "text/html" } });
  });
  /** A request read to the end (the page is stored while it streams), with its cache writes done. */
  const get = async (path: string) => {
    const response = await handler(new Request(`https://example.com${path}`));
    const body = new Uint8Array(await response.arrayBuffer());
    await Promise.all(writes.splice(0));
    return { status: response.status, headers: response.headers, body, text: new TextDecoder().decode(body) };
  };
  return { get, rendered, errors };
}

describe("cachePage over Upstash", () => {
  it("stores a page once and serves it to every isolate, binary bodies intact", async () => {
    const shared = { client: stack().client(), prefix: freshPrefix("pages") };
    const first = isolate(shared);
    const second = isolate({ ...shared, client: stack().client() });

    const html = await first.get("/about");
    expect(html.headers.get("cache-status")).toMatch(/fwd=uri-miss; stored/);
    const logo = await first.get("/logo.png");

    const cachedHtml = await second.get("/about");
    const cachedLogo = await second.get("/logo.png");
    expect(cachedHtml.headers.get("cache-status")).toMatch(/; hit; ttl=/);
    expect(cachedHtml.text).toBe("<h1>/about</h1>");
    expect(cachedLogo.headers.get("content-type")).toBe("image/png");
    expect(cachedLogo.body).toEqual(logo.body);
    expect(second.rendered).toEqual([]);
    expect(first.errors).toEqual([]);
  });

  it("a wrong token: the handler answers, nothing is stored, onError hears the rejected token", async () => {
    const site = isolate({ url: stack().server.url, token: "wrong-token" });
    for (const attempt of [1, 2]) {
      const response = await site.get("/about");
      expect(response.status, `attempt ${attempt}`).toBe(200);
      expect(response.text, `attempt ${attempt}`).toBe("<h1>/about</h1>");
    }
    expect(site.rendered).toEqual(["/about", "/about"]);
    expect(new Set(site.errors.map(([, operation]) => operation))).toEqual(new Set(["lookup", "store"]));
    for (const [error] of site.errors) {
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).message).toMatch(/rejected the token/);
    }
  });

  it("Redis stopped mid-test: pages become misses answered at once, not hangs", async () => {
    const site = isolate({ client: stack().client(), prefix: freshPrefix("pages") });
    await site.get("/about");
    expect((await site.get("/about")).headers.get("cache-status")).toMatch(/; hit/);

    await stack().redis.stop();
    const started = performance.now();
    const responses = await Promise.all(["/about", "/contact", "/about"].map(site.get));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(responses.map((response) => response.text)).toEqual(["<h1>/about</h1>", "<h1>/contact</h1>", "<h1>/about</h1>"]);
    expect(site.rendered.filter((path) => path === "/about").length).toBeGreaterThanOrEqual(2);
    expect(site.errors.length).toBeGreaterThan(0);
    expect(site.errors.every(([error]) => error instanceof BackendUnavailableError)).toBe(true);
  });

  it("Redis frozen mid-test: after three time-outs pages skip it at once, until it answers again", async () => {
    const clock = fakeClock();
    const site = isolate({ client: stack().client(), prefix: freshPrefix("pages") }, { timeoutMs: 200, circuitBreakMs: 5000, now: clock.now });
    await site.get("/about");
    stack().redis.freeze();
    await site.get("/about"); // its lookup times out, then its write
    expect((await site.get("/about")).headers.get("cache-status")).toBe("edgecache; fwd=miss; detail=store-down"); // the third
    expect(site.errors.map(([error]) => String(error))).toEqual([
      "BackendTimeoutError: the upstash backend took longer than 200 ms",
      "BackendTimeoutError: the upstash backend took longer than 200 ms",
      "BackendTimeoutError: the upstash backend took longer than 200 ms again: page caching leaves it alone for 5000 ms",
    ]);

    // Redis is still frozen: a request that called it would time out too. These never call it.
    const skipped = await Promise.all(["/about", "/contact"].map(site.get));
    expect(skipped.map((page) => [page.text, page.headers.get("cache-status")])).toEqual([
      ["<h1>/about</h1>", "edgecache; fwd=miss; detail=store-down"],
      ["<h1>/contact</h1>", "edgecache; fwd=miss; detail=store-down"],
    ]);
    expect(site.errors).toHaveLength(3);

    stack().redis.thaw();
    clock.advance(5);
    expect((await site.get("/contact")).headers.get("cache-status")).toBe("edgecache; fwd=uri-miss; stored");
    expect((await site.get("/contact")).headers.get("cache-status")).toMatch(/^edgecache; hit; ttl=/);
    expect(site.errors).toHaveLength(3);
  });
});

describe("cache tags over Upstash", () => {
  it("purges a tag from one isolate; a page another isolate stored under it is then a miss there too", async () => {
    const shared = { client: stack().client(), prefix: freshPrefix("tags") };
    const clock = fakeClock(Date.now());
    const writes: Promise<unknown>[] = [];
    const anIsolate = (name: string) => {
      const cache = createCache({ backend: upstash({ ...shared, client: stack().client() }) });
      let renders = 0;
      const handler = cachePage(60, { cache, now: clock.now, tags: ["news"], tagCheckMs: 0, waitUntil: (write) => void writes.push(write) })(
        async (_request: Request) => new Response(`${name} render ${++renders}`));
      const get = async () => {
        const response = await handler(new Request("https://example.com/news"));
        const body = await response.text();
        await Promise.all(writes.splice(0));
        return [body, response.headers.get("cache-status")];
      };
      return { cache, get };
    };
    const [one, two] = [anIsolate("one"), anIsolate("two")];
    expect(await one.get()).toEqual(["one render 1", "edgecache; fwd=uri-miss; stored"]);
    expect(await two.get()).toEqual(["one render 1", "edgecache; hit; ttl=60"]);
    clock.advance(1);
    await purgeTag("news", { cache: one.cache, now: clock.now });
    clock.advance(1);
    expect(await two.get()).toEqual(["two render 1", "edgecache; fwd=stale; stored"]);
    expect(await one.get()).toEqual(["two render 1", "edgecache; hit; ttl=60"]);
  });

  it("ends tagged low-level values (set, setMany, adaptive getOrSet) in every isolate with one purge, over the real client", async () => {
    const shared = { client: stack().client(), prefix: freshPrefix("value-tags") };
    const clock = fakeClock(Date.now());
    const anIsolate = () => createCache({ backend: upstash({ ...shared, client: stack().client() }), now: clock.now, tagCheckMs: 0 });
    const [one, two] = [anIsolate(), anIsolate()];
    await one.setMany({ "price:1": 10, "price:2": 20 }, { tags: ["product"] });
    expect(await two.getOrSet("listing", async () => ["lamp"], { tags: (listing) => listing.map((name) => `item:${name}`) })).toEqual(["lamp"]);
    expect(await one.getMany(["price:1", "price:2", "listing"])).toEqual(new Map<string, unknown>([["price:1", 10], ["price:2", 20], ["listing", ["lamp"]]]));
    clock.advance(1);
    await purgeTag(["product", "item:lamp"], { cache: two, now: clock.now });
    clock.advance(1);
    expect(await one.getMany(["price:1", "price:2", "listing"])).toEqual(new Map());
    expect(await one.add("price:1", 11, { tags: ["product"] })).toBe(true);
    expect(await two.get("price:1")).toBe(11);
  });
});
