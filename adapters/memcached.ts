/**
 * The memcached backend: memcached's meta protocol over pipelined connections, one per server,
 * keys spread over a pool by consistent hashing. Node's `net` by default (Node, Deno, Bun);
 * Workers' Socket API through `socketsConnector`; any other runtime's sockets through the
 * `connect` option (see `net/stream.ts`).
 */
import { describe, MAX_TIMER_MS } from "../src/arguments.ts";
import { type Backend, type BackendTtl, identityNamed } from "../src/backend.ts";
import { BackendUnavailableError } from "../src/errors.ts";
import * as commands from "./memcached/commands.ts";
import { Connection } from "./memcached/connection.ts";
import { healthOf } from "./memcached/health.ts";
import { validateMemcachedKey } from "./memcached/keys.ts";
import type { ConnectionOptions } from "node:tls";
import { connectNode, connectNodeTls } from "./net/node-stream.ts";
import { HashRing } from "./memcached/ring.ts";
import { parseServers, poolName, type ServerOption } from "./memcached/servers.ts";
import type { Connector } from "./net/stream.ts";

/** What memcached 1.6 keeps with an item beyond its key and value: its 48-byte header, the key's NUL, the value's CRLF and the 8-byte CAS. */
const ITEM_OVERHEAD = 59;
const encoder = new TextEncoder();
/** The smallest item size limit memcached takes (`-I 1k`): anything that fits under it fits on any server. */
const SMALLEST_ITEM_LIMIT = 1024;

export type { ServerOption } from "./memcached/servers.ts";
export type { ByteStream, Connector, ServerAddress, StreamListener } from "./net/stream.ts";
export { socketsConnector, type SocketConnect, type SocketLike, type SocketsConnectorOptions } from "./net/sockets.ts";

/**
 * Options of `memcached()`.
 *
 * @example
 * const options: MemcachedOptions = { servers: ["10.0.0.1:11211", { server: "10.0.0.2:11211", weight: 2 }], timeoutMs: 250 };
 */
export interface MemcachedOptions {
  /**
   * The pool: a list, or one string separated by `;` or `,` (Django's LOCATION), of `host:port`,
   * `host` (port 11211), `[ipv6]:port` or `unix:/path`; list entries may be `{ server, weight }`.
   */
  servers: string | readonly ServerOption[];
  /** The longest any operation waits for its server, connecting included. Default 1000 ms. */
  timeoutMs?: number;
  /**
   * After a server fails, its operations fail at once for this long before a reconnect is tried;
   * it doubles with each failure in a row. Every backend over the server in this isolate (on
   * Workers, the next requests' backends) waits it out too. Default 100 ms.
   */
  retryDelayMs?: number;
  /** The cap on that doubling pause. Default 5000 ms. */
  maxRetryDelayMs?: number;
  /** Opens sockets; default Node's `net` (also right for Deno and Bun). On Workers: `socketsConnector(connect)`. */
  connect?: Connector;
  /**
   * Connect with TLS (memcached started with `-Z`; managed memcached with in-transit
   * encryption): `true`, or `tls.connect` options such as `ca` for a private authority or a
   * client `cert` and `key`. Not together with `connect`. Default: plain TCP.
   */
  tls?: true | ConnectionOptions;
}

/**
 * A backend with every optional operation implemented natively.
 *
 * @example
 * const backend: MemcachedBackend = memcached({ servers: "127.0.0.1:11211" });
 * await backend.increment("hits", 1);
 * await backend.close();
 */
export type MemcachedBackend = Required<Omit<Backend, "streams">>;

/**
 * A memcached backend over a pool of servers (memcached 1.6.10 or newer: it speaks the meta
 * protocol). Connections open on first use; call `close()` (or EdgeCache's) when done.
 *
 * - Keys are checked before anything is sent: over 250 bytes, or with spaces or control
 *   characters, they raise `InvalidCacheKeyError`.
 * - A value over the server's item size limit (`-I`, 1 MiB by default) is refused with
 *   `BackendUnavailableError`, and the key is deleted so an older value cannot linger; an `add`
 *   of one is refused before it is sent (the limit asked of the server once), as memcached would
 *   delete the entry an add must leave alone.
 * - A server that is down or does not answer within `timeoutMs` fails its operations with
 *   `BackendUnavailableError` (quickly, while it backs off), while keys on other servers keep
 *   working; its keys are not moved elsewhere. Page caching treats all of this as a miss.
 * - Counters are memcached's: unsigned 64-bit. Decrementing below zero stops at 0, a negative
 *   stored number cannot be incremented (TypeError), and values above 2^53 lose precision.
 * - `clear()` runs `flush_all` on every server: it empties them entirely, not just this cache's keys.
 * - TTLs are whole seconds, rounded up; memcached's clock ticks once a second, so an entry may
 *   expire up to a second early. Over 30 days they are sent as absolute times.
 *
 * @example
 * const cache = createCache({ backend: memcached({ servers: "10.0.0.1:11211;10.0.0.2:11211" }) });
 * await cache.set("greeting", "hello", { timeout: 60 });
 */
