import { beforeEach, describe, expect, it, vi } from "vitest";
import { Redis } from "@upstash/redis";
import { upstash, type UpstashOptions } from "../../adapters/upstash.ts";
import { createCache } from "../../src/cache.ts";
import { freshPrefix, useUpstashStack } from "./stack.ts";

const stack = useUpstashStack();

const bytes = (text: string) => new TextEncoder().encode(text);

describe("upstash options", () => {
  it.each([
    ["no options", undefined, /options must be an object/],
    ["a missing token", { url: "http://127.0.0.1:1" }, /options.token must be a non-empty string/],
    ["an empty url", { url: "", token: "t" }, /options.url must be a non-empty string/],
    ["a redis:// connection string", { url: "rediss://default:secret@eu1-example.upstash.io:6379", token: "t" }, /options.url must be the REST URL/],
    ["something that is not a client", { client: {} }, /options.client must be an @upstash\/redis Redis client/],
    ["a client and a url", { client: {}, url: "http://127.0.0.1:1", token: "t" }, /either options.client or options.url/],
    ["an empty prefix", { url: "http://127.0.0.1:1", token: "t", prefix: "" }, /options.prefix must be a non-empty string/],
  ])("rejects %s with a TypeError naming the argument", (_label, options, message) => {
    expect(() => upstash(options as unknown as UpstashOptions)).toThrow(TypeError);
    expect(() => upstash(options as unknown as UpstashOptions)).toThrow(message);
  });

  it("gives backends made again with the same URL (or client) and prefix one identity, so per-request backends share what the isolate learns", () => {
    const made = (prefix?: string) => upstash({ url: "http://127.0.0.1:1", token: "t", ...(prefix ? { prefix } : {}) });
    expect(made().identity).toBe(made().identity);
    expect(made("pages").identity).toBe(made("pages").identity);
    expect(made("pages").identity).not.toBe(made().identity); // another key space
    expect(upstash({ url: "http://127.0.0.1:2", token: "t" }).identity).not.toBe(made().identity);
    const client = new Redis({ url: "http://127.0.0.1:1", token: "t" });
    expect(upstash({ client }).identity).toBe(upstash({ client }).identity);
    expect(upstash({ client, prefix: "pages" }).identity).not.toBe(upstash({ client }).identity);
  });

  it("does not echo a connection string, which carries the password", () => {
    expect(() => upstash({ url: "rediss://default:secret@eu1-example.upstash.io:6379", token: "t" })).not.toThrow(/secret/);
  });
});

