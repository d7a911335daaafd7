import { afterAll } from "vitest";
import { memcached } from "../../adapters/memcached.ts";
import { memory } from "../../adapters/memory.ts";
import { tiered } from "../../adapters/tiered.ts";
import { describeBackendConformance } from "../conformance/backend-conformance.ts";
import { startMemcachedPool, type MemcachedServer } from "../fixtures/memcached.ts";

// One pool of two real servers for both suites, flushed before each test.
let pool: Promise<MemcachedServer[]> | undefined;
afterAll(async () => {
  await Promise.all((await pool)?.map((server) => server.stop()) ?? []);
});

/**
 * memcached keeps whole seconds and its clock ticks once a second: TTLs are rounded up, so wait
 * for the rounded-up time plus a little slack for the tick.
 */
const advance = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.ceil(seconds) * 1000 + 150));

/** A client of the shared pool, flushed. */
async function pooledClient() {
  pool ??= startMemcachedPool(2);
  const backend = memcached({ servers: (await pool).map((server) => server.location) });
  await backend.clear();
  return backend;
}

describeBackendConformance("memcached (two-server pool)", {
  negativeCounters: false,
  strictKeys: true,
  getWithTtl: true,
  async create() {
    const backend = await pooledClient();
    return { backend, advance, dispose: () => backend.close() };
  },
});

describeBackendConformance("tiered (memory in front of the memcached pool)", {
  negativeCounters: false,
  strictKeys: true,
  getWithTtl: true,
  async create() {
    const backend = tiered({ near: memory({ maxEntries: 10_000 }), far: await pooledClient() });
    return { backend, advance, dispose: () => backend.close!() };
  },
});
