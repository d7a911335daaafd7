/**
 * EdgeCache: Django's low-level cache API (`django.core.cache.cache`) over any Backend.
 * Key prefix, versions, a key function, default timeouts, memcached key warnings, and the
 * generic fallbacks for whatever the backend does not do natively.
 */
import { memory } from "../adapters/memory.ts";
import { checkCallOptions, checkFunction, checkInteger, checkKey, checkOptionNames, checkTimeout, describe, fraction, nonNegative, type Timeout } from "./arguments.ts";
import { type Backend, type BackendTtl, identityOf, type StreamStore } from "./backend.ts";
import { concatBytes, readAll } from "./bytes.ts";
import { type CompleteBackend, completeBackend, entryWithTtl } from "./backend-fallbacks.ts";
import { byteStringBounds, byteStringHeader, cborSerializer, decodeValue, encodeValue, type Serializer } from "./codec.ts";
import { BackendUnavailableError, CorruptEntryError, FactoryTimeoutError, KeyNotFoundError } from "./errors.ts";
import { withDeadline } from "./deadline.ts";
import { defaultKeyFunction, type KeyFunction, memcachedKeyWarnings } from "./keys.ts";
import { type FillPlan, Fills } from "./get-or-set.ts";
import { DEFAULT_COLLAPSE_MS, sharesLocks } from "./locks.ts";
import { harmless } from "./hooks.ts";
import { orderedNow } from "./ordered-time.ts";
import { TagChecks, type Untagged } from "./tag-checks.ts";
import { isTaggedEntry, unwrapTagged } from "./tagged-value.ts";
import { checkTags, type TagClock, tagPurgeMark } from "./tags.ts";
import { type BackendCall, observed } from "./observed-backend.ts";
import { timeLimited } from "./time-limited.ts";

/**
 * Options for `createCache`. Every field is optional.
 *
 * @example
 * const options: CacheOptions = { backend: memory(), timeout: 60, keyPrefix: "shop", version: 2 };
 */
export interface CacheOptions {
  /** Where entries live. Default: a private `memory()` backend. */
  backend?: Backend;
  /** Default timeout in seconds (floats allowed; `null`, or more than 2^31, never expires). Default 300. */
  timeout?: Timeout;
  /**
   * Shorten each write's timeout by a random share of up to this fraction (`0.1`: up to 10%), so
   * entries written at the same time (a warm-up, `getOrSet` fills, pages stored after a deploy) do
   * not all expire in the same second and send their misses to the origin at once. One draw per
   * call: the entries of a `setMany` share theirs. Entries never outlive their timeout. Pages
   * stored through this cache may leave the store that much before their max-age (a miss,
   * refilled). Default 0.
   */
  timeoutJitter?: number;
  /** Prepended to every key by the key function. Default `""`. */
  keyPrefix?: string;
  /** Default version. Default 1. */
  version?: number;
  /** Builds the backend key. Default `${keyPrefix}:${version}:${key}`. */
  keyFunction?: KeyFunction;
  /** Encodes values other than safe integers. Default: data-only CBOR (`cborSerializer`). */
  serializer?: Serializer;
  /** Receives memcached key warnings (keys over 250 characters, spaces, control characters). Default `console.warn`. */
  onWarning?: (message: string) => void;
  /**
   * The longest any backend call may take, in ms: a call that takes longer fails with a
   * `BackendTimeoutError` (with `ignoreErrors`, a miss or a failed write, reported to `onError`),
   * so a hung store never leaves a caller waiting. The call is not cancelled: a late write may
   * still land. Default: none here; the memcached and Upstash adapters limit their own calls
   * (1000 and 2000 ms), and page caching limits the calls it makes (its own `timeoutMs`).
   */
  timeoutMs?: number;
  /**
   * When true, a failing backend makes reads miss and writes report failure instead of throwing;
   * the error goes to `onError`. Default false: errors propagate.
   */
  ignoreErrors?: boolean;
  /**
   * Hears what each read found, for metrics (hit ratios): one `ReadOutcome` per key that `get`,
   * `getMany`, `has`, `getOrSet` and `getOrSetMany` read. Page caching's own reads are not reported here (see its
   * `onOutcome`). A hook that throws, or returns a promise that rejects, changes nothing. Default: none.
   */
  onRead?: (outcome: ReadOutcome) => void;
  /**
   * Hears every call this cache makes to its backend once it has settled: the operation, how
   * long it took in ms, and the error it failed with, if any, for store latency metrics. Page
   * caching's calls through this cache are included. A hook that throws, or returns a promise that rejects, changes nothing. Default:
   * none (and no timing).
   */
  onBackendCall?: (call: BackendCall) => void;
  /**
   * Hears backend errors swallowed by `ignoreErrors`, corrupt entries dropped on read, `getOrSet`
   * locks the store failed to take or free, and factory errors `getOrSet` answered with a stale copy.
   * A hook that throws, or returns a promise that rejects, changes nothing.
   */
  onError?: (error: unknown, operation: string) => void;
  /**
   * How long, in ms, this isolate trusts the tag records it has read (see `SetOptions.tags`):
   * a value filed under tags costs one read per tag this often, and a `purgeTag` made elsewhere
   * reaches this isolate within it. Default 1000.
   */
  tagCheckMs?: number;
  /**
   * The clock of tag times (the same as `purgeTag`'s) and of `getOrSet`'s `errorBackoffMs`, in
   * ms, for tests. Default `Date.now`.
   */
  now?: () => number;
}

/**
 * What one read of the low-level cache found (see `CacheOptions.onRead`). A read that failed
 * under `ignoreErrors` is a miss (and `onError` hears why).
 *
 * @example
 * const onRead = ({ operation, hit }: ReadOutcome) => metrics.increment(`cache.${operation}.${hit ? "hit" : "miss"}`);
 */
export interface ReadOutcome {
  operation: "get" | "getMany" | "has" | "getOrSet" | "getOrSetMany";
  /** The key as the caller gave it (before the prefix and version). */
  key: string;
  hit: boolean;
  /** `getOrSet` only: the value was found due for `refreshAhead`, or stale since a soft purge of its tags, and a refresh was asked for. */
  refreshing?: true;
}

/**
 * Per-call version override.
 *
 * @example
 * await cache.get("price", { version: 2 });
 */
export interface VersionOption {
  version?: number;
}

/**
 * Per-call timeout and version overrides.
 *
 * @example
 * await cache.set("price", 19.5, { timeout: 60, version: 2 });
 */
export interface WriteOptions extends VersionOption {
  /** Seconds; `null` (or more than 2^31, 68 years) never expires; 0 or negative keeps nothing. Default: the cache's timeout. */
  timeout?: Timeout;
}

/**
 * Options of the writes that store a value (`set`, `add`, `setMany`, `getOrSet`): a timeout, a
 * version, and tags to file it under.
 *
 * @example
 * await cache.set("product:42", product, { timeout: 600, tags: ["product:42", "catalogue"] });
 * await purgeTag("catalogue", { cache }); // every value (and page) filed under it is gone
 */
export interface SetOptions extends WriteOptions {
  /**
   * File the value under these tags: `purgeTag(tag, { cache })` ends it, with every other value
   * and page in this cache filed under the tag, in one write per tag. A purge since the value's
   * write was asked for (or its `getOrSet` computation began) ends it: reads then miss, and the
   * next write (an `add` too) replaces it. A soft purge makes `getOrSet` return it while one background recomputation replaces it;
   * the other reads miss. Each tag has a record in the cache (`tag:<name>`, see `purgeTag`),
   * made with the first value or page filed under it; reading a tagged value reads its tags'
   * records, trusted for `tagCheckMs`. A tagged integer is not a counter (`incr` refuses it).
   * Tags are non-empty strings of up to 1024 characters without control characters.
   */
  tags?: readonly string[];
}

/**
 * Options of `getOrSetMany`: `getOrSet`'s adaptive timeout and tags, asked of each computed value
 * with its key (a batch of products, each filed under its own tag).
 *
 * @example
 * const options: GetOrSetManyOptions<Product | null> = { timeout: (product) => (product ? 3600 : 30), tags: (_product, key) => [key, "catalogue"] };
 */
