/**
 * A Worker that uses a real memcached through the Socket API (`cloudflare:sockets` and
 * `socketsConnector`), the way docs/memcached.md tells Workers users to: a backend made per
 * request (a socket belongs to the request that opened it) and closed once the request's cache
 * writes are done. `/counter` counts its calls in memcached; `/page` is a cachePage'd page that
 * counts its renders; `/probe` reads a key with a 300 ms time limit and a minute's pause after a
 * failure (which the next requests' backends observe); `/unix` asks for a Unix socket, which
 * Workers cannot open.
 */
import { connect } from "cloudflare:sockets";
import { memcached, socketsConnector } from "../../adapters/memcached.ts";
import { cachePage, createCache, type EdgeCache } from "../../src/index.ts";

/** The Worker's bindings: the memcached server, as `host:port`. */
interface Env {
  MEMCACHED: string;
}

const connector = socketsConnector(connect);
let renders = 0;
const page = cachePage(60, { cache: (_request: Request, cache: EdgeCache) => cache })(
  async (_request: Request, _cache: EdgeCache, _ctx: { waitUntil(promise: Promise<unknown>): void }) => new Response(`render ${++renders}`),
);

const worker = {
  async fetch(request: Request, env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
    const path = new URL(request.url).pathname;
    const backend = memcached({
      servers: path === "/unix" ? "unix:/tmp/memcached.sock" : env.MEMCACHED,
      connect: connector,
      ...(path === "/probe" ? { timeoutMs: 300, retryDelayMs: 60_000 } : { timeoutMs: 2000 }),
    });
    const cache = createCache({ backend });
    const writes: Promise<unknown>[] = [];
    try {
      if (path === "/counter") {
        const count = await cache.incr("visits").catch(async () => (await cache.add("visits", 1)) ? 1 : cache.incr("visits"));
        return new Response(String(count));
      }
      if (path === "/page") return await page(request, cache, { waitUntil: (write: Promise<unknown>) => void writes.push(write) });
      await cache.get("anything");
      return new Response("unreachable");
    } catch (error) {
      return new Response(String(error), { status: 500 });
    } finally {
      ctx.waitUntil(Promise.allSettled(writes).then(() => backend.close()));
    }
  },
};

export default worker;
