/**
 * Tiered backend: a near store (this isolate's or process's memory) in front of a far one, the
 * store of record that every isolate shares (Workers KV, memcached, Upstash). Reads try the near
 * tier first and keep what they find in the far one near for `nearTimeout` seconds (never past its
 * expiry there, read with it through `getWithTtl`), so a hot key costs the far store one read per
 * isolate per `nearTimeout` instead of one per request: on KV that is latency and billed reads
 * saved, on memcached or Upstash a round trip.
 *
 * - Writes and deletes go to the far tier first, then to the near one, so this backend never
 *   answers with a value it failed to store. `add` and `incr` keep the far tier's atomicity; the
 *   near copy is dropped rather than guessed.
 * - Without a bus, nothing tells other isolates about a change: they may keep answering with
 *   their near copy for up to `nearTimeout`. Keep it short (default 5 s), or keep keys that must
 *   never be stale in another cache. With `bus` (see `tiered/bus.ts`), every change made through
 *   a tiered backend drops the others' near copies of its keys as soon as they hear of it.
 *   Expiry itself is exact: no copy outlives its far entry.
 * - `getWithTtl` is answered from a near copy as well (what `getOrSet`'s `refreshAhead` reads),
 *   where the near store hands back the bytes it was given (`memory()`); elsewhere it reads far.
 * - Page caching reads pages whole through the near tier (there are no streams), and stored pages
 *   carry their own freshness, so a page kept near turns stale on time.
 */
import { checkFunction, describe, nonNegative } from "../src/arguments.ts";
import type { Backend, BackendTtl } from "../src/backend.ts";
import { entryWithTtl } from "../src/backend-fallbacks.ts";
import { BackendUnavailableError } from "../src/errors.ts";
import { harmless } from "../src/hooks.ts";
import type { Invalidation, InvalidationBus } from "./tiered/bus.ts";
import { FarReads } from "./tiered/far-reads.ts";

export { broadcastBus, busOver, type BusMember, type Invalidation, type InvalidationBus, type Transport } from "./tiered/bus.ts";

/**
 * Options for `tiered()`.
 *
 * @example
 * const options: TieredOptions = { near: memory({ maxEntries: 1000 }), far: workersKv(env.PAGES), nearTimeout: 2 };
 */
export interface TieredOptions {
  /** The tier read first: an in-isolate store, usually `memory()`. */
  near: Backend;
  /** The store of record, shared by every isolate or process. */
  far: Backend;
  /**
   * The longest an entry stays in the near tier, in seconds: how long this isolate may answer
   * with a value that another isolate has since changed or deleted in the far tier. Default 5.
   */
  nearTimeout?: number;
  /**
   * Where this backend tells the others sharing `far` which keys it changed, and hears theirs:
   * each drops its near copies of them at once rather than up to `nearTimeout` later. Only keys
   * travel. `broadcastBus(name)` for threads of a process and Deno Deploy's isolates; anything
   * with `join` for other transports. A bus that fails changes nothing but that: `nearTimeout`
   * still bounds how stale a near copy can be. Default: none.
   */
  bus?: InvalidationBus;
  /**
   * Hears which tier answered each key this backend read (`get`, `getMany`, `getWithTtl`, `has`),
   * for the near tier's hit ratio beside `createCache`'s `onRead`: a near copy (`tier: "near"`,
   * always a hit) or a far read (`tier: "far"`, a hit or not). Keys as the backend sees them
   * (prefixed and versioned). A hook that throws, or returns a promise that rejects, changes nothing. Default: none.
   */
  onRead?: (read: TieredRead) => void;
}

/**
 * What one read of a tiered backend found, and where (see `TieredOptions.onRead`).
 *
 * @example
 * const onRead = ({ tier, hit }: TieredRead) => metrics.increment(`cache.${hit ? tier : "miss"}`);
 */
export interface TieredRead {
  key: string;
  tier: "near" | "far";
  hit: boolean;
}

/**
 * A backend that keeps what it reads from `far` in `near` for a few seconds.
 *
 * @example
 * import { createCache } from "edgecache";
 * import { memory } from "edgecache/adapters/memory";
 * import { tiered } from "edgecache/adapters/tiered";
 * import { workersKv } from "edgecache/adapters/workers-kv";
 *
 * const cache = createCache({ backend: tiered({ near: memory({ maxEntries: 1000 }), far: workersKv(env.PAGES) }) });
 */
