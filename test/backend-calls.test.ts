/**
 * `createCache({ onBackendCall })`: every call to the store heard once it settles, with its
 * operation, duration and error, page caching's calls included; a hung call cut short by
 * `timeoutMs` is heard as the time-out its caller sees (on fake timers).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { memory } from "../adapters/memory.ts";
import type { Backend } from "../src/backend.ts";
import { type BackendCall, cachePage, createCache } from "../src/index.ts";
import { BackendTimeoutError } from "../src/errors.ts";

afterEach(() => void vi.useRealTimers());

describe("createCache onBackendCall", () => {
  it("hears each call with its operation and duration, page caching's too", async () => {
    const calls: BackendCall[] = [];
    const cache = createCache({ backend: memory(), onBackendCall: (call) => calls.push(call) });
    await cache.set("k", "v");
    await cache.getMany(["k", "j"]);
    const writes: Promise<unknown>[] = [];
    const page = cachePage(60, { cache, waitUntil: (write) => void writes.push(write) })(async (_request: Request) => new Response("page"));
    await (await page(new Request("https://example.com/"))).text();
    await Promise.all(writes);
    expect(calls.map(({ backend, operation }) => `${backend} ${operation}`)).toEqual([
      "memory set",
      "memory getMany",
      "memory get", // the page's lookup
      "memory get", // whether the URL was purged while it rendered
      "memory set", // the page
      "memory get", // and whether a purge came while it was written
    ]);
    expect(calls.every(({ ms, error }) => ms >= 0 && error === undefined)).toBe(true);
  });

  it("hears a failed call with its error, which its caller still gets; a throwing hook changes nothing", async () => {
    const failure = new Error("connection reset");
    const broken: Backend = { name: "broken", get: () => Promise.reject(failure), set: () => Promise.resolve(), delete: () => Promise.resolve(false) };
    const heard: BackendCall[] = [];
    const cache = createCache({ backend: broken, onBackendCall: (call) => {
      heard.push(call);
      throw new Error("a broken metrics exporter");
    } });
    await expect(cache.get("k")).rejects.toBe(failure);
    await cache.set("k", "v");
    expect(heard.map(({ operation, error }) => [operation, error])).toEqual([["get", failure], ["set", undefined]]);
  });

  it("hears a call cut short by timeoutMs as the BackendTimeoutError its caller got", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const hung: Backend = { name: "hung", get: () => new Promise(() => {}), set: () => Promise.resolve(), delete: () => Promise.resolve(false) };
    const heard: BackendCall[] = [];
    const cache = createCache({ backend: hung, timeoutMs: 250, onBackendCall: (call) => heard.push(call) });
    const read = cache.get("k").catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(250);
    expect(await read).toBeInstanceOf(BackendTimeoutError);
    expect(heard).toHaveLength(1);
    expect(heard[0]!.error).toBeInstanceOf(BackendTimeoutError);
  });

  it("names a hook that is not a function", () => {
    expect(() => createCache({ onBackendCall: "log" as never })).toThrow("options.onBackendCall must be a function");
  });
});
