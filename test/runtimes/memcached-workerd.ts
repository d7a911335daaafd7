/**
 * memcached on Workers: a Worker in workerd reaches a real, private memcached through the Socket
 * API (test/workers/memcached-worker.ts), request after request, and page caching over it
 * stores a page in one request and serves it in the next. Run by the matrix driver under Node 20,
 * which starts the memcached.
 */
import { startMemcached } from "../fixtures/memcached.ts";
import { equal, suite } from "../portable/harness.ts";
import { startWorkerd } from "./workerd.ts";

/** Runs `use` with a memcached and the Worker bound to it; stops both. */
async function withWorker(use: (fetchText: (path: string) => Promise<{ status: number; body: string; cacheStatus: string | null }>) => Promise<void>): Promise<void> {
  const server = await startMemcached();
  try {
    const worker = await startWorkerd("test/workers/memcached-worker.ts", { bindings: { MEMCACHED: server.location }, compatibilityFlags: ["nodejs_compat"] });
    try {
      await use(async (path) => {
        const response = await worker.fetch(path);
        return { status: response.status, body: await response.text(), cacheStatus: response.headers.get("cache-status") };
      });
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
 * await runTests([memcachedOnWorkers], console.log);
 */
export default suite("memcached-workerd", (test) => {
  test("each request reaches memcached over its own socket: a counter counts across requests", () => withWorker(async (fetchText) => {
    const counts = [];
    for (let i = 0; i < 3; i++) counts.push(await fetchText("/counter"));
    equal(counts.map(({ status, body }) => [status, body]), [[200, "1"], [200, "2"], [200, "3"]]);
  }));

  test("cachePage over memcached stores a page in one request and serves it in the next", () => withWorker(async (fetchText) => {
    const miss = await fetchText("/page");
    const hit = await fetchText("/page");
    equal([miss.body, miss.cacheStatus], ["render 1", "edgecache; fwd=uri-miss; stored"]);
    equal([hit.body, hit.cacheStatus], ["render 1", "edgecache; hit; ttl=60"]);
  }));

  test("a Unix socket server is refused with an error that says why", () => withWorker(async (fetchText) => {
    const { status, body } = await fetchText("/unix");
    equal(status, 500);
    equal(/the Socket API has no Unix sockets/.test(body), true, `the error (${body})`);
  }));
});
