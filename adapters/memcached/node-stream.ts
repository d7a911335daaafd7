/** The socket seam implemented with Node's `net` (also available in Deno and Bun). */
import net from "node:net";
import type { ByteStream, Connector } from "./stream.ts";

/**
 * Connects over TCP or a Unix socket with `node:net`. Writes made in one tick are corked and
 * leave as one packet, which is what makes pipelined requests cheap.
 *
 * @example
 * const backend = memcached({ servers: "127.0.0.1:11211", connect: connectNode });
 */
export const connectNode: Connector = (address, listener, signal) =>
  new Promise<ByteStream>((resolve, reject) => {
    const socket = address.kind === "tcp" ? net.connect(address.port, address.host) : net.connect(address.path);
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
    socket.once("connect", () => {
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
