/** Test helpers for the memcached suites: a connector that records what is sent, and byte helpers. */
import { afterAll, beforeAll } from "vitest";
import { memcached, type MemcachedBackend, type MemcachedOptions } from "../../adapters/memcached.ts";
import { connectNode } from "../../adapters/net/node-stream.ts";
import type { Connector } from "../../adapters/net/stream.ts";
import { type MemcachedFixtureOptions, type MemcachedServer, startMemcached } from "../fixtures/memcached.ts";

/**
 * A private memcached for one test file, started before its tests and stopped after them, and
 * clients over it, closed with it. `options` may be a function, called when the server starts.
 *
 * @example
 * const memcache = useMemcachedServer();
 * it("...", async () => { const backend = memcache.client({ timeoutMs: 500 }); });
 */
export function useMemcachedServer(options?: MemcachedFixtureOptions | (() => MemcachedFixtureOptions)) {
  let server: MemcachedServer | undefined;
  const clients: MemcachedBackend[] = [];
  beforeAll(async () => {
    server = await startMemcached(typeof options === "function" ? options() : options);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });
  return {
    server: (): MemcachedServer => server!,
    client(extra: Omit<MemcachedOptions, "servers"> = {}): MemcachedBackend {
      const backend = memcached({ servers: server!.location, ...extra });
      clients.push(backend);
      return backend;
    },
  };
}

/**
 * Node's connector, counting the connections it opens and keeping every write.
 *
 * @example
 * const spy = spyConnector();
 * const backend = memcached({ servers, connect: spy.connect });
 * expect(spy.writes).toHaveLength(0);
 */
export function spyConnector(): { connect: Connector; writes: Uint8Array[]; connections: () => number } {
  const writes: Uint8Array[] = [];
  let connections = 0;
  const connect: Connector = async (address, listener, signal) => {
    connections++;
    const stream = await connectNode(address, listener, signal);
    return {
      write(bytes) {
        writes.push(bytes);
        stream.write(bytes);
      },
      close: () => stream.close(),
    };
  };
  return { connect, writes, connections: () => connections };
}

/**
 * UTF-8 bytes of a string.
 *
 * @example
 * await backend.set("k", utf8("v"), 60);
 */
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * The text of UTF-8 bytes (undefined stays undefined).
 *
 * @example
 * expect(text(await backend.get("k"))).toBe("v");
 */
export const text = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));
