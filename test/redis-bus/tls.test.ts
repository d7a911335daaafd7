/**
 * The Redis bus over `rediss://`, against a private redis-server speaking TLS only with a fresh
 * self-signed certificate: trusted through `tls.ca`, it carries invalidations between two
 * "processes"; without it, the certificate is refused and reported, and nothing is heard.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { memory } from "../../adapters/memory.ts";
import { redisBus, type RedisBusOptions } from "../../adapters/redis-bus.ts";
import { tiered } from "../../adapters/tiered.ts";
import { createCache, type EdgeCache } from "../../src/cache.ts";
import { type RedisServer, startRedis } from "../fixtures/redis.ts";
import { type Certificate, selfSignedCertificate } from "../fixtures/tls.ts";

let certificate: Certificate;
let redis: RedisServer;
beforeAll(async () => {
  certificate = selfSignedCertificate();
  redis = await startRedis({ tls: certificate });
});
afterAll(() => redis.stop());

/** Two "processes" over one far store, each with its near tier (kept a minute) and its bus over rediss://. */
function processes(busOptions: Partial<RedisBusOptions>) {
  const far = memory();
  const channel = `edgecache-tls-${Math.random()}`;
  const errors: string[] = [];
  const open: EdgeCache[] = [];
  const process = () => {
    const bus = redisBus({ url: `rediss://localhost:${redis.port}`, channel, onError: (error) => errors.push(error.message), ...busOptions });
    const cache = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus }) });
    open.push(cache);
    return cache;
  };
  const [a, b] = [process(), process()];
  return { far: createCache({ backend: far }), a, b, errors, close: () => Promise.all(open.map((cache) => cache.close())) };
}

it("carries invalidations over rediss:// to a Redis whose certificate a private authority signed (tls.ca)", async () => {
  const t = processes({ tls: { ca: certificate.pem } });
  try {
    await t.far.set("k", "one");
    expect(await t.b.get("k")).toBe("one"); // kept near for a minute
    // Each round changes the value through one process; once both are subscribed, the other drops its near copy.
    let round = 0;
    await expect.poll(async () => {
      await t.a.set("k", `two ${++round}`);
      return t.b.get("k");
    }, { timeout: 5000, interval: 20 }).toMatch(/^two \d+$/);
    expect(t.errors).toEqual([]);
  } finally {
    await t.close();
  }
});

it("refuses a certificate it cannot verify, reports it, and hears nothing", async () => {
  const t = processes({});
  try {
    await t.far.set("k", "one");
    expect(await t.b.get("k")).toBe("one");
    await t.a.set("k", "two");
    await expect.poll(() => t.errors.join("\n"), { timeout: 5000, interval: 20 }).toMatch(/self-signed certificate/);
    expect(await t.b.get("k")).toBe("one"); // its near copy stands until nearTimeout, as without a bus
  } finally {
    await t.close();
  }
});

it("names a tls option it cannot use", () => {
  expect(() => redisBus({ url: `redis://localhost:${redis.port}`, tls: {} })).toThrow("options.tls needs a rediss:// URL");
  expect(() => redisBus({ url: `rediss://localhost:${redis.port}`, tls: {}, connect: async () => { throw new Error("unused"); } })).toThrow("options.tls and options.connect cannot be combined");
  expect(() => redisBus({ url: `rediss://localhost:${redis.port}`, tls: "yes" as never })).toThrow('options.tls must be tls.connect options, got "yes"');
});
