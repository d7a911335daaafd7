/**
 * The tiered backend's BroadcastChannel bus across worker threads: two threads of one Node
 * process, each with its own near tier over the same real memcached. A change made in one drops
 * the other's near copy as soon as the message arrives, long before `nearTimeout` (a minute).
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { expect, it } from "vitest";
import { memory } from "../../adapters/memory.ts";
import { broadcastBus, tiered } from "../../adapters/tiered.ts";
import { createCache } from "../../src/cache.ts";
import { useMemcachedServer } from "./helpers.ts";

const memcache = useMemcachedServer();

it("drops another thread's near copy of a value this thread changed", async () => {
  const bus = `edgecache-threads-${Math.random()}`;
  const cache = createCache({ backend: tiered({ near: memory(), far: memcache.client(), nearTimeout: 60, bus: broadcastBus(bus) }) });
  // The thread loads its TypeScript through tsx, registered in the thread itself.
  const entry = JSON.stringify(new URL("./bus-thread.ts", import.meta.url).href);
  const boot = `import("tsx/esm/api").then(({ register }) => { register(); return import(${entry}); });`;
  const thread = new Worker(boot, { eval: true, workerData: { servers: memcache.server().location, bus } });
  try {
    expect((await once(thread, "message"))[0]).toBe("ready");
    const ask = async (key: string): Promise<unknown> => {
      thread.postMessage(key);
      return (await once(thread, "message"))[0];
    };
    await cache.set("greeting", "hello");
    expect(await ask("greeting")).toBe("hello"); // the thread keeps it near for a minute
    await cache.set("greeting", "bonjour");
    await expect.poll(() => ask("greeting"), { timeout: 2000, interval: 10 }).toBe("bonjour");
    await cache.delete("greeting");
    await expect.poll(() => ask("greeting"), { timeout: 2000, interval: 10 }).toBeUndefined();
  } finally {
    thread.postMessage("close");
    await once(thread, "exit");
    await cache.close();
  }
});
