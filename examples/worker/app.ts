/**
 * The example Worker's app: a Hono app whose pages are cached by edgecache, in Workers KV and
 * in the Cache API, with cache writes carried past the response by `ctx.waitUntil`.
 *
 * Routes (every response carries `Cache-Status`):
 *   /kv/:page          cachePage(30) in Workers KV; the cache is picked per request from `env`
 *   /products/:id      cachePage(30) in Workers KV, filed under the tag `product:<id>`
 *   /products/:id/summary      a low-level value in the same KV cache (getOrSet), filed under the same tag
 *   POST /products/:id/purge   purgeTag(`product:<id>`): that product's pages and summary are rebuilt
 *                      (with `Authorization: Bearer <PURGE_TOKEN>`: a purge costs a rebuild, so not anyone's)
 *   /cache-api/:page   cachePage(30) in the Cache API
 *   /news              cachePage(30) in the Cache API, then served stale for 5 minutes while a
 *                      background dispatch through the app refreshes it
 *   /greeting          cachePage(30) in the Cache API, varying on Accept-Language
 *   /login             sets a cookie, so cachePage refuses to store it
 *   /report            low-level getOrSet in KV, through a binding imported at module scope,
 *                      rebuilt in the background (refreshAhead) once 80% of its 30 s have passed
 *   /static            cacheControl: public, max-age=3600 (headers only, nothing stored here)
 *   /account           neverCache
 */
import { env } from "cloudflare:workers";
import { type Context, Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { html } from "hono/html";
import { cacheApi } from "../../adapters/cache-api.ts";
import { workersKv } from "../../adapters/workers-kv.ts";
import { cacheControl, cachePage, neverCache, varyOnHeaders } from "../../src/hono.ts";
import { createCache, type EdgeCache, purgeTag } from "../../src/index.ts";

/**
 * The Worker's bindings (see wrangler.toml).
 *
 * @example
 * const kv: KVNamespace = (env as Env).CACHE_KV;
 */
export interface Env {
  CACHE_KV: KVNamespace;
  /** What `POST /products/:id/purge` asks for (wrangler.toml's, for `wrangler dev`; `npx wrangler secret put PURGE_TOKEN` when deployed). */
  PURGE_TOKEN: string;
}

/**
 * Options of `createApp`: the clock, so tests can let 30 s pass at once.
 *
 * @example
 * const app = createApp({ now: clock.now });
 */
export interface AppOptions {
  now?: () => number;
}

/** Seconds pages stay cached: under KV's 60 s minimum TTL on purpose. */
const PAGE_SECONDS = 30;

type App = { Bindings: Env };

/** A page that says when it was rendered, so a hit is easy to spot. `html` escapes the title: it comes from the URL, and the page is cached. */
function render(c: Context<App>, title: string): Response | Promise<Response> {
  return c.html(html`<!doctype html><title>${title}</title><h1>${title}</h1><p>rendered at ${new Date().toISOString()}</p>`);
}

/** The product id in the path's last segment, decoded as Hono decodes `c.req.param("id")` (left as it is when malformed), so tags made from either agree. */
function productIdOf(request: Request): string {
  const segment = new URL(request.url).pathname.split("/").pop()!;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Build the app. One app per isolate: each cache keeps its state (write throttle, learned vary
 * lists) across requests.
 *
 * @example
 * export default createApp();
 */
export function createApp(options: AppOptions = {}): Hono<App> {
  const clock = options.now ? { now: options.now } : {};

  // Per request: a function of the handler's `env`, memoised per binding.
  const kvCaches = new WeakMap<KVNamespace, EdgeCache>();
  const kvPages = (_request: Request, bindings: Env): EdgeCache => {
    let cache = kvCaches.get(bindings.CACHE_KV);
    if (!cache) kvCaches.set(bindings.CACHE_KV, (cache = createCache({ backend: workersKv(bindings.CACHE_KV, { prefix: "pages:", ...clock }), ...clock })));
    return cache;
  };
  // At module scope: a binding imported from "cloudflare:workers" (no I/O happens until a request).
  const data = createCache({ backend: workersKv((env as Env).CACHE_KV, { prefix: "data:", ...clock }), timeout: PAGE_SECONDS });
  const cacheApiPages = createCache({ backend: cacheApi({ name: "pages", ...clock }) });
  const inKv = cachePage<App>(PAGE_SECONDS, { cache: kvPages, ...clock });
  const productTag = (id: string) => `product:${id}`;
  const taggedInKv = cachePage<App>(PAGE_SECONDS, { cache: kvPages, tags: (request) => [productTag(productIdOf(request))], ...clock });
  const inCacheApi = cachePage<App>(PAGE_SECONDS, { cache: cacheApiPages, ...clock });
  let summaries = 0;

  const app = new Hono<App>();
  app.get("/", (c) => c.text(["/kv/:page", "/cache-api/:page", "/products/:id", "/products/:id/summary", "POST /products/:id/purge", "/news", "/greeting", "/login", "/report", "/static", "/account"].join("\n")));
  app.get("/kv/:page", inKv, (c) => render(c, `KV: ${c.req.path}`));
  app.get("/products/:id", taggedInKv, (c) => render(c, `Product ${c.req.param("id")}`));
  app.get("/products/:id/summary", async (c) => {
    const id = c.req.param("id");
    const summary = await kvPages(c.req.raw, c.env).getOrSet(`summary:${id}`, () => ({ product: id, build: ++summaries }), { timeout: PAGE_SECONDS, tags: [productTag(id)] });
    return c.json(summary);
  });
  app.post("/products/:id/purge", bearerAuth({ verifyToken: (token, c) => token === (c.env as Env).PURGE_TOKEN }), async (c) => {
    await purgeTag(productTag(c.req.param("id")), { cache: kvPages(c.req.raw, c.env), ...clock });
    return c.body(null, 204);
  });
  app.get("/cache-api/:page", inCacheApi, (c) => render(c, `Cache API: ${c.req.path}`));
  app.get("/news", cachePage<App>(PAGE_SECONDS, { cache: cacheApiPages, staleWhileRevalidate: 300, app, ...clock }), (c) => render(c, "News"));
  app.get("/greeting", inCacheApi, varyOnHeaders("Accept-Language"), (c) =>
    render(c, c.req.header("accept-language")?.startsWith("fr") ? "Bonjour" : "Hello"));
  app.get("/login", inCacheApi, (c) => {
    c.header("set-cookie", "session=abc; HttpOnly; Secure; Path=/");
    return render(c, "Signed in");
  });
  // From 24 s of its 30 on, the report is answered as it is and rebuilt behind the response.
  app.get("/report", async (c) => c.json(await data.getOrSet("report", () => ({ builtAt: new Date().toISOString() }), { refreshAhead: 0.8, waitUntil: (rebuild) => c.executionCtx.waitUntil(rebuild) })));
  app.get("/static", cacheControl({ public: true, maxAge: 3600 }), (c) => render(c, "Static"));
  app.get("/account", neverCache, (c) => render(c, "Your account"));
  return app;
}
