/**
 * The socket seam: the only thing the TCP protocol code (the memcached adapter, the Redis bus)
 * needs from a runtime. Node's `net` implements it in `node-stream.ts` (Deno and Bun run that
 * too); Workers' `cloudflare:sockets` in `sockets.ts`. Others can implement it without touching
 * the protocol code.
 */

/**
 * Where a server listens: TCP `host:port`, or a Unix domain socket.
 *
 * @example
 * const tcp: ServerAddress = { kind: "tcp", host: "127.0.0.1", port: 11211 };
 * const unix: ServerAddress = { kind: "unix", path: "/run/memcached.sock" };
 */
export type ServerAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

/**
 * An open, connected byte stream. Writes are fire-and-forget and keep their order; an
 * implementation may coalesce writes made in the same tick into one packet.
 *
 * @example
 * stream.write(new TextEncoder().encode("mn\r\n"));
 * stream.close();
 */
export interface ByteStream {
  write(bytes: Uint8Array): void;
  /** Tear the connection down; `onClose` of its listener is then called once. */
  close(): void;
}

/**
 * What a stream reports to its owner: bytes as they arrive, and its end (with the error that
 * ended it, if any). `onClose` is called exactly once per stream, including after `close()`.
 *
 * @example
 * const listener: StreamListener = { onData: (bytes) => parser.push(bytes), onClose: (error) => failAll(error) };
 */
export interface StreamListener {
  onData(bytes: Uint8Array): void;
  onClose(error?: Error): void;
}

/**
 * Opens a stream to `address`, resolving once connected. It must give up (reject) when `signal`
 * aborts, which is how the caller applies its connect timeout.
 *
 * @example
 * const stream = await connect({ kind: "tcp", host: "127.0.0.1", port: 11211 }, listener, AbortSignal.timeout(500));
 */
export type Connector = (address: ServerAddress, listener: StreamListener, signal: AbortSignal) => Promise<ByteStream>;
