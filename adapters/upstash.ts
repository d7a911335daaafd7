/**
 * Upstash Redis backend: Redis over HTTP for Workers, Deno Deploy, Vercel, Bun and Node, through
 * the official `@upstash/redis` client (an optional peer dependency). Web standards only.
 *
 * Every Redis key is `<prefix>:<made key>`, so `clear()` can SCAN for this cache's keys alone and
 * never needs FLUSHDB on a shared database. Operations are native: SET EX/PX, SET NX, INCRBY (in a
 * script that leaves missing keys missing), MGET, one pipeline for `setMany`, a multi-key DEL for
 * `deleteMany`, EXPIRE/PEXPIRE/PERSIST for `touch`, GET and PTTL in one MULTI for `getWithTtl`.
 */
import { Redis } from "@upstash/redis";
import { type Backend, type BackendTtl, identityNamed } from "../src/backend.ts";
import { describe, nonNegative } from "../src/arguments.ts";
import { withDeadline } from "../src/deadline.ts";
import { BackendTimeoutError, BackendUnavailableError } from "../src/errors.ts";
import { thrownText } from "../src/codec.ts";
import { fromRedisValue, toRedisValue } from "./upstash/values.ts";

/**
 * The part of an `@upstash/redis` client this backend uses. A `Redis` from `@upstash/redis`,
 * `@upstash/redis/cloudflare` or `@upstash/redis/fastly` fits.
 *
 * @example
 * import { Redis } from "@upstash/redis/cloudflare";
 * const client: UpstashClient = new Redis({ url, token, automaticDeserialization: false });
 */
export type UpstashClient = Pick<
  Redis,
  "get" | "set" | "mget" | "del" | "exists" | "pttl" | "expire" | "pexpire" | "scan" | "eval" | "pipeline" | "multi"
>;

/**
 * Options for {@link upstash}: a ready client, or the REST URL and token to make one, plus the
 * namespace of this cache's Redis keys.
 *
 * @example
 * const options: UpstashOptions = { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, prefix: "pages" };
 */
export type UpstashOptions = (
  | {
    /**
     * A client you configured yourself (retries, signal, telemetry). Create it with
     * `automaticDeserialization: false`; a client that JSON-parses results still works.
     */
    client: UpstashClient;
  }
  | {
    /** `UPSTASH_REDIS_REST_URL`. */
    url: string;
    /** `UPSTASH_REDIS_REST_TOKEN`. */
    token: string;
    /**
     * The longest an operation may take, its retries included, in ms: then it fails with a
     * `BackendUnavailableError`, so an unreachable or frozen database cannot hold a caller
     * indefinitely (fetch sets no limit of its own). 0 sets none. Default 2000. (With `client`,
     * give the client a `signal` instead.)
     */
    timeoutMs?: number;
  }
) & {
  /**
   * Namespace put before every Redis key (`<prefix>:<key>`); `clear()` deletes only keys under
   * it. Caches sharing a database need different prefixes; note that `clear()` on prefix `"a"`
   * also removes the keys of prefix `"a:b"`. Default `"edgecache"`.
   */
  prefix?: string;
};

/** The default `timeoutMs` of a client made from a URL and token. */
const DEFAULT_TIMEOUT_MS = 2000;

/**
 * Adds `delta` only when the key exists, so a missing key stays missing (plain INCRBY would
 * create it); and takes it back when the result leaves JavaScript's safe integers, which Redis's
 * 64-bit integers go beyond (the value read back would not be the one stored).
 */
const INCREMENT_EXISTING = `if redis.call('exists', KEYS[1]) == 0 then return false end
local n = redis.call('incrby', KEYS[1], ARGV[1])
if n > 9007199254740991 or n < -9007199254740991 then
  redis.call('decrby', KEYS[1], ARGV[1])
  return redis.error_reply('ERR the result would leave the safe integer range')
end
return n`;
/**
 * `SET key value NX [EX|PX n]` answering 1 (added) or 0 (taken): SET NX's own answer when the key
 * is taken is nothing, which a client given an aborted signal answers for every command, so `add`
 * could not tell a lock it never took from one another process holds.
 */
const ADD_NEW = `if redis.call('set', KEYS[1], ARGV[1], 'nx', unpack(ARGV, 2)) then return 1 end
return 0`;
const NOT_AN_INTEGER = /not an integer|out of range/i;
const UNSAFE_INTEGER = /safe integer range/;
const REJECTED_TOKEN = /WRONGPASS|unauthori[sz]ed|NOAUTH/i;

