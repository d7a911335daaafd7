/**
 * Cloudflare Worker + Upstash Redis: report pages are cached for 60 s with `cachePage`, in Upstash,
 * so every isolate and region shares them; `/visits` is an atomic counter. Cache writes ride on
 * `ctx.waitUntil`, so they finish after the response has gone out.
 *
 * Run it: put the two secrets from the Upstash console in `examples/upstash-worker/.dev.vars`
 * (UPSTASH_REDIS_REST_URL=..., UPSTASH_REDIS_REST_TOKEN=...), then
 * `npx wrangler dev -c examples/upstash-worker/wrangler.toml`. Deploy with `wrangler secret put`.
 */
import { upstash } from "../../adapters/upstash.ts";
import { cachePage, createCache, type EdgeCache } from "../../src/index.ts";

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

/** What Workers pass as the third argument; only `waitUntil` is used here. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

let cache: EdgeCache | undefined;

/** One cache per isolate, made on the first request, when the bindings are known. */
function cacheFor(env: Env): EdgeCache {
  cache ??= createCache({
    backend: upstash({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, prefix: "worker-example" }),
  });
  return cache;
}

/** `text` for HTML: the report's name comes from the URL, and the page is cached for everyone. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The report pages' paths: `/reports/<name>`. Other paths are not pages (nothing is cached for them, so no URL costs a write). */
const REPORT_PATH = /^\/reports\/([^/]+)$/;

/** A page that is slow to build (it stands in for database queries and a template render). */
const report = cachePage(60, { cache: (_request, env: Env) => cacheFor(env) })(async (request: Request, _env: Env, _ctx: ExecutionContext) => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  const name = decodeURIComponent(REPORT_PATH.exec(new URL(request.url).pathname)![1]!);
  return new Response(`<h1>Report ${escapeHtml(name)}</h1><p>built at ${new Date().toISOString()}</p>`, {
    headers: { "content-type": "text/html; charset=utf-8" },
  });
});

/**
 * The Worker.
 *
 * @example
 * // GET /reports/daily -> the page, built once a minute; Cache-Status says hit or miss
 * // GET /visits        -> {"visits":1}, then {"visits":2}, ... (503 while Upstash is unreachable)
 * // anything else      -> 404
 * const response = await worker.fetch(new Request("https://example.com/visits"), env, ctx);
 */
const worker = {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (REPORT_PATH.test(path)) return report(request, env, ctx);
    if (path !== "/visits") return new Response("not found\n", { status: 404 });
    try {
      const counters = cacheFor(env);
      await counters.add("visits", 0, { timeout: null });
      return Response.json({ visits: await counters.incr("visits") });
    } catch (error) {
      console.error("visits:", error); // a counter needs the store: say so rather than fail with a stack trace
      return Response.json({ error: "the counter is unavailable, try again" }, { status: 503 });
    }
  },
};

export default worker;
