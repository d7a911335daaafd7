/**
 * The worker thread of bus.test.ts: a second "process" on the same memcached, with its own near
 * tier, on a BroadcastChannel bus of the name it is given. It answers each message with what its
 * cache reads for the key, and closes on "close".
 */
import { parentPort, workerData } from "node:worker_threads";
import { memcached } from "../../adapters/memcached.ts";
import { memory } from "../../adapters/memory.ts";
import { broadcastBus, tiered } from "../../adapters/tiered.ts";
import { createCache } from "../../src/cache.ts";

const { servers, bus } = workerData as { servers: string; bus: string };
const cache = createCache({ backend: tiered({ near: memory(), far: memcached({ servers }), nearTimeout: 60, bus: broadcastBus(bus) }) });

parentPort!.on("message", async (key: string) => {
  if (key === "close") {
    await cache.close();
    parentPort!.close();
    return;
  }
  parentPort!.postMessage(await cache.get(key));
});
parentPort!.postMessage("ready");