export interface GetOrSetManyOptions<T = unknown> extends VersionOption {
  /**
   * Seconds (see `SetOptions.timeout`), or a function of each computed value and its key that
   * returns them. A function that throws or returns something other than a timeout stores that
   * value only: it is returned, and `onError` hears why. Default: the cache's timeout.
   */
  timeout?: Timeout | ((value: T, key: string) => Timeout);
  /**
   * Tags to file the values under (see `SetOptions.tags`), or a function of each computed value
   * and its key that returns its own. A function that throws or returns bad tags stores that value
   * only: it is returned, and `onError` hears why.
   */
  tags?: readonly string[] | ((value: T, key: string) => readonly string[]);
}

/**
 * What `getOrSetMany`'s `compute` returns: the values it found for the missing keys, by key.
 *
 * @example
 * const computed: ComputedMany<Product> = new Map([["product:1", lamp]]);
 */
export type ComputedMany<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>>;

/**
 * Options of `getOrSet`: those of a write, how it keeps other processes from computing the same
 * value at once, and what it falls back on when the computation fails.
 *
 * @example
 * await cache.getOrSet("report", buildReport, { timeout: 600, collapseMs: 30_000, staleIfError: 3600 });
 * await cache.getOrSet("rates", fetchRates, { timeout: 60, refreshAhead: 0.8, staleIfError: 600, softTimeoutMs: 200, waitUntil: (work) => ctx.waitUntil(work) });
 */
export interface GetOrSetOptions<T = unknown> extends VersionOption {
  /**
   * Seconds (`null` never expires; 0 or negative keeps nothing: the value is returned, not
   * stored), or a function of the computed value that returns them, for lifetimes known only once
   * it is computed (bentocache's adaptive caching): a token kept until just before it expires, an
   * error result kept for seconds, or not at all. A function that throws or returns something
   * other than a timeout stores nothing: the value is returned, and `onError` hears why. With
   * `refreshAhead`, the function is asked again for the value found. Default: the cache's timeout.
   */
  timeout?: Timeout | ((value: T) => Timeout);
  /**
   * Tags to file the value under (see `SetOptions.tags`), or a function of the computed value
   * that returns them, for tags known only once it is computed (bentocache's adaptive tags: a
   * listing filed under the products it holds). A function that throws or returns bad tags
   * stores nothing: the value is returned, and `onError` hears why.
   */
  tags?: readonly string[] | ((value: T) => readonly string[]);
  /**
   * On a store shared between processes with an atomic add (memcached, Upstash Redis), the first
   * process to miss takes a lock entry for this long and computes the value; the others poll the
   * store for it (10 ms, growing to 200 ms) and take over if the lock goes without a value, or
   * compute it too once this long has passed. Within one isolate, concurrent calls share one
   * computation; once it has run this long (5000 ms when 0), the next caller starts a second,
   * which answers them all, or the first does if it finishes sooner (then a third after twice as
   * long, and so on; a failure of the latest fails them): on Workers the request computing it
   * may have ended (a client that went away), and its computation with it. 0: no lock. Default
   * 5000 ms.
   */
  collapseMs?: number;
  /**
   * Seconds a value may still be returned after its timeout when computing its replacement fails:
   * `getOrSet` also keeps a copy under `stale.<key>` for this much longer, and when the factory
   * throws it returns that copy instead of throwing (the error goes to `onError`). `get`, `has`
   * and the rest never see the copy. For timeouts that never expire there is none. Default 0.
   */
  staleIfError?: number;
  /**
   * Replace a popular value before it expires: a value found past this fraction of its timeout
   * (e.g. `0.8`) is returned at once, and one recomputation starts in the background (one per
   * isolate, another only once it has run for `collapseMs`, and one per store where it locks, as
   * with `collapseMs`) that replaces it when done, so no caller ever waits for it. A failed one is reported to `onError` and the value stays.
   * Reads the value's remaining time with it (`getWithTtl`, or `ttl` beside `get`: every bundled
   * backend). Needs a timeout; values that never expire are never refreshed. Default: off.
   */
  refreshAhead?: number;
  /**
   * With `staleIfError`: a computation (or a wait for another process's) still running after
   * this many ms returns the stale copy at once, where there is one, and goes on in the
   * background to store its value (bentocache's soft timeout): an expired value is refreshed
   * behind the caller instead of making it wait for a slow origin. Without a copy, the caller
   * waits as usual. Default: none.
   */
  softTimeoutMs?: number;
  /**
   * The longest a caller waits for a missing value to be computed (or for another process's
   * computation), in ms: then `getOrSet` rejects with a `FactoryTimeoutError`, so a slow origin
   * cannot hold a request for ever, while the computation goes on (carried by `waitUntil`) and
   * stores its value when done; a failure of it is then reported to `onError`. With
   * `softTimeoutMs`, it must be longer: a stale copy is answered first where there is one
   * (bentocache's hard timeout). Default: none.
   */
  hardTimeoutMs?: number;
  /**
   * Once a computation has failed and the stale copy was answered (`staleIfError`), answer the
   * stale copy for this many ms without computing again; once a `refreshAhead` recomputation has
   * failed, start none for as long. An origin that is down is then not called by every request,
   * and none waits for it to fail again (bentocache's grace backoff). Per isolate, shared by every
   * cache over the store (see `Backend.identity`). 0: compute every time. Default 5000.
   */
  errorBackoffMs?: number;
  /**
   * Carries work that goes on after `getOrSet` has answered (a `refreshAhead` recomputation, one
   * that outlived `softTimeoutMs`) past the response where the runtime would cut it short: on
   * Workers, `ctx.waitUntil.bind(ctx)`. Elsewhere it simply runs on.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/**
 * Django's low-level cache API. Create one with `createCache`.
 *
 * @example
 * const cache = createCache({ timeout: 60 });
 * await cache.set("greeting", { text: "hello" });
 * await cache.get("greeting"); // { text: "hello" }
 */
export interface EdgeCache {
  /** The backend this cache stores into. */
  readonly backend: Backend;
  /** The default timeout in seconds (`null`: never expire). */
  readonly defaultTimeout: Timeout;
  /** The stored value, or `default` (else `undefined`) when missing. A stored `null` beats the default. */
  get<T = unknown>(key: string, options?: VersionOption & { default?: T }): Promise<T | undefined>;
  /** Store a value, replacing any existing entry. */
  set(key: string, value: unknown, options?: SetOptions): Promise<void>;
  /** Store only when the key is missing (or its value's tags were purged since); `true` if stored. */
  add(key: string, value: unknown, options?: SetOptions): Promise<boolean>;
  /**
   * The stored value, or compute it (value or sync/async factory), add it and return the winner's
   * value. Concurrent misses share one computation: in the isolate, and across processes on a
   * shared store with an atomic add (see `GetOrSetOptions.collapseMs`); with `staleIfError`, a
   * failed computation returns the previous value for a while.
   */
  getOrSet<T>(key: string, value: T | (() => T | Promise<T>), options?: GetOrSetOptions<T>): Promise<T>;
  /** The present keys only, with their values. */
  getMany<T = unknown>(keys: Iterable<string>, options?: VersionOption): Promise<Map<string, T>>;
  /**
   * The stored values of `keys`, and the missing ones computed by one call of `compute(missing)`
   * (a batch endpoint, a single `WHERE id IN` query) and stored in one `setMany`: one read, one
   * computation, one write, however many keys (one write per distinct timeout and tag list when
   * those are functions of each value). `compute` returns a Map or a plain object of the values it
   * found; keys it leaves out are neither stored nor returned. Values are filed under their tags
   * with the time `compute` was called, as `getOrSet` files them. Values the store does
   * not keep (memcached: over its item size) are returned all the same, and `onError` hears which
   * (a `BackendUnavailableError` naming their keys, operation `"getOrSetMany"`). No collapsing: calls at
   * once may each compute a key that both miss (use `getOrSet` where that matters).
   */
  getOrSetMany<T>(keys: Iterable<string>, compute: (missing: string[]) => ComputedMany<T> | Promise<ComputedMany<T>>, options?: GetOrSetManyOptions<T>): Promise<Map<string, T>>;
  /** Store several values with one timeout; returns the keys that failed to store. */
  setMany(entries: Record<string, unknown> | Iterable<readonly [string, unknown]>, options?: SetOptions): Promise<string[]>;
  /** Remove a key; `true` if it existed. */
  delete(key: string, options?: VersionOption): Promise<boolean>;
  /** Remove several keys. */
  deleteMany(keys: Iterable<string>, options?: VersionOption): Promise<void>;
  /** Whether the key is present (a stored `null` counts; a value whose tags were purged does not). */
  has(key: string, options?: VersionOption): Promise<boolean>;
  /** Remove every entry of the backend (what "every" means is the backend's: see its docs). */
  clear(): Promise<void>;
  /** Give an existing entry a new timeout (`null`: permanent); `true` if it existed. */
  touch(key: string, options?: WriteOptions): Promise<boolean>;
  /** Add `delta` (default 1) to a stored integer, keeping its expiry. KeyNotFoundError when missing. */
  incr(key: string, delta?: number, options?: VersionOption): Promise<number>;
  /** Subtract `delta` (default 1) from a stored integer. KeyNotFoundError when missing. */
  decr(key: string, delta?: number, options?: VersionOption): Promise<number>;
  /** Move a value to `version + delta` (default timeout) and return the new version. */
  incrVersion(key: string, delta?: number, options?: VersionOption): Promise<number>;
  /** Move a value to `version - delta` and return the new version. */
  decrVersion(key: string, delta?: number, options?: VersionOption): Promise<number>;
  /** The key the backend sees for `key` at `version` (default: the cache's version). */
  makeKey(key: string, version?: number): string;
  /** Release the backend's connections. */
  close(): Promise<void>;
}

/** How long `getOrSet` leaves a failing computation alone by default (see `GetOrSetOptions`). */
const DEFAULT_ERROR_BACKOFF_MS = 5000;

/** The option names of each call (the compiler holds each list to its interface): any other name is a slip. */
const VERSION_OPTIONS: ReadonlySet<string> = new Set(Object.keys({ version: true } satisfies Record<keyof VersionOption, true>));
const GET_OPTIONS: ReadonlySet<string> = new Set(Object.keys({ version: true, default: true } satisfies Record<keyof (VersionOption & { default?: unknown }), true>));
const WRITE_OPTIONS: ReadonlySet<string> = new Set(Object.keys({ version: true, timeout: true } satisfies Record<keyof WriteOptions, true>));
const SET_OPTIONS: ReadonlySet<string> = new Set(Object.keys({ version: true, timeout: true, tags: true } satisfies Record<keyof SetOptions, true>));
const GET_OR_SET_MANY_OPTIONS: ReadonlySet<string> = new Set(Object.keys({ version: true, timeout: true, tags: true } satisfies Record<keyof GetOrSetManyOptions, true>));
const GET_OR_SET_OPTIONS: ReadonlySet<string> = new Set(Object.keys({
  version: true, timeout: true, tags: true, collapseMs: true, staleIfError: true, refreshAhead: true, softTimeoutMs: true,
  hardTimeoutMs: true, errorBackoffMs: true, waitUntil: true,
} satisfies Record<keyof GetOrSetOptions, true>));

const MISSING: unique symbol = Symbol("missing");
/** An entry whose bytes hold no value this cache can read (see `untagged`). */
const CORRUPT: unique symbol = Symbol("corrupt");
type Missing = typeof MISSING;
/** What `find` says of an entry that a purge of its tags ended. */
const ENDED = "ended";
/** A value `getOrSet` found: its remaining TTL where asked for, and whether a soft purge of one of its tags made it stale. */
interface Found {
  value: unknown;
  ttl: BackendTtl | undefined;
  stale: boolean;
}
/** The TTL meaning "keep nothing": EdgeCache turns it into a delete before the backend sees it. */
const KEEP_NOTHING = 0;
/**
 * The longest timeout kept as one, in seconds (2^31, 68 years): a longer one never expires, as
 * stores refuse TTLs that large (Redis, KV) or write them as `1e+300` (a Cache-Control max-age).
 */
const LONGEST_TTL = 2 ** 31;

/** Every option of {@link CacheOptions} (the compiler holds the list to the interface): any other name is a slip. */
const CACHE_OPTIONS: ReadonlySet<string> = new Set(Object.keys({
  backend: true, timeout: true, timeoutJitter: true, keyPrefix: true, version: true, keyFunction: true, serializer: true,
  onWarning: true, timeoutMs: true, ignoreErrors: true, onRead: true, onBackendCall: true, onError: true, tagCheckMs: true, now: true,
} satisfies Record<keyof CacheOptions, true>));

/**
 * Create a low-level cache.
 *
 * @example
 * import { createCache } from "edgecache";
 * import { memory } from "edgecache/adapters/memory";
 *
 * const cache = createCache({ backend: memory({ maxEntries: 1000 }), timeout: 60, keyPrefix: "app" });
 * await cache.set("answer", 42);
 * await cache.incr("answer"); // 43
 * await cache.getOrSet("user:1", async () => loadUser(1)); // computed once, then cached
 */
export function createCache(options: CacheOptions = {}): EdgeCache {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  checkOptionNames(options, CACHE_OPTIONS, "createCache");
  return new Cache(options);
}


/**
 * A byte string read from a backend with streams (the Cache API): its first bytes, read at once,
 * and the rest as a stream to read or cancel.
 *
 * @example
 * const value = await readSharedStreamed(cache, key);
 * if (isStreamedBytes(value)) return new Response(value.rest);
 */
export interface StreamedBytes {
  readonly head: Uint8Array;
  readonly rest: ReadableStream<Uint8Array>;
  /** The byte string's whole length, `head` included. */
  readonly length: number;
}

/**
 * Whether a value from `readSharedStreamed` is a streamed byte string.
 *
 * @example
 * if (isStreamedBytes(value)) await value.rest.cancel();
 */
export function isStreamedBytes(value: unknown): value is StreamedBytes {
  return value instanceof StreamedByteString;
}

class StreamedByteString implements StreamedBytes {
  readonly head: Uint8Array;
  readonly rest: ReadableStream<Uint8Array>;
  readonly length: number;