export function tiered(options: TieredOptions): Backend {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  const { near, far } = options;
  for (const [name, backend] of [["near", near], ["far", far]] as const) {
    if (typeof (backend as Partial<Backend> | null)?.get !== "function" || typeof backend.set !== "function" || typeof backend.delete !== "function") {
      throw new TypeError(`options.${name} must be a backend (get, set and delete), got ${describe(backend)}`);
    }
  }
  const nearTimeout = nonNegative(options.nearTimeout ?? 5, "options.nearTimeout");
  if (options.onRead !== undefined) checkFunction(options.onRead, "options.onRead");
  const onRead = options.onRead && harmless(options.onRead);
  /** Tell `onRead` where a read of `key` was answered (nothing it does changes the read: see `harmless`). */
  const heard = (key: string, tier: TieredRead["tier"], hit: boolean): void => onRead?.({ key, tier, hit });
  /** A far read of `key` as `onRead` hears it. */
  const fromFar = <T>(key: string, found: T | undefined): T | undefined => {
    if (onRead) heard(key, "far", found !== undefined);
    return found;
  };
  const bus = options.bus;
  if (bus !== undefined && typeof (bus as Partial<InvalidationBus> | null)?.join !== "function") {
    throw new TypeError(`options.bus must be an invalidation bus (with join), such as broadcastBus(), got ${describe(bus)}`);
  }
  /** Far reads under way: one whose key the bus spoke of while it ran keeps nothing near (it may be the old value). */
  const farReads = new FarReads();
  const member = bus?.join((message: Invalidation) => {
    farReads.hear(message);
    if ("all" in message) void Promise.resolve(near.clear?.()).catch(() => {});
    else void forget(message.keys).catch(() => {});
  });
  /**
   * Make a change to the far tier that `message` describes. Far reads of its keys under way, or
   * begun while it runs, keep nothing near (what they read may be the value being replaced), as
   * when another process's change is heard on the bus: the bus does not bring a backend its own.
   */
  const changeFar = async <T>(message: Invalidation, change: () => Promise<T>): Promise<T> => {
    farReads.hear(message);
    try {
      return await change();
    } finally {
      farReads.hear(message);
    }
  };
  /**
   * `call` over the far tier, and for each of `keys`, whether the bus was quiet about it while the
   * call ran: if another process changed it meanwhile, what the call read or wrote there may
   * already be the older value, and must not be kept near.
   */
  const watching = async <T>(keys: readonly string[], call: () => Promise<T>): Promise<[T, boolean[]]> => {
    const starts = keys.map((key) => farReads.begin(key));
    const settled = await call().then((value) => ({ value }), (error: unknown) => ({ error }));
    const quiet = keys.map((key, n) => farReads.end(key, starts[n]!));
    if ("error" in settled) throw settled.error;
    return [settled.value, quiet];
  };
  /** Tell the bus which keys this backend changed in the far tier; a failing bus is left to `nearTimeout`. */
  const announce = (message: Invalidation): void => {
    try {
      member?.publish(message);
    } catch {
      // The others' near copies then last until nearTimeout, as without a bus.
    }
  };
  /** How much before its TTL a far entry may go (see `ttlGranularityMs`), in seconds. */
  const farEarly = (far.capabilities?.ttlGranularityMs ?? 0) / 1000;
  /** A TTL for the near copy of an entry that lives `ttl` in the far tier (0: none is kept). */
  const nearTtl = (ttl: BackendTtl): number => (ttl === null ? nearTimeout : Math.max(0, Math.min(ttl - farEarly, nearTimeout)));
  /**
   * How much longer than its near copy each value kept near lives in the far tier, in seconds
   * (`null`: for ever there), by the bytes kept near: both count down together, so a near copy's
   * own TTL plus this is the far one (see `getWithTtl`), with no clock of this backend's own.
   */
  const farLonger = new WeakMap<Uint8Array, number | null>();
  /**
   * Keep a copy of `value` near. A near store that refuses it with a `BackendUnavailableError` (a
   * value over memory's `maxBytes`) keeps none, and drops its older one: the far tier has it, and
   * the read or write that brought it has not failed. Any other failure of the near store fails
   * the call, as before: its near copies could no longer be trusted.
   */
  const keepNear = async (key: string, value: Uint8Array, ttl: BackendTtl): Promise<void> => {
    if (nearTimeout === 0) return;
    const kept = nearTtl(ttl);
    if (kept === 0) return void (await near.delete(key)); // the far entry may go at any moment
    farLonger.set(value, ttl === null ? null : ttl - kept);
    try {
      await near.set(key, value, kept);
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error; // a near store that is broken, not one that refused this value
      await near.delete(key); // whatever it held for the key is older
    }
  };
  /**
   * The far tier's value for `key`, kept near for no longer than it has left there: read with its
   * remaining TTL (`getWithTtl`, one read), else beside it (`get` and `ttl`). A far store that can
   * tell no TTL is read and never kept near.
   */
  const farTtl = far.ttl?.bind(far);
  const farEntry = entryWithTtl(far);
  const readFarEntry = async (key: string, read: NonNullable<typeof farEntry>) => {
    const [entry, [quiet]] = await watching([key], () => read(key));
    if (entry !== undefined && quiet) await keepNear(key, entry.value, entry.ttl);
    return entry;
  };
  const readFar = async (key: string): Promise<Uint8Array | undefined> =>
    !farEntry || nearTimeout === 0 ? far.get(key) : (await readFarEntry(key, farEntry))?.value;
  const forget = (keys: readonly string[]): Promise<unknown> =>
    near.deleteMany ? near.deleteMany(keys) : Promise.all(keys.map((key) => near.delete(key)));

  const backend: Backend = {
    name: `tiered(${near.name}, ${far.name})`,
    capabilities: {
      atomicAdd: far.capabilities?.atomicAdd ?? false,
      atomicIncrement: far.capabilities?.atomicIncrement ?? false,
      consistent: false,
      shared: far.capabilities?.shared ?? false,
      local: far.capabilities?.local ?? false,
      writeSpacingMs: far.capabilities?.writeSpacingMs ?? 0,
      ttlGranularityMs: far.capabilities?.ttlGranularityMs ?? 0,
    },

    async get(key) {
      const kept = await near.get(key);
      if (kept === undefined) return fromFar(key, await readFar(key));
      if (onRead) heard(key, "near", true);
      return kept;
    },

    async set(key, value, ttl) {
      let quiet: boolean;
      try {
        [, [quiet = false]] = await changeFar({ keys: [key] }, () => watching([key], () => far.set(key, value, ttl)));
      } catch (error) {
        await near.delete(key); // the far tier may hold neither value: read it again
        throw error;
      }
      announce({ keys: [key] });
      // Another process's write heard meanwhile may have landed after this one: read it again.
      await (quiet ? keepNear(key, value, ttl) : near.delete(key));
    },

    async delete(key) {
      let existed: boolean;
      try {
        existed = await changeFar({ keys: [key] }, () => far.delete(key));
      } finally {
        await near.delete(key); // once the far one is gone, or a read meanwhile may have kept it near
      }
      announce({ keys: [key] });
      return existed;
    },

    async close() {
      await member?.leave(); // its last changes announced first: the others must drop their copies
      await Promise.all([near.close?.(), far.close?.()]);
    },
  };

  // The optional operations mirror the far tier's, so that where it has none, EdgeCache's
  // fallbacks run over this backend (and its near tier) rather than over the far one alone.
  if (far.has) {
    const farHas = far.has.bind(far);
    backend.has = async (key) => {
      const kept = (await near.get(key)) !== undefined;
      const found = kept || (await farHas(key));
      if (onRead) heard(key, kept ? "near" : "far", found);
      return found;
    };
  }
  if (far.add) {
    const farAdd = far.add.bind(far);
    backend.add = async (key, value, ttl) => {
      const [added, [quiet]] = await changeFar({ keys: [key] }, () => watching([key], () => farAdd(key, value, ttl)));
      if (added) announce({ keys: [key] });
      if (added && quiet) await keepNear(key, value, ttl); // as set does
      else await near.delete(key); // whatever the far tier holds is read from it next time
      return added;
    };
  }
  if (far.increment) {
    const farIncrement = far.increment.bind(far);
    backend.increment = async (key, delta) => {
      const value = await changeFar({ keys: [key] }, () => farIncrement(key, delta));
      announce({ keys: [key] });
      await near.delete(key);
      return value;
    };
  }
  if (far.ttl) backend.ttl = far.ttl.bind(far);
  const nearEntry = near.getWithTtl?.bind(near);
  if (farEntry) {
    /**
     * A value and its time left in the far tier: from the near copy where there is one (its own
     * TTL plus `farLonger`, which needs a near store that hands back the bytes it was given, as
     * `memory()` does), else one far read, kept near as `get` keeps it.
     */
    backend.getWithTtl = async (key) => {
      const kept = nearEntry && (await nearEntry(key));
      const longer = kept && farLonger.get(kept.value);
      if (kept && longer !== undefined) {
        if (onRead) heard(key, "near", true);
        return { value: kept.value, ttl: longer === null || kept.ttl === null ? null : kept.ttl + longer };
      }
      return fromFar(key, await readFarEntry(key, farEntry));
    };
  }
  if (far.getMany) {
    const farGetMany = far.getMany.bind(far);
    /**
     * Several far values, each kept near as `readFar` keeps one: through `getWithTtl`, one read
     * per key (a `getMany` beside it would read each twice); otherwise one `getMany`, with the
     * TTLs read beside it.
     */
    const readManyFar = async (keys: readonly string[]): Promise<Array<Uint8Array | undefined>> => {
      if (far.getWithTtl && nearTimeout > 0) return Promise.all(keys.map(readFar));
      const [[found, ttls], quiet] = await watching(keys, () => Promise.all([
        farGetMany(keys),
        farTtl && nearTimeout > 0 ? Promise.all(keys.map((key) => farTtl(key))) : [],
      ]));
      await Promise.all(keys.map(async (key, n) => {
        const value = found[n];
        const ttl = ttls[n];
        if (value !== undefined && ttl !== undefined && quiet[n]) await keepNear(key, value, ttl);
      }));
      return found;
    };
    backend.getMany = async (keys) => {
      const values = await Promise.all(keys.map((key) => near.get(key)));
      if (onRead) keys.forEach((key, i) => values[i] !== undefined && heard(key, "near", true));
      const missing = keys.flatMap((_, i) => (values[i] === undefined ? [i] : []));
      if (missing.length === 0) return values;
      const found = await readManyFar(missing.map((i) => keys[i]!));
      missing.forEach((i, n) => (values[i] = fromFar(keys[i]!, found[n])));
      return values;
    };
  }
  if (far.setMany) {
    const farSetMany = far.setMany.bind(far);
    backend.setMany = async (entries, ttl) => {
      const keys = entries.map(([key]) => key);
      let failed: string[];
      let quiet: boolean[];
      try {
        [failed, quiet] = await changeFar({ keys }, () => watching(keys, () => farSetMany(entries, ttl)));
      } catch (error) {
        await forget(keys); // the far tier may hold the old values or the new: read them again (as set does)
        throw error;
      }
      const refused = new Set(failed);
      announce({ keys });
      // Kept near: those stored, unless another process changed them meanwhile (as set does).
      const kept = entries.filter(([key], n) => !refused.has(key) && quiet[n]);
      const keptKeys = new Set(kept.map(([key]) => key));
      await forget(keys.filter((key) => !keptKeys.has(key)));
      await Promise.all(kept.map(([key, value]) => keepNear(key, value, ttl)));
      return failed;
    };
  }
  if (far.deleteMany) {
    const farDeleteMany = far.deleteMany.bind(far);
    backend.deleteMany = async (keys) => {
      try {
        await changeFar({ keys }, () => farDeleteMany(keys));
      } finally {
        await forget(keys); // once the far ones are gone (see delete)
      }
      announce({ keys });
    };
  }
  if (far.touch) {
    const farTouch = far.touch.bind(far);
    backend.touch = async (key, ttl) => {
      const touched = await changeFar({ keys: [key] }, () => farTouch(key, ttl));
      announce({ keys: [key] });
      await near.delete(key); // its near copy may outlive the new TTL: read it again
      return touched;
    };
  }
  if (far.clear) {
    const farClear = far.clear.bind(far);
    backend.clear = async () => {
      try {
        await changeFar({ all: true }, () => farClear());
      } finally {
        // A far clear that failed may have removed some of it (Upstash's scans part of the keys,
        // then runs out of time): every near copy goes, here and elsewhere, as for a whole one.
        announce({ all: true });
        await near.clear?.();
      }
    };
  }
  if (far.validateKey) backend.validateKey = far.validateKey.bind(far);
  return backend;
}
