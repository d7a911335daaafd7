/**
 * `getOrSet`'s computations: a miss computed once per isolate, and once per store where the store
 * can lock (the first process to miss takes `lock.<key>` and the others poll for its value); a
 * stale copy kept beside the value (`staleIfError`) and answered when the computation fails or
 * runs long (`softTimeoutMs`); a value replaced in the background before it expires
 * (`refreshAhead`); and no computation for a while after one failed (`errorBackoffMs`).
 * `cache.ts` reads the value and decides; this module computes and stores.
 */
import { ErrorBackoff } from "./backoff.ts";
import type { BackendTtl } from "./backend.ts";
import type { CompleteBackend } from "./backend-fallbacks.ts";
import { withDeadline } from "./deadline.ts";
import { DEFAULT_COLLAPSE_MS, lockWaitMs, pollsFor, takeLock } from "./locks.ts";

/**
 * What the computations need of their cache: its store (with the generic fallbacks), its reads
 * (decoded, failures handled as its reads handle them), its `ignoreErrors` handling, where to
 * report what fails without failing the call, its clock, and where its purges of tags stand.
 *
 * @example
 * const fills = new Fills({ store, identity, mode: { serializer, ignoreErrors }, read, attempt, report: (error) => onError?.(error, "getOrSet"), now: Date.now, purgeMark: () => tagPurgeMark(cache) });
 */
export interface FillHost {
  readonly store: CompleteBackend;
  /** The store's identity (see `Backend.identity`): failed computations are remembered per identity and made key. */
  readonly identity: object;
  /**
   * How the cache stores and reads what it computes: its serializer and whether it ignores store
   * errors. Caches over one store share computations only when these are the same, so each gets
   * a value, or an error, as it would have on its own.
   */
  readonly mode: { serializer: object; ignoreErrors: boolean };
  /** The clock of the error backoff, in ms. */
  now(): number;
  /** Where this isolate's purges of tags on the store stand (see `tagPurgeMark`): a value computed since another purge may be ended. */
  purgeMark(): number;
  /**
   * The value under a made key, boxed (a stored `null` alike); `undefined` when missing, or when
   * a soft purge of its tags made it stale, unless `staleToo` (a stale copy's read); `"ended"`
   * when the entry there is one a purge of its tags ended.
   */
  read(made: string, staleToo: boolean): Promise<{ value: unknown } | "ended" | undefined>;
  /** Run a store call; with the cache's `ignoreErrors`, a failure is reported and `otherwise` returned. */
  attempt<T>(operation: string, call: () => Promise<T>, otherwise: T): Promise<T>;
  report(error: unknown): void;
  /**
   * What a caller that shares another's computation gets: a copy of the value, as a read of the
   * store would give it, so that one caller changing what it got never changes another's (the
   * value itself where it cannot be stored). `computation` (one per computation) scopes the work
   * its callers share: the value is encoded once for all of them.
   */
  copy<T>(value: T, computation: object): T;
}

/**
 * What one `getOrSet` miss or refresh computes and stores, and where its lock and stale copy live.
 *
 * @example
 * const plan: FillPlan<Report> = { made: ":1:report", value: buildReport, entry, lock: ":1:lock.report", collapseMs: 5000, staleCopy: undefined, errorBackoffMs: 5000 };
 */
export interface FillPlan<T> {
  made: string;
  value: T | (() => T | Promise<T>);
  /**
   * The entry that stores a computed value (filed under its tags, where it has any) and its
   * backend TTL, 0 keeping nothing (the value is returned, never stored); `undefined`: not to be
   * stored (its tags or timeout could not be had, which was reported).
   */
  entry(value: T): Promise<{ bytes: Uint8Array; ttl: BackendTtl } | undefined>;
  /** The lock entry's key, where the store can lock (see `collapseMs`). */
  lock: string | undefined;
  collapseMs: number;
  /** Where the stale copy goes, and how many seconds it outlives the value (see `staleIfError`). */
  staleCopy: { key: string; staleIfError: number } | undefined;
  /** How long a failed computation keeps the next ones from running (see `errorBackoffMs`). */
  errorBackoffMs: number;
  /** Whether the value is filed under tags, which a purge may end while it is computed. */
  tagged: boolean;
}

/**
 * The values whose computation failed lately, by store identity and made key: shared by every
 * cache over the store in this isolate (Workers' per-request caches included).
 */
const failedLately = new ErrorBackoff(0);


/** A computation under way in this isolate, which calls for the same key share. */
interface Filling {
  /** The value being computed (raced with the computations it took over from). */
  work: Promise<unknown>;
  /** What callers get: `work`, or with `softTimeoutMs`, the stale copy once it has run that long. */
  value: Promise<unknown>;
  /** The purge mark of tags when it began, for a tagged value. */
  purgeMark: number | undefined;
  /** `performance.now()` when it began. */
  began: number;
  /** How many computations before it took too long (see `join`). */
  takeovers: number;
}

