/**
 * The memory backend against lru-cache: get and set at 10 thousand and 1 million entries.
 * lru-cache is synchronous; our backend honours the async Backend contract, so the fair baseline
 * is lru-cache behind an async function (the first row); raw synchronous lru-cache is shown too.
 * EdgeCache's get (key making, decoding) is the figure an application sees; the same get of a
 * value filed under two tags shows what tags add (their records trusted for tagCheckMs), and a
 * getOrSet hit what it adds to a get.
 */
import { LRUCache } from "lru-cache";
import { memory } from "../adapters/memory.ts";
import { createCache } from "../src/cache.ts";
import { report, time } from "./lib.ts";

const value = new TextEncoder().encode("a cached fragment of about forty bytes..");

for (const size of [10_000, 1_000_000]) {
  const keys = Array.from({ length: size }, (_, i) => `:1:key-${i}`);
  const lru = new LRUCache<string, Uint8Array>({ max: size });
  const backend = memory({ maxEntries: size + 1 });
  const cache = createCache({ backend, onWarning: () => {} });
  for (const key of keys) {
    lru.set(key, value);
    await backend.set(key, value, null);
  }
  await cache.set("key-1", "a cached fragment of about forty bytes..");
  await cache.set("tagged-1", "a cached fragment of about forty bytes..", { tags: ["product:1", "catalogue"] });

  let i = 0;
  const next = () => keys[(i = (i + 7919) % size)]!;
  const asyncGet = async (key: string) => lru.get(key);
  const asyncSet = async (key: string) => lru.set(key, value);
  report(`get, ${size.toLocaleString("en-US")} entries`, [
    await time("lru-cache get (async, baseline)", () => asyncGet(next())),
    await time("lru-cache get (sync)", () => lru.get(next())),
    await time("edgecache memory backend get", () => backend.get(next())),
    await time("EdgeCache.get (key + decode)", () => cache.get("key-1")),
    await time("EdgeCache.get, a value under two tags", () => cache.get("tagged-1")),
    await time("EdgeCache.getOrSet, a hit", () => cache.getOrSet("key-1", "unused")),
  ]);
  report(`set (overwrite), ${size.toLocaleString("en-US")} entries`, [
    await time("lru-cache set (async, baseline)", () => asyncSet(next())),
    await time("lru-cache set (sync)", () => lru.set(next(), value)),
    await time("edgecache memory backend set", () => backend.set(next(), value, 300)),
  ]);
}
