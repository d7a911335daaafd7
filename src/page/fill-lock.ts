/**
 * The store-wide fill lock: on a store shared between processes that has an atomic `add`
 * (memcached, Redis), the request that misses first takes a short lock entry next to the page's
 * key, and the other processes' requests for the page wait for its page instead of all running the
 * handler (a thundering herd across processes, not just within one isolate). Stores without an
 * atomic add (Workers KV, the Cache API) and in-isolate stores do without it.
 */
import { encodeCounter } from "../codec.ts";
import type { EdgeCache } from "../cache.ts";

const LOCKED = encodeCounter(1);

/** The lock's key: its own namespace, so it can never be a page's key. */
function lockKey(cache: EdgeCache, key: string): string {
  return cache.makeKey(`lock.${key}`);
}

/**
 * Whether `cache`'s store can hold a fill lock: shared beyond this isolate, with an atomic add.
 *
 * @example
 * if (sharesFills(cache) && !(await claimFill(cache, key, 5000))) await waitForPage();
 */
export function sharesFills(cache: EdgeCache): boolean {
  const { capabilities, add } = cache.backend;
  return capabilities?.shared === true && capabilities.atomicAdd === true && typeof add === "function";
}

/**
 * Take the fill lock of the page under `key` for `ms` milliseconds (at least a second, so a filler
 * that dies frees it soon); `true` when this caller took it. Store failures reject.
 *
 * @example
 * const mine = await claimFill(cache, "page.GET.0:.https://example.com/", 5000);
 */
export function claimFill(cache: EdgeCache, key: string, ms: number): Promise<boolean> {
  return cache.backend.add!(lockKey(cache, key), LOCKED, Math.max(1, ms / 1000));
}

/**
 * Free the fill lock of the page under `key`, once its page is stored or its fill has failed.
 *
 * @example
 * await releaseFill(cache, "page.GET.0:.https://example.com/");
 */
export async function releaseFill(cache: EdgeCache, key: string): Promise<void> {
  await cache.backend.delete(lockKey(cache, key));
}
