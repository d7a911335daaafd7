/**
 * `edgecache/hono`: the wrappers as Hono middleware, with the same names and arguments. Each
 * middleware builds its wrapper once; per request it runs the wrapper around the rest of Hono's
 * chain (`next()`) and puts the wrapper's response in `c.res`. No caching logic lives here: a
 * cache hit simply never calls `next()`.
 *
 * The wrapped handler is called as `(c.req.raw, c.env, ctx)`, like a Workers fetch handler, so a
 * `cache` function gets the bindings, and `ctx.waitUntil` hands cache writes to
 * `c.executionCtx.waitUntil`. Deno, Bun and Node have no execution context: writes then finish in
 * the background.
 *
 * Stale pages: Hono's context cannot be used once its request is answered, so by default a stale
 * page's refresh runs the chain before the stale page is answered. Given the app (`options.app`),
 * the stale page is answered at once and the refresh dispatches the request through the app
 * again, in the background; this middleware recognises that dispatch by its Request object (no
 * header a client could forge) and hands the chain's response below it to the refresh.
 *
 * HEAD requests: Hono runs the GET route and drops the body. The page cache answers a HEAD from
 * the stored GET page, then from a stored HEAD page; on a miss it stores the HEAD response (without
 * a body, as Django does) and cancels the body nobody will read.
 *
 * Headers the middleware above sets before `next()` (`c.header`: a request id, a CSRF token, CORS)
 * belong to this request, as Django's outer middleware adds its headers after the cache step:
 * the page-caching middleware keeps them out of what it stores, and adds them to every answer,
 * hit or miss (the header middleware stores nothing, and leaves them as they are). Hono shows
 * them only in a Response built for the purpose (a few µs in workerd), which is skipped when the
 * middleware is the first handler of the request, with nothing above it.
 * Those the page cache judges a response by (Set-Cookie, Cache-Control, the `targetedCacheControl`
 * fields, Vary) stay in: a cookie or `private` set above still keeps the page out of the cache.
 * Not cookies where the page cache stores or strips them (`allowSetCookie`, `stripSetCookie`):
 * a cookie set above is then this visitor's, kept out of the page as the other headers are.
 *
 * Errors: Hono turns an error thrown below into its `onError` response before `next()` returns.
 * The header wrappers hear it as the error it was (`cacheControl` patches nothing, as Django's
 * decorators patch nothing when the view raises: a 401 gets no public lifetime), and page caching
 * does when it is a server error (a stale page may stand in: the wrappers above patch that page
 * as any answer, as the stale page answered while this request's refresh failed). Any other
 * answer of `onError` (an `HTTPException`'s 4xx, a redirect) is page caching's answer, neither
 * patched nor stored (`detail=error`): the wrappers below it patched nothing, so a visitor's 403
 * would reach others without its Vary. If the wrapper has no answer of its own, Hono's stands.
 */
import type { Context, Env, ExecutionContext, MiddlewareHandler, Next } from "hono";
import { describe, type Timeout } from "./arguments.ts";
import type { EdgeCache } from "./cache.ts";
import { type CacheControlDirectives, markPrivate } from "./http/cache-control.ts";
import { editHeaders } from "./http/headers.ts";
import type { ConditionalGetOptions } from "./http/conditional.ts";
import { pageCaching, siteCaching, type SiteCacheOptions } from "./page/cache-page.ts";
import type { PageCacheOptions } from "./page/options.ts";
import { errorAnswers } from "./page/policy.ts";
import { standInAnswers } from "./page/answer.ts";
import type { Wrapper } from "./types.ts";
import * as wrappers from "./wrappers.ts";

/**
 * What the wrapped handler gets as its third argument, like a Workers `ctx`: `waitUntil` hands a
 * promise to `c.executionCtx` where there is one (Workers) and otherwise lets it finish in the
 * background (Deno, Bun, Node).
 *
 * @example
 * const selector: HonoCacheSelector<AppEnv> = (_request, env, ctx) => { ctx.waitUntil(warmUp(env)); return pages; };
 */
export type WaitUntilContext = Pick<ExecutionContext, "waitUntil">;

