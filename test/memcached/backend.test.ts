import { Buffer } from "node:buffer";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { memcached, type MemcachedBackend, socketsConnector } from "../../adapters/memcached.ts";
import type { ByteStream, Connector, StreamListener } from "../../adapters/net/stream.ts";
import { connectNode } from "../../adapters/net/node-stream.ts";
import { BackendTimeoutError, BackendUnavailableError, InvalidCacheKeyError } from "../../src/errors.ts";
import { createCache } from "../../src/index.ts";
import { startMemcached, type MemcachedServer } from "../fixtures/memcached.ts";
import { spyConnector, text, utf8 } from "./helpers.ts";

let server: MemcachedServer;
let small: MemcachedServer; // a 2 KiB item size limit
const open: MemcachedBackend[] = [];
const client = (options: Partial<Parameters<typeof memcached>[0]> = {}) => {
  const backend = memcached({ servers: server.location, ...options });
  open.push(backend);
  return backend;
};

beforeAll(async () => {
  [server, small] = await Promise.all([startMemcached(), startMemcached({ args: ["-I", "2k", "-o", "slab_chunk_max=1024"] })]);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((backend) => backend.close()));
});
afterAll(async () => {
  await Promise.all([server.stop(), small.stop()]);
});

describe("memcached backend on one server", () => {
  it("asks the item size limit again on a new connection: the server behind the address may have restarted with another", async () => {
    let behind = server.location; // -I 1m
    let stream: ByteStream | undefined;
    const moving: Connector = async (_address, listener, signal) => {
      const [host, port] = behind.split(":");
      return (stream = await connectNode({ kind: "tcp", host: host!, port: Number(port) }, listener, signal));
    };
    const backend = client({ servers: "moving.invalid:11211", retryDelayMs: 0, connect: moving });
    expect(await backend.add("big", new Uint8Array(5000), 60)).toBe(true); // the 1 MiB limit, learnt
    behind = small.location; // -I 2k from now on
    stream!.close();
    await expect.poll(() => backend.has("any").then(() => true, () => false), { interval: 10 }).toBe(true); // reconnected
    await backend.set("lock", utf8("held by A"), 60); // on a new connection, to the -I 2k server
    await expect(backend.add("lock", new Uint8Array(3000), 60)).rejects.toThrow(/the server's 2048-byte items; not sent/);
    expect(text(await backend.get("lock"))).toBe("held by A");
  });

  it("refuses an add too large for the server's items before sending it, so the entry it must leave alone stays", async () => {
    const backend = client({ servers: small.location });
    await backend.set("lock", utf8("held by A"), 60);
    await expect(backend.add("lock", new Uint8Array(5000), 60)).rejects.toThrow(/the server's 2048-byte items; not sent/);
    expect(text(await backend.get("lock"))).toBe("held by A");
    expect(await backend.add("fits", new Uint8Array(1500), 60)).toBe(true); // asked the limit, and under it
    expect(await backend.add("fits", new Uint8Array(1500), 60)).toBe(false);
    // Once the limit is known, and for values under any limit, an add goes out in the order it was called.
    for (const size of [10, 1500]) {
      const [added, removed] = await Promise.all([backend.add(`in-order-${size}`, new Uint8Array(size), 60), backend.delete(`in-order-${size}`)]);
      expect([added, removed, await backend.has(`in-order-${size}`)]).toEqual([true, true, false]);
    }
  });

  it("keeps the order of calls made while the first large add on a connection waits for the item size limit", async () => {
    const backend = client();
    const [added, removed, present] = await Promise.all([backend.add("first-large", new Uint8Array(5000), 60), backend.delete("first-large"), backend.has("first-large")]);
    expect([added, removed, present, await backend.has("first-large")]).toEqual([true, true, false, false]);
    const other = client(); // a new connection asks again: two large adds and a set, in call order
    const [one, two] = await Promise.all([other.add("k", new Uint8Array(4000), 60), other.add("k", new Uint8Array(6000), 60), other.set("k", utf8("set last"), 60)]);
    expect([one, two, text(await other.get("k"))]).toEqual([true, false, "set last"]);
    // A call made just as the held add goes out still goes after those made before it, whichever microtask it comes in.
    for (let ticks = 0; ticks < 8; ticks++) {
      const fresh = client();
      await fresh.set("warm", utf8("w"), 60);
      const first = fresh.get("warm");
      const held = fresh.add(`big-${ticks}`, new Uint8Array(5000), 60);
      const deleted = fresh.delete(`k-${ticks}`);
      const set = first.then(async () => {
        for (let i = 0; i < ticks; i++) await null;
        return fresh.set(`k-${ticks}`, utf8("made after the delete"), 60);
      });
      await Promise.all([held, deleted, set]);
      expect(await fresh.has(`k-${ticks}`), `after ${ticks} microtasks`).toBe(true);
    }
    const refusing = client({ servers: small.location });
    await refusing.set("lock", utf8("held"), 60);
    const [tooLarge, after] = await Promise.allSettled([refusing.add("lock", new Uint8Array(5000), 60), refusing.get("lock")]);
    expect(tooLarge.status).toBe("rejected");
    expect(after.status === "fulfilled" && text(after.value)).toBe("held");
  });

  it("pipelines hundreds of concurrent requests over one connection, each getting its own answer", async () => {
    const spy = spyConnector();
    const backend = client({ connect: spy.connect });
    const keys = Array.from({ length: 500 }, (_, i) => `pipe:${i}`);
    await Promise.all(keys.map((key) => backend.set(key, utf8(`value of ${key}`), 60)));
    const values = await Promise.all(keys.map((key) => backend.get(key)));
    expect(values.map(text)).toEqual(keys.map((key) => `value of ${key}`));
    expect(spy.connections()).toBe(1);
  });

  it("reads many keys as one batch (one write), in order, with misses as undefined", async () => {
    const spy = spyConnector();
    const backend = client({ connect: spy.connect });
    const keys = Array.from({ length: 1000 }, (_, i) => `batch:${i}`);
    const failed = await backend.setMany(keys.filter((_, i) => i % 2 === 0).map((key) => [key, utf8(key)]), 60);
    expect(failed).toEqual([]);
    const writesBefore = spy.writes.length;
    const values = await backend.getMany(keys);
    expect(spy.writes.length - writesBefore).toBe(1);
    expect(values.map(text)).toEqual(keys.map((key, i) => (i % 2 === 0 ? key : undefined)));
    await backend.deleteMany(keys.slice(0, 10));
    // keys 0-9 are gone, 10 is still there, 11 was never stored
    expect((await backend.getMany(keys.slice(0, 12))).map(text)).toEqual(keys.slice(0, 12).map((key, i) => (i === 10 ? key : undefined)));
  });

  it("round-trips large binary values that arrive in many TCP chunks", async () => {
    const backend = client();
    const value = Uint8Array.from({ length: 900_000 }, (_, i) => (i * 7919) % 256); // includes \r\n pairs
    await backend.set("large", value, 60);
    await backend.set("after", utf8("next"), 60);
    const [large, after] = await Promise.all([backend.get("large"), backend.get("after")]);
    expect(Buffer.compare(large!, value)).toBe(0); // toEqual walks 900k elements slowly
    expect(text(after)).toBe("next");
  });

  it("refuses a value over the server's item size limit and leaves no stale value behind", async () => {
    const backend = memcached({ servers: small.location });
    open.push(backend);
    await backend.set("k", utf8("old"), 60);
    await expect(backend.set("k", new Uint8Array(4096), 60)).rejects.toThrow(BackendUnavailableError);
    await expect(backend.set("k", new Uint8Array(4096), 60)).rejects.toThrow(/object too large/);
    expect(await backend.get("k")).toBeUndefined();

    await backend.setMany([["a", utf8("old")], ["b", utf8("old")]], 60);
    expect(await backend.setMany([["a", utf8("new")], ["b", new Uint8Array(4096)]], 60)).toEqual(["b"]);
    expect((await backend.getMany(["a", "b"])).map(text)).toEqual(["new", undefined]);
    expect(text(await backend.get("a"))).toBe("new"); // the connection is still in step
  });

  it("rejects keys memcached cannot take before sending anything", async () => {
    const spy = spyConnector();
    const backend = client({ connect: spy.connect });
    const bad = ["", "has space", "tab\there", "nl\n", "del\u007f", "x".repeat(251), "é".repeat(126) /* 252 bytes */];
    for (const key of bad) {
      expect(() => backend.validateKey(key), JSON.stringify(key)).toThrow(InvalidCacheKeyError);
      await expect(backend.get(key)).rejects.toThrow(InvalidCacheKeyError);
      await expect(backend.set(key, utf8("v"), 60)).rejects.toThrow(InvalidCacheKeyError);
      await expect(backend.getMany(["fine", key])).rejects.toThrow(InvalidCacheKeyError);
      await expect(backend.setMany([["fine", utf8("v")], [key, utf8("v")]], 60)).rejects.toThrow(InvalidCacheKeyError);
    }
    expect(spy.writes).toEqual([]);
    const longest = "é".repeat(125); // 250 bytes: allowed
    await backend.set(longest, utf8("v"), 60);
    expect(text(await backend.get(longest))).toBe("v");
  });

  it("drops a connection whose command line memcached could not read: what answers follow may be another request's", async () => {
    // A server that could not read the set's line took its value's bytes for a command of their
    // own ("mg secret v"), and answers it before the get that was sent next.
    let server!: StreamListener;
    const scripted: Connector = async (_address, listener) => {
      server = listener;
      let sent = "";
      return {
        write(bytes) {
          sent += Buffer.from(bytes).toString("latin1");
          if (!sent.includes("mg b ")) return;
          listener.onData(utf8("CLIENT_ERROR bad command line format\r\nVA 6\r\nsecret\r\n"));
        },
        close: () => server.onClose(),
      };
    };
    const backend = client({ servers: "scripted.invalid:11211", connect: scripted });
    const [set, get] = await Promise.allSettled([backend.set("a", utf8("x"), 60), backend.get("b")]);
    expect(set).toMatchObject({ status: "rejected", reason: { message: expect.stringContaining("CLIENT_ERROR") } });
    expect(get).toMatchObject({ status: "rejected", reason: expect.any(BackendUnavailableError) });
  });

  it("keeps a connection whose command memcached read and refused (flush_all on a server started with -F)", async () => {
    const refusing = await startMemcached({ args: ["-F"] });
    try {
      const backend = memcached({ servers: refusing.location });
      open.push(backend);
      await backend.set("kept", utf8("v"), 60);
      const [clear, ...gets] = await Promise.allSettled([backend.clear!(), backend.get("kept"), backend.get("kept")]);
      expect(clear).toMatchObject({ status: "rejected", reason: { message: expect.stringContaining("flush_all not allowed") } });
      expect(gets.map((got) => got.status === "fulfilled" && text(got.value))).toEqual(["v", "v"]);
    } finally {
      await refusing.stop();
    }
  });

  it("adds atomically: of many concurrent adds from separate clients exactly one wins", async () => {
    const clients = Array.from({ length: 5 }, () => client());
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => clients[i % 5]!.add("lock", utf8(`owner ${i}`), 60)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(text(await clients[0]!.get("lock"))).toBe(`owner ${results.indexOf(true)}`);
  });

  it("increments atomically: concurrent increments from separate clients end at the exact sum", async () => {
    const clients = Array.from({ length: 5 }, () => client());
    await clients[0]!.set("counter", utf8("0"), 60);
    const deltas = Array.from({ length: 1000 }, (_, i) => (i % 7) + 1);
    await Promise.all(deltas.map((delta, i) => clients[i % 5]!.increment("counter", delta)));
    expect(text(await clients[0]!.get("counter"))).toBe(String(deltas.reduce((a, b) => a + b)));
  });

  it("keeps memcached's unsigned counters: a decrement stops at 0, a negative number is not incrementable", async () => {
    const backend = client();
    await backend.set("n", utf8("3"), 60);
    expect(await backend.increment("n", -5)).toBe(0);
    expect(await backend.increment("n", 2)).toBe(2);
    expect(await backend.increment("missing", 1)).toBeUndefined();
    await backend.set("negative", utf8("-5"), 60);
    await expect(backend.increment("negative", 1)).rejects.toThrow(TypeError);
    await expect(backend.increment("n", 1.5)).rejects.toThrow(/delta must be an integer/);
  });

  it("keeps a counter decremented to fewer digits readable through the cache (memcached pads it with spaces)", async () => {
    const cache = createCache({ backend: client() });
    await cache.set("stock", 100);
    expect(await cache.decr("stock", 95)).toBe(5);
    expect(text(await client().get(cache.makeKey("stock")))).toBe("5  ");
    expect(await cache.get("stock")).toBe(5);
    expect(await cache.getMany(["stock"])).toEqual(new Map([["stock", 5]]));
    expect(await cache.incr("stock")).toBe(6);
  });

  it("reports remaining TTLs, never-expiring entries, and TTLs over 30 days (sent as absolute times)", async () => {
    const backend = client();
    await backend.set("hour", utf8("v"), 3600);
    await backend.set("forever", utf8("v"), null);
    await backend.set("forty-days", utf8("v"), 40 * 86_400);
    expect(await backend.ttl("hour")).toBeGreaterThanOrEqual(3599);
    expect(await backend.ttl("forever")).toBeNull();
    expect(Math.abs((await backend.ttl("forty-days"))! - 40 * 86_400)).toBeLessThanOrEqual(2);
    expect(await backend.ttl("missing")).toBeUndefined();
    expect(await backend.touch("hour", 40 * 86_400)).toBe(true);
    expect(Math.abs((await backend.ttl("hour"))! - 40 * 86_400)).toBeLessThanOrEqual(2);
    expect(await backend.touch("missing", 60)).toBe(false);
    // Past 2038, memcached would answer HD and keep nothing: the value is kept until then.
    await backend.set("fifty-years", utf8("kept"), 50 * 365 * 86_400);
    expect(text(await backend.get("fifty-years"))).toBe("kept");
    expect(await backend.has("fifty-years")).toBe(true);
  });

  it("clear flushes the whole server, whichever client stored the keys", async () => {
    const [one, two] = [client(), client()];
    await one.set("mine", utf8("v"), 60);
    await two.set("theirs", utf8("v"), 60);
    await one.clear();
    expect(await two.has("mine")).toBe(false);
    expect(await two.has("theirs")).toBe(false);
  });

  it("works over a Unix socket", async () => {
    const unix = await startMemcached({ unixSocket: true });
    try {
      const backend = memcached({ servers: unix.location });
      open.push(backend);
      await backend.set("k", utf8("over a socket"), 60);
      expect(text(await backend.get("k"))).toBe("over a socket");
    } finally {
      await unix.stop();
    }
  });

  it("takes a connector that throws for one that rejects: a BackendUnavailableError, then a pause, then a fresh try", async () => {
    let attempts = 0;
    // A server of its own: what this isolate learns of a server's health is shared by every backend over it.
    const backend = client({ servers: "throwing-connector.invalid:11211", retryDelayMs: 0, connect: () => {
      attempts++;
      throw new Error("no sockets here");
    } });
    await expect(backend.get("k")).rejects.toThrow(new BackendUnavailableError("memcached throwing-connector.invalid:11211: cannot connect (no sockets here)"));
    await expect(backend.get("k")).rejects.toThrow(/cannot connect \(no sockets here\)/); // tried again, not left waiting
    expect(attempts).toBe(2);
  });

  it("fails a call that had no answer in time with a BackendTimeoutError, and the calls dropped with its connection, not yet due, with a BackendUnavailableError", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"] });
    try {
      // A server that takes the connection and never answers (frozen).
      const backend = client({ servers: "silent-server.invalid:11211", timeoutMs: 100, retryDelayMs: 0, connect: () => Promise.resolve({ write: () => {}, close: () => {} }) });
      const first = backend.get("a");
      const firstFailed = first.catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(60);
      const second = backend.get("b").catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(40);
      const [late, dropped] = await Promise.all([firstFailed, second]);
      expect(late).toBeInstanceOf(BackendTimeoutError); // what page caching's circuit breaker counts
      expect(dropped).toBeInstanceOf(BackendUnavailableError);
      expect(dropped).not.toBeInstanceOf(BackendTimeoutError); // it had waited 40 ms of its 100
    } finally {
      vi.useRealTimers();
    }
  });

  it("never reads an answer from a connection it gave up on, however late its connector calls back", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"] });
    try {
      const listeners: StreamListener[] = [];
      const opens: Array<(stream: ByteStream) => void> = [];
      // Connects only when told to, and ignores the abort of one given up on.
      const connect: Connector = (_address, listener) => new Promise((resolve) => {
        listeners.push(listener);
        opens.push(resolve);
      });
      const backend = client({ servers: "late-connector.invalid:11211", timeoutMs: 50, retryDelayMs: 0, connect });
      const first = backend.get("k");
      const failed = expect(first).rejects.toThrow(/no answer within 50 ms/);
      await vi.advanceTimersByTimeAsync(50);
      await failed;
      const second = backend.get("k"); // a new connection, still connecting
      await vi.advanceTimersByTimeAsync(0);
      listeners[0]!.onData(utf8("VA 5\r\nstale\r\n")); // the abandoned one speaks up
      opens[1]!({ write: () => {}, close: () => {} });
      await vi.advanceTimersByTimeAsync(0);
      listeners[1]!.onData(utf8("EN\r\n"));
      expect(await second).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it("fails at once when the server hangs up before the connector has handed the stream over", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    try {
      const hangsUp: Connector = async (_address, listener) => {
        listener.onClose(); // a server at its connection limit: closed as soon as it is open
        return { write: () => {}, close: () => {} };
      };
      const backend = client({ servers: "hangs-up.invalid:11211", timeoutMs: 2000, connect: hangsUp });
      const failed = vi.fn();
      backend.get("k").catch(failed);
      await vi.advanceTimersByTimeAsync(0);
      expect(failed).toHaveBeenCalledWith(expect.objectContaining({ message: "memcached hangs-up.invalid:11211: connection closed by the server" }));
    } finally {
      vi.useRealTimers();
    }
  });

  it("fails a set or setMany on a server that does not answer within timeoutMs, not twice that for the clean-up delete", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    try {
      const silent: Connector = () => Promise.resolve({ write: () => {}, close: () => {} }); // connects, never answers
      const hung = client({ servers: "silent-writes.invalid:11211", timeoutMs: 200, retryDelayMs: 0, connect: silent });
      const set = vi.fn();
      const setMany = vi.fn();
      hung.set("k", utf8("v"), 60).catch(set);
      void hung.setMany([["a", utf8("1")], ["b", utf8("2")]], 60).then(setMany);
      await vi.advanceTimersByTimeAsync(200);
      expect(set).toHaveBeenCalledWith(expect.objectContaining({ message: expect.stringMatching(/no answer within 200 ms/) }));
      expect(setMany).toHaveBeenCalledWith(["a", "b"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps time limits and pauses on a monotonic clock: the wall clock stepping back stretches neither", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const wallClock = vi.spyOn(Date, "now");
    try {
      wallClock.mockReturnValue(1_800_000_000_000);
      const silent: Connector = () => Promise.resolve({ write: () => {}, close: () => {} }); // connects, never answers
      const hung = client({ servers: "silent.invalid:11211", timeoutMs: 200, connect: silent });
      const late = expect(hung.get("k")).rejects.toThrow(/no answer within 200 ms/);
      await vi.advanceTimersByTimeAsync(50);
      wallClock.mockReturnValue(1_800_000_000_000 - 3000); // NTP steps the clock back 3 s
      await vi.advanceTimersByTimeAsync(150);
      await late;

      let attempts = 0;
      const refusing: Connector = () => {
        attempts++;
        return Promise.reject(new Error("connection refused"));
      };
      const down = client({ servers: "down.invalid:11211", retryDelayMs: 100, connect: refusing });
      await expect(down.get("k")).rejects.toThrow(/cannot connect/);
      wallClock.mockReturnValue(1_800_000_000_000 - 13_000); // and 10 s more
      await vi.advanceTimersByTimeAsync(100); // the pause is over
      await expect(down.get("k")).rejects.toThrow(/cannot connect/); // tried again, not "is down"
      expect(attempts).toBe(2);
    } finally {
      wallClock.mockRestore();
      vi.useRealTimers();
    }
  });

  it("fails operations after close", async () => {
    const backend = client();
    await backend.set("k", utf8("v"), 60);
    await backend.close();
    await expect(backend.get("k")).rejects.toThrow(/closed/);
  });

  it.each([
    ["no options", undefined, /options must be an object/],
    ["no servers", {}, /options.servers must name at least one server/],
    ["a zero timeout", { servers: "a:1", timeoutMs: 0 }, /options.timeoutMs must be a number of milliseconds from 1 to 2147483647/],
    ["a timeout past a timer's reach", { servers: "a:1", timeoutMs: 3e9 }, /options.timeoutMs must be a number of milliseconds from 1 to 2147483647, got 3000000000/],
    ["a string retry delay", { servers: "a:1", retryDelayMs: "5" }, /options.retryDelayMs/],
    ["a connect that is not a function", { servers: "a:1", connect: 1 }, /options.connect must be a function/],
  ])("rejects %s with a TypeError naming the option", (_label, options, message) => {
    expect(() => memcached(options as never)).toThrow(TypeError);
    expect(() => memcached(options as never)).toThrow(message);
  });

  it("gives backends over the same servers and weights one identity, in any order, so Workers' per-request backends share what the isolate learns", () => {
    expect(memcached({ servers: "10.0.0.1:11211;10.0.0.2" }).identity).toBe(memcached({ servers: ["10.0.0.2:11211", "10.0.0.1"] }).identity);
    expect(memcached({ servers: "10.0.0.1:11211" }).identity).not.toBe(memcached({ servers: "10.0.0.1:11212" }).identity);
    expect(memcached({ servers: [{ server: "10.0.0.1", weight: 2 }, "10.0.0.2"] }).identity).not.toBe(memcached({ servers: "10.0.0.1;10.0.0.2" }).identity);
  });

  it("socketsConnector (Workers' Socket API; run against a real memcached in workerd by the runtime matrix) names bad arguments", () => {
    expect(() => socketsConnector("connect" as never)).toThrow('connect must be a function, got "connect"');
    expect(() => socketsConnector(() => ({}) as never, { tls: "yes" as never })).toThrow('options.tls must be true or false, got "yes"');
  });
});