/**
 * `own`, or sooner `other`'s value if it comes first: `other` (an overdue computation) can only
 * win, never hold `own`'s callers up, so `own` failing fails them, whatever `other` is doing.
 */
function orSooner<T>(own: Promise<T>, other: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    other.then(resolve, () => {});
    own.then(resolve, reject);
  });
}

/** Carries work that goes on after `getOrSet` has answered (Workers' `ctx.waitUntil`). */
type WaitUntil = ((promise: Promise<unknown>) => void) | undefined;

/** What is being computed in this isolate, per store: caches made per request over one store share it. */
interface UnderWay {
  /** The computations under way, by made key, with where purges stood when a tagged one began. */
  filling: Map<string, Filling>;
  /** The background recomputations under way (see `refresh`), by made key, with when each began. */
  refreshing: Map<string, { began: number }>;
}

/** What is under way, by store identity, serializer, and `ignoreErrors`. */
const underWay = new WeakMap<object, WeakMap<object, Map<boolean, UnderWay>>>();

function sharedWith({ identity, mode }: FillHost): UnderWay {
  let bySerializer = underWay.get(identity);
  if (!bySerializer) underWay.set(identity, (bySerializer = new WeakMap()));
  let byMode = bySerializer.get(mode.serializer);
  if (!byMode) bySerializer.set(mode.serializer, (byMode = new Map()));
  let shared = byMode.get(mode.ignoreErrors);
  if (!shared) byMode.set(mode.ignoreErrors, (shared = { filling: new Map(), refreshing: new Map() }));
  return shared;
}

/**
 * One cache's computations in this isolate: the misses being filled and the values being
 * refreshed, by made key, shared with every cache over the same store (its `identity`) that
 * stores and reads as it does (see `FillHost.mode`).
 *
 * @example
 * const value = await fills.fill(plan, undefined, undefined);
 */
export class Fills {
  private readonly host: FillHost;
  private readonly filling: Map<string, Filling>;
  private readonly refreshing: Map<string, { began: number }>;

  constructor(host: FillHost) {
    this.host = host;
    ({ filling: this.filling, refreshing: this.refreshing } = sharedWith(host));
  }

  /**
   * The value for a miss: computed here (by one process at a time where `plan.lock` is set), or
   * shared with the call already computing it in this isolate. With `softTimeoutMs`, the stale
   * copy once the work has run that long, the work going on behind the caller.
   */
  fill<T>(plan: FillPlan<T>, softTimeoutMs: number | undefined, waitUntil: WaitUntil): Promise<T> {
    // Callers that come while the work goes on share it, or the stale copy it was answered with;
    // not one of tagged values begun before a purge of tags here: it may be computing purged data.
    const under = this.filling.get(plan.made);
    if (under && (under.purgeMark === undefined || under.purgeMark === this.host.purgeMark())) return this.join(plan, under, softTimeoutMs, waitUntil);
    return this.begin(plan, softTimeoutMs, waitUntil);
  }

  /**
   * Share the computation `under` way. On Workers it may belong to a request that has ended (a
   * client that went away), whose work is dropped and never finishes; so once it has run for
   * `collapseMs` (the default when 0), the first caller still waiting computes the value too, and
   * from then on every caller gets that value, or the overdue one's if it comes first. A takeover
   * may be taken over in turn, after twice as long each time: a computation merely slow costs a
   * few more, not one per caller.
   */
  private join<T>(plan: FillPlan<T>, under: Filling, softTimeoutMs: number | undefined, waitUntil: WaitUntil): Promise<T> {
    const patience = (plan.collapseMs || DEFAULT_COLLAPSE_MS) * 2 ** under.takeovers;
    const shared = (under.value as Promise<T>).then((value) => this.host.copy(value, under));
    return withDeadline(shared, Math.max(0, under.began + patience - performance.now()), () =>
      this.filling.get(plan.made) === under
        ? this.begin(plan, softTimeoutMs, waitUntil, under)
        : this.fill(plan, softTimeoutMs, waitUntil)); // another caller took it over: share theirs
  }

