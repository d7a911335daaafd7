/**
 * The circuit breaker in front of each store page caching calls: after three calls in a row ran
 * out of time (see the `timeoutMs` option), page caching leaves that store alone for
 * `circuitBreakMs`, so a store that has stopped answering costs requests nothing instead of the
 * time limit each. Requests meanwhile go straight to their handlers and nothing is stored. Once
 * the break is over, one request at a time tries the store again: a call answered in time closes
 * the breaker, another time-out opens it again for twice as long (up to a minute), and a trial
 * not heard of within twice the time limit is taken to be dropped, so another request tries.
 *
 * Only time-outs count. A store that answers, even with an error, costs a request little, and
 * opening on errors would turn one refused write (a value too large) into a break for every page.
 * A breaker is kept per store (the backend's `identity`) in this isolate, shared by every wrapper
 * over it and, on Workers, by the per-request backends over one memcached pool.
 */
import { type Backend, perStore } from "../backend.ts";

/** Time-outs in a row that open the breaker. */
const TIMEOUTS_TO_OPEN = 3;
/** The longest a break grows to by doubling, however often the store keeps failing its trials (unless `circuitBreakMs` is longer). */
const MAX_BREAK_MS = 60_000;

/**
 * One store's breaker: closed (calls go through), open (calls are skipped until the break ends),
 * or trying (the break is over and one request's calls are out; the others keep skipping).
 *
 * @example
 * const breaker = breakerFor(cache.backend);
 * if (!breaker.allows(Date.now, 2000)) return answerWithoutTheStore();
 */
export class Breaker {
  private timeouts = 0;
  /** The current break's length in ms; 0 while closed. */
  private breakMs = 0;
  private breakEnds = 0;
  /** While a trial request is out: until when the others keep skipping the store. */
  private trialEnds = 0;

  /**
   * Whether a request arriving now may call the store; once the break is over, the first to ask
   * becomes the trial, and the others keep skipping for `trialMs` (at most the break's length).
   * A trial that has not been heard of by then was dropped: on Workers a request that ends takes
   * its calls and their timers with it, so it never reports. The next request tries instead. The
   * clock is read only while the breaker is not closed.
   */
  allows(clock: () => number, trialMs: number): boolean {
    if (this.breakMs === 0) return true;
    const now = clock();
    if (now < this.breakEnds || now < this.trialEnds) return false;
    this.trialEnds = now + Math.min(trialMs, this.breakMs);
    return true;
  }

  /** Whether the store is being left alone at `now` (open, and the break not over): nothing should be written to it. */
  isOpen(now: number): boolean {
    return this.breakMs > 0 && now < this.breakEnds;
  }

  /** A call was answered within its time limit, with a value or an error: the store is answering. */
  answered(): void {
    this.timeouts = 0;
    this.breakMs = 0;
    this.trialEnds = 0;
  }

  /**
   * A call ran out of time at `now`. Returns the length of the break this begins (ms), or 0 when
   * it begins none: too few time-outs yet, or a call made before the current break.
   */
  timedOut(now: number, breakMs: number): number {
    this.timeouts++;
    if (breakMs === 0 || now < this.breakEnds) return 0;
    if (this.breakMs > 0) this.breakMs = Math.max(Math.min(2 * this.breakMs, MAX_BREAK_MS), breakMs); // a trial failed
    else if (this.timeouts >= TIMEOUTS_TO_OPEN) this.breakMs = breakMs;
    else return 0;
    this.breakEnds = now + this.breakMs;
    this.trialEnds = 0;
    return this.breakMs;
  }
}

/**
 * The breaker of `backend` in this isolate.
 *
 * @example
 * breakerFor(cache.backend).answered();
 */
export const breakerFor: (backend: Backend) => Breaker = perStore(() => new Breaker());