  constructor(head: Uint8Array, rest: ReadableStream<Uint8Array>, length: number) {
    this.head = head;
    this.rest = rest;
    this.length = length;
  }
}

/**
 * `cache.get(key)` for edgecache's own modules, which never modify what they read:
 * - a Uint8Array value may be a view of the backend's bytes (for the memory backend, the stored
 *   entry itself), so a read allocates no copy and the same entry reads back as the same bytes;
 * - where the backend has streams (and the cache the default codec), a byte string written with
 *   `writeStreamed` comes back as {@link StreamedBytes}, its body not yet read.
 * Not exported from the package: user code gets copies.
 *
 * @example
 * const value = await readSharedStreamed(pages, key); // StreamedBytes on the Cache API, bytes elsewhere
 */
export function readSharedStreamed(cache: EdgeCache, key: string): Promise<unknown> {
  return cache instanceof Cache ? cache.readSharedStreamed(key) : cache.get(key);
}

/**
 * Store the byte string `head` + `body` under `key`: on a backend with streams, as a head and a
 * body that `readSharedStreamed` can stream; elsewhere as one value, exactly as `set` would.
 *
 * @example
 * await writeStreamed(pages, key, pageHead, pageBody, { timeout: 600 });
 */
export function writeStreamed(cache: EdgeCache, key: string, head: Uint8Array, body: Uint8Array, options?: WriteOptions): Promise<void> {
  return cache instanceof Cache ? cache.writeStreamed(key, head, body, options) : cache.set(key, concatBytes(head, body), options);
}

/**
 * `cache.delete(key)` for a purge, whose caller must hear that nothing was removed: it rejects
 * when the store fails, whatever the cache's `ignoreErrors` (its time limit and `onBackendCall`
 * apply as to every call). Not exported from the package.
 *
 * @example
 * await deleteOrThrow(pages, baseKey);
 */
export function deleteOrThrow(cache: EdgeCache, key: string): Promise<boolean> {
  return cache instanceof Cache ? cache.deleteOrThrow(key) : cache.backend.delete(cache.makeKey(key)); // another EdgeCache's delete may hide a failure
}

/**
 * The least time, in seconds, that `timeout` keeps an entry in `cache`: its `timeoutJitter` may
 * shorten it that much. `Infinity` for a timeout so long it never expires. Not exported from the package.
 *
 * @example
 * const lastsUntil = Date.now() + shortestLife(pages, 600) * 1000;
 */
export function shortestLife(cache: EdgeCache, timeout: number): number {
  return cache instanceof Cache ? cache.shortestLife(timeout) : timeout;
}

/**
 * `cache.get(key)` for edgecache's own records (vary indexes, purge records), which `onRead`
 * does not hear: it counts the caller's reads. Not exported from the package.
 *
 * @example
 * const index = await readRecord(pages, baseKey);
 */
export function readRecord(cache: EdgeCache, key: string): Promise<unknown> {
  return cache instanceof Cache ? cache.readRecord(key) : cache.get(key);
}

/**
 * `cache.getMany(keys)` for edgecache's own records (tag records), which `onRead` does not hear.
 * Not exported from the package.
 *
 * @example
 * const records = await readRecords(cache, ["tag:product:42"]);
 */
export function readRecords(cache: EdgeCache, keys: readonly string[]): Promise<Map<string, unknown>> {
  return cache instanceof Cache ? cache.readRecords(keys) : cache.getMany(keys);
}

class Cache implements EdgeCache {
  readonly backend: Backend;
  readonly defaultTimeout: Timeout;
  /** The backend as this cache calls it: limited in time with `timeoutMs`. */
  private readonly calls: Backend;
  /** `calls`, with the generic fallbacks for what it lacks. */
  private readonly store: CompleteBackend;
  /** Reads a value with its remaining TTL from `calls` (see `refreshAhead`); none where it cannot tell. */
  private readonly readEntry: ReturnType<typeof entryWithTtl>;
  private readonly keyPrefix: string;
  private readonly version: number;
  private readonly keyFunction: KeyFunction;
  private readonly serializer: Serializer;
  private readonly onWarning: (message: string) => void;
  private readonly ignoreErrors: boolean;
  private readonly onError: ((error: unknown, operation: string) => void) | undefined;
  private readonly validateKey: ((key: string) => void) | undefined;
  private readonly fills: Fills;
  private readonly onRead: ((outcome: ReadOutcome) => void) | undefined;
  private readonly timeoutJitter: number;
  /** The clock of tag times and of the error backoff, and how long tag records read are trusted (see `SetOptions.tags`). */
  private readonly clock: TagClock;
  /** Reads and writes values filed under tags (see `SetOptions.tags`). */
  private readonly tagChecks: TagChecks;

