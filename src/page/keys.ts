/**
 * Page cache keys. Django's two-key scheme, made unambiguous and cheaper:
 *
 * - The **base key** names a URL: method, the wrapper's key prefix, scheme, host, path and query
 *   (optionally normalised) and any `keyParts`. It holds either the page itself (the response did
 *   not vary: one read per hit) or a **vary index**: the request headers the page varies on.
 * - The **variant key** is the base key plus a SHA-256 of the varied request headers, encoded
 *   as JSON pairs so that an absent header differs from an empty one and values never run
 *   together (Django concatenates them, so `"ab"+"c"` equals `"a"+"bc"`), and of the index's
 *   epoch, which a purge renews so that old variants are never read again. Accept-Encoding
 *   counts as the codings it accepts and refuses (`acceptedCodings`), not as spelled.
 *
 * Keys stay short enough for memcached (250 bytes with the cache's own `prefix:version:`): a base
 * key over 160 characters is hashed, so even a variant key (base + 67) stays within 227.
 */
import { type EdgeCache, readRecord } from "../cache.ts";
import { sha256Hex } from "../hash.ts";
import { acceptedCodings } from "../http/accept-encoding.ts";
import { TOKEN } from "../http/headers.ts";
import { orderedNow } from "../ordered-time.ts";
import { parseVary } from "../http/vary.ts";
import { CACHE_MIDDLEWARE_SECONDS, keySettings, type PageCacheOptions, type ResolvedPageOptions } from "./options.ts";
import { lastPurgedAt } from "./purge-records.ts";
import { selectCache } from "./select.ts";
import { isVaryIndex, type VaryIndex } from "./stored.ts";

type KeySettings = Pick<ResolvedPageOptions, "keyPrefix" | "query" | "keyParts" | "varyCookies">;

const MAX_PLAIN_KEY = 160;

/**
 * The request's URL with its query normalised as `query` asks: parameters dropped and sorted by
 * their decoded names, each kept as sent. Re-encoding them would merge what apps tell apart:
 * `q=%E9` and `q=%E8` (a Latin-1 form's é and è) both decode to U+FFFD.
 */
function normalisedUrl(request: Request, query: KeySettings["query"]): string {
  if (query === undefined) {
    const url = request.url;
    // An empty query is no query (`/p?` is `/p`, as apps read it: `search` is "" for both), as Django keys it.
    return url.endsWith("?") ? url.slice(0, -1) : url;
  }
  const url = new URL(request.url);
  const ignored = (name: string) => query.ignore.some((rule) => (typeof rule === "string" ? rule === name : rule.test(name)));
  const params = url.search.slice(1).split("&").flatMap((sent) => {
    const name = new URLSearchParams(sent).keys().next().value; // decoded as apps decode it
    return name === undefined || ignored(name) ? [] : [[name, sent] as const];
  });
  if (query.sort) params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  url.search = params.map(([, sent]) => sent).join("&");
  return url.href;
}

/**
 * The base key of a request's page for `method`: the URL-level key that holds the page or its
 * vary index. A key over 160 characters is hashed, which Web Crypto does asynchronously; any
 * other comes back at once, so a cache hit waits for nothing but the backend.
 *
 * @example
 * await baseKey(new Request("https://example.com/a?b=1"), "GET", settings); // "page.GET.0:.https://example.com/a?b=1"
 */
export function baseKey(request: Request, method: string, settings: KeySettings): string | Promise<string> {
  let parts = "";
  if (settings.keyParts) {
    const extra = settings.keyParts(request);
    // After a `"`, which a URL never holds raw (it is percent-encoded): no URL runs into the parts.
    if (extra !== undefined) parts = `"${JSON.stringify(typeof extra === "string" ? [extra] : extra)}`;
  }
  // A Host header naming another host than the URL (Node's servers take an absolute-form target's
  // host for the URL, while the app may build links from the header): keyed too, so a page built
  // for it never reaches requests for the URL's own host.
  const host = otherHost(request);
  if (host !== undefined) parts += `"@${JSON.stringify(host)}`;
  const key = `page.${method}.${settings.keyPrefix.length}:${settings.keyPrefix}.${normalisedUrl(request, settings.query)}${parts}`;
  return key.length <= MAX_PLAIN_KEY ? key : sha256Hex(key).then((hash) => `page.${method}.#${hash}`);
}

/** The request's Host header, lowercased, when it names another host than its URL (default ports and case aside). */
function otherHost(request: Request): string | undefined {
  const host = request.headers.get("host");
  if (host === null) return undefined;
  const url = request.url;
  const start = url.indexOf("//") + 2;
  const end = url.indexOf("/", start);
  const own = url.slice(start, end < 0 ? url.length : end);
  const named = host.toLowerCase();
  if (named === own) return undefined;
  try {
    return new URL(`${url.slice(0, start)}${host}`).host === own ? undefined : named; // "example.com:443" for https://example.com
  } catch {
    return named; // not a host at all
  }
}

