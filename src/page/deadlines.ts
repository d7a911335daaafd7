/**
 * Time limits on page caching's calls to a store, and the store's circuit breaker that counts
 * the calls that ran out of time (see `breaker.ts`). A store behind a connection (memcached,
 * Redis, KV) gets `timeoutMs`, 1000 ms by default; a local one (the Cache API) none unless
 * `timeoutMs` says so; an in-isolate one never, as its calls cannot wait on I/O.
 */
import type { EdgeCache } from "../cache.ts";
import { withDeadline } from "../deadline.ts";
import { BackendTimeoutError, BackendUnavailableError } from "../errors.ts";
import { breakerFor } from "./breaker.ts";
import type { ResolvedPageOptions } from "./options.ts";

/** The time limit on calls to a store behind a connection, unless `timeoutMs` says otherwise. */
const DEFAULT_TIMEOUT_MS = 1000;

/**
 * One page-caching wrapper's time limits on store calls.
 *
 * @example
 * const deadlines = new StoreDeadlines(resolvePageOptions({ timeoutMs: 250 }));
 * const value = await deadlines.limit(cache, cache.get(key));
 */
export class StoreDeadlines {
  private readonly options: Pick<ResolvedPageOptions, "timeoutMs" | "circuitBreakMs" | "now">;

  constructor(options: Pick<ResolvedPageOptions, "timeoutMs" | "circuitBreakMs" | "now">) {
    this.options = options;
  }

  /** The time limit on calls to `cache`'s store in ms (see the `timeoutMs` option); 0 for none. */
  private deadlineMs(cache: EdgeCache): number {
    const capabilities = cache.backend.capabilities;
    if (capabilities?.shared === false) return 0; // in-isolate: its calls never wait on I/O
    return this.options.timeoutMs ?? (capabilities?.local === true ? 0 : DEFAULT_TIMEOUT_MS);
  }

  /**
   * Whether a request may call `cache`'s store now: always, for a store without a time limit
   * (it cannot time out); otherwise as its circuit breaker says. A trial request's calls settle
   * within the time limit, so one not heard of within twice that was dropped.
   */
  allows(cache: EdgeCache): boolean {
    const ms = this.deadlineMs(cache);
    return ms === 0 || breakerFor(cache.backend).allows(this.options.now, 2 * ms);
  }

  /** Whether `cache`'s store is being left alone at `now` (its breaker open): nothing should be written to it. */
  isOpen(cache: EdgeCache, now: number): boolean {
    return this.deadlineMs(cache) > 0 && breakerFor(cache.backend).isOpen(now);
  }

  /**
   * Fail a backend call that takes longer than the store's time limit (see the `timeoutMs`
   * option), and tell the store's circuit breaker whether it answered in time. `writes`: the call
   * writes, so it may wait as long again as the store holds writes back (`writeSpacingMs`).
   */
  limit<T>(cache: EdgeCache, call: Promise<T>, writes = false): Promise<T> {
    const limit = this.deadlineMs(cache);
    if (limit === 0) return call;
    const ms = writes ? limit + (cache.backend.capabilities?.writeSpacingMs ?? 0) : limit;
    const breaker = breakerFor(cache.backend);
    const atDeadline = (): never => {
      const breakMs = breaker.timedOut(this.options.now(), this.options.circuitBreakMs);
      const left = breakMs > 0 ? ` again: page caching leaves it alone for ${breakMs} ms` : "";
      throw new BackendTimeoutError(`the ${cache.backend.name} backend took longer than ${ms} ms${left}`);
    };
    // A time limit that ran out first, the cache's own (createCache's timeoutMs) or the adapter's,
    // counts as well. A store the adapter refused at once (it knows the store is down) tells
    // nothing of the store's speed: it neither counts nor closes the breaker.
    const inTime = (error: unknown): void => {
      if (error instanceof BackendTimeoutError) breaker.timedOut(this.options.now(), this.options.circuitBreakMs);
      else if (!(error instanceof BackendUnavailableError)) breaker.answered();
    };
    return withDeadline(call, ms, atDeadline, inTime);
  }
}
