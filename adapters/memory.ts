/**
 * The in-isolate memory backend, edgecache's embedded default: Django's locmem cache.
 *
 * Recency is kept by lru-cache (O(1) and allocation-free, where a `Map` re-inserted on every hit
 * churns its hash table at a million entries). Eviction is Django's, not lru-cache's one-at-a-time:
 * when full, drop `size / cullFrequency` least recently used entries at once (at least one), or
 * everything when `cullFrequency` is 0. Expiry is ours too, on the injectable clock.
 */
import { LRUCache } from "lru-cache";
import type { Backend, BackendTtl } from "../src/backend.ts";
import { checkFunction, checkInteger, describe } from "../src/arguments.ts";
import { addToCounter } from "../src/codec.ts";

/**
 * Options for `memory()`.
 *
 * @example
 * memory({ location: "sessions", maxEntries: 10_000, cullFrequency: 4, maxBytes: 64 * 2 ** 20 });
 */
export interface MemoryOptions {
  /** Backends with the same location share one store within the isolate (sized by the first one), and what edgecache learns of it (a purge through one is seen through all at once). Default: a private store. */
  location?: string;
  /** Entries kept before culling (storage for this many is allocated up front). Default 300. */
  maxEntries?: number;
  /** Cull `size / cullFrequency` entries when full; 0 empties the store. Default 3. */
  cullFrequency?: number;
  /** Optional budget for stored bytes (keys and values); least recently used entries go first, and a single entry over the budget is not kept. */
  maxBytes?: number;
  /** Clock in milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  value: Uint8Array;
  /** Absolute expiry in clock milliseconds, or null for never. */
  expiresAt: number | null;
}

type Store = LRUCache<string, Entry>;

const locations = new Map<string, Store>();

/**
 * An in-isolate LRU store. Fast, not shared between isolates or processes.
 *
 * @example
 * import { createCache } from "edgecache";
 * import { memory } from "edgecache/adapters/memory";
 *
 * const cache = createCache({ backend: memory({ maxEntries: 5000 }) });
 */
export function memory(options: MemoryOptions = {}): Backend {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  const maxEntries = options.maxEntries ?? 300;
  checkInteger(maxEntries, "options.maxEntries");
  if (maxEntries < 1) throw new TypeError(`options.maxEntries must be 1 or more, got ${maxEntries}`);
  const cullFrequency = options.cullFrequency ?? 3;
  checkInteger(cullFrequency, "options.cullFrequency");
  if (cullFrequency < 0) throw new TypeError(`options.cullFrequency must be 0 or more, got ${cullFrequency}`);
  const maxBytes = options.maxBytes ?? Infinity;
  if (typeof maxBytes !== "number" || !(maxBytes > 0)) throw new TypeError(`options.maxBytes must be a positive number, got ${describe(maxBytes)}`);
  const now = options.now ?? Date.now;
  checkFunction(now, "options.now");
  if (options.location !== undefined && typeof options.location !== "string") {
    throw new TypeError(`options.location must be a string, got ${describe(options.location)}`);
  }

  const createStore = (): Store =>
    new LRUCache<string, Entry>({
      max: maxEntries,
      ...(maxBytes === Infinity ? {} : { maxSize: maxBytes, sizeCalculation: (entry: Entry, key: string) => Math.max(1, key.length + entry.value.byteLength) }),
    });
  let store: Store;
  if (options.location === undefined) {
    store = createStore();
  } else {
    store = locations.get(options.location) ?? createStore();
    locations.set(options.location, store);
  }

  const expiry = (ttl: BackendTtl): number | null => (ttl === null ? null : now() + ttl * 1000);

  /** The live entry for `key`, dropping it if it has expired; `use` marks it most recently used. */
  const live = (key: string, use = false): Entry | undefined => {
    const entry = use ? store.get(key) : store.peek(key);
    if (entry !== undefined && entry.expiresAt !== null && entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  };

  /** An entry's remaining TTL in seconds. */
  const remaining = (entry: Entry): BackendTtl => (entry.expiresAt === null ? null : (entry.expiresAt - now()) / 1000);

  const write = (key: string, entry: Entry): void => {
    // Django culls before storing whenever the store is full, even when overwriting.
    if (store.size >= maxEntries) {
      if (cullFrequency === 0) store.clear();
      else for (let n = Math.max(1, Math.floor(store.size / cullFrequency)); n > 0; n--) store.pop();
    }
    store.set(key, entry); // an entry larger than maxBytes is not kept, and the old value goes too
  };

  return {
    name: "memory",
    // Backends over one location are one store: what edgecache learns of it (tag records, vary
    // indexes), and a purge made through one of them, is the same for all.
    identity: store,
    capabilities: { atomicAdd: true, atomicIncrement: true, consistent: true, shared: false, local: true },

    async get(key) {
      return live(key, true)?.value;
    },

    async set(key, value, ttl) {
      write(key, { value, expiresAt: expiry(ttl) });
    },

    async add(key, value, ttl) {
      if (live(key) !== undefined) return false;
      write(key, { value, expiresAt: expiry(ttl) });
      return true;
    },

    async delete(key) {
      return live(key) !== undefined && store.delete(key);
    },

    async has(key) {
      return live(key) !== undefined;
    },

    async increment(key, delta) {
      const entry = live(key);
      if (entry === undefined) return undefined;
      const next = addToCounter(entry.value, delta, key);
      store.set(key, { value: next.bytes, expiresAt: entry.expiresAt });
      return next.value;
    },

    async ttl(key) {
      const entry = live(key);
      return entry && remaining(entry);
    },

    async getWithTtl(key) {
      const entry = live(key, true);
      return entry && { value: entry.value, ttl: remaining(entry) };
    },

    async getMany(keys) {
      return keys.map((key) => live(key, true)?.value);
    },

    async setMany(pairs, ttl) {
      const expiresAt = expiry(ttl);
      for (const [key, value] of pairs) write(key, { value, expiresAt });
      return [];
    },

    async deleteMany(keys) {
      for (const key of keys) store.delete(key);
    },

    async touch(key, ttl) {
      const entry = live(key);
      if (entry === undefined) return false;
      entry.expiresAt = expiry(ttl);
      return true;
    },

    async clear() {
      store.clear();
    },
  };
}