/**
 * Which cache a page middleware stores into: a cache, an alias from `configureCaches`, or a
 * function of the request, the Hono bindings (`c.env`) and a {@link WaitUntilContext}.
 *
 * @example
 * const pages: HonoCacheSelector<{ Bindings: { PAGES: KVNamespace } }> = (_request, env) => createCache({ backend: workersKv(env.PAGES) });
 */
export type HonoCacheSelector<E extends Env> =
  | EdgeCache
  | string
  | ((request: Request, env: E["Bindings"], ctx: WaitUntilContext) => EdgeCache);

/**
 * Options of the `cachePage` middleware: those of edgecache's `cachePage`, with `cache` typed
 * for the app's bindings.
 *
 * @example
 * const options: HonoPageCacheOptions<{ Bindings: Bindings }> = { cache: (_request, env) => pagesCache(env), keyPrefix: "v2" };
 */
export interface HonoPageCacheOptions<E extends Env = Env> extends Omit<PageCacheOptions, "cache"> {
  /** Where pages are stored. Default: the `default` alias (`caches.default`). */
  cache?: HonoCacheSelector<E>;
  /**
   * The app that serves the requests: the root app, not a sub-app mounted with `app.route()`
   * (which does not route the full URL). With it, a stale page (see `staleWhileRevalidate`) is
   * answered at once and refreshed in the background, by a second dispatch of the request through
   * the app (carried by `waitUntil`) whose chain below this middleware renders the new page.
   * Without it, the refresh runs the chain before the stale page is answered. Default: none.
   */
  app?: RefreshDispatcher;
}

/**
 * What a background refresh needs of the app: Hono's `app.fetch`.
 *
 * @example
 * const app = new Hono();
 * app.get("/news", cachePage(60, { staleWhileRevalidate: 300, app }), renderNews);
 */
export interface RefreshDispatcher {
  fetch(request: Request, env?: unknown, executionCtx?: ExecutionContext): Response | Promise<Response>;
}

/**
 * Options of the `cacheSite` middleware: those of edgecache's `cacheSite`, with `cache` typed
 * for the app's bindings.
 *
 * @example
 * const options: HonoSiteCacheOptions = { seconds: 300, query: { ignore: [/^utm_/] } };
 */
export type HonoSiteCacheOptions<E extends Env = Env> = Omit<SiteCacheOptions, "cache"> & Pick<HonoPageCacheOptions<E>, "cache" | "app">;

/** The requests that page-caching middleware dispatched through an app to refresh a stale page. */
const refreshDispatches = new WeakSet<Request>();

/**
 * Whether `request` is a page refresh that a cache middleware given `options.app` dispatched
 * through the app in the background. Middleware mounted before the cache's runs on it too: skip
 * logging, metrics or rate limits for it there. A client cannot make a request look like one (it
 * is recognised by its Request object, not by a header).
 *
 * @example
 * app.use(async (c, next) => {
 *   if (!isRefreshDispatch(c.req.raw)) requests.inc({ path: c.req.path });
 *   await next();
 * });
 */
export function isRefreshDispatch(request: Request): boolean {
  return refreshDispatches.has(request);
}

/** The downstream chain for `request`, passed to the wrapped handler as its fourth argument. */
type Forward = (request: Request) => Promise<Response>;

/**
 * A `ctx` whose `waitUntil` goes to `c.executionCtx` when there is one. The getter throws where
 * the adapter passed none, and building that Error cost more than the cache read itself on a
 * Node hit, so it is only touched when something is scheduled (a store, a refresh).
 */
function waitUntilContext(c: Context): WaitUntilContext {
  return {
    waitUntil(promise) {
      let ctx: ExecutionContext;
      try {
        ctx = c.executionCtx;
      } catch {
        return; // Deno, Bun, Node: the promise is already running and finishes in the background
      }
      ctx.waitUntil(promise);
    },
  };
}

/**
 * Run `wrapper` as middleware, the rest of the chain being the wrapped handler. `pages` for a
 * page-caching wrapper (see the module's notes on headers set above and errors); with its `app`,
 * a request the wrapper runs the handler for that is not this request's own (a stale page's
 * refresh) is dispatched through the app again.
 */
