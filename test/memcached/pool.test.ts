import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { memcached, type MemcachedBackend, type MemcachedOptions } from "../../adapters/memcached.ts";
import { BackendUnavailableError } from "../../src/errors.ts";
import { startMemcachedPool, type MemcachedServer } from "../fixtures/memcached.ts";
import { text, utf8 } from "./helpers.ts";

let servers: MemcachedServer[];
const open: MemcachedBackend[] = [];
const client = (locations: readonly MemcachedServer[], options: Partial<MemcachedOptions> = {}) => {
  const backend = memcached({ servers: locations.map((server) => server.location), ...options });
  open.push(backend);
  return backend;
};
const keys = Array.from({ length: 3000 }, (_, i) => `:1:user:${i}`);

/** Which of `keys` each server holds, asked of each server on its own. */
async function holdings(pool: readonly MemcachedServer[], asked: readonly string[]): Promise<string[][]> {
  return Promise.all(pool.map(async (server) => {
    const values = await client([server]).getMany(asked);
    return asked.filter((_, i) => values[i] !== undefined);
  }));
}

beforeAll(async () => {
  servers = await startMemcachedPool(4);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((backend) => backend.close()));
  await Promise.all(servers.map((server) => client([server]).clear()));
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

describe("memcached server pools", () => {
  it("spreads keys over three servers, and a fourth takes about a quarter of them from the others", async () => {
    const three = servers.slice(0, 3);
    expect((await client(three).setMany(keys.map((key) => [key, utf8(key)]), 300))).toEqual([]);
    const held = await holdings(three, keys);
    expect(held.flat().sort()).toEqual([...keys].sort()); // each key on exactly one server
    for (const share of held.map((owned) => owned.length / keys.length)) {
      expect(share).toBeGreaterThan(0.2);
      expect(share).toBeLessThan(0.47);
    }

    // With the fourth (empty) server added, a key that moved is a miss.
    const four = client(servers);
    const values = await four.getMany(keys);
    const moved = keys.filter((_, i) => values[i] === undefined);
    expect(moved.length / keys.length).toBeGreaterThan(0.15);
    expect(moved.length / keys.length).toBeLessThan(0.36);
    // ... and every moved key moved to the new server, none between the old ones.
    await four.setMany(moved.map((key) => [key, utf8(key)]), 300);
    expect((await holdings([servers[3]!], moved))[0]).toEqual(moved);
  });

  it("gives a heavier server a larger share of the keys", async () => {
    const pair = servers.slice(0, 2);
    const weighted = memcached({ servers: [pair[0]!.location, { server: pair[1]!.location, weight: 3 }] });
    open.push(weighted);
    await weighted.setMany(keys.map((key) => [key, utf8("v")]), 300);
    const [light, heavy] = await holdings(pair, keys);
    expect(heavy!.length / light!.length).toBeGreaterThan(2.2);
  });

  it("accepts Django's LOCATION string", async () => {
    const backend = memcached({ servers: servers.slice(0, 3).map((server) => server.location).join(";") });
    open.push(backend);
    await backend.set("k", utf8("v"), 60);
    expect(text(await backend.get("k"))).toBe("v");
  });

  it("keeps serving keys on live servers while one is dead, fails the dead one's quickly, and uses it again once it is back", async () => {
    const three = servers.slice(0, 3);
    const backend = client(three, { timeoutMs: 500, retryDelayMs: 50, maxRetryDelayMs: 200 });
    const sample = keys.slice(0, 300);
    await backend.setMany(sample.map((key) => [key, utf8(key)]), 300);
    const [onDead, ...onLive] = await holdings(three, sample);
    const victim = three[0]!;
    await victim.stop();
    try {
      for (const key of onDead!.slice(0, 20)) {
        const started = performance.now();
        await expect(backend.get(key)).rejects.toThrow(BackendUnavailableError);
        expect(performance.now() - started).toBeLessThan(500);
      }
      const live = onLive.flat();
      expect((await Promise.all(live.map((key) => backend.get(key)))).map(text)).toEqual(live);
      expect(await backend.setMany([[onDead![0]!, utf8("x")], [live[0]!, utf8("y")]], 60)).toEqual([onDead![0]]);
      await expect(backend.getMany([live[0]!, onDead![0]!])).rejects.toThrow(BackendUnavailableError);
    } finally {
      await victim.restart();
    }
    // Back (and empty): after the backoff the same client reconnects and stores there again.
    await expect.poll(() => backend.set(onDead![0]!, utf8("again"), 60).then(() => "stored", () => "failed"), { timeout: 2000, interval: 50 }).toBe("stored");
    expect(text(await backend.get(onDead![0]!))).toBe("again");
    expect(text(await backend.get(onDead![1]!))).toBeUndefined();
  });

  it("fails requests to a hanging server within the timeout, then at once while backing off, and recovers", async () => {
    const pair = servers.slice(0, 2);
    const backend = client(pair, { timeoutMs: 300, retryDelayMs: 200, maxRetryDelayMs: 400 });
    const sample = keys.slice(0, 100);
    await backend.setMany(sample.map((key) => [key, utf8(key)]), 300);
    const [onFrozen, onLive] = await holdings(pair, sample);
    await pair[0]!.freeze();
    try {
      let started = performance.now();
      const hanging = await Promise.allSettled(onFrozen!.slice(0, 10).map((key) => backend.get(key)));
      const waited = performance.now() - started;
      expect(hanging.every((result) => result.status === "rejected" && result.reason instanceof BackendUnavailableError)).toBe(true);
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(600);

      started = performance.now();
      await expect(backend.get(onFrozen![0]!)).rejects.toThrow(/is down/);
      expect(performance.now() - started).toBeLessThan(50);
      expect((await backend.getMany(onLive!)).map(text)).toEqual(onLive);
    } finally {
      pair[0]!.thaw();
    }
    await expect.poll(() => backend.get(onFrozen![0]!).then(text, () => "failed"), { timeout: 3000, interval: 50 }).toBe(onFrozen![0]);
  });

  it("doubles its pause with each failure in a row of a server that takes connections but never answers", async () => {
    const [server] = servers;
    const backend = client([server!], { timeoutMs: 100, retryDelayMs: 100, maxRetryDelayMs: 10_000 });
    await backend.set(":1:k", utf8("v"), 60);
    await server!.freeze(); // the kernel still completes its TCP handshakes
    const pauses: number[] = [];
    try {
      for (let failures = 0; failures < 3; failures++) {
        // Ask until a request is let through (the pause is over) and goes unanswered.
        await expect.poll(() => backend.get(":1:k").then(() => "answered", (error: Error) => error.message), { timeout: 5000, interval: 20 }).toMatch(/no answer within 100 ms/);
        const refused = await backend.get(":1:k").then(() => "answered", (error: Error) => error.message);
        pauses.push(Number(/next attempt in (\d+) ms/.exec(refused)?.[1]));
      }
    } finally {
      server!.thaw();
    }
    expect(pauses[0]).toBeLessThanOrEqual(100);
    expect(pauses[1]).toBeGreaterThan(150);
    expect(pauses[2]).toBeGreaterThan(300);
    // Its first answer ends the run of failures.
    await expect.poll(() => backend.get(":1:k").then(text, () => "failed"), { timeout: 3000, interval: 50 }).toBe("v");
  });

  it("leaves a failed server alone for every backend over it, as Workers' per-request backends are, until its pause is over", async () => {
    const [server] = servers;
    const options = { timeoutMs: 200, retryDelayMs: 1000 };
    const first = client([server!], options);
    await first.set(":1:shared", utf8("before"), 60);
    await server!.freeze();
    try {
      await expect(first.get(":1:shared")).rejects.toThrow(/no answer within 200 ms/);
      // A backend made afterwards (the next request's) does not try the server, nor wait for it.
      const next = client([server!], options);
      await expect(next.get(":1:shared")).rejects.toThrow(/is down; next attempt in \d+ ms/);
    } finally {
      server!.thaw();
    }
    const later = client([server!], options);
    await expect.poll(() => later.get(":1:shared").then(text, () => "failed"), { timeout: 3000, interval: 50 }).toBe("before");
  });
});
