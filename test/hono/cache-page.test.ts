/** cachePage and cacheSite as Hono middleware, driven through `app.request()`. */
import { createRequire } from "node:module";
import { Hono, type MiddlewareHandler } from "hono";
import { every } from "hono/combine";
import { deleteCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { describe, expect, expectTypeOf, it } from "vitest";
import { memory } from "../../adapters/memory.ts";
import { cacheControl, cachePage, cacheSite, conditionalGet, isRefreshDispatch, varyOnCookie } from "../../src/hono.ts";
import type { Backend } from "../../src/backend.ts";
import { createCache, type EdgeCache } from "../../src/index.ts";
import { client, counting, executionContext, store } from "./helpers.ts";
import { fakeClock } from "../conformance/fake-clock.ts";

describe("cachePage middleware", () => {
  it("serves a hit without running the rest of the chain", async () => {
    const { clock, options } = store();
    const page = counting();
    let inner = 0;
    const app = new Hono().get("/", cachePage(60, options), async (_c, next) => {
      inner++;
      await next();
    }, page);
    const get = client(app);

    const miss = await get("/");
    expect([miss.body, miss.cacheStatus]).toEqual(["page 1", "edgecache; fwd=uri-miss; stored"]);
    clock.advance(10);
    const hit = await get("/");
    expect([hit.body, hit.cacheStatus, hit.headers.get("age")]).toEqual(["page 1", "edgecache; hit; ttl=50", "10"]);
    expect([page.calls, inner]).toEqual([1, 1]);
    clock.advance(51);
    expect((await get("/")).body).toBe("page 2");
  });

  it("replaces c.res: the handler's own headers never override the page cache's", async () => {
    const { options } = store();
    const app = new Hono().get("/", cachePage(60, options), counting("page", { "Cache-Control": "public, max-age=3600" }));
    const miss = await client(app)("/");
    expect(miss.headers.get("cache-control")).toBe("public, max-age=60");
    expect(miss.headers.get("expires")).toBe("Thu, 01 Jan 2026 00:01:00 GMT");
  });

  it("with stripSetCookie, stores a page whose route set a cookie with hono/cookie, and serves it without the cookie", async () => {
    const { options } = store();
    let renders = 0;
    const app = new Hono().get("/", cachePage(60, { ...options, stripSetCookie: true }), (c) => {
      setCookie(c, "sessionid", `visitor-${++renders}`, { httpOnly: true });
      return c.html("<h1>Welcome</h1>");
    });
    const get = client(app);
    const miss = await get("/");
    expect(miss.headers.getSetCookie()).toEqual(["sessionid=visitor-1; Path=/; HttpOnly"]);
    expect(miss.headers.get("cache-control")).toBe("max-age=60, private");
    const hit = await get("/");
    expect([hit.body, hit.cacheStatus, hit.headers.getSetCookie()]).toEqual(["<h1>Welcome</h1>", "edgecache; hit; ttl=60", []]);
    expect(renders).toBe(1);
  });

  it("answers a Range request on a hit with a 206 of the stored page", async () => {
    const { options } = store();
    const app = new Hono().get("/", cachePage(60, options), counting("0123456789"));
    const get = client(app);
    await get("/");
    const ranged = await get("/", { headers: { range: "bytes=6-9" } }); // "0123456789 1"
    expect([ranged.status, ranged.headers.get("content-range"), ranged.body, ranged.cacheStatus]).toEqual([206, "bytes 6-9/12", "6789", "edgecache; hit; ttl=60"]);
  });

  it("lets middleware registered before it edit both misses and hits", async () => {
    const { options } = store();
    const app = new Hono();
    app.use(async (c, next) => {
      await next();
      c.res.headers.set("X-Served-By", "edge-1");
    });
    app.get("/", cachePage(60, options), counting());
    const get = client(app);
    const answers = [await get("/"), await get("/")];
    expect(answers.map((answer) => [answer.body, answer.headers.get("x-served-by")])).toEqual([["page 1", "edge-1"], ["page 1", "edge-1"]]);
  });

  it("never stores the headers middleware above set for its request, and gives every answer its own", async () => {
    const { options } = store();
    const app = new Hono();
    app.use(async (c, next) => {
      c.header("X-Request-Id", c.req.header("x-request-id") ?? "none");
      if (c.req.header("x-first-visit")) setCookie(c, "visitor", c.req.header("x-first-visit")!);
      await next();
    });
    app.get("/", cachePage(60, options), counting());
    const get = client(app);
    const miss = await get("/", { headers: { "x-request-id": "req-A" } });
    const hit = await get("/", { headers: { "x-request-id": "req-B" } });
    expect([miss.headers.get("x-request-id"), miss.cacheStatus]).toEqual(["req-A", "edgecache; fwd=uri-miss; stored"]);
    expect([hit.headers.get("x-request-id"), hit.cacheStatus, hit.body]).toEqual(["req-B", "edgecache; hit; ttl=60", "page 1"]);
    // A cookie set above is this visitor's: a hit carries it, marked private.
    const visitor = await get("/", { headers: { "x-first-visit": "v-42" } });
    expect([visitor.headers.getSetCookie(), visitor.headers.get("cache-control"), visitor.cacheStatus]).toEqual([["visitor=v-42; Path=/"], "max-age=60, private", "edgecache; hit; ttl=60"]);
    expect((await get("/")).headers.getSetCookie()).toEqual([]);
  });

  it("stores only what the handler appended to a header set above: no visitor's value reaches another", async () => {
    const { options } = store();
    const app = new Hono();
    app.use(async (c, next) => {
      c.header("Server-Timing", `visitor;desc="${c.req.header("x-visitor") ?? "none"}"`);
      await next();
    });
    app.get("/", cachePage(60, options), (c) => {
      c.header("Server-Timing", "render;dur=12", { append: true });
      return c.text("page");
    });
    const get = client(app);
    const miss = await get("/", { headers: { "x-visitor": "alice" } });
    const hit = await get("/", { headers: { "x-visitor": "bob" } });
    expect([miss.headers.get("server-timing"), miss.cacheStatus]).toEqual(['visitor;desc="alice", render;dur=12', "edgecache; fwd=uri-miss; stored"]);
    expect([hit.headers.get("server-timing"), hit.cacheStatus]).toEqual(["render;dur=12", "edgecache; hit; ttl=60"]);
  });

  it("with allowSetCookie, stores the route's own cookies but never one set above (a session): each visitor gets only their own", async () => {
    const { options } = store();
    let visitors = 0;
    const app = new Hono();
    app.use(async (c, next) => {
      if (!c.req.header("cookie")) setCookie(c, "session", `visitor-${++visitors}`);
      await next();
    });
    app.get("/", cachePage(60, { ...options, allowSetCookie: true }), (c) => {
      setCookie(c, "banner", "v2");
      return c.text("home");
    });
    const get = client(app);
    const first = await get("/");
    expect([first.cacheStatus, first.headers.getSetCookie()]).toEqual(["edgecache; fwd=uri-miss; stored", ["session=visitor-1; Path=/", "banner=v2; Path=/"]]);
    const second = await get("/");
    expect([second.cacheStatus, second.headers.getSetCookie(), second.headers.get("cache-control")]).toEqual(["edgecache; hit; ttl=60", ["session=visitor-2; Path=/", "banner=v2; Path=/"], "max-age=60, private"]);
    const returning = await get("/", { headers: { cookie: "session=visitor-1" } });
    expect(returning.headers.getSetCookie()).toEqual(["banner=v2; Path=/"]);
  });

  it("with allowSetCookie, stores no line of a cookie set above, not even the route's own setting it again (a session saved anew)", async () => {
    const { options } = store();
    let visitors = 0;
    const app = new Hono();
    app.use(async (c, next) => {
      setCookie(c, "session", `visitor-${++visitors}`);
      await next();
    });
    app.get("/", cachePage(60, { ...options, allowSetCookie: true }), (c) => {
      setCookie(c, "session", `visitor-${visitors}`); // saved again, as session libraries do
      return c.text("home");
    });
    const get = client(app);
    await get("/");
    const second = await get("/");
    expect([second.cacheStatus, second.headers.getSetCookie()]).toEqual(["edgecache; hit; ttl=60", ["session=visitor-2; Path=/"]]);
  });

  it("with allowSetCookie, stores no line for the name of a cookie set above: a session the route rotates never reaches another visitor", async () => {
    const { options } = store();
    const app = new Hono();
    app.use(async (c, next) => {
      setCookie(c, "session", c.req.header("x-visitor")!);
      await next();
    });
    app.get("/", cachePage(60, { ...options, allowSetCookie: true }), (c) => {
      setCookie(c, "session", `${c.req.header("x-visitor")!}-rotated`);
      return c.text("home");
    });
    const get = client(app);
    expect((await get("/", { headers: { "x-visitor": "alice" } })).headers.getSetCookie()).toEqual(["session=alice; Path=/", "session=alice-rotated; Path=/"]);
    const bob = await get("/", { headers: { "x-visitor": "bob" } });
    expect([bob.cacheStatus, bob.headers.getSetCookie()]).toEqual(["edgecache; hit; ttl=60", ["session=bob; Path=/"]]);
  });

  it("answers the request that rendered the page with the chain's own Set-Cookie lines, in its order: a route that clears then sets again a cookie set above keeps it", async () => {
    const { options } = store();
    const app = new Hono();
    app.use(async (c, next) => {
      setCookie(c, "session", "A");
      await next();
    });
    app.get("/", cachePage(60, { ...options, stripSetCookie: true }), (c) => {
      deleteCookie(c, "session");
      setCookie(c, "session", "A");
      return c.text("home");
    });
    const miss = await client(app)("/");
    expect(miss.headers.getSetCookie()).toEqual(["session=A; Path=/", "session=; Max-Age=0; Path=/", "session=A; Path=/"]);
  });

  it("with stripSetCookie, keeps a cookie set above before the route's own on a miss, so the route's logout or rotation has the last word", async () => {
    const { options } = store();
    const app = new Hono();
    app.use(async (c, next) => {
      setCookie(c, "session", "old"); // refreshed on every request
      await next();
    });
    app.get("/logout", cachePage(60, { ...options, stripSetCookie: true }), (c) => {
      deleteCookie(c, "session");
      return c.text("bye");
    });
    const answer = await client(app)("/logout");
    expect(answer.headers.getSetCookie()).toEqual(["session=old; Path=/", "session=; Max-Age=0; Path=/"]);
  });

  it("judges a page by a targetedCacheControl field that middleware above set, as by Cache-Control", async () => {
    for (const field of ["Cache-Control", "Edgecache-Cache-Control"]) {
      const app = new Hono();
      app.use(async (c, next) => {
        if (c.req.header("x-user")) c.header(field, "no-store"); // signed in: not for this cache
        await next();
      });
      app.get("/", cachePage(60, { ...store().options, targetedCacheControl: ["Edgecache-Cache-Control", "CDN-Cache-Control"] }), (c) => c.text(`dashboard of ${c.req.header("x-user") ?? "nobody"}`));
      const get = client(app);
      const alice = await get("/", { headers: { "x-user": "alice" } });
      const anonymous = await get("/");
      expect([alice.body, alice.cacheStatus, anonymous.body], field).toEqual(["dashboard of alice", "edgecache; fwd=uri-miss; detail=no-store", "dashboard of nobody"]);
    }
  });

  it("sees headers set above it when it runs first in its route but not first for the request (hono/combine, or called by other middleware)", async () => {
    const requestId: MiddlewareHandler = async (c, next) => {
      c.header("X-Request-Id", c.req.header("x-request-id") ?? "none");
      await next();
    };
    const combined = new Hono();
    combined.get("/", every(requestId, cachePage(60, store().options)), counting());
    const called = new Hono();
    const pages = cachePage(60, store().options);
    called.use((c, next) => {
      c.header("X-Request-Id", c.req.header("x-request-id") ?? "none");
      return pages(c, next);
    });
    called.get("/", counting());
    for (const app of [combined, called]) {
      const get = client(app);
      const miss = await get("/", { headers: { "x-request-id": "req-A" } });
      const hit = await get("/", { headers: { "x-request-id": "req-B" } });
      expect([miss.headers.get("x-request-id"), hit.headers.get("x-request-id"), hit.cacheStatus]).toEqual(["req-A", "req-B", "edgecache; hit; ttl=60"]);
    }
  });

  it("serves an app built with another copy of Hono than the one edgecache imports (a CommonJS app's)", async () => {
    const { Hono: OtherHono } = createRequire(import.meta.url)("hono") as typeof import("hono");
    expect(OtherHono).not.toBe(Hono);
    const app = new OtherHono();
    app.use(cacheSite(store().options));
    app.get("/", counting());
    const get = client(app as unknown as Hono);
    const [miss, hit] = [await get("/"), await get("/")];
    expect([miss.status, miss.cacheStatus, hit.status, hit.cacheStatus, hit.body]).toEqual([200, "edgecache; fwd=uri-miss; stored", 200, "edgecache; hit; ttl=600", "page 1"]);
  });

  it("works without an execution context (Deno, Bun, Node): the write finishes in the background", async () => {
    const { options } = store();
    const page = counting();
    const app = new Hono().get("/", cachePage(60, options), page);
    const miss = await app.request("/");
    expect(await miss.text()).toBe("page 1");
    await expect.poll(async () => (await app.request("/")).headers.get("cache-status")).toMatch(/; hit;/);
    expect(page.calls).toBe(1);
  });

  it("hands cache writes to c.executionCtx.waitUntil when there is one", async () => {
    const { options } = store();
    const app = new Hono().get("/", cachePage(60, options), counting());
    const ctx = executionContext();
    await (await app.request("/", {}, {}, ctx)).text();
    expect(ctx.waited).toHaveLength(1);
    await Promise.all(ctx.waited);
    expect((await app.request("/")).headers.get("cache-status")).toMatch(/; hit;/);
  });

  it("picks its cache from the Workers bindings with a cache function", async () => {
    interface Bindings { TENANT: string }
    type AppEnv = { Bindings: Bindings };
    const tenants = new Map<string, EdgeCache>();
    const seen: unknown[] = [];
    const app = new Hono<AppEnv>();
    app.get("/", cachePage<AppEnv>(60, {
      cache: (request, env, ctx) => {
        expectTypeOf(env).toEqualTypeOf<Bindings>();
        seen.push([new URL(request.url).pathname, env.TENANT, typeof ctx.waitUntil]);
        if (!tenants.has(env.TENANT)) tenants.set(env.TENANT, createCache({ backend: memory() }));
        return tenants.get(env.TENANT)!;
      },
    }), (c) => c.text(`hello ${c.env.TENANT}`));

    const acme = client(app, { TENANT: "acme" });
    const globex = client(app, { TENANT: "globex" });
    expect((await acme("/")).cacheStatus).toMatch(/stored/);
    expect((await globex("/")).cacheStatus).toMatch(/stored/);
    const hit = await acme("/");
    expect([hit.body, hit.cacheStatus]).toEqual(["hello acme", "edgecache; hit; ttl=60"]);
    expect(seen[0]).toEqual(["/", "acme", "function"]);
    expect([...tenants.keys()]).toEqual(["acme", "globex"]);
  });

  it("keeps a copy per visitor with varyOnCookie after it", async () => {
    const { options } = store();
    const app = new Hono().get("/me", cachePage(60, options), varyOnCookie, (c) => c.text(`hi ${c.req.header("cookie") ?? "stranger"}`));
    const get = client(app);
    const alice = { headers: { Cookie: "user=alice" } };
    expect((await get("/me", alice)).cacheStatus).toMatch(/stored/);
    expect((await get("/me", { headers: { Cookie: "user=bob" } })).body).toBe("hi user=bob");
    const again = await get("/me", alice);
    expect([again.body, again.cacheStatus, again.headers.get("vary")]).toEqual(["hi user=alice", "edgecache; hit; ttl=60", "Cookie"]);
  });

  it("passes other methods through and labels them", async () => {
    const { options } = store();
    const app = new Hono().post("/", cachePage(60, options), counting());
    const get = client(app);
    const posts = [await get("/", { method: "POST" }), await get("/", { method: "POST" })];
    expect(posts.map((post) => [post.body, post.cacheStatus])).toEqual([["page 1", "edgecache; fwd=method"], ["page 2", "edgecache; fwd=method"]]);
  });

  it("rejects bad options when the middleware is built", () => {
    expect(() => cachePage(Number.NaN)).toThrow(TypeError);
    expect(() => cachePage(60, { maxBodyBytes: -1 })).toThrow(/options.maxBodyBytes/);
  });

  it("types as Hono middleware", () => {
    expectTypeOf(cachePage(60)).toEqualTypeOf<MiddlewareHandler>();
    expectTypeOf(cacheSite()).toEqualTypeOf<MiddlewareHandler>();
  });
});

describe("HEAD on a GET route", () => {
  it("is answered from the cached GET page without running the handler", async () => {
    const { options } = store();
    const page = counting();
    const app = new Hono().get("/", cachePage(60, options), page);
    const get = client(app);
    await get("/");
    const head = await get("/", { method: "HEAD" });
    expect([head.status, head.body, head.headers.get("content-length"), head.cacheStatus]).toEqual([200, "", "6", "edgecache; hit; ttl=60"]);
    expect(page.calls).toBe(1);
  });

  it("stores a HEAD miss under HEAD without holding up the GET that fills the page", async () => {
    // A long collapse window: were the HEAD miss still counted as filling the page, the
    // requests below would wait a minute for it (and the test would time out).
    const { options } = store();
    const page = counting();
    const app = new Hono().get("/", cachePage(60, { ...options, collapseMs: 60_000 }), page);
    const get = client(app);
    const heads = [await get("/", { method: "HEAD" }), await get("/", { method: "HEAD" })];
    expect(heads.map((head) => [head.body, head.headers.get("cache-status")?.includes("hit")])).toEqual([["", false], ["", true]]);
    const fill = await get("/");
    expect([fill.body, fill.cacheStatus]).toEqual(["page 2", "edgecache; fwd=uri-miss; stored"]);
    expect((await get("/", { method: "HEAD" })).cacheStatus).toBe("edgecache; hit; ttl=60");
  });
});

describe("stale pages", () => {
  it("serves a stale page while this request's run of the chain refreshes it", async () => {
    const { clock, options } = store();
    // The refresh waits for a slow upstream that the test releases once the refresh has started.
    let calls = 0;
    let release!: () => void;
    let refreshing!: () => void;
    const refreshStarted = new Promise<void>((resolve) => (refreshing = resolve));
    const app = new Hono().get("/", cachePage(60, { ...options, staleWhileRevalidate: 30 }), async (c) => {
      if (++calls === 2) {
        refreshing();
        await new Promise<void>((resolve) => (release = resolve));
      }
      return c.text(`page ${calls}`);
    });
    const get = client(app);
    await get("/");
    clock.advance(70);
    const pending = get("/");
    await refreshStarted;
    release();
    const stale = await pending;
    expect([stale.body, stale.cacheStatus]).toEqual(["page 1", "edgecache; hit; ttl=-10; detail=revalidating"]);
    const fresh = await get("/");
    expect([fresh.body, fresh.cacheStatus]).toEqual(["page 2", "edgecache; hit; ttl=60"]);
  });

  it("refreshes a stale page found by a HEAD or a conditional request with the whole GET page", async () => {
    const { clock, options } = store();
    let calls = 0;
    // Answers HEAD itself (as serveStatic does) and conditional requests with a 304.
    const app = new Hono().get("/", cachePage(60, { ...options, staleWhileRevalidate: 300 }), (c) => {
      calls++;
      if (c.req.header("if-none-match") === '"v"') return c.body(null, 304);
      return c.req.method === "HEAD" ? c.body(null, 200, { etag: '"v"' }) : c.body(`page ${calls}`, 200, { etag: '"v"' });
    });
    const get = client(app);
    await get("/");
    for (const init of [{ method: "HEAD" }, { headers: { "if-none-match": '"v"' } }]) {
      clock.advance(70);
      expect((await get("/", init)).cacheStatus).toMatch(/detail=revalidating/);
      const fresh = await get("/");
      expect([fresh.body, fresh.cacheStatus]).toEqual([`page ${calls}`, "edgecache; hit; ttl=60"]);
    }
    expect(calls).toBe(3);
  });

  it("refreshes a stale page on a store shared between processes, where the refresh first takes the fill lock", async () => {
    // A memory store marked as shared with an atomic add stands in for memcached or Upstash.
    const { clock, cache: local } = store();
    const backend: Backend = { ...local.backend, capabilities: { ...local.backend.capabilities, shared: true, atomicAdd: true } };
    const cache = createCache({ backend });
    const page = counting();
    const app = new Hono().get("/", cachePage(60, { cache, now: clock.now, staleWhileRevalidate: 30 }), page);
    const get = client(app);
    await get("/");
    clock.advance(70);
    const stale = await get("/");
    expect([stale.body, stale.cacheStatus]).toEqual(["page 1", "edgecache; hit; ttl=-10; detail=revalidating"]);
    const fresh = await get("/");
    expect([fresh.body, fresh.cacheStatus, page.calls]).toEqual(["page 2", "edgecache; hit; ttl=60", 2]);
  });

  it("given the app, answers a stale page at once and refreshes it in the background through the app", async () => {
    const { clock, options } = store();
    let calls = 0;
    let release!: () => void;
    const upstream = new Promise<void>((resolve) => (release = resolve));
    const app = new Hono();
    const dispatches: boolean[] = [];
    // A middleware before the cache's: its work on the refresh's dispatch must not be stored.
    app.use(async (c, next) => {
      dispatches.push(isRefreshDispatch(c.req.raw));
      await next();
      c.res.headers.append("x-outer", "1");
    });
    app.get("/", cachePage(60, { ...options, staleWhileRevalidate: 30, app }), async (c) => {
      if (++calls === 2) await upstream; // the refresh's render is slow
      return c.text(`page ${calls}`);
    });
    const get = client(app);
    await get("/");
    clock.advance(70);
    const ctx = executionContext();
    // Answered while the refresh still waits for its upstream (in-request, this would never return).
    const stale = await app.request("/", {}, {}, ctx);
    expect([await stale.text(), stale.headers.get("cache-status"), stale.headers.get("x-outer")]).toEqual(["page 1", "edgecache; hit; ttl=-10; detail=revalidating", "1"]);
    release();
    await Promise.all(ctx.waited);
    const fresh = await get("/");
    expect([fresh.body, fresh.cacheStatus, fresh.headers.get("x-outer"), calls]).toEqual(["page 2", "edgecache; hit; ttl=60", "1", 2]);
    expect(dispatches).toEqual([false, false, true, false]); // the miss, the stale hit, the refresh's dispatch, the fresh hit
  });

  it("given the app, refreshes in the background on a store shared between processes too", async () => {
    const { clock, cache: local } = store();
    const backend: Backend = { ...local.backend, capabilities: { ...local.backend.capabilities, shared: true, atomicAdd: true } };
    const page = counting();
    const app = new Hono();
    app.get("/", cachePage(60, { cache: createCache({ backend }), now: clock.now, staleWhileRevalidate: 30, app }), page);
    const get = client(app);
    await get("/");
    clock.advance(70);
    expect((await get("/")).cacheStatus).toBe("edgecache; hit; ttl=-10; detail=revalidating");
    const fresh = await get("/");
    expect([fresh.body, fresh.cacheStatus, page.calls]).toEqual(["page 2", "edgecache; hit; ttl=60", 2]);
  });

  it("given the app, reports a refresh that a middleware before the cache answered, and keeps the stale page", async () => {
    const { clock, options } = store();
    const errors: unknown[] = [];
    let requests = 0;
    const app = new Hono();
    app.use(async (c, next) => {
      if (++requests === 3) return c.text("busy", 503); // the refresh's dispatch
      await next();
    });
    const page = counting();
    app.get("/", cachePage(60, { ...options, staleWhileRevalidate: 30, app, onError: (error) => errors.push(error) }), page);
    const get = client(app);
    await get("/");
    clock.advance(70);
    expect((await get("/")).cacheStatus).toBe("edgecache; hit; ttl=-10; detail=revalidating");
    expect(errors.map(String)).toEqual(["Error: the refresh dispatched through options.app never reached the cache middleware: something before it answered"]);
    expect((await get("/")).body).toBe("page 1"); // the refresh failed moments ago: none is tried yet (errorBackoffMs)
    expect(requests).toBe(4);
    clock.advance(5);
    expect((await get("/")).body).toBe("page 1"); // its refresh is dispatched as the sixth request
    expect((await get("/")).body).toBe("page 2");
  });

  it("given the app, refreshes a page ahead of its expiry in the background; without it, refuses refreshAhead", async () => {
    const { clock, options } = store();
    const page = counting();
    const app = new Hono();
    app.get("/", cachePage(100, { ...options, refreshAhead: 0.5, app }), page);
    const get = client(app);
    await get("/");
    clock.advance(50);
    expect((await get("/")).cacheStatus).toBe("edgecache; hit; ttl=50; detail=refreshing");
    expect([(await get("/")).body, page.calls]).toEqual(["page 2", 2]);
    expect(() => cachePage(60, { refreshAhead: 0.5 })).toThrow("options.refreshAhead needs options.app");
  });

  it("refuses an app option that is not an app, naming it", () => {
    expect(() => cachePage(60, { app: {} as never })).toThrow("options.app must be the Hono app the middleware is mounted on (anything with a fetch method), got an object (Object)");
    expect(() => cacheSite({ app: 42 as never })).toThrow("options.app must be the Hono app the middleware is mounted on (anything with a fetch method), got 42");
  });

  it.each([
    ["a miss that found it kept for stale-if-error", { staleIfError: 3600 }],
    ["its refresh, in-request, within stale-while-revalidate", { staleWhileRevalidate: 300 }],
  ])("answers an HTTPException 404 as the handler's answer, never with the stale page, and drops that page: %s", async (_way, staleOption) => {
    const { clock, options } = store();
    let gone = false;
    let renders = 0;
    const heard: string[] = [];
    const onOutcome = (outcome: { fwd?: string; detail?: string }) => void heard.push(`${outcome.fwd} ${outcome.detail}`);
    const app = new Hono().get("/item", cachePage(60, { ...options, ...staleOption, onOutcome }), (c) => {
      renders++;
      if (gone) throw new HTTPException(404, { message: "no such item" });
      return c.text("item 42");
    });
    const get = client(app);
    await get("/item");
    clock.advance(61);
    gone = true;
    const first = await get("/item");
    expect([first.status, first.body, first.cacheStatus]).toEqual([404, "no such item", "edgecache; fwd=stale; detail=error"]);
    const later = await get("/item");
    expect([later.status, later.body, later.cacheStatus, renders]).toEqual([404, "no such item", "edgecache; fwd=uri-miss; detail=error", 3]);
    expect(heard.slice(1)).toEqual(["stale error", "uri-miss error"]); // each request told, as it was answered
  });

  it("answers with the 404 its in-request refresh stored (statusTimeouts), and serves it from then on", async () => {
    const { clock, options } = store();
    let status: 200 | 404 = 200;
    const app = new Hono().get("/item", cachePage(60, { ...options, staleWhileRevalidate: 300, statusTimeouts: { 404: 30 } }), (c) => c.text(status === 200 ? "item 42" : "no such item", status));
    const get = client(app);
    await get("/item");
    clock.advance(61);
    status = 404;
    const refreshing = await get("/item");
    expect([refreshing.status, refreshing.body, refreshing.cacheStatus]).toEqual([404, "no such item", "edgecache; fwd=stale; stored"]);
    const hit = await get("/item");
    expect([hit.status, hit.body, hit.cacheStatus]).toEqual([404, "no such item", "edgecache; hit; ttl=30"]);
  });

  it("answers a stale page whose in-request refresh failed at once, not once the store has freed its fill lock (a store call with no time limit)", async () => {
    const clock = fakeClock();
    const shared = memory({ now: clock.now });
    let slowLockRelease = false;
    const backend: Backend = {
      ...shared,
      capabilities: { ...shared.capabilities, shared: true },
      delete: (key) => (slowLockRelease && key.includes("lock.") ? new Promise<never>(() => {}) : shared.delete(key)),
    };
    let failing = false;
    const app = new Hono().get("/p", cachePage(60, { cache: createCache({ backend }), now: clock.now, staleWhileRevalidate: 300, staleIfError: 3600 }), (c) =>
      failing ? c.text("database down", 500) : c.text("page"));
    const get = client(app);
    await get("/p");
    clock.advance(61);
    [failing, slowLockRelease] = [true, true];
    const stale = await app.request("/p", {}, {}, executionContext()); // its waitUntil never settles: the lock's release hangs
    expect([stale.status, await stale.text(), stale.headers.get("cache-status")]).toEqual([200, "page", "edgecache; hit; ttl=-1; detail=revalidating"]);
  });

  it("never stores an HTTPException's 4xx, which the middleware below it patched nothing on: each visitor gets their own", async () => {
    const { options } = store();
    const app = new Hono().get("/doc", cachePage(60, { ...options, statusTimeouts: { 403: 30 } }), varyOnCookie, (c) => {
      throw new HTTPException(403, { message: `not shared with ${c.req.header("cookie")}` });
    });
    const get = client(app);
    const alice = await get("/doc", { headers: { cookie: "user=alice" } });
    const bob = await get("/doc", { headers: { cookie: "user=bob" } });
    expect([alice.status, alice.headers.get("vary"), alice.cacheStatus]).toEqual([403, null, "edgecache; fwd=uri-miss; detail=error"]);
    expect([bob.body, bob.cacheStatus]).toEqual(["not shared with user=bob", "edgecache; fwd=uri-miss; detail=error"]);
  });

  it("lets no header middleware patch an error answer: a 401 from bearerAuth below gets no cacheControl({ public: true }) lifetime", async () => {
    const app = new Hono().get("/api", cacheControl({ public: true, maxAge: 3600 }), () => {
      throw new HTTPException(401, { message: "no token" });
    });
    const answer = await client(app)("/api");
    expect([answer.status, answer.headers.get("cache-control")]).toEqual([401, null]);
  });

  it("lets the header middleware above patch the stale page it answers a thrown error with: cacheControl({ private: true }) stays on it", async () => {
    const { clock, options } = store();
    let fail = false;
    const app = new Hono().get("/me", cacheControl({ private: true }), cachePage(60, { ...options, staleIfError: 300 }), varyOnCookie, (c) => {
      if (fail) throw new Error("profile service down");
      return c.text("alice's profile");
    });
    app.onError((_error, c) => c.text("error", 500));
    const get = client(app);
    const alice = { headers: { cookie: "session=alice" } };
    expect((await get("/me", alice)).headers.get("cache-control")).toBe("max-age=60, stale-if-error=300, private");
    clock.advance(90);
    fail = true;
    const stale = await get("/me", alice);
    expect([stale.body, stale.cacheStatus, stale.headers.get("cache-control")]).toEqual(["alice's profile", "edgecache; hit; ttl=-30; detail=stale-if-error", "max-age=60, stale-if-error=300, private"]);
  });

  it("lets the header middleware above patch that stale page whatever copies it on the way up, and the stale page a refresh failed behind", async () => {
    const { clock, options } = store();
    let failing = false;
    const app = new Hono().get("/me", cacheControl({ private: true }), conditionalGet, cachePage(60, { ...options, staleIfError: 300, staleWhileRevalidate: 60 }), (c) => {
      if (failing) throw new HTTPException(503, { message: "profile service down" });
      return c.text("alice's profile");
    });
    app.onError((error, c) => (error instanceof HTTPException ? error.getResponse() : c.text("error", 500)));
    const get = client(app);
    await get("/me");
    clock.advance(90); // within stale-while-revalidate: this request refreshes it, and the refresh fails
    failing = true;
    const revalidating = await get("/me");
    expect([revalidating.body, revalidating.cacheStatus, revalidating.headers.get("cache-control")]).toEqual(["alice's profile", "edgecache; hit; ttl=-30; detail=revalidating", "max-age=60, stale-while-revalidate=60, stale-if-error=300, private"]);
    clock.advance(60); // past it: the stale page stands in for a failing handler
    const stale = await get("/me");
    expect([stale.cacheStatus, stale.headers.get("cache-control")]).toEqual(["edgecache; hit; ttl=-90; detail=stale-if-error", "max-age=60, stale-while-revalidate=60, stale-if-error=300, private"]);
  });

  it("ties a stale page standing in for an error to its request: another request throwing the same error object is answered as an error", async () => {
    const { clock, options } = store();
    const shared = new Error("upstream down"); // one object, thrown by every request that awaits the same failed load
    let failing = false;
    const app = new Hono();
    app.get("/me", cachePage(60, { ...options, staleIfError: 300 }), (c) => {
      if (failing) throw shared;
      return c.text("page");
    });
    app.get("/api", cacheControl({ public: true, maxAge: 3600 }), () => {
      throw shared;
    });
    app.onError((_error, c) => c.text("error", 500));
    const get = client(app);
    await get("/me");
    clock.advance(90);
    failing = true;
    expect((await get("/me")).cacheStatus).toBe("edgecache; hit; ttl=-30; detail=stale-if-error");
    const api = await get("/api");
    expect([api.status, api.headers.get("cache-control")]).toEqual([500, null]);
  });

  it("serves a stale page when the handler throws and Hono answers 500", async () => {
    const { clock, options } = store();
    let fail = false;
    const app = new Hono().get("/", cachePage(60, { ...options, staleIfError: 300 }), (c) => {
      if (fail) throw new Error("upstream down");
      return c.text("page");
    });
    app.onError((_error, c) => c.text("error", 500));
    const get = client(app);
    await get("/");
    clock.advance(90);
    fail = true;
    const stale = await get("/");
    expect([stale.status, stale.body, stale.cacheStatus]).toEqual([200, "page", "edgecache; hit; ttl=-30; detail=stale-if-error"]);
    clock.advance(300); // past the stale page: Hono's own error answer stands
    const error = await get("/");
    expect([error.status, error.body]).toEqual([500, "error"]);
  });
});

describe("cacheSite middleware", () => {
  it("caches each page of the app for its max-age, else for `seconds`, and skips max-age=0", async () => {
    const { clock, options } = store();
    const home = counting("home");
    const news = counting("news", { "Cache-Control": "max-age=30" });
    const live = counting("live", { "Cache-Control": "max-age=0" });
    const app = new Hono();
    app.use(cacheSite({ ...options, seconds: 120 }));
    app.get("/", home).get("/news", news).get("/live", live);
    const get = client(app);
    for (const path of ["/", "/news", "/live"]) await get(path);
    clock.advance(60);
    const answers = await Promise.all(["/", "/news", "/live"].map((path) => get(path)));
    expect(answers.map((answer) => answer.body)).toEqual(["home 1", "news 2", "live 2"]);
    expect(answers[0]!.cacheStatus).toBe("edgecache; hit; ttl=60");
  });

  it("lets a route's cachePage on the same store and key render and refresh for it, on a store with fill locks (memcached, Upstash)", async () => {
    const clock = fakeClock();
    const shared = memory({ now: clock.now });
    let claims = 0;
    const backend: Backend = { ...shared, capabilities: { ...shared.capabilities, shared: true, local: false }, add: (key, value, ttl) => (claims++, shared.add!(key, value, ttl)) };
    const options = { cache: createCache({ backend }), now: clock.now, staleWhileRevalidate: 300 };
    const report = counting("report");
    const app = new Hono();
    app.use(cacheSite(options));
    app.get("/report", cachePage(60, options), report);
    const get = client(app);
    expect((await get("/report")).body).toBe("report 1");
    expect(claims).toBe(1); // the site's fill lock, held for the route's layer, which neither claims nor waits
    clock.advance(90);
    expect((await get("/report")).cacheStatus).toBe("edgecache; hit; ttl=-30; detail=revalidating");
    expect(report.calls).toBe(2); // the refresh rendered
    expect((await get("/report")).body).toBe("report 2");
  });

  it("leaves 404s from Hono's not-found handler uncached", async () => {
    const { options } = store();
    const app = new Hono();
    app.use(cacheSite(options));
    const missing = await client(app)("/nowhere");
    expect([missing.status, missing.cacheStatus]).toEqual([404, "edgecache; fwd=uri-miss; detail=status"]);
  });
});