describe("upstash storage", () => {
  let prefix: string;
  beforeEach(() => {
    prefix = freshPrefix("backend");
  });

  it("keeps every byte value intact, including bytes that are not valid UTF-8", async () => {
    const backend = upstash({ client: stack().client(), prefix });
    const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
    const large = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256);
    await backend.set("every", everyByte, null);
    await backend.set("large", large, null);
    await backend.set("empty", new Uint8Array(), null);
    expect(await backend.get("every")).toEqual(everyByte);
    expect(await backend.get("large")).toEqual(large);
    expect(await backend.get("empty")).toEqual(new Uint8Array());
  });

  it("stores integers as plain decimal strings in its own namespace, other bytes as tagged base64", async () => {
    const cache = createCache({ backend: upstash({ client: stack().client(), prefix }) });
    await cache.set("n", 42);
    await cache.set("s", "42");
    const raw = stack().client();
    expect(await raw.get(`${prefix}::1:n`)).toBe("42");
    expect(await raw.get(`${prefix}::1:s`)).toMatch(/^b64:[A-Za-z0-9+/]+=*$/);
    expect(await cache.get("s")).toBe("42");
  });

  it("reads integers that another program wrote with a plain SET, and increments them", async () => {
    const cache = createCache({ backend: upstash({ client: stack().client(), prefix }) });
    await stack().client().set(`${prefix}::1:visits`, "41");
    expect(await cache.get("visits")).toBe(41);
    expect(await cache.incr("visits")).toBe(42);
  });

  it("uses SET EX for whole seconds and SET PX for fractions", async () => {
    const backend = upstash({ client: stack().client(), prefix });
    await backend.set("whole", bytes("v"), 60);
    await backend.set("fraction", bytes("v"), 0.25);
    expect(await backend.ttl!("whole")).toBeGreaterThan(59);
    const left = (await backend.ttl!("fraction"))!;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(0.25);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await backend.get("fraction")).toBeUndefined();
    expect(stack().server.requests.flatMap((r) => r.commands).filter((c) => c[0] === "set" && c[1]?.startsWith(prefix)).map((c) => c.slice(3)))
      .toEqual([["ex", "60"], ["px", "250"]]);
  });

  it("reports the remaining TTL, null for a permanent entry and undefined for a missing one", async () => {
    const backend = upstash({ client: stack().client(), prefix });
    await backend.set("forever", bytes("v"), null);
    expect(await backend.ttl!("forever")).toBeNull();
    expect(await backend.ttl!("missing")).toBeUndefined();
  });

  it("touch with a fraction of a second uses PEXPIRE", async () => {
    const backend = upstash({ client: stack().client(), prefix });
    await backend.set("k", bytes("v"), null);
    expect(await backend.touch!("k", 0.2)).toBe(true);
    expect(await backend.ttl!("k")).toBeLessThanOrEqual(0.2);
    expect(await backend.touch!("missing", 0.2)).toBe(false);
  });

  it("does one MGET for getMany, one pipeline for setMany and one DEL for deleteMany", async () => {
    const backend = upstash({ client: stack().client({ enableAutoPipelining: false }), prefix });
    const entries = ["a", "b", "c"].map((key) => [key, bytes(key)] as const);
    stack().server.requests.length = 0;
    expect(await backend.setMany!(entries, 30)).toEqual([]);
    expect(await backend.getMany!(["a", "missing", "c"])).toEqual([bytes("a"), undefined, bytes("c")]);
    await backend.deleteMany!(["a", "b"]);
    expect(stack().server.requests.map(({ path, commands }) => [path, commands.map((c) => c[0])])).toEqual([
      ["/pipeline", ["set", "set", "set"]],
      ["/", ["mget"]],
      ["/", ["del"]],
    ]);
    expect(await backend.getMany!(["a", "b", "c"])).toEqual([undefined, undefined, bytes("c")]);
  });

  it("sends nothing for empty getMany, setMany and deleteMany", async () => {
    const backend = upstash({ client: stack().client(), prefix });
    stack().server.requests.length = 0;
    expect(await backend.getMany!([])).toEqual([]);
    expect(await backend.setMany!([], null)).toEqual([]);
    await backend.deleteMany!([]);
    expect(stack().server.requests).toEqual([]);
  });

  it("add is atomic across clients: of many concurrent adds exactly one wins", async () => {
    const clients = Array.from({ length: 8 }, () => upstash({ client: stack().client({ enableAutoPipelining: false }), prefix }));
    const results = await Promise.all(clients.flatMap((backend, i) => [0, 1, 2, 3, 4].map((j) => backend.add!("lock", bytes(`${i}-${j}`), 30))));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("incr is atomic across clients: concurrent increments over separate HTTP requests end at the exact sum", async () => {
    const caches = Array.from({ length: 8 }, () => createCache({ backend: upstash({ client: stack().client({ enableAutoPipelining: false }), prefix }) }));
    await caches[0]!.set("counter", 0);
    await Promise.all(caches.flatMap((cache) => Array.from({ length: 25 }, () => cache.incr("counter"))));
    await Promise.all(caches.map((cache) => cache.decr("counter", 10)));
    expect(await caches[0]!.get("counter")).toBe(8 * 25 - 80);
  });

  it("incr leaves a missing key missing instead of creating it", async () => {
    const backend = upstash({ client: stack().client(), prefix });
    expect(await backend.increment!("missing", 5)).toBeUndefined();
    expect(await backend.has!("missing")).toBe(false);
  });

  it("incr refuses a result past the safe integer range with a RangeError, as the memory backend does, and leaves the value", async () => {
    const cache = createCache({ backend: upstash({ client: stack().client(), prefix }), ignoreErrors: false });
    await cache.set("hits", Number.MAX_SAFE_INTEGER - 1);
    await expect(cache.incr("hits", 5)).rejects.toThrow(RangeError);
    expect(await cache.get("hits")).toBe(Number.MAX_SAFE_INTEGER - 1);
    await cache.set("debt", -Number.MAX_SAFE_INTEGER + 1);
    await expect(cache.decr("debt", 5)).rejects.toThrow(RangeError);
    expect(await cache.get("debt")).toBe(-Number.MAX_SAFE_INTEGER + 1);
    expect(await cache.incr("hits")).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("refuses what a client given an aborted signal answers (null for everything), rather than take it for Redis's reply", async () => {
    const controller = new AbortController();
    const backend = upstash({ client: stack().client({ signal: controller.signal, enableAutoPipelining: false }), prefix });
    controller.abort(new Error("shutting down"));
    await expect(backend.set("k", bytes("v"), 60)).rejects.toThrow(/upstash set failed: the client answered null/);
    await expect(backend.has!("k")).rejects.toThrow(/upstash has failed/);
    await expect(backend.delete("k")).rejects.toThrow(/upstash delete failed/);
    await expect(backend.ttl!("k")).rejects.toThrow(/upstash ttl failed/);
    await expect(backend.deleteMany!(["k", "j"])).rejects.toThrow(/upstash deleteMany failed: the client answered null/); // not told the keys are gone
    await expect(backend.get("k")).rejects.toThrow(/upstash get failed: the client answered null/); // not a quiet miss
    await expect(backend.add!("fresh", bytes("v"), 60)).rejects.toThrow(/upstash add failed: the client answered null/); // not "another holds it"
    await expect(backend.getMany!(["k", "j"])).rejects.toThrow(/upstash getMany failed: the client answered null/);
    await expect(backend.getWithTtl!("k")).rejects.toThrow(/upstash getWithTtl failed/); // inside the client's own MULTI: its words
    await expect(backend.setMany!([["k", bytes("v")]], 60)).rejects.toThrow(/upstash setMany failed/); // inside the client's own pipeline: its words
    const cache = createCache({ backend, ignoreErrors: true, onError: () => {} });
    expect(await cache.add("lock", 1)).toBe(false); // it took no lock
  });

  it("clear deletes only this cache's keys, even when the prefix contains glob characters", async () => {
    const raw = stack().client();
    const mine = upstash({ client: stack().client(), prefix: `${prefix}?*` });
    const neighbour = upstash({ client: stack().client(), prefix: `${prefix}-other` });
    const bulk = raw.pipeline();
    for (let i = 0; i < 1500; i++) bulk.set(`${prefix}?*:bulk-${i}`, "b64:AA==");
    await bulk.exec();
    await mine.set("a", bytes("a"), null);
    await neighbour.set("a", bytes("n"), null);
    await raw.set(`${prefix}-foreign`, "someone else's");
    await mine.clear!();
    expect(await mine.get("a")).toBeUndefined();
    expect(await mine.has!("bulk-1499")).toBe(false);
    expect(await neighbour.get("a")).toEqual(bytes("n"));
    expect(await raw.get(`${prefix}-foreign`)).toBe("someone else's");
  });

  it("close waits for a call in flight for the time limit at most: on Workers, one whose request ended never settles", async () => {
    const client = stack().client();
    client.get = () => new Promise<never>(() => {}); // dropped with the request that made it
    const backend = upstash({ client, prefix });
    void backend.get("k");
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const closed = vi.fn();
      void backend.close!().then(closed);
      await vi.advanceTimersByTimeAsync(2000);
      expect(closed).toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it("close waits for writes still in flight", async () => {
    const backend = upstash({ client: stack().client(), prefix });
    void backend.set("late", bytes("written"), null);
    await backend.close!();
    expect(await stack().client().get(`${prefix}:late`)).toBe("b64:d3JpdHRlbg==");
  });
});