function middleware<E extends Env>(wrapper: Wrapper, pages?: { app: RefreshDispatcher | undefined; judged: ReadonlySet<string> }): MiddlewareHandler<E> {
  const app = pages?.app;
  const judged = pages?.judged;
  const handle = wrapper((request: Request, _env: unknown, _ctx: unknown, forward: Forward) => forward(request));
  /** Refreshes dispatched through the app, by their Request: where the chain's response goes. */
  const refreshes = new WeakMap<Request, (response: Response | PromiseLike<Response>) => void>();
  const self: MiddlewareHandler<E> = async (c, next) => {
    const above = pages && !runsFirst(c, self) ? headersSetAbove(c) : undefined;
    const erredBefore = c.error;
    /** The headers set above that the chain appended to, each with the value set above (none on a hit path with nothing above). */
    const appended: Array<[string, string]> = above ? [] : NOTHING_APPENDED;
    /** The chain's own Set-Cookie lines, where some set above were left out of the page (see `withoutHeaders`). */
    const sentCookies: SentCookies = above ? {} : NOTHING_SENT;
    /** The chain's response once it has run: its error if Hono turned one into it, without the headers set above. */
    const rendered = (): Response => {
      if (c.error !== erredBefore && answeredErrors.get(c) !== c.error) {
        // Hono's answer to an error thrown below: the error it was, to a header wrapper (which
        // patches nothing) and to page caching when it is a server error (a stale page may stand
        // in); a 4xx (an HTTPException's) is page caching's answer, which it neither patches nor stores.
        if (!pages || c.res.status >= 500) throw c.error;
        errorAnswers.add(c.res);
        return c.res;
      }
      return above && judged ? withoutHeaders(c.res, above, judged, appended, sentCookies) : c.res;
    };
    const refreshed = app && refreshes.get(c.req.raw);
    if (refreshed) {
      // A refresh's dispatch: the chain below renders the page, which goes to the refresh.
      await next();
      let page: Response | Promise<never>;
      try {
        page = rendered();
      } catch (error) {
        page = Promise.reject(error);
      }
      refreshed(page);
      c.res = undefined;
      c.res = new Response(null, { status: 204 }); // the dispatch's own answer goes nowhere
      return;
    }
    let downstream: Promise<Response> | undefined;
    // Read c.res as soon as the chain finishes, before anything else can replace it.
    const forward: Forward = (request) =>
      request === c.req.raw || app === undefined ? (downstream = runChain(c, next, request).then(rendered)) : dispatchRefresh(app, request, c, refreshes);
    let response: Response;
    try {
      response = await handle(c.req.raw, c.env, waitUntilContext(c), forward);
    } catch (error) {
      // The chain's own error, which Hono's onError has made c.res already: that answer stands.
      if (downstream && error === c.error && error !== erredBefore) return;
      throw error;
    }
    if (downstream) {
      // The chain ran for a miss, or for a stale page's refresh (which the wrapper runs before
      // answering: see "in-request"); the chain belongs to this request, so it has finished or
      // finishes before the context is handed back. Its failure has already been reported or
      // turned into the response by the wrapper.
      await downstream.catch(() => {});
      c.res = undefined; // replace, rather than merge the handler's old headers over ours
    }
    c.res = above ? withHeaders(response, above, appended, sentCookies) : response;
    // A stale page stood in for a chain that failed (stale-if-error, or a refresh run in this
    // request): the request is answered, and the middleware above patch that answer as any
    // other, whatever copies it on the way up (compress, conditionalGet).
    if (pages && c.error !== erredBefore && standInAnswers.has(response)) answeredErrors.set(c, c.error);
  };
  return self;
}

/**
 * Per request (its context), the error thrown below a page-caching middleware that answered with a
 * stale page all the same (see `middleware`): tied to the request, as one error object may be
 * thrown again by another (a module's shared `HTTPException`, a rejected promise many await).
 */
const answeredErrors = new WeakMap<Context, unknown>();

/** The Set-Cookie lines the chain sent, and those of them kept for the page, once `withoutHeaders` left some set above out. */
interface SentCookies {
  sent?: readonly string[];
  kept?: readonly string[];
}

/**
 * Run the rest of the chain for `request`. A refresh may need another request than the
 * context's own (a GET for a HEAD, without the client's conditions or range): the chain then
 * sees it as `c.req.raw`, and the context gets its own back afterwards.
 */
async function runChain(c: Context, next: Next, request: Request): Promise<void> {
  const own = c.req.raw;
  if (request === own || rendersAlike(request, own)) return next();
  c.req.raw = request;
  try {
    await next();
  } finally {
    c.req.raw = own;
  }
}

