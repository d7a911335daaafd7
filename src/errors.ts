/**
 * Error classes raised by edgecache. Bad arguments raise the built-in `TypeError` naming the
 * argument; these classes cover the cache-specific failures.
 */

/**
 * Raised by `caches.get(alias)` for an alias that `configureCaches` did not define.
 *
 * @example
 * try { caches.get("nope") } catch (e) { if (e instanceof InvalidCacheBackendError) console.log(e.message) }
 */
export class InvalidCacheBackendError extends Error {
  override name = "InvalidCacheBackendError";
}

/**
 * Raised when a made key cannot be used by the backend (memcached: over 250 bytes, or with
 * spaces or control characters). Other backends only warn through `onWarning`.
 *
 * @example
 * await cache.set("has space", 1) // memcached: throws InvalidCacheKeyError
 */
export class InvalidCacheKeyError extends Error {
  override name = "InvalidCacheKeyError";
}

/**
 * Raised by `incr`, `decr`, `incrVersion` and `decrVersion` when the key is missing.
 *
 * @example
 * await cache.incr("missing") // throws KeyNotFoundError: Key ':1:missing' not found
 */
export class KeyNotFoundError extends Error {
  override name = "KeyNotFoundError";
}

/**
 * Raised by a backend when it cannot work in this runtime (the Cache API under Node), when the
 * store cannot be reached or refuses the request (a wrong token), or when it refuses a value
 * (over its size limit).
 *
 * @example
 * if (err instanceof BackendUnavailableError) console.log("no Cache API here:", err.message)
 */
export class BackendUnavailableError extends Error {
  override name = "BackendUnavailableError";
}

/**
 * A backend call that took longer than its time limit: `createCache`'s `timeoutMs` for every
 * call, page caching's `timeoutMs` for its own, an adapter's own (memcached's, Upstash's). The
 * call itself may still complete (a write may land); its answer is no longer waited for. Page
 * caching's circuit breaker counts these.
 *
 * @example
 * createCache({ backend, timeoutMs: 250, ignoreErrors: true, onError: (e) => { if (e instanceof BackendTimeoutError) metrics.slowStore++ } });
 */
export class BackendTimeoutError extends BackendUnavailableError {
  override name = "BackendTimeoutError";
}

/**
 * Raised when bytes read from a backend cannot be decoded. EdgeCache treats such an entry as a
 * miss and deletes it; it is exported so adapters and hooks can recognise it.
 *
 * @example
 * cachePage(60, { onError: (e) => { if (e instanceof CorruptEntryError) metrics.corrupt++ } })
 */
export class CorruptEntryError extends Error {
  override name = "CorruptEntryError";
}

/**
 * Raised by `getOrSet` when computing a missing value (or waiting for another process's
 * computation) takes longer than its `hardTimeoutMs`. The computation goes on and stores its
 * value when done; the caller stops waiting for it.
 *
 * @example
 * try { await cache.getOrSet("report", build, { hardTimeoutMs: 2000 }) } catch (e) { if (e instanceof FactoryTimeoutError) return fallbackReport() }
 */
export class FactoryTimeoutError extends Error {
  override name = "FactoryTimeoutError";
}
