/**
 * edgecache: Django's cache framework for Web-standard fetch handlers. This module only
 * re-exports; each name is documented where it is defined.
 */
export type { Timeout } from "./arguments.ts";
export type { Backend, BackendCapabilities, BackendTtl, StreamedEntry, StreamStore } from "./backend.ts";
export { identityNamed } from "./backend.ts";
export type { BackendCall } from "./observed-backend.ts";
export { createCache } from "./cache.ts";
export type { CacheOptions, ComputedMany, EdgeCache, GetOrSetManyOptions, GetOrSetOptions, ReadOutcome, SetOptions, VersionOption, WriteOptions } from "./cache.ts";
export { cborSerializer } from "./codec.ts";
export type { Serializer } from "./codec.ts";
export { BackendTimeoutError, BackendUnavailableError, CorruptEntryError, FactoryTimeoutError, InvalidCacheBackendError, InvalidCacheKeyError, KeyNotFoundError } from "./errors.ts";
export { defaultKeyFunction, memcachedKeyWarnings } from "./keys.ts";
export type { KeyFunction } from "./keys.ts";
export { caches, configureCaches } from "./registry.ts";
export type { CacheRegistry, CachesConfig } from "./registry.ts";
export type { Handler, Wrapper } from "./types.ts";
export { cacheControl, compose, conditionalGet, createConditionalGet, neverCache, varyOnCookie, varyOnHeaders } from "./wrappers.ts";
export { cachePage, cacheSite } from "./page/cache-page.ts";
export { purgePage, type PurgePageOptions } from "./page/purge.ts";
export { purgeTag, type PurgeTagOptions } from "./tags.ts";
export type { SiteCacheOptions } from "./page/cache-page.ts";
export type { CacheSelector, PageCacheOptions, PageErrorContext } from "./page/options.ts";
export type { CacheOutcome } from "./page/cache-status.ts";
export { getCacheKey, learnCacheKey } from "./page/keys.ts";
export type { GetCacheKeyOptions, LearnCacheKeyOptions } from "./page/keys.ts";
export { getMaxAge, parseCacheControl, patchCacheControl } from "./http/cache-control.ts";
export type { CacheControlDirectives, ParsedCacheControl } from "./http/cache-control.ts";
export { hasVaryHeader, patchVaryHeaders } from "./http/vary.ts";
export { addNeverCacheHeaders, patchResponseHeaders } from "./http/response-headers.ts";
export { evaluateConditional, getConditionalResponse, notModified } from "./http/conditional.ts";
export { formatHttpDate, parseHttpDate } from "./http/date.ts";
export { getRangeResponse } from "./http/range.ts";
