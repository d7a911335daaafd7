/** A controllable clock for backends and page caching that accept a `now` option. */

export interface FakeClock {
  /** Milliseconds, like `Date.now`. */
  now: () => number;
  /** Move the clock forward. */
  advance: (seconds: number) => void;
}

/**
 * A clock that only moves when told to.
 *
 * @example
 * const clock = fakeClock();
 * const backend = memory({ now: clock.now });
 * clock.advance(301);
 */
export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let current = start;
  return {
    now: () => current,
    advance: (seconds) => {
      current += seconds * 1000;
    },
  };
}
