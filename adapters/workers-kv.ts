/**
 * Workers KV backend: a cache shared by every isolate and region of a Worker, over a
 * `KVNamespace` binding. KV's limits shape it:
 *
 * - Timeouts under 60 s work: KV refuses an `expirationTtl` below 60, so each entry carries its
 *   own expiry in its metadata, reads enforce it, and KV is told `max(60, timeout)`.
 * - Keys over KV's 512 bytes become `prefix + "h:" + sha256(key)`; shorter ones are stored as
 *   `prefix + "k:" + key`. Values over 25 MiB are refused with a BackendUnavailableError (page
 *   caching treats that as "not stored").
 * - KV allows one write per key per second: a second write of a key within the second waits
 *   for it (later writes coalesce into it), and reads in this isolate see the waiting value. A
 *   write KV refuses for another isolate's (429) is sent again a second later.
 * - KV is eventually consistent (up to 60 s between locations) and has no atomic operations:
 *   `add` and `incr` are best-effort read-modify-writes, and the capabilities say so.
 * - Streams: page caching writes a page's head and body separately; a head that fits KV's 1 KiB
 *   of metadata (base64) goes there and the body is the value, so a hit reads the value as a
 *   stream and the page streams through. A larger head is stored with the body, as a plain value.
 */
import { checkFunction, checkInteger, describe } from "../src/arguments.ts";
import { type Backend, identityNamed, type StreamedEntry } from "../src/backend.ts";
import { concatBytes, emptyStream, toBase64 } from "../src/bytes.ts";
import { BackendUnavailableError } from "../src/errors.ts";
import { type Entry, entryBackend, expiresAtFor, isLive } from "./cloudflare/entries.ts";
import { headBytes } from "./cloudflare/heads.ts";
import { boundedName, utf8Length } from "./cloudflare/keys.ts";
import { WriteThrottle } from "./workers-kv/throttle.ts";

/**
 * Options for `workersKv()`.
 *
 * @example
 * workersKv(env.CACHE_KV, { prefix: "pages:", cacheTtl: 60 });
 */
