/** examples/node-memcached, served by @hono/node-server over a pool of two real memcached servers. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMemcachedPool, type MemcachedServer } from "../fixtures/memcached.ts";

let pool: MemcachedServer[];
beforeAll(async () => {
  pool = await startMemcachedPool(2);
});
afterAll(async () => {
  await Promise.all(pool.map((server) => server.stop()));
});

describe("examples/node-memcached", () => {
  it("serves cached pages and an atomic counter from a memcached pool", async () => {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const child = spawn(process.execPath, ["--import", "tsx", "examples/node-memcached/server.ts"], {
      env: { ...process.env, PORT: String(port), MEMCACHED_SERVERS: pool.map((server) => server.location).join(";") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("listening") && resolve());
        child.once("exit", (code) => reject(new Error(`the example exited with ${code}`)));
      });
      const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);

      const first = await get("/reports/daily");
      expect(first.headers.get("cache-status")).toMatch(/fwd=uri-miss; stored/);
      const page = await first.text();
      expect(page).toContain("Report daily");
      await expect.poll(async () => (await get("/reports/daily")).headers.get("cache-status")).toMatch(/; hit/);
      expect(await (await get("/reports/daily")).text()).toBe(page);

      const visits = await Promise.all(Array.from({ length: 20 }, async () => (await (await get("/visits")).json()) as { visits: number }));
      expect(visits.map(({ visits }) => visits).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
});
