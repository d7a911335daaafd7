/**
 * `cachePage` and `cacheSite`: Django's per-view and per-site caching for fetch handlers.
 * The engine is in `engine.ts`; the storage rules in `policy.ts`; the keys in `keys.ts`.
 */
import { checkOptionNames, checkTimeout, describe, type Timeout } from "../arguments.ts";
import type { Handler, Wrapper } from "../types.ts";
import { PageCacheEngine, type RefreshMode } from "./engine.ts";
import { CACHE_MIDDLEWARE_SECONDS, PAGE_OPTIONS, type PageCacheOptions, resolvePageOptions } from "./options.ts";

/**
 * Cache a handler's pages for `timeout` seconds (Django's `cache_page`). The timeout beats the
 * response's own max-age; `null` uses s-maxage or max-age, else 600 s. Only GET and HEAD are cached; see
 * `PageCacheOptions` for keys, Vary, cookies, streaming and failure handling.
 *
 * @example
 * import { cachePage } from "edgecache";
 *
 * const handler = cachePage(900)(async (request: Request) => new Response(await render(request)));
 * export default { fetch: handler };
 */
export function cachePage(timeout: Timeout, options: PageCacheOptions = {}): Wrapper {
  return pageCaching(timeout, options, "background");
}

/**
 * `cachePage` with the refresh mode chosen; `edgecache/hono` refreshes stale pages "in-request",
 * since Hono's chain can run only within its request. Not exported from the package.
 *
 * @example
 * const middlewareWrapper = pageCaching(60, options, "in-request");
 */
export function pageCaching(timeout: Timeout, options: PageCacheOptions, refresh: RefreshMode): Wrapper {
  checkTimeout(timeout);
  const rule = timeout === null ? { kind: "site" as const, seconds: CACHE_MIDDLEWARE_SECONDS } : { kind: "page" as const, timeout };
  const engine = new PageCacheEngine(rule, resolvePageOptions(options), refresh);
  return <H extends Handler>(handler: H): H => engine.wrap(handler);
}

const SITE_OPTIONS: ReadonlySet<string> = new Set([...PAGE_OPTIONS, "seconds"]);

/** Options of `cacheSite`. */
export interface SiteCacheOptions extends PageCacheOptions {
  /** Seconds to keep a page whose response sets no s-maxage or max-age. Default 600 (Django's CACHE_MIDDLEWARE_SECONDS). */
  seconds?: number;
}

/**
 * Cache a whole site (Django's CacheMiddleware): each page for its response's s-maxage or else
 * max-age (0: not cached), else for `seconds`. Wrap the app's top-level fetch handler.
 *
 * @example
 * import { cacheSite } from "edgecache";
 *
 * export default { fetch: cacheSite({ seconds: 300, query: { ignore: [/^utm_/] } })(app.fetch) };
 */
export function cacheSite(options: SiteCacheOptions = {}): Wrapper {
  return siteCaching(options, "background");
}

/**
 * `cacheSite` with the refresh mode chosen (see `pageCaching`). Not exported from the package.
 *
 * @example
 * const middlewareWrapper = siteCaching({ seconds: 300 }, "in-request");
 */
export function siteCaching(options: SiteCacheOptions, refresh: RefreshMode): Wrapper {
  if (options !== null && typeof options === "object") checkOptionNames(options, SITE_OPTIONS, "cacheSite");
  const { seconds = CACHE_MIDDLEWARE_SECONDS, ...rest } = options ?? {};
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) {
    throw new TypeError(`options.seconds must be a finite number of seconds, got ${describe(seconds)}`);
  }
  const engine = new PageCacheEngine({ kind: "site", seconds }, resolvePageOptions(rest), refresh);
  return <H extends Handler>(handler: H): H => engine.wrap(handler);
}
