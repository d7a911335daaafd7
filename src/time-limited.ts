/**
 * `createCache`'s `timeoutMs`: a backend whose every call fails with a `BackendTimeoutError` once
 * it has taken longer than the limit, so a hung store (a frozen Redis, a stuck network path
 * behind a custom adapter) turns into an error the cache can report or ignore, never a caller
 * that waits for ever. The call itself is not cancelled: a late write may still land.
 */
import type { Backend, StreamStore } from "./backend.ts";
import { withDeadline } from "./deadline.ts";
import { BackendTimeoutError } from "./errors.ts";

/** The optional operations that wait on the store; `close` is left alone, as are the synchronous ones. */
const OPTIONAL = ["has", "add", "increment", "ttl", "getWithTtl", "getMany", "setMany", "deleteMany", "touch", "clear"] as const;

type Call = (...args: never[]) => Promise<unknown>;

/**
 * `backend` with every call limited to `ms` milliseconds.
 *
 * @example
 * const store = timeLimited(customRedisBackend, 250);
 * await store.get(key); // BackendTimeoutError after 250 ms if the server is frozen
 */
export function timeLimited(backend: Backend, ms: number): Backend {
  const limit = <F extends Call>(operation: string, call: F): F =>
    ((...args: Parameters<F>) =>
      withDeadline(call.apply(backend, args), ms, () => {
        throw new BackendTimeoutError(`the ${backend.name} backend took longer than options.timeoutMs (${ms} ms) to ${operation}`);
      })) as F;
  const limited: { -readonly [K in keyof Backend]: Backend[K] } = {
    name: backend.name,
    capabilities: backend.capabilities,
    get: limit("get", backend.get),
    set: limit("set", backend.set),
    delete: limit("delete", backend.delete),
  };
  for (const operation of OPTIONAL) {
    const call = backend[operation] as Call | undefined;
    if (typeof call === "function") (limited as Record<string, unknown>)[operation] = limit(operation, call);
  }
  if (backend.close) limited.close = backend.close.bind(backend);
  if (backend.validateKey) limited.validateKey = backend.validateKey.bind(backend);
  const streams = backend.streams;
  if (streams) {
    const limitedStreams: StreamStore = { get: limit("get", streams.get.bind(streams)), set: limit("set", streams.set.bind(streams)) };
    limited.streams = limitedStreams;
  }
  return limited;
}
