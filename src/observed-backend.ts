/**
 * `createCache`'s `onBackendCall`: a backend that reports how long each call to the store took and
 * whether it failed, for latency metrics (a memcached server or an Upstash region slowing down
 * shows here before it times out). Timed with `performance.now()`; a streamed read is timed to its
 * head, not through its body.
 */
import type { Backend } from "./backend.ts";
import { type StoreCall, wrapCalls } from "./wrap-calls.ts";
import { harmless } from "./hooks.ts";

/**
 * One call to the store, as `onBackendCall` hears it.
 *
 * @example
 * const call: BackendCall = { backend: "memcached", operation: "get", ms: 0.42 };
 */
export interface BackendCall {
  /** The backend's name (`"memcached"`, `"upstash"`). */
  backend: string;
  /** The backend operation: `get`, `set`, `delete`, `getMany`, `add`, `increment`, ... */
  operation: string;
  /** How long the call took, in milliseconds. */
  ms: number;
  /** What it failed with, if it did. */
  error?: unknown;
}

/**
 * `backend` with each call reported to `hear` once it has settled. Nothing `hear` does (see `harmless`) changes a call.
 *
 * @example
 * const store = observed(memcached({ servers }), ({ operation, ms }) => histogram.record(ms, { operation }));
 */
export function observed(backend: Backend, hear: (call: BackendCall) => void): Backend {
  const report = harmless(hear);
  return wrapCalls(backend, <F extends StoreCall>(operation: string, call: F): F =>
    (async (...args: Parameters<F>) => {
      const start = performance.now();
      try {
        const result = await call(...args);
        report({ backend: backend.name, operation, ms: performance.now() - start });
        return result;
      } catch (error) {
        report({ backend: backend.name, operation, ms: performance.now() - start, error });
        throw error;
      }
    }) as F);
}
