/**
 * The check every backend's page caching must pass on every runtime: a page rendered once is
 * stored, then served from the cache.
 */
import { cachePage, type EdgeCache } from "../../src/index.ts";
import { equal } from "./harness.ts";

/**
 * Ask a `cachePage`'d handler over `cache` for one page twice, waiting for the write in between:
 * the first answer is a stored miss, the second a hit with the same render.
 *
 * @example
 * test("cachePage over memcached", () => storedThenServed(createCache({ backend })));
 */
export async function storedThenServed(cache: EdgeCache, now?: () => number): Promise<void> {
  const writes: Promise<unknown>[] = [];
  let renders = 0;
  const handler = cachePage(60, { cache, now, waitUntil: (write) => void writes.push(write) })((_request: Request) => new Response(`render ${++renders}`));
  const fetchPage = async () => {
    const response = await handler(new Request("https://example.com/"));
    const body = await response.text();
    await Promise.all(writes.splice(0));
    return [body, response.headers.get("cache-status")];
  };
  equal(await fetchPage(), ["render 1", "edgecache; fwd=uri-miss; stored"]);
  equal(await fetchPage(), ["render 1", "edgecache; hit; ttl=60"]);
}
