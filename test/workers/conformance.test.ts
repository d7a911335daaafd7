/**
 * The shared backend conformance suite, inside workerd, against Workers KV and the Cache API
 * (miniflare's). Each test gets an empty store: its own KV prefix, its own named cache.
 */
import { env } from "cloudflare:workers";
import { cacheApi } from "../../adapters/cache-api.ts";
import { workersKv } from "../../adapters/workers-kv.ts";
import { describeBackendConformance } from "../conformance/backend-conformance.ts";
import { fakeClock } from "../conformance/fake-clock.ts";

let created = 0;

describeBackendConformance("workers-kv", {
  fakeClock: true,
  streams: true,
  atomicIncrement: false,
  getWithTtl: true,
  create() {
    const clock = fakeClock();
    const backend = workersKv(env.CACHE_KV, { prefix: `conformance-${++created}:`, now: clock.now });
    return { backend, advance: clock.advance, dispose: () => backend.close!() };
  },
});

describeBackendConformance("cache-api", {
  fakeClock: true,
  streams: true,
  atomicIncrement: false,
  getWithTtl: true,
  create() {
    const clock = fakeClock();
    return { backend: cacheApi({ name: `conformance-${++created}`, now: clock.now }), advance: clock.advance };
  },
});
