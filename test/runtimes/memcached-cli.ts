/**
 * The memcached adapter on a runtime's own `node:net` (Deno, Bun, Node 22 and 24):
 * `<runtime> test/runtimes/memcached-cli.ts` with `MEMCACHED` naming a pool of private servers
 * (`host:port;host:port`) and `REDIS` the port of a private Redis (for the tiered backend's Redis
 * bus), which `memcached.ts` starts. Prints one line per test and a closing `N passed, N failed`;
 * exits 1 when a test fails.
 */
import { memcached } from "../../adapters/memcached.ts";
import { memory } from "../../adapters/memory.ts";
import { redisBus } from "../../adapters/redis-bus.ts";
import { tiered } from "../../adapters/tiered.ts";
import { createCache, KeyNotFoundError } from "../../src/index.ts";
import { equal, runTests, suite, throws } from "../portable/harness.ts";
import { storedThenServed } from "../portable/stored-then-served.ts";

/** Node's and Bun's `process`, which Deno 2 provides too. */
declare const process: { env: Record<string, string | undefined>; exitCode?: number };

const servers = process.env.MEMCACHED;
if (!servers) throw new Error("MEMCACHED must name the memcached pool (host:port;host:port)");
const redisPort = process.env.REDIS;
if (!redisPort) throw new Error("REDIS must name the port of the private Redis");

/** A cache over the pool, under a key prefix of its own, closed after `use`. */
async function withCache(use: (cache: ReturnType<typeof createCache>) => Promise<void>): Promise<void> {
  const cache = createCache({ backend: memcached({ servers: servers!, timeoutMs: 2000 }), keyPrefix: crypto.randomUUID() });
  try {
    await use(cache);
  } finally {
    await cache.close();
  }
}

const memcachedOnThisRuntime = suite("memcached", (test) => {
  test("values, add, counters and batches across the pool", () => withCache(async (cache) => {
    await cache.set("greeting", { text: "hello" }, { timeout: 60 });
    equal(await cache.get("greeting"), { text: "hello" });
    equal([await cache.add("greeting", "again"), await cache.add("fresh", 1)], [false, true]);
    equal([await cache.incr("fresh", 41), await cache.decr("fresh")], [42, 41]);
    await throws(() => cache.incr("missing"), KeyNotFoundError);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    equal(await cache.setMany(keys.map((key, i) => [key, i] as const)), []);
    equal([...(await cache.getMany(keys)).values()], keys.map((_, i) => i));
    await cache.deleteMany(keys);
    equal((await cache.getMany(keys)).size, 0);
  }));

  test("cachePage stores a page in memcached, then serves it from there", () => withCache(storedThenServed));

  test("tiered over the pool with a Redis bus: a change drops the other process's near copy", async () => {
    const channel = `edgecache-runtime-${crypto.randomUUID()}`;
    const keyPrefix = crypto.randomUUID();
    const errors: string[] = [];
    const process = () => createCache({
      keyPrefix,
      backend: tiered({
        near: memory(),
        far: memcached({ servers: servers!, timeoutMs: 2000 }),
        nearTimeout: 60,
        bus: redisBus({ url: `redis://127.0.0.1:${redisPort}`, channel, onError: (error) => errors.push(error.message) }),
      }),
    });
    const [a, b] = [process(), process()];
    try {
      await a.set("k", "one");
      equal(await b.get("k"), "one"); // kept near for a minute
      // b's subscription may still be on its way: change the value until b hears of a change (only
      // a message can drop its near copy, kept for a minute).
      let seen: unknown;
      for (let attempt = 0; attempt < 100 && seen !== `two ${attempt - 1}`; attempt++) {
        await a.set("k", `two ${attempt}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen = await b.get("k");
      }
      equal(String(seen).startsWith("two"), true, `b's value after a's changes (${String(seen)})`);
      equal(errors, []);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

const { failed } = await runTests([memcachedOnThisRuntime], console.log);
process.exitCode = failed > 0 ? 1 : 0;
