/**
 * The options of `cachePage` and `cacheSite`, their defaults, and their validation (once, when
 * the wrapper is built, so a typo fails at start-up rather than on the first request).
 */
import { checkFunction, checkInteger, checkKey, checkOptionNames, describe, fraction, nonNegative } from "../arguments.ts";
import type { EdgeCache } from "../cache.ts";
import { TOKEN } from "../http/headers.ts";
import { DEFAULT_COLLAPSE_MS } from "../locks.ts";
import { harmless } from "../hooks.ts";
import type { CacheOutcome } from "./cache-status.ts";
import { checkTags } from "../tags.ts";

/** Which cache a page wrapper stores into: a cache, an alias from `configureCaches`, or a function of the request and the handler's extra arguments (Workers' `env`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CacheSelector = EdgeCache | string | ((request: Request, ...args: any[]) => EdgeCache);

/** What `onError` is told about a failure that page caching turned into a miss. */
export interface PageErrorContext {
  /**
   * `lookup` (reading the cache), `store` (writing it), `revalidate` (rendering a stale page again
   * failed: a background refresh, or the request's own render when a stale page was served in its
   * place, stale-if-error), `select` (the `cache` function threw), `bypass` (the `bypass` function threw).
   */
  operation: "lookup" | "store" | "revalidate" | "select" | "bypass";
  /** The request as the wrapper was given it (the one `onOutcome` hears of); for a background refresh, the request it renders. */
  request: Request;
}

/**
 * Options shared by `cachePage` and `cacheSite`.
 *
 * @example
 * const options: PageCacheOptions = { cache: "pages", keyPrefix: "v2", query: { ignore: [/^utm_/] }, varyCookies: ["sessionid"] };
 */
