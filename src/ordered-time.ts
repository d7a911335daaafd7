/**
 * Clock times that keep this isolate's order: a purge (of tags, of a page) and the making of what
 * it may end (a value's write or computation, a page's render) each take one, and a later call
 * always gets a later time. Read straight from a clock, two of them in one millisecond (or on
 * Workers, anywhere between two I/O calls: the clock stands still there) would be equal, and
 * "purge, then store the new value" would file the value at the very time of the purge, which
 * ends it. A time the clock repeats is moved a microsecond past the last one given.
 */

/** The last time given for each clock. */
const lastGiven = new WeakMap<() => number, number>();

/** How far past the last time given a repeated (or earlier) reading is moved, in ms. */
const STEP = 0.001;

/**
 * `now()`, or a microsecond past the last time this function gave for `now` if that is not
 * earlier: later than every time it gave before for the same clock.
 *
 * @example
 * const purgedAt = orderedNow(Date.now);
 * const filedAt = orderedNow(Date.now); // > purgedAt, even within the same millisecond
 */
export function orderedNow(now: () => number): number {
  const reading = now();
  const last = lastGiven.get(now);
  const time = last !== undefined && reading <= last ? last + STEP : reading;
  lastGiven.set(now, time);
  return time;
}
