/** Resolving the `cache` option of page caching to an EdgeCache for one request. */
import { describe } from "../arguments.ts";
import type { EdgeCache } from "../cache.ts";
import { caches } from "../registry.ts";
import type { CacheSelector } from "./options.ts";

/**
 * The EdgeCache a request's page lives in: the cache itself, the alias looked up in the registry,
 * or the selector function called with the request and the handler's extra arguments.
 *
 * @example
 * selectCache((request, env) => createCache({ backend: workersKv(env.PAGES) }), request, [env, ctx]);
 */
export function selectCache(selector: CacheSelector, request: Request, args: readonly unknown[]): EdgeCache {
  if (typeof selector === "string") return caches.get(selector);
  if (typeof selector === "function") {
    const cache = selector(request, ...args);
    if (cache === null || typeof cache !== "object" || typeof cache.get !== "function") {
      throw new TypeError(`options.cache returned ${describe(cache)} instead of an EdgeCache`);
    }
    return cache;
  }
  return selector;
}
