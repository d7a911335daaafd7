/**
 * The global cache registry: Django's `CACHES` setting and `caches[alias]`. Caches are created
 * lazily from their options on first use and kept for the life of the isolate.
 */
import { describe } from "./arguments.ts";
import { type CacheOptions, createCache, type EdgeCache } from "./cache.ts";
import { InvalidCacheBackendError } from "./errors.ts";

/**
 * Aliases and how to build each cache (or a ready EdgeCache). `default` is optional; without it
 * the default cache is a memory cache.
 *
 * @example
 * const config: CachesConfig = { default: { backend: memory() }, sessions: { backend: memcached({ servers: "10.0.0.1:11211" }) } };
 */
export type CachesConfig = Record<string, CacheOptions | EdgeCache>;

let config: CachesConfig = {};
const instances = new Map<string, EdgeCache>();

function isEdgeCache(value: CacheOptions | EdgeCache): value is EdgeCache {
  return typeof (value as EdgeCache).makeKey === "function" && typeof (value as EdgeCache).getOrSet === "function";
}

/**
 * Define the caches the rest of the app (and `cachePage`'s `cache` option) refer to by alias.
 * Replaces any earlier configuration; caches already handed out keep working.
 *
 * @example
 * configureCaches({
 *   default: { backend: memory({ maxEntries: 1000 }) },
 *   pages: { backend: workersKv(env.PAGES), keyPrefix: "pages" },
 * });
 */
export function configureCaches(aliases: CachesConfig): void {
  if (aliases === null || typeof aliases !== "object") throw new TypeError(`aliases must be an object, got ${describe(aliases)}`);
  for (const [alias, value] of Object.entries(aliases)) {
    if (value === null || typeof value !== "object") {
      throw new TypeError(`aliases.${alias} must be cache options or an EdgeCache, got ${describe(value)}`);
    }
  }
  config = { ...aliases };
  instances.clear();
}

/**
 * The configured caches by alias: the type of `caches`.
 *
 * @example
 * function pagesCache(registry: CacheRegistry): EdgeCache { return registry.get("pages"); }
 */
export interface CacheRegistry {
  /** The cache configured under `alias`. InvalidCacheBackendError for an unknown alias. */
  get(alias: string): EdgeCache;
  /** The `default` alias: a memory cache unless configured. */
  readonly default: EdgeCache;
}

/**
 * The configured caches by alias, Django's `caches`.
 *
 * @example
 * await caches.default.set("k", 1);
 * const sessions = caches.get("sessions");
 */
export const caches: CacheRegistry = {
  /** The cache configured under `alias`. InvalidCacheBackendError for an unknown alias. */
  get(alias: string): EdgeCache {
    const existing = instances.get(alias);
    if (existing) return existing;
    const entry = Object.hasOwn(config, alias) ? config[alias] : alias === "default" ? {} : undefined;
    if (entry === undefined) throw new InvalidCacheBackendError(`The cache alias '${alias}' is not configured; known aliases: ${["default", ...Object.keys(config)].filter((a, i, all) => all.indexOf(a) === i).join(", ")}`);
    const cache = isEdgeCache(entry) ? entry : createCache(entry);
    instances.set(alias, cache);
    return cache;
  },
  /** The `default` alias: a memory cache unless configured. */
  get default(): EdgeCache {
    return caches.get("default");
  },
};