export function memcached(options: MemcachedOptions): MemcachedBackend {
  if (typeof options !== "object" || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const servers = parseServers(options.servers);
  const timeoutMs = milliseconds(options.timeoutMs, 1000, "options.timeoutMs", 1);
  const retryDelayMs = milliseconds(options.retryDelayMs, 100, "options.retryDelayMs", 0);
  const maxRetryDelayMs = milliseconds(options.maxRetryDelayMs, 5000, "options.maxRetryDelayMs", 0);
  const connect = connectorFor(options);
  if (typeof connect !== "function") throw new TypeError(`options.connect must be a function, got ${describe(connect)}`);

  const connections = servers.map(({ address, label }) => new Connection({ address, label, health: healthOf(label), connect, timeoutMs, retryDelayMs, maxRetryDelayMs }));
  const ring = new HashRing(servers.map(({ label, weight }) => ({ id: label, weight })));
  const connectionFor = (key: string): Connection => {
    validateMemcachedKey(key);
    return connections[connections.length === 1 ? 0 : ring.lookup(key)]!;
  };
  /**
   * Per connection, the `add` waiting for the server's item size limit before it goes out (see
   * `oversized`): calls made after it go out after it, so that each reaches the server in the
   * order it was made (an add, then a delete of its key, must not be undone by the add).
   */
  const heldBack = new WeakMap<Connection, Promise<void>>();
  /** Send `command` on `connection`, after any add held back there. */
  const send = <T>(connection: Connection, command: commands.Command<T>): Promise<T> => {
    const before = heldBack.get(connection);
    return before ? before.then(() => connection.send(command)) : connection.send(command);
  };
  /** Split `items` by the server of their key, remembering each item's position. */
  const byServer = <T>(items: readonly T[], keyOf: (item: T) => string) => {
    const groups = new Map<Connection, { items: T[]; positions: number[] }>();
    items.forEach((item, position) => {
      const connection = connectionFor(keyOf(item));
      const group = groups.get(connection) ?? groups.set(connection, { items: [], positions: [] }).get(connection)!;
      group.items.push(item);
      group.positions.push(position);
    });
    return [...groups];
  };
  const remove = (key: string) => send(connectionFor(key), commands.del(key));
  /**
   * Each server's item size limit once asked (`null`: it would not say), or the question under
   * way (see `oversized`), with the stream it was asked on: a server reconnected to is asked again.
   */
  const itemLimits = new WeakMap<Connection, { opens: number; limit: number | null | Promise<unknown> }>();
  /**
   * Whether `value` is too large for the server's items: memcached deletes the key when it cannot
   * store a value, even for an `add`, which must leave an existing entry be (a lock would vanish),
   * so such an add is refused before it is sent. Answers at once (`false`) for values under
   * memcached's smallest limit (1 KiB) and once the server's is known; the limit is asked once per
   * connection, on the first larger value, and that add holds back the calls made after it on its
   * connection until it is sent (see `heldBack`), so all go out in the order they were made.
   */
  const oversized = (connection: Connection, key: string, value: Uint8Array): boolean | Promise<boolean> => {
    const size = value.byteLength + encoder.encode(key).byteLength + ITEM_OVERHEAD;
    if (size <= SMALLEST_ITEM_LIMIT) return false;
    const entry = itemLimits.get(connection);
    const known = entry && (entry.limit instanceof Promise || entry.opens === connection.opens) ? entry.limit : undefined;
    if (typeof known === "number" || known === null) return known !== null && size > known;
    // Sent at once, not behind the add it is for (see `heldBack`): that add waits for its answer.
    const asking = known ?? connection.send(commands.itemSizeLimit()).then(
      (limit) => itemLimits.set(connection, { opens: connection.opens, limit: limit ?? null }),
      () => itemLimits.delete(connection), // the connection failed: ask again next time; this add goes as before
    );
    itemLimits.set(connection, { opens: connection.opens, limit: asking });
    return asking.then(() => {
      const limit = itemLimits.get(connection)?.limit;
      return typeof limit === "number" && size > limit;
    });
  };
  return {
    name: "memcached",
    capabilities: { atomicAdd: true, atomicIncrement: true, consistent: true, shared: true, local: false, ttlGranularityMs: 1000 },
    identity: identityNamed(`memcached ${poolName(servers)}`),
    validateKey: validateMemcachedKey,

    // async, so that a bad key rejects the returned promise instead of throwing synchronously
    get: async (key) => send(connectionFor(key), commands.get(key)),
    has: async (key) => send(connectionFor(key), commands.has(key)),
    delete: async (key) => remove(key),
    async add(key, value, ttl) {
      const connection = connectionFor(key);
      const refused = oversized(connection, key, value);
      const tooLarge = () => new BackendUnavailableError(`memcached: the value for ${key} (${value.byteLength} bytes) does not fit, with its key and memcached's own ${ITEM_OVERHEAD} bytes, the server's ${itemLimits.get(connection)?.limit as number}-byte items; not sent, as memcached deletes the entry when it cannot store one, which an add must leave alone`);
      if (refused === true) throw tooLarge();
      if (refused === false) return send(connection, commands.add(key, value, commands.expiry(ttl)));
      // Held back until the limit is known; the calls made meanwhile on its connection wait for it.
      let sent!: () => void;
      const turn = new Promise<void>((resolve) => (sent = resolve));
      const before = heldBack.get(connection);
      heldBack.set(connection, turn);
      let answer: Promise<boolean>;
      try {
        await before;
        if (await refused) throw tooLarge();
        answer = connection.send(commands.add(key, value, commands.expiry(ttl)));
      } finally {
        sent(); // once it is sent (or refused), not answered: the calls after it still pipeline
        // Let go once the calls waiting on this turn have gone out: one made meanwhile still
        // lines up behind them.
        void turn.then(() => {
          if (heldBack.get(connection) === turn) heldBack.delete(connection);
        });
      }
      return answer;
    },
    touch: async (key, ttl) => send(connectionFor(key), commands.touch(key, commands.expiry(ttl))),
    ttl: async (key) => send(connectionFor(key), commands.ttl(key)),
    getWithTtl: async (key) => send(connectionFor(key), commands.getWithTtl(key)),

    async set(key, value, ttl) {
      const connection = connectionFor(key);
      try {
        await send(connection, commands.set(key, value, commands.expiry(ttl)));
      } catch (error) {
        // Never leave the old value behind (Django does the same). Not waited for: after a time-out
        // it could take as long again, and a later call on the key goes after it on its connection.
        void remove(key).catch(() => false);
        throw error;
      }
    },

    async increment(key, delta) {
      if (!Number.isSafeInteger(delta)) throw new TypeError(`delta must be an integer, got ${describe(delta)}`);
      return send(connectionFor(key), commands.increment(key, delta));
    },

    async getMany(keys) {
      const values = new Array<Uint8Array | undefined>(keys.length).fill(undefined);
      await Promise.all(byServer(keys, (key) => key).map(async ([connection, group]) => {
        const found = await send(connection, commands.getMany(group.items));
        found.forEach((value, index) => (values[group.positions[index]!] = value));
      }));
      return values;
    },

    async setMany(entries, ttl: BackendTtl) {
      const exptime = commands.expiry(ttl);
      const failed = new Set<number>();
      await Promise.all(byServer(entries, ([key]) => key).map(async ([connection, group]) => {
        const refused = await send(connection, commands.setMany(group.items, exptime)).catch(() => group.items.map((_, index) => index));
        for (const index of refused) failed.add(group.positions[index]!);
      }));
      const failedKeys = entries.filter((_, position) => failed.has(position)).map(([key]) => key);
      for (const key of failedKeys) void remove(key).catch(() => false); // as in `set`
      return failedKeys;
    },

    async deleteMany(keys) {
      await Promise.all(byServer(keys, (key) => key).map(([connection, group]) => send(connection, commands.deleteMany(group.items))));
    },

    async clear() {
      await Promise.all(connections.map((connection) => send(connection, commands.flushAll())));
    },

    async close() {
      for (const connection of connections) connection.close();
    },
  };
}

function milliseconds(value: unknown, fallback: number, name: string, least: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < least || value > MAX_TIMER_MS) {
    throw new TypeError(`${name} must be a number of milliseconds from ${least} to ${MAX_TIMER_MS}, got ${describe(value)}`);
  }
  return value;
}

function connectorFor({ connect, tls }: MemcachedOptions): Connector {
  if (tls === undefined) return connect ?? connectNode;
  if (tls !== true && (tls === null || typeof tls !== "object")) throw new TypeError(`options.tls must be true or tls.connect options, got ${describe(tls)}`);
  if (connect !== undefined) throw new TypeError("options.tls and options.connect cannot be combined: a connector of your own does its own TLS");
  return connectNodeTls(tls === true ? {} : tls);
}