/** Whether the chain would render `request` as it renders `own`: a copy of it (a refresh's clone) with the same method and headers. */
function rendersAlike(request: Request, own: Request): boolean {
  if (request.method !== own.method) return false;
  let count = 0;
  for (const [name, value] of request.headers) {
    if (own.headers.get(name) !== value) return false;
    count++;
  }
  for (const _ of own.headers) count--;
  return count === 0;
}

/**
 * Headers a page cache with `options` judges or patches a response by (cookies, lifetime, the
 * targeted lifetime fields it obeys, Vary, size): set above, they stay in what it sees (see the
 * module's notes). Cookies only while it refuses pages that set them: one that stores them
 * (`allowSetCookie`) or strips them (`stripSetCookie`) must not take a cookie set above, this
 * visitor's, for the page's own. Called once the wrapper has checked the options.
 */
function judgedHeaders(options: Pick<PageCacheOptions, "targetedCacheControl" | "allowSetCookie" | "stripSetCookie">): ReadonlySet<string> {
  const targeted = (options.targetedCacheControl ?? []).map((name) => name.toLowerCase());
  const cookies = options.allowSetCookie === true || options.stripSetCookie === true ? [] : ["set-cookie"];
  return new Set([...cookies, "cache-control", "cdn-cache-control", "vary", "expires", "content-length", ...targeted]);
}

/** What `withoutHeaders` is never given: nothing was set above, so nothing set above was appended to. */
const NOTHING_APPENDED: Array<[string, string]> = [];
/** Likewise: nothing set above, so no cookie of the chain's was left out for one (no object made per hit). */
const NOTHING_SENT: SentCookies = Object.freeze({});

/**
 * Whether `middleware` is the first handler Hono runs for this request, so nothing above it
 * can have set a header: Hono dispatches the matched handlers in order, numbering each as it goes
 * (`routeIndex`). Run any other way (inside `every()` of hono/combine, or called by another
 * middleware), it is not the first matched handler itself, and the answer is no.
 */
function runsFirst(c: Context, middleware: MiddlewareHandler): boolean {
  // The request's own getter, not hono/route's `matchedRoutes`: that one reads a symbol private to
  // the copy of Hono edgecache imports, and the app's may be another (a CommonJS app's, Deno's
  // jsr:@hono/hono). Deprecated, but in every Hono 4; where it is gone, the headers are read.
  return c.req.routeIndex === 0 && (c.req as { matchedRoutes?: ReadonlyArray<{ handler: unknown }> }).matchedRoutes?.[0]?.handler === middleware;
}

/** The headers the middleware above set for this request before `next()`; `undefined` when none. */
function headersSetAbove(c: Context): Array<[string, string]> | undefined {
  let set: Array<[string, string]>;
  try {
    set = [...c.newResponse(null).headers]; // reads them without touching the context
  } catch {
    return undefined; // a status set above that a Response cannot take
  }
  return set.length > 0 ? set : undefined;
}

/**
 * `response` without the headers set above (as set above), but for those the page cache judges
 * by. Of a header the chain appended to, only what it appended is kept: the value set above is
 * this request's, so it is left out of the page, and `appended` hears of it to give it back.
 */
function withoutHeaders(response: Response, above: ReadonlyArray<[string, string]>, judged: ReadonlySet<string>, appended: Array<[string, string]>, sentCookies: SentCookies): Response {
  const own: Array<[string, string | undefined]> = [];
  /**
   * The names of the cookies set above: this visitor's. Every line of the response for one of
   * them is left out of the page, the route's own too: a route that saves this visitor's session
   * anew, rotates it or clears it must not have that stored and replayed to others.
   */
  const cookiesAbove = new Set<string>();
  for (const [name, value] of above) {
    if (judged.has(name)) continue;
    if (name === "set-cookie") {
      cookiesAbove.add(cookieName(value)); // each cookie apart: get() would join them
      continue;
    }
    const sent = response.headers.get(name);
    if (sent === value) {
      own.push([name, undefined]);
    } else if (sent?.startsWith(`${value}, `)) {
      own.push([name, sent.slice(value.length + 2)]);
      appended.push([name, value]);
    }
  }
  const cookies = cookiesAbove.size > 0 ? setCookieLines(response.headers) : [];
  const ownCookies = cookies.filter((cookie) => !cookiesAbove.has(cookieName(cookie)));
  if (ownCookies.length !== cookies.length) Object.assign(sentCookies, { sent: cookies, kept: ownCookies });
  if (own.length === 0 && ownCookies.length === cookies.length) return response;
  return editHeaders(response, (headers) => {
    own.forEach(([name, kept]) => (kept === undefined ? headers.delete(name) : headers.set(name, kept)));
    if (ownCookies.length === cookies.length) return;
    headers.delete("set-cookie");
    for (const cookie of ownCookies) headers.append("set-cookie", cookie);
  });
}