  /**
   * Compute the value (or answer it stale: see `fill`), the calls that come meanwhile sharing it;
   * taking over from `overdue`, its value if it comes first (see `orSooner`).
   */
  private begin<T>(plan: FillPlan<T>, softTimeoutMs: number | undefined, waitUntil: WaitUntil, overdue?: Filling): Promise<T> {
    const purgeMark = overdue ? overdue.purgeMark : plan.tagged ? this.host.purgeMark() : undefined;
    const computed = this.backingOff(plan) ? this.staleOrCompute(plan, plan.staleCopy.key) : overdue ? this.storedOrCompute(plan) : this.compute(plan);
    const work = overdue ? orSooner(computed, (overdue.work as Promise<T>).then((value) => this.host.copy(value, overdue))) : computed;
    const filling: Filling = { work, value: work, purgeMark, began: performance.now(), takeovers: overdue ? overdue.takeovers + 1 : 0 };
    const done = (): void => {
      if (this.filling.get(plan.made) === filling) this.filling.delete(plan.made);
    };
    work.then(done, done); // once answered, by either: the value is in the store, and later misses compute anew
    this.filling.set(plan.made, filling);
    if (softTimeoutMs === undefined || !plan.staleCopy) return work;
    const answered = this.staleIfSlow(work, plan.staleCopy.key, softTimeoutMs, waitUntil);
    filling.value = answered.then(({ value }) => value);
    filling.value.catch(() => {}); // its failure is this caller's (below) and each joiner's, not unhandled when none joins
    // A stale answer stays shared while the work goes on: callers that come later copy it (see
    // `join`), so this caller gets a copy too, and changing it never changes theirs.
    return answered.then(({ value, stale }) => (stale ? this.host.copy(value, filling) : value));
  }

  /**
   * Recompute a value found past its `refreshAhead` share of life, in the background, and replace
   * it: once in this isolate, and where the store locks, only if no other process is at it or has
   * just done it (`stillDue` is asked once the lock is held).
   */
  refresh<T>(plan: FillPlan<T>, waitUntil: WaitUntil, stillDue: () => Promise<boolean>): void {
    const now = this.host.now();
    // One under way longer than collapseMs may never end (its request ended, on Workers): it no longer counts.
    const under = this.refreshing.get(plan.made);
    if ((under !== undefined && now - under.began < (plan.collapseMs || DEFAULT_COLLAPSE_MS)) || (plan.errorBackoffMs > 0 && failedLately.holds(this.host.identity, plan.made, now))) return;
    const mine = { began: now };
    this.refreshing.set(plan.made, mine);
    const refresh = (async () => {
      const held = plan.lock ? await this.tryLock(plan.lock, plan.collapseMs) : undefined;
      if (held === false) return; // another process is refreshing it
      try {
        if (held && !(await stillDue())) return; // another process refreshed it and let go since it was read
        const entry = await plan.entry(await compute(plan.value));
        if (entry && entry.ttl !== 0) await this.keep(plan, entry, "replace");
      } finally {
        if (held) await this.unlock(plan.lock!);
      }
    })()
      .catch((error: unknown) => {
        failedLately.failed(this.host.identity, plan.made, this.host.now(), plan.errorBackoffMs);
        this.host.report(error);
      })
      .finally(() => {
        if (this.refreshing.get(plan.made) === mine) this.refreshing.delete(plan.made);
      });
    waitUntil?.(refresh);
  }

  /** The computation of a miss: by one process at a time where the store locks. */
  private compute<T>(plan: FillPlan<T>): Promise<T> {
    return plan.lock ? this.fillAlone(plan, plan.lock) : this.computeAndAdd(plan);
  }

  /** Whether a computation of the value failed within `errorBackoffMs`, and a stale copy may stand in. */
  private backingOff<T>(plan: FillPlan<T>): plan is FillPlan<T> & { staleCopy: NonNullable<FillPlan<T>["staleCopy"]> } {
    return plan.staleCopy !== undefined && plan.errorBackoffMs > 0 && failedLately.holds(this.host.identity, plan.made, this.host.now());
  }

  /**
   * For a takeover: the value in the store, if the overdue computation stored it (its answer may
   * never reach this request: on Workers, a promise of a request that ended never settles), or
   * the computation.
   */
  private async storedOrCompute<T>(plan: FillPlan<T>): Promise<T> {
    const found = await this.host.read(plan.made, false).catch(() => undefined);
    return isValue(found) ? (found.value as T) : this.compute(plan);
  }

  /** While backing off: the stale copy under `copy`, or the computation where there is none. */
  private async staleOrCompute<T>(plan: FillPlan<T>, copy: string): Promise<T> {
    const stale = await this.host.read(copy, true).catch(() => undefined);
    return isValue(stale) ? (stale.value as T) : this.compute(plan);
  }

  /**
   * `work`'s value, or once it has run for `ms`, the stale copy under `copy` where there is one
   * (`stale`), `work` going on in the background (given to `waitUntil`; a failure reported).
   */
  private async staleIfSlow<T>(work: Promise<T>, copy: string, ms: number, waitUntil: WaitUntil): Promise<{ value: T; stale: boolean }> {
    const SLOW = Symbol("slow");
    const first = await withDeadline<T | typeof SLOW>(work, ms, () => SLOW);
    if (first !== SLOW) return { value: first, stale: false };
    const stale = await this.host.read(copy, true).catch(() => undefined);
    if (!isValue(stale)) return { value: await work, stale: false };
    // Reported with or without a waitUntil to carry it (Node, Deno and Bun have none).
    const behind = work.catch((error: unknown) => this.host.report(error));
    waitUntil?.(behind);
    return { value: stale.value as T, stale: true };
  }

