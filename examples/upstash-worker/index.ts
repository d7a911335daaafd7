/**
 * Cloudflare Worker + Upstash Redis: a report that is expensive to build is cached for 60 s in
 * Upstash (shared by every isolate and region), and `/visits` is an atomic counter.
 *
 * Run it: put the two secrets from the Upstash console in `examples/upstash-worker/.dev.vars`
 * (UPSTASH_REDIS_REST_URL=..., UPSTASH_REDIS_REST_TOKEN=...), then
 * `npx wrangler dev -c examples/upstash-worker/wrangler.toml`. Deploy with `wrangler secret put`.
 */
import { upstash } from "../../adapters/upstash.ts";
import { createCache, type EdgeCache } from "../../src/index.ts";

/**
 * The Worker's bindings: the REST URL and token of the Upstash database.
 *
 * @example
 * const env: Env = { UPSTASH_REDIS_REST_URL: "https://eu1-example.upstash.io", UPSTASH_REDIS_REST_TOKEN: "AX..." };
 */
export interface Env {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
}

let cache: EdgeCache | undefined;

/** One cache per isolate, made on the first request, when the bindings are known. */
function cacheFor(env: Env): EdgeCache {
  cache ??= createCache({
    backend: upstash({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, prefix: "worker-example" }),
    timeout: 60,
  });
  return cache;
}

/** Stands in for slow work: a database query, an upstream API, a template render. */
async function buildReport(path: string): Promise<{ path: string; builtAt: string }> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { path, builtAt: new Date().toISOString() };
}

/**
 * The Worker.
 *
 * @example
 * // GET /reports/daily -> {"path":"/reports/daily","builtAt":"..."} (the same builtAt for 60 s)
 * // GET /visits        -> {"visits":1}, then {"visits":2}, ...
 * const response = await worker.fetch(new Request("https://example.com/visits"), env);
 */
const worker = {
  async fetch(request: Request, env: Env): Promise<Response> {
    const cache = cacheFor(env);
    const { pathname } = new URL(request.url);
    if (pathname === "/visits") {
      await cache.add("visits", 0, { timeout: null });
      return Response.json({ visits: await cache.incr("visits") });
    }
    return Response.json(await cache.getOrSet(`report:${pathname}`, () => buildReport(pathname)));
  },
};

export default worker;
