/**
 * Purging a URL from page caching: its GET and HEAD pages, every variant included (Django has no
 * such call; `cache.delete(getCacheKey(request))` there removes one variant only). A purge also
 * leaves a record of its time for a while, so that a page whose render was under way when it
 * came, and may hold what the purge was for, is not stored when it finishes.
 */
import { describe } from "../arguments.ts";
import { deleteOrThrow } from "../cache.ts";
import { orderedNow } from "../ordered-time.ts";
import { baseKey } from "./keys.ts";
import { PURGE_RECORD_SECONDS, purgeRecordKey } from "./purge-records.ts";
import { keySettings, type PageCacheOptions } from "./options.ts";
import { selectCache } from "./select.ts";
import { varyMemo } from "./vary-memo.ts";

/**
 * Options of `purgePage`: those that shape a page's key, as given to the wrapper that cached it.
 * `keyParts` and a `cache` selector function are called with the request given to `purgePage`
 * (for a URL, a plain GET for it) and nothing else.
 *
 * @example
 * const options: PurgePageOptions = { cache: pages, keyPrefix: "v2", query: { ignore: [/^utm_/] } };
 */
export type PurgePageOptions = Pick<PageCacheOptions, "cache" | "keyPrefix" | "query" | "keyParts" | "now">;

/**
 * Remove the cached pages of `url`, GET and HEAD, every variant included; the next request for it
 * is a miss, and a page whose render was under way is not stored. A page that varies is gone at
 * once in this isolate; another isolate that read its vary index within its `tagCheckMs` (a
 * second) may serve a variant it already knew of until then. Rejects when the store fails, with
 * the cache's `ignoreErrors` too (as `purgeTag` does): the page may still be there.
 *
 * @example
 * import { purgePage } from "edgecache";
 *
 * await purgePage("https://example.com/products/42", { cache: pages });
 */
export async function purgePage(url: string | URL | Request, options: PurgePageOptions = {}): Promise<void> {
  const request = url instanceof Request ? url : new Request(checkedUrl(url));
  const settings = keySettings(options, "purgePage");
  const cache = selectCache(settings.cache, request, []);
  const memo = varyMemo(cache);
  const at = orderedNow(settings.now);
  await Promise.all(["GET", "HEAD"].map(async (method) => {
    const base = await baseKey(request, method, settings);
    await memo.purging(base, async () => {
      // Not cache.set and cache.delete: with the cache's ignoreErrors they would hide a failure, and
      // the page would stay while the caller took it for purged (purgeTag throws too).
      const failed = await cache.setMany([[purgeRecordKey(base), at]], { timeout: PURGE_RECORD_SECONDS });
      if (failed.length > 0) throw new Error(`purgePage could not write to the ${cache.backend.name} backend, so ${request.url} was not purged there`);
      await deleteOrThrow(cache, base);
    });
  }));
}

function checkedUrl(url: unknown): string {
  if (url instanceof URL) return url.href;
  try {
    if (typeof url === "string") return new URL(url).href;
  } catch {
    // reported below
  }
  throw new TypeError(`url must be an absolute URL string, a URL or a Request, got ${describe(url)}`);
}
