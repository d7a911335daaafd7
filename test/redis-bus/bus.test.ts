/**
 * The Redis bus against a private redis-server: two tiered backends standing in for two processes
 * (each its own bus object, so its own connections), over one far store. Also what it ignores on
 * the channel, how it comes back after Redis drops it, AUTH, and an unreachable Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memory } from "../../adapters/memory.ts";
import { connectNode } from "../../adapters/net/node-stream.ts";
import type { Connector } from "../../adapters/net/stream.ts";
import { redisBus, type RedisBusOptions } from "../../adapters/redis-bus.ts";
import { tiered } from "../../adapters/tiered.ts";
import { createCache, type EdgeCache } from "../../src/cache.ts";
import { type RedisServer, RespConnection, startRedis } from "../fixtures/redis.ts";

let redis: RedisServer;
let admin: RespConnection;
beforeAll(async () => {
  redis = await startRedis();
  admin = await RespConnection.open(redis.port);
});
afterAll(async () => {
  admin.close();
  await redis.stop();
});

/** Two "processes" over one far store, each with its own near tier (kept a minute) and its own Redis bus on a fresh channel. */
function processes(extra: Partial<RedisBusOptions> = {}) {
  const far = memory();
  const channel = `edgecache-test-${Math.random()}`;
  const errors: string[] = [];
  const open: EdgeCache[] = [];
  const process = () => {
    const bus = redisBus({ url: `redis://127.0.0.1:${redis.port}`, channel, onError: (error) => errors.push(error.message), ...extra });
    const cache = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus }) });
    open.push(cache);
    return cache;
  };
  const [a, b] = [process(), process()];
  return { far: createCache({ backend: far }), a, b, channel, errors, close: () => Promise.all(open.map((cache) => cache.close())) };
}

/** Wait until Redis counts `count` subscribers on `channel`. */
async function subscribed(channel: string, count: number): Promise<void> {
  await expect.poll(async () => {
    const [reply] = await admin.send([["PUBSUB", "NUMSUB", channel]]);
    return Number((reply as [Buffer, bigint])[1]);
  }, { timeout: 2000, interval: 10 }).toBe(count);
}

