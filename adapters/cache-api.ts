/**
 * Cache API backend: entries in a Web `Cache` (Workers' `caches.open(name)`, Deno's `caches`),
 * each under a synthetic URL on a private origin that no real request can reach.
 *
 * - Expiry: every entry carries its expiry time in its one metadata header and reads enforce it,
 *   because Deno ignores Cache-Control and miniflare keeps nothing without it.
 *   `Cache-Control: max-age` is set as well so Workers evict entries themselves.
 * - `cache.put` refuses HEAD requests, 206 responses and `Vary: *`: the backend only ever puts
 *   GET requests for its own 200 responses without Vary, so none of that can reach the caller.
 * - Streams: page caching writes a page's head (status, headers, freshness) and body separately;
 *   the head rides base64-encoded in the metadata header and the body is the stored body, so a
 *   hit needs no body read and streams the page straight through, as Hono's `cache()` does.
 * - Local: the Cache API is the runtime's own cache, so page caching sets it no time limit by
 *   default (see the `local` capability).
 * - `clear()` replaces a generation token stored in the cache. Every entry carries the generation
 *   it was written in, and reads take one of an older generation as a miss; it ages out or is
 *   overwritten. Other isolates notice within `generationCheckMs` (a second). The token is not
 *   part of entry URLs, so a read whose isolate has to re-check the token sends both reads at
 *   once rather than one after the other: at a request a second or fewer, where every hit
 *   re-checks, that halves the wait.
 * - The Cache API is per data centre on Workers: entries are not replicated, and `clear()` only
 *   reaches the data centre it runs in. Where `caches` is missing (Node, Bun), creating the
 *   backend throws a BackendUnavailableError unless `options.cache` is given.
 */
import { checkFunction, describe, nonNegative } from "../src/arguments.ts";
import { type Backend, identityNamed, type StreamedEntry } from "../src/backend.ts";
import { concatBytes, emptyStream, toBase64 } from "../src/bytes.ts";
import { withDeadline } from "../src/deadline.ts";
import { BackendUnavailableError } from "../src/errors.ts";
import { type Entry, entryBackend, expiresAtFor, isLive } from "./cloudflare/entries.ts";
import { headBytes } from "./cloudflare/heads.ts";
import { boundedName } from "./cloudflare/keys.ts";

/**
 * The part of a Web `Cache` the backend uses; Workers', Deno's and the DOM's `Cache` fit it.
 *
 * @example
 * const store: CacheLike = await caches.open("edgecache");
 */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
}

/**
 * Options for `cacheApi()`.
 *
 * @example
 * cacheApi({ name: "pages" });
 * cacheApi({ cache: caches.default }); // Workers' shared cache; the private origin keeps entries apart
 */