/** Whole milliseconds for a fractional TTL; never 0, which Redis would reject. */
function milliseconds(ttl: number): number {
  return Math.max(1, Math.round(ttl * 1000));
}

function expiry(ttl: BackendTtl): { ex: number } | { px: number } | Record<string, never> {
  if (ttl === null) return {};
  return Number.isInteger(ttl) ? { ex: ttl } : { px: milliseconds(ttl) };
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** PTTL's answer as a backend TTL: seconds, `null` for never (-1), `undefined` for no key (-2). */
function remaining(milliseconds: number): number | null | undefined {
  if (milliseconds === -2) return undefined;
  return milliseconds === -1 ? null : milliseconds / 1000;
}

const isInteger = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);
const isOk = (value: unknown): value is "OK" => value === "OK";
const isList = (value: unknown): value is unknown[] => Array.isArray(value);
const isCounter = (value: unknown): value is number | null => value === null || isInteger(value);
/** SCAN's reply: the next cursor (a decimal integer, as text or a number) and a page of keys. */
const isScanPage = (value: unknown): value is [string | number, unknown[]] =>
  Array.isArray(value) && value.length === 2 && /^\d+$/.test(String(value[0])) && Array.isArray(value[1]);

/**
 * `value`, if it is the kind of answer the command gets; else an error (`call` names the
 * operation). A client given a plain `AbortSignal` answers every request after the abort with
 * the abort's reason, or nothing, as its result, which must not be read as an answer (`add`
 * would report a lock it never took).
 */
function expected<T>(value: unknown, is: (value: unknown) => value is T): T {
  if (is(value)) return value;
  throw new Error(`the client answered ${describe(value)}, which is no Redis reply to the command (a client given an aborted signal answers so, and so may a proxy in between)`);
}

/**
 * Turns a client failure into an error that names the operation without echoing the request body,
 * not even in its `cause`, which loggers print: the client's error for a command Redis refused has
 * it in its message (and so in its stack), values included, so the cause is then a copy of it, with
 * its name, its reason alone. Any other (a network failure) is the cause as it is, with its own.
 */
function failure(operation: string, clientError: unknown): Error {
  const message = messageOf(clientError) ?? thrownText(clientError);
  // Only Redis's refusals echo the body, maybe among the causes of a client of your own that wraps
  // its errors: the reason is then Redis's; a network failure's own causes (ECONNREFUSED) stay.
  const echo = echoingMessage(clientError);
  const reason = (echo ?? message).split(", command was:")[0]!;
  const name = clientError instanceof Error ? clientError.name : "Error";
  const error = echo === undefined ? clientError : Object.assign(new Error(reason), { name });
  if (operation === "increment" && UNSAFE_INTEGER.test(reason)) {
    return new RangeError("upstash increment: the result would leave the safe integer range; the value is left as it was", { cause: error });
  }
  if (operation === "increment" && NOT_AN_INTEGER.test(reason)) {
    return new TypeError("upstash increment: the stored value is not an integer (or the result is out of range)", { cause: error });
  }
  if (name === "TimeoutError") {
    return new BackendTimeoutError(`upstash ${operation} failed: no answer within options.timeoutMs`, { cause: error });
  }
  const hint = REJECTED_TOKEN.test(reason) ? " (the server rejected the token: check UPSTASH_REDIS_REST_TOKEN)" : "";
  return new BackendUnavailableError(`upstash ${operation} failed: ${reason}${hint}`, { cause: error });
}

/** The message of a thrown value: a string itself, or an error's (of any realm: told by its shape). */
function messageOf(thrown: unknown): string | undefined {
  if (typeof thrown === "string") return thrown;
  const message = thrown !== null && typeof thrown === "object" ? (thrown as { message?: unknown }).message : undefined;
  return typeof message === "string" ? message : undefined;
}

/**
 * The message of the client's report of a command Redis refused, which echoes the request body:
 * `thrown` itself or one of its causes (those of an AggregateError too), each looked at once, a
 * few dozen at most.
 */