/** The lowercase, de-duplicated, sorted header names a Vary value lists (`*` included). */
export function varyNames(vary: string | null): string[] {
  return [...new Set(parseVary(vary).map((name) => name.toLowerCase()))].sort();
}

/** Spaces and tabs around a cookie's name or value, which cookie parsers (Hono's, Django's) drop. */
const COOKIE_SPACE = /^[ \t]+|[ \t]+$/g;

/**
 * A Cookie header's pairs as `[name, value]`, each trimmed of spaces and tabs as apps read them
 * (`sessionid =x` is the cookie `sessionid`), empty ones left out; `undefined` when a pair is one
 * that parsers read differently: a name that is not a token (`\u00a0sessionid`, which a parser
 * trimming with `String.trim` takes for `sessionid`), or no `=` (skipped by some, an empty value
 * to others).
 */
function cookiePairs(header: string): Array<[string, string]> | undefined {
  const pairs: Array<[string, string]> = [];
  for (const pair of header.split(";")) {
    if (pair.replace(COOKIE_SPACE, "") === "") continue;
    const equals = pair.indexOf("=");
    const name = pair.slice(0, Math.max(equals, 0)).replace(COOKIE_SPACE, "");
    if (equals < 0 || !TOKEN.test(name)) return undefined; // RFC 6265: a cookie name is a token
    pairs.push([name, pair.slice(equals + 1).replace(COOKIE_SPACE, "")]);
  }
  return pairs;
}

/**
 * The wanted cookies as `name=value` pairs, in order of name. Pairs of one name keep the order
 * they came in: an app reads the first, so `a=1; a=2` and `a=2; a=1` are different visitors. A
 * header that parsers may read differently counts whole: no cookie of it can hide from the key.
 */
function selectedCookies(header: string | null, names: readonly string[]): string | null {
  if (header === null) return null;
  const pairs = cookiePairs(header);
  if (pairs === undefined) return `"${header}`; // a selection never starts with a quote
  const wanted = pairs.filter(([name]) => names.includes(name));
  return wanted.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => `${name}=${value}`).join("; ");
}

/**
 * What the request's Cookie header counts as in a variant key: with `varyCookies`, those cookies
 * alone (`""` when it has none of them); `null` when there is no Cookie header.
 *
 * @example
 * keyedCookies(new Request(url, { headers: { cookie: "_ga=1" } }), ["sessionid"]); // "": no session
 */
export function keyedCookies(request: Request, varyCookies: readonly string[] | undefined): string | null {
  const header = request.headers.get("cookie");
  return varyCookies ? selectedCookies(header, varyCookies) : header;
}

/** What a request's `name` header (lowercase) counts as in a variant key. */
function varyValue(request: Request, name: string, settings: KeySettings): string | null {
  if (name === "cookie") return keyedCookies(request, settings.varyCookies);
  const value = request.headers.get(name);
  return name === "accept-encoding" ? acceptedCodings(value) : value;
}

/**
 * The variant key: the base key plus a hash of the request's values for the varied headers and
 * of the vary index's epoch (see `VaryIndex`), so a purge leaves the old variants behind.
 *
 * @example
 * await variantKey(base, request, ["accept-encoding", "cookie"], settings, index.epoch); // `${base}"v.<64 hex digits>`
 */
export async function variantKey(base: string, request: Request, vary: readonly string[], settings: KeySettings, epoch?: string): Promise<string> {
  if (vary.length === 0) return base;
  const values = vary.map((name) => [name, varyValue(request, name, settings)]);
  // JSON never holds a raw newline, so the epoch cannot run into the values.
  // After a `"`, which neither a URL nor the end of the parts holds: no base key reads as a variant key.
  return `${base}"v.${await sha256Hex(epoch === undefined ? JSON.stringify(values) : `${JSON.stringify(values)}\n${epoch}`)}`;
}

/**
 * The vary index to store under `base` for a page varying on `vary`, written by a render begun
 * `at` and kept until `until` (when known): the epoch of the index already there, else a new one
 * (after a purge, or for a URL seen for the first time). An index whose epoch was taken up
 * before `purgedAt` (the URL's last purge, when known) is taken as none: it may be the purged
 * one, written back. `current`: the index there, when it is this one and lasts to `needed` (the
 * page's own expiry) or longer, so it need not be written again.
 *
 * @example
 * const { index } = await varyIndexFor(cache, base, ["cookie"]); // { kind: "vary", vary: ["cookie"], epoch: "3f9c0a1b" }
 */