  constructor(options: CacheOptions) {
    const timeout = options.timeout === undefined ? 300 : options.timeout;
    checkTimeout(timeout, "options.timeout");
    const timeoutJitter = options.timeoutJitter ?? 0;
    if (typeof timeoutJitter !== "number" || !(timeoutJitter >= 0 && timeoutJitter < 1)) {
      throw new TypeError(`options.timeoutJitter must be a fraction from 0 up to 1 (such as 0.1), got ${describe(timeoutJitter)}`);
    }
    const version = options.version ?? 1;
    checkInteger(version, "options.version");
    const keyPrefix = options.keyPrefix ?? "";
    checkKey(keyPrefix, "options.keyPrefix");
    if (options.keyFunction !== undefined) checkFunction(options.keyFunction, "options.keyFunction");
    if (options.onWarning !== undefined) checkFunction(options.onWarning, "options.onWarning");
    if (options.onError !== undefined) checkFunction(options.onError, "options.onError");
    if (options.onRead !== undefined) checkFunction(options.onRead, "options.onRead");
    if (options.onBackendCall !== undefined) checkFunction(options.onBackendCall, "options.onBackendCall");
    const serializer = options.serializer ?? cborSerializer;
    if (typeof serializer?.encode !== "function" || typeof serializer.decode !== "function") {
      throw new TypeError(`options.serializer must have encode and decode functions, got ${describe(serializer)}`);
    }
    const backend = options.backend ?? memory();
    if (typeof backend?.get !== "function" || typeof backend.set !== "function" || typeof backend.delete !== "function") {
      throw new TypeError(`options.backend must implement get, set and delete, got ${describe(backend)}`);
    }
    const timeoutMs = nonNegative(options.timeoutMs ?? 0, "options.timeoutMs");
    const tagCheckMs = nonNegative(options.tagCheckMs ?? 1000, "options.tagCheckMs");
    if (options.now !== undefined) checkFunction(options.now, "options.now");
    this.backend = backend;
    this.defaultTimeout = timeout;
    this.timeoutJitter = timeoutJitter;
    const limited = timeoutMs > 0 ? timeLimited(backend, timeoutMs) : backend;
    // Observed outside the limit, so a call cut short is heard as the failure its caller sees.
    this.calls = options.onBackendCall ? observed(limited, options.onBackendCall) : limited;
    this.store = completeBackend(this.calls, () => this.ttlFor(undefined));
    this.readEntry = entryWithTtl(this.calls);
    this.keyPrefix = keyPrefix;
    this.version = version;
    this.keyFunction = options.keyFunction ?? defaultKeyFunction;
    this.serializer = serializer;
    this.onWarning = options.onWarning ?? ((message) => console.warn(message));
    this.ignoreErrors = options.ignoreErrors ?? false;
    this.onError = options.onError && harmless(options.onError);
    this.onRead = options.onRead && harmless(options.onRead);
    this.validateKey = backend.validateKey?.bind(backend);
    this.clock = { now: options.now ?? Date.now, tagCheckMs };
    this.tagChecks = new TagChecks(this, this.clock, (made, error) => this.dropCorrupt(made, error));
    this.fills = new Fills({
      store: this.store,
      identity: identityOf(backend),
      mode: { serializer, ignoreErrors: this.ignoreErrors },
      read: async (made, staleToo) => {
        const found = await this.find(made, false);
        return found === ENDED || found === undefined || staleToo || !found.stale ? found : undefined;
      },
      attempt: (operation, call, otherwise) => this.attempt(operation, call, otherwise),
      report: (error) => this.onError?.(error, "getOrSet"),
      now: this.clock.now,
      purgeMark: () => tagPurgeMark(this),
      copy: (value, computation) => {
        if (value === null || typeof value !== "object") return value; // nothing to change in it
        try {
          const bytes = bytesToCopy(value, computation, serializer);
          return detached(decodeValue(bytes, serializer), bytes) as typeof value; // a byte string would be a view every caller's copy shared
        } catch {
          return value; // not storable: there is no copy to give
        }
      },
    });
  }

  makeKey(key: string, version?: number): string {
    return this.keyOf(key, version, "key");
  }

  /** `makeKey`, a key that is not one refused by `name`. */
  private keyOf(key: string, version: number | undefined, name: string): string {
    checkKey(key, name);
    const v = version ?? this.version;
    checkInteger(v, "version");
    return this.keyFunction(key, this.keyPrefix, v);
  }

  async get<T = unknown>(key: string, options?: VersionOption & { default?: T }): Promise<T | undefined> {
    checkCallOptions(options, GET_OPTIONS, "get", "default");
    const made = this.checkedKey(key, options?.version);
    const value = await this.read(made, MISSING);
    if (this.onRead) this.observe({ operation: "get", key, hit: value !== MISSING });
    return value === MISSING ? options?.default : (value as T);
  }

  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    checkCallOptions(options, SET_OPTIONS, "set", "timeout");
    const made = this.checkedKey(key, options?.version);
    const ttl = this.ttlFor(options?.timeout);
    const tags = tagsOption(options);
    let bytes = encodeArgument(value, this.serializer, "value");
    if (ttl === KEEP_NOTHING) {
      await this.attempt("set", () => this.store.delete(made), false);
      return;
    }
    if (tags) bytes = (await this.tagChecks.filer(tags, orderedNow(this.clock.now)))(bytes);
    await this.attempt("set", () => this.store.set(made, bytes, ttl), undefined);
  }

