/**
 * The dummy backend: Django's DummyCache. It stores nothing, so every read misses; use it to turn
 * caching off in development without changing code. Keys are still checked and warned about.
 */
import type { Backend } from "../src/backend.ts";

/**
 * A backend that keeps nothing: `add` reports success, reads miss, `delete`/`has`/`touch` are
 * false and `incr` raises KeyNotFoundError.
 *
 * @example
 * import { createCache } from "edgecache";
 * import { dummy } from "edgecache/adapters/dummy";
 *
 * const cache = createCache({ backend: process.env.NO_CACHE ? dummy() : memory() });
 */
export function dummy(): Backend {
  return {
    name: "dummy",
    capabilities: { atomicAdd: true, atomicIncrement: true, consistent: true, shared: false, local: true },
    async get() { return undefined; },
    async set() {},
    async add() { return true; },
    async delete() { return false; },
    async has() { return false; },
    async increment() { return undefined; },
    async ttl() { return undefined; },
    async getMany(keys) { return keys.map(() => undefined); },
    async setMany() { return []; },
    async deleteMany() {},
    async touch() { return false; },
    async clear() {},
  };
}