  /**
   * `computeAndAdd`, by one process at a time: take the lock entry `lock`, or else poll for the
   * value of the process that holds it until it is stored, or the lock goes without it (then take
   * over), or `collapseMs` has passed. A lock the store fails to take or free is reported and goes
   * without.
   */
  private async fillAlone<T>(plan: FillPlan<T>, lock: string): Promise<T> {
    let held = await this.tryLock(lock, plan.collapseMs);
    const nextPoll = pollsFor(lockWaitMs(this.host.store, plan.collapseMs));
    while (held === false && (await nextPoll())) {
      const found = await this.host.read(plan.made, false);
      if (isValue(found)) return found.value as T;
      held = await this.tryLock(lock, plan.collapseMs);
    }
    if (held === true) {
      // The holder may have stored its value and let go of its lock between the last read (the
      // caller's miss, or a poll's) and this claim: read once more before computing it a second time
      // (a read that fails counts as a miss: the lock is held, and must be freed below).
      const found = await this.host.read(plan.made, false).catch(() => undefined);
      if (isValue(found)) {
        await this.unlock(lock);
        return found.value as T;
      }
    }
    try {
      return await this.computeAndAdd(plan);
    } finally {
      if (held) await this.unlock(lock);
    }
  }

  /**
   * Compute the value and add it (with its stale copy, where asked), returning the winner's value,
   * or replace an entry that is there but no value (one a purge of its tags ended); a factory that
   * throws gives the stale copy instead, when there is one.
   */
  private async computeAndAdd<T>(plan: FillPlan<T>): Promise<T> {
    let computed: T;
    try {
      computed = await compute(plan.value);
    } catch (error) {
      const stale = plan.staleCopy && (await this.host.read(plan.staleCopy.key, true).catch(() => undefined));
      if (!isValue(stale)) throw error;
      failedLately.failed(this.host.identity, plan.made, this.host.now(), plan.errorBackoffMs);
      this.host.report(error);
      return stale.value as T;
    }
    const entry = await plan.entry(computed);
    if (entry === undefined || entry.ttl === 0) return computed;
    if (await this.keep(plan, entry, "add")) return computed;
    // Another writer got there first: return its value, or ours when it has gone again, replacing an entry a purge ended.
    const winner = await this.host.read(plan.made, false);
    if (winner === "ended") await this.keep(plan, entry, "replace").catch((error: unknown) => this.host.report(error));
    return isValue(winner) ? (winner.value as T) : computed;
  }

  /**
   * Store a computed value, and its stale copy where asked: `add` it (whether it was added; a
   * failure to is reported under `ignoreErrors`) or `replace` the one there (failures reject).
   * A failure to store the copy is reported and changes nothing else.
   */
  private async keep({ made, staleCopy }: FillPlan<unknown>, { bytes, ttl }: { bytes: Uint8Array; ttl: BackendTtl }, how: "add" | "replace"): Promise<boolean> {
    const { store } = this.host;
    const [stored] = await Promise.all([
      how === "add" ? this.host.attempt("getOrSet", () => store.add(made, bytes, ttl), false) : store.set(made, bytes, ttl).then(() => true),
      // A value that never expires has no stale copy: it is never missed.
      staleCopy && ttl !== null && store.set(staleCopy.key, bytes, ttl + staleCopy.staleIfError).catch((error: unknown) => this.host.report(error)),
    ]);
    return stored;
  }

  /** `takeLock`, with a store failure reported and taken as "no lock" (`undefined`). */
  private async tryLock(lock: string, ms: number): Promise<boolean | undefined> {
    try {
      return await takeLock(this.host.store, lock, ms);
    } catch (error) {
      this.host.report(error);
      return undefined;
    }
  }

  /**
   * Free a lock entry this cache took (a failure reported). Waited for, though the waiters look
   * for the value first: a client closed once `getOrSet` has answered (a script's last call, a
   * Worker's per-request client) would drop it, and the others would wait out the lock's TTL.
   */
  private async unlock(lock: string): Promise<void> {
    await this.host.store.delete(lock).catch((error: unknown) => this.host.report(error));
  }
}

/** Whether a read found a value (not nothing, nor an entry a purge ended). */
function isValue(found: { value: unknown } | "ended" | undefined | false): found is { value: unknown } {
  return typeof found === "object";
}

/** A `getOrSet` value: itself, or what its factory returns. */
async function compute<T>(value: T | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? (value as () => T | Promise<T>)() : value;
}
