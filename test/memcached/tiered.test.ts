/** The tiered backend in front of a real memcached: what reaches the server, and when. */
import { describe, expect, it } from "vitest";
import { memcached } from "../../adapters/memcached.ts";
import { memory } from "../../adapters/memory.ts";
import { tiered } from "../../adapters/tiered.ts";
import { spyConnector, text, useMemcachedServer, utf8 } from "./helpers.ts";

const memcache = useMemcachedServer();

describe("tiered in front of memcached", () => {
  it("reads a value and its remaining TTL in one request, then answers from memory until either runs out", async () => {
    const writer = memcache.client();
    await writer.set("hot", utf8("value"), 60);
    const spy = spyConnector();
    const far = memcached({ servers: memcache.server().location, connect: spy.connect });
    const backend = tiered({ near: memory(), far, nearTimeout: 60 });
    try {
      for (let i = 0; i < 5; i++) expect(text(await backend.get("hot"))).toBe("value");
      expect(spy.writes.map((bytes) => text(bytes))).toEqual(["mg hot v t\r\n"]);

      await writer.set("brief", utf8("value"), 1);
      expect(text(await backend.get("brief"))).toBe("value");
      await new Promise((resolve) => setTimeout(resolve, 2150)); // memcached's clock ticks in whole seconds
      expect(await backend.get("brief")).toBeUndefined(); // its near copy went with the far entry
    } finally {
      await far.close();
    }
  });
});
