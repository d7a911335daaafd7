/**
 * Backing off from a failing origin while a stale copy can stand in for it (bentocache's
 * `graceBackoff`, Varnish's grace while the backend is sick). Once a page's handler has thrown or
 * answered 5xx and the stale page was served instead, requests for that page get the stale page
 * at once for `errorBackoffMs`, without calling the handler: an origin that is down is not hit by
 * every request, and none of them waits for it to fail again. Background refreshes of stale pages
 * back off the same way, and so do `getOrSet`'s computations and refreshes of low-level values.
 * Kept per owner (a store, one cache's computations) and key, in this isolate.
 */

/** Keys remembered per owner at most; past that, the oldest is forgotten first. */
const MAX_KEYS = 10_000;

/**
 * The keys whose origin failed lately, and until when each is left alone.
 *
 * @example
 * const backoff = new ErrorBackoff(5000);
 * if (stale && backoff.holds(cache, key, now)) return serveStale();
 * if (response.status >= 500) backoff.failed(cache, key, now);
 */
export class ErrorBackoff {
  private readonly ms: number;
  private readonly failing = new WeakMap<object, Map<string, number>>();

  /** `ms`: how long a failure keeps the origin from being called for its key by default; 0 never backs off. */
  constructor(ms: number) {
    this.ms = ms;
  }

  /** Whether the origin of `key` under `owner` failed less than the backoff ago. */
  holds(owner: object, key: string, now: number): boolean {
    const keys = this.failing.get(owner);
    const until = keys?.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    keys!.delete(key);
    return false;
  }

  /** The origin of `key` under `owner` failed at `now`: leave it alone for `ms` (default: the backoff's). */
  failed(owner: object, key: string, now: number, ms = this.ms): void {
    if (ms === 0) return;
    let keys = this.failing.get(owner);
    if (!keys) this.failing.set(owner, (keys = new Map()));
    keys.delete(key); // re-inserted last: the Map's order is the order of failure
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(key, now + ms);
  }
}
