/**
 * Generic fallbacks for the optional backend operations: `completeBackend` turns any Backend into
 * one with every operation present, choosing once, at construction, between the native operation
 * and its fallback so the hot path never branches on it.
 */
import type { Backend, BackendCapabilities, BackendTtl } from "./backend.ts";
import { addToCounter } from "./codec.ts";

/** A backend with every optional operation filled in. */
export type CompleteBackend = Required<Omit<Backend, "capabilities" | "identity" | "validateKey" | "streams" | "getWithTtl">> & {
  readonly capabilities: BackendCapabilities;
};

/**
 * Fill in the operations `backend` lacks. `defaultTtl` is the cache's default timeout as a TTL,
 * which the increment fallback writes with when the backend cannot report an entry's remaining
 * TTL (0: keep nothing, so the counter goes, as Django's `incr` writing with a default timeout of 0).
 *
 * @example
 * const complete = completeBackend(myBackend, () => 300);
 * await complete.increment(":1:hits", 1); // native when myBackend has it, get+set otherwise
 */
export function completeBackend(backend: Backend, defaultTtl: () => BackendTtl): CompleteBackend {
  const b = backend;
  const has = b.has?.bind(b) ?? (async (key: string) => (await b.get(key)) !== undefined);
  return {
    name: b.name,
    capabilities: {
      atomicAdd: b.capabilities?.atomicAdd ?? false,
      atomicIncrement: b.capabilities?.atomicIncrement ?? false,
      consistent: b.capabilities?.consistent ?? false,
      shared: b.capabilities?.shared ?? false,
      local: b.capabilities?.local ?? false,
      writeSpacingMs: b.capabilities?.writeSpacingMs ?? 0,
      ttlGranularityMs: b.capabilities?.ttlGranularityMs ?? 0,
    },
    get: b.get.bind(b),
    set: b.set.bind(b),
    delete: b.delete.bind(b),
    has,
    add: b.add?.bind(b) ?? (async (key, value, ttl) => {
      if (await has(key)) return false;
      await b.set(key, value, ttl);
      return true;
    }),
    increment: b.increment?.bind(b) ?? (async (key, delta) => {
      const bytes = await b.get(key);
      if (bytes === undefined) return undefined;
      const next = addToCounter(bytes, delta, key);
      const ttl = b.ttl ? await b.ttl(key) : defaultTtl();
      if (ttl === undefined) return undefined;
      await (ttl === 0 ? b.delete(key) : b.set(key, next.bytes, ttl));
      return next.value;
    }),
    ttl: b.ttl?.bind(b) ?? (async (key) => ((await b.get(key)) === undefined ? undefined : defaultTtl() || null)),
    getMany: b.getMany?.bind(b) ?? ((keys) => Promise.all(keys.map((key) => b.get(key)))),
    setMany: b.setMany?.bind(b) ?? (async (entries, ttl) => {
      await Promise.all(entries.map(([key, value]) => b.set(key, value, ttl)));
      return [];
    }),
    deleteMany: b.deleteMany?.bind(b) ?? (async (keys) => {
      await Promise.all(keys.map((key) => b.delete(key)));
    }),
    touch: b.touch?.bind(b) ?? (async (key, ttl) => {
      const bytes = await b.get(key);
      if (bytes === undefined) return false;
      await b.set(key, bytes, ttl);
      return true;
    }),
    clear: b.clear?.bind(b) ?? (async () => {
      throw new Error(`the ${b.name} backend cannot clear(): it has no way to list or flush its entries`);
    }),
    close: b.close?.bind(b) ?? (async () => {}),
  };
}

/**
 * How to read a value with its remaining TTL from `backend`: its own `getWithTtl` (one call), else
 * `get` and `ttl` side by side; `undefined` when it has neither (it cannot tell an entry's age).
 *
 * @example
 * const read = entryWithTtl(far);
 * const entry = await read?.(key); // { value, ttl } or undefined when missing
 */
export function entryWithTtl(backend: Backend): ((key: string) => Promise<{ value: Uint8Array; ttl: BackendTtl } | undefined>) | undefined {
  if (backend.getWithTtl) return backend.getWithTtl.bind(backend);
  const ttl = backend.ttl?.bind(backend);
  return ttl && (async (key) => {
    const [value, remaining] = await Promise.all([backend.get(key), ttl(key)]);
    return value === undefined || remaining === undefined ? undefined : { value, ttl: remaining };
  });
}