export interface CacheApiOptions {
  /** The cache to use. Default: `caches.open(name)`. */
  cache?: CacheLike | Promise<CacheLike>;
  /** The name given to `caches.open`. Default `"edgecache"`. */
  name?: string;
  /** The origin of the synthetic entry URLs. Default `"https://edgecache.invalid"` (a reserved name that never resolves). */
  origin?: string;
  /**
   * How long an isolate trusts the generation token it read before reading it again, in ms:
   * `clear()` takes up to this long to reach other isolates, and an isolate busier than one
   * request per this long reads the token once per period, not per hit. Default 1000.
   */
  generationCheckMs?: number;
  /** Clock in milliseconds for entry expiry, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Everything the backend keeps beside an entry's body, in one header (each extra header costs a
 * cache a little on every hit): `<generation>,<expiry ms, empty for never>,<body bytes>,<head,
 * base64>`. For a streamed entry the head is its start (see `streams`), for a plain entry it is
 * empty.
 */
const ENTRY_HEADER = "x-edgecache";
/** Heads up to this size ride in a header; a larger one is stored with the body, as a plain value. */
const MAX_HEAD_BYTES = 8 * 1024;
/** `max-age` for entries that never expire: a year, longer than any cache keeps them. */
const FOREVER_SECONDS = 365 * 86400;
/** Longest URL-encoded key kept as it is; longer ones are hashed. */
const MAX_NAME_LENGTH = 1024;
/** The head of a plain entry. */
const EMPTY = new Uint8Array(0);

/**
 * A backend over the Cache API.
 *
 * @example
 * import { createCache, cachePage } from "edgecache";
 * import { cacheApi } from "edgecache/adapters/cache-api";
 *
 * const pages = createCache({ backend: cacheApi({ name: "pages" }) });
 * export default { fetch: cachePage(60, { cache: pages })(handler) };
 */
export function cacheApi(options: CacheApiOptions = {}): Backend {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  const name = options.name ?? "edgecache";
  if (typeof name !== "string") throw new TypeError(`options.name must be a string, got ${describe(name)}`);
  const origin = parseOrigin(options.origin ?? "https://edgecache.invalid");
  const now = options.now ?? Date.now;
  checkFunction(now, "options.now");
  const generationCheckMs = nonNegative(options.generationCheckMs ?? 1000, "options.generationCheckMs");
  const storage = (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches;
  if (options.cache === undefined && typeof storage?.open !== "function") {
    throw new BackendUnavailableError("the Cache API (globalThis.caches) is not available in this runtime: pass options.cache, or use another backend");
  }
  // Opened on first use: Workers allow no I/O at module scope, where backends are often made.
  // Once open, calls use it without waiting (a hit is all in a few awaits). Calls made while it
  // opens join the opening, for a while (see `joined`).
  let store: CacheLike | undefined;
  let opening: Promise<CacheLike> | undefined;
  const open = (): Promise<CacheLike> => {
    const opened: Promise<CacheLike> = Promise.resolve(options.cache ?? storage!.open(name)).then(
      (cache) => (store = cache),
      (error: unknown) => {
        if (opening === opened) opening = undefined; // try again on the next call
        throw error;
      },
    );
    return (opening = opened);
  };
  const cacheReady = (): CacheLike | Promise<CacheLike> => store ?? (opening ? joined(opening, open) : open());
  /** The stored response under `location`: straight from the cache once it is open. */
  const match = (location: string): Promise<Response | undefined> =>
    store ? store.match(location) : Promise.resolve(cacheReady()).then((opened) => opened.match(location));

  // Entry names are URL-encoded, so they never contain a "/": no entry can be the token's URL.
  const generationUrl = `${origin}/generation`;
  const entries = `${origin}/entry/`;
  // One store per cache name and origin (per cache object and origin when one is given): every
  // backend over it in this isolate shares what is learnt of it, the generation read included,
  // so backends made per request do not each read the token again.
  const identity = options.cache === undefined ? identityNamed(`cache-api ${name} ${origin}`)
    : options.cache !== null && typeof options.cache === "object" && !(options.cache instanceof Promise) ? identityNamed(`cache-api ${origin}`, options.cache)
    : undefined;
  const known: KnownGeneration = identity ? knownGenerations(identity) : { readAt: 0, begun: 0, order: 0 };
  /** This backend's read of the token under way, if any, which calls in the meantime join (see `joined`). */
  let reading: { token: Promise<string>; readAt: number } | undefined;
  const setGeneration = async (token: string): Promise<string> => {
    const headers = { "cache-control": `max-age=${FOREVER_SECONDS}` };
    await (await cacheReady()).put(generationUrl, new Response(token, { headers }));
    return token;
  };
  const readGeneration = async (): Promise<string> => {
    const stored = await match(generationUrl);
    const token = stored && (await stored.text());
    return token || setGeneration(crypto.randomUUID());
  };
  /**
   * The current generation (once read, without waiting), trusted for `generationCheckMs` and
   * then read again; concurrent callers share one read, so the first calls on a new cache agree
   * on the token they set. A missing token (never set, or evicted) is
   * replaced, so old entries never come back.
   */
  const currentGeneration = (at = now()): string | Promise<string> => {
    if (known.value !== undefined && at - known.readAt < generationCheckMs) return known.value;
    if (reading && at - reading.readAt < generationCheckMs) return joined(reading.token, () => remember(readGeneration(), at));
    return remember(readGeneration(), at);
  };
  const remember = (token: Promise<string>, at = now()): Promise<string> => {
    const read = { token, readAt: at };
    const order = ++known.begun;
    reading = read;
    token.then(
      (value) => {
        // A read that began before the one last kept (a clear's, say) must not undo it.
        if (order > known.order) Object.assign(known, { value, readAt: at, order });
        if (reading === read) reading = undefined;
      },
      () => {
        if (reading === read) reading = undefined; // read again on the next call
      },
    );
    return token;
  };

  /** The synthetic URL of `key`'s entry; without waiting for keys that need no hashing. */
  const locate = (key: string): string | Promise<string> => {
    const entry = boundedName(encodeURIComponent(key), MAX_NAME_LENGTH);
    return typeof entry === "string" ? `${entries}${entry}` : entry.then((hashed) => `${entries}${hashed}`);
  };

  /**
   * `use` of the entry at `location` if there is one of the current generation, with the time the
   * read began (the clock is read once: on workerd each reading is a call out of the isolate). When
   * the generation is due for a re-check, its read and the entry's go out together; otherwise
   * only the entry's read is waited for, so a hit is one await here (`use` runs inside it).
   */
  const matchEntry = async <T>(location: string, use: (found: StoredEntry, at: number) => T | Promise<T>): Promise<T | undefined> => {
    const at = now();
    const generation = currentGeneration(at);
    // Waited for below, unless the entry's read fails first: then its failure goes unheard.
    if (typeof generation !== "string") generation.catch(() => {});
    const response = await match(location);
    const found = typeof generation === "string" ? entryOf(response, generation) : await entryOnceRead(response, generation);
    return found && use(found, at);
  };

  /** A live entry, read at `at`, as a head and a streaming body. */
  const streamedEntry = ({ response, expiresAt, head, bodyLength }: StoredEntry, at: number): StreamedEntry | undefined => {
    if (!isLive(expiresAt, at)) {
      response.body?.cancel().catch(() => {});
      return undefined;
    }
    return { head, body: response.body ?? emptyStream(), length: head.byteLength + bodyLength };
  };

  /** An entry as the bytes it holds (head and body together) and its expiry. */
  const wholeEntry = async ({ response, expiresAt, head }: StoredEntry): Promise<Entry> => {
    const body = new Uint8Array(await response.arrayBuffer());
    return { value: head.byteLength === 0 ? body : concatBytes(head, body), expiresAt };
  };

  const save = async (location: string, head: Uint8Array, body: Uint8Array, expiresAt: number | null): Promise<void> => {
    const generation = await currentGeneration();
    const seconds = expiresAt === null ? FOREVER_SECONDS : Math.max(1, Math.ceil((expiresAt - now()) / 1000));
    const headers = {
      "cache-control": `max-age=${seconds}`,
      [ENTRY_HEADER]: `${generation},${expiresAt ?? ""},${body.byteLength},${head.byteLength > 0 ? toBase64(head) : ""}`,
    };
    await (await cacheReady()).put(location, new Response(body as Uint8Array<ArrayBuffer>, { headers }));
  };

  const backend = entryBackend({
    name: "cache-api",
    capabilities: { atomicAdd: false, atomicIncrement: false, consistent: false, shared: true, local: true, writeSpacingMs: 0, ttlGranularityMs: 0 },
    now,

    locate,

    load: (location) => matchEntry(location, wholeEntry),

    save: (location, { value, expiresAt }) => save(location, new Uint8Array(0), value, expiresAt),

    async remove(location) {
      await (await cacheReady()).delete(location);
    },

    async clear() {
      known.value = undefined; // calls from now on wait for the new token
      const token = await remember(setGeneration(crypto.randomUUID()));
      // A read begun while the new token was being written (another backend's) may have read the
      // old one, and begun later than this clear: the clear, done now, is the latest to count.
      Object.assign(known, { value: token, readAt: now(), order: ++known.begun });
    },
  });

  return {
    ...backend,
    ...(identity && { identity }),
    streams: {
      get(key) {
        const location = locate(key);
        return typeof location === "string" ? matchEntry(location, streamedEntry) : location.then((at) => matchEntry(at, streamedEntry));
      },
      async set(key, head, body, ttl) {
        const expiresAt = expiresAtFor(ttl, now);
        const location = await locate(key);
        if (head.byteLength <= MAX_HEAD_BYTES) await save(location, head, body, expiresAt);
        else await save(location, new Uint8Array(0), concatBytes(head, body), expiresAt);
      },
    },
  };
}

/** How long a call waits for a promise another call began (the cache's opening, a read of the token) before doing its own. */
const JOIN_WAIT_MS = 1000;

/**
 * `shared`, a promise another call began, if it settles within `JOIN_WAIT_MS`; else `own()`. On
 * Workers a promise belongs to the request that made it and is dropped if that request ends
 * first: a backend made at module scope serves every request, and one request's read must not
 * leave another's waiting for good.
 */
function joined<T>(shared: Promise<T>, own: () => Promise<T>): Promise<T> {
  return withDeadline(shared, JOIN_WAIT_MS, own);
}

/**
 * The generation token last read from a store, and when: shared by every backend over the store
 * in this isolate. Only the value is shared, never a read under way: on Workers a promise belongs
 * to the request that made it, and backends made per request must not wait on each other's (a
 * backend's own calls join its read for a while: see `joined`).
 */
interface KnownGeneration {
  value?: string;
  readAt: number;
  /** How many reads (and clears) of the token have begun, and which of them `value` came from: the latest to begin wins. */
  begun: number;
  order: number;
}

const generations = new WeakMap<object, KnownGeneration>();

function knownGenerations(identity: object): KnownGeneration {
  let known = generations.get(identity);
  if (!known) generations.set(identity, (known = { readAt: 0, begun: 0, order: 0 }));
  return known;
}

/** A stored response and what its entry header says. */
interface StoredEntry {
  response: Response;
  expiresAt: number | null;
  bodyLength: number;
  /** The entry's head (empty for a plain entry). */
  head: Uint8Array;
}

/**
 * What a stored response's entry header says; `undefined` when there is no response, or it has
 * no such header (not ours), or it was written in another generation than `generation`.
 */
function entryOf(response: Response | undefined, generation: string): StoredEntry | undefined {
  if (response === undefined) return undefined;
  const fields = response.headers.get(ENTRY_HEADER)?.split(",");
  if (fields?.length !== 4 || fields[0] !== generation) {
    response.body?.cancel().catch(() => {});
    return undefined;
  }
  const [, expires, length, base64] = fields as [string, string, string, string];
  const expiresAt = expires === "" ? null : Number(expires);
  const bodyLength = Number(length);
  const head = base64 === "" ? EMPTY : headBytes(base64);
  if (head === undefined || (expiresAt !== null && !Number.isFinite(expiresAt)) || !Number.isSafeInteger(bodyLength) || bodyLength < 0) {
    response.body?.cancel().catch(() => {}); // not an entry this backend wrote
    return undefined;
  }
  return { response, expiresAt, bodyLength, head };
}

/** `entryOf` once the generation being re-read is known; a failed read lets go of the response. */
async function entryOnceRead(response: Response | undefined, generation: Promise<string>): Promise<StoredEntry | undefined> {
  try {
    return entryOf(response, await generation);
  } catch (error) {
    response?.body?.cancel().catch(() => {});
    throw error;
  }
}

function parseOrigin(origin: unknown): string {
  let url: URL | undefined;
  try {
    url = new URL(origin as string);
  } catch {
    // reported below
  }
  if (typeof origin === "string" && url && (url.protocol === "https:" || url.protocol === "http:") && url.origin === origin.replace(/\/$/, "")) {
    return url.origin;
  }
  throw new TypeError(`options.origin must be an http(s) origin such as "https://edgecache.invalid", got ${describe(origin)}`);
}
