import { afterEach, describe, expect, it } from "vitest";
import { dummy } from "../adapters/dummy.ts";
import { memory } from "../adapters/memory.ts";
import { createCache } from "../src/cache.ts";
import { InvalidCacheBackendError } from "../src/errors.ts";
import { caches, configureCaches } from "../src/registry.ts";

describe("cache registry", () => {
  afterEach(() => configureCaches({}));

  it("gives a memory cache as the default without configuration", async () => {
    expect(caches.default.backend.name).toBe("memory");
    await caches.default.set("k", "v");
    expect(await caches.get("default").get("k")).toBe("v");
  });

  it("builds configured aliases lazily, once, from options or a ready cache", () => {
    const ready = createCache({ backend: dummy() });
    configureCaches({ default: { backend: memory(), keyPrefix: "site" }, other: ready });
    expect(caches.default.makeKey("k")).toBe("site:1:k");
    expect(caches.get("default")).toBe(caches.default);
    expect(caches.get("other")).toBe(ready);
  });

  it("raises InvalidCacheBackendError for an unknown alias, naming it", () => {
    configureCaches({ pages: {} });
    expect(() => caches.get("nope")).toThrow(InvalidCacheBackendError);
    expect(() => caches.get("nope")).toThrow("The cache alias 'nope' is not configured; known aliases: default, pages");
  });

  it("rejects a configuration that is not options or a cache", () => {
    expect(() => configureCaches({ bad: 5 as never })).toThrow(/aliases.bad must be cache options/);
  });
});
