/**
 * The backend contract: what a store must do for EdgeCache. Bytes in, bytes out, a TTL in
 * seconds (or none), plus optional native operations. EdgeCache supplies a generic fallback for
 * every optional operation a backend leaves out (see `src/backend-fallbacks.ts`).
 */

/**
 * Time to live handed to a backend: seconds (floats allowed, always > 0), or `null` for "never
 * expires". EdgeCache never passes 0 or a negative number: it turns those into a delete.
 */
export type BackendTtl = number | null;

/** What a backend guarantees; EdgeCache and page caching read these to pick strategies. */
export interface BackendCapabilities {
  /** `add` is atomic across every client of the store (memcached `ms ME`, Redis `SET NX`). */
  readonly atomicAdd: boolean;
  /** `increment` is atomic across every client of the store. */
  readonly atomicIncrement: boolean;
  /** A write is visible to the next read from anywhere (false for Workers KV). */
  readonly consistent: boolean;
  /** The store is shared beyond this isolate/process (false for the memory backend). */
  readonly shared: boolean;
  /**
   * The store is part of the runtime, not a service behind a connection: in-process memory, or
   * the Cache API (the data centre's own HTTP cache on Workers, a local file in Deno). Page
   * caching sets no default time limit on its calls (see the `timeoutMs` page option).
   */
  readonly local: boolean;
  /**
   * How long the adapter may hold a write back by design before sending it, in ms: Workers KV
   * takes one write of a key a second, so its adapter holds the next write of the key that long.
   * Time limits on writes (`timeoutMs`, page caching's and `createCache`'s) allow this much more,
   * so a held write is not taken for a store that is down. Missing: 0.
   */
  readonly writeSpacingMs: number;
  /**
   * How coarsely the store counts expiry, in ms: an entry may go up to this much before its TTL
   * is up (memcached counts whole seconds: 1000). A tiered backend keeps its near copies that much
   * shorter, so none outlives its far entry. Missing: 0.
   */
  readonly ttlGranularityMs: number;
}

/**
 * A cache store. Only `name`, `get`, `set` and `delete` are required; every other operation is
 * optional and EdgeCache falls back to the required ones when it is missing.
 *
 * Keys arrive fully made (prefix and version included). Values are opaque bytes produced by the
 * codec; integers arrive as ASCII decimal text (`"42"`) so a native increment can work on them.
 *
 * @example
 * const store = new Map<string, Uint8Array>();
 * const tiny: Backend = {
 *   name: "tiny",
 *   async get(key) { return store.get(key) },
 *   async set(key, value) { store.set(key, value) },   // ignores TTLs: fine for a sketch
 *   async delete(key) { return store.delete(key) },
 * };
 * const cache = createCache({ backend: tiny });
 */
export interface Backend {
  /** A short name for messages and hooks, e.g. `"memory"`, `"memcached"`. */
  readonly name: string;
  /** Guarantees; a missing entry counts as `false`. */
  readonly capabilities?: Partial<BackendCapabilities>;
  /**
   * The store this backend reaches, as one object shared by every backend object that reaches
   * it, for backends made again and again over one store: on Workers, where a socket belongs to a
   * request, each request makes its own memcached backend, and they all give their pool's
   * identity. What edgecache learns of a store in the isolate (the tag records it read, pages'
   * vary lists, the page circuit breaker, error backoffs) is kept per identity, so it outlives
   * each backend object. Default: the backend object itself.
   */
  readonly identity?: object;

  /**
   * The bytes stored under `key`, or `undefined` when missing or expired. The bytes must never
   * change afterwards (return fresh ones, or stored ones that are replaced rather than modified):
   * edgecache's page cache reads them without copying.
   */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Store `value` under `key`, replacing any entry, expiring after `ttl` seconds (`null`: never). */
  set(key: string, value: Uint8Array, ttl: BackendTtl): Promise<void>;
  /** Remove `key`; `true` if it existed. */
  delete(key: string): Promise<boolean>;

