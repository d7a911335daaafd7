/** Collapsing across processes on a real memcached: two clients stand in for two Node processes. */
import { afterAll, beforeAll, expect, it } from "vitest";
import { memcached, type MemcachedBackend } from "../../adapters/memcached.ts";
import { cachePage, createCache } from "../../src/index.ts";
import { startMemcached, type MemcachedServer } from "../fixtures/memcached.ts";

let server: MemcachedServer;
const clients: MemcachedBackend[] = [];
beforeAll(async () => {
  server = await startMemcached();
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.stop();
});

it("runs the handler once when two processes miss the same page at once", async () => {
  let calls = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const writes: Promise<unknown>[] = [];
  const aProcess = () => {
    const client = memcached({ servers: [server.location] });
    clients.push(client);
    return cachePage(60, { cache: createCache({ backend: client }), waitUntil: (write) => void writes.push(write) })(async (_request: Request) => {
      calls++;
      await gate;
      return new Response("the report");
    });
  };
  const [one, two] = [aProcess(), aProcess()];
  const first = one(new Request("https://example.com/report"));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = two(new Request("https://example.com/report"));
  await new Promise((resolve) => setTimeout(resolve, 50));
  open();
  expect(await (await first).text()).toBe("the report");
  await Promise.all(writes);
  const collapsed = await second;
  expect(collapsed.headers.get("cache-status")).toMatch(/^edgecache; hit; ttl=\d+; detail=collapsed$/);
  expect(await collapsed.text()).toBe("the report");
  expect(calls).toBe(1);
});
