/**
 * The memcached adapter on a runtime's own `node:net` (Deno, Bun, Node 22 and 24):
 * `<runtime> test/runtimes/memcached-cli.ts` with `MEMCACHED` naming a pool of private servers
 * (`host:port;host:port`), which `memcached-runtimes.ts` starts. Prints one line per test and a
 * closing `N passed, N failed`; exits 1 when a test fails.
 */
import { memcached } from "../../adapters/memcached.ts";
import { createCache, KeyNotFoundError } from "../../src/index.ts";
import { equal, runTests, suite, throws } from "../portable/harness.ts";
import { storedThenServed } from "../portable/stored-then-served.ts";

/** Node's and Bun's `process`, which Deno 2 provides too. */
declare const process: { env: Record<string, string | undefined>; exitCode?: number };

const servers = process.env.MEMCACHED;
if (!servers) throw new Error("MEMCACHED must name the memcached pool (host:port;host:port)");

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
});

const { failed } = await runTests([memcachedOnThisRuntime], console.log);
process.exitCode = failed > 0 ? 1 : 0;
