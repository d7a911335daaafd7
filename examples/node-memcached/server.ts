/**
 * Node + memcached cluster: the Hono app of `app.ts` under @hono/node-server, its cache spread
 * over a pool of memcached servers by consistent hashing.
 *
 * Run it (memcached 1.6.10 or newer):
 *   memcached -p 11211 -d -u memcache; memcached -p 11212 -d -u memcache
 *   MEMCACHED_SERVERS="127.0.0.1:11211;127.0.0.1:11212" npx tsx examples/node-memcached/server.ts
 *   curl -i localhost:3000/reports/daily   # slow the first time, then "Cache-Status: edgecache; hit"
 */
import { serve } from "@hono/node-server";
import { memcached } from "../../adapters/memcached.ts";
import { createCache } from "../../src/index.ts";
import { createApp } from "./app.ts";

const cache = createCache({
  backend: memcached({ servers: process.env.MEMCACHED_SERVERS ?? "127.0.0.1:11211", timeoutMs: 250 }),
  keyPrefix: "example",
});
const server = serve({ fetch: createApp(cache).fetch, port: Number(process.env.PORT ?? 3000) }, (info) =>
  console.log(`listening on http://localhost:${info.port}`),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => server.close(() => void cache.close()));
}
