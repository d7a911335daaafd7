/**
 * The hooks users give edgecache (metrics, logs, error reports) are called through `harmless`:
 * a hook must never change an answer, nor take the process down.
 */

/**
 * `hook`, called so that nothing it does reaches the caller: what it throws is dropped, and so is
 * what a promise it returns rejects with (an async metrics hook whose sink is down would
 * otherwise be an unhandled rejection, which ends a Node process).
 *
 * @example
 * const report = harmless(options.onError);
 * report(error, "get"); // never throws, never leaves a rejection unhandled
 */
export function harmless<A extends unknown[]>(hook: (...args: A) => unknown): (...args: A) => void {
  return (...args) => {
    try {
      const result = hook(...args);
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") Promise.resolve(result).catch(() => {});
    } catch {
      // What a hook throws is its own: the answer stands.
    }
  };
}