export interface PageCacheOptions {
  /** Where pages are stored. Default: the `default` alias (`caches.default`). */
  cache?: CacheSelector;
  /** Separates this wrapper's pages from others' with the same URL. Default `""`. */
  keyPrefix?: string;
  /** Statuses that are stored. Default `[200]` (a 304 gets caching headers but is never stored; 206, 412 and 416 are refused). */
  cacheableStatuses?: readonly number[];
  /**
   * Statuses stored for their own number of seconds, whatever the timeout and max-age: negative
   * caching such as `{ 404: 30, 410: 3600 }` keeps requests for missing URLs off the handler
   * without keeping a new page's 404 for long. Default: none.
   */
  statusTimeouts?: Readonly<Record<number, number>>;
  /** Store responses that set cookies (their Set-Cookie is replayed to everyone). Default false. */
  allowSetCookie?: boolean;
  /**
   * Store responses that set cookies without their Set-Cookie. The request that rendered the page
   * gets its cookies, in a response marked `private` so that no shared cache downstream keeps
   * them; hits are served without them. For pages whose body is the same for everyone but that
   * set a cookie anyway (a framework's session cookie on every response, an analytics or A/B
   * cookie): a body that depends on the cookie would reach everyone. Not with `allowSetCookie`.
   * Default false.
   */
  stripSetCookie?: boolean;
  /**
   * Add Django's caching headers to the responses: `Expires`, `max-age` for the timeout, and the
   * stale directives. `false` caches on the server only: browsers and CDNs get the handler's own
   * Cache-Control, on misses and hits alike (the response whose cookies `stripSetCookie` keeps out
   * of the page is still marked `private`). Default true.
   */
  sendCacheHeaders?: boolean;
  /**
   * Targeted Cache-Control fields (RFC 9213) this cache obeys in place of Cache-Control, the first
   * one a response has first: its own lifetime (for `cacheSite` and `cachePage(null)`), its
   * `private`, `no-store` and `no-cache`, its stale directives and whether it is shareable are then
   * read from, say, `CDN-Cache-Control: max-age=3600`, while browsers keep its Cache-Control. For
   * example `["Edgecache-Cache-Control", "CDN-Cache-Control"]`. Default none: Cache-Control alone.
   */
  targetedCacheControl?: readonly string[];
  /** Query-string normalisation: `sort` parameters, `ignore` some (names or patterns such as `/^utm_/`). Default: the query as sent. */
  query?: { sort?: boolean; ignore?: ReadonlyArray<string | RegExp> };
  /** Extra key parts derived from the request (a negotiated language, a tenant). */
  keyParts?: (request: Request) => string | readonly string[] | undefined;
  /**
   * Requests that skip the cache: `true` sends the request straight to the handler, looking
   * nothing up and storing nothing (`Cache-Status: edgecache; fwd=bypass`). For signed-in
   * visitors, previews, admin pages: `(request) => /(?:^|;\s*)sessionid=/.test(request.headers.get("cookie") ?? "")`.
   * A function that throws bypasses too (reported to `onError`). Default: none.
   */
  bypass?: (request: Request) => boolean;
  /**
   * Tags to file each stored page under, so that `purgeTag` ends every page of a tag at once:
   * a list, or a function of the request and the response (`undefined` or `[]`: untagged).
   * Tags are non-empty strings without control characters. Default: untagged.
   */
  tags?: readonly string[] | ((request: Request, response: Response) => readonly string[] | undefined);
  /**
   * How long this isolate trusts what it read of purges, in ms: a tag's purge records, and a
   * varying page's vary index (which `purgePage` replaces). A hit on a tagged or varying page
   * reads them at most this often, and a purge made elsewhere reaches this isolate within this
   * time. 0 reads them on every hit. Default 1000.
   */
  tagCheckMs?: number;
  /**
   * Also send each stored page's tags in this response header, so that a CDN in front purges by
   * the same tags: `"Cache-Tag"` (Cloudflare; comma-separated) or `"Surrogate-Key"` (Fastly;
   * space-separated). Tags must then hold no commas or whitespace. Default false: not sent.
   */
  tagHeader?: string | false;
  /** When a response varies on Cookie, key on these cookies only (e.g. `["sessionid"]`) instead of the whole header, so analytics cookies don't fragment the cache. */
  varyCookies?: readonly string[];
  /** Largest body stored; a longer one streams to the client and is not stored. Default 5 MiB. */
  maxBodyBytes?: number;
  /**
   * A backend call slower than this is a miss; 0 sets no limit. Default 1000 ms for stores behind a
   * connection (memcached, Redis, KV) and no limit for local ones (the Cache API), where a timer per
   * call costs more than the call risks. Never applied to in-isolate stores, which cannot hang.
   */
  timeoutMs?: number;
  /**
   * After three calls to a store in a row ran out of `timeoutMs`, leave it alone for this long:
   * requests go straight to their handlers (`fwd=miss; detail=store-down`) instead of each waiting
   * out the limit, and nothing is stored. Then one request at a time tries it again: an answer in
   * time ends the break, another time-out starts one twice as long (up to a minute). Kept per
   * store (the backend's `identity`) in each isolate. 0 never leaves a store alone. Default 5000 ms.
   */
  circuitBreakMs?: number;
  /**
   * Concurrent misses for the same page wait this long for the first one to fill the cache: in
   * this isolate, and across processes on stores with an atomic add (memcached, Redis). A fill
   * that outlasts it is taken over by the next miss (on Workers, its request may have ended), so
   * later misses wait for that one. 0 turns collapsing off. Default 5000 ms.
   */
  collapseMs?: number;
  /** Seconds a stale page may be served while one request refreshes it in the background; adds `stale-while-revalidate` to responses. Default: the response's own directive, else 0. */
  staleWhileRevalidate?: number;
  /** Seconds a stale page may be served when the handler throws or answers 5xx; adds `stale-if-error`. Default: the response's own directive, else 0. */
  staleIfError?: number;
  /**
   * After a page's handler failed (threw or answered 5xx) and its stale page was served instead,
   * keep serving the stale page for this long without calling the handler again: an origin that
   * is down is asked once per this long per page and isolate, not by every request, and no request
   * waits for it to fail. Background refreshes of stale pages back off the same way. 0 calls the
   * handler every time. Default 5000 ms.
   */
  errorBackoffMs?: number;
  /**
   * Refresh a popular page before it expires: the first hit past this fraction of its lifetime
   * (e.g. 0.8) is still answered from the cache (`detail=refreshing`) and starts one refresh in
   * the background (one per isolate, and per store where fills are shared), so no request ever
   * waits for the page to be rebuilt. Needs background refreshes: fetch handlers, or
   * `edgecache/hono` given its `app`. Default: off.
   */
  refreshAhead?: number;
  /**
   * Carries cache writes past the response. Default: `waitUntil` of the first handler argument
   * that has one (Workers' `ctx`), else writes finish in the background. A miss's write settles
   * only after the client has read the body (it is stored as it streams), so never await it
   * before sending the response.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** The RFC 9211 header name, or false for none. Default `"Cache-Status"`. */
  cacheStatus?: string | false;
  /** This cache's name inside Cache-Status. Default `"edgecache"`. */
  cacheName?: string;
  /** Hears every failure that was turned into a miss. A hook that throws, or returns a promise that rejects, changes nothing. Default: none. */
  onError?: (error: unknown, context: PageErrorContext) => void;
  /**
   * Hears how each request was answered, with what its Cache-Status says (a hit and its TTL, or
   * why it was forwarded and whether it was stored), for hit-rate metrics; background refreshes
   * are not requests and are not reported. Called even with `cacheStatus: false`. A hook that
   * throws, or returns a promise that rejects, changes nothing. Default: none.
   */
  onOutcome?: (outcome: CacheOutcome, request: Request) => void;
  /** Clock in milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Options after validation, with every default filled in. */
export interface ResolvedPageOptions {
  cache: CacheSelector;
  keyPrefix: string;
  cacheableStatuses: ReadonlySet<number>;
  statusTimeouts: ReadonlyMap<number, number>;
  /** What happens to a response that sets cookies: not stored, stored with them, or stored without them. */
  setCookie: "refuse" | "store" | "strip";
  sendCacheHeaders: boolean;
  /** Lowercase names, in order of precedence. */
  targetedCacheControl: readonly string[];
  query: { sort: boolean; ignore: ReadonlyArray<string | RegExp> } | undefined;
  keyParts: ((request: Request) => string | readonly string[] | undefined) | undefined;
  bypass: ((request: Request) => boolean) | undefined;
  varyCookies: readonly string[] | undefined;
  /** The tags of a page about to be stored (unchecked when a function returned them). */
  tags: ((request: Request, response: Response) => readonly string[] | undefined) | undefined;
  tagCheckMs: number;
  tagHeader: string | false;
  maxBodyBytes: number;
  /** `undefined`: the default, which depends on the store. */
  timeoutMs: number | undefined;
  circuitBreakMs: number;
  collapseMs: number;
  staleWhileRevalidate: number | undefined;
  staleIfError: number | undefined;
  errorBackoffMs: number;
  refreshAhead: number | undefined;
  waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  cacheStatus: string | false;
  cacheName: string;
  onError: (error: unknown, context: PageErrorContext) => void;
  onOutcome: ((outcome: CacheOutcome, request: Request) => void) | undefined;
  now: () => number;
}

function flag(value: unknown, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`${name} must be true or false, got ${describe(value)}`);
  return value;
}