function echoingMessage(thrown: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [thrown];
  while (queue.length > 0 && seen.size < 64) {
    const each = queue.shift();
    if (seen.has(each)) continue;
    seen.add(each);
    const message = messageOf(each);
    if (message?.includes(", command was:")) return message;
    if (each === null || typeof each !== "object") continue;
    const { cause, errors } = each as { cause?: unknown; errors?: unknown };
    queue.push(cause, ...(Array.isArray(errors) ? errors : []));
  }
  return undefined;
}

/**
 * A client for `url`, whose every request (its retries included) is aborted after `timeoutMs`
 * (0: never). Given a signal factory, the client fails an aborted request at once rather than
 * retrying it.
 */
function ownClient(url: string, token: string, timeoutMs: number): UpstashClient {
  const signal = timeoutMs > 0 ? () => AbortSignal.timeout(timeoutMs) : undefined;
  return new Redis({ url, token, automaticDeserialization: false, ...(signal && { signal }) });
}

function checkOptions(options: UpstashOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError("upstash(options): options must be an object");
  if ("client" in options) {
    if ("url" in options || "token" in options) {
      throw new TypeError("upstash(options): pass either options.client or options.url and options.token, not both");
    }
    if ("timeoutMs" in options) {
      throw new TypeError("upstash(options): options.timeoutMs applies to the client made from options.url and options.token; give your own client a signal instead, or createCache a timeoutMs");
    }
    if (typeof options.client?.pipeline !== "function") {
      throw new TypeError(`options.client must be an @upstash/redis Redis client, got ${describe(options.client)}`);
    }
  } else {
    for (const name of ["url", "token"] as const) {
      if (typeof options[name] !== "string" || options[name] === "") {
        throw new TypeError(`options.${name} must be a non-empty string (UPSTASH_REDIS_REST_${name.toUpperCase()}), got ${describe(options[name])}`);
      }
    }
    if (!/^https?:\/\//.test(options.url)) {
      // the value is not echoed: a connection string carries the password
      throw new TypeError("options.url must be the REST URL (https://...), not a redis:// connection string");
    }
    if (options.timeoutMs !== undefined) nonNegative(options.timeoutMs, "options.timeoutMs");
  }
  if (options.prefix !== undefined && (typeof options.prefix !== "string" || options.prefix === "")) {
    throw new TypeError(`options.prefix must be a non-empty string, got ${describe(options.prefix)}`);
  }
}

/**
 * The store's identity: backends made again and again (per request, on Workers) with the same
 * URL, or the same client, and the same prefix share what the isolate learns of the database.
 */
function upstashIdentity(options: UpstashOptions, redis: UpstashClient, namespace: string): object {
  return "url" in options ? identityNamed(`upstash ${options.url} ${namespace}`) : identityNamed(`upstash ${namespace}`, redis);
}

/**
 * An Upstash Redis backend. Values are stored as base64 text (integers as plain decimal so
 * `incr` is a native, atomic INCRBY); TTLs use SET EX, or PX when the timeout has a fraction.
 * `close()` waits for requests still in flight, each for `timeoutMs` at most (2000 ms when that
 * is 0 or the client is your own; hand it to `ctx.waitUntil` on Workers); the backend stays
 * usable afterwards, as HTTP holds no connection.
 *
 * @example
 * import { createCache } from "edgecache";
 * import { upstash } from "edgecache/adapters/upstash";
 * const cache = createCache({
 *   backend: upstash({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN }),
 * });
 */
