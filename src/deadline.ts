/** Time limits on promises: what page caching puts on store calls and fills, and `createCache`'s `timeoutMs` on every backend call. */

/**
 * `promise`, or after `ms` whatever `atDeadline` returns (a promise is followed) or throws; the
 * timer goes as soon as either is done. `inTime` hears of a promise settled before the deadline, with the error it
 * failed with (`undefined` when it resolved).
 *
 * @example
 * await withDeadline(otherFill, 5000, () => undefined); // wait for it, five seconds at most
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, atDeadline: () => T | PromiseLike<T>, inTime?: (error: unknown) => void): Promise<T> {
  let late = false;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      late = true;
      try {
        resolve(atDeadline());
      } catch (error) {
        reject(error);
      }
    }, ms);
    const settled = (error?: unknown): void => {
      clearTimeout(timer);
      if (!late) inTime?.(error);
    };
    promise.then(
      (value) => {
        settled();
        resolve(value);
      },
      (error: unknown) => {
        settled(error);
        reject(error);
      },
    );
  });
}