function setCookieRule(allow: unknown, strip: unknown): ResolvedPageOptions["setCookie"] {
  const allowed = flag(allow, false, "options.allowSetCookie");
  const stripped = flag(strip, false, "options.stripSetCookie");
  if (allowed && stripped) throw new TypeError("options.allowSetCookie and options.stripSetCookie cannot both be true: choose to replay cookies to everyone or to store pages without them");
  return allowed ? "store" : stripped ? "strip" : "refuse";
}

function headerNames(value: unknown, name: string): readonly string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of header names, got ${describe(value)}`);
  return value.map((item: unknown, i) => {
    if (typeof item !== "string" || !TOKEN.test(item)) throw new TypeError(`${name}[${i}] must be a header name, got ${describe(item)}`);
    return item.toLowerCase();
  });
}

function stringList(value: unknown, name: string): readonly string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of strings, got ${describe(value)}`);
  value.forEach((item, i) => checkKey(item, `${name}[${i}]`));
  return value as readonly string[];
}

/**
 * Django's `CACHE_MIDDLEWARE_SECONDS`: how long `cacheSite` keeps a page whose response gives no
 * max-age, and `learnCacheKey` a vary index, unless told otherwise.
 *
 * @example
 * const { seconds = CACHE_MIDDLEWARE_SECONDS } = options;
 */
export const CACHE_MIDDLEWARE_SECONDS = 600;

/**
 * Every option of {@link PageCacheOptions} (the compiler holds the list to the interface): any other name is a slip.
 *
 * @example
 * checkOptionNames(options, PAGE_OPTIONS, "page caching");
 */
export const PAGE_OPTIONS: ReadonlySet<string> = new Set(Object.keys({
  cache: true, keyPrefix: true, cacheableStatuses: true, statusTimeouts: true, allowSetCookie: true, stripSetCookie: true,
  sendCacheHeaders: true, targetedCacheControl: true, query: true, keyParts: true, bypass: true, tags: true, tagCheckMs: true,
  tagHeader: true, varyCookies: true, maxBodyBytes: true, timeoutMs: true, circuitBreakMs: true, collapseMs: true,
  staleWhileRevalidate: true, staleIfError: true, errorBackoffMs: true, refreshAhead: true, waitUntil: true, cacheStatus: true,
  cacheName: true, onError: true, onOutcome: true, now: true,
} satisfies Record<keyof PageCacheOptions, true>));