/**
 * `response` with this request's headers set above: where it has none of the name, and before
 * what the chain appended to one (`appended`, from `withoutHeaders`). Cookies set above are this
 * visitor's, so an answer that gets one is marked private. The answer to the request that rendered
 * the page (its Set-Cookie lines those `withoutHeaders` kept, `sentCookies`) gets the chain's own
 * lines back, in the chain's order: a browser applies the last line for a name, so a route that
 * replaced, deleted or set again a cookie set above keeps the last word. A hit gets the cookies
 * set above before the page's own.
 */
function withHeaders(response: Response, above: ReadonlyArray<[string, string]>, appended: ReadonlyArray<[string, string]>, sentCookies: SentCookies): Response {
  const cookies = setCookieLines(response.headers);
  const rendered = sentCookies.sent !== undefined && sameLines(cookies, sentCookies.kept!);
  const missing = above.filter(([name, value]) => (name === "set-cookie" ? !rendered && !cookies.includes(value) : !response.headers.has(name)));
  const restored = appended.filter(([name]) => response.headers.has(name));
  if (missing.length === 0 && restored.length === 0 && !rendered) return response;
  return editHeaders(response, (headers) => {
    for (const [name, value] of restored) headers.set(name, `${value}, ${headers.get(name)!}`);
    for (const [name, value] of missing) if (name !== "set-cookie") headers.append(name, value);
    const lines = rendered ? sentCookies.sent! : [...missing.filter(([name]) => name === "set-cookie").map(([, value]) => value), ...cookies];
    if (lines.length === cookies.length && !rendered) return;
    headers.delete("set-cookie");
    for (const line of lines) headers.append("set-cookie", line);
    markPrivate(headers);
  });
}

/** The Set-Cookie lines of `headers`, each apart (`get` would join them; Workers' types lack `getSetCookie`). */
function setCookieLines(headers: Headers): string[] {
  const lines: string[] = [];
  for (const [name, value] of headers) if (name === "set-cookie") lines.push(value);
  return lines;
}

/** The name a Set-Cookie line sets (RFC 6265 §5.2: up to its first `=`, spaces trimmed). */
function cookieName(line: string): string {
  const pair = line.split(";", 1)[0]!;
  const equals = pair.indexOf("=");
  return (equals < 0 ? "" : pair.slice(0, equals)).trim();
}

/** Whether two lists of header lines are the same, line for line. */
function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

/** The chain's response for `request`, dispatched through `app` again (see `middleware`). */
function dispatchRefresh(app: RefreshDispatcher, request: Request, c: Context, refreshes: WeakMap<Request, (response: Response | PromiseLike<Response>) => void>): Promise<Response> {
  return new Promise((resolve, reject) => {
    refreshes.set(request, resolve);
    refreshDispatches.add(request);
    let ctx: ExecutionContext | undefined;
    try {
      ctx = c.executionCtx;
    } catch {
      ctx = undefined; // Deno, Bun, Node
    }
    // Once the middleware has handed the chain's response over, settling again changes nothing.
    Promise.resolve(app.fetch(request, c.env, ctx)).then(
      () => reject(new Error("the refresh dispatched through options.app never reached the cache middleware: something before it answered")),
      reject,
    );
  });
}

