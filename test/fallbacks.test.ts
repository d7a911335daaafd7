import { describe, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import type { Backend } from "../src/backend.ts";
import { createCache } from "../src/cache.ts";
import { describeBackendConformance } from "./conformance/backend-conformance.ts";
import { fakeClock } from "./conformance/fake-clock.ts";

/** A backend with only the required operations, as a third-party adapter might start out. */
function minimal(full: Backend, extra: Partial<Backend> = {}): Backend {
  return { name: "minimal", get: full.get, set: full.set, delete: full.delete, clear: full.clear, ...extra };
}

describeBackendConformance("generic fallbacks over get/set/delete (with ttl)", {
  fakeClock: true,
  atomicIncrement: false,
  create() {
    const clock = fakeClock();
    const full = memory({ now: clock.now, maxEntries: 10_000 });
    return { backend: minimal(full, { ttl: full.ttl }), advance: clock.advance };
  },
});

describe("generic fallbacks", () => {
  it("increment without a ttl operation stores the result with the cache's default timeout", async () => {
    const clock = fakeClock();
    const cache = createCache({ backend: minimal(memory({ now: clock.now })), timeout: 10 });
    await cache.set("n", 1, { timeout: null });
    expect(await cache.incr("n")).toBe(2);
    clock.advance(11);
    expect(await cache.has("n")).toBe(false);
  });

  it("increment without a ttl operation and a default timeout of 0 keeps no counter, as Django's incr writing with it", async () => {
    const cache = createCache({ backend: minimal(memory()), timeout: 0 });
    await cache.set("n", 1, { timeout: 60 });
    expect(await cache.incr("n")).toBe(2);
    expect(await cache.has("n")).toBe(false); // never a counter that lives for ever
  });

  it("clear on a backend without clear() says so", async () => {
    const full = memory();
    const cache = createCache({ backend: { name: "tiny", get: full.get, set: full.set, delete: full.delete } });
    await expect(cache.clear()).rejects.toThrow("the tiny backend cannot clear()");
  });
});
