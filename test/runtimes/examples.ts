/**
 * The runnable examples, started as a user would start them: `deno serve examples/deno/main.ts`
 * and `bun examples/bun/server.ts`, each on a free loopback port, each asked for a page twice
 * (a miss that is stored, then a hit with the same body). Deno's example is also type-checked
 * by Deno, against Deno's own types.
 */
import { equal, ok, suite } from "../portable/harness.ts";
import { BINARIES, runCommand, type Server, startServer } from "./processes.ts";

const { deno: DENO, bun: BUN } = BINARIES;
const STARTUP_MS = 60_000;

/** Fetch `/` twice from `server`, expecting a stored miss then a hit with the same body; always stops the server. */
async function missThenHit(server: Server): Promise<void> {
  try {
    const fetchPage = async () => {
      const response = await fetch(`${server.origin}/`);
      return { status: response.status, cacheStatus: response.headers.get("cache-status"), body: await response.text() };
    };
    const miss = await fetchPage();
    const hit = await fetchPage();
    equal([miss.status, miss.cacheStatus], [200, "edgecache; fwd=uri-miss; stored"], "the first request");
    equal([hit.status, hit.cacheStatus], [200, "edgecache; hit; ttl=60"], "the second request");
    equal(hit.body, miss.body, "the hit's body");
  } finally {
    await server.stop();
  }
}

/**
 * The examples suite, run by the matrix driver under Node 20.
 *
 * @example
 * await runTests([examples], console.log);
 */
export default suite("examples", (test) => {
  test("examples/deno under deno serve: a miss, then a hit", async () =>
    missThenHit(await startServer(DENO, ["serve", "--host", "127.0.0.1", "--port", "0", "examples/deno/main.ts"], STARTUP_MS)));

  test("examples/bun under Bun.serve: a miss, then a hit", async () =>
    missThenHit(await startServer(BUN, ["examples/bun/server.ts"], STARTUP_MS, { HOST: "127.0.0.1", PORT: "0" })));

  test("examples/deno type-checks with deno check", async () => {
    const { code, output } = await runCommand(DENO, ["check", "examples/deno/main.ts"], STARTUP_MS);
    ok(code === 0, `deno check failed:\n${output}`);
  });
});