describe("redisBus", () => {
  it("drops the other process's near copies of what one changes, through Redis", async () => {
    const t = processes();
    try {
      await subscribed(t.channel, 2);
      await t.far.setMany({ k: "one", n: 1 });
      expect([await t.b.get("k"), await t.b.get("n")]).toEqual(["one", 1]); // kept near for a minute
      await t.a.set("k", "two");
      await t.a.incr("n");
      await expect.poll(() => t.b.get("k"), { timeout: 2000, interval: 10 }).toBe("two");
      await expect.poll(() => t.b.get("n"), { timeout: 2000, interval: 10 }).toBe(2);
      await t.a.clear();
      await expect.poll(() => t.b.get("k"), { timeout: 2000, interval: 10 }).toBeUndefined();
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
    await subscribed(t.channel, 0); // closing the caches let go of the subscriptions
  });

  it("announces a change made just before the cache is closed (a script that writes, closes and exits), whether or not its publisher had connected", async () => {
    const t = processes();
    try {
      await subscribed(t.channel, 2);
      for (const warm of [false, true]) {
        const key = warm ? "warm" : "cold";
        await t.far.set(key, "old");
        expect(await t.b.get(key)).toBe("old"); // kept near for a minute
        const bus = redisBus({ url: `redis://127.0.0.1:${redis.port}`, channel: t.channel, onError: (error) => t.errors.push(error.message) });
        const script = createCache({ backend: tiered({ near: memory(), far: t.far.backend, nearTimeout: 60, bus }) });
        if (warm) {
          await script.set("warm-up", 1);
          await subscribed(t.channel, 3);
        }
        await script.set(key, "new");
        await script.close();
        await expect.poll(() => t.b.get(key), { timeout: 2000, interval: 10 }).toBe("new");
      }
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("ignores what others publish on the channel that is not an invalidation, and reads nothing more into one", async () => {
    const t = processes();
    try {
      await subscribed(t.channel, 2);
      await t.far.set("k", "one");
      expect(await t.b.get("k")).toBe("one");
      await t.far.set("k", "two"); // behind the bus's back: only a message would drop b's copy
      const other = JSON.stringify({ keys: [t.b.makeKey("other")], all: false }); // drops "other" alone
      for (const payload of ["not json", "{\"keys\":[1]}", "{\"keys\":\"k\"}", "[]", "null", "{\"all\":\"yes\"}", other]) {
        await admin.send([["PUBLISH", t.channel, payload]]);
      }
      await admin.send([["PING"]]);
      expect(await t.b.get("k")).toBe("one");
      await admin.send([["PUBLISH", t.channel, JSON.stringify({ keys: [t.b.makeKey("k")] })]]);
      await expect.poll(() => t.b.get("k"), { timeout: 2000, interval: 10 }).toBe("two");
    } finally {
      await t.close();
    }
  });

  it("subscribes again after Redis drops the connection, and reports it", async () => {
    const t = processes();
    try {
      await subscribed(t.channel, 2);
      await admin.send([["CLIENT", "KILL", "TYPE", "pubsub"]]);
      await expect.poll(() => t.errors.some((message) => message.includes("connection closed by the server")), { timeout: 2000, interval: 10 }).toBe(true);
      await subscribed(t.channel, 2);
      await t.far.set("k", "one");
      expect(await t.b.get("k")).toBe("one");
      await t.a.set("k", "two");
      await expect.poll(() => t.b.get("k"), { timeout: 2000, interval: 10 }).toBe("two");
    } finally {
      await t.close();
    }
  });

  it("drops every near copy when it subscribes again after a lost connection: what was said meanwhile never comes", async () => {
    const t = processes();
    try {
      await subscribed(t.channel, 2);
      await t.far.set("k", "one");
      expect(await t.b.get("k")).toBe("one"); // kept near for a minute
      await admin.send([["CLIENT", "KILL", "TYPE", "pubsub"]]);
      await t.far.set("k", "two"); // changed while nobody listens (another process, or one whose message was lost)
      await expect.poll(() => t.b.get("k"), { timeout: 2000, interval: 10 }).toBe("two");
    } finally {
      await t.close();
    }
  });

  it("reports once that messages are dropped when more than 1000 wait for the publishing connection", async () => {
    const errors: string[] = [];
    const never: Connector = () => new Promise(() => {}); // connections that never open (timeoutMs: 0 waits for ever)
    const bus = redisBus({ url: `redis://127.0.0.1:${redis.port}`, timeoutMs: 0, connect: never, onError: (error) => errors.push(error.message) });
    const member = bus.join(() => {});
    try {
      for (let i = 0; i < 1002; i++) member.publish({ keys: [`k${i}`] });
      expect(errors).toEqual([`redis redis://127.0.0.1:${redis.port}: more than 1000 messages wait for the connection: the rest are dropped`]);
    } finally {
      member.leave();
    }
  });

  it("goes on reconnecting when onError throws or rejects, leaving no rejection unhandled", async () => {
    const unhandled: unknown[] = [];
    const hear = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", hear);
    let attempts = 0;
    const refused: Connector = () => {
      attempts++;
      return Promise.reject(new Error("connection refused"));
    };
    for (const onError of [() => { throw new Error("hook bug"); }, () => Promise.reject(new Error("log sink down"))]) {
      attempts = 0;
      const member = redisBus({ url: `redis://127.0.0.1:${redis.port}`, connect: refused, onError }).join(() => {});
      try {
        await expect.poll(() => attempts, { timeout: 2000, interval: 10 }).toBeGreaterThanOrEqual(3); // 100 ms, then 200 ms apart
      } finally {
        member.leave();
      }
    }
    await new Promise(setImmediate);
    process.off("unhandledRejection", hear);
    expect(unhandled).toEqual([]);
  });

  it("names the server in its reports without the URL's credentials, an @ in the password included", async () => {
    const errors: string[] = [];
    const refused: Connector = () => Promise.reject(new Error("connection refused"));
    const member = redisBus({ url: "redis://app:s3cr@tP4ss@127.0.0.1:6390", connect: refused, onError: (error) => errors.push(error.message) }).join(() => {});
    try {
      await expect.poll(() => errors.length, { timeout: 2000, interval: 10 }).toBeGreaterThan(0);
    } finally {
      member.leave();
    }
    expect(errors[0]).toBe("redis redis://127.0.0.1:6390: cannot connect (connection refused)");
    expect(() => redisBus({ url: "redis://app:s3cr@tP4ss@:6390" })).toThrow('got "redis://***@:6390"');
    expect(() => redisBus({ url: "redis://user:s3cr/et?#@10.0.0.5:notaport" })).toThrow('got "redis://***@10.0.0.5:notaport"');
  });

  it("authenticates with the URL's password, and reports a wrong one", async () => {
    await admin.send([["CONFIG", "SET", "requirepass", "s3cret"]]);
    await admin.send([["AUTH", "s3cret"]]);
    try {
      const good = processes({ url: `redis://:s3cret@127.0.0.1:${redis.port}` });
      try {
        await subscribed(good.channel, 2);
        await good.far.set("k", "one");
        expect(await good.b.get("k")).toBe("one");
        await good.a.set("k", "two");
        await expect.poll(() => good.b.get("k"), { timeout: 2000, interval: 10 }).toBe("two");
      } finally {
        await good.close();
      }
      const wrong = processes({ url: `redis://:nope@127.0.0.1:${redis.port}` });
      try {
        await expect.poll(() => wrong.errors.some((message) => /WRONGPASS|invalid password/.test(message)), { timeout: 2000, interval: 10 }).toBe(true);
        expect(wrong.errors.join("\n")).not.toContain("nope"); // no credentials in messages
      } finally {
        await wrong.close();
      }
    } finally {
      await admin.send([["CONFIG", "SET", "requirepass", ""]]);
    }
  });

  it("leaves writes alone when Redis cannot be reached, reports why, and backs off rather than connect per message", async () => {
    let connects = 0;
    const counted: Connector = (...args) => (connects++, connectNode(...args));
    const t = processes({ url: "redis://127.0.0.1:1", timeoutMs: 500, connect: counted });
    try {
      await t.a.set("k", "v");
      expect(await t.a.get("k")).toBe("v");
      await expect.poll(() => t.errors.some((message) => message.startsWith("redis redis://127.0.0.1:1: cannot connect")), { timeout: 2000, interval: 10 }).toBe(true);
      const before = connects;
      for (let i = 0; i < 50; i++) {
        await t.a.set("k", `v${i}`); // each announced, while the publisher backs off
        await new Promise((resolve) => setImmediate(resolve)); // the refusal of a connection would arrive by now
      }
      expect(connects - before).toBeLessThanOrEqual(4); // the subscribers' retries and at most one publisher's
    } finally {
      await t.close();
    }
  });

  it("notices a connection that went silent (dropped by a NAT without a word), subscribes again and hears again", async () => {
    const far = memory();
    const channel = `edgecache-test-${Math.random()}`;
    const errors: string[] = [];
    let silence: (() => void) | undefined;
    // The first connection goes silent when told: nothing reaches it, nothing leaves it, it never closes.
    const silenceable: Connector = async (address, listener, signal) => {
      let silent = false;
      const stream = await connectNode(address, { onData: (bytes) => silent || listener.onData(bytes), onClose: (error) => listener.onClose(error) }, signal);
      silence ??= () => void (silent = true);
      return { write: (bytes) => silent || stream.write(bytes), close: () => stream.close() };
    };
    const url = `redis://127.0.0.1:${redis.port}`;
    const a = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus: redisBus({ url, channel }) }) });
    const b = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus: redisBus({ url, channel, heartbeatMs: 50, connect: silenceable, onError: (error) => errors.push(error.message) }) }) });
    try {
      await subscribed(channel, 2);
      await a.set("k", "one");
      expect(await b.get("k")).toBe("one"); // kept near for a minute
      silence!(); // b's subscription still counts at Redis, and hears nothing
      await expect.poll(() => errors, { timeout: 2000, interval: 10 }).toContain("redis redis://127.0.0.1:" + redis.port + ": no answer to PING within 50 ms");
      await subscribed(channel, 2);
      await a.set("k", "two");
      await expect.poll(() => b.get("k"), { timeout: 2000, interval: 10 }).toBe("two");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("notices a publishing connection that went silent, reports it, and publishes on a new one", async () => {
    const far = memory();
    const channel = `edgecache-test-${Math.random()}`;
    const errors: string[] = [];
    let opened = 0;
    let silence: (() => void) | undefined;
    // The second connection (the publisher: the subscriber opens first) goes silent when told.
    const silenceable: Connector = async (address, listener, signal) => {
      let silent = false;
      const stream = await connectNode(address, { onData: (bytes) => silent || listener.onData(bytes), onClose: (error) => listener.onClose(error) }, signal);
      if (++opened === 2) silence = () => void (silent = true);
      return { write: (bytes) => silent || stream.write(bytes), close: () => stream.close() };
    };
    const url = `redis://127.0.0.1:${redis.port}`;
    const a = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus: redisBus({ url, channel, heartbeatMs: 50, connect: silenceable, onError: (error) => errors.push(error.message) }) }) });
    const b = createCache({ backend: tiered({ near: memory(), far, nearTimeout: 60, bus: redisBus({ url, channel }) }) });
    try {
      await subscribed(channel, 2);
      await a.set("k", "one"); // opens a's publisher
      expect(await b.get("k")).toBe("one"); // kept near for a minute
      await expect.poll(() => silence !== undefined, { timeout: 2000, interval: 10 }).toBe(true);
      silence!();
      await expect.poll(() => errors, { timeout: 2000, interval: 10 }).toContain("redis redis://127.0.0.1:" + redis.port + ": no answer to PING within 50 ms");
      // Writes during the publisher's back-off after the loss (100 ms) are not announced: write until one is.
      await expect.poll(async () => (await a.set("k", "two"), b.get("k")), { timeout: 2000, interval: 20 }).toBe("two");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("sets no time limit on opening a connection with timeoutMs: 0", async () => {
    const t = processes({ timeoutMs: 0 });
    try {
      await subscribed(t.channel, 2);
      await t.far.set("k", "one");
      expect(await t.b.get("k")).toBe("one");
      await t.a.set("k", "two");
      await expect.poll(() => t.b.get("k"), { timeout: 2000, interval: 10 }).toBe("two");
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("names bad options", () => {
    expect(() => redisBus({ url: "http://127.0.0.1" })).toThrow(new TypeError('options.url must be a redis:// or rediss:// URL such as "redis://10.0.0.5:6379", got "http://127.0.0.1"'));
    expect(() => redisBus({ url: "redis://127.0.0.1", channel: "" })).toThrow(new TypeError('options.channel must be a non-empty string, got ""'));
    expect(() => redisBus({ url: "redis://127.0.0.1", timeoutMs: -1 })).toThrow(new TypeError("options.timeoutMs must be a number of milliseconds from 0 to 2147483647, got -1"));
    expect(() => redisBus({ url: "redis://127.0.0.1", heartbeatMs: Number.NaN })).toThrow(new TypeError("options.heartbeatMs must be a number of milliseconds from 0 to 2147483647, got NaN"));
    expect(() => redisBus({ url: "redis://127.0.0.1", heartbeatMs: 3e9 })).toThrow("options.heartbeatMs must be a number of milliseconds from 0 to 2147483647, got 3000000000");
  });
});
