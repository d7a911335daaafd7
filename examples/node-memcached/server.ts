/**
 * Node + memcached cluster: the Hono app of `app.ts` under @hono/node-server, its cache spread
 * over a pool of memcached servers by consistent hashing. With `REDIS_URL` set, each process also
 * keeps what it reads in its own memory for a minute (`tiered`), and a Redis pub/sub channel tells
 * the others what it changed, so their copies go at once (`redisBus`).
 *
 * Run it (memcached 1.6.10 or newer):
 *   memcached -u nobody -l 127.0.0.1 -p 11211 -d; memcached -u nobody -l 127.0.0.1 -p 11212 -d   # this machine only (-l; -u counts only as root); pkill -f "memcached -u nobody -l 127.0.0.1" stops them
 *   MEMCACHED_SERVERS="127.0.0.1:11211;127.0.0.1:11212" npx tsx examples/node-memcached/server.ts
 *   curl -i localhost:3000/reports/daily   # slow the first time, then "Cache-Status: edgecache; hit"
 * Two processes with near tiers kept coherent:
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=3000 npx tsx examples/node-memcached/server.ts &
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=3001 npx tsx examples/node-memcached/server.ts &
 *   curl -X PUT -d hello localhost:3000/greeting; curl localhost:3001/greeting   # now in 3001's memory
 *   curl -X PUT -d bonjour localhost:3000/greeting; curl localhost:3001/greeting # "bonjour" at once
 */
import { serve } from "@hono/node-server";
import { memcached } from "../../adapters/memcached.ts";
import { memory } from "../../adapters/memory.ts";
import { redisBus } from "../../adapters/redis-bus.ts";
import { tiered } from "../../adapters/tiered.ts";
import { createCache } from "../../src/index.ts";
import { createApp } from "./app.ts";

const cluster = memcached({ servers: process.env.MEMCACHED_SERVERS ?? "127.0.0.1:11211", timeoutMs: 250 });
const redisUrl = process.env.REDIS_URL;
const cache = createCache({
  backend: redisUrl ? tiered({ near: memory({ maxEntries: 10_000 }), far: cluster, nearTimeout: 60, bus: redisBus({ url: redisUrl }) }) : cluster,
  keyPrefix: "example",
});
const server = serve({ fetch: createApp(cache).fetch, port: Number(process.env.PORT ?? 3000) }, (info) =>
  console.log(`listening on http://localhost:${info.port}`),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => server.close(() => void cache.close()));
}
