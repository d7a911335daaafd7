/**
 * edgecache: Django's cache framework for Web-standard fetch handlers. This module only
 * re-exports; each name is documented where it is defined.
 */
export type { Timeout } from "./arguments.ts";
export type { Backend, BackendCapabilities, BackendTtl } from "./backend.ts";
export { createCache } from "./cache.ts";
export type { CacheOptions, EdgeCache, VersionOption, WriteOptions } from "./cache.ts";
export { cborSerializer } from "./codec.ts";
export type { Serializer } from "./codec.ts";
export { BackendUnavailableError, CorruptEntryError, InvalidCacheBackendError, InvalidCacheKeyError, KeyNotFoundError } from "./errors.ts";
export { defaultKeyFunction, memcachedKeyWarnings } from "./keys.ts";
export type { KeyFunction } from "./keys.ts";
export { caches, configureCaches } from "./registry.ts";
export type { CachesConfig } from "./registry.ts";
