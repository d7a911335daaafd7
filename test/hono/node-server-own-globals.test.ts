/**
 * The middleware under @hono/node-server with `overrideGlobalObjects: false`: the server's
 * lightweight Request, which Node's own Request cannot copy. A file of its own, since a server
 * started with the default replaces the global Request for the rest of the process.
 */
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, expect, it } from "vitest";
import { cachePage } from "../../src/hono.ts";
import { counting, store } from "./helpers.ts";

let server: ServerType | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

it("misses, stores and hits with the server's lightweight Request left as it is", async () => {
  const { options } = store();
  const page = counting();
  const app = new Hono().get("/", cachePage(60, options), page);
  const url = await new Promise<string>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, ({ port }) => resolve(`http://127.0.0.1:${port}`));
  });
  const miss = await fetch(url);
  expect([miss.status, await miss.text(), miss.headers.get("cache-status")]).toEqual([200, "page 1", "edgecache; fwd=uri-miss; stored"]);
  await expect.poll(async () => (await fetch(url)).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
});