/** `options` without `app`, and `app` checked. */
function withoutApp<O extends { app?: RefreshDispatcher }>(options: O): [Omit<O, "app">, RefreshDispatcher | undefined] {
  if (options === null || typeof options !== "object") return [options, undefined]; // the wrapper names the error
  const { app, ...rest } = options;
  if (app !== undefined && typeof (app as Partial<RefreshDispatcher> | null)?.fetch !== "function") {
    throw new TypeError(`options.app must be the Hono app the middleware is mounted on (anything with a fetch method), got ${describe(app)}`);
  }
  if (app === undefined && (rest as { refreshAhead?: unknown }).refreshAhead !== undefined) {
    throw new TypeError("options.refreshAhead needs options.app: without the app, a refresh can only run inside the request that asks for the page, which would then wait for it");
  }
  return [rest, app];
}

/**
 * Cache the pages of the routes below for `timeout` seconds (Django's `cache_page`); `null` uses
 * the response's max-age, else 600 s. Same options as edgecache's `cachePage`; a `cache`
 * function also gets the bindings (`c.env`) and the execution context.
 *
 * @example
 * import { cachePage } from "edgecache/hono";
 *
 * app.get("/reports/:name", cachePage(900), async (c) => c.html(await renderReport(c.req.param("name"))));
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Hono's own default, so the middleware fits any app
export function cachePage<E extends Env = any>(timeout: Timeout, options: HonoPageCacheOptions<E> = {}): MiddlewareHandler<E> {
  const [rest, app] = withoutApp(options);
  return middleware(pageCaching(timeout, rest, app ? "background" : "in-request"), { app, judged: judgedHeaders(rest) });
}

/**
 * Cache a whole site (Django's CacheMiddleware): each page for its response's max-age
 * (max-age=0: not cached), else for `seconds` (default 600).
 *
 * @example
 * import { cacheSite } from "edgecache/hono";
 *
 * type AppEnv = { Bindings: { PAGES: KVNamespace } }; // name it: TypeScript cannot infer it from the app
 * app.use(cacheSite<AppEnv>({ seconds: 300, cache: (_request, env) => pagesCache(env.PAGES) }));
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Hono's own default, so the middleware fits any app
export function cacheSite<E extends Env = any>(options: HonoSiteCacheOptions<E> = {}): MiddlewareHandler<E> {
  const [rest, app] = withoutApp(options);
  return middleware(siteCaching(rest, app ? "background" : "in-request"), { app, judged: judgedHeaders(rest) });
}

/**
 * Patch the Cache-Control of every response below with `directives` (Django's `cache_control`).
 *
 * @example
 * app.get("/feed", cacheControl({ public: true, maxAge: 3600 }), (c) => c.json(feed));
 */
export function cacheControl(directives: CacheControlDirectives): MiddlewareHandler {
  return middleware(wrappers.cacheControl(directives));
}

/**
 * Mark every response below as never cacheable (Django's `never_cache`).
 *
 * @example
 * app.get("/account", neverCache, (c) => c.text(`Hello ${c.get("user")}`));
 */
export const neverCache: MiddlewareHandler = middleware(wrappers.neverCache);

/**
 * Add `names` to the Vary header of every response below (Django's `vary_on_headers`).
 *
 * @example
 * app.get("/", cachePage(60), varyOnHeaders("Accept-Language"), (c) => c.html(home(c.req.header("accept-language"))));
 */
export function varyOnHeaders(...names: string[]): MiddlewareHandler {
  return middleware(wrappers.varyOnHeaders(...names));
}

/**
 * Add `Cookie` to the Vary header of every response below (Django's `vary_on_cookie`). Put it
 * after `cachePage` so the page cache keys each visitor's copy by their cookies.
 *
 * @example
 * app.get("/me", cachePage(60), varyOnCookie, (c) => c.text(`Hello ${getCookie(c, "user")}`));
 */
export const varyOnCookie: MiddlewareHandler = middleware(wrappers.varyOnCookie);

/**
 * `conditionalGet` with options: `maxEtagBytes` is the largest body hashed for an ETag
 * (default 1 MiB).
 *
 * @example
 * app.use(createConditionalGet({ maxEtagBytes: 64 * 1024 }));
 */
export function createConditionalGet(options: ConditionalGetOptions = {}): MiddlewareHandler {
  return middleware(wrappers.createConditionalGet(options));
}

/**
 * Django's ConditionalGetMiddleware: ETags for GET 200 responses, then 304 / 412 answers to
 * conditional requests. The handler still runs; this saves bandwidth, not work.
 *
 * @example
 * app.use(conditionalGet);
 */
export const conditionalGet: MiddlewareHandler = middleware(wrappers.conditionalGet);
