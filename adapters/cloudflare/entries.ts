/**
 * The Backend both Cloudflare adapters (Workers KV and the Cache API) are built on: a store of
 * entries that carry their own expiry time. Neither store can be trusted to expire entries on
 * time (KV refuses TTLs under 60 s; Deno's Cache API ignores Cache-Control; miniflare's keeps
 * nothing without it), so expiry is checked on every read against the entry's `expiresAt`.
 * Everything beyond a plain read, write or removal (add, increment, touch, ttl) is a
 * read-modify-write: best effort, never atomic.
 */
import type { Backend, BackendCapabilities, BackendTtl } from "../../src/backend.ts";
import { addToCounter } from "../../src/codec.ts";

/** One stored value and its absolute expiry in clock milliseconds (`null`: never). */
export interface Entry {
  value: Uint8Array;
  expiresAt: number | null;
}

/**
 * The expiry time in clock milliseconds of an entry written now with `ttl` (`null`: never).
 *
 * @example
 * expiresAtFor(30, Date.now); // Date.now() + 30_000
 */
export function expiresAtFor(ttl: BackendTtl, now: () => number): number | null {
  return ttl === null ? null : now() + ttl * 1000;
}

/**
 * Whether an entry expiring at `expiresAt` (`null`: never) is live at the time `at`.
 *
 * @example
 * if (!isLive(entry.expiresAt, now())) return undefined;
 */
export function isLive(expiresAt: number | null, at: number): boolean {
  return expiresAt === null || expiresAt > at;
}

/**
 * What an adapter supplies: where a key lives and the three raw operations on that place.
 *
 * @example
 * const store = new Map<string, Entry>();
 * const backend = entryBackend({
 *   name: "map", capabilities: { atomicAdd: false, atomicIncrement: false, consistent: true, shared: false, local: true, writeSpacingMs: 0, ttlGranularityMs: 0 },
 *   now: Date.now, locate: async (key) => key,
 *   load: async (at) => store.get(at), save: async (at, entry) => void store.set(at, entry),
 *   remove: async (at) => void store.delete(at), clear: async () => store.clear(),
 * });
 */
export interface EntryStore {
  name: string;
  capabilities: BackendCapabilities;
  /** The clock expiry is measured on, in milliseconds. */
  now: () => number;
  /** The store's name for a made key. */
  locate(key: string): string | Promise<string>;
  /** The entry at `location`, expired or not; `undefined` when there is none. */
  load(location: string): Promise<Entry | undefined>;
  save(location: string, entry: Entry): Promise<void>;
  remove(location: string): Promise<void>;
  clear(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A Backend over an entry store, enforcing each entry's expiry on read.
 *
 * @example
 * export const myBackend = (): Backend => entryBackend(myEntryStore);
 */
export function entryBackend(store: EntryStore): Backend {
  const { now } = store;
  const expiry = (ttl: BackendTtl): number | null => expiresAtFor(ttl, now);

  /** The unexpired entry at `location`. */
  const live = async (location: string): Promise<Entry | undefined> => {
    const entry = await store.load(location);
    return entry !== undefined && isLive(entry.expiresAt, now()) ? entry : undefined;
  };

  /** The unexpired entry under `key` as its bytes and remaining TTL: one read. */
  const withTtl = async (key: string): Promise<{ value: Uint8Array; ttl: BackendTtl } | undefined> => {
    const entry = await live(await store.locate(key));
    if (entry === undefined) return undefined;
    return { value: entry.value, ttl: entry.expiresAt === null ? null : (entry.expiresAt - now()) / 1000 };
  };

  return {
    name: store.name,
    capabilities: store.capabilities,

    async get(key) {
      return (await live(await store.locate(key)))?.value;
    },

    async set(key, value, ttl) {
      await store.save(await store.locate(key), { value, expiresAt: expiry(ttl) });
    },

    async delete(key) {
      const location = await store.locate(key);
      // Read and remove together, so the removal keeps its place among concurrent writes.
      const [entry] = await Promise.all([live(location), store.remove(location)]);
      return entry !== undefined;
    },

    async has(key) {
      return (await live(await store.locate(key))) !== undefined;
    },

    async add(key, value, ttl) {
      const location = await store.locate(key);
      if ((await live(location)) !== undefined) return false;
      await store.save(location, { value, expiresAt: expiry(ttl) });
      return true;
    },

    async increment(key, delta) {
      const location = await store.locate(key);
      const entry = await live(location);
      if (entry === undefined) return undefined;
      const next = addToCounter(entry.value, delta, key);
      await store.save(location, { value: next.bytes, expiresAt: entry.expiresAt });
      return next.value;
    },

    async ttl(key) {
      return (await withTtl(key))?.ttl;
    },

    getWithTtl: withTtl,

    async setMany(entries, ttl) {
      const expiresAt = expiry(ttl);
      const results = await Promise.allSettled(entries.map(async ([key, value]) => store.save(await store.locate(key), { value, expiresAt })));
      return entries.filter((_, i) => results[i]!.status === "rejected").map(([key]) => key);
    },

    async deleteMany(keys) {
      await Promise.all(keys.map(async (key) => store.remove(await store.locate(key))));
    },

    async touch(key, ttl) {
      const location = await store.locate(key);
      const entry = await live(location);
      if (entry === undefined) return false;
      await store.save(location, { value: entry.value, expiresAt: expiry(ttl) });
      return true;
    },

    clear: () => store.clear(),
    close: async () => store.close?.(),
  };
}