  async add(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    checkCallOptions(options, SET_OPTIONS, "add", "timeout");
    const made = this.checkedKey(key, options?.version);
    const ttl = this.ttlFor(options?.timeout);
    const tags = tagsOption(options);
    let bytes = encodeArgument(value, this.serializer, "value");
    if (ttl === KEEP_NOTHING) return (await this.present(made, "add")) === false;
    if (tags) bytes = (await this.tagChecks.filer(tags, orderedNow(this.clock.now)))(bytes);
    const added = await this.attempt<boolean | undefined>("add", () => this.store.add(made, bytes, ttl), undefined);
    if (added !== false) return added === true;
    // The key is taken: by a live value, or by one that tags ended, which counts as missing and is
    // replaced. A corrupt entry is dropped and counts as taken: two callers replacing it could
    // both be told they added (the next add finds the key free).
    if ((await this.present(made, "add", true)) !== false) return false;
    return this.attempt("add", () => this.store.set(made, bytes, ttl).then(() => true), false);
  }

  async getOrSet<T>(key: string, value: T | (() => T | Promise<T>), options?: GetOrSetOptions<T>): Promise<T> {
    checkCallOptions(options, GET_OR_SET_OPTIONS, "getOrSet", "timeout");
    const made = this.checkedKey(key, options?.version);
    const timeout = options?.timeout;
    if (typeof timeout !== "function") checkTimeout(timeout ?? this.defaultTimeout, "options.timeout");
    const collapseMs = nonNegative(options?.collapseMs ?? DEFAULT_COLLAPSE_MS, "options.collapseMs");
    const staleIfError = nonNegative(options?.staleIfError ?? 0, "options.staleIfError");
    const refreshAhead = options?.refreshAhead === undefined ? undefined : fraction(options.refreshAhead, "options.refreshAhead", "the timeout");
    const softTimeoutMs = options?.softTimeoutMs === undefined ? undefined : nonNegative(options.softTimeoutMs, "options.softTimeoutMs");
    const errorBackoffMs = nonNegative(options?.errorBackoffMs ?? DEFAULT_ERROR_BACKOFF_MS, "options.errorBackoffMs");
    if (softTimeoutMs !== undefined && !(staleIfError > 0)) {
      throw new TypeError("options.softTimeoutMs needs options.staleIfError: without a stale copy there is nothing to answer with sooner");
    }
    const hardTimeoutMs = options?.hardTimeoutMs === undefined ? undefined : nonNegative(options.hardTimeoutMs, "options.hardTimeoutMs");
    if (hardTimeoutMs !== undefined && softTimeoutMs !== undefined && hardTimeoutMs <= softTimeoutMs) {
      throw new TypeError(`options.hardTimeoutMs (${hardTimeoutMs}) must be longer than options.softTimeoutMs (${softTimeoutMs})`);
    }
    if (options?.waitUntil !== undefined) checkFunction(options.waitUntil, "options.waitUntil");
    const tags = typeof options?.tags === "function" ? options.tags : tagsOption(options as SetOptions | undefined);
    if (refreshAhead !== undefined && !this.readEntry) {
      throw new TypeError(`options.refreshAhead needs a backend that tells how long an entry has left (getWithTtl or ttl); the ${this.backend.name} backend has neither`);
    }
    const entry = await this.find(made, refreshAhead !== undefined);
    const found = entry === ENDED ? undefined : entry;
    const due = found !== undefined && this.isDue(found, timeout, refreshAhead);
    if (this.onRead) this.observe(due ? { operation: "getOrSet", key, hit: true, refreshing: true } : { operation: "getOrSet", key, hit: found !== undefined });
    if (due) {
      // Asked again once the refresh holds the store's lock: another process may have just refreshed it.
      const stillDue = async (): Promise<boolean> => {
        const again = await this.find(made, refreshAhead !== undefined);
        return again === ENDED || again === undefined || this.isDue(again, timeout, refreshAhead);
      };
      this.fills.refresh(this.fillPlan(key, made, value, timeout, { collapseMs, staleIfError, errorBackoffMs }, options?.version, tags), options?.waitUntil, stillDue);
    }
    if (found) return found.value as T;
    // Concurrent callers in this isolate share one computation (no local thundering herd).
    const filling = this.fills.fill(this.fillPlan(key, made, value, timeout, { collapseMs, staleIfError, errorBackoffMs }, options?.version, tags), softTimeoutMs, options?.waitUntil);
    return hardTimeoutMs === undefined ? filling : this.waitAtMost(filling, hardTimeoutMs, key, options?.waitUntil);
  }

  /** `filling`, or a `FactoryTimeoutError` once it has taken `ms`; it goes on behind the caller, a failure reported. */
  private waitAtMost<T>(filling: Promise<T>, ms: number, key: string, waitUntil: GetOrSetOptions["waitUntil"]): Promise<T> {
    return withDeadline(filling, ms, () => {
      const behind = filling.then(() => undefined, (error: unknown) => this.onError?.(error, "getOrSet"));
      waitUntil?.(behind);
      throw new FactoryTimeoutError(`getOrSet("${key}"): the value took longer than options.hardTimeoutMs (${ms} ms) to compute; it is stored when done`);
    });
  }

  /**
   * `getOrSet`'s timeout for `value`: the fixed one (checked by `getOrSet`), or what the `timeout`
   * function answers for it, checked here.
   */
  private timeoutFor<T>(option: GetOrSetOptions<T>["timeout"], value: T): Timeout {
    if (typeof option !== "function") return option === undefined ? this.defaultTimeout : option;
    const timeout = option(value);
    checkTimeout(timeout, "the timeout options.timeout returned");
    return timeout;
  }

  /** Whether a value found is due for a refresh: a soft purge made it stale, or no more than (1 - refreshAhead) of its timeout is left. */
  private isDue<T>(found: Found, option: GetOrSetOptions<T>["timeout"], refreshAhead: number | undefined): boolean {
    return found.stale || (refreshAhead !== undefined && found.ttl != null && this.refreshDue(found.ttl, option, found.value as T, refreshAhead));
  }

  /** Whether a value found with `ttl` seconds left is due for `refreshAhead`; never when its timeout cannot be had (reported). */
  private refreshDue<T>(ttl: number, option: GetOrSetOptions<T>["timeout"], value: T, refreshAhead: number): boolean {
    let timeout: Timeout;
    try {
      timeout = this.timeoutFor(option, value);
    } catch (error) {
      this.onError?.(error, "getOrSet");
      return false;
    }
    return timeout !== null && timeout > 0 && ttl <= (1 - refreshAhead) * timeout;
  }

  async getOrSetMany<T>(keys: Iterable<string>, compute: (missing: string[]) => ComputedMany<T> | Promise<ComputedMany<T>>, options?: GetOrSetManyOptions<T>): Promise<Map<string, T>> {
    checkCallOptions(options, GET_OR_SET_MANY_OPTIONS, "getOrSetMany");
    checkFunction(compute, "compute");
    const [userKeys, madeKeys] = this.checkedKeys(keys, options?.version);
    const timeout = options?.timeout;
    if (typeof timeout !== "function") checkTimeout(timeout ?? this.defaultTimeout, "options.timeout");
    const tags = typeof options?.tags === "function" ? options.tags : tagsOption(options as SetOptions | undefined);
    const found = await this.readMany<T>(userKeys, madeKeys);
    if (this.onRead) for (const key of userKeys) this.observe({ operation: "getOrSetMany", key, hit: found.has(key) });
    const missing = [...new Set(userKeys.filter((key) => !found.has(key)))];
    if (missing.length === 0) return found;
    // Filed as made when the computation begins: a purge while it runs ends what it computes.
    const at = orderedNow(this.clock.now);
    const computed = await compute(missing);
    const values = computed instanceof Map ? computed : computed !== null && typeof computed === "object" && !Array.isArray(computed) ? new Map(Object.entries(computed)) : undefined;
    if (!values) throw new TypeError(`compute must return a Map or an object of the values it found, got ${describe(computed)}`);
    await this.storeComputed(missing.filter((key) => values.has(key)).map((key) => [key, values.get(key)!] as const), timeout, tags, at, options?.version);
    // In the order of `keys`, found and computed alike.
    const answer = new Map<string, T>();
    for (const key of userKeys) {
      if (found.has(key)) answer.set(key, found.get(key)!);
      else if (values.has(key)) answer.set(key, values.get(key)!);
    }
    return answer;
  }

