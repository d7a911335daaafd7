/**
 * Store-wide locks for single-flight across processes: on a store shared between processes that
 * has an atomic add (memcached, Redis), the first process to miss takes a lock entry with `add`,
 * and the others poll for what it stores. Page caching (`page/fills.ts`) and `getOrSet` use them.
 * Stores without an atomic add (Workers KV, the Cache API) and in-isolate stores do without.
 */
import type { Backend } from "./backend.ts";
import { encodeCounter } from "./codec.ts";

/**
 * `collapseMs`'s default, for `getOrSet` and page caching alike: how long a miss waits for the
 * computation or render already under way, in this isolate or (with a lock) another process,
 * before it does its own.
 *
 * @example
 * const collapseMs = options.collapseMs ?? DEFAULT_COLLAPSE_MS;
 */
export const DEFAULT_COLLAPSE_MS = 5000;

/** The value of a lock entry (any value would do; a counter is the smallest). */
const LOCKED = encodeCounter(1);

/**
 * Whether `backend` can hold a store-wide lock: shared beyond this isolate, with an atomic add.
 *
 * @example
 * if (sharesLocks(cache.backend) && !(await takeLock(cache.backend, lockKey, 5000))) await waitForIt();
 */
export function sharesLocks(backend: Backend): boolean {
  const { capabilities, add } = backend;
  return capabilities?.shared === true && capabilities.atomicAdd === true && typeof add === "function";
}

/**
 * How much longer than a lock may live the processes waiting on it keep looking: when its holder
 * died, the first to find it gone takes over, and the others wait that much longer for its value
 * rather than all computing at once.
 */
const TAKEOVER_GRACE_MS = 1000;

/**
 * Take the lock entry under `key` (a made key) for `ms` milliseconds (at least a second, so a
 * holder that dies frees it soon), or up to the store's `ttlGranularityMs` longer: a store that
 * counts expiry in whole seconds (memcached) may end an entry that much early, and the lock must
 * last the whole wait. `true` when this caller took it. Store failures reject.
 *
 * @example
 * const mine = await takeLock(cache.backend, cache.makeKey("lock.report"), 5000);
 */
export function takeLock(backend: Backend, key: string, ms: number): Promise<boolean> {
  return backend.add!(key, LOCKED, Math.max(1, (ms + (backend.capabilities?.ttlGranularityMs ?? 0)) / 1000));
}

/**
 * How long a process waits on another's lock taken for `ms` (see `takeLock`): as long as the lock
 * may live, and `TAKEOVER_GRACE_MS` more.
 *
 * @example
 * const nextPoll = pollsFor(lockWaitMs(backend, 5000)); // 7000 on memcached, 6000 on Redis
 */
export function lockWaitMs(backend: Backend, ms: number): number {
  return ms + (backend.capabilities?.ttlGranularityMs ?? 0) + TAKEOVER_GRACE_MS;
}

/**
 * How long a process waiting on another's lock pauses before its look number `attempt` (from 0):
 * 10 ms doubling to 200 ms, each drawn between half and all of that, so processes that missed
 * together do not poll the store in step.
 *
 * @example
 * pollPause(0); // 5 to 10 ms
 * pollPause(9); // 100 to 200 ms
 */
export function pollPause(attempt: number, random: () => number = Math.random): number {
  return Math.min(10 * 2 ** attempt, 200) * (0.5 + random() / 2);
}

/**
 * The polls of a wait on another process's lock that lasts at most `ms` of real time, the store's
 * own answers included (a slow store must not stretch the wait): each call pauses (see
 * `pollPause`) and resolves `true`, or resolves `false` at once when the time is up.
 *
 * @example
 * const nextPoll = pollsFor(5000);
 * while (!(await takeLock(backend, key, 5000)) && (await nextPoll())) if (await lookAgain()) return;
 */
export function pollsFor(ms: number): () => Promise<boolean> {
  const start = performance.now();
  let attempt = 0;
  return async () => {
    const left = ms - (performance.now() - start);
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, pollPause(attempt++))));
    return true;
  };
}
