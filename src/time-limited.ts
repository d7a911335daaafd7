/**
 * `createCache`'s `timeoutMs`: a backend whose every call fails with a `BackendTimeoutError` once
 * it has taken longer than the limit, so a hung store (a frozen Redis, a stuck network path
 * behind a custom adapter) turns into an error the cache can report or ignore, never a caller
 * that waits for ever. The call itself is not cancelled: a late write may still land.
 */
import type { Backend } from "./backend.ts";
import { withDeadline } from "./deadline.ts";
import { BackendTimeoutError } from "./errors.ts";
import { type StoreCall, wrapCalls } from "./wrap-calls.ts";

/**
 * `backend` with every call limited to `ms` milliseconds.
 *
 * @example
 * const store = timeLimited(customRedisBackend, 250);
 * await store.get(key); // BackendTimeoutError after 250 ms if the server is frozen
 */
export function timeLimited(backend: Backend, ms: number): Backend {
  const spacing = backend.capabilities?.writeSpacingMs ?? 0;
  return wrapCalls(backend, <F extends StoreCall>(operation: string, call: F): F => {
    // A write the adapter holds back by design (see `writeSpacingMs`) has that much longer.
    const limit = READS.has(operation) ? ms : ms + spacing;
    return ((...args: Parameters<F>) =>
      withDeadline(call(...args), limit, () => {
        throw new BackendTimeoutError(`the ${backend.name} backend took longer than options.timeoutMs (${ms} ms${limit > ms ? `, and ${spacing} ms for a write it holds back` : ""}) to ${operation}`);
      })) as F;
  });
}

/** The calls that only read. */
const READS = new Set(["get", "getMany", "getWithTtl", "has", "ttl"]);
