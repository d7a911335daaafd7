/** The middleware under a real @hono/node-server listener: no execution context, Node's HTTP stack, real HEAD. */
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { cachePage, neverCache } from "../../src/hono.ts";
import { counting, store } from "./helpers.ts";

let server: ServerType | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** Serve `app` on a free loopback port; returns its base URL. */
function listen(app: Hono): Promise<string> {
  return new Promise((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, ({ port }) => resolve(`http://127.0.0.1:${port}`));
  });
}

describe("under @hono/node-server", () => {
  it("misses, stores in the background (no executionCtx on Node), then hits", async () => {
    const { options } = store();
    const page = counting();
    const url = await listen(new Hono().get("/", cachePage(60, options), page));
    const miss = await fetch(url);
    expect([await miss.text(), miss.headers.get("cache-status")]).toEqual(["page 1", "edgecache; fwd=uri-miss; stored"]);
    await expect.poll(async () => (await fetch(url)).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
    expect(page.calls).toBe(1);
  });

  it("answers HEAD from the stored GET page with its Content-Length and no body", async () => {
    const { options } = store();
    const page = counting();
    const url = await listen(new Hono().get("/", cachePage(60, options), page));
    await (await fetch(url)).text();
    await expect.poll(async () => {
      const head = await fetch(url, { method: "HEAD" });
      return [head.status, head.headers.get("content-length"), head.headers.get("cache-status"), await head.text()];
    }).toEqual([200, "6", "edgecache; hit; ttl=60", ""]);
    expect(page.calls).toBe(1);
  });

  it("collapses concurrent misses: the slow handler runs once for twenty requests", async () => {
    const { options } = store();
    let arrived = 0;
    let calls = 0;
    let release!: () => void;
    const upstream = new Promise<void>((resolve) => (release = resolve));
    const app = new Hono();
    app.use(async (_c, next) => {
      arrived++;
      await next();
    });
    app.get("/", cachePage(60, options), async (c) => {
      calls++;
      await upstream;
      return c.text("slow page");
    });
    const url = await listen(app);
    const first = fetch(url);
    await expect.poll(() => calls).toBe(1);
    const rest = Array.from({ length: 19 }, () => fetch(url));
    await expect.poll(() => arrived).toBe(20); // all waiting on the first one's fill
    release();
    const answers = await Promise.all([first, ...rest].map(async (pending) => {
      const response = await pending;
      return [await response.text(), response.headers.get("cache-status")?.replace(/; ttl=\d+/, "")];
    }));
    expect(calls).toBe(1);
    expect(answers[0]).toEqual(["slow page", "edgecache; fwd=uri-miss; stored"]);
    expect(new Set(answers.slice(1).map(String))).toEqual(new Set(["slow page,edgecache; hit; detail=collapsed"]));
  });

  it("sends neverCache's headers on the wire", async () => {
    const url = await listen(new Hono().get("/", neverCache, (c) => c.text("private")));
    const response = await fetch(url);
    expect(response.headers.get("cache-control")).toBe("max-age=0, no-cache, no-store, must-revalidate, private");
  });
});