  /**
   * Store what `getOrSetMany` computed: values with the same timeout and tags in one `setMany`
   * (one in all unless those are functions of the value). A value whose timeout or tags cannot be
   * had, and values the store does not keep, are reported.
   */
  private async storeComputed<T>(computed: ReadonlyArray<readonly [string, T]>, timeout: GetOrSetManyOptions<T>["timeout"], tags: GetOrSetManyOptions<T>["tags"], at: number, version: number | undefined): Promise<void> {
    const batches = new Map<string, { timeout: Timeout | undefined; tags: readonly string[] | undefined; entries: Array<readonly [string, Uint8Array]> }>();
    const byMade = new Map<string, string>();
    for (const [key, value] of computed) {
      let own: Timeout | undefined;
      let list: readonly string[] | undefined;
      try {
        if (typeof timeout === "function") checkTimeout((own = timeout(value, key)), "the timeout options.timeout returned");
        else own = timeout;
        list = typeof tags === "function" ? tagsOption({ tags: tags(value, key) }, "options.tags(value, key)") : tags;
      } catch (error) {
        this.onError?.(error, "getOrSetMany");
        continue;
      }
      const made = this.checkedKey(key, version);
      byMade.set(made, key);
      // Tags hold no control characters, so a newline separates them unambiguously.
      const batch = `${own}\n${list?.join("\n") ?? ""}`;
      let entries = batches.get(batch)?.entries;
      if (!entries) batches.set(batch, { timeout: own, tags: list, entries: (entries = []) });
      entries.push([made, encodeArgument(value, this.serializer, valueFor(key))]);
    }
    const refused = (await Promise.all([...batches.values()].map(async ({ timeout, tags, entries }) => {
      const ttl = this.ttlFor(timeout);
      if (ttl === KEEP_NOTHING) return []; // 0 or less keeps nothing
      let encoded = entries;
      if (tags) {
        const file = await this.tagChecks.filer(tags, at);
        encoded = entries.map(([made, bytes]) => [made, file(bytes)] as const);
      }
      return this.attempt("getOrSetMany", () => this.store.setMany(encoded, ttl), []);
    }))).flat();
    if (refused.length > 0) this.onError?.(refusedValues(refused, byMade, computed.length), "getOrSetMany");
  }

  async getMany<T = unknown>(keys: Iterable<string>, options?: VersionOption): Promise<Map<string, T>> {
    checkCallOptions(options, VERSION_OPTIONS, "getMany", "version");
    const [userKeys, madeKeys] = this.checkedKeys(keys, options?.version);
    const found = await this.readMany<T>(userKeys, madeKeys);
    if (this.onRead) for (const key of userKeys) this.observe({ operation: "getMany", key, hit: found.has(key) });
    return found;
  }

  /** See `deleteOrThrow`. */
  deleteOrThrow(key: string): Promise<boolean> {
    return this.store.delete(this.checkedKey(key, undefined));
  }

  /** See `readRecord`. Edgecache's own read (see `decode`): a page it finds there is not copied, and reads as bytes whatever the serializer. */
  readRecord(key: string): Promise<unknown> {
    return this.read(this.checkedKey(key, undefined), undefined, false);
  }

  /** See `readRecords`. */
  readRecords(keys: readonly string[]): Promise<Map<string, unknown>> {
    const [userKeys, madeKeys] = this.checkedKeys(keys, undefined);
    return this.readMany(userKeys, madeKeys);
  }

