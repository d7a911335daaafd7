/**
 * Deno + Upstash Redis: a fixed-window rate limiter, 5 requests per 10 s per client address,
 * counted with EdgeCache's atomic `add` and `incr` (SET NX EX and INCRBY in Upstash), so every
 * Deno Deploy instance shares the same counts. When Upstash cannot be reached it fails open.
 *
 * The client is made here so its retries can suit a hot path: one quick retry instead of the
 * client's default five with exponential backoff, and each request given up after 500 ms (the
 * adapter's own limit applies only to a client it makes): a frozen Upstash fails open too.
 *
 * Run it from the repository root (after `npm install`):
 *   UPSTASH_REDIS_REST_URL=... UPSTASH_REDIS_REST_TOKEN=... \
 *   npx deno serve --allow-net --allow-env --allow-read examples/upstash-deno/main.ts
 */
import { Redis } from "@upstash/redis";
import { upstash } from "../../adapters/upstash.ts";
import { createCache } from "../../src/index.ts";

declare const Deno: { env: { get(name: string): string | undefined } };

const LIMIT = 5;
const WINDOW_SECONDS = 10;

const redis = new Redis({
  url: Deno.env.get("UPSTASH_REDIS_REST_URL"),
  token: Deno.env.get("UPSTASH_REDIS_REST_TOKEN"),
  automaticDeserialization: false,
  retry: { retries: 1, backoff: () => 50 },
  signal: () => AbortSignal.timeout(500),
});
const counters = createCache({ backend: upstash({ client: redis, prefix: "deno-example" }) });

/** Requests made so far by `client` in the current window, this one included. */
async function countRequest(client: string): Promise<number> {
  const window = Math.floor(Date.now() / 1000 / WINDOW_SECONDS);
  const key = `hits:${client}:${window}`;
  await counters.add(key, 0, { timeout: WINDOW_SECONDS }); // starts the window; a no-op when it exists
  return counters.incr(key);
}

/**
 * The server, in the shape `deno serve` takes.
 *
 * @example
 * // the first five requests in a 10 s window: 200 "hello (request 3 of 5 in this window)"
 * // the sixth:                                 429 with Retry-After
 * const response = await server.fetch(request, { remoteAddr: { hostname: "203.0.113.7" } });
 */
const server = {
  async fetch(_request: Request, info: { remoteAddr: { hostname: string } }): Promise<Response> {
    let count: number;
    try {
      count = await countRequest(info.remoteAddr.hostname);
    } catch (error) {
      console.error("rate limiter unavailable, letting the request through:", error);
      return new Response("hello (not counted)\n");
    }
    if (count > LIMIT) {
      return new Response("too many requests\n", { status: 429, headers: { "retry-after": String(WINDOW_SECONDS) } });
    }
    return new Response(`hello (request ${count} of ${LIMIT} in this window)\n`);
  },
};

export default server;
