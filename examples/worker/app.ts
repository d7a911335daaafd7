/**
 * The example Worker's app: a Hono app whose pages are cached by edgecache, in Workers KV and
 * in the Cache API, with cache writes carried past the response by `ctx.waitUntil`.
 *
 * Routes (every response carries `Cache-Status`):
 *   /kv/:page          cachePage(30) in Workers KV; the cache is picked per request from `env`
 *   /cache-api/:page   cachePage(30) in the Cache API
 *   /greeting          cachePage(30) in the Cache API, varying on Accept-Language
 *   /login             sets a cookie, so cachePage refuses to store it
 *   /report            low-level getOrSet in KV, through a binding imported at module scope
 *   /static            cacheControl: public, max-age=3600 (headers only, nothing stored here)
 *   /account           neverCache
 */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { cacheApi } from "../../adapters/cache-api.ts";
import { workersKv } from "../../adapters/workers-kv.ts";
import { cacheControl, cachePage, compose, createCache, type EdgeCache, neverCache, varyOnHeaders } from "../../src/index.ts";

/**
 * The Worker's bindings (see wrangler.toml).
 *
 * @example
 * const kv: KVNamespace = (env as Env).CACHE_KV;
 */
export interface Env {
  CACHE_KV: KVNamespace;
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

type Bindings = { Bindings: Env };
/** A page handler as Workers call it. */
type Page = (request: Request, env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }) => Response;

/** A page that says when it was rendered, so a hit is easy to spot. */
function render(title: string): Response {
  const html = `<!doctype html><title>${title}</title><h1>${title}</h1><p>rendered at ${new Date().toISOString()}</p>`;
  return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
}

/**
 * Build the app. One app per isolate: each cache keeps its state (write throttle, learned vary
 * lists) across requests.
 *
 * @example
 * export default createApp();
 */
export function createApp(options: AppOptions = {}): Hono<Bindings> {
  const { now } = options;
  const clock = now ? { now } : {};

  // Per request: a function of the handler's `env`, memoised per binding.
  const kvCaches = new WeakMap<KVNamespace, EdgeCache>();
  const kvPages = (_request: Request, bindings: Env): EdgeCache => {
    let cache = kvCaches.get(bindings.CACHE_KV);
    if (!cache) kvCaches.set(bindings.CACHE_KV, (cache = createCache({ backend: workersKv(bindings.CACHE_KV, { prefix: "pages:", ...clock }) })));
    return cache;
  };
  // At module scope: a binding imported from "cloudflare:workers" (no I/O happens until a request).
  const data = createCache({ backend: workersKv((env as Env).CACHE_KV, { prefix: "data:", ...clock }), timeout: PAGE_SECONDS });
  const cacheApiPages = createCache({ backend: cacheApi({ name: "pages", ...clock }) });

  const inKv = cachePage(PAGE_SECONDS, { cache: kvPages, ...clock });
  const inCacheApi = cachePage(PAGE_SECONDS, { cache: cacheApiPages, ...clock });
  const kvPage = inKv<Page>((request) => render(`KV: ${new URL(request.url).pathname}`));
  const cacheApiPage = inCacheApi<Page>((request) => render(`Cache API: ${new URL(request.url).pathname}`));
  const greeting = compose(inCacheApi, varyOnHeaders("Accept-Language"))<Page>((request) =>
    render(request.headers.get("accept-language")?.startsWith("fr") ? "Bonjour" : "Hello"));
  const login = inCacheApi<Page>(() => {
    const response = render("Signed in");
    response.headers.set("set-cookie", "session=abc; HttpOnly; Secure; Path=/");
    return response;
  });
  const staticPage = cacheControl({ public: true, maxAge: 3600 })<Page>(() => render("Static"));
  const account = neverCache<Page>(() => render("Your account"));

  const app = new Hono<Bindings>();
  app.get("/", (c) => c.text(["/kv/:page", "/cache-api/:page", "/greeting", "/login", "/report", "/static", "/account"].join("\n")));
  app.get("/kv/:page", (c) => kvPage(c.req.raw, c.env, c.executionCtx));
  app.get("/cache-api/:page", (c) => cacheApiPage(c.req.raw, c.env, c.executionCtx));
  app.get("/greeting", (c) => greeting(c.req.raw, c.env, c.executionCtx));
  app.get("/login", (c) => login(c.req.raw, c.env, c.executionCtx));
  app.get("/report", async (c) => c.json(await data.getOrSet("report", () => ({ builtAt: new Date().toISOString() }))));
  app.get("/static", (c) => staticPage(c.req.raw, c.env, c.executionCtx));
  app.get("/account", (c) => account(c.req.raw, c.env, c.executionCtx));
  return app;
}
