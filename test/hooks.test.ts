/**
 * The hooks users give edgecache (metrics, logs, error reports): whatever one does, throwing or
 * answering with a promise that rejects (an async metrics hook whose sink is down), it changes no
 * answer and leaves no rejection unhandled, which would end a Node process.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import { tiered } from "../adapters/tiered.ts";
import type { Backend } from "../src/backend.ts";
import { createCache } from "../src/cache.ts";
import { cachePage } from "../src/page/cache-page.ts";

const unhandled: unknown[] = [];
const hear = (reason: unknown) => void unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on("unhandledRejection", hear);
});
afterEach(() => {
  process.off("unhandledRejection", hear);
});

const broken: Backend = {
  name: "broken",
  get: () => Promise.reject(new Error("connection refused")),
  set: () => Promise.reject(new Error("connection refused")),
  delete: () => Promise.reject(new Error("connection refused")),
};
const hooks = {
  throwing: () => {
    throw new Error("hook bug");
  },
  rejecting: () => Promise.reject(new Error("metrics sink down")),
};

it.each(Object.entries(hooks))("a %s hook changes no answer and leaves no rejection unhandled", async (_kind, hook) => {
  const cache = createCache({ backend: broken, ignoreErrors: true, onError: hook, onRead: hook, onBackendCall: hook });
  expect(await cache.get("k", { default: "d" })).toBe("d");
  await cache.set("k", 1);
  expect(await cache.getOrSet("k", () => "computed")).toBe("computed");

  const near = tiered({ near: memory(), far: memory(), onRead: hook });
  await near.set("k", Uint8Array.of(1), 60);
  expect(await near.get("k")).toEqual(Uint8Array.of(1));

  const page = cachePage(60, { cache: createCache({ backend: broken }), onError: hook, onOutcome: hook })(async (_request: Request) => new Response("page"));
  const answer = await page(new Request("https://example.com/"));
  expect([answer.status, await answer.text()]).toEqual([200, "page"]);

  await new Promise(setImmediate); // where unhandled rejections are noticed
  expect(unhandled).toEqual([]);
});