/**
 * Validate options and fill in defaults; every error names the option.
 *
 * @example
 * resolvePageOptions({ maxBodyBytes: -1 }); // TypeError: options.maxBodyBytes must be a number of 0 or more, got -1
 */
export function resolvePageOptions(options: PageCacheOptions = {}): ResolvedPageOptions {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  checkOptionNames(options, PAGE_OPTIONS, "page caching");
  const o = options;
  const cache = o.cache ?? "default";
  if (typeof cache !== "string" && typeof cache !== "function" && (typeof cache !== "object" || typeof cache.get !== "function")) {
    throw new TypeError(`options.cache must be an EdgeCache, an alias or a function, got ${describe(cache)}`);
  }
  const keyPrefix = o.keyPrefix ?? "";
  checkKey(keyPrefix, "options.keyPrefix");
  const statuses = o.cacheableStatuses ?? [200];
  if (!Array.isArray(statuses)) throw new TypeError(`options.cacheableStatuses must be an array of statuses, got ${describe(statuses)}`);
  statuses.forEach((status, i) => {
    checkInteger(status, `options.cacheableStatuses[${i}]`);
    checkNotRequestBound(status, `options.cacheableStatuses[${i}]`);
  });
  const statusTimeouts = new Map<number, number>();
  if (o.statusTimeouts !== undefined) {
    if (o.statusTimeouts === null || typeof o.statusTimeouts !== "object" || Array.isArray(o.statusTimeouts)) {
      throw new TypeError(`options.statusTimeouts must be an object of seconds by status, such as { 404: 30 }, got ${describe(o.statusTimeouts)}`);
    }
    for (const [status, seconds] of Object.entries(o.statusTimeouts)) {
      if (!/^[1-5]\d\d$/.test(status)) throw new TypeError(`options.statusTimeouts must be keyed by statuses (100-599), got ${describe(status)}`);
      checkNotRequestBound(Number(status), "options.statusTimeouts");
      statusTimeouts.set(Number(status), nonNegative(seconds, `options.statusTimeouts[${status}]`));
    }
  }
  let query: ResolvedPageOptions["query"];
  if (o.query !== undefined) {
    if (o.query === null || typeof o.query !== "object") throw new TypeError(`options.query must be an object, got ${describe(o.query)}`);
    const ignore = o.query.ignore ?? [];
    if (!Array.isArray(ignore) || ignore.some((item) => typeof item !== "string" && !(item instanceof RegExp))) {
      throw new TypeError(`options.query.ignore must be an array of names and RegExps, got ${describe(ignore)}`);
    }
    query = { sort: o.query.sort === true, ignore };
  }
  if (o.keyParts !== undefined) checkFunction(o.keyParts, "options.keyParts");
  if (o.bypass !== undefined) checkFunction(o.bypass, "options.bypass");
  const tagHeader = o.tagHeader ?? false;
  if (tagHeader !== false && (typeof tagHeader !== "string" || !TOKEN.test(tagHeader))) {
    throw new TypeError(`options.tagHeader must be a header name or false, got ${describe(tagHeader)}`);
  }
  let tags: ResolvedPageOptions["tags"];
  if (typeof o.tags === "function") tags = o.tags;
  else if (o.tags !== undefined) {
    if (!Array.isArray(o.tags)) throw new TypeError(`options.tags must be an array of tags or a function, got ${describe(o.tags)}`);
    const list = checkTags(o.tags, "options.tags", tagHeader !== false);
    if (list.length > 0) tags = () => list;
  }
  if (o.waitUntil !== undefined) checkFunction(o.waitUntil, "options.waitUntil");
  if (o.onError !== undefined) checkFunction(o.onError, "options.onError");
  if (o.onOutcome !== undefined) checkFunction(o.onOutcome, "options.onOutcome");
  if (o.now !== undefined) checkFunction(o.now, "options.now");
  const cacheStatus = o.cacheStatus ?? "Cache-Status";
  if (cacheStatus !== false && (typeof cacheStatus !== "string" || !TOKEN.test(cacheStatus))) {
    throw new TypeError(`options.cacheStatus must be a header name or false, got ${describe(cacheStatus)}`);
  }
  const cacheName = o.cacheName ?? "edgecache";
  if (typeof cacheName !== "string" || !TOKEN.test(cacheName)) {
    throw new TypeError(`options.cacheName must be a token, got ${describe(cacheName)}`);
  }
  return {
    cache,
    keyPrefix,
    cacheableStatuses: new Set(statuses),
    statusTimeouts,
    setCookie: setCookieRule(o.allowSetCookie, o.stripSetCookie),
    sendCacheHeaders: flag(o.sendCacheHeaders, true, "options.sendCacheHeaders"),
    targetedCacheControl: o.targetedCacheControl === undefined ? [] : headerNames(o.targetedCacheControl, "options.targetedCacheControl"),
    query,
    keyParts: o.keyParts,
    bypass: o.bypass,
    varyCookies: o.varyCookies === undefined ? undefined : stringList(o.varyCookies, "options.varyCookies"),
    tags,
    tagCheckMs: nonNegative(o.tagCheckMs ?? 1000, "options.tagCheckMs"),
    tagHeader,
    maxBodyBytes: nonNegative(o.maxBodyBytes ?? 5 * 2 ** 20, "options.maxBodyBytes"),
    timeoutMs: o.timeoutMs === undefined ? undefined : nonNegative(o.timeoutMs, "options.timeoutMs"),
    circuitBreakMs: nonNegative(o.circuitBreakMs ?? 5000, "options.circuitBreakMs"),
    collapseMs: nonNegative(o.collapseMs ?? DEFAULT_COLLAPSE_MS, "options.collapseMs"),
    staleWhileRevalidate: o.staleWhileRevalidate === undefined ? undefined : nonNegative(o.staleWhileRevalidate, "options.staleWhileRevalidate"),
    staleIfError: o.staleIfError === undefined ? undefined : nonNegative(o.staleIfError, "options.staleIfError"),
    errorBackoffMs: nonNegative(o.errorBackoffMs ?? 5000, "options.errorBackoffMs"),
    refreshAhead: o.refreshAhead === undefined ? undefined : fraction(o.refreshAhead, "options.refreshAhead", "the page's lifetime"),
    waitUntil: o.waitUntil,
    cacheStatus,
    cacheName,
    onError: o.onError ? harmless(o.onError) : () => {},
    onOutcome: o.onOutcome && harmless(o.onOutcome),
    now: o.now ?? Date.now,
  };
}

