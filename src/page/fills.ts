/**
 * The pages being filled, so concurrent misses wait for one fill instead of all running the
 * handler: in this isolate, a promise per page being filled; and on a store shared between
 * processes that has an atomic add (memcached, Redis), a store-wide lock entry next to the page's
 * key, taken by the first process to miss. Stores without an atomic add (Workers KV, the Cache
 * API) and in-isolate stores do with the isolate's promises. The locks are `locks.ts`'s.
 */
import { identityOf } from "../backend.ts";
import type { EdgeCache } from "../cache.ts";
import { takeLock } from "../locks.ts";

/** The lock's key: its own namespace, so it can never be a page's key. */
function lockKey(cache: EdgeCache, key: string): string {
  return cache.makeKey(`lock.${key}`);
}

/**
 * Take the fill lock of the page under `key` for `ms` milliseconds (at least a second, so a filler
 * that dies frees it soon); `true` when this caller took it. Store failures reject.
 *
 * @example
 * const mine = await claimFill(cache, "page.GET.0:.https://example.com/", 5000);
 */
export function claimFill(cache: EdgeCache, key: string, ms: number): Promise<boolean> {
  return takeLock(cache.backend, lockKey(cache, key), ms);
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

/**
 * The pages whose handler is running to fill them, by the request it was given (see
 * `whileFilling`).
 */
const filledFor = new WeakMap<Request, Array<{ layer: object; store: object; key: string }>>();

/**
 * Run `render`, the handler that `layer` (a page-caching engine) runs to fill the page under `key`
 * with `request`, marked as such while it runs: a page-caching layer inside it over the same
 * store (`cachePage` within `cacheSite`, under the same key by default) then finds that the page
 * it looks up is being filled for this very request (see `isFilledFor`).
 *
 * @example
 * const response = await whileFilling(this, request, cache, key, () => handler(request));
 */
export async function whileFilling<T>(layer: object, request: Request, cache: EdgeCache, key: string, render: () => T | Promise<T>): Promise<T> {
  const mark = { layer, store: identityOf(cache.backend), key: cache.makeKey(key) };
  let marks = filledFor.get(request);
  if (!marks) filledFor.set(request, (marks = []));
  marks.push(mark);
  try {
    return await render();
  } finally {
    marks.splice(marks.indexOf(mark), 1);
  }
}

/**
 * Whether a layer other than `layer` (one outside it) is filling the page under `key` for
 * `request` (see `whileFilling`). It found the page missing, stale or due for a refresh, and its
 * fill waits for this layer's answer: this one must render the page, neither answer from the
 * store nor wait for that fill (on a store-wide lock, every miss would wait out `collapseMs`).
 * The same layer given the same Request object twice at once (a warm-up, a fan-out) is no such
 * case: the second call waits for the first's fill as any other request would.
 *
 * @example
 * if (isFilledFor(this, request, cache, lookup.missKey)) return render();
 */
export function isFilledFor(layer: object, request: Request, cache: EdgeCache, key: string): boolean {
  const marks = filledFor.get(request);
  if (marks === undefined || marks.length === 0) return false;
  const store = identityOf(cache.backend);
  const made = cache.makeKey(key);
  return marks.some((mark) => mark.layer !== layer && mark.store === store && mark.key === made);
}

/**
 * One fill under way in this isolate. `end` (idempotent) lets its waiters go and, when `held` is
 * set by then, frees the store-wide lock.
 */
export interface Fill {
  held: boolean;
  /** End the fill; settles once its store-wide lock is freed (at once if it held none). */
  end(): Promise<void>;
}

/** A fill under way, as those waiting for it see it: it settles `done` when it ends; `began` is its `performance.now()`. */
export interface PendingFill {
  readonly done: Promise<void>;
  readonly began: number;
}

/**
 * The fills under way in this isolate, per store (its `identity`) and by the key the store sees:
 * caches made per request over one store (Workers' bindings, a pool) share them.
 *
 * @example
 * const fill = fills.start(cache, key, report);
 * try { await fillThePage() } finally { fill.end() }
 */
export class Fills {
  private readonly underWay = new WeakMap<object, Map<string, PendingFill>>();

  /**
   * This isolate's fill of `key`; `undefined` when there is none, or (with `withinMs`) when it
   * began longer ago than that: on Workers its request may have ended.
   */
  pending(cache: EdgeCache, key: string, withinMs = Infinity): PendingFill | undefined {
    const fill = this.underWay.get(identityOf(cache.backend))?.get(cache.makeKey(key));
    return fill && performance.now() - fill.began <= withinMs ? fill : undefined;
  }

  /** Mark `key` as being filled here. A failure to free the store-wide lock goes to `onError`. */
  start(cache: EdgeCache, key: string, onError: (error: unknown) => void): Fill {
    const store = identityOf(cache.backend);
    let fills = this.underWay.get(store);
    if (!fills) this.underWay.set(store, (fills = new Map()));
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const entry = { done, began: performance.now() };
    const made = cache.makeKey(key);
    fills.set(made, entry);
    let ended = false;
    const fill: Fill = {
      held: false,
      end() {
        if (ended) return Promise.resolve();
        ended = true;
        if (fills.get(made) === entry) fills.delete(made);
        finish();
        return fill.held ? releaseFill(cache, key).catch(onError) : Promise.resolve();
      },
    };
    return fill;
  }
}
