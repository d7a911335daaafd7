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
import { BackendUnavailableError } from "../src/errors.ts";

/**
 * Options for `memory()`.
 *
 * @example
 * memory({ location: "sessions", maxEntries: 10_000, cullFrequency: 4, maxBytes: 64 * 2 ** 20 });
 */
export interface MemoryOptions {
  /** Backends with the same location share one store within the isolate (sized by the first one), and what edgecache learns of it (a purge through one is seen through all at once). Default: a private store. */
  location?: string;
  /** Entries kept before culling, at most 2 ** 24 (storage for this many is allocated up front). Default 300. */
  maxEntries?: number;
  /** Cull `size / cullFrequency` entries when full; 0 empties the store. Default 3. */
  cullFrequency?: number;
  /**
   * Optional budget for stored bytes (keys, counted in UTF-16 code units, and values); least
   * recently used entries go first. A single entry over the budget is refused with a
   * `BackendUnavailableError` (the key's old value goes too, as in memcached).
   */
  maxBytes?: number;
  /** Clock in milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  value: Uint8Array;
  /** Absolute expiry in clock milliseconds, or null for never. */
  expiresAt: number | null;
}

/** A store and the sizes it was made with: every backend over one location culls by them. */
interface Shelf {
  store: LRUCache<string, Entry>;
  maxEntries: number;
  cullFrequency: number;
  maxBytes: number;
}

/**
 * The most entries a store may be sized for (16,777,216): lru-cache allocates its lists for them
 * up front, which at 2 ** 26 takes a gigabyte and 18 s, and from 2 ** 27 fails or aborts the process.
 */
const MOST_ENTRIES = 2 ** 24;

const locations = new Map<string, Shelf>();

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
  if (maxEntries < 1 || maxEntries > MOST_ENTRIES) throw new TypeError(`options.maxEntries must be from 1 to 2 ** 24, got ${maxEntries}`);
  const cullFrequency = options.cullFrequency ?? 3;
  checkInteger(cullFrequency, "options.cullFrequency");
  if (cullFrequency < 0) throw new TypeError(`options.cullFrequency must be 0 or more, got ${cullFrequency}`);
  const maxBytes = options.maxBytes ?? Infinity;
  if (maxBytes !== Infinity && !(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new TypeError(`options.maxBytes must be a positive integer, got ${describe(maxBytes)}`);
  const now = options.now ?? Date.now;
  checkFunction(now, "options.now");
  if (options.location !== undefined && typeof options.location !== "string") {
    throw new TypeError(`options.location must be a string, got ${describe(options.location)}`);
  }

  const createShelf = (): Shelf => ({
    store: new LRUCache<string, Entry>({
      max: maxEntries,
      ...(maxBytes === Infinity ? {} : { maxSize: maxBytes, sizeCalculation: (entry: Entry, key: string) => sizeOf(key, entry.value) }),
    }),
    maxEntries,
    cullFrequency,
    maxBytes,
  });
  let shelf: Shelf;
  if (options.location === undefined) {
    shelf = createShelf();
  } else {
    shelf = locations.get(options.location) ?? createShelf();
    locations.set(options.location, shelf);
  }
  const { store } = shelf;

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

  /** Whether an entry of `value` under `key` fits the byte budget. */
  const fits = (key: string, value: Uint8Array): boolean => shelf.maxBytes === Infinity || sizeOf(key, value) <= shelf.maxBytes;
  const tooLarge = (key: string, value: Uint8Array): BackendUnavailableError =>
    new BackendUnavailableError(`memory: the value for ${key} (${value.byteLength} bytes) does not fit, with its key, the store's ${shelf.maxBytes}-byte budget (maxBytes)`);

  /** Store `entry` under `key`, culling first when the store is full; false (and the old value gone) when it is over the byte budget. */
  const write = (key: string, entry: Entry): boolean => {
    if (!fits(key, entry.value)) {
      store.delete(key); // as memcached does: never leave the old value behind a write that failed
      return false;
    }
    // Django culls before storing whenever the store is full, even when overwriting.
    if (store.size >= shelf.maxEntries) {
      if (shelf.cullFrequency === 0) store.clear();
      else for (let n = Math.max(1, Math.floor(store.size / shelf.cullFrequency)); n > 0; n--) store.pop();
    }
    store.set(key, entry);
    return true;
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
      if (!write(key, { value, expiresAt: expiry(ttl) })) throw tooLarge(key, value);
    },

    async add(key, value, ttl) {
      if (live(key) !== undefined) return false;
      if (!write(key, { value, expiresAt: expiry(ttl) })) throw tooLarge(key, value);
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
      return pairs.filter(([key, value]) => !write(key, { value, expiresAt })).map(([key]) => key);
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

/** What an entry counts against the byte budget: its key's UTF-16 code units and its value's bytes (at least 1). */
function sizeOf(key: string, value: Uint8Array): number {
  return Math.max(1, key.length + value.byteLength);
}
