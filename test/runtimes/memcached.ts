/**
 * The memcached adapter beyond Node 20 (where vitest runs it): on Deno, Bun, Node 22 and 24 over
 * their own `node:net` (test/runtimes/memcached-cli.ts against a private two-server pool, and the
 * tiered backend over it with a Redis bus against a private Redis), and on
 * Workers: a Worker in workerd reaches a private memcached through the Socket API
 * (test/workers/memcached-worker.ts), request after request, and page caching over it stores a
 * page in one request and serves it in the next. Run by the matrix driver under Node 20, which
 * starts the memcached processes.
 */
import { type MemcachedServer, startMemcached, startMemcachedPool } from "../fixtures/memcached.ts";
import { startRedis } from "../fixtures/redis.ts";
import { equal, ok, suite } from "../portable/harness.ts";
import { BINARIES, runCommand } from "./processes.ts";
import { startWorkerd } from "./workerd.ts";

const LIMIT_MS = 60_000;

/** How each command-line runtime runs the memcached suite. */
const RUNNERS: Array<[name: string, binary: string, args: string[]]> = [
  ["Deno", BINARIES.deno, ["run", "--allow-net=127.0.0.1", "--allow-env=MEMCACHED,REDIS", "test/runtimes/memcached-cli.ts"]],
  ["Bun", BINARIES.bun, ["test/runtimes/memcached-cli.ts"]],
  ["Node 22", BINARIES.node22, ["--no-warnings", "test/runtimes/memcached-cli.ts"]],
  ["Node 24", BINARIES.node24, ["--no-warnings", "test/runtimes/memcached-cli.ts"]],
];

/** Runs `use` with a memcached and the Worker bound to it; stops both. */
async function withWorker(use: (fetchText: (path: string) => Promise<{ status: number; body: string; cacheStatus: string | null }>, server: MemcachedServer) => Promise<void>): Promise<void> {
  const server = await startMemcached();
  try {
    const worker = await startWorkerd("test/workers/memcached-worker.ts", { bindings: { MEMCACHED: server.location }, compatibilityFlags: ["nodejs_compat"] });
    try {
      await use(async (path) => {
        const response = await worker.fetch(path);
        return { status: response.status, body: await response.text(), cacheStatus: response.headers.get("cache-status") };
      }, server);
    } finally {
      await worker.dispose();
    }
  } finally {
    await server.stop();
  }
}

/**
 * The suite, run by the matrix driver under Node 20.
 *
 * @example
 * await runTests([memcachedRuntimes], console.log);
 */
export default suite("memcached", (test) => {
  for (const [name, binary, args] of RUNNERS) {
    test(`${name}: values, counters, batches and cachePage over a two-server pool, and tiered over it with a Redis bus, on node:net`, async () => {
      const [pool, redis] = await Promise.all([startMemcachedPool(2), startRedis()]);
      try {
        const env = { MEMCACHED: pool.map((server) => server.location).join(";"), REDIS: String(redis.port) };
        const { code, output } = await runCommand(binary, args, LIMIT_MS, env);
        ok(code === 0 && /^3 passed, 0 failed$/m.test(output), `the memcached suite under ${name}:\n${output}`);
      } finally {
        await Promise.all([...pool.map((server) => server.stop()), redis.stop()]);
      }
    });
  }

  test("workerd: each request reaches memcached over its own socket: a counter counts across requests", () => withWorker(async (fetchText) => {
    const counts = [];
    for (let i = 0; i < 3; i++) counts.push(await fetchText("/counter"));
    equal(counts.map(({ status, body }) => [status, body]), [[200, "1"], [200, "2"], [200, "3"]]);
  }));

  test("workerd: cachePage over memcached stores a page in one request and serves it in the next", () => withWorker(async (fetchText) => {
    const miss = await fetchText("/page");
    const hit = await fetchText("/page");
    equal([miss.body, miss.cacheStatus], ["render 1", "edgecache; fwd=uri-miss; stored"]);
    equal([hit.body, hit.cacheStatus], ["render 1", "edgecache; hit; ttl=60"]);
  }));

  test("workerd: a server that stops answering costs one request the time limit; the next requests' backends leave it alone", () => withWorker(async (fetchText, server) => {
    await server.freeze();
    try {
      const first = await fetchText("/probe");
      const next = await fetchText("/probe");
      equal([first.status, /no answer within 300 ms/.test(first.body)], [500, true], `the first request's error (${first.body})`);
      equal([next.status, /is down; next attempt in \d+ ms/.test(next.body)], [500, true], `the next request's error (${next.body})`);
    } finally {
      server.thaw();
    }
  }));

  test("workerd: a Unix socket server is refused with an error that says why", () => withWorker(async (fetchText) => {
    const { status, body } = await fetchText("/unix");
    equal(status, 500);
    equal(/the Socket API has no Unix sockets/.test(body), true, `the error (${body})`);
  }));
});
