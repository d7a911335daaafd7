/**
 * What an isolate remembers of the vary indexes it has read: per cache and base key, the request
 * headers the URL's page varies on and the index's epoch, trusted for a minute so that a repeat
 * hit on a varying page is one read. Shared by every page-caching wrapper (their base keys differ
 * where their pages do) and by `purgePage`, which makes the isolate forget.
 */
import { LRUCache } from "lru-cache";
import type { EdgeCache } from "../cache.ts";

/** A vary index as remembered, until `until` (clock milliseconds). */
export interface KnownVary {
  vary: readonly string[];
  epoch: string | undefined;
  until: number;
}

/** How long a remembered vary index is trusted without reading it again. */
export const VARY_MEMO_MS = 60_000;

const memos = new WeakMap<EdgeCache, LRUCache<string, KnownVary>>();

/**
 * The vary indexes this isolate remembers for `cache`, by base key (at most 1000).
 *
 * @example
 * varyMemo(cache).set(base, { vary: ["cookie"], epoch: index.epoch, until: now + VARY_MEMO_MS });
 */
export function varyMemo(cache: EdgeCache): LRUCache<string, KnownVary> {
  let memo = memos.get(cache);
  if (!memo) memos.set(cache, (memo = new LRUCache({ max: 1000 })));
  return memo;
}
