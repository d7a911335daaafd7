/** The socket seam implemented with Node's `net` and `tls` (also available in Deno and Bun). */
import net from "node:net";
import tls from "node:tls";
import type { ByteStream, Connector, ServerAddress } from "./stream.ts";

/** A socket being opened to `address`, and the event that says it is ready for commands. */
type Open = (address: ServerAddress) => { socket: net.Socket; ready: "connect" | "secureConnect" };

/**
 * A connector over the sockets `open` makes. Writes made in one tick are corked and leave as one
 * packet (one TLS record), which is what makes pipelined requests cheap.
 */
function nodeConnector(open: Open): Connector {
  return (address, listener, signal) =>
    new Promise<ByteStream>((resolve, reject) => {
      const { socket, ready } = open(address);
      socket.setNoDelay(true);
      let connected = false;
      let corked = false;
      const abort = () => socket.destroy(new Error(`connect aborted: ${String(signal.reason)}`));
      signal.addEventListener("abort", abort, { once: true });
      if (signal.aborted) abort();

      socket.on("data", (chunk: Buffer) => listener.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
      socket.on("error", () => {}); // the error arrives with "close" below
      socket.on("close", () => {
        signal.removeEventListener("abort", abort);
        const error = socket.errored ?? undefined;
        if (connected) listener.onClose(error);
        else reject(error ?? new Error("connection closed before it was established"));
      });
      socket.once(ready, () => {
        connected = true;
        signal.removeEventListener("abort", abort);
        resolve({
          write(bytes) {
            if (!corked) {
              corked = true;
              socket.cork();
              process.nextTick(() => {
                corked = false;
                socket.uncork();
              });
            }
            socket.write(bytes);
          },
          close() {
            socket.destroy();
          },
        });
      });
    });
}

/**
 * Connects over TCP or a Unix socket with `node:net`.
 *
 * @example
 * const backend = memcached({ servers: "127.0.0.1:11211", connect: connectNode });
 */
export const connectNode: Connector = nodeConnector((address) => ({
  socket: address.kind === "tcp" ? net.connect(address.port, address.host) : net.connect(address.path),
  ready: "connect",
}));

/**
 * Connects with TLS (`node:tls`), for memcached started with `-Z` and managed services with
 * in-transit encryption. `options` are `tls.connect`'s: `ca` for a private authority, `cert` and
 * `key` for a client certificate, `servername` when the certificate names another host. The
 * certificate must name the server as it is addressed (its host name or IP address).
 *
 * @example
 * const backend = memcached({ servers: "cache.internal:11211", connect: connectNodeTls({ ca: readFileSync("ca.pem") }) });
 */
export function connectNodeTls(options: tls.ConnectionOptions = {}): Connector {
  return nodeConnector((address) => ({
    socket: address.kind === "tcp"
      ? tls.connect({ servername: net.isIP(address.host) ? undefined : address.host, ...options, host: address.host, port: address.port })
      : tls.connect({ ...options, path: address.path }),
    ready: "secureConnect",
  }));
}
