/**
 * On Workers a socket belongs to the request that opened it, so each request makes its own
 * memcached backend. What edgecache learns of the store in the isolate (a page's vary list, the
 * tag records it read) is kept per pool, not per backend object, so it outlives each request's
 * backend: a repeat hit costs the reads it costs through one long-lived backend.
 */
import { expect, it } from "vitest";
import type { Backend } from "../../src/backend.ts";
import { cachePage, createCache, varyOnHeaders } from "../../src/index.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { useMemcachedServer } from "./helpers.ts";

const memcache = useMemcachedServer();
const clock = fakeClock(Date.now());

/** A new backend over the pool, as one request makes it, recording the keys it reads into `reads`. */
function requestBackend(reads: string[]): Backend {
  const backend = memcache.client();
  return {
    ...backend,
    get: (key) => (reads.push(key), backend.get(key)),
    getWithTtl: (key) => (reads.push(key), backend.getWithTtl(key)),
    getMany: (keys) => (reads.push(...keys), backend.getMany(keys)),
  };
}

it("a varying, tagged page read through a new backend per request is one read once the isolate knows its vary list and tags", async () => {
  const reads: string[] = [];
  const writes: Promise<unknown>[] = [];
  let renders = 0;
  const page = cachePage(60, {
    cache: () => createCache({ backend: requestBackend(reads), now: clock.now }),
    now: clock.now,
    tags: ["product:1"],
    waitUntil: (write) => void writes.push(write),
  })(varyOnHeaders("Accept-Language")(async (_request: Request) => new Response(`render ${++renders}`)));
  const get = async () => {
    reads.length = 0;
    const response = await page(new Request("https://shop.example/products/1", { headers: { "accept-language": "fr" } }));
    const answer = [await response.text(), response.headers.get("cache-status")];
    await Promise.all(writes.splice(0));
    return answer;
  };

  expect(await get()).toEqual(["render 1", "edgecache; fwd=uri-miss; stored"]);
  expect(await get()).toEqual(["render 1", "edgecache; hit; ttl=60"]);
  // The variant only: no vary index and no tag record read again, though the backend is new.
  expect(reads).toHaveLength(1);
  expect(reads[0]).toMatch(/^:1:page\.GET\.0:\.https:\/\/shop\.example\/products\/1"v\.[0-9a-f]{64}$/);
});

it("a tagged value read through a new backend per request checks its tags once per tagCheckMs, not once per request", async () => {
  const reads: string[] = [];
  const perRequest = () => createCache({ backend: requestBackend(reads), keyPrefix: "values", now: clock.now });
  await perRequest().set("price:1", 10, { tags: ["product:1"] });
  for (let request = 0; request < 3; request++) {
    reads.length = 0;
    expect(await perRequest().get("price:1")).toBe(10);
    expect(reads).toEqual(["values:1:price:1"]);
  }
  clock.advance(1);
  reads.length = 0;
  expect(await perRequest().get("price:1")).toBe(10);
  expect(reads).toHaveLength(3); // the value, then the tag's two records, once the second is up
});
