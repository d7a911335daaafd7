/**
 * What an isolate remembers of the vary indexes it has read: per store and base key, the request
 * headers the URL's page varies on and the index's epoch, trusted for `tagCheckMs` (a second) as
 * tag records are, so that a repeat hit on a busy varying page is one read, and a `purgePage` made
 * elsewhere (which replaces the index) reaches this isolate as soon as a `purgeTag` would.
 * Shared by every page-caching wrapper (their base keys differ where their pages do), by every
 * cache over the store (base keys are remembered as the store sees them, prefix and version
 * included, so Workers' per-request caches share it too), and by `purgePage`, which makes the
 * isolate forget.
 */
import { LRUCache } from "lru-cache";
import { perStore } from "../backend.ts";
import type { EdgeCache } from "../cache.ts";

/** A vary index as remembered, until `until` (clock milliseconds). */
export interface KnownVary {
  vary: readonly string[];
  epoch: string | undefined;
  until: number;
}

/**
 * The vary indexes remembered for one cache, by base key.
 *
 * @example
 * const known = varyMemo(cache).get(base);
 */
export interface VaryMemo {
  get(base: string): KnownVary | undefined;
  set(base: string, known: KnownVary): void;
  delete(base: string): void;
}

/** Per store, by the made base key (at most 1000). */
const memos = perStore(() => new LRUCache<string, KnownVary>({ max: 1000 }));
const views = new WeakMap<EdgeCache, VaryMemo>();

/**
 * The vary indexes this isolate remembers for `cache`, by base key.
 *
 * @example
 * varyMemo(cache).set(base, { vary: ["cookie"], epoch: index.epoch, until: now + options.tagCheckMs });
 */
export function varyMemo(cache: EdgeCache): VaryMemo {
  let view = views.get(cache);
  if (!view) {
    const known = memos(cache.backend);
    view = {
      // Most sites vary few pages, or none: a hit then makes no key for the memo.
      get: (base) => (known.size === 0 ? undefined : known.get(cache.makeKey(base))),
      set: (base, entry) => void known.set(cache.makeKey(base), entry),
      delete: (base) => void known.delete(cache.makeKey(base)),
    };
    views.set(cache, view);
  }
  return view;
}
