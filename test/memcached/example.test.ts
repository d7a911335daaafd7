/**
 * examples/node-memcached, served by @hono/node-server over a pool of two real memcached servers;
 * and two of its processes with near tiers kept coherent through a real Redis.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMemcachedPool, type MemcachedServer } from "../fixtures/memcached.ts";
import { type RedisServer, RespConnection, startRedis } from "../fixtures/redis.ts";

let pool: MemcachedServer[];
let redis: RedisServer;
beforeAll(async () => {
  [pool, redis] = await Promise.all([startMemcachedPool(2), startRedis()]);
});
afterAll(async () => {
  await Promise.all([...pool.map((server) => server.stop()), redis.stop()]);
});

/** The example's server on a free-ish port, with `env` added; resolves once it listens. */
async function startExample(env: Record<string, string> = {}): Promise<{ child: ChildProcess; get: (path: string, init?: RequestInit) => Promise<Response> }> {
  const port = 20_000 + Math.floor(Math.random() * 12_000);
  const child = spawn(process.execPath, ["--import", "tsx", "examples/node-memcached/server.ts"], {
    env: { ...process.env, PORT: String(port), MEMCACHED_SERVERS: pool.map((server) => server.location).join(";"), ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("listening") && resolve());
    child.once("exit", (code) => reject(new Error(`the example exited with ${code}`)));
  });
  return { child, get: (path, init) => fetch(`http://127.0.0.1:${port}${path}`, init) };
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  await once(child, "exit");
}

describe("examples/node-memcached", () => {
  it("serves cached pages and an atomic counter from a memcached pool", async () => {
    const { child, get } = await startExample();
    try {
      const first = await get("/reports/daily");
      expect(first.headers.get("cache-status")).toMatch(/fwd=uri-miss; stored/);
      const page = await first.text();
      expect(page).toContain("Report daily");
      await expect.poll(async () => (await get("/reports/daily")).headers.get("cache-status")).toMatch(/; hit/);
      expect(await (await get("/reports/daily")).text()).toBe(page);

      const visits = await Promise.all(Array.from({ length: 20 }, async () => (await (await get("/visits")).json()) as { visits: number }));
      expect(visits.map(({ visits }) => visits).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await stop(child);
    }
  });

  it("answers pages, the default greeting and a 503 for the counter while memcached is down, and escapes what the URL puts in a page", async () => {
    const { child, get } = await startExample({ MEMCACHED_SERVERS: "127.0.0.1:1" }); // nothing listens there
    try {
      const page = await get("/reports/Q&A's");
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<h1>Report Q&amp;A&#39;s</h1>");
      expect(await (await get("/greeting")).json()).toEqual({ greeting: "hello" });
      const visits = await get("/visits");
      expect([visits.status, await visits.json()]).toEqual([503, { error: "the cache is unavailable, try again" }]);
    } finally {
      await stop(child);
    }
  });

  it("with REDIS_URL, keeps values in each process's memory and drops them everywhere when one process changes them", async () => {
    const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}` };
    const [one, two] = await Promise.all([startExample(env), startExample(env)]);
    try {
      const greeting = async (example: typeof one) => ((await (await example.get("/greeting")).json()) as { greeting: string }).greeting;
      expect((await one.get("/greeting", { method: "PUT", body: "hello" })).status).toBe(204);
      expect(await greeting(two)).toBe("hello"); // now in two's memory for a minute
      const admin = await RespConnection.open(redis.port);
      try {
        // Both processes are listening on the bus before the change.
        await expect.poll(async () => Number(((await admin.send([["PUBSUB", "NUMSUB", "edgecache:invalidations"]]))[0] as [Buffer, bigint])[1])).toBe(2);
      } finally {
        admin.close();
      }
      await one.get("/greeting", { method: "PUT", body: "bonjour" });
      await expect.poll(() => greeting(two), { timeout: 5000, interval: 20 }).toBe("bonjour");
    } finally {
      await Promise.all([stop(one.child), stop(two.child)]);
    }
  });
});