/**
 * The names a wrapper's options object may hold beside {@link PageCacheOptions}: `cacheSite`'s
 * `seconds`, the Hono middleware's `app`. The calls that take a wrapper's key options
 * (`purgePage`, `getCacheKey`, `learnCacheKey`) accept the whole object the wrapper was given.
 */
const WRAPPER_OPTIONS: ReadonlySet<string> = new Set([...PAGE_OPTIONS, "seconds", "app"]);

/**
 * The settings `of` needs from `options`, the key options of a wrapper (the whole object the
 * wrapper was given will do): its cache, key prefix, query rules, key parts, cookie names and
 * clock. Any name no wrapper knows is refused, as a slip.
 *
 * @example
 * const settings = keySettings({ cache: pages, keyPrefix: "v2", seconds: 300 }, "purgePage");
 */
export function keySettings(options: PageCacheOptions, of: string): ResolvedPageOptions {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  checkOptionNames(options, WRAPPER_OPTIONS, of);
  const { cache, keyPrefix, query, keyParts, varyCookies, now } = options;
  return resolvePageOptions({ cache, keyPrefix, query, keyParts, varyCookies, now });
}

/**
 * Statuses that answer one request's Range or preconditions, which the page key has no part of:
 * stored, one client's answer would reach every plain GET.
 */
const REQUEST_BOUND_STATUSES: ReadonlyMap<number, string> = new Map([
  [206, "a partial response answers one Range request"],
  [412, "a failed precondition answers one request's If-Match or If-Unmodified-Since"],
  [416, "an unsatisfiable range answers one Range request"],
]);

/** Refuse to store a status of {@link REQUEST_BOUND_STATUSES}, naming the argument. */
function checkNotRequestBound(status: number, name: string): void {
  const why = REQUEST_BOUND_STATUSES.get(status);
  if (why) throw new TypeError(`${name} cannot hold ${status}: ${why}, and the page key has no part of those headers (stored pages answer them themselves)`);
}