  /** The values under `madeKeys` that are there, by their user keys. */
  private async readMany<T>(userKeys: readonly string[], madeKeys: readonly string[]): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    if (madeKeys.length === 0) return found;
    const read = await this.attempt("getMany", () => this.store.getMany(madeKeys), []);
    const values = read.some((bytes) => bytes !== undefined && isTaggedEntry(bytes)) ? await this.tagChecks.untagMany(madeKeys, read) : read;
    for (let i = 0; i < madeKeys.length; i++) {
      const bytes = values[i];
      if (bytes === undefined) continue;
      const value = this.decode(madeKeys[i]!, bytes);
      if (value !== MISSING) found.set(userKeys[i]!, value as T);
    }
    return found;
  }

  async setMany(entries: Record<string, unknown> | Iterable<readonly [string, unknown]>, options?: SetOptions): Promise<string[]> {
    checkCallOptions(options, SET_OPTIONS, "setMany", "timeout");
    if (entries === null || typeof entries !== "object") throw new TypeError(`entries must be an object or an iterable of [key, value] pairs, got ${describe(entries)}`);
    const pairs = Symbol.iterator in entries ? [...(entries as Iterable<readonly [string, unknown]>)] : Object.entries(entries);
    const ttl = this.ttlFor(options?.timeout);
    const tags = tagsOption(options);
    const byMade = new Map<string, string>();
    let encoded: Array<readonly [string, Uint8Array]> = pairs.map((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`entries must hold [key, value] pairs, got ${describe(pair)}`);
      const [key, value] = pair as readonly [string, unknown];
      const made = this.checkedKey(key, options?.version, `the key of entries[${i}]`);
      byMade.set(made, key);
      return [made, encodeArgument(value, this.serializer, `the value of entries[${i}]`)] as const;
    });
    if (encoded.length === 0) return [];
    const madeKeys = encoded.map(([made]) => made);
    if (ttl === KEEP_NOTHING) {
      await this.attempt("setMany", () => this.store.deleteMany(madeKeys), undefined);
      return [];
    }
    if (tags) {
      const file = await this.tagChecks.filer(tags, orderedNow(this.clock.now));
      encoded = encoded.map(([made, bytes]) => [made, file(bytes)] as const);
    }
    const failed = await this.attempt("setMany", () => this.store.setMany(encoded, ttl), madeKeys);
    return failed.map((made) => byMade.get(made) ?? made);
  }

  // Both deletes take getOrSet's stale copies too (see `staleIfError`), in the same call or side
  // by side: a deleted value must never come back as a stale copy.
  async delete(key: string, options?: VersionOption): Promise<boolean> {
    checkCallOptions(options, VERSION_OPTIONS, "delete", "version");
    const made = this.checkedKey(key, options?.version);
    const copy = this.staleKey(key, options?.version);
    return this.attempt("delete", async () => (await Promise.all([this.store.delete(made), this.accepts(copy) && this.store.delete(copy)]))[0], false);
  }

  async deleteMany(keys: Iterable<string>, options?: VersionOption): Promise<void> {
    checkCallOptions(options, VERSION_OPTIONS, "deleteMany", "version");
    const [userKeys, madeKeys] = this.checkedKeys(keys, options?.version);
    if (madeKeys.length === 0) return;
    const copies = userKeys.map((key) => this.staleKey(key, options?.version)).filter((copy) => this.accepts(copy));
    await this.attempt("deleteMany", () => this.store.deleteMany([...madeKeys, ...copies]), undefined);
  }

  async has(key: string, options?: VersionOption): Promise<boolean> {
    checkCallOptions(options, VERSION_OPTIONS, "has", "version");
    const made = this.checkedKey(key, options?.version);
    const hit = (await this.present(made, "has")) === true;
    if (this.onRead) this.observe({ operation: "has", key, hit });
    return hit;
  }

  async clear(): Promise<void> {
    await this.attempt("clear", () => this.store.clear(), undefined);
  }

  async touch(key: string, options?: WriteOptions): Promise<boolean> {
    checkCallOptions(options, WRITE_OPTIONS, "touch", "timeout");
    const made = this.checkedKey(key, options?.version);
    const ttl = this.ttlFor(options?.timeout);
    if (ttl === KEEP_NOTHING) return this.attempt("touch", () => this.store.delete(made), false);
    return this.attempt("touch", () => this.store.touch(made, ttl), false);
  }

  async incr(key: string, delta = 1, options?: VersionOption): Promise<number> {
    checkCallOptions(options, VERSION_OPTIONS, "incr", "version");
    checkInteger(delta, "delta");
    const made = this.checkedKey(key, options?.version);
    const value = await this.store.increment(made, delta);
    if (value === undefined) throw new KeyNotFoundError(`Key '${made}' not found`);
    return value;
  }

  async decr(key: string, delta = 1, options?: VersionOption): Promise<number> {
    checkCallOptions(options, VERSION_OPTIONS, "decr", "version");
    checkInteger(delta, "delta");
    return this.incr(key, -delta, options);
  }

  async incrVersion(key: string, delta = 1, options?: VersionOption): Promise<number> {
    checkCallOptions(options, VERSION_OPTIONS, "incrVersion", "version");
    checkInteger(delta, "delta");
    const version = options?.version ?? this.version;
    const from = this.checkedKey(key, version);
    const to = this.checkedKey(key, version + delta);
    const bytes = await this.store.get(from);
    // A value a purge of its tags ended, or a corrupt one, is not there, as `get` says (it would move as it is).
    const found = await this.untagged(from, bytes);
    if (bytes === undefined || found === undefined || found === CORRUPT) throw new KeyNotFoundError(`Key '${key}' not found`);
    const ttl = this.ttlFor(undefined);
    if (ttl === KEEP_NOTHING) await this.store.delete(to);
    else await this.store.set(to, bytes, ttl);
    await this.store.delete(from);
    return version + delta;
  }

  async decrVersion(key: string, delta = 1, options?: VersionOption): Promise<number> {
    checkCallOptions(options, VERSION_OPTIONS, "decrVersion", "version");
    checkInteger(delta, "delta");
    return this.incrVersion(key, -delta, options);
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** Tell `onRead` what a read found (nothing it does changes the read: see `harmless`). */
  private observe(outcome: ReadOutcome): void {
    this.onRead?.(outcome);
  }

  /** What a `getOrSet` miss or refresh of `key` computes and stores, and where its lock and stale copy go; built only when one is due. */
  private fillPlan<T>(key: string, made: string, value: T | (() => T | Promise<T>), timeout: GetOrSetOptions<T>["timeout"], limits: { collapseMs: number; staleIfError: number; errorBackoffMs: number }, version: number | undefined, tags: GetOrSetOptions<T>["tags"]): FillPlan<T> {
    const { collapseMs, staleIfError, errorBackoffMs } = limits;
    // Filed as made when the computation begins: a purge while it runs ends what it computes.
    const at = orderedNow(this.clock.now);
    return {
      made, value, collapseMs, errorBackoffMs, tagged: tags !== undefined,
      entry: async (computed) => {
        let ttl: BackendTtl;
        try {
          ttl = this.ttlFor(this.timeoutFor(timeout, computed));
        } catch (error) {
          this.onError?.(error, "getOrSet");
          return undefined;
        }
        const bytes = tags === undefined || ttl === KEEP_NOTHING ? encodeArgument(computed, this.serializer, valueFor(key)) : await this.taggedEntry(computed, valueFor(key), tags, at);
        return bytes && { bytes, ttl };
      },
      lock: collapseMs > 0 && sharesLocks(this.backend) ? this.makeKey(`lock.${key}`, version) : undefined,
      staleCopy: staleIfError > 0 ? { key: this.staleKey(key, version), staleIfError } : undefined,
    };
  }

  /** Where `getOrSet` keeps the stale copy of `key` (see `staleIfError`). */
  private staleKey(key: string, version: number | undefined): string {
    return this.makeKey(`stale.${key}`, version);
  }

  /** Whether the backend takes `made` as a key (memcached refuses one too long): none can be stored under it otherwise. */
  private accepts(made: string): boolean {
    try {
      this.validateKey?.(made);
      return true;
    } catch {
      return false;
    }
  }

  /** Make, warn about and validate the backend key for one user key; a key that is not a string is refused by `name`. */
  private checkedKey(key: string, version: number | undefined, name = "key"): string {
    const made = this.keyOf(key, version, name);
    if (this.validateKey) {
      this.validateKey(made);
    } else {
      for (const warning of memcachedKeyWarnings(made)) this.onWarning(warning);
    }
    return made;
  }

  private checkedKeys(keys: Iterable<string>, version: number | undefined): [string[], string[]] {
    if (keys === null || typeof keys !== "object" || !(Symbol.iterator in keys)) {
      throw new TypeError(`keys must be an iterable of strings, got ${describe(keys)}`);
    }
    const userKeys = [...keys];
    return [userKeys, userKeys.map((key, i) => this.checkedKey(key, version, `keys[${i}]`))];
  }

  /** See `shortestLife`. */
  shortestLife(timeout: number): number {
    return timeout > LONGEST_TTL ? Infinity : timeout * (1 - this.timeoutJitter);
  }

  /** The backend TTL for a timeout option: `KEEP_NOTHING` (0) for 0 or negative. */
  private ttlFor(timeout: Timeout | undefined): BackendTtl {
    const t = timeout === undefined ? this.defaultTimeout : timeout;
    checkTimeout(t);
    if (t === null || t > LONGEST_TTL) return null;
    if (!(t > 0)) return KEEP_NOTHING;
    return this.timeoutJitter === 0 ? t : t * (1 - this.timeoutJitter * Math.random());
  }

  /** `readSharedStreamed` without streams. Its keys were warned about when their entries were written. */
  private readShared(key: string): Promise<unknown> {
    const made = this.makeKey(key);
    this.validateKey?.(made);
    return this.read(made, undefined, false);
  }

  /** See `readSharedStreamed`. */
  readSharedStreamed(key: string): Promise<unknown> {
    const streams = this.calls.streams;
    return streams === undefined ? this.readShared(key) : this.readStreamed(streams, key);
  }

  private async readStreamed(streams: StreamStore, key: string): Promise<unknown> {
    const made = this.makeKey(key);
    this.validateKey?.(made);
    try {
      const entry = await streams.get(made);
      if (entry === undefined) return undefined;
      const bounds = byteStringBounds(entry.head);
      if (bounds && bounds.start + bounds.length === entry.length) {
        return new StreamedByteString(entry.head.subarray(bounds.start), entry.body, bounds.length);
      }
      const value = this.decode(made, concatBytes(entry.head, await readAll(entry.body)), false); // a plain entry
      return value === MISSING ? undefined : value;
    } catch (error) {
      if (!this.ignoreErrors) throw error;
      this.onError?.(error, "get");
      return undefined;
    }
  }

  /**
   * See `writeStreamed`. The bytes go in the byte string envelope the default serializer writes
   * for a Uint8Array, whatever this cache's serializer: one that cannot hold bytes (JSON) would
   * otherwise store pages no read could make out, and `decode` reads them back for edgecache's own reads.
   */
  async writeStreamed(key: string, head: Uint8Array, body: Uint8Array, options?: WriteOptions): Promise<void> {
    const made = this.checkedKey(key, options?.version);
    const ttl = this.ttlFor(options?.timeout);
    if (ttl === KEEP_NOTHING) {
      await this.attempt("set", () => this.store.delete(made), false);
      return;
    }
    const opened = concatBytes(byteStringHeader(head.byteLength + body.byteLength), head);
    const streams = this.calls.streams;
    await this.attempt("set", () => (streams ? streams.set(made, opened, body, ttl) : this.store.set(made, concatBytes(opened, body), ttl)), undefined);
  }

  private async read<D>(made: string, otherwise: D, copy = true): Promise<unknown | D> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.store.get(made);
    } catch (error) {
      this.readFailed(error);
    }
    if (bytes === undefined) return otherwise;
    if (isTaggedEntry(bytes)) {
      const untagged = await this.tagChecks.untag(made, bytes);
      if (untagged === undefined || untagged.stale) return otherwise;
      bytes = untagged.bytes;
    }
    const value = this.decode(made, bytes, copy);
    return value === MISSING ? otherwise : value;
  }

  /**
   * The value under `made` for `getOrSet`, stale or not, and with `withTtl` its remaining TTL in
   * seconds: in one call where the backend has `getWithTtl`, else `get` and `ttl` side by side.
   * `undefined` when missing, `ENDED` when a purge of its tags ended it.
   */
  private async find(made: string, withTtl: boolean): Promise<Found | typeof ENDED | undefined> {
    let entry: { value: Uint8Array; ttl: BackendTtl } | undefined;
    let bytes: Uint8Array | undefined;
    try {
      if (withTtl) bytes = (entry = await this.readEntry!(made))?.value;
      else bytes = await this.store.get(made);
    } catch (error) {
      this.readFailed(error);
    }
    if (bytes === undefined) return undefined;
    let stale = false;
    if (isTaggedEntry(bytes)) {
      const untagged = await this.tagChecks.untag(made, bytes);
      if (untagged === undefined) return ENDED;
      ({ bytes, stale } = untagged);
    }
    const value = this.decode(made, bytes);
    return value === MISSING ? undefined : { value, ttl: entry?.ttl, stale };
  }

  /**
   * Whether a live value is stored under `made` (with `ignoreErrors`, `undefined` when the store
   * cannot tell). Reads the entry: only its tags can tell whether a purge ended it.
   */
  private async present(made: string, operation: string, corruptIsTaken = false): Promise<boolean | undefined> {
    const bytes = await this.attempt<Uint8Array | undefined | null>(operation, () => this.store.get(made), null);
    if (bytes === null) return undefined;
    const found = await this.untagged(made, bytes);
    return found === CORRUPT ? corruptIsTaken : found !== undefined && !found.stale;
  }

  /**
   * What `get` would make of the entry `bytes` read under `made`: the value's own bytes (stale
   * after a soft purge of a tag); `undefined` when there is none or a purge of its tags ended it;
   * `CORRUPT` when its bytes hold no value (reported and dropped, as `get` does).
   */
  private async untagged(made: string, bytes: Uint8Array | undefined): Promise<Untagged | undefined | typeof CORRUPT> {
    if (bytes === undefined) return undefined;
    try {
      let found: Untagged | undefined = { bytes, stale: false };
      if (isTaggedEntry(bytes)) {
        unwrapTagged(bytes); // a tag block cut short is as corrupt as bytes that hold no value
        found = await this.tagChecks.untag(made, bytes);
      }
      if (found !== undefined) decodeValue(found.bytes, this.serializer);
      return found;
    } catch (error) {
      this.dropCorrupt(made, error);
      return CORRUPT;
    }
  }

  /**
   * A computed value's entry, filed under its tags, or under what `tags(value)` returns;
   * `undefined` when that throws or returns bad tags (reported: the value is not stored).
   */
  private async taggedEntry<T>(value: T, name: string, tags: NonNullable<GetOrSetOptions<T>["tags"]>, at: number): Promise<Uint8Array | undefined> {
    const bytes = encodeArgument(value, this.serializer, name);
    let list: readonly string[] | undefined;
    try {
      list = typeof tags === "function" ? tagsOption({ tags: tags(value) }, "options.tags(value)") : tags;
    } catch (error) {
      this.onError?.(error, "getOrSet");
      return undefined;
    }
    return list ? (await this.tagChecks.filer(list, at))(bytes) : bytes;
  }

  /**
   * A backend read failed: rethrow, or with `ignoreErrors` report it (the read then misses). The
   * reads keep their own try blocks: a shared async helper would cost every `get` another promise.
   */
  private readFailed(error: unknown): void {
    if (!this.ignoreErrors) throw error;
    this.onError?.(error, "get");
  }

  /**
   * Decode an entry; a corrupt one is reported, dropped and read as missing. With `copy`, a
   * Uint8Array that is a view of the backend's bytes is copied, so callers can never modify a
   * stored entry through it. Without, the read is edgecache's own, which never modifies what it
   * reads, and a byte string envelope is read as bytes whatever the serializer (see `writeStreamed`).
   */
  private decode(made: string, bytes: Uint8Array, copy = true): unknown | Missing {
    try {
      const value = (!copy && this.serializer !== cborSerializer && envelopedBytes(bytes)) || decodeValue(bytes, this.serializer);
      return copy ? detached(value, bytes) : value;
    } catch (error) {
      this.dropCorrupt(made, error);
      return MISSING;
    }
  }

  /** Report a corrupt entry and delete it (not waited for); rethrow any other error. */
  private dropCorrupt(made: string, error: unknown): void {
    if (!(error instanceof CorruptEntryError)) throw error;
    this.onError?.(error, "decode");
    this.store.delete(made).catch((deleteError: unknown) => this.onError?.(deleteError, "delete"));
  }

  /** Run a backend call; with `ignoreErrors`, a failure is reported and `otherwise` returned. */
  private async attempt<T>(operation: string, call: () => Promise<T>, otherwise: T): Promise<T> {
    if (!this.ignoreErrors) return call();
    try {
      return await call();
    } catch (error) {
      this.onError?.(error, operation);
      return otherwise;
    }
  }
}

