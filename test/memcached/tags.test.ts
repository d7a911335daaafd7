/** Cache tags on a real memcached, where isolates keep what they read: two clients stand in for two Node processes. */
import { expect, it } from "vitest";
import { cachePage, createCache, purgeTag } from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { useMemcachedServer } from "./helpers.ts";

const memcache = useMemcachedServer();
/**
 * A client standing for a process of its own. Backends over one pool share what the isolate
 * learns (their identity is the pool's), so each gets an identity of its own here.
 */
const processClient = () => ({ ...memcache.client(), identity: {} });

it("purges a tag from one process; the other trusts what it read for tagCheckMs, then misses too; a long, spaced tag is hashed into a valid key", async () => {
  const clock = fakeClock(Date.now());
  const tag = `author: ${"Ada Lovelace ".repeat(20)}`;
  const writes: Promise<unknown>[] = [];
  const settle = async () => void (await Promise.all(writes.splice(0)));
  const aProcess = (keyPrefix: string) => {
    const client = processClient();
    const cache = createCache({ backend: client });
    let renders = 0;
    const handler = cachePage(60, { cache, keyPrefix, now: clock.now, tags: [tag], waitUntil: (write) => void writes.push(write) })(async (_request: Request) => new Response(`render ${++renders}`));
    return { cache, shared: client.capabilities.shared, get: async () => { const response = await handler(new Request("https://example.com/articles/1")); const body = await response.text(); await settle(); return [body, response.headers.get("cache-status")]; } };
  };
  // Each process its own page (key prefix), both filed under the tag.
  const [one, two] = [aProcess("one"), aProcess("two")];
  expect(await one.get()).toEqual(["render 1", "edgecache; fwd=uri-miss; stored"]);
  expect(await two.get()).toEqual(["render 1", "edgecache; fwd=uri-miss; stored"]);
  expect(await two.get()).toEqual(["render 1", "edgecache; hit; ttl=60"]);
  clock.advance(0.5);
  await purgeTag(tag, { cache: one.cache, now: clock.now });
  clock.advance(0.1); // a page made in the purge's own millisecond would count as purged
  expect(await one.get()).toEqual(["render 2", "edgecache; fwd=stale; stored"]);
  // Process two read the tag's record 0.6 s ago and still trusts it...
  expect(await two.get()).toEqual(["render 1", "edgecache; hit; ttl=60"]);
  clock.advance(0.4);
  // ...until its second is up.
  expect(await two.get()).toEqual(["render 2", "edgecache; fwd=stale; stored"]);
  expect(await one.get()).toEqual(["render 2", "edgecache; hit; ttl=60"]);
  expect([one.shared, two.shared]).toEqual([true, true]); // so each process kept what it read
});

it("ends tagged low-level values across processes: a purge from one is seen at once there, and by the other once tagCheckMs is up", async () => {
  const clock = fakeClock(Date.now());
  const aProcess = () => createCache({ backend: processClient(), keyPrefix: "values", now: clock.now });
  const [one, two] = [aProcess(), aProcess()];
  await one.set("price:1", 10, { tags: ["product:1"] });
  expect(await one.getOrSet("stock:1", async () => 5, { tags: ["product:1"] })).toBe(5);
  expect(await two.getMany(["price:1", "stock:1"])).toEqual(new Map([["price:1", 10], ["stock:1", 5]]));
  clock.advance(0.5);
  await purgeTag("product:1", { cache: one, now: clock.now });
  clock.advance(0.1);
  expect(await one.get("price:1")).toBeUndefined();
  expect(await two.get("price:1")).toBe(10);
  clock.advance(0.4);
  expect(await two.getMany(["price:1", "stock:1"])).toEqual(new Map());
  expect(await two.add("price:1", 11, { tags: ["product:1"] })).toBe(true);
  expect(await one.get("price:1")).toBe(11);
});