  /** Whether `key` is present. Fallback: `get(key) !== undefined`. */
  has?(key: string): Promise<boolean>;
  /** Store only if `key` is missing or expired; `true` if stored. Fallback: `has` then `set` (not atomic). */
  add?(key: string, value: Uint8Array, ttl: BackendTtl): Promise<boolean>;
  /**
   * Add `delta` to the decimal integer stored under `key`, keeping its expiry, and return the new
   * value; `undefined` when `key` is missing. Throw a `TypeError` when the stored value is not an
   * integer. Fallback: `get`, add, `set` with the TTL from `ttl(key)` (not atomic).
   */
  increment?(key: string, delta: number): Promise<number | undefined>;
  /** The remaining TTL in seconds (`null`: never expires), or `undefined` when missing. Used by the increment fallback. */
  ttl?(key: string): Promise<BackendTtl | undefined>;
  /**
   * The bytes under `key` and their remaining TTL, read together; `undefined` when missing. For
   * stores that keep the expiry beside the value (KV, the Cache API, memcached's `mg v t`, Redis's
   * GET and PTTL in one MULTI): one read where `get` and `ttl` would be two. The tiered backend
   * reads its far tier with it, and `getOrSet` with `refreshAhead` its values; without it, both
   * call `get` and `ttl` side by side.
   */
  getWithTtl?(key: string): Promise<{ value: Uint8Array; ttl: BackendTtl } | undefined>;
  /** Several reads at once, in the order of `keys`. Fallback: parallel `get`s. */
  getMany?(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** Several writes at once with one TTL; returns the keys that failed. Fallback: parallel `set`s. */
  setMany?(entries: ReadonlyArray<readonly [string, Uint8Array]>, ttl: BackendTtl): Promise<string[]>;
  /** Several deletes at once. Fallback: parallel `delete`s. */
  deleteMany?(keys: readonly string[]): Promise<void>;
  /** Give an existing entry a new TTL; `true` if it existed. Fallback: `get` then `set` (not atomic). */
  touch?(key: string, ttl: BackendTtl): Promise<boolean>;
  /** Remove every entry this backend owns. No fallback: a backend that cannot clear omits it and `clear()` throws. */
  clear?(): Promise<void>;
  /** Release connections and timers. Fallback: nothing to do. */
  close?(): Promise<void>;
  /**
   * Check a made key before it is used, throwing `InvalidCacheKeyError` when the store cannot take
   * it (memcached). Backends that accept any key leave it out; EdgeCache still warns.
   */
  validateKey?(key: string): void;
  /**
   * Entries whose bodies stream, for stores that keep HTTP responses (the Cache API). No
   * fallback: page caching uses it when present so a hit streams the page body through instead
   * of reading it into memory, and reads plain values when not.
   */
  readonly streams?: StreamStore;
}

/**
 * Entries kept as a small head read at once and a body that streams. An entry written here is the
 * same entry as a plain `set(key, head + body)`: `get` returns the joined bytes, and reading a plain
 * entry here gives an empty head and the whole value as the body.
 *
 * @example
 * await backend.streams?.set(key, head, body, 600);
 * const entry = await backend.streams?.get(key); // { head, body: ReadableStream, length }
 */
export interface StreamStore {
  /** The entry under `key`, or `undefined` when missing or expired. */
  get(key: string): Promise<StreamedEntry | undefined>;
  /** Store `head` (a few KiB at most) and `body` under `key`, like `set` with their joined bytes. */
  set(key: string, head: Uint8Array, body: Uint8Array, ttl: BackendTtl): Promise<void>;
}

/**
 * One entry of a {@link StreamStore}: its head, and its body as a stream that must be read or cancelled.
 *
 * @example
 * const entry: StreamedEntry = { head, body: response.body!, length: head.byteLength + bodyBytes };
 */
export interface StreamedEntry {
  readonly head: Uint8Array;
  readonly body: ReadableStream<Uint8Array>;
  /** The entry's whole length in bytes, head included. */
  readonly length: number;
}

/**
 * The object edgecache keeps what it learns of `backend`'s store under: its `identity`, or the
 * backend itself.
 *
 * @example
 * const memos = new WeakMap<object, Memo>();
 * memos.get(identityOf(cache.backend));
 */
export function identityOf(backend: Backend): object {
  return backend.identity ?? backend;
}

/**
 * A value kept per store in this isolate (per `identityOf(backend)`), made on first use: what
 * edgecache learns of a store, shared by every backend object that reaches it.
 *
 * @example
 * const breakerFor = perStore(() => new Breaker());
 * breakerFor(cache.backend).answered();
 */
export function perStore<T>(make: () => T): (backend: Backend) => T {
  const kept = new WeakMap<object, T>();
  return (backend) => {
    const store = identityOf(backend);
    let value = kept.get(store);
    if (value === undefined) kept.set(store, (value = make()));
    return value;
  };
}

const named = new Map<string, object>();
const owned = new WeakMap<object, Map<string, object>>();

/**
 * One object per `description` in this isolate (per `owner` and description, when the store is
 * reached through an object: a KV binding, a client): the `identity` for a backend that describes
 * its store in a string (the servers of a memcached pool, a database URL and key prefix), so
 * every backend object made with the same description shares what edgecache learns of the store.
 *
 * @example
 * const backend: Backend = { name: "mine", identity: identityNamed(`mine ${url}`), get, set, delete: remove };
 * const perBinding = identityNamed(`workers-kv ${prefix}`, env.CACHE_KV);
 */
export function identityNamed(description: string, owner?: object): object {
  let identities = named;
  if (owner !== undefined) {
    let ownIdentities = owned.get(owner);
    if (!ownIdentities) owned.set(owner, (ownIdentities = new Map()));
    identities = ownIdentities;
  }
  let identity = identities.get(description);
  if (!identity) identities.set(description, (identity = { store: description }));
  return identity;
}
