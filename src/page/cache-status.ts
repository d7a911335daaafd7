/**
 * The RFC 9211 `Cache-Status` member page caching adds to every response, e.g.
 * `edgecache; hit; ttl=42`, `edgecache; fwd=uri-miss; stored`, `edgecache; fwd=method`.
 */

/**
 * How a request was answered: what its Cache-Status says, and what `onOutcome` hears.
 *
 * @example
 * const onOutcome = (outcome: CacheOutcome) => metrics.increment(outcome.hit ? "hit" : `fwd.${outcome.fwd}`);
 */
export type CacheOutcome =
  /** Served from the cache; `ttl` is the remaining freshness in seconds, rounded up (at least 1 while fresh; 0 or less when stale). */
  | { hit: true; ttl: number; detail?: "collapsed" | "revalidating" | "refreshing" | "stale-if-error" }
  /** Forwarded to the handler: `fwd` per RFC 9211, whether the response was stored, and why not. */
  | { hit: false; fwd: "uri-miss" | "vary-miss" | "miss" | "stale" | "method" | "bypass"; stored?: boolean; detail?: string };

/** RFC 8941 §3.3.1: the largest Integer a structured field holds (a ttl of `cachePage(1e300)` would print as `1e+300`). */
const MAX_SF_INTEGER = 999_999_999_999_999;

/**
 * The Cache-Status member for `outcome`.
 *
 * @example
 * cacheStatusValue("edgecache", { hit: true, ttl: 42 }); // "edgecache; hit; ttl=42"
 */
export function cacheStatusValue(cacheName: string, outcome: CacheOutcome): string {
  let value = cacheName;
  if (outcome.hit) {
    value += `; hit; ttl=${Math.max(-MAX_SF_INTEGER, Math.min(outcome.ttl, MAX_SF_INTEGER))}`;
  } else {
    value += `; fwd=${outcome.fwd}`;
    if (outcome.stored) value += "; stored";
  }
  if (outcome.detail) value += `; detail=${outcome.detail}`;
  return value;
}