export interface WorkersKvOptions {
  /** Prepended to every KV key; `clear()` removes the keys under it and nothing else. Default `"edgecache:"`. */
  prefix?: string;
  /**
   * Seconds a KV location may keep serving a read from its own cache (KV's `cacheTtl`, at least
   * 30). Faster hits, but a write or delete made elsewhere can take this long to be seen.
   * Default: KV's own (60 s).
   */
  cacheTtl?: number;
  /** Clock in milliseconds for entry expiry, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * The part of a `KVNamespace` binding the backend uses; Workers' own `KVNamespace` fits it.
 *
 * @example
 * const binding: KvNamespaceLike = env.CACHE_KV;
 */
export interface KvNamespaceLike {
  getWithMetadata<M>(key: string, options: { type: "arrayBuffer"; cacheTtl?: number }): Promise<{ value: ArrayBuffer | null; metadata: M | null }>;
  getWithMetadata<M>(key: string, options: { type: "stream"; cacheTtl?: number }): Promise<{ value: ReadableStream<Uint8Array> | null; metadata: M | null }>;
  put(key: string, value: ArrayBufferView, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: { prefix: string; cursor?: string }): Promise<{ keys: ReadonlyArray<{ name: string }>; list_complete: boolean; cursor?: string }>;
}

/** KV's limits (developers.cloudflare.com/kv/platform/limits). */
const MAX_KEY_BYTES = 512;
const MAX_VALUE_BYTES = 25 * 2 ** 20;
const MIN_EXPIRATION_TTL = 60;
const MIN_CACHE_TTL = 30;
const WRITE_INTERVAL_MS = 1000;
/** How long a write may be held back by design: a second for this isolate's last write of the key, and another if KV refuses it for another isolate's. */
const WRITE_SPACING_MS = 2 * WRITE_INTERVAL_MS;
/** Room a hashed name needs after the prefix: "h:" and 64 hex digits. */
const HASHED_NAME_BYTES = 66;

/** KV's limit on an entry's metadata, as JSON. */
const MAX_METADATA_BYTES = 1024;

/** What KV keeps in an entry's metadata: its expiry, and for a streamed entry its head (base64) and body length. */
interface Metadata {
  expiresAt?: number;
  head?: string;
  bodyLength?: number;
}

/** An entry as it is written: a streamed one has a head kept in its metadata; the value is the body. */
interface KvEntry extends Entry {
  head?: Uint8Array;
}

/**
 * Whether KV refused a write because the key was written within the second (`KV PUT failed: 429
 * Too Many Requests`): by another isolate, which this one's throttle cannot see. The throttle sends
 * it once more a second later, so it lands last, as it would have a moment later (a delete must not
 * lose to a value written just before it); a second refusal fails the write.
 */
const refusedForAnotherIsolate = (error: unknown): boolean => /\b429\b/.test(error instanceof Error ? error.message : String(error));

/** One throttle per namespace binding in this isolate, shared by every backend over it. */
const throttles = new WeakMap<KvNamespaceLike, WriteThrottle<KvEntry>>();

/**
 * A backend over a Workers KV namespace. Create it once per isolate (at module scope with
 * `import { env } from "cloudflare:workers"`, or memoised per binding) so its write throttle sees
 * every write; backends over the same binding share one throttle in any case.
 *
 * @example
 * import { env } from "cloudflare:workers";
 * import { createCache, cachePage } from "edgecache";
 * import { workersKv } from "edgecache/adapters/workers-kv";
 *
 * const pages = createCache({ backend: workersKv(env.CACHE_KV, { prefix: "pages:" }) });
 * export default { fetch: cachePage(30, { cache: pages })(handler) };
 */
export function workersKv(namespace: KvNamespaceLike, options: WorkersKvOptions = {}): Backend {
  if (namespace === null || typeof namespace !== "object" || typeof namespace.getWithMetadata !== "function") {
    throw new TypeError(`namespace must be a KVNamespace binding, got ${describe(namespace)}`);
  }
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  const prefix = options.prefix ?? "edgecache:";
  if (typeof prefix !== "string" || utf8Length(prefix) > MAX_KEY_BYTES - HASHED_NAME_BYTES) {
    throw new TypeError(`options.prefix must be a string of at most ${MAX_KEY_BYTES - HASHED_NAME_BYTES} bytes, got ${describe(prefix)}`);
  }
  const { cacheTtl } = options;
  if (cacheTtl !== undefined) {
    checkInteger(cacheTtl, "options.cacheTtl");
    if (cacheTtl < MIN_CACHE_TTL) throw new TypeError(`options.cacheTtl must be at least ${MIN_CACHE_TTL} seconds, got ${cacheTtl}`);
  }
  const now = options.now ?? Date.now;
  checkFunction(now, "options.now");

  let throttle = throttles.get(namespace);
  if (!throttle) throttles.set(namespace, (throttle = new WriteThrottle(WRITE_INTERVAL_MS, refusedForAnotherIsolate)));
  const writes = throttle;
  const readOptions = cacheTtl === undefined ? { type: "arrayBuffer" as const } : { type: "arrayBuffer" as const, cacheTtl };
  const streamOptions = cacheTtl === undefined ? { type: "stream" as const } : { type: "stream" as const, cacheTtl };
  const nameBytes = MAX_KEY_BYTES - utf8Length(prefix);

  const remove = (location: string): Promise<void> =>
    writes.write(location, { entry: undefined, send: () => namespace.delete(location) });

  /** The KV key of `key`'s entry; without waiting for keys that need no hashing. */
  const locate = (key: string): string | Promise<string> => {
    const name = boundedName(key, nameBytes);
    return typeof name === "string" ? prefix + name : name.then((hashed) => prefix + hashed);
  };

  const save = async (location: string, entry: KvEntry): Promise<void> => {
    const { value, head, expiresAt } = entry;
    const size = value.byteLength + (head?.byteLength ?? 0);
    if (size > MAX_VALUE_BYTES) {
      throw new BackendUnavailableError(`Workers KV refuses values over 25 MiB: the value for ${location} is ${size} bytes`);
    }
    const metadata: Metadata = {};
    if (expiresAt !== null) metadata.expiresAt = expiresAt;
    if (head !== undefined) Object.assign(metadata, { head: toBase64(head), bodyLength: value.byteLength });
    await writes.write(location, {
      entry,
      send: () => {
        // KV counts the TTL from the start of the current second: one second more, or the entry could go before its expiry.
        const expiry = expiresAt === null ? {} : { expirationTtl: Math.max(MIN_EXPIRATION_TTL, Math.ceil((expiresAt - now()) / 1000) + 1) };
        return Object.keys(metadata).length === 0 ? namespace.put(location, value) : namespace.put(location, value, { ...expiry, metadata });
      },
    });
  };

  const backend = entryBackend({
    name: "workers-kv",
    capabilities: { atomicAdd: false, atomicIncrement: false, consistent: false, shared: true, local: false, writeSpacingMs: WRITE_SPACING_MS, ttlGranularityMs: 0 },
    now,
    locate,

    async load(location) {
      const waiting = writes.waiting(location);
      if (waiting) return waiting.entry && { value: joined(waiting.entry), expiresAt: waiting.entry.expiresAt };
      const { value, metadata } = await namespace.getWithMetadata<unknown>(location, readOptions);
      const own = value === null ? undefined : ownMetadata(metadata);
      if (own === undefined) return undefined;
      const body = new Uint8Array(value!);
      return { value: own.head === undefined ? body : concatBytes(own.head, body), expiresAt: own.expiresAt };
    },

    save,

    remove,

    /** Deletes every key under the prefix, a page of 1000 at a time: slow on big namespaces (see docs/cloudflare.md). */
    async clear() {
      // Handled now, reported once the listing is done: a failed one must not go unhandled meanwhile.
      const waiting = Promise.all(writes.waitingKeys().filter((location) => location.startsWith(prefix)).map(remove));
      waiting.catch(() => {});
      let cursor: string | undefined;
      do {
        const page = await namespace.list(cursor === undefined ? { prefix } : { prefix, cursor });
        await Promise.all(page.keys.map(({ name }) => remove(name)));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor !== undefined);
      await waiting;
    },

    /** Waits for the writes the one-write-per-second rule deferred. */
    close: () => writes.idle(),
  });

  return {
    ...backend,
    // Backends made per request over one binding and prefix share what the isolate learns.
    identity: identityNamed(`workers-kv ${prefix}`, namespace),
    streams: {
      async get(key): Promise<StreamedEntry | undefined> {
        const location = await locate(key);
        const waiting = writes.waiting(location);
        if (waiting) {
          const entry = waiting.entry;
          return entry && isLive(entry.expiresAt, now()) ? { head: entry.head ?? new Uint8Array(0), body: new Response(entry.value as Uint8Array<ArrayBuffer>).body!, length: joined(entry).byteLength } : undefined;
        }
        const { value, metadata } = await namespace.getWithMetadata<unknown>(location, streamOptions);
        if (value === null) return undefined;
        const own = ownMetadata(metadata);
        if (own === undefined || !isLive(own.expiresAt, now())) {
          await value.cancel();
          return undefined;
        }
        if (own.head === undefined) {
          const whole = new Uint8Array(await new Response(value).arrayBuffer()); // a plain entry: its length is only known once read
          return { head: whole, body: emptyStream(), length: whole.byteLength };
        }
        return { head: own.head, body: value, length: own.head.byteLength + own.bodyLength };
      },

      async set(key, head, body, ttl) {
        const location = await locate(key);
        const expiresAt = expiresAtFor(ttl, now);
        const metadata: Metadata = { expiresAt: expiresAt ?? undefined, head: toBase64(head), bodyLength: body.byteLength };
        if (JSON.stringify(metadata).length <= MAX_METADATA_BYTES) await save(location, { value: body, head, expiresAt });
        else await save(location, { value: concatBytes(head, body), expiresAt });
      },
    },
  };
}

/** What this backend keeps in an entry's metadata, decoded. */
type OwnMetadata = { expiresAt: number | null; head?: undefined } | { expiresAt: number | null; head: Uint8Array; bodyLength: number };

/**
 * An entry's metadata as this backend writes it, decoded; `undefined` for anything else (an entry
 * another writer left under the prefix, or a damaged one), which reads take for a miss.
 */
function ownMetadata(metadata: unknown): OwnMetadata | undefined {
  if (metadata === null || metadata === undefined) return { expiresAt: null };
  if (typeof metadata !== "object") return undefined;
  const { expiresAt = null, head, bodyLength } = metadata as Record<string, unknown>;
  if (expiresAt !== null && !Number.isFinite(expiresAt)) return undefined;
  if (head === undefined && bodyLength === undefined) return { expiresAt: expiresAt as number | null };
  if (typeof head !== "string" || typeof bodyLength !== "number" || !Number.isSafeInteger(bodyLength) || bodyLength < 0) return undefined;
  const bytes = headBytes(head);
  return bytes && { expiresAt: expiresAt as number | null, head: bytes, bodyLength };
}

/** A written entry's whole value: its head, then its body. */
function joined(entry: KvEntry): Uint8Array {
  return entry.head === undefined ? entry.value : concatBytes(entry.head, entry.value);
}

