import { afterAll } from "vitest";
import { memcached } from "../../adapters/memcached.ts";
import { describeBackendConformance } from "../conformance/backend-conformance.ts";
import { startMemcachedPool, type MemcachedServer } from "../fixtures/memcached.ts";

// One pool of two real servers for the whole suite, flushed before each test.
let pool: Promise<MemcachedServer[]> | undefined;
afterAll(async () => {
  await Promise.all((await pool)?.map((server) => server.stop()) ?? []);
});

describeBackendConformance("memcached (two-server pool)", {
  negativeCounters: false,
  strictKeys: true,
  async create() {
    pool ??= startMemcachedPool(2);
    const backend = memcached({ servers: (await pool).map((server) => server.location) });
    await backend.clear();
    return {
      backend,
      // memcached keeps whole seconds and its clock ticks once a second: TTLs are rounded up,
      // so wait for the rounded-up time plus a little slack for the tick.
      advance: (seconds) => new Promise((resolve) => setTimeout(resolve, Math.ceil(seconds) * 1000 + 150)),
      dispose: () => backend.close(),
    };
  },
});