export function upstash(options: UpstashOptions): Backend {
  checkOptions(options);
  const redis: UpstashClient = "client" in options ? options.client : ownClient(options.url, options.token, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const namespace = `${options.prefix ?? "edgecache"}:`;
  const inFlight = new Set<Promise<unknown>>();
  const redisKey = (key: string) => namespace + key;
  // The client's signal ends a request, but not the pauses between its retries (about 4 s in
  // all when the REST server cannot be reached): the adapter holds each call to the limit itself.
  const limitMs = "client" in options ? 0 : options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const request = run().catch((error: unknown) => {
      throw failure(operation, error);
    });
    const settled = request.then(() => undefined, () => undefined);
    inFlight.add(settled);
    void settled.then(() => inFlight.delete(settled));
    if (limitMs === 0) return request;
    return withDeadline(request, limitMs, () => {
      throw new BackendTimeoutError(`upstash ${operation} failed: no answer within options.timeoutMs`);
    });
  }

  return {
    name: "upstash",
    capabilities: { atomicAdd: true, atomicIncrement: true, consistent: true, shared: true, local: false },
    identity: upstashIdentity(options, redis, namespace),

    // MGET of one key: GET's answer for a missing key is nothing, which a client given an aborted
    // signal answers for every command; MGET's is a list.
    get: (key) => call("get", async () => {
      const [value] = expected(await redis.mget<unknown[]>(redisKey(key)), isList);
      return value === null || value === undefined ? undefined : fromRedisValue(value);
    }),

    set: (key, value, ttl) => call("set", async () => {
      expected(await redis.set(redisKey(key), toRedisValue(value), expiry(ttl)), isOk);
    }),

    delete: (key) => call("delete", async () => expected(await redis.del(redisKey(key)), isInteger) === 1),

    has: (key) => call("has", async () => expected(await redis.exists(redisKey(key)), isInteger) === 1),

    add: (key, value, ttl) => call("add", async () => {
      const lifetime = expiry(ttl);
      const args = "ex" in lifetime ? ["ex", String(lifetime.ex)] : "px" in lifetime ? ["px", String(lifetime.px)] : [];
      return expected(await redis.eval(ADD_NEW, [redisKey(key)], [toRedisValue(value), ...args]), isInteger) === 1;
    }),

    increment: (key, delta) => call("increment", async () => {
      const value = expected(await redis.eval(INCREMENT_EXISTING, [redisKey(key)], [String(delta)]), isCounter);
      return value === null ? undefined : value;
    }),

    ttl: (key) => call("ttl", async () => remaining(expected(await redis.pttl(redisKey(key)), isInteger))),

    getWithTtl: (key) => call("getWithTtl", async () => {
      const target = redisKey(key);
      const [value, milliseconds] = await redis.multi().get(target).pttl(target).exec<[unknown, number]>();
      const ttl = remaining(milliseconds);
      return value === null || ttl === undefined ? undefined : { value: fromRedisValue(value), ttl };
    }),

    getMany: (keys) => call("getMany", async () => {
      if (keys.length === 0) return [];
      const values = expected(await redis.mget<unknown[]>(keys.map(redisKey)), isList);
      return values.map((value) => (value === null ? undefined : fromRedisValue(value)));
    }),

    setMany: (entries, ttl) => call("setMany", async () => {
      if (entries.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const [key, value] of entries) pipeline.set(redisKey(key), toRedisValue(value), expiry(ttl));
      const results = await pipeline.exec({ keepErrors: true });
      // A reply short of one result per SET (a proxy's) must not count the missing ones as stored.
      if (!Array.isArray(results) || results.length !== entries.length) {
        throw new Error(`the client answered ${describe(results)} to a pipeline of ${entries.length} SETs: not one result per SET`);
      }
      return entries.filter((_entry, i) => results[i]?.error !== undefined).map(([key]) => key);
    }),

    deleteMany: (keys) => call("deleteMany", async () => {
      if (keys.length > 0) expected(await redis.del(...keys.map(redisKey)), isInteger);
    }),

    touch: (key, ttl) => call("touch", async () => {
      const target = redisKey(key);
      if (ttl === null) {
        const [, exists] = await redis.multi().persist(target).exists(target).exec();
        return expected(exists, isInteger) === 1;
      }
      const updated = Number.isInteger(ttl) ? await redis.expire(target, ttl) : await redis.pexpire(target, milliseconds(ttl));
      return expected(updated, isInteger) === 1;
    }),

    // Each round trip has the time limit, not the whole: SCAN walks the database's every key,
    // other caches' included, which on a big one takes longer than any one limit.
    async clear() {
      const match = `${globEscape(namespace)}*`;
      let cursor = "0";
      do {
        const from = cursor;
        // A reply that is no SCAN page (a cursor that is no number) would never reach cursor 0.
        const [next, keys] = await call("clear", async () => expected(await redis.scan(from, { match, count: 1000 }), isScanPage));
        if (keys.length > 0) await call("clear", async () => expected(await redis.del(...keys.map(String)), isInteger));
        cursor = String(next);
      } while (cursor !== "0");
    },

    // Each for the time limit at most: on Workers a backend made at module scope holds other
    // requests' calls too, and one whose request ended never settles.
    close: async () => {
      await Promise.all([...inFlight].map((settled) => withDeadline(settled, limitMs || DEFAULT_TIMEOUT_MS, () => undefined)));
    },
  };
}
