/** examples/node-demo: what `npm start` runs, as a child process on a free port. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";

describe("examples/node-demo (npm start)", () => {
  it("prints its URL and a curl line, caches the slow page and serves it stale after a soft purge, keeps /me per visitor and /now uncached", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/node-demo/server.ts"], {
      env: { ...process.env, PORT: "0" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      let printed = "";
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => (printed += chunk.toString()).includes("grep -i cache-status") && resolve()); // its last line
        child.once("exit", (code) => reject(new Error(`the demo exited with ${code}`)));
      });
      const url = /listening on (http:\/\/localhost:\d+)/.exec(printed)![1]!;
      expect(printed).toContain(`curl -s -D - -o /dev/null -o /dev/null ${url}/slow ${url}/slow | grep -i cache-status`);
      const get = async (path: string, headers: Record<string, string> = {}) => {
        const response = await fetch(`${url}${path}`, { headers });
        return { body: await response.text(), headers: response.headers, cacheStatus: response.headers.get("cache-status") };
      };

      const started = performance.now();
      const miss = await get("/slow");
      expect(performance.now() - started).toBeGreaterThanOrEqual(1900);
      expect(miss.cacheStatus).toBe("edgecache; fwd=uri-miss; stored");
      const hit = await get("/slow");
      expect([hit.body, hit.cacheStatus]).toEqual([miss.body, "edgecache; hit; ttl=60"]);
      expect((await fetch(`${url}/cheeses/purge?soft=1`, { method: "POST" })).status).toBe(401); // not for anyone
      expect((await fetch(`${url}/cheeses/purge?soft=1`, { method: "POST", headers: { authorization: "Bearer dev-only-purge-token" } })).status).toBe(204);
      const stale = await get("/slow"); // answered at once while the page is rebuilt
      expect([stale.body, stale.cacheStatus]).toEqual([miss.body, expect.stringMatching(/^edgecache; hit; ttl=(0|-1); detail=revalidating$/)]);

      const alice = await get("/me", { Cookie: "user=alice" });
      const bob = await get("/me", { Cookie: "user=bob" });
      expect([alice.body, bob.body].map((body) => body.slice(0, body.indexOf("</h1>")))).toEqual(["<h1>Hello, alice", "<h1>Hello, bob"]);
      const again = await get("/me", { Cookie: "user=alice" });
      expect([again.body, again.cacheStatus]).toEqual([alice.body, "edgecache; hit; ttl=60"]);
      expect(alice.headers.get("cache-control")).toBe("max-age=60, private"); // no shared cache below may keep it

      const now = await get("/now");
      expect([now.headers.get("cache-control"), now.cacheStatus]).toEqual(["max-age=0, no-cache, no-store, must-revalidate, private", null]);
      expect((await get("/hello")).body).toBe("Hello, world!");
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
});