/**
 * The value each `getOrSet` computation shared (see `FillHost.copy`), encoded once for all its
 * callers, by computation: a later computation that returns the same object, changed since, is
 * encoded anew. The callers of one computation share one serializer.
 */
const encodedToCopy = new WeakMap<object, { value: object; bytes: Uint8Array }>();

/** `value`, which `computation` shared, encoded by `serializer` for copies: encoded once, decoded per caller. */
function bytesToCopy(value: object, computation: object, serializer: Serializer): Uint8Array {
  const known = encodedToCopy.get(computation);
  if (known?.value === value) return known.bytes;
  const bytes = encodeValue(value, serializer);
  encodedToCopy.set(computation, { value, bytes });
  return bytes;
}

/** `value`, decoded from `bytes`, as a copy where it is a byte string that is a view of them. */
function detached(value: unknown, bytes: Uint8Array): unknown {
  return value instanceof Uint8Array && value.buffer === bytes.buffer ? value.slice() : value;
}

/** The bytes `bytes` hold in a byte string envelope (see `writeStreamed`), if they are one. */
function envelopedBytes(bytes: Uint8Array): Uint8Array | undefined {
  const bounds = byteStringBounds(bytes);
  return bounds && bounds.start + bounds.length === bytes.byteLength ? bytes.subarray(bounds.start) : undefined;
}

/** What a value `getOrSet` or `getOrSetMany` is to store for `key` is called in an error. */
const valueFor = (key: string): string => `the value for key ${describe(key)}`;

/**
 * `value` encoded for the store (see `encodeValue`); one that cannot be stored throws its
 * TypeError with `name` in front, so that the caller knows which of its values it was.
 */
function encodeArgument(value: unknown, serializer: Serializer, name: string): Uint8Array {
  try {
    return encodeValue(value, serializer);
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(`${name}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * What `getOrSetMany` reports when the store kept some values back (memcached: over its item
 * size): an error naming their keys as the caller gave them (`byMade`). The values are returned all the same.
 */
function refusedValues(refused: readonly string[], byMade: ReadonlyMap<string, string>, computed: number): BackendUnavailableError {
  const named = refused.map((made) => byMade.get(made) ?? made);
  const shown = named.slice(0, 5).map((key) => JSON.stringify(key)).join(", ");
  return new BackendUnavailableError(`getOrSetMany: the store did not keep ${refused.length} of ${computed} computed values (${shown}${named.length > 5 ? ", ..." : ""})`);
}

/** The `tags` option checked (a TypeError naming `name`), or `undefined` when there are none. */
function tagsOption(options: SetOptions | undefined, name = "options.tags"): readonly string[] | undefined {
  if (options?.tags === undefined) return undefined;
  const tags = checkTags(options.tags, name);
  return tags.length > 0 ? tags : undefined;
}
