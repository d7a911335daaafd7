/**
 * The socket seam implemented over the Socket API of Cloudflare Workers (`connect` from
 * `cloudflare:sockets`). The caller passes `connect` in, so this module imports nothing that
 * only workerd can resolve. On Workers a socket belongs to the request that opened it: make the
 * memcached backend inside the request and close it with `ctx.waitUntil` (see docs/memcached.md).
 */
import { checkFunction, describe } from "../../src/arguments.ts";
import { concatChunks } from "../../src/bytes.ts";
import type { ByteStream, Connector } from "./stream.ts";

/**
 * The part of a Workers `Socket` the connector uses.
 *
 * @example
 * const socket: SocketLike = connect({ hostname: "cache.internal", port: 11211 });
 */
export interface SocketLike {
  readonly opened: Promise<unknown>;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): Promise<void>;
}

/**
 * `connect` of `cloudflare:sockets`.
 *
 * @example
 * import { connect } from "cloudflare:sockets";
 * const open: SocketConnect = connect;
 */
export type SocketConnect = (address: { hostname: string; port: number }, options: { secureTransport: "off" | "on"; allowHalfOpen: boolean }) => SocketLike;

/**
 * Options of {@link socketsConnector}.
 *
 * @example
 * const options: SocketsConnectorOptions = { tls: true };
 */
export interface SocketsConnectorOptions {
  /** Connect with TLS (memcached started with `-Z`, managed memcached with in-transit encryption). Default false. */
  tls?: boolean;
}

/**
 * A memcached connector over the Socket API. Writes made in one tick leave in one write, so
 * pipelined requests share packets as they do over Node's sockets.
 *
 * @example
 * import { connect } from "cloudflare:sockets";
 * import { memcached, socketsConnector } from "edgecache/adapters/memcached";
 *
 * const backend = memcached({ servers: "cache.internal:11211", connect: socketsConnector(connect) });
 */
export function socketsConnector(connect: SocketConnect, options: SocketsConnectorOptions = {}): Connector {
  checkFunction(connect, "connect");
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  if (options.tls !== undefined && typeof options.tls !== "boolean") throw new TypeError(`options.tls must be true or false, got ${describe(options.tls)}`);
  const secureTransport = options.tls ? "on" : "off";
  return async (address, listener, signal) => {
    if (address.kind !== "tcp") throw new TypeError(`the Socket API has no Unix sockets: memcached server ${address.path} cannot be reached`);
    const socket = connect({ hostname: address.host, port: address.port }, { secureTransport, allowHalfOpen: false });
    let abort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      abort = () => reject(new Error(`connect aborted: ${String(signal.reason)}`));
      if (signal.aborted) abort();
      else signal.addEventListener("abort", abort, { once: true });
    });
    try {
      await Promise.race([socket.opened, aborted]);
    } catch (error) {
      socket.close().catch(() => {});
      throw error;
    } finally {
      signal.removeEventListener("abort", abort);
    }
    return openStream(socket, listener);
  };
}

/** The byte stream over an opened socket: reads go to `listener` until the socket ends, once. */
function openStream(socket: SocketLike, listener: Parameters<Connector>[1]): ByteStream {
  const writer = socket.writable.getWriter();
  let closed = false;
  /** Close once; `error` (anything thrown) is what ended the stream, if anything did. */
  const end = (error?: unknown): void => {
    if (closed) return;
    closed = true;
    socket.close().catch(() => {});
    listener.onClose(error === undefined || error instanceof Error ? error : new Error(String(error)));
  };
  void (async () => {
    const reader = socket.readable.getReader();
    try {
      for (let read = await reader.read(); !read.done; read = await reader.read()) listener.onData(read.value);
      end();
    } catch (error) {
      end(error);
    }
  })();
  let queued: Uint8Array[] = [];
  const flush = (): void => {
    const bytes = concatChunks(queued);
    queued = [];
    writer.write(bytes).catch(end);
  };
  return {
    write(bytes) {
      if (closed) return;
      if (queued.length === 0) queueMicrotask(flush);
      queued.push(bytes);
    },
    close: () => end(),
  };
}

