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
import { perStore } from "../backend.ts";
import { PurgeGuardedMemo } from "../purge-guarded-memo.ts";
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
  /** Where the memo stands: take it before reading the index that `set` will keep. */
  mark(): number;
  /** Keep `known`, read since `mark`, unless a purge came since (see `PurgeGuardedMemo`). */
  set(base: string, known: KnownVary, mark: number): void;
  delete(base: string): void;
  /** Forget `base` while a purge's `write` runs. */
  purging<T>(base: string, write: () => Promise<T>): Promise<T>;
}

/** Per store, by the made base key (at most 1000). */
const memos = perStore(() => new PurgeGuardedMemo<KnownVary>(1000));
const views = new WeakMap<EdgeCache, VaryMemo>();

/**
 * The vary indexes this isolate remembers for `cache`, by base key.
 *
 * @example
 * const memo = varyMemo(cache);
 * const mark = memo.mark();
 * const index = await readRecord(cache, base);
 * memo.set(base, { vary: index.vary, epoch: index.epoch, until: now + options.tagCheckMs }, mark);
 */
export function varyMemo(cache: EdgeCache): VaryMemo {
  let view = views.get(cache);
  if (!view) {
    const known = memos(cache.backend);
    view = {
      // Most sites vary few pages, or none: a hit then makes no key for the memo.
      get: (base) => (known.size === 0 ? undefined : known.get(cache.makeKey(base))),
      mark: () => known.mark(),
      set: (base, entry, mark) => known.set(cache.makeKey(base), entry, mark),
      delete: (base) => known.delete(cache.makeKey(base)),
      purging: (base, write) => known.purging([cache.makeKey(base)], write),
    };
    views.set(cache, view);
  }
  return view;
}
