/**
 * The memcached backend against memjs (binary protocol, pipelined on one socket per server), both
 * on one private memcached: get and set throughput at concurrency 1 and 50, and a read of 100
 * keys (our one quiet `mg` batch against memjs's 100 pipelined gets; memjs has no multi-get).
 * Gets also run through the tiered backend with memory in front (its near tier answers all but
 * one read per key every 5 s). Ratios are ops/s against memjs: above 1 means faster. Last, 100
 * cached values read through EdgeCache: 100 `getOrSet` calls at once against one `getOrSetMany`.
 */
import { createRequire } from "node:module";
import { memcached } from "../adapters/memcached.ts";
import { memory } from "../adapters/memory.ts";
import { tiered } from "../adapters/tiered.ts";
import { createCache } from "../src/index.ts";
import { startMemcached } from "../test/fixtures/memcached.ts";
import { reportThroughput, throughput } from "./lib.ts";

interface MemjsClient {
  get(key: string): Promise<{ value: Uint8Array | null }>;
  set(key: string, value: Uint8Array, options: { expires: number }): Promise<boolean>;
  close(): void;
}
const memjs = createRequire(import.meta.url)("memjs") as { Client: { create(servers: string, options: object): MemjsClient } };

const ROUNDS = 3;
const ROUND_MS = 1000;

/**
 * Each contender's best of three one-second rounds, taken in turns so that a burst of load on
 * this shared machine falls on both rather than on one.
 */
async function compare(title: string, concurrency: number, contenders: ReadonlyArray<readonly [string, () => Promise<unknown>]>): Promise<void> {
  const best = contenders.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, [, operation]] of contenders.entries()) best[index] = Math.max(best[index]!, await throughput(concurrency, ROUND_MS, operation));
  }
  reportThroughput(title, contenders.map(([name], index) => [name, best[index]!]));
}

const server = await startMemcached();
try {
  const ours = memcached({ servers: server.location });
  const theirs = memjs.Client.create(server.location, { timeout: 1, logger: { log: () => {} } });
  const value = new TextEncoder().encode("a cached fragment of about a hundred bytes, a typical small page-cache header or counter..");
  const keys = Array.from({ length: 1000 }, (_, i) => `:1:bench-${i}`);
  await ours.setMany(keys.map((key) => [key, value]), 600);
  let i = 0;
  const next = () => keys[(i = (i + 1) % keys.length)]!;

  const layered = tiered({ near: memory({ maxEntries: 2000 }), far: ours });

  for (const concurrency of [1, 50]) {
    await compare(`get, concurrency ${concurrency}`, concurrency, [
      ["memjs", () => theirs.get(next())],
      ["edgecache memcached", () => ours.get(next())],
      ["edgecache tiered (memory in front of it)", () => layered.get(next())],
    ]);
    await compare(`set, concurrency ${concurrency}`, concurrency, [
      ["memjs", () => theirs.set(next(), value, { expires: 600 })],
      ["edgecache memcached", () => ours.set(next(), value, 600)],
    ]);
  }
  const hundred = keys.slice(0, 100);
  await compare("getMany of 100 keys (batches/s)", 1, [
    ["memjs (100 pipelined gets)", () => Promise.all(hundred.map((key) => theirs.get(key)))],
    ["edgecache memcached (one mg batch)", () => ours.getMany(hundred)],
  ]);

  const cache = createCache({ backend: ours, keyPrefix: "bench" });
  const ids = Array.from({ length: 100 }, (_, n) => `product:${n}`);
  const product = (id: string) => ({ id, name: `product ${id}`, price: 19.5 });
  await cache.setMany(ids.map((id) => [id, product(id)] as const), { timeout: 600 });
  await compare("100 cached values through EdgeCache (batches/s)", 1, [
    ["100 getOrSet calls at once", () => Promise.all(ids.map((id) => cache.getOrSet(id, () => product(id))))],
    ["one getOrSetMany", () => cache.getOrSetMany(ids, (missing) => new Map(missing.map((id) => [id, product(id)])))],
  ]);

  theirs.close();
  await ours.close();
} finally {
  await server.stop();
}
