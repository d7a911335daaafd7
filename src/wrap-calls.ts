/**
 * A backend whose calls to the store pass through a wrapper: the one place that knows which
 * operations wait on the store, for `timeLimited` (`createCache`'s `timeoutMs`) and `observed`
 * (its `onBackendCall`).
 */
import type { Backend, StreamStore } from "./backend.ts";

/** The optional operations that wait on the store; `close` is left alone, as are the synchronous ones. */
const OPTIONAL = ["has", "add", "increment", "ttl", "getWithTtl", "getMany", "setMany", "deleteMany", "touch", "clear"] as const;

/**
 * A call to the store.
 *
 * @example
 * const call: StoreCall = (key: string) => backend.get(key);
 */
export type StoreCall = (...args: never[]) => Promise<unknown>;

/**
 * `backend` with each call that waits on the store (`get`, `set`, `delete`, the optional ones it
 * has, and its streams' `get` and `set`) replaced by `wrap(operation, call)`, `call` bound to
 * the backend. Its name, capabilities, identity, `close` and `validateKey` are kept.
 *
 * @example
 * const logged = wrapCalls(backend, (operation, call) => ((...args) => (console.log(operation), call(...args))) as typeof call);
 */
export function wrapCalls(backend: Backend, wrap: <F extends StoreCall>(operation: string, call: F) => F): Backend {
  const bound = <F extends StoreCall>(operation: string, call: F, self: object = backend): F => wrap(operation, call.bind(self) as F);
  const wrapped: { -readonly [K in keyof Backend]: Backend[K] } = {
    name: backend.name,
    capabilities: backend.capabilities,
    get: bound("get", backend.get),
    set: bound("set", backend.set),
    delete: bound("delete", backend.delete),
  };
  if (backend.identity) wrapped.identity = backend.identity;
  for (const operation of OPTIONAL) {
    const call = backend[operation] as StoreCall | undefined;
    if (typeof call === "function") (wrapped as Record<string, unknown>)[operation] = bound(operation, call);
  }
  if (backend.close) wrapped.close = backend.close.bind(backend);
  if (backend.validateKey) wrapped.validateKey = backend.validateKey.bind(backend);
  const streams = backend.streams;
  if (streams) {
    const wrappedStreams: StreamStore = { get: bound("get", streams.get, streams), set: bound("set", streams.set, streams) };
    wrapped.streams = wrappedStreams;
  }
  return wrapped;
}
