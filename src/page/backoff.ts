/**
 * Backing off from a failing handler while a stale page can stand in for it (bentocache's
 * `graceBackoff`, Varnish's grace while the backend is sick). Once a page's handler has thrown or
 * answered 5xx and the stale page was served instead, requests for that page get the stale page
 * at once for `errorBackoffMs`, without calling the handler: an origin that is down is not hit by
 * every request, and none of them waits for it to fail again. Background refreshes of stale pages
 * back off the same way. Kept per cache and page key, in this isolate.
 */
import type { EdgeCache } from "../cache.ts";

/** Pages remembered per cache at most; past that, the oldest is forgotten first. */
const MAX_PAGES = 10_000;

/**
 * The pages whose handler failed lately, and until when each is left alone.
 *
 * @example
 * const backoff = new ErrorBackoff(5000);
 * if (stale && backoff.holds(cache, key, now)) return serveStale();
 * if (response.status >= 500) backoff.failed(cache, key, now);
 */
export class ErrorBackoff {
  private readonly ms: number;
  private readonly failing = new WeakMap<EdgeCache, Map<string, number>>();

  /** `ms`: how long a failure keeps the handler from being called for its page; 0 never backs off. */
  constructor(ms: number) {
    this.ms = ms;
  }

  /** Whether the handler of `key` in `cache` failed less than the backoff ago. */
  holds(cache: EdgeCache, key: string, now: number): boolean {
    const pages = this.failing.get(cache);
    const until = pages?.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    pages!.delete(key);
    return false;
  }

  /** The handler of `key` in `cache` failed at `now`. */
  failed(cache: EdgeCache, key: string, now: number): void {
    if (this.ms === 0) return;
    let pages = this.failing.get(cache);
    if (!pages) this.failing.set(cache, (pages = new Map()));
    pages.delete(key); // re-inserted last: the Map's order is the order of failure
    if (pages.size >= MAX_PAGES) pages.delete(pages.keys().next().value!);
    pages.set(key, now + this.ms);
  }
}
