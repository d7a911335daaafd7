/**
 * The in-isolate memory backend, edgecache's embedded default: Django's locmem cache.
 *
 * An LRU over a JavaScript `Map` (insertion order = recency order, most recent last), culled the
 * way Django culls: when full, drop `size / cullFrequency` least recently used entries at once
 * (at least one), or everything when `cullFrequency` is 0. We keep our own LRU rather than use
 * lru-cache because that eviction policy is the contract here (lru-cache evicts one at a time);
 * `npm run bench -- memory` measures it against lru-cache.
 */
import type { Backend, BackendTtl } from "../src/backend.ts";
import { checkFunction, checkInteger, describe } from "../src/arguments.ts";
import { encodeCounter, parseCounter } from "../src/codec.ts";

/**
 * Options for `memory()`.
 *
 * @example
 * memory({ location: "sessions", maxEntries: 10_000, cullFrequency: 4, maxBytes: 64 * 2 ** 20 });
 */
export interface MemoryOptions {
  /** Backends with the same location share one store within the isolate. Default: a private store. */
  location?: string;
  /** Entries kept before culling. Default 300. */
  maxEntries?: number;
  /** Cull `size / cullFrequency` entries when full; 0 empties the store. Default 3. */
  cullFrequency?: number;
  /** Optional budget for stored bytes (keys and values); least recently used entries go first. */
  maxBytes?: number;
  /** Clock in milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  value: Uint8Array;
  /** Absolute expiry in clock milliseconds, or null for never. */
  expiresAt: number | null;
}

interface Store {
  entries: Map<string, Entry>;
  bytes: number;
}

const locations = new Map<string, Store>();

function entrySize(key: string, entry: Entry): number {
  return key.length + entry.value.byteLength;
}

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

  let store: Store;
  if (options.location === undefined) {
    store = { entries: new Map(), bytes: 0 };
  } else {
    store = locations.get(options.location) ?? { entries: new Map(), bytes: 0 };
    locations.set(options.location, store);
  }
  const { entries } = store;

  const expiry = (ttl: BackendTtl): number | null => (ttl === null ? null : now() + ttl * 1000);

  /** The live entry for `key`, dropping it if it has expired. Does not touch recency. */
  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= now()) {
      remove(key, entry);
      return undefined;
    }
    return entry;
  };

  const remove = (key: string, entry: Entry): void => {
    entries.delete(key);
    store.bytes -= entrySize(key, entry);
  };

  const refresh = (key: string, entry: Entry): void => {
    entries.delete(key);
    entries.set(key, entry);
  };

  const evictOldest = (count: number): void => {
    for (const [key, entry] of entries) {
      if (count-- <= 0) break;
      remove(key, entry);
    }
  };

  const cull = (): void => {
    if (cullFrequency === 0) {
      entries.clear();
      store.bytes = 0;
    } else {
      evictOldest(Math.max(1, Math.floor(entries.size / cullFrequency)));
    }
  };

  const write = (key: string, entry: Entry): void => {
    // Django culls before storing whenever the store is full, even when overwriting.
    if (entries.size >= maxEntries) cull();
    const previous = entries.get(key);
    if (previous !== undefined) remove(key, previous);
    const size = entrySize(key, entry);
    if (size > maxBytes) return; // larger than the whole budget: not kept
    entries.set(key, entry);
    store.bytes += size;
    while (store.bytes > maxBytes) evictOldest(1);
  };

  return {
    name: "memory",
    capabilities: { atomicAdd: true, atomicIncrement: true, consistent: true, shared: false },

    async get(key) {
      const entry = live(key);
      if (entry === undefined) return undefined;
      refresh(key, entry);
      return entry.value;
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
      const entry = live(key);
      if (entry === undefined) return false;
      remove(key, entry);
      return true;
    },

    async has(key) {
      return live(key) !== undefined;
    },

    async increment(key, delta) {
      const entry = live(key);
      if (entry === undefined) return undefined;
      const current = parseCounter(entry.value);
      if (current === undefined) throw new TypeError(`the value stored under ${key} is not an integer`);
      const next = current + delta;
      if (!Number.isSafeInteger(next)) throw new RangeError(`incrementing ${key} would leave the safe integer range`);
      remove(key, entry);
      const updated = { value: encodeCounter(next), expiresAt: entry.expiresAt };
      entries.set(key, updated);
      store.bytes += entrySize(key, updated);
      return next;
    },

    async ttl(key) {
      const entry = live(key);
      if (entry === undefined) return undefined;
      return entry.expiresAt === null ? null : (entry.expiresAt - now()) / 1000;
    },

    async getMany(keys) {
      return keys.map((key) => {
        const entry = live(key);
        if (entry === undefined) return undefined;
        refresh(key, entry);
        return entry.value;
      });
    },

    async setMany(pairs, ttl) {
      const expiresAt = expiry(ttl);
      for (const [key, value] of pairs) write(key, { value, expiresAt });
      return [];
    },

    async deleteMany(keys) {
      for (const key of keys) {
        const entry = entries.get(key);
        if (entry !== undefined) remove(key, entry);
      }
    },

    async touch(key, ttl) {
      const entry = live(key);
      if (entry === undefined) return false;
      entry.expiresAt = expiry(ttl);
      return true;
    },

    async clear() {
      entries.clear();
      store.bytes = 0;
    },
  };
}