export async function varyIndexFor(cache: EdgeCache, base: string, vary: string[], written: { at?: number; until?: number; needed?: number; purgedAt?: number } = {}): Promise<{ index: VaryIndex; current?: VaryIndex }> {
  const { at, until, needed, purgedAt } = written;
  const stored: unknown = await readRecord(cache, base);
  const reusable = isVaryIndex(stored) && stored.epoch !== undefined && (purgedAt === undefined || (stored.since ?? stored.at ?? -Infinity) > purgedAt);
  const epoch = reusable ? stored.epoch! : crypto.randomUUID().slice(0, 8);
  const since = reusable ? stored.since ?? stored.at : at;
  const index: VaryIndex = { kind: "vary", vary, epoch, ...(at !== undefined && { at }), ...(since !== undefined && { since }), ...(until !== undefined && Number.isFinite(until) && { until }) };
  const lasts = reusable && needed !== undefined && stored.until !== undefined && stored.until >= needed;
  return lasts && sameNames(stored.vary, vary) ? { index, current: stored } : { index };
}

/** Whether two sorted lists of header names are the same. */
const sameNames = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((name, i) => name === b[i]);

/** Options of `getCacheKey`. */
export interface GetCacheKeyOptions extends Pick<PageCacheOptions, "keyPrefix" | "cache" | "query" | "keyParts" | "varyCookies"> {
  /** The method whose page is wanted. Default `"GET"`. */
  method?: string;
}

/**
 * Django's `get_cache_key`: the key under which the page for this request is stored (before the
 * cache's own prefix and version), or `undefined` when nothing is known about this URL.
 *
 * @example
 * const key = await getCacheKey(request, { keyPrefix: "pages" });
 * if (key) await caches.default.delete(key); // this visitor's variant only; purgePage removes them all
 */
export async function getCacheKey(request: Request, options: GetCacheKeyOptions = {}): Promise<string | undefined> {
  const { method = "GET", ...rest } = options;
  const settings = keySettings(rest, "getCacheKey");
  const cache = selectCache(settings.cache, request, []);
  const base = await baseKey(request, method, settings);
  const stored = await readRecord(cache, base);
  if (isVaryIndex(stored)) return stored.vary.includes("*") ? undefined : variantKey(base, request, stored.vary, settings, stored.epoch);
  return stored === undefined ? undefined : base; // a page that does not vary (a stored page, or what was stored under learnCacheKey's key)
}

/** Options of `learnCacheKey`. */
export interface LearnCacheKeyOptions extends Pick<PageCacheOptions, "keyPrefix" | "cache" | "query" | "keyParts" | "varyCookies" | "now"> {
  /** How long the vary index is kept, in seconds. Default 600, Django's `CACHE_MIDDLEWARE_SECONDS` (and `cacheSite`'s `seconds`). */
  timeout?: number | null;
}

/**
 * Django's `learn_cache_key`: record which request headers `response` varies on (under the
 * URL's base key) and return the key its page belongs under. A response that varies on nothing
 * has its page under the base key itself, where there is nothing to record: an index of an
 * earlier response that varied is removed instead. A response with `Vary: *` (or a member that
 * is no header name, which counts as `*`) varies on what no key can hold, so it is not to be
 * cached: a TypeError says so and nothing is recorded, where Django would give every visitor the
 * same key.
 *
 * @example
 * const key = await learnCacheKey(request, response, { timeout: 600 });
 * await caches.default.set(key, somethingDerivedFromTheResponse, { timeout: 600 });
 */
export async function learnCacheKey(request: Request, response: Response, options: LearnCacheKeyOptions = {}): Promise<string> {
  const { timeout, ...rest } = options;
  const settings = keySettings(rest, "learnCacheKey");
  const cache: EdgeCache = selectCache(settings.cache, request, []);
  const base = await baseKey(request, request.method, settings);
  const vary = varyNames(response.headers.get("vary"));
  if (vary.includes("*")) {
    throw new TypeError(`response varies on * (Vary: ${response.headers.get("vary")}): no key can tell its variants apart, so it must not be cached`);
  }
  if (vary.length === 0) {
    if (isVaryIndex(await readRecord(cache, base))) await cache.delete(base);
    return base;
  }
  // Written now, from an index written since the last purge: a page stored after this takes up
  // its epoch, and a purged one is not brought back (see `varyIndexFor`).
  const { index } = await varyIndexFor(cache, base, vary, { at: orderedNow(settings.now), purgedAt: await lastPurgedAt(cache, base) });
  await cache.set(base, index, { timeout: timeout === undefined ? CACHE_MIDDLEWARE_SECONDS : timeout });
  return variantKey(base, request, vary, settings, index.epoch);
}
